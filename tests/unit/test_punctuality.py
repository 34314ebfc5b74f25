"""How a borrower repaid, installment by installment (coop.loans.punctuality): the worked
example of the module's docstring, then the edges."""

from __future__ import annotations

from datetime import date

from coop.loans.punctuality import Installment, record

D = date
DUE = [D(2025, 1, 10), D(2025, 2, 10), D(2025, 3, 10), D(2025, 4, 10)]


def test_the_worked_example_of_the_docstring() -> None:
    repaid = [(D(2025, 1, 10), D(2025, 2, 10)),  # January's, on its day
              (D(2025, 2, 15), D(2025, 3, 10)),  # February's, 5 days late
              (D(2025, 3, 25), D(2025, 3, 10)),  # part of March's
              (D(2025, 3, 30), D(2025, 4, 10))]  # the rest of March's: 20 days late
    seen = record(DUE, repaid, as_of=D(2025, 4, 20))
    assert seen.installments == (
        Installment(1, D(2025, 1, 10), D(2025, 1, 10), 0),
        Installment(2, D(2025, 2, 10), D(2025, 2, 15), 5),
        Installment(3, D(2025, 3, 10), D(2025, 3, 30), 20),
        Installment(4, D(2025, 4, 10), None, 10),  # overdue: 10 days so far
    )
    assert [i.state for i in seen.installments] == ["on_time", "late", "late", "overdue"]
    assert (seen.on_time, seen.late, seen.overdue, seen.upcoming) == (1, 2, 1, 0)
    assert seen.worst_days_late == 20


def test_paid_in_advance_is_on_time_and_the_rest_is_to_come() -> None:
    # two installments paid on 5 January: the oldest unpaid after it is March's
    seen = record(DUE, [(D(2025, 1, 5), D(2025, 3, 10))], as_of=D(2025, 2, 20))
    assert [i.state for i in seen.installments] == ["on_time", "on_time", "upcoming",
                                                    "upcoming"]
    assert seen.worst_days_late == 0


def test_a_loan_paid_off_has_every_installment_paid() -> None:
    seen = record(DUE, [(D(2025, 5, 1), None)], as_of=D(2025, 6, 1))
    assert [i.days_late for i in seen.installments] == [111, 80, 52, 21]
    assert seen.late == 4 and seen.worst_days_late == 111


def test_repayments_after_the_day_seen_do_not_count() -> None:
    seen = record(DUE, [(D(2025, 1, 10), D(2025, 2, 10)), (D(2025, 3, 1), D(2025, 3, 10))],
                  as_of=D(2025, 2, 20))
    assert [i.state for i in seen.installments] == ["on_time", "overdue", "upcoming",
                                                    "upcoming"]
    assert seen.installments[1].days_late == 10


def test_an_undone_repayment_makes_its_installment_unpaid_again() -> None:
    # paid on 10 Jan, then (the repayment undone and replayed) the loan says January is
    # unpaid again; a later repayment pays it, late
    seen = record(DUE, [(D(2025, 1, 10), D(2025, 2, 10)), (D(2025, 1, 12), D(2025, 1, 10)),
                        (D(2025, 1, 20), D(2025, 2, 10))], as_of=D(2025, 1, 31))
    assert seen.installments[0] == Installment(1, D(2025, 1, 10), D(2025, 1, 20), 10)


def test_a_moratorium_is_not_lateness() -> None:
    # due 10 Feb, paid 15 Mar: 33 days; a moratorium from 1 to 28 February froze 10 to 28
    # February (19 days, the due day counted as arrears count it)
    seen = record(DUE, [(D(2025, 1, 10), D(2025, 2, 10)), (D(2025, 3, 15), D(2025, 3, 10))],
                  as_of=D(2025, 3, 15), frozen=[(D(2025, 2, 1), D(2025, 2, 28))])
    assert seen.installments[1].days_late == 33 - 19
