"""The repayment schedule: pure functions, no database, no clock (DESIGN.md §7).

The rules are those of Apache Fineract's cumulative engine, as CONTRACT.md (Loans) states
them, so a schedule can be compared with Fineract's to the minor unit:

* equal installments: PMT at the nominal period rate (annual rate / periods per year) over the
  installments after the principal grace, rounded HALF_EVEN to the installment multiple; each
  period's interest rounded HALF_EVEN to the minor unit; principal = installment - interest;
  the last installment takes whatever principal remains;
* flat: interest per period = principal x rate / periods per year; the installment
  (principal share + interest) is rounded to the multiple and principal absorbs the difference;
* equal principal: principal / installments rounded to the minor unit (the multiple does not
  apply), interest on the declining balance;
* grace on principal: interest-only periods; grace on interest payment: the periods' interest
  is charged but collected in the first period after the grace; grace on interest charged:
  interest-free periods.

Arithmetic is exact (`Fraction`), rounded only where a rule says so. Amounts are integer
minor units; the annual rate is a percent (`Decimal("12")` is 12 % a year).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import StrEnum
from fractions import Fraction

from coop.errors import InvalidInput, require
from coop.money import AMOUNT_MINOR_MAX


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"

    @property
    def per_year(self) -> int:
        return _PER_YEAR[self]


_PER_YEAR = {Frequency.DAILY: 365, Frequency.WEEKLY: 52, Frequency.FORTNIGHTLY: 26,
             Frequency.MONTHLY: 12}
_DAYS = {Frequency.DAILY: 1, Frequency.WEEKLY: 7, Frequency.FORTNIGHTLY: 14}


class InterestMethod(StrEnum):
    DECLINING_BALANCE = "declining_balance"
    FLAT = "flat"


class Amortization(StrEnum):
    EQUAL_INSTALLMENTS = "equal_installments"
    EQUAL_PRINCIPAL = "equal_principal"


class InterestPeriod(StrEnum):
    SAME_AS_REPAYMENT = "same_as_repayment"
    DAILY = "daily"


class DaysInYear(StrEnum):
    ACTUAL = "actual"
    DAYS_360 = "360"
    DAYS_365 = "365"


class DaysInMonth(StrEnum):
    ACTUAL = "actual"
    DAYS_30 = "30"


MAX_INSTALLMENTS = 1200
MAX_RATE = Decimal(100)


class TermsInvalid(InvalidInput):
    code = "loan_terms_invalid"
    title = "These loan terms cannot make a schedule"


MINOR_UNITS = "minor"
"""Field metadata `unit`: an amount in minor units (shown and typed as money at the edges)."""


@dataclass(frozen=True, slots=True)
class ProductTerms:
    """The terms a loan product carries: every loan term but the principal, the dates and the
    fee. `Terms` adds those; these fields are written here once, and the JSON codec
    (`coop.loans.products`) and the API's schemas are derived from them. Bounds and units for
    the edges are in each field's metadata."""

    annual_rate: Decimal = field(metadata={"min": Decimal(0), "max": MAX_RATE})
    installments: int = field(metadata={"min": 1, "max": MAX_INSTALLMENTS})
    frequency: Frequency = Frequency.MONTHLY
    interest_method: InterestMethod = InterestMethod.DECLINING_BALANCE
    amortization: Amortization = Amortization.EQUAL_INSTALLMENTS
    interest_period: InterestPeriod = InterestPeriod.SAME_AS_REPAYMENT
    days_in_year: DaysInYear = DaysInYear.ACTUAL
    days_in_month: DaysInMonth = DaysInMonth.ACTUAL
    installment_multiple: int = field(default=1, metadata={"unit": MINOR_UNITS})
    grace_on_principal: int = field(default=0, metadata={"min": 0, "max": MAX_INSTALLMENTS})
    grace_on_interest_payment: int = field(default=0,
                                           metadata={"min": 0, "max": MAX_INSTALLMENTS})
    grace_on_interest_charged: int = field(default=0,
                                           metadata={"min": 0, "max": MAX_INSTALLMENTS})

    @property
    def rate(self) -> Fraction:
        """The annual rate as a fraction (12 % is 3/25)."""
        return Fraction(self.annual_rate) / 100

    def product_values(self) -> dict[str, object]:
        """The product's fields (and only those, also on a `Terms`)."""
        return {f.name: getattr(self, f.name) for f in fields(ProductTerms)}

    def terms(self, *, principal: int, disbursed_on: date, installments: int | None = None,
              fee: int = 0) -> Terms:
        """A loan's terms under this product (an application may narrow the installments)."""
        values = self.product_values()
        values["installments"] = installments or self.installments
        return Terms(principal=principal, disbursed_on=disbursed_on, fee=fee,
                     **values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class Terms(ProductTerms):
    """Loan terms (CONTRACT.md, Loans): the product's, plus the principal, the dates and the
    fee. Amounts in minor units; `annual_rate` in percent."""

    principal: int
    disbursed_on: date
    first_due_on: date | None = None
    fee: int = 0
    """Deducted from the amount paid out at disbursement; counts in the APR."""

    @property
    def product(self) -> ProductTerms:
        return ProductTerms(**self.product_values())  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Installment:
    number: int
    start_on: date
    due_on: date
    principal: int
    interest: int
    balance: int
    """Principal still owed after this installment is paid."""
    year_fraction: Fraction
    """The share of a year over which this period charges interest (0 if interest-free)."""

    @property
    def total(self) -> int:
        return self.principal + self.interest


@dataclass(frozen=True, slots=True)
class Schedule:
    terms: Terms
    installments: tuple[Installment, ...]
    apr: Decimal

    @property
    def total_principal(self) -> int:
        return sum(i.principal for i in self.installments)

    @property
    def total_interest(self) -> int:
        return sum(i.interest for i in self.installments)


# --- dates -------------------------------------------------------------------------------


def add_months(anchor: date, months: int) -> date:
    """`anchor` moved by whole months, keeping its day of month, clamped to the month's end."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor.day, last))


def step(anchor: date, frequency: Frequency, count: int) -> date:
    """`count` periods after `anchor` (negative counts go back)."""
    if frequency is Frequency.MONTHLY:
        return add_months(anchor, count)
    return anchor + timedelta(days=_DAYS[frequency] * count)


def due_dates(terms: Terms) -> list[date]:
    first = terms.first_due_on
    if first is None:
        return [step(terms.disbursed_on, terms.frequency, k)
                for k in range(1, terms.installments + 1)]
    return [step(first, terms.frequency, k) for k in range(terms.installments)]


def _days_30(start: date, end: date) -> int:
    """Days between two dates counting every month as 30 days (30E/360)."""
    return ((end.year - start.year) * 360 + (end.month - start.month) * 30
            + min(end.day, 30) - min(start.day, 30))


def _year_fraction(start: date, end: date, terms: Terms, regular: bool) -> Fraction:
    """The share of a year over which a period [start, end) charges interest.

    Same-as-repayment periods charge 1 / periods-per-year, pro rata for a broken first period.
    Daily periods charge days / days-in-year; with 30-day months a whole monthly period counts
    30 days; with actual days-in-year each calendar year's days count over its own length.
    """
    frequency = terms.frequency
    thirty = terms.days_in_month is DaysInMonth.DAYS_30 and frequency is Frequency.MONTHLY
    if terms.interest_period is InterestPeriod.SAME_AS_REPAYMENT:
        share = Fraction(1, frequency.per_year)
        if regular:
            return share
        standard_start = step(end, frequency, -1)
        if thirty:
            return share * Fraction(_days_30(start, end), 30)
        return share * Fraction((end - start).days, (end - standard_start).days)
    if thirty:
        days = 30 if regular else _days_30(start, end)
        basis = {DaysInYear.DAYS_360: 360, DaysInYear.DAYS_365: 365}.get(
            terms.days_in_year, 366 if calendar.isleap(end.year) else 365)
        return Fraction(days, basis)
    if terms.days_in_year is DaysInYear.DAYS_360:
        return Fraction((end - start).days, 360)
    if terms.days_in_year is DaysInYear.DAYS_365:
        return Fraction((end - start).days, 365)
    if start.year == end.year or end == date(start.year + 1, 1, 1):  # within one year
        return Fraction((end - start).days, 366 if calendar.isleap(start.year) else 365)
    fraction = Fraction(0)
    cursor = start
    while cursor < end:
        year_end = date(cursor.year + 1, 1, 1)
        piece_end = min(end, year_end)
        fraction += Fraction((piece_end - cursor).days, 366 if calendar.isleap(cursor.year)
                             else 365)
        cursor = piece_end
    return fraction


def half_even(value: Fraction) -> int:
    """Round to the nearest integer, ties to even (Python's `round` on a Fraction)."""
    return round(value)


def round_product(amount: int, *factors: Fraction) -> int:
    """`amount` x the factors, rounded HALF_EVEN: `half_even` without Fraction's gcds."""
    numerator, denominator = amount, 1
    for factor in factors:
        numerator *= factor.numerator
        denominator *= factor.denominator
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    return quotient


def to_multiple(value: Fraction, multiple: int) -> int:
    return half_even(value / multiple) * multiple


# --- the schedule ------------------------------------------------------------------------


def check_terms(terms: Terms) -> None:
    def bad(name: str, message: str) -> TermsInvalid:
        return TermsInvalid(message, field=name)

    if not 0 < terms.principal <= AMOUNT_MINOR_MAX:
        raise bad("principal", "principal must be more than zero")
    if not Decimal(0) <= terms.annual_rate <= MAX_RATE:
        raise bad("annual_rate", "annual_rate must be between 0 and 100 percent")
    if not 1 <= terms.installments <= MAX_INSTALLMENTS:
        raise bad("installments", f"installments must be between 1 and {MAX_INSTALLMENTS}")
    if not 1 <= terms.installment_multiple <= max(terms.principal, 1):
        raise bad("installment_multiple",
                  "installment_multiple must be at least the minor unit and at most the principal")
    for name in ("grace_on_principal", "grace_on_interest_payment"):
        value = getattr(terms, name)
        if not 0 <= value < terms.installments:
            raise bad(name, f"{name} must be at least 0 and fewer than the installments")
    if not 0 <= terms.grace_on_interest_charged <= terms.installments:
        raise bad("grace_on_interest_charged",
                  "grace_on_interest_charged must be between 0 and the installments")
    if not 0 <= terms.fee < terms.principal:
        raise bad("fee", "the fee must be less than the principal")
    if terms.first_due_on is not None and terms.first_due_on <= terms.disbursed_on:
        raise bad("first_due_on", "first_due_on must be after disbursed_on")
    if terms.first_due_on is not None and (
            terms.first_due_on > step(terms.disbursed_on, terms.frequency, 2)):
        raise bad("first_due_on", "first_due_on must be within two periods of disbursed_on")


def build(terms: Terms) -> Schedule:
    """The schedule for `terms`, with its APR. Raises `TermsInvalid` for impossible terms."""
    check_terms(terms)
    try:
        dues = due_dates(terms)
    except (ValueError, OverflowError):  # past the year 9999
        raise TermsInvalid("the schedule would run past the calendar's end",
                           field="disbursed_on") from None
    starts = [terms.disbursed_on, *dues[:-1]]
    broken = dues[0] != step(terms.disbursed_on, terms.frequency, 1)
    fractions = [
        Fraction(0) if number <= terms.grace_on_interest_charged
        else _year_fraction(start, due, terms, regular=number > 1 or not broken)
        for number, (start, due) in enumerate(zip(starts, dues, strict=True), start=1)
    ]
    rows = _rows(terms, fractions)
    installments = tuple(
        Installment(number, start, due, principal, interest, balance, fraction)
        for number, (start, due, (principal, interest, balance), fraction)
        in enumerate(zip(starts, dues, rows, fractions, strict=True), start=1)
    )
    require(sum(i.principal for i in installments) == terms.principal,
            "a schedule's principal sums to the loan's principal")
    return Schedule(terms, installments, apr(terms.principal - terms.fee,
                                             [i.total for i in installments],
                                             terms.frequency.per_year))


def _rows(terms: Terms, fractions: Sequence[Fraction]) -> list[tuple[int, int, int]]:
    n = terms.installments
    rate = terms.rate
    flat = terms.interest_method is InterestMethod.FLAT
    paying = n - terms.grace_on_principal  # installments that repay principal
    flat_interest = half_even(terms.principal * rate / terms.frequency.per_year)
    fixed = _fixed_installment(terms, paying)
    balance = terms.principal
    deferred = 0
    rows: list[tuple[int, int, int]] = []
    for number, fraction in enumerate(fractions, start=1):
        if flat:
            own = 0 if fraction == 0 else flat_interest
        else:
            own = round_product(balance, rate, fraction)
        if number <= terms.grace_on_principal:
            principal = 0
        elif number == n:
            principal = balance
        elif flat:
            principal = to_multiple(Fraction(fixed + own), terms.installment_multiple) - own
        elif terms.amortization is Amortization.EQUAL_PRINCIPAL:
            principal = fixed
        else:
            principal = fixed - own
        if principal < 0 or (number < n and principal > balance):
            raise TermsInvalid(
                "the installment cannot be rounded to installment_multiple for this loan: "
                "choose a smaller multiple or fewer installments",
                field="installment_multiple")
        if number < n and principal == balance and balance > 0:
            raise TermsInvalid(
                "rounded to installment_multiple the installments repay the loan before the "
                "last one: choose a smaller multiple", field="installment_multiple")
        balance -= principal
        if number <= terms.grace_on_interest_payment:
            deferred += own
            interest = 0
        else:
            interest = own + deferred
            deferred = 0
        rows.append((principal, interest, balance))
    return rows


def _fixed_installment(terms: Terms, paying: int) -> int:
    """The installment (equal installments) or the principal share (flat, equal principal)."""
    share = Fraction(terms.principal, paying)
    if terms.interest_method is InterestMethod.FLAT or (
            terms.amortization is Amortization.EQUAL_PRINCIPAL):
        return half_even(share)  # flat: the principal share, rounded with each period's interest
    period_rate = terms.rate / terms.frequency.per_year
    if period_rate == 0:
        payment = share
    else:
        growth = (1 + period_rate) ** paying
        payment = terms.principal * period_rate * growth / (growth - 1)
    installment = to_multiple(payment, terms.installment_multiple)
    if installment <= 0:
        raise TermsInvalid("rounded to installment_multiple the installment is zero",
                           field="installment_multiple")
    return installment


# --- APR -----------------------------------------------------------------------------------


def apr(received: int, payments: Sequence[int], periods_per_year: int) -> Decimal:
    """The periodic IRR of the borrower's cash flows x periods per year, percent, 2 places.

    `received` is what the borrower gets at disbursement, `payments[k]` what she pays at the
    end of period k+1. Solved for the discount factor v = 1 / (1 + rate): the present value
    is a polynomial in v with positive coefficients, increasing and convex, so Newton's method
    from v = 1 (rate 0) falls onto the root without overshooting; 40 significant digits leave
    the two decimals shown exact.
    """
    if received <= 0 or not payments:
        raise TermsInvalid("the APR needs a positive amount received and some payments")
    if sum(payments) < received:
        raise TermsInvalid("the payments are less than the amount received")
    with localcontext() as context:
        context.prec = 40
        flows = [Decimal(p) for p in reversed(payments)]
        target = Decimal(received)
        v = Decimal(1)  # the discount factor 1 / (1 + rate); rate 0 to start
        for _ in range(100):
            h = Decimal(0)  # h(v) = sum p_k v^(k-1) and its derivative, by Horner's rule
            dh = Decimal(0)
            for payment in flows:
                dh = dh * v + h
                h = h * v + payment
            value = v * h - target  # increasing and convex in v: Newton from v = 1 falls
            slope = h + v * dh  # monotonically onto the root from the right
            change = value / slope
            v -= change
            if abs(change) < Decimal("1e-30"):
                break
        annual = (1 / v - 1) * periods_per_year * 100
    return annual.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def with_terms(terms: Terms, **changes: object) -> Terms:
    return replace(terms, **changes)  # type: ignore[arg-type]
