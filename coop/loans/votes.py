"""The board's votes on loans: on an application and on a reschedule request. The votes,
seats and the tally rule live in `coop.board`; this module names the subject and the
conflicts of interest: the borrower and her guarantors may not vote, and their seats (if they
sit) cannot count towards approval. Approved when approvals reach the society's
`loan_approvals_required`; rejected once approval can no longer be reached."""

from __future__ import annotations

from sqlalchemy.orm import Session

from coop import board
from coop.board import Tally
from coop.clock import Clock
from coop.errors import NotFound, require
from coop.loans.errors import LoanStateConflict
from coop.loans.guarantors import guarantor_member_ids, release_holds
from coop.loans.orm import LoanRow, RescheduleRow
from coop.loans.records import loan_row
from coop.society import Society


def subject(loan_id: int, reschedule_id: int = 0) -> board.Subject:
    """The board's name for what is voted on: the application, or a reschedule request."""
    if reschedule_id:
        return board.Subject("reschedule", reschedule_id)
    return board.Subject("loan", loan_id)


def approvals(session: Session, loan_id: int) -> int:
    """The approvals the application had."""
    return board.tally_of(session, subject(loan_id)).approvals


def cast(session: Session, *, row: LoanRow, reschedule_id: int, voter_code: str | None,
         voter_username: str, decision: str, note: str | None, society: Society,
         clock: Clock) -> Tally:
    """Record one board member's vote on the loan `row` (locked by the caller) or on its
    reschedule request, and say where the vote stands."""
    excluded = dict.fromkeys(guarantor_member_ids(session, row.id),
                             "a board member does not vote on a loan she guarantees")
    excluded[row.member_id] = "a board member does not vote on her own loan"
    return board.cast_vote(
        session, subject=subject(row.id, reschedule_id), voter_code=voter_code,
        voter_username=voter_username, decision=decision, note=note,
        excluded_member_ids=excluded, required=society.settings.loan_approvals_required,
        seats=society.settings.board_seats, clock=clock)


def vote(
    session: Session, loan_id: int, *, voter_code: str | None, voter_username: str,
    decision: str, note: str | None, society: Society, clock: Clock,
) -> Tally:
    """A board member's vote on an application; a rejection releases the guarantors'
    holds."""
    row = loan_row(session, loan_id, lock=True)
    if row.status != "pending":
        raise LoanStateConflict.said(
            "loan {loan_id} is {status}, not pending",
            loan_id=loan_id, status=row.status)
    tally = cast(session, row=row, reschedule_id=0, voter_code=voter_code,
                 voter_username=voter_username, decision=decision, note=note, society=society,
                 clock=clock)
    if tally.status != "pending":
        row.status = tally.status
        row.decided_on = clock.today()
        if tally.status == "rejected":
            release_holds(session, row, clock)
    return tally


def votes_of(session: Session, loan_id: int, reschedule_id: int = 0) -> list[board.VoteRow]:
    """Every vote on the application (or on reschedule request `reschedule_id`)."""
    return board.votes_on(session, subject(loan_id, reschedule_id))


def outcome(session: Session, subject: board.Subject) -> tuple[int, str]:
    """(the loan a subject of the loans' votes is about, where the decision stands:
    approved, rejected or pending). An application that went on to be paid out, closed or
    written off was approved."""
    if subject.kind == "reschedule":
        request = session.get(RescheduleRow, subject.id)
        if request is None:
            raise NotFound(f"there is no reschedule request {subject.id}")
        return request.loan_id, request.status
    require(subject.kind == "loan", f"the loans' votes are on no {subject.kind!r}")
    status = loan_row(session, subject.id).status
    return subject.id, status if status in ("pending", "rejected") else "approved"


__all__ = ["Tally", "approvals", "cast", "outcome", "subject", "vote", "votes_of"]
