"""Year-end arithmetic, pure: the fiscal year, the appropriation of the net surplus, each
member's dividend basis, the exact split of a pool, and `distribution`, which puts them
together (DESIGN.md §8).

Amounts are integer minor units; rates and percents are `Decimal` percents. Nothing here
reads the database or the clock, so an auditor re-running it on the same register gets the
same figures to the paisa.

Every step that rounds names its rule (the `decimal` module's names):

* a statutory transfer: ROUND_CEILING, so a legal minimum is never undershot;
* the dividend pool at a rate: ROUND_FLOOR, so the society never pays more than the rate;
* the rate a declared amount comes to: ROUND_HALF_EVEN to four places (it is only reported);
* the patronage rebate pool: ROUND_DOWN, truncation toward zero, so members never get more
  than the declared percent of the interest they paid (the figures of every year declared so
  far were computed this way);
* each member's part: largest remainder in whole units of `dividend_rounding` (`split`); what
  is less than a unit is the residue, which stays in the society (3200), never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from fractions import Fraction

from coop.dividends.errors import AboveCap
from coop.errors import InvalidInput, require
from coop.money import Amount, allocate

RATE_QUANTUM = Decimal("0.0001")  # the rate a declared amount comes to: four places


class Basis(StrEnum):
    SHARE_DAYS = "share_days"
    MONTHS_HELD = "months_held"
    CLOSING_REGISTER = "closing_register"


@dataclass(frozen=True, slots=True)
class FiscalYear:
    """A fiscal year, named by the calendar year it starts in."""

    name: int
    start: date
    end: date

    @classmethod
    def of(cls, name: int, fiscal_year_start: str) -> FiscalYear:
        month, day = (int(part) for part in fiscal_year_start.split("-"))
        if not 1900 <= name <= 9998:
            raise InvalidInput("a fiscal year is named by the year it starts in, e.g. 2025",
                               field="fy")
        start = date(name, month, day)
        return cls(name, start, date(name + 1, month, day) - timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def to_whole(exact: Fraction, rule: str) -> int:
    """An exact amount to whole minor units by the named rounding rule."""
    if rule == ROUND_FLOOR:
        return exact.numerator // exact.denominator
    if rule == ROUND_CEILING:
        return -(-exact.numerator // exact.denominator)
    if rule == ROUND_DOWN:  # toward zero
        whole = abs(exact.numerator) // exact.denominator
        return whole if exact >= 0 else -whole
    require(rule == ROUND_HALF_EVEN, f"no rounding rule {rule!r}")
    return round(exact)  # Fraction rounds half to even


def ceil_percent(amount: int, percent: Decimal) -> int:
    """`percent` of `amount`, rounded up (ROUND_CEILING): a statutory minimum is never
    undershot."""
    return to_whole(amount * Fraction(percent) / 100, ROUND_CEILING)


@dataclass(frozen=True, slots=True)
class Appropriation:
    fund: str
    account: str
    percent: Decimal
    amount: int


def appropriate(net_surplus: int, funds: Sequence[tuple[str, str, Decimal]]
                ) -> tuple[list[Appropriation], int]:
    """The statutory transfers out of a net surplus, in order (each rounded up), and the
    distributable balance left. A loss or a nil surplus appropriates nothing."""
    if sum(percent for _, _, percent in funds) > 100:
        raise InvalidInput("the appropriation percentages add up to more than 100",
                           field="settings")
    if net_surplus <= 0:
        return [Appropriation(fund, account, percent, 0) for fund, account, percent in funds], 0
    rows, left = [], net_surplus
    for fund, account, percent in funds:  # rounding up never takes more than is left
        amount = min(ceil_percent(net_surplus, percent), left)
        rows.append(Appropriation(fund, account, percent, amount))
        left -= amount
    return rows, left


# --- the basis of each member's dividend ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Movement:
    """Shares bought (positive count) or redeemed (negative) on a day."""

    on: date
    count: int


def _holding_by_day(movements: Iterable[Movement], year: FiscalYear
                    ) -> tuple[int, list[tuple[date, int]]]:
    """Shares held at the start of the year, and the changes within it, by day."""
    opening = 0
    changes: dict[date, int] = {}
    for movement in movements:
        if movement.on < year.start:
            opening += movement.count
        elif movement.on <= year.end:
            changes[movement.on] = changes.get(movement.on, 0) + movement.count
    return opening, sorted(changes.items())


def share_days(movements: Iterable[Movement], year: FiscalYear, face_value: int,
               *, until: date | None = None) -> int:
    """Paid-up value x days held, summed over the year (or up to `until`, an exit).

    Shares count from the day they are paid for, to the end of the year."""
    opening, changes = _holding_by_day(movements, year)
    last = min(year.end, until) if until else year.end
    if last < year.start:
        return 0  # left before the year began
    total, held, cursor = 0, opening, year.start
    for day, change in changes:
        if day > last:
            break
        total += held * (day - cursor).days
        held += change
        cursor = day
    total += held * ((last - cursor).days + 1)
    return total * face_value


def months_held(movements: Iterable[Movement], year: FiscalYear, face_value: int,
                *, until: date | None = None) -> int:
    """Paid-up value x whole months held (a month counts only for shares held on every
    day of it; part months are ignored)."""
    opening, changes = _holding_by_day(movements, year)
    last = min(year.end, until) if until else year.end
    total = 0
    month_start = year.start
    held = opening
    index = 0
    while month_start <= year.end:
        next_month = date(month_start.year + (month_start.month == 12),
                          month_start.month % 12 + 1, 1)
        month_end = next_month - timedelta(days=1)
        while index < len(changes) and changes[index][0] <= month_start:  # paid on the 1st
            held += changes[index][1]
            index += 1
        lowest = held
        while index < len(changes) and changes[index][0] <= month_end:
            held += changes[index][1]
            lowest = min(lowest, held)
            index += 1
        if month_start.day == 1 and month_end <= last:  # whole calendar months only
            total += max(0, lowest)
        month_start = next_month
    return total * face_value


def closing_register(movements: Iterable[Movement], year: FiscalYear, face_value: int) -> int:
    """Paid-up value held at the end of the year's last day."""
    return sum(m.count for m in movements if m.on <= year.end) * face_value


