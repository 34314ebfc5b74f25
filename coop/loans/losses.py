"""The board's loss mark: a loan the board judges lost is classed `loss` (provisioned at the
society's loss percent, 100 by default) whatever its days overdue, until the mark is reversed.

A mark is a fact about the loan, not a movement of money: it is kept in `loan_loss_mark`
(never in `loan_event`, whose dates order the loan's payments), with the board's reason, who
marked it and when; the API's audit trail has the request too. The provision follows at the
next provisioning run (coop.loans.provisioning). A mark takes effect on its day (`on`, the
business date unless an earlier day is given, e.g. the year's last day decided at the board's
meeting after it) and a reversal ends it from its own day. Only an active loan is marked;
a loan has at most one mark standing (409 for a second, and for reversing none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.errors import Conflict, InvalidInput
from coop.ledger.model import check_text
from coop.loans.orm import NOTE_LENGTH_MAX, EventRow, LossMarkRow
from coop.loans.records import loan_row


class LossMarkConflict(Conflict):
    code = "loss_mark_conflict"
    title = "The loan's loss mark is not in that state"


@dataclass(frozen=True)
class LossMark:
    id: int
    loan_id: int
    marked_on: date
    marked_by: str
    reversed_on: date | None
    reversed_by: str | None

    @property
    def status(self) -> str:
        return "reversed" if self.reversed_on is not None else "marked"


def _mark(row: LossMarkRow) -> LossMark:
    return LossMark(row.id, row.loan_id, row.marked_on, row.marked_by, row.reversed_on,
                    row.reversed_by)


def _day(on: date | None, clock: Clock) -> date:
    day = on or clock.today()
    if day > clock.today():
        raise InvalidInput("the day is after the business date", field="on")
    return day


def mark_loss(session: Session, loan_id: int, *, reason: str, on: date | None, actor: str,
              clock: Clock) -> LossMark:
    """Mark an active loan a loss from `on` (default: the business date)."""
    row = loan_row(session, loan_id, lock=True)
    if row.status != "active":
        raise LossMarkConflict.said(
            "loan {loan_id} is {status}; only an active loan is marked a loss",
            loan_id=loan_id, status=row.status)
    day = _day(on, clock)
    if row.disbursed_on is not None and day < row.disbursed_on:
        raise InvalidInput.said("loan {loan_id} was paid out on {disbursed_on}; it cannot be "
                                "a loss before that", loan_id=loan_id,
                                disbursed_on=row.disbursed_on, field="on")
    if _standing(session, loan_id) is not None:
        raise LossMarkConflict.said("loan {loan_id} is marked a loss already", loan_id=loan_id)
    text = check_text(reason, field="reason", length_max=NOTE_LENGTH_MAX)
    mark = LossMarkRow(loan_id=loan_id, marked_on=day, reason=text, marked_by=actor,
                       marked_at=clock.now())
    session.add(mark)
    session.flush()
    return _mark(mark)


def reverse_loss_mark(session: Session, loan_id: int, *, reason: str, on: date | None,
                      actor: str, clock: Clock) -> LossMark:
    """End the loan's standing loss mark from `on` (default: the business date)."""
    loan_row(session, loan_id, lock=True)  # 404 for no such loan; one change at a time
    mark = _standing(session, loan_id)
    if mark is None:
        raise LossMarkConflict.said("loan {loan_id} is not marked a loss", loan_id=loan_id)
    day = _day(on, clock)
    if day < mark.marked_on:
        raise InvalidInput.said("loan {loan_id} was marked a loss on {marked_on}; the mark "
                                "cannot end before it", loan_id=loan_id,
                                marked_on=mark.marked_on, field="on")
    mark.reversal_reason = check_text(reason, field="reason", length_max=NOTE_LENGTH_MAX)
    mark.reversed_on, mark.reversed_by, mark.reversed_at = day, actor, clock.now()
    session.flush()
    return _mark(mark)


def _standing(session: Session, loan_id: int) -> LossMarkRow | None:
    return session.execute(select(LossMarkRow).where(
        LossMarkRow.loan_id == loan_id, LossMarkRow.reversed_on.is_(None))).scalar()


def marks_of(session: Session, loan_id: int) -> list[LossMark]:
    """The loan's loss marks, the earliest first."""
    return [_mark(row) for row in session.scalars(select(LossMarkRow).where(
        LossMarkRow.loan_id == loan_id).order_by(LossMarkRow.id))]


def marked_on(session: Session, as_of: date) -> set[int]:
    """The loans whose loss mark stands on `as_of`."""
    return set(session.scalars(select(LossMarkRow.loan_id).where(
        LossMarkRow.marked_on <= as_of,
        (LossMarkRow.reversed_on.is_(None)) | (LossMarkRow.reversed_on > as_of))))


def written_off_recovering(session: Session, as_of: date) -> set[int]:
    """The loans written off on or before `as_of` (and not brought back since) with part of
    what was written off still to be recovered on that day."""
    latest = (select(EventRow.loan_id, func.max(EventRow.seq).label("seq"))
              .where(EventRow.value_date <= as_of).group_by(EventRow.loan_id).subquery())
    written = set(session.scalars(
        select(EventRow.loan_id)
        .join(latest, (latest.c.loan_id == EventRow.loan_id) & (latest.c.seq == EventRow.seq))
        .where(EventRow.status_after == "written_off")))
    if not written:
        return set()
    off: dict[int, int] = {}
    recovered: dict[int, int] = {}
    for loan_id, kind, amount in session.execute(
            select(EventRow.loan_id, EventRow.kind, EventRow.amount_minor)
            .where(EventRow.loan_id.in_(written), EventRow.value_date <= as_of,
                   EventRow.kind.in_(("write_off", "recovery"))).order_by(EventRow.seq)):
        if kind == "write_off":  # the last write-off is the one standing
            off[loan_id], recovered[loan_id] = amount, 0
        else:
            recovered[loan_id] = recovered.get(loan_id, 0) + amount
    return {loan_id for loan_id, amount in off.items() if amount > recovered.get(loan_id, 0)}


__all__ = ["LossMark", "LossMarkConflict", "mark_loss", "marked_on", "marks_of",
           "reverse_loss_mark", "written_off_recovering"]
