"""The board's votes on loans: on an application (`reschedule_id` 0) and on a reschedule
request. Every vote-related piece of the loans room is here, behind a narrow interface
(`cast`, `approvals`, `vote`, `votes_of`, `Tally`), so that voting can later be moved onto
the board's own package without touching the rest of the room.

Approved when approvals reach the required number; rejected once approval can no longer be
reached (the borrower's own seat, if she sits on the board, cannot vote). A board member
never votes on her own loan nor on one she guarantees; every vote is kept."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.errors import InvalidInput
from coop.ledger.model import check_text
from coop.loans.errors import AlreadyVoted, LoanStateConflict, VoteNotAllowed
from coop.loans.guarantors import guarantor_member_ids, release_holds
from coop.loans.orm import NOTE_LENGTH_MAX, LoanRow, VoteRow
from coop.loans.records import loan_row, member_code
from coop.members import get_member
from coop.society import Society


@dataclass(frozen=True)
class Tally:
    status: str
    approvals: int
    rejections: int
    required: int


def counts(session: Session, loan_id: int, reschedule_id: int) -> tuple[int, int]:
    """(approvals, rejections) so far."""
    rows = session.execute(
        select(VoteRow.decision, func.count()).where(
            VoteRow.loan_id == loan_id, VoteRow.reschedule_id == reschedule_id)
        .group_by(VoteRow.decision)).all()
    found = {decision: int(count) for decision, count in rows}
    return found.get("approve", 0), found.get("reject", 0)


def approvals(session: Session, loan_id: int) -> int:
    """The approvals the application had."""
    return counts(session, loan_id, 0)[0]


def cast(session: Session, *, row: LoanRow, reschedule_id: int, voter_code: str | None,
         voter_username: str, decision: str, note: str | None, society: Society,
         board_codes: frozenset[str], clock: Clock) -> Tally:
    """Record one board member's vote on the loan `row` (locked by the caller) or on its
    reschedule request, and say where the vote stands."""
    if decision not in ("approve", "reject"):
        raise InvalidInput("decision is 'approve' or 'reject'", field="decision")
    if voter_code is None:
        raise VoteNotAllowed("a board user must be linked to her member number to vote")
    voter = get_member(session, voter_code)
    if voter.id == row.member_id:
        raise VoteNotAllowed("a board member does not vote on her own loan")
    if voter.id in guarantor_member_ids(session, row.id):
        raise VoteNotAllowed("a board member does not vote on a loan she guarantees")
    text = check_text(note, field="note", length_max=NOTE_LENGTH_MAX) if note else None
    if session.execute(select(VoteRow.id).where(
            VoteRow.loan_id == row.id, VoteRow.reschedule_id == reschedule_id,
            VoteRow.voter_member_id == voter.id)).first():
        raise AlreadyVoted(f"{voter_code} has voted on this already")
    try:
        with session.begin_nested():
            session.add(VoteRow(loan_id=row.id, reschedule_id=reschedule_id,
                                voter_member_id=voter.id, voter_username=voter_username,
                                decision=decision, note=text, voted_at=clock.now()))
    except IntegrityError:
        raise AlreadyVoted(f"{voter_code} has voted on this already") from None
    approved, rejected = counts(session, row.id, reschedule_id)
    required = society.settings.loan_approvals_required
    borrower = member_code(session, row)
    seats = society.settings.board_seats - (1 if borrower in board_codes else 0)
    if approved >= required:
        status = "approved"
    elif seats - rejected < required:
        status = "rejected"
    else:
        status = "pending"
    return Tally(status, approved, rejected, required)


def vote(
    session: Session, loan_id: int, *, voter_code: str | None, voter_username: str,
    decision: str, note: str | None, society: Society, board_codes: frozenset[str],
    clock: Clock,
) -> Tally:
    """A board member's vote on an application. Approved when approvals reach the required
    number; rejected once approval can no longer be reached (the borrower's own seat, if she
    sits on the board, cannot vote); a rejection releases the guarantors' holds."""
    row = loan_row(session, loan_id, lock=True)
    if row.status != "pending":
        raise LoanStateConflict(f"loan {loan_id} is {row.status}, not pending")
    tally = cast(session, row=row, reschedule_id=0, voter_code=voter_code,
                 voter_username=voter_username, decision=decision, note=note, society=society,
                 board_codes=board_codes, clock=clock)
    if tally.status != "pending":
        row.status = tally.status
        row.decided_on = clock.today()
        if tally.status == "rejected":
            release_holds(session, row, clock)
    return tally


def votes_of(session: Session, loan_id: int, reschedule_id: int = 0) -> list[VoteRow]:
    return list(session.scalars(select(VoteRow).where(
        VoteRow.loan_id == loan_id, VoteRow.reschedule_id == reschedule_id)
        .order_by(VoteRow.id)))


__all__ = ["Tally", "approvals", "cast", "counts", "vote", "votes_of"]
