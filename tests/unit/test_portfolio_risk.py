"""Portfolio at risk (coop.loans.risk), by example: the worked example of the module's
docstring, figure by figure, then the edges (nothing outstanding, a moratorium, the day a
loan falls due), and PAR30 month by month.

Amounts are minor units (paise): 1_000_000 is 10,000.00.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from coop.loans.risk import MonthPar, Snapshot, days_past_due, par_series, summarize

D = date
ON = D(2025, 3, 31)
LOANS = (
    Snapshot(1, 1_000_000, D(2025, 4, 10)),  # not yet due: current
    Snapshot(2, 500_000, D(2025, 3, 21)),  # 10 days
    Snapshot(3, 300_000, D(2025, 2, 14)),  # 14 Feb to 31 Mar: 14 + 31 = 45 days
    Snapshot(4, 200_000, D(2024, 3, 1)),  # 1 Mar 2024 to 31 Mar 2025: 365 + 30 = 395 days
)


def test_the_worked_example_of_the_docstring() -> None:
    assert [days_past_due(loan, ON) for loan in LOANS] == [0, 10, 45, 395]
    report = summarize(LOANS, ON)
    assert report.buckets == {"current": 1_000_000, "1-30": 500_000, "31-90": 300_000,
                              "91-180": 0, "181-365": 0, ">365": 200_000}
    assert report.counts == {"current": 1, "1-30": 1, "31-90": 1, "91-180": 0, "181-365": 0,
                             ">365": 1}
    assert (report.loans_active, report.outstanding_minor) == (4, 2_000_000)
    # (300,000 + 200,000) / 2,000,000 = 25 %
    assert report.at_risk_minor == 500_000
    assert report.par30 == Decimal("25.00")


def test_nothing_outstanding_is_no_risk() -> None:
    report = summarize([], ON)
    assert (report.loans_active, report.outstanding_minor, report.par30) == (0, 0, Decimal("0.00"))


def test_thirty_days_is_not_at_risk_and_thirty_one_is() -> None:
    thirty = Snapshot(1, 100, D(2025, 3, 1))
    thirty_one = Snapshot(2, 300, D(2025, 2, 28))
    assert (days_past_due(thirty, ON), days_past_due(thirty_one, ON)) == (30, 31)
    assert summarize([thirty, thirty_one], ON).par30 == Decimal("75.00")


def test_the_day_an_installment_falls_due_it_is_not_yet_late() -> None:
    assert days_past_due(Snapshot(1, 100, ON), ON) == 0
    assert days_past_due(Snapshot(1, 100, None), ON) == 0


def test_a_moratorium_stops_the_days_counting() -> None:
    # due 1 Feb; a moratorium from 10 Feb to 9 Mar (28 days) does not count: 58 - 28 = 30
    frozen = Snapshot(1, 100, D(2025, 2, 1), ((D(2025, 2, 10), D(2025, 3, 9)),))
    assert days_past_due(frozen, ON) == 30
    assert summarize([frozen], ON).par30 == Decimal("0.00")


def test_par30_rounds_to_two_places_half_even() -> None:
    # 1 / 3 = 33.333... -> 33.33; 2 / 3 = 66.666... -> 66.67
    late = Snapshot(1, 100, D(2024, 1, 1))
    assert summarize([late, Snapshot(2, 200, None)], ON).par30 == Decimal("33.33")
    assert summarize([late, Snapshot(2, 100, D(2024, 1, 1)), Snapshot(3, 100, None)],
                     ON).par30 == Decimal("66.67")


def test_par30_month_by_month_sees_each_month_as_it_stood() -> None:
    # One loan of 1,000.00, first unpaid installment due 15 January: 16 days late at the end
    # of January, 44 at the end of February (at risk); paid up in March (nothing unpaid).
    late = Snapshot(1, 100_000, D(2025, 1, 15))
    series = par_series([("2025-01", D(2025, 1, 31), [late]),
                         ("2025-02", D(2025, 2, 28), [late]),
                         ("2025-03", D(2025, 3, 31), [Snapshot(1, 60_000, D(2025, 4, 15))])])
    assert series == [
        MonthPar("2025-01", D(2025, 1, 31), Decimal("0.00"), 0, 100_000),
        MonthPar("2025-02", D(2025, 2, 28), Decimal("100.00"), 100_000, 100_000),
        MonthPar("2025-03", D(2025, 3, 31), Decimal("0.00"), 0, 60_000),
    ]
