"""A loan's position on any day, replayed from its plan and its payments: pure, no database.

The plan is the schedule the member agreed (and any reschedule since): what she owes on each
due date. What she actually owes follows the money, day by day:

* Interest accrues daily on the principal actually outstanding (declining balance) or on the
  original principal (flat), each period at its own rate and share of a year; a period's
  interest is rounded HALF_EVEN once, so a member who pays exactly on schedule pays exactly
  the scheduled interest. Paying early lowers the principal and so the interest; paying late
  costs interest only for the days late. Past the last due date interest runs on at the last
  period's daily rate.
* Arrears are counted in money against the plan: an installment is covered once everything
  she has paid towards interest and principal reaches the plan's total up to it. Payments
  ahead of time cover the next installments; the last installment is whatever remains.
* A penalty (when the product has one) accrues daily only on the overdue amount.
* Each payment is allocated across buckets in the product's order (default: penalty, fees,
  overdue interest, overdue principal, due interest, due principal) and then to principal
  in advance. Interest counts as income only when paid (cash basis).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from fractions import Fraction
from itertools import accumulate

from coop.errors import InvalidInput, require
from coop.loans.errors import PaymentAbovePayoff
from coop.loans.schedule import half_even


class Bucket(StrEnum):
    PENALTY = "penalty"
    FEES = "fees"
    OVERDUE_INTEREST = "overdue_interest"
    OVERDUE_PRINCIPAL = "overdue_principal"
    DUE_INTEREST = "due_interest"
    DUE_PRINCIPAL = "due_principal"


DEFAULT_ORDER: tuple[Bucket, ...] = tuple(Bucket)


@dataclass(frozen=True, slots=True)
class PlanPeriod:
    number: int
    start_on: date
    due_on: date
    principal: int
    interest: int
    """The scheduled interest collected on this due date (deferred interest included)."""
    annual_rate: Fraction
    year_fraction: Fraction
    deferred: bool = False
    """Grace on interest payment: this period's interest is collected with the first
    installment after the grace, and is not payable before that installment's period."""
    flat_basis: int = 0
    """For a flat loan, the principal its interest is charged on (the original principal,
    or what a reschedule spread again)."""

    @property
    def total(self) -> int:
        return self.principal + self.interest


@dataclass(frozen=True, slots=True)
class Plan:
    principal: int
    flat: bool
    periods: tuple[PlanPeriod, ...]
    penalty_rate: Fraction = Fraction(0)
    """Per year, on the overdue amount, day by day (actual/365)."""
    frozen: tuple[tuple[date, date], ...] = ()
    """Windows [from, to] in which arrears do not age and no penalty accrues (moratoria)."""
    interest_free: tuple[tuple[date, date], ...] = ()
    """Windows [from, to] in which no interest accrues (moratoria resolved so)."""

    @property
    def disbursed_on(self) -> date:
        return self.periods[0].start_on

    @property
    def maturity(self) -> date:
        return self.periods[-1].due_on


@dataclass(frozen=True, slots=True)
class Allocation:
    penalty: int = 0
    fees: int = 0
    interest: int = 0
    principal: int = 0

    @property
    def total(self) -> int:
        return self.penalty + self.fees + self.interest + self.principal


@dataclass(frozen=True, slots=True)
class Payment:
    on: date
    amount: int


@dataclass(frozen=True, slots=True)
class Switch:
    """From `on`, the loan follows `plan` (a reschedule or a moratorium)."""

    on: date
    plan: Plan


Event = Payment | Switch


class PaymentTooLarge(PaymentAbovePayoff):
    """More than the payoff amount (which it carries, for the service's message)."""

    def __init__(self, payoff: int) -> None:
        super().__init__(f"more than the payoff amount {payoff}", field="amount")
        self.payoff = payoff


class PaymentOutOfOrder(InvalidInput):
    code = "payment_out_of_order"
    title = "The payment is dated before the loan's last movement"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="value_date")


