"""Interest on savings, daily-balance method (pure: no session, no I/O).

Each day of the period earns closing balance x rate / 100 / days in that day's year (366 in
a leap year), provided the closing balance is at least the minimum balance for interest. The
days' amounts are added exactly (as fractions) and the period's total is rounded once, to the
minor unit, by the named rule (HALF_EVEN unless the society chose HALF_UP), so no paisa drifts
from rounding each day.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from coop.errors import InvalidInput, require

RATE_PERCENT_MAX = Decimal(100)


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def daily_balances(
    opening_minor: int, changes: Iterable[tuple[date, int]], start: date, end: date
) -> list[tuple[date, int]]:
    """Each day's closing balance from `start` to `end`, given the balance before `start` and
    the signed changes (value date, amount) within the period."""
    require(start <= end, "a period starts on or before it ends")
    by_day: dict[date, int] = {}
    for on, amount in changes:
        if not start <= on <= end:
            raise InvalidInput.said(
                "a change dated {on} is outside the period",
                on=on, field="changes")
        by_day[on] = by_day.get(on, 0) + amount
    balance = opening_minor
    closing = []
    day = start
    while day <= end:
        balance += by_day.get(day, 0)
        closing.append((day, balance))
        day += timedelta(days=1)
    return closing


def exact_interest(
    closing: Iterable[tuple[date, int]], *, rate_percent: Decimal, min_balance_minor: int
) -> Fraction:
    """The period's interest in minor units, exactly (before rounding)."""
    if not Decimal(0) <= rate_percent <= RATE_PERCENT_MAX:
        raise InvalidInput("an interest rate is 0 to 100 percent a year", field="rate")
    rate = Fraction(rate_percent) / 100
    total = Fraction(0)
    for day, balance in closing:
        if balance >= min_balance_minor and balance > 0:
            total += balance * rate / days_in_year(day.year)
    return total


def period_interest(
    opening_minor: int,
    changes: Iterable[tuple[date, int]],
    *,
    start: date,
    end: date,
    rate_percent: Decimal,
    min_balance_minor: int = 0,
    rounding: str = ROUND_HALF_EVEN,
) -> int:
    """The interest for the period in minor units, rounded once by `rounding`."""
    closing = daily_balances(opening_minor, changes, start, end)
    exact = exact_interest(closing, rate_percent=rate_percent,
                           min_balance_minor=min_balance_minor)
    as_decimal = Decimal(exact.numerator) / Decimal(exact.denominator)
    return int(as_decimal.quantize(Decimal(1), rounding=rounding))
