"""Votes on any subject the board decides, and their tally.

A vote is refused (403 `vote_not_allowed`) from a board user without a member number, from a
member with a conflict of interest in the subject (the caller names those members, with the
reason to give), and from a member who does not sit on the board now; a second vote by one
member on one subject is 409 `already_voted`. Two votes by one member at once are safe: the
unique constraint decides, inside a savepoint so the caller's transaction survives the refusal.
The tally itself is the pure rule in `coop.board.tally`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coop.board.errors import AlreadyVoted, VoteNotAllowed
from coop.board.orm import DECISIONS, NOTE_LENGTH_MAX, SUBJECT_KINDS, VoteRow
from coop.board.seats import seated_member_ids
from coop.board.tally import Tally, decide
from coop.clock import Clock
from coop.errors import InvalidInput, require
from coop.ledger.model import check_text
from coop.members import get_member


@dataclass(frozen=True, slots=True)
class Subject:
    """What is voted on: a kind from `SUBJECT_KINDS` and the id its own package gave it."""

    kind: str
    id: int

    def __post_init__(self) -> None:
        require(self.kind in SUBJECT_KINDS, f"the board votes on no {self.kind!r}")


class Counts(NamedTuple):
    approvals: int
    rejections: int


def tally_of(session: Session, subject: Subject) -> Counts:
    """How many approved and how many rejected `subject` so far."""
    rows = session.execute(
        select(VoteRow.decision, func.count()).where(
            VoteRow.subject_kind == subject.kind, VoteRow.subject_id == subject.id)
        .group_by(VoteRow.decision)).all()
    counts = {decision: int(count) for decision, count in rows}
    return Counts(counts.get("approve", 0), counts.get("reject", 0))


def votes_on(session: Session, subject: Subject) -> list[VoteRow]:
    """Every vote on `subject`, in the order they were cast."""
    return list(session.scalars(select(VoteRow).where(
        VoteRow.subject_kind == subject.kind, VoteRow.subject_id == subject.id)
        .order_by(VoteRow.id)))


def votes_between(session: Session, start_at: datetime, end_at: datetime) -> list[VoteRow]:
    """Every vote cast from `start_at` up to (not including) `end_at`, by subject, then in
    the order they were cast (a month's votes for the board's meeting pack)."""
    return list(session.scalars(select(VoteRow).where(
        VoteRow.voted_at >= start_at, VoteRow.voted_at < end_at)
        .order_by(VoteRow.subject_kind, VoteRow.subject_id, VoteRow.id)))


def cast_vote(
    session: Session, *, subject: Subject, voter_code: str | None, voter_username: str,
    decision: str, note: str | None, excluded_member_ids: Mapping[int, str], required: int,
    seats: int, clock: Clock,
) -> Tally:
    """Record a board member's vote on `subject` and return the tally after it.

    `excluded_member_ids` maps each member with a conflict of interest (who may not vote and
    whose seat cannot count towards approval) to the refusal she gets if she tries; `required`
    and `seats` are the approvals needed and the bylaws' board size."""
    if decision not in DECISIONS:
        raise InvalidInput("decision is 'approve' or 'reject'", field="decision")
    if voter_code is None:
        raise VoteNotAllowed("a board user must be linked to her member number to vote")
    voter = get_member(session, voter_code)
    if voter.id in excluded_member_ids:
        raise VoteNotAllowed(excluded_member_ids[voter.id])
    sitting = seated_member_ids(session)
    if voter.id not in sitting:
        raise VoteNotAllowed.said("{voter_code} does not hold a board seat", voter_code=voter_code)
    text = check_text(note, field="note", length_max=NOTE_LENGTH_MAX) if note else None
    if session.execute(select(VoteRow.id).where(
            VoteRow.subject_kind == subject.kind, VoteRow.subject_id == subject.id,
            VoteRow.voter_member_id == voter.id)).first():
        raise AlreadyVoted.said("{voter_code} has voted on this already", voter_code=voter_code)
    try:
        with session.begin_nested():
            session.add(VoteRow(subject_kind=subject.kind, subject_id=subject.id,
                                voter_member_id=voter.id, voter_username=voter_username,
                                decision=decision, note=text, voted_at=clock.now()))
    except IntegrityError:
        raise AlreadyVoted.said(
            "{voter_code} has voted on this already",
            voter_code=voter_code) from None
    counts = tally_of(session, subject)
    return decide(approvals=counts.approvals, rejections=counts.rejections, required=required,
                  seats=seats, seated_member_ids=sitting,
                  excluded_member_ids=frozenset(excluded_member_ids))