@dataclass(frozen=True, slots=True)
class InstallmentView:
    number: int
    due_on: date
    principal: int
    interest: int
    total: int
    paid: int
    status: str  # paid, partly_paid, overdue, due, upcoming
    balance_after: int = 0
    """Principal still owed once this installment is paid: as it was after the payment that
    covered it, or, for one not covered yet, as it will be if she pays each installment on
    its due date. Zero after the last."""


@dataclass(frozen=True, slots=True)
class Position:
    as_of: date
    outstanding_principal: int
    interest_due: int
    penalty_due: int
    fees_due: int
    paid_towards_plan: int
    """Everything paid to interest and principal so far."""
    overdue: int
    """What the plan asked for before today that is still unpaid."""
    first_unpaid_due: date | None
    days_past_due: int
    allocations: tuple[Allocation, ...]
    due_now: int = 0
    """What the plan asks by the end of `as_of` that is still unpaid (overdue included)."""

    @property
    def payoff(self) -> int:
        return self.outstanding_principal + self.interest_due + self.penalty_due + self.fees_due

    @property
    def closed(self) -> bool:
        return self.payoff == 0


@dataclass(slots=True)
class _State:
    plan: Plan
    on: date
    balance: int
    accrued: list[Fraction] = field(default_factory=list)  # per period, plus one past maturity
    interest_paid: int = 0
    penalty_accrued: Fraction = Fraction(0)
    penalty_paid: int = 0
    principal_paid: int = 0
    fees_due: int = 0
    rounded: list[int] = field(default_factory=list)  # half_even of each accrued bucket
    rounded_total: int = 0
    dues: list[date] = field(default_factory=list)  # the plan's due dates, for bisection
    planned: list[int] = field(default_factory=list)  # planned totals up to each due date
    trail: list[tuple[int, int, int]] = field(default_factory=list)
    """(paid towards the plan, principal outstanding, principal of the payment) after each
    payment, in order."""

    @classmethod
    def start(cls, plan: Plan) -> _State:
        state = cls(plan, plan.disbursed_on, plan.principal,
                    [Fraction(0)] * (len(plan.periods) + 1))
        state.follow(plan)
        return state

    def follow(self, plan: Plan) -> None:
        self.plan = plan
        self.dues = [p.due_on for p in plan.periods]
        self.planned = list(accumulate((p.total for p in plan.periods), initial=0))
        self.rounded = [half_even(value) for value in self.accrued]
        self.rounded_total = sum(self.rounded)

    # what has been accrued -------------------------------------------------------------

    def interest_charged(self, through: int | None = None) -> int:
        """Accrued interest, each period rounded once; periods [0, through) only if given."""
        if through is None:
            return self.rounded_total
        return sum(self.rounded[:through])

    @property
    def interest_due(self) -> int:
        return self.interest_charged() - self.interest_paid

    @property
    def penalty_due(self) -> int:
        return half_even(self.penalty_accrued) - self.penalty_paid

    @property
    def paid_towards_plan(self) -> int:
        return self.interest_paid + self.principal_paid

    def planned_before(self, day: date, *, inclusive: bool = False) -> int:
        """What the plan asks on due dates before `day` (or on it, if `inclusive`)."""
        count = (bisect_right if inclusive else bisect_left)(self.dues, day)
        return self.planned[count]

    def overdue(self, day: date) -> int:
        if day > self.plan.maturity:
            return self.balance + self.interest_due
        return max(0, self.planned_before(day) - self.paid_towards_plan)

    # accrual ------------------------------------------------------------------------------

    def accrue_to(self, day: date) -> None:
        if day < self.on:
            raise PaymentOutOfOrder.said(
                "{day} is before the loan's last movement on {on}",
                day=day, on=self.on)
        periods = self.plan.periods
        while self.on < day:
            index = bisect_right(self.dues, self.on)  # the period accruing today
            period = periods[min(index, len(periods) - 1)]
            end = min(day, period.due_on) if index < len(periods) else day
            days = (end - self.on).days
            length = (period.due_on - period.start_on).days
            flat = self.plan.flat and index < len(periods) and self.balance
            basis = (period.flat_basis or self.plan.principal) if flat else self.balance
            if basis and period.year_fraction and period.annual_rate and length:
                charged = days - frozen_days(self.on, end, self.plan.interest_free)
                self.accrued[index] += (basis * period.annual_rate * period.year_fraction
                                        * charged / length)
                rounded = half_even(self.accrued[index])
                self.rounded_total += rounded - self.rounded[index]
                self.rounded[index] = rounded
            if self.plan.penalty_rate:
                overdue = self.overdue(self.on + _ONE_DAY)
                if overdue:
                    charged = days - frozen_days(self.on, end, self.plan.frozen)
                    self.penalty_accrued += overdue * self.plan.penalty_rate * charged / 365
            self.on = end

    def switch(self, plan: Plan) -> None:
        """Follow a new plan from today: its periods up to today must be the old ones."""
        running = bisect_right(self.dues, self.on)
        keep = min(running, len(plan.periods))
        accrued = self.accrued[:keep + 1]
        self.accrued = accrued + [Fraction(0)] * (len(plan.periods) + 1 - len(accrued))
        self.follow(plan)

    # allocation ---------------------------------------------------------------------------

    def deferred_interest(self) -> int:
        """Interest of grace periods whose collecting installment's period has not begun."""
        periods = self.plan.periods
        held = 0
        for index, period in enumerate(periods):
            if not period.deferred:
                continue
            release = period.due_on
            for later in periods[index + 1:]:
                if not later.deferred:
                    break
                release = later.due_on
            if self.on <= release:
                held += half_even(self.accrued[index])
        return min(held, self.interest_due)

    def buckets(self) -> dict[Bucket, int]:
        day = self.on
        overdue = self.overdue(day)
        due_now = max(0, self.planned_before(day, inclusive=True) - self.paid_towards_plan)
        if day > self.plan.maturity:
            due_now = overdue
        through = sum(1 for p in self.plan.periods if p.due_on < day)
        overdue_interest = min(max(0, self.interest_charged(through) - self.interest_paid),
                               overdue, self.interest_due)
        overdue_principal = min(self.balance, overdue - overdue_interest)
        due_interest = max(0, self.interest_due - self.deferred_interest() - overdue_interest)
        due_principal = min(self.balance - overdue_principal,
                            max(0, due_now - overdue - due_interest))
        return {
            Bucket.PENALTY: self.penalty_due,
            Bucket.FEES: self.fees_due,
            Bucket.OVERDUE_INTEREST: overdue_interest,
            Bucket.OVERDUE_PRINCIPAL: overdue_principal,
            Bucket.DUE_INTEREST: due_interest,
            Bucket.DUE_PRINCIPAL: due_principal,
        }

    def pay(self, amount: int, order: Sequence[Bucket]) -> Allocation:
        payoff = self.balance + self.interest_due + self.penalty_due + self.fees_due
        if amount > payoff:
            raise PaymentTooLarge(payoff)
        left = amount
        taken = dict.fromkeys(Bucket, 0)
        sizes = self.buckets()
        for bucket in order:
            taken[bucket] = min(left, sizes[bucket])
            left -= taken[bucket]
        interest = taken[Bucket.OVERDUE_INTEREST] + taken[Bucket.DUE_INTEREST]
        principal = taken[Bucket.OVERDUE_PRINCIPAL] + taken[Bucket.DUE_PRINCIPAL]
        ahead = min(left, self.balance - principal)  # then principal in advance,
        principal += ahead
        interest += left - ahead  # and last the interest deferred by a grace
        allocation = Allocation(taken[Bucket.PENALTY], taken[Bucket.FEES], interest, principal)
        require(allocation.total == amount, "an allocation sums to the payment")
        self.penalty_paid += allocation.penalty
        self.fees_due -= allocation.fees
        self.interest_paid += interest
        self.principal_paid += principal
        self.balance -= principal
        self.trail.append((self.paid_towards_plan, self.balance, principal))
        return allocation

    # ageing ------------------------------------------------------------------------------

    def first_unpaid_due(self) -> date | None:
        if self.balance == 0 and self.interest_due == 0:
            return None
        covered = self.paid_towards_plan
        running = 0
        for period in self.plan.periods[:-1]:
            running += period.total
            if running > covered:
                return period.due_on
        return self.plan.maturity

    def days_past_due(self) -> int:
        first = self.first_unpaid_due()
        if first is None or first >= self.on:
            return 0
        return max(0, (self.on - first).days - frozen_days(first, self.on, self.plan.frozen))