def basis_value(kind: Basis, movements: Sequence[Movement], year: FiscalYear, face_value: int,
                *, until: date | None = None) -> int:
    if kind is Basis.SHARE_DAYS:
        return share_days(movements, year, face_value, until=until)
    if kind is Basis.MONTHS_HELD:
        return months_held(movements, year, face_value, until=until)
    if until is not None and until <= year.end:
        return 0  # not on the register at the year's end
    return closing_register(movements, year, face_value)


def periods_in_year(kind: Basis, year: FiscalYear) -> int:
    """What a basis unit is a fraction of: day-values of a year, month-values, or a value."""
    return {Basis.SHARE_DAYS: year.days, Basis.MONTHS_HELD: 12}.get(kind, 1)


def rate_pool(total_basis: int, rate: Decimal, kind: Basis, year: FiscalYear) -> int:
    """The pool a rate gives on the whole register, rounded down to the minor unit."""
    return pool_at(total_basis, rate, periods_in_year(kind, year))


def pool_at(total_basis: int, rate: Decimal, periods: int) -> int:
    """`rate` % a year on `total_basis` value-periods (`periods` to the year), ROUND_FLOOR:
    the pool never pays more than the declared rate."""
    return to_whole(total_basis * Fraction(rate) / 100 / periods, ROUND_FLOOR)


def rate_of(pool: int, total_basis: int, periods: int) -> Decimal:
    """The rate % a year that a declared `pool` comes to on `total_basis`, ROUND_HALF_EVEN to
    RATE_QUANTUM (it is reported, never used to compute money). No basis, no rate."""
    if not total_basis:
        return Decimal(0)
    exact = Decimal(pool) * 100 * periods / Decimal(total_basis)
    return exact.quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)


def rebate_pool_of(interest_paid: int, percent: Decimal) -> int:
    """`percent` of the loan interest members paid, ROUND_DOWN (truncated toward zero): a
    member never gets back more than the declared percent of what she paid, and this is how
    every rebate declared so far was computed, so a re-run gives the same figures."""
    return to_whole(interest_paid * Fraction(percent) / 100, ROUND_DOWN)


@dataclass(frozen=True, slots=True)
class Split:
    amounts: list[int]
    allocated: int
    residue: int


