"""Dates of the statements, pure: the fiscal year a day falls in, the previous year's
closing day, the same period a year before, and month ends for the charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from coop.errors import InvalidInput

EARLIEST = date(1900, 1, 1)
MONTHS_OF_SERIES = 12


def _start_of(year: int, fiscal_year_start: str) -> date:
    month, day = (int(part) for part in fiscal_year_start.split("-"))
    return date(year, month, day)


def fiscal_year_of(day: date, fiscal_year_start: str) -> tuple[date, date]:
    """(first, last day) of the fiscal year that `day` falls in (04-01: 1 April to 31 March)."""
    start = _start_of(day.year, fiscal_year_start)
    if start > day:
        start = _start_of(day.year - 1, fiscal_year_start)
    return start, _start_of(start.year + 1, fiscal_year_start) - timedelta(days=1)


def previous_year_end(day: date, fiscal_year_start: str) -> date:
    """The last day of the fiscal year before the one `day` falls in: the balance sheet's
    comparative column (an Indian co-operative's audited accounts compare with the previous
    year's closing figures, also for a balance sheet drawn in the middle of a year)."""
    return fiscal_year_of(day, fiscal_year_start)[0] - timedelta(days=1)


def year_before(day: date) -> date:
    """The same day a year earlier (29 February: the 28th)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def previous_period(first: date, last: date) -> tuple[date, date]:
    """The comparative period of an income and expenditure or a receipts and payments
    account: the same days a year before (a fiscal year's is the fiscal year before)."""
    before_last = year_before(last)
    if last.month == 2 and last.day == 28 and (last + timedelta(days=1)).month == 3:
        before_last = date(before_last.year, 3, 1) - timedelta(days=1)  # to its month's end
    return year_before(first), before_last


@dataclass(frozen=True, slots=True)
class MonthEnd:
    name: str  # YYYY-MM
    first: date
    through: date  # the month's last day, or the day asked for in a month not over


def months_ending(day: date, count: int = MONTHS_OF_SERIES) -> list[MonthEnd]:
    """The `count` months ending with the month of `day`, oldest first, each to its last day
    (the last one to `day`)."""
    found = []
    year, month = day.year, day.month
    for _ in range(count):
        first = date(year, month, 1)
        last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        found.append(MonthEnd(f"{year:04d}-{month:02d}", first, min(last, day)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        if year < EARLIEST.year:
            break
    return list(reversed(found))


def check_period(first: date, last: date, *, today: date) -> None:
    """A period may not run backwards, begin before 1900 or end after the business date."""
    if first > last:
        raise InvalidInput.said("the period's first day {first} is after its last day {last}",
                                first=first, last=last, field="from")
    if first < EARLIEST:
        raise InvalidInput.said("a date before {earliest} is not in the books",
                                earliest=EARLIEST, field="from")
    check_day(last, today=today, field="to")


def check_day(day: date, *, today: date, field: str = "as_of") -> None:
    if day > today:
        raise InvalidInput.said("{day} is after the business date {today}", day=day,
                                today=today, field=field)
    if day < EARLIEST:
        raise InvalidInput.said("a date before {earliest} is not in the books",
                                earliest=EARLIEST, field=field)


__all__ = ["MonthEnd", "check_day", "check_period", "fiscal_year_of", "months_ending",
           "previous_period", "previous_year_end", "year_before"]