_ONE_DAY = date(2000, 1, 2) - date(2000, 1, 1)


def frozen_days(first: date, as_of: date, windows: Iterable[tuple[date, date]]) -> int:
    """Days from `first` up to the day before `as_of` that fall in any window [from, to]
    (overlapping windows count a day once): arrears do not age on them."""
    last = as_of - _ONE_DAY
    spans = sorted((max(start, first), min(end, last)) for start, end in windows)
    days, reach = 0, first - _ONE_DAY
    for start, end in spans:
        start = max(start, reach + _ONE_DAY)
        if end >= start:
            days += (end - start).days + 1
            reach = end
    return days


def _replay(plan: Plan, events: Sequence[Event],
            order: Sequence[Bucket]) -> tuple[_State, list[Allocation]]:
    state = _State.start(plan)
    allocations = []
    for event in events:
        state.accrue_to(event.on)
        if isinstance(event, Payment):
            allocations.append(state.pay(event.amount, order))
        else:
            state.switch(event.plan)
    return state, allocations


def _snapshot(state: _State, as_of: date, allocations: Sequence[Allocation]) -> Position:
    """Where the replayed `state` stands at the end of `as_of` (accrued to that day)."""
    closed = state.balance == 0 and state.interest_due == 0 and state.penalty_due == 0
    if not closed:
        state.accrue_to(max(as_of, state.on))
    return Position(
        as_of=as_of,
        outstanding_principal=state.balance,
        interest_due=state.interest_due,
        penalty_due=state.penalty_due,
        fees_due=state.fees_due,
        paid_towards_plan=state.paid_towards_plan,
        overdue=0 if closed else state.overdue(state.on),
        first_unpaid_due=state.first_unpaid_due(),
        days_past_due=0 if closed else state.days_past_due(),
        allocations=tuple(allocations),
        due_now=0 if closed else min(state.overdue(state.on + _ONE_DAY),
                                     state.balance + state.interest_due),
    )


