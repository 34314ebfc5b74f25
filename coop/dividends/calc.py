"""Year-end arithmetic, pure: the fiscal year, the appropriation of the net surplus, each
member's dividend basis, and the exact split of a pool (DESIGN.md §8).

Amounts are integer minor units; rates and percents are `Decimal` percents. Nothing here
reads the database or the clock, so an auditor re-running it on the same register gets the
same figures to the paisa.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from coop.errors import InvalidInput
from coop.money import allocate


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


def ceil_percent(amount: int, percent: Decimal) -> int:
    """`percent` of `amount`, rounded up: a statutory minimum is never undershot."""
    share = amount * Fraction(percent) / 100
    return -(-share.numerator // share.denominator)


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
    exact = total_basis * Fraction(rate) / 100 / periods_in_year(kind, year)
    return exact.numerator // exact.denominator


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
