"""Corrections with a second pair of eyes (maker-checker).

A clerk (or an admin) asks for an entry to be corrected, with a reason; another user, an
admin or a board member and never the one who asked, approves it (the entry is undone the way
its room undoes it: `coop.corrections.undo`) or refuses it (nothing is posted). An admin's own
reversal (POST /ledger/entries/{id}/reversal) is the same undo, recorded here as asked and
approved by her at once.

Two approvals of one request at once post one reversal: the request's row is locked (and on
SQLite every writer is serialised), its status is read under the lock, and the ledger keeps
at most one reversal of an entry besides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.corrections.orm import REASON_LENGTH_MAX, STATUSES, CorrectionRow
from coop.corrections.undo import (
    BY_KIND,
    OWN_OPERATION,
    CorrectionRefused,
    load_correctable,
    refusal,
    undo_entry,
)
from coop.errors import Conflict, Forbidden, InvalidInput, NotFound
from coop.ledger import PostedEntry, queries
from coop.ledger.model import check_text
from coop.ledger.orm import entry_table

LIST_MAX = 200


class CorrectionNotFound(NotFound):
    code = "correction_not_found"
    title = "No such correction"


class CorrectionDecided(Conflict):
    code = "correction_decided"
    title = "The correction has been decided already"


class CorrectionPending(Conflict):
    code = "correction_pending"
    title = "A correction of this entry is waiting for approval"


class OwnCorrection(Forbidden):
    code = "own_correction"
    title = "A correction is approved by someone other than the one who asked"


@dataclass(frozen=True)
class Correction:
    id: int
    entry_id: int
    status: str
    reason: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reversal_entry_id: int | None


@dataclass(frozen=True)
class QueueItem:
    """A correction with what the approver needs to see of its entry."""

    correction: Correction
    entry_kind: str
    entry_date: date
    amount_minor: int
    narration: str
    accounts: tuple[str, ...]


def _view(row: CorrectionRow) -> Correction:
    return Correction(row.id, row.entry_id, row.status, row.reason, row.requested_by,
                      row.requested_at, row.decided_by, row.decided_at, row.reversal_entry_id)


def _reason(reason: str) -> str:
    return check_text(reason, field="reason", length_max=REASON_LENGTH_MAX)


def _pending_of(session: Session, entry_id: int) -> CorrectionRow | None:
    return session.scalars(select(CorrectionRow).where(
        CorrectionRow.entry_id == entry_id, CorrectionRow.status == "pending")).first()


def request_correction(session: Session, entry_id: int, *, reason: str, actor: str,
                       clock: Clock) -> Correction:
    """Ask for an entry to be corrected: 409 when it cannot be (reversed already, a
    correction already waiting, or a kind undone only through its own operation)."""
    text = _reason(reason)
    load_correctable(session, entry_id)
    if _pending_of(session, entry_id) is not None:
        raise CorrectionPending.said(
            "a correction of entry {entry_id} is waiting for approval",
            entry_id=entry_id)
    row = CorrectionRow(entry_id=entry_id, reason=text, status="pending", requested_by=actor,
                        requested_at=clock.now())
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # another clerk asked in the same instant: hers stands
        raise CorrectionPending.said(
            "a correction of entry {entry_id} is waiting for approval",
            entry_id=entry_id) from None
    return _view(row)


def _locked(session: Session, correction_id: int) -> CorrectionRow:
    row = session.scalars(select(CorrectionRow).where(CorrectionRow.id == correction_id)
                          .with_for_update()).first()
    if row is None:
        raise CorrectionNotFound.said(
            "there is no correction {correction_id}",
            correction_id=correction_id, field="id")
    return row


def _decidable(row: CorrectionRow, actor: str) -> None:
    if row.status != "pending":
        raise CorrectionDecided.said(
            "correction {loan} is {status} already",
            loan=row.id, status=row.status)
    if row.requested_by == actor:
        raise OwnCorrection.said(
            "correction {loan} was asked for by {actor}: another user approves or refuses it",
            loan=row.id, actor=actor)


def approve_correction(session: Session, correction_id: int, *, actor: str,
                       clock: Clock) -> Correction:
    """Apply a pending correction: the entry is undone (or the approval is refused with 409
    and the request stays pending, nothing posted)."""
    row = _locked(session, correction_id)
    _decidable(row, actor)
    reversal = undo_entry(session, row.entry_id, reason=row.reason, actor=actor, clock=clock)
    row.status, row.decided_by, row.decided_at = "applied", actor, clock.now()
    row.reversal_entry_id = reversal.id
    session.flush()
    return _view(row)


def refuse_correction(session: Session, correction_id: int, *, actor: str,
                      clock: Clock) -> Correction:
    """Decline a pending correction: nothing is posted."""
    row = _locked(session, correction_id)
    _decidable(row, actor)
    row.status, row.decided_by, row.decided_at = "refused", actor, clock.now()
    session.flush()
    return _view(row)


def correct_now(session: Session, entry_id: int, *, reason: str, actor: str,
                clock: Clock) -> PostedEntry:
    """An admin's own reversal: undone at once, and recorded as asked and approved by her."""
    text = _reason(reason)
    if _pending_of(session, entry_id) is not None:
        raise CorrectionPending.said(
            "a correction of entry {entry_id} is waiting for approval: approve or refuse it "
            "instead",
            entry_id=entry_id)
    reversal = undo_entry(session, entry_id, reason=text, actor=actor, clock=clock)
    now = clock.now()
    session.add(CorrectionRow(entry_id=entry_id, reason=text, status="applied",
                              requested_by=actor, requested_at=now, decided_by=actor,
                              decided_at=now, reversal_entry_id=reversal.id))
    session.flush()
    return reversal