def position(plan: Plan, payments: Sequence[Event], as_of: date,
             order: Sequence[Bucket] = DEFAULT_ORDER) -> Position:
    """Where the loan stands at the end of `as_of`, after `payments` (in date order)."""
    state, allocations = _replay(plan, payments, order)
    return _snapshot(state, as_of, allocations)


@dataclass(frozen=True, slots=True)
class Settlement:
    """A payment taken on a loan: where it stood that day before it, how the payment is
    split, and where it leaves the loan (all from one replay)."""

    before: Position
    allocation: Allocation
    after: Position


def settle(plan: Plan, payments: Sequence[Event], payment: Payment,
           order: Sequence[Bucket] = DEFAULT_ORDER) -> Settlement:
    """`allocate`, with the position before the payment as well: `before` is
    `position(plan, payments, payment.on)`, `after` is
    `position(plan, [*payments, payment], payment.on)`.

    Raises `PaymentOutOfOrder` for a payment dated before an earlier one, and
    `PaymentTooLarge` (with the payoff amount) for a payment above the payoff.
    """
    if payments and payment.on < payments[-1].on:
        raise PaymentOutOfOrder.said(
            "{day} is before the last payment on {last}",
            day=payment.on, last=payments[-1].on)
    state, allocations = _replay(plan, payments, order)
    before = _snapshot(state, payment.on, allocations)
    state.accrue_to(payment.on)
    allocation = state.pay(payment.amount, order)
    after = _snapshot(state, payment.on, [*allocations, allocation])
    require(after.outstanding_principal == before.outstanding_principal
            - allocation.principal, "a payment's principal comes off the balance")
    return Settlement(before, allocation, after)