def split(pool: int, weights: Sequence[int], unit: int = 1) -> Split:
    """`pool` shared in proportion to `weights` in whole `unit`s (largest remainder, ties to
    the earlier row, so callers list members by number). What is less than a unit is the
    residue. With no weight at all nothing is allocated and the pool is the residue."""
    if pool <= 0 or not any(weights):
        return Split([0] * len(weights), 0, max(pool, 0))
    units = allocate(pool // unit, weights)
    amounts = [u * unit for u in units]
    allocated = sum(amounts)
    return Split(amounts, allocated, pool - allocated)


# --- the whole distribution ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Distribution:
    """Where a year's net surplus goes, in minor units. `dividends` and `rebates` have one
    part per row the caller gave, in its order. `undistributed` (to 3200) is the distributable
    balance less what members get: it includes both rounding residues."""

    appropriations: list[Appropriation]
    distributable: int
    rate: Decimal
    pool: int
    dividends: Split
    rebate_percent: Decimal
    rebate_pool: int
    rebates: Split
    undistributed: int


def distribution(*, net_surplus: int, funds: Sequence[tuple[str, str, Decimal]],
                 dividend_weights: Sequence[int], rebate_weights: Sequence[int], periods: int,
                 cap: Decimal, rate: Decimal | None, amount: int | None,
                 rebate_percent: Decimal | None, unit: int, currency: str) -> Distribution:
    """The statutory appropriation, then a dividend at `rate` % a year (or a total `amount`)
    on the members' basis values (`dividend_weights`, value-periods with `periods` to the
    year), then a patronage rebate of `rebate_percent` % of the interest each paid
    (`rebate_weights`), each split in whole `unit`s. Rows are members in the caller's order:
    a tie in the split goes to the earlier row. `currency` only words a refusal.

    Refused: neither or both of rate and amount; a rate above `cap` or an amount above what
    `cap` gives; a rebate percent outside 0-100; dividend and rebate above the distributable
    balance."""
    require(len(dividend_weights) == len(rebate_weights), "one row per member in both splits")
    if (rate is None) == (amount is None):
        raise InvalidInput("declare either dividend_rate or dividend_amount",
                           field="dividend_rate")
    appropriations, distributable = appropriate(net_surplus, funds)
    total_basis = sum(dividend_weights)
    if rate is not None:
        if not Decimal(0) <= rate <= cap:
            raise AboveCap.said("the rate may not exceed dividend_cap_percent, {cap} %",
                                cap=cap, field="dividend_rate")
        pool = pool_at(total_basis, rate, periods)
    else:
        pool = amount or 0
        if pool < 0 or pool > pool_at(total_basis, cap, periods):
            raise AboveCap.said("the amount is above the dividend_cap_percent ({cap} %) of "
                                "the paid-up capital", cap=cap, field="dividend_amount")
        rate = rate_of(pool, total_basis, periods)
    dividends = split(pool, dividend_weights, unit)
    percent = rebate_percent or Decimal(0)
    if not Decimal(0) <= percent <= Decimal(100):
        raise InvalidInput("patronage_rebate_percent is between 0 and 100",
                           field="patronage_rebate_percent")
    rebate_pool = rebate_pool_of(sum(rebate_weights), percent)
    rebates = split(rebate_pool, rebate_weights, unit)
    if pool + rebate_pool > distributable:
        raise AboveCap.said(
            "the dividend and rebate ({amount}) are more than the distributable balance "
            "({distributable})", amount=Amount(pool + rebate_pool, currency),
            distributable=Amount(distributable, currency), field="dividend_rate")
    result = Distribution(appropriations, distributable, rate, pool, dividends, percent,
                          rebate_pool, rebates,
                          distributable - dividends.allocated - rebates.allocated)
    _check(result, net_surplus)
    return result


def _check(result: Distribution, net_surplus: int) -> None:
    """The postconditions: every split adds up to its pool, and the appropriations, what
    members get and what stays undistributed add up to the surplus (nothing for a loss)."""
    for name, pool, parts in (("dividend", result.pool, result.dividends),
                              ("rebate", result.rebate_pool, result.rebates)):
        require(sum(parts.amounts) == parts.allocated, f"the {name} parts add up")
        require(parts.allocated + parts.residue == pool, f"the {name} pool is all accounted")
        require(all(part >= 0 for part in parts.amounts), f"no {name} part is negative")
    require(result.undistributed >= result.dividends.residue + result.rebates.residue >= 0,
            "the residues stay undistributed")
    appropriated = sum(row.amount for row in result.appropriations)
    require(appropriated + result.distributable == max(net_surplus, 0),
            "the appropriation adds up to the surplus")
    require(appropriated + result.dividends.allocated + result.rebates.allocated
            + result.undistributed == max(net_surplus, 0),
            "appropriations, members' parts and the undistributed rest add up to the surplus")
