"""How a borrower repaid: each installment on time, late (by how many days), overdue or still
to come. Pure: plain dates in, plain values out; the board reads it for an applicant's
earlier loans (issue 18: not a bare count of loans).

The facts are those the loan keeps: the due dates of its plan (a reschedule keeps the
installments due before it, so the plan of today covers the loan's whole life) and, after each
repayment, the due date of the oldest installment still unpaid (None once nothing is owed).
Installment k, due D, is *paid* by the repayment after which the oldest unpaid installment
falls due after D (or nothing is owed); it is *on time* if that repayment is dated on or before
D, else *late* by the days between, less the days a moratorium froze. An installment not paid
by `as_of` is *overdue* once its due date has passed (late by the days so far), else it is
still to come. Only repayments pay: a write-off or a reschedule does not.

A worked example (tests/unit/test_punctuality.py): due 10 Jan, 10 Feb, 10 Mar, 10 Apr; she
repays on 10 Jan (oldest unpaid after it: 10 Feb), on 15 Feb (10 Mar), on 25 Mar part of
March (still 10 Mar) and on 30 Mar the rest (10 Apr). Seen on 20 April: January on time,
February 5 days late, March 20 days late, April overdue for 10 days; worst 20 days.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from coop.errors import require
from coop.loans.engine import frozen_days

State = Literal["on_time", "late", "overdue", "upcoming"]


@dataclass(frozen=True, slots=True)
class Installment:
    number: int
    due_on: date
    paid_on: date | None
    days_late: int
    """Days after the due date it was paid (0: on time), or, unpaid, days overdue so far."""

    @property
    def state(self) -> State:
        if self.paid_on is not None:
            return "late" if self.days_late else "on_time"
        return "overdue" if self.days_late else "upcoming"


@dataclass(frozen=True)
class Record:
    installments: tuple[Installment, ...]

    def count(self, state: State) -> int:
        return sum(i.state == state for i in self.installments)

    @property
    def on_time(self) -> int:
        return self.count("on_time")

    @property
    def late(self) -> int:
        return self.count("late")

    @property
    def overdue(self) -> int:
        return self.count("overdue")

    @property
    def upcoming(self) -> int:
        return self.count("upcoming")

    @property
    def worst_days_late(self) -> int:
        return max((i.days_late for i in self.installments), default=0)


def _late(due: date, until: date, frozen: Sequence[tuple[date, date]]) -> int:
    if until <= due:
        return 0
    return max(0, (until - due).days - frozen_days(due, until, frozen))


def record(due_dates: Sequence[date], repayments: Iterable[tuple[date, date | None]], *,
           as_of: date, frozen: Sequence[tuple[date, date]] = ()) -> Record:
    """Each installment's punctuality. `repayments` are (day, oldest unpaid due date after
    it) in the order they were made; those after `as_of` are not counted."""
    require(list(due_dates) == sorted(due_dates), "a plan's due dates are in order")
    paid_on: dict[int, date] = {}
    for day, first_unpaid in repayments:
        if day > as_of:
            break
        for k, due in enumerate(due_dates):
            if first_unpaid is None or first_unpaid > due:
                paid_on.setdefault(k, day)
            else:  # unpaid again (a repayment undone): paid by a later repayment, if any
                paid_on.pop(k, None)
    rows = []
    for k, due in enumerate(due_dates):
        paid = paid_on.get(k)
        rows.append(Installment(k + 1, due, paid, _late(due, paid or as_of, frozen)))
    result = Record(tuple(rows))
    require(result.on_time + result.late + result.overdue + result.upcoming == len(due_dates),
            "every installment is in one state")
    return result


__all__ = ["Installment", "Record", "State", "record"]
