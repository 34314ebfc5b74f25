"""The loan classes and their provision, worked by hand (coop.loans.classification): each
boundary day, a moratorium that freezes the days, the percents as settings, and the module
docstring's example."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from coop.loans.classification import (
    CLASSES,
    DEFAULT_PERCENTS,
    LoanClass,
    class_of,
    classify,
    provision_of,
)
from coop.loans.risk import Snapshot, days_past_due

AS_OF = date(2026, 3, 31)


def overdue_by(days: int, *, loan_id: int = 1, outstanding: int = 100_000,
               frozen: tuple[tuple[date, date], ...] = ()) -> Snapshot:
    """A loan whose oldest unpaid installment fell due `days` days before AS_OF."""
    return Snapshot(loan_id, outstanding, AS_OF - timedelta(days=days), frozen)


@pytest.mark.parametrize(("days", "expected"), [
    (0, LoanClass.STANDARD),
    (90, LoanClass.STANDARD), (91, LoanClass.SUB_STANDARD),
    (455, LoanClass.SUB_STANDARD), (456, LoanClass.DOUBTFUL_1),
    (820, LoanClass.DOUBTFUL_1), (821, LoanClass.DOUBTFUL_2),
    (1550, LoanClass.DOUBTFUL_2), (1551, LoanClass.DOUBTFUL_3),
    (5000, LoanClass.DOUBTFUL_3),
])
def test_each_boundary_day(days: int, expected: LoanClass) -> None:
    loan = overdue_by(days)
    assert days_past_due(loan, AS_OF) == days
    found = classify([loan], AS_OF)
    assert found.loans[0].klass is expected
    assert class_of(days) is expected
    assert found.line(expected).loans == 1


def test_the_boundary_days_as_dates() -> None:
    """The 90/91 pair on 31 March 2026: unpaid since 31 December 2025 is 90 days (standard);
    since 30 December 2025, 91 days (sub_standard)."""
    assert days_past_due(Snapshot(1, 1, date(2025, 12, 31)), AS_OF) == 90
    assert days_past_due(Snapshot(1, 1, date(2025, 12, 30)), AS_OF) == 91


def test_a_loan_marked_a_loss_is_loss_whatever_its_days() -> None:
    found = classify([overdue_by(0, loan_id=7)], AS_OF, losses={7})
    assert found.loans[0].klass is LoanClass.LOSS
    assert found.total_provision_minor == 100_000  # 1,000.00 at 100 %
    assert class_of(2000, loss=True) is LoanClass.LOSS


def test_a_moratorium_freezes_the_days() -> None:
    """Unpaid since 1 October 2025 (181 days on 31 March 2026), with a moratorium from
    1 November 2025 to 31 January 2026 (92 days: 30 + 31 + 31) in between: 181 - 92 = 89
    days overdue, standard. Without it the loan would be sub_standard."""
    first = date(2025, 10, 1)
    window = ((date(2025, 11, 1), date(2026, 1, 31)),)
    assert (AS_OF - first).days == 181
    frozen = Snapshot(1, 100_000, first, window)
    assert days_past_due(frozen, AS_OF) == 89
    assert classify([frozen], AS_OF).loans[0].klass is LoanClass.STANDARD
    assert classify([Snapshot(1, 100_000, first)], AS_OF).loans[0].klass \
        is LoanClass.SUB_STANDARD


def test_the_days_do_not_grow_while_a_moratorium_runs() -> None:
    """Unpaid since 1 December 2025; a moratorium from 1 January to 30 June 2026. Every day
    inside the window the loan stays 31 days overdue; after it, the days grow again."""
    loan = Snapshot(1, 100_000, date(2025, 12, 1), ((date(2026, 1, 1), date(2026, 6, 30)),))
    inside = [date(2026, 1, 1) + timedelta(days=k) for k in range(0, 181, 30)]
    assert {days_past_due(loan, day) for day in inside} == {31}
    assert days_past_due(loan, date(2026, 7, 1)) == 31
    assert days_past_due(loan, date(2026, 7, 2)) == 32
    # 91 days overdue (sub_standard) only 60 days after the moratorium ends
    assert classify([loan], date(2026, 8, 30)).loans[0].klass is LoanClass.SUB_STANDARD
    assert classify([loan], date(2026, 8, 29)).loans[0].klass is LoanClass.STANDARD


def test_the_worked_example_of_the_module_docstring() -> None:
    loans = [
        Snapshot(1, 1_000_000, None),
        Snapshot(2, 500_000, date(2025, 12, 31)),
        Snapshot(3, 333_333, date(2025, 12, 30)),
        Snapshot(4, 123_457, date(2025, 1, 1)),
        Snapshot(5, 200_000, date(2026, 3, 1)),
    ]
    found = classify(loans, AS_OF, losses={5})
    assert [(x.loan_id, x.days_overdue, x.klass.value, x.provision_minor)
            for x in found.loans] == [
        (1, 0, "standard", 4_000),        # 10,000.00 x 0.40 % = 40.00
        (2, 90, "standard", 2_000),       # 5,000.00 x 0.40 % = 20.00
        (3, 91, "sub_standard", 33_333),  # 3,333.33 x 10 % = 333.333 -> 333.33
        (4, 454, "sub_standard", 12_346),  # 1,234.57 x 10 % = 123.457 -> 123.46
        (5, 30, "loss", 200_000),         # 2,000.00 x 100 %
    ]
    assert [(x.klass.value, x.loans, x.outstanding_minor, x.provision_minor)
            for x in found.lines] == [
        ("standard", 2, 1_500_000, 6_000), ("sub_standard", 2, 456_790, 45_679),
        ("doubtful_1", 0, 0, 0), ("doubtful_2", 0, 0, 0), ("doubtful_3", 0, 0, 0),
        ("loss", 1, 200_000, 200_000)]
    assert found.total_provision_minor == 251_679  # 2,516.79


def test_half_even_per_loan_then_summed() -> None:
    """Two loans of 1.25 at 10 %: each 0.125 -> 0.12 (HALF_EVEN, the 2 is even), 0.24 in
    all; a rounding of the sum (0.25) would be another figure."""
    found = classify([Snapshot(1, 125, AS_OF - timedelta(days=100)),
                      Snapshot(2, 125, AS_OF - timedelta(days=100))], AS_OF)
    assert [x.provision_minor for x in found.loans] == [12, 12]  # 12.5 -> 12 each
    assert found.total_provision_minor == 24
    assert provision_of(135, Decimal(10)) == 14  # 13.5 -> 14 (the 4 is even)
    assert provision_of(625, Decimal("0.40")) == 2  # 2.5 -> 2


def test_every_class_is_listed_even_when_empty() -> None:
    found = classify([], AS_OF)
    assert [line.klass for line in found.lines] == list(CLASSES)
    assert [line.percent for line in found.lines] == [DEFAULT_PERCENTS[k] for k in CLASSES]
    assert found.total_provision_minor == 0


def test_the_percents_come_from_the_caller() -> None:
    percents = {**DEFAULT_PERCENTS, LoanClass.SUB_STANDARD: Decimal("15.5")}
    found = classify([overdue_by(100, outstanding=1_000_000)], AS_OF, percents=percents)
    assert found.total_provision_minor == 155_000  # 10,000.00 x 15.5 %