def not_correctable(session: Session, entry_ids: list[int]) -> set[int]:
    """Of these entries, those a clerk cannot ask to correct: corrections themselves, those
    corrected already and those with a request waiting (the counter offers no link)."""
    if not entry_ids:
        return set()
    reversals = session.execute(select(entry_table.c.id, entry_table.c.reversal_of).where(
        entry_table.c.reversal_of.in_(entry_ids) | entry_table.c.id.in_(entry_ids))
        .where(entry_table.c.reversal_of.is_not(None))).all()
    found = {int(i) for row in reversals for i in row}
    found |= set(session.scalars(select(CorrectionRow.entry_id).where(
        CorrectionRow.entry_id.in_(entry_ids), CorrectionRow.status == "pending")))
    return found


def get_correction(session: Session, correction_id: int) -> Correction:
    row = session.get(CorrectionRow, correction_id)
    if row is None:
        raise CorrectionNotFound.said(
            "there is no correction {correction_id}",
            correction_id=correction_id, field="id")
    return _view(row)


def list_corrections(session: Session, *, status: str | None = None,
                     limit: int = LIST_MAX) -> list[QueueItem]:
    """The corrections (newest first), optionally of one status, each with its entry."""
    if status is not None and status not in STATUSES:
        raise InvalidInput.said("status is one of {statuses}", statuses=", ".join(STATUSES),
                                field="status")
    query = select(CorrectionRow).order_by(CorrectionRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(CorrectionRow.status == status)
    rows = list(session.scalars(query))
    entries = {e.id: e for e in queries.load_entries(session, [r.entry_id for r in rows])}
    items = []
    for row in rows:
        entry = entries[row.entry_id]
        amount = sum(p.amount_minor for p in entry.postings if p.side.value == "debit")
        items.append(QueueItem(_view(row), entry.kind, entry.value_date, amount,
                               entry.narration, tuple(p.account for p in entry.postings)))
    return items


__all__ = ["BY_KIND", "LIST_MAX", "OWN_OPERATION", "Correction", "CorrectionDecided",
           "CorrectionNotFound", "CorrectionPending", "CorrectionRefused", "OwnCorrection",
           "QueueItem", "approve_correction", "correct_now", "get_correction",
           "list_corrections", "load_correctable", "not_correctable", "refusal",
           "refuse_correction", "request_correction", "undo_entry"]
