"""The board package on the test engine (SQLite, or PostgreSQL with COOP_TEST_DATABASE_URL):
seats taken and vacated with their dates, seats that follow a board user's account, and votes
on subjects the board knows only by kind and id.

A clerk's-day reading: Asha and Bina sit on the board from 1 June; Chitra joins on 10 June;
Asha is disabled on 20 June and enabled again on 25 June (a second seat), and Devi, a member
with a conflict of interest, is refused; the second approval of two decides.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from sqlalchemy.orm import Session

from coop import auth, board
from coop.auth import Passwords
from coop.board import AlreadyVoted, Subject, VoteNotAllowed
from coop.clock import FixedClock
from coop.db import Database
from coop.errors import InvalidInput
from coop.members import Identity, MemberNotFound, register_member
from coop.members.vault import Vault

JUNE = date(2025, 6, 1)
PASSWORDS = Passwords(memory_kib=8, time_cost=1, parallelism=1)
PASSWORD = "correct horse battery"


def members(db: Database, clock: FixedClock, n: int) -> list[str]:
    keys = Vault(b"k" * 32)
    return [db.write(lambda s: register_member(s, identity=Identity(), joined_on=None,
                                               vault=keys, clock=clock).code)
            for _ in range(n)]


def user(db: Database, clock: FixedClock, username: str, role: str, code: str | None) -> None:
    """As POST /users does: the user, then her seat, in one transaction."""
    def work(s: Session) -> None:
        auth.create_user(s, username=username, password=PASSWORD, role=role, member_code=code,
                         passwords=PASSWORDS, clock=clock)
        board.sync_seat(s, username=username, on=clock.today())
    db.write(work)


def disable(db: Database, clock: FixedClock, username: str, disabled: bool) -> None:
    """As PATCH /users/{username} does."""
    def work(s: Session) -> None:
        auth.update_user(s, username, disabled=disabled, passwords=PASSWORDS, clock=clock)
        board.sync_seat(s, username=username, on=clock.today())
    db.write(work)


def test_seats_have_a_from_and_a_to(db: Database, clock: FixedClock) -> None:
    asha, bina, chitra = members(db, clock, 3)
    db.write(lambda s: board.take_seat(s, member_code=asha, username="asha", on=JUNE))
    db.write(lambda s: board.take_seat(s, member_code=bina, username="bina", on=JUNE))
    db.write(lambda s: board.take_seat(s, member_code=chitra, username="chitra",
                                       on=date(2025, 6, 10)))
    # taking a seat she holds changes nothing
    db.write(lambda s: board.take_seat(s, member_code=asha, username="asha",
                                       on=date(2025, 6, 5)))
    assert db.write(lambda s: board.vacate_seat(s, username="bina", on=date(2025, 6, 20)))
    assert not db.write(lambda s: board.vacate_seat(s, username="nobody", on=date(2025, 6, 20)))

    assert db.read(board.seated) == {asha, chitra}
    assert db.read(lambda s: board.seated(s, date(2025, 5, 31))) == frozenset()
    assert db.read(lambda s: board.seated(s, JUNE)) == {asha, bina}
    assert db.read(lambda s: board.seated(s, date(2025, 6, 10))) == {asha, bina, chitra}
    assert db.read(lambda s: board.seated(s, date(2025, 6, 19))) == {asha, bina, chitra}
    assert db.read(lambda s: board.seated(s, date(2025, 6, 20))) == {asha, chitra}
    assert [(seat.from_on, seat.to_on) for seat in db.read(
        lambda s: board.seats_of(s, bina))] == [(JUNE, date(2025, 6, 20))]
    assert [(seat.from_on, seat.to_on) for seat in db.read(
        lambda s: board.seats_of(s, asha))] == [(JUNE, None)]
    with pytest.raises(MemberNotFound):
        db.write(lambda s: board.take_seat(s, member_code="M-NONE1", username="x", on=JUNE))


def test_a_board_user_sits_while_enabled_and_while_her_role_is_board(
        db: Database, clock: FixedClock) -> None:
    asha, bina, mala = members(db, clock, 3)
    clock.business_date = JUNE
    user(db, clock, "asha", "board", asha)
    user(db, clock, "bina", "board", bina)
    user(db, clock, "mala", "member", mala)  # a member's login: no seat
    user(db, clock, "clerk1", "clerk", None)
    assert db.read(board.seated) == {asha, bina}

    clock.business_date = date(2025, 6, 20)
    disable(db, clock, "asha", True)
    assert db.read(board.seated) == {bina}
    clock.business_date = date(2025, 6, 25)
    disable(db, clock, "asha", False)
    assert db.read(board.seated) == {asha, bina}
    assert [(seat.from_on, seat.to_on) for seat in db.read(lambda s: board.seats_of(s, asha))] \
        == [(JUNE, date(2025, 6, 20)), (date(2025, 6, 25), None)]
    assert db.read(lambda s: board.seated(s, date(2025, 6, 22))) == {bina}

    # her role changes (an admin makes Bina a clerk): her seat ends that day
    clock.business_date = date(2025, 7, 1)

    def demote(s: Session) -> None:
        found = auth.find_user(s, "bina")
        assert found is not None
        found.role = auth.Role.CLERK.value
        board.sync_seat(s, username="bina", on=clock.today())
    db.write(demote)
    assert db.read(board.seated) == {asha}
    assert db.read(lambda s: board.seats_of(s, bina))[-1].to_on == date(2025, 7, 1)
    # disabling a user who holds no seat changes no seat
    disable(db, clock, "mala", True)
    assert db.read(lambda s: board.seats_of(s, mala)) == []


def seat_all(db: Database, codes: list[str]) -> None:
    for code in codes:
        db.write(lambda s, c=code: board.take_seat(s, member_code=c, username=f"u-{c}",
                                                   on=JUNE))


def cast(db: Database, clock: FixedClock, subject: Subject, voter: str | None,
         decision: str = "approve", *, excluded: dict[int, str] | None = None,
         note: str | None = None) -> Any:
    return db.write(lambda s: board.cast_vote(
        s, subject=subject, voter_code=voter, voter_username=f"u-{voter}", decision=decision,
        note=note, excluded_member_ids=excluded or {}, required=2, seats=3, clock=clock))


def member_id(db: Database, code: str) -> int:
    from coop.members import get_member
    return int(db.read(lambda s: get_member(s, code).id))


def test_votes_on_a_subject_and_their_tally(db: Database, clock: FixedClock) -> None:
    asha, bina, chitra, devi, outsider = members(db, clock, 5)
    seat_all(db, [asha, bina, chitra, devi])
    loan = Subject("loan", 7)
    conflict = {member_id(db, devi): "a board member does not vote on her own loan"}

    with pytest.raises(VoteNotAllowed, match="linked to her member number"):
        cast(db, clock, loan, None)
    with pytest.raises(VoteNotAllowed, match="her own loan"):
        cast(db, clock, loan, devi, excluded=conflict)
    with pytest.raises(VoteNotAllowed, match="does not hold a board seat"):
        cast(db, clock, loan, outsider)
    with pytest.raises(InvalidInput):
        cast(db, clock, loan, asha, "abstain")

    first = cast(db, clock, loan, asha, "approve", excluded=conflict, note="steady saver")
    assert (first.status, first.approvals, first.rejections, first.required) == (
        "pending", 1, 0, 2)
    with pytest.raises(AlreadyVoted):
        cast(db, clock, loan, asha, "reject", excluded=conflict)
    # the same id under another kind is another subject
    other = cast(db, clock, Subject("reschedule", 7), asha, "reject")
    assert (other.approvals, other.rejections) == (0, 1)
    second = cast(db, clock, loan, bina, "approve", excluded=conflict)
    assert second.status == "approved"

    votes = db.read(lambda s: board.votes_on(s, loan))
    assert [(v.voter_username, v.decision, v.note) for v in votes] == [
        (f"u-{asha}", "approve", "steady saver"), (f"u-{bina}", "approve", None)]
    assert db.read(lambda s: board.tally_of(s, loan)) == (2, 0)
    assert db.read(lambda s: board.tally_of(s, Subject("loan", 8))) == (0, 0)


def test_a_seated_member_with_a_conflict_cannot_count_towards_approval(
        db: Database, clock: FixedClock) -> None:
    # three seats, two required: the borrower sits, so one rejection decides
    asha, bina, devi = members(db, clock, 3)
    seat_all(db, [asha, bina, devi])
    conflict = {member_id(db, devi): "a board member does not vote on her own loan"}
    tally = cast(db, clock, Subject("loan", 1), asha, "reject", excluded=conflict)
    assert tally.status == "rejected"


def test_one_member_voting_twice_at_once_is_counted_once(db: Database,
                                                         clock: FixedClock) -> None:
    asha, bina = members(db, clock, 2)
    seat_all(db, [asha, bina])
    subject = Subject("write_off", 3)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            cast(db, clock, subject, asha)
            outcomes.append("counted")
        except AlreadyVoted:
            outcomes.append("already voted")

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["already voted", "counted"]
    assert db.read(lambda s: board.tally_of(s, subject)) == (1, 0)
