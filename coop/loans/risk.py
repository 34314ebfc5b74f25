"""Portfolio at risk, a pure calculation over plain values (DESIGN.md §7).

Each active loan is seen on a day through a `Snapshot`: its outstanding principal and the due
date of its oldest unpaid installment, as its last event on or before that day left them, and
the moratorium windows in which its arrears do not age. Then, on `as_of`:

    days past due  = as_of - first unpaid due date - days of it inside a moratorium window
                     (0 when nothing is unpaid or the first unpaid installment is not yet due)
    bucket         = current (0 days), 1-30, 31-90, 91-180, 181-365, >365
    PAR30          = outstanding principal of the loans more than 30 days past due
                     / all outstanding principal x 100, to two places (HALF_EVEN); 0.00 when
                     nothing is outstanding

A worked example a person can check (tests/unit/test_portfolio_risk.py), on 31 March 2025:

    loan  outstanding   first unpaid due   days past due   bucket
    1     10,000.00     10 April 2025      0               current
    2      5,000.00     21 March 2025      10              1-30
    3      3,000.00     14 February 2025   45              31-90
    4      2,000.00     1 March 2024       395             >365
                                           PAR30 = (3,000 + 2,000) / 20,000 = 25.00 %

Postconditions (tests/property/test_portfolio_risk_properties.py): the buckets add up to the
outstanding principal and the loans; PAR30 is between 0 and 100; it is 0 when no loan is more
than 30 days past due and 100 when every outstanding loan is; and, with no new events, a later
day never lowers it (arrears only age).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from coop.errors import require
from coop.loans.engine import frozen_days

BUCKETS = ("current", "1-30", "31-90", "91-180", "181-365", ">365")
AT_RISK = BUCKETS[2:]
"""The buckets PAR30 counts: more than 30 days past due."""
HUNDREDTH = Decimal("0.01")


def bucket_of(days: int) -> str:
    if days <= 0:
        return "current"
    for limit, name in ((30, "1-30"), (90, "31-90"), (180, "91-180"), (365, "181-365")):
        if days <= limit:
            return name
    return ">365"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An active loan as its last event on or before the day left it."""

    loan_id: int
    outstanding_minor: int
    first_unpaid_due: date | None
    frozen: tuple[tuple[date, date], ...] = field(default=())


def days_past_due(loan: Snapshot, as_of: date) -> int:
    """Days since the oldest unpaid installment fell due, less the days a moratorium froze."""
    first = loan.first_unpaid_due
    if first is None or first >= as_of:
        return 0
    return max(0, (as_of - first).days - frozen_days(first, as_of, loan.frozen))


@dataclass(frozen=True)
class Portfolio:
    as_of: date
    loans_active: int
    outstanding_minor: int
    buckets: dict[str, int]
    counts: dict[str, int]

    @property
    def at_risk_minor(self) -> int:
        return sum(self.buckets[b] for b in AT_RISK)

    @property
    def par30(self) -> Decimal:
        """Percent of the outstanding principal more than 30 days past due, 0.00 to 100.00."""
        if not self.outstanding_minor:
            return Decimal("0.00")
        return (Decimal(self.at_risk_minor) * 100 / Decimal(self.outstanding_minor)).quantize(
            HUNDREDTH)


def summarize(loans: Iterable[Snapshot], as_of: date) -> Portfolio:
    """The portfolio on `as_of`: outstanding principal and loans by days past due."""
    buckets = dict.fromkeys(BUCKETS, 0)
    counts = dict.fromkeys(BUCKETS, 0)
    total = active = 0
    for loan in loans:
        require(loan.outstanding_minor >= 0, "a loan's outstanding principal is never negative")
        name = bucket_of(days_past_due(loan, as_of))
        buckets[name] += loan.outstanding_minor
        counts[name] += 1
        total += loan.outstanding_minor
        active += 1
    result = Portfolio(as_of, active, total, buckets, counts)
    require(sum(buckets.values()) == total and sum(counts.values()) == active,
            "the buckets add up to the portfolio")
    require(Decimal(0) <= result.par30 <= 100, "PAR30 is a percent from 0 to 100")
    return result


@dataclass(frozen=True, slots=True)
class MonthPar:
    """PAR30 at the end of one month (or on the day the series stops, if earlier)."""

    month: str  # YYYY-MM
    as_of: date
    par30: Decimal
    at_risk_minor: int
    outstanding_minor: int


def month_par(month: str, portfolio: Portfolio) -> MonthPar:
    return MonthPar(month, portfolio.as_of, portfolio.par30, portfolio.at_risk_minor,
                    portfolio.outstanding_minor)


def par_series(snapshots_by_day: Sequence[tuple[str, date, Sequence[Snapshot]]]
               ) -> list[MonthPar]:
    """PAR30 month by month: each (month, its last day, the loans as they stood that day)."""
    return [month_par(month, summarize(loans, day)) for month, day, loans in snapshots_by_day]


__all__ = ["AT_RISK", "BUCKETS", "MonthPar", "Portfolio", "Snapshot", "bucket_of",
           "days_past_due", "month_par", "par_series", "summarize"]