def allocate(plan: Plan, payments: Sequence[Event], payment: Payment,
             order: Sequence[Bucket] = DEFAULT_ORDER) -> tuple[Allocation, Position]:
    """How `payment` is split, after the earlier `payments`, and where it leaves the loan.

    Raises `PaymentOutOfOrder` for a payment dated before an earlier one, and
    `PaymentTooLarge` (with the payoff amount) for a payment above the payoff.
    """
    settled = settle(plan, payments, payment, order)
    return settled.allocation, settled.after


def installments(plan: Plan, payments: Sequence[Event], as_of: date,
                 order: Sequence[Bucket] = DEFAULT_ORDER) -> list[InstallmentView]:
    """The schedule as it stands: what each installment asks, what is paid, what is late,
    and the principal left once it is paid.

    Every installment but the last asks its planned total. The last asks what would remain if
    every later installment were paid on its due date, so it grows with late payments and
    shrinks with early ones; its principal is what is left after the one before it, the rest
    is interest.

    The principal left after an installment is read from the payments, not from the plan: a
    payment a day late pays a little more interest and so a little less principal than the
    plan says, and the plan's principal summed would leave a balance the loan does not have
    (a loan card once showed 2.16 still owed after a closed loan's last installment).
    """
    state, _ = _replay(plan, payments, order)
    paid_so_far = state.paid_towards_plan
    # paid off (early payments earn less interest than the plan's): every installment is
    # settled, each asking only what was paid towards it
    settled = not (state.balance or state.interest_due or state.penalty_due or state.fees_due)
    projected = state
    plan = state.plan
    periods = plan.periods
    if projected.balance or projected.interest_due:
        projected.accrue_to(max(as_of, projected.on))
        covered = projected.paid_towards_plan
        running = 0
        for period in periods[:-1]:
            running += period.total
            owed = running - covered
            if owed <= 0:
                continue
            projected.accrue_to(max(period.due_on, projected.on))
            amount = min(owed, projected.balance + projected.interest_due)
            if amount:
                projected.pay(amount, (Bucket.OVERDUE_INTEREST, Bucket.DUE_INTEREST))
                covered = projected.paid_towards_plan
        projected.accrue_to(max(plan.maturity, projected.on))
    last_total = max(0, projected.paid_towards_plan + projected.balance
                     + projected.interest_due - sum(p.total for p in periods[:-1]))
    targets = list(accumulate(p.total for p in periods[:-1]))
    lefts = [_left_after(projected.trail, target, plan.principal) for target in targets]
    views = []
    remaining = paid_so_far
    for index, period in enumerate(periods):
        last = index == len(periods) - 1
        total = last_total if last else period.total
        paid = min(remaining, total)
        remaining -= paid
        if settled:
            total = paid
        before = lefts[index - 1] if index else plan.principal
        principal = min(total, before if last else period.principal)
        if paid >= total:
            status = "paid"
        elif period.due_on < as_of:
            status = "overdue"
        elif period.due_on == as_of:
            status = "due"
        elif paid:
            status = "partly_paid"
        else:
            status = "upcoming"
        views.append(InstallmentView(period.number, period.due_on, principal,
                                     total - principal, total, paid, status,
                                     0 if last else lefts[index]))
    return views


def _left_after(trail: Sequence[tuple[int, int, int]], target: int, principal: int) -> int:
    """The principal outstanding at the moment `target` had been paid towards the plan.
    Within the payment that reached it, interest is paid before principal, so of its
    principal only what came after the target is still owed at that moment. No payment
    reached it: the loan ended before, owing nothing."""
    if target <= 0:
        return principal
    at = bisect_left(trail, target, key=lambda point: point[0])
    if at == len(trail):
        return 0
    paid, left, taken = trail[at]
    return left + min(taken, paid - target)
