"""Group commit (coop.db.Database.write_batch, coop.api.writes.GroupCommit): several writers'
works in one transaction and one commit, each in a savepoint. A refusal is undone alone; a
database error that may end the transaction undoes the batch, which then runs one by one; a
work that leaves ORM state behind when it fails does the same. Nothing is answered before the
commit. On both engines (write_batch is engine-neutral; the API groups on the event loop on
SQLite, GroupCommit, and in a worker thread on PostgreSQL, ThreadGroupCommit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from coop.api.writes import GroupCommit, ThreadGroupCommit
from coop.clock import FixedClock
from coop.db import Database, StorageUnavailable, _ends_transaction
from coop.errors import InvalidInput
from coop.ledger import queries
from coop.ledger.orm import entry_table
from coop.ledger.verify import verify
from coop.members import Identity, MemberRow, register_member, savings_account
from coop.members.vault import Vault
from coop.savings import record_deposit, record_withdrawal

KEYS = Vault(b"g" * 32)


def _member(db: Database, clock: FixedClock) -> str:
    return db.write(lambda s: register_member(s, identity=Identity(), joined_on=date(2025, 1, 1),
                                              vault=KEYS, clock=clock).code)


def deposit(code: str, amount: int, clock: FixedClock) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        entry, _ = record_deposit(session, code, amount_minor=amount,
                                  value_date=clock.today(), actor="clerk", clock=clock)
        return entry.id
    return work


def withdraw(code: str, amount: int, clock: FixedClock) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        entry, _ = record_withdrawal(session, code, amount_minor=amount,
                                     value_date=clock.today(), actor="clerk", clock=clock)
        return entry.id
    return work


def entries(db: Database) -> int:
    return int(db.read(lambda s: s.scalar(select(func.count()).select_from(entry_table))))


def balance(db: Database, code: str) -> int:
    return db.read(lambda s: queries.balance(s, savings_account(code))) or 0


def test_a_refusal_is_undone_alone_and_the_rest_commit_together(
        db: Database, clock: FixedClock) -> None:
    code = _member(db, clock)

    def refused(session: Session) -> int:
        deposit(code, 7_00, clock)(session)  # booked, then refused: the savepoint takes it back
        raise InvalidInput("no", field="amount")

    before = entries(db)
    outcomes = db.write_batch([deposit(code, 100_00, clock), refused,
                               withdraw(code, 30_00, clock), withdraw(code, 1_000_00, clock)])
    assert [ok for ok, _ in outcomes] == [True, False, True, False]
    assert isinstance(outcomes[1][1], InvalidInput)
    assert "available balance is 70.00" in str(outcomes[3][1])  # after the first withdrawal
    assert balance(db, code) == 70_00
    assert entries(db) == before + 2
    assert db.read(verify).ok


def test_a_database_error_undoes_the_batch_and_each_runs_on_its_own(
        db: Database, clock: FixedClock) -> None:
    code = _member(db, clock)
    calls: list[str] = []

    def broken(session: Session) -> int:
        calls.append("broken")
        session.execute(text("SELECT * FROM no_such_table"))
        return 0

    first = deposit(code, 10_00, clock)

    def counted(session: Session) -> int:
        calls.append("first")
        return first(session)

    outcomes = db.write_batch([counted, broken, deposit(code, 5_00, clock)])
    assert [ok for ok, _ in outcomes] == [True, False, True]
    assert calls == ["first", "broken", "first", "broken"]  # the batch, then one by one
    assert balance(db, code) == 15_00
    assert db.read(verify).ok


def test_a_failed_work_with_orm_state_undoes_the_batch(db: Database, clock: FixedClock) -> None:
    code = _member(db, clock)

    def orm_then_refused(session: Session) -> int:
        session.add(MemberRow(code="M-ORMTEST1", status="active", joined_on=date(2025, 1, 1),
                              created_at=clock.now()))
        raise InvalidInput("no", field="x")

    outcomes = db.write_batch([deposit(code, 10_00, clock), orm_then_refused,
                               deposit(code, 20_00, clock)])
    assert [ok for ok, _ in outcomes] == [True, False, True]
    assert balance(db, code) == 30_00
    assert db.read(lambda s: s.scalar(
        select(func.count()).select_from(MemberRow).where(MemberRow.code == "M-ORMTEST1"))) == 0


# Hypothesis: grouping changes nothing. The same works, grouped in random batches in one book
# and run one transaction each in another, leave the same balances and the same refusals.

OPS = st.lists(st.tuples(st.sampled_from(["deposit", "withdraw", "refuse"]),
                         st.integers(min_value=0, max_value=2),
                         st.integers(min_value=1, max_value=50_000)), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, cuts=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=12))
def test_grouping_changes_no_outcome(db: Database, clock: FixedClock,
                                     ops: list[tuple[str, int, int]], cuts: list[int]) -> None:
    codes = [_member(db, clock) for _ in range(3)]

    def work_of(kind: str, who: int, amount: int) -> Callable[[Session], Any]:
        if kind == "deposit":
            return deposit(codes[who], amount, clock)
        if kind == "withdraw":
            return withdraw(codes[who], amount, clock)

        def refused(session: Session) -> int:
            deposit(codes[who], amount, clock)(session)
            raise InvalidInput("no", field="amount")
        return refused

    expected: list[bool] = []
    shadow = {code: 0 for code in codes}
    for kind, who, amount in ops:  # the one-by-one outcome, computed by hand
        ok = kind == "deposit" or (kind == "withdraw" and amount <= shadow[codes[who]])
        if ok:
            shadow[codes[who]] += amount if kind == "deposit" else -amount
        expected.append(ok)

    before = {code: balance(db, code) for code in codes}
    assert before == {code: 0 for code in codes}
    got: list[bool] = []
    start, n = 0, 0
    while start < len(ops):
        size = cuts[n % len(cuts)]
        batch = [work_of(*op) for op in ops[start:start + size]]
        got.extend(ok for ok, _ in db.write_batch(batch))
        start, n = start + size, n + 1
    assert got == expected
    assert {code: balance(db, code) for code in codes} == shadow
    assert db.read(verify).ok


# GroupCommit: nothing is answered before the commit; a commit refused by the storage answers
# every grouped request with the storage's problem and books nothing.

GROUPS = pytest.mark.parametrize("grouping", [GroupCommit, ThreadGroupCommit])


@GROUPS
def test_group_commit_answers_only_after_the_commit(db: Database, clock: FixedClock,
                                                    grouping: type[GroupCommit]) -> None:
    code = _member(db, clock)
    group = grouping(db)
    committed: list[int] = []
    original = db.write_batch

    def watched(works: Any) -> Any:
        outcomes = original(works)
        committed.append(entries(db))  # read from another connection: durable already
        return outcomes

    db.write_batch = watched  # type: ignore[method-assign]

    async def main() -> list[Any]:
        return await asyncio.gather(*(group.run(deposit(code, 1_00, clock)) for _ in range(8)),
                                    return_exceptions=True)

    ids = asyncio.run(main())
    assert all(isinstance(i, int) for i in ids)
    assert group.batches == 1 and group.writes == 8
    assert committed and committed[0] >= len(ids)
    assert balance(db, code) == 8_00


@GROUPS
def test_a_refused_commit_answers_every_grouped_request_with_it(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
        grouping: type[GroupCommit]) -> None:
    code = _member(db, clock)
    group = grouping(db)

    def full_disk(work: Callable[[Session], Any]) -> Any:
        raise StorageUnavailable("the database's disk is full: nothing was written")

    monkeypatch.setattr(db, "write", full_disk)  # what each write meets after the batch failed
    real_writing = db.writing

    def failing_writing() -> Any:
        raise StorageUnavailable("the database's disk is full: nothing was written")

    monkeypatch.setattr(db, "writing", failing_writing)

    async def main() -> list[Any]:
        return await asyncio.gather(*(group.run(deposit(code, 1_00, clock)) for _ in range(5)),
                                    return_exceptions=True)

    answers = asyncio.run(main())
    assert all(isinstance(a, StorageUnavailable) for a in answers)
    monkeypatch.setattr(db, "writing", real_writing)
    assert balance(db, code) == 0


def test_requests_arriving_during_a_group_go_together_in_the_next(
        db: Database, clock: FixedClock) -> None:
    """ThreadGroupCommit: while one group's transaction runs in its thread, later requests
    wait and then go as one group (3 groups for 1 + 6 + 6 here, not 13 transactions)."""
    code = _member(db, clock)
    group = ThreadGroupCommit(db)
    started = 0
    original = db.write_batch

    def slow(works: Any) -> Any:
        nonlocal started
        started += 1
        import time
        time.sleep(0.2)  # requests keep arriving meanwhile
        return original(works)

    db.write_batch = slow  # type: ignore[method-assign]

    async def main() -> list[Any]:
        first = asyncio.ensure_future(group.run(deposit(code, 1_00, clock)))
        await asyncio.sleep(0.05)
        later = [asyncio.ensure_future(group.run(deposit(code, 1_00, clock)))
                 for _ in range(6)]
        await asyncio.sleep(0.3)
        last = [asyncio.ensure_future(group.run(deposit(code, 1_00, clock)))
                for _ in range(6)]
        return await asyncio.gather(first, *later, *last)

    ids = asyncio.run(main())
    assert len(set(ids)) == 13
    assert (group.batches, group.writes) == (3, 13)
    assert balance(db, code) == 13_00
    assert db.read(verify).ok


def test_two_processes_groups_interleave_without_loss(db: Database, clock: FixedClock) -> None:
    """Two servers' groups (two Database objects on one book, as `coop serve --workers 2`
    runs them) contend for the same rows: every deposit and withdrawal lands exactly once."""
    codes = [_member(db, clock) for _ in range(4)]
    before = entries(db)
    other = Database(db.url, pool_size=4)
    try:
        groups = [ThreadGroupCommit(db), ThreadGroupCommit(other)]

        async def main() -> list[Any]:
            runs = []
            for n in range(120):
                code = codes[n % 4]
                work = deposit(code, 3_00, clock) if n % 3 else withdraw(code, 1_00, clock)
                runs.append(groups[n % 2].run(work))
            return await asyncio.gather(*runs, return_exceptions=True)

        answers = asyncio.run(main())
    finally:
        other.dispose()
    refused = [a for a in answers if isinstance(a, Exception)]
    assert all("available balance" in str(a) for a in refused)
    booked = [a for a in answers if isinstance(a, int)]
    assert len(set(booked)) == len(booked) == entries(db) - before
    assert sum(balance(db, c) for c in codes) == (
        sum(3_00 for n in range(120) if n % 3) - 1_00 * (40 - len(refused)))
    assert db.read(verify).ok


def test_what_ends_a_grouped_transaction() -> None:
    """A constraint is undone alone; a deadlock (rerun on its own) or a disk error undoes the
    group; a refusal of the service's own is not the driver's."""
    import sqlite3

    import psycopg

    assert not _ends_transaction(psycopg.errors.UniqueViolation())
    assert not _ends_transaction(psycopg.errors.CheckViolation())
    assert _ends_transaction(psycopg.errors.DeadlockDetected())
    assert _ends_transaction(psycopg.errors.SerializationFailure())
    assert _ends_transaction(psycopg.errors.DiskFull())
    assert not _ends_transaction(sqlite3.IntegrityError())
    assert _ends_transaction(sqlite3.OperationalError("disk I/O error"))
    assert not _ends_transaction(InvalidInput("no", field="x"))


def test_a_group_that_fails_whole_does_not_take_the_next_with_it(
        db: Database, clock: FixedClock) -> None:
    """ThreadGroupCommit: a group whose commit fails as a whole (a connection lost during its
    COMMIT: outcome unknown) answers its own requests with that; those that arrived meanwhile
    go on in the next group (they were cancelled, a 500 each, before)."""
    code = _member(db, clock)
    group = ThreadGroupCommit(db)
    original = db.write_batch
    calls = 0

    def first_fails(works: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            import time
            time.sleep(0.2)
            raise StorageUnavailable("lost during the COMMIT")
        return original(works)

    db.write_batch = first_fails  # type: ignore[method-assign]

    async def main() -> list[Any]:
        first = asyncio.ensure_future(group.run(deposit(code, 1_00, clock)))
        await asyncio.sleep(0.05)
        later = [asyncio.ensure_future(group.run(deposit(code, 1_00, clock)))
                 for _ in range(3)]
        return await asyncio.gather(first, *later, return_exceptions=True)

    answers = asyncio.run(main())
    assert isinstance(answers[0], StorageUnavailable)
    assert all(isinstance(a, int) for a in answers[1:]), answers
    assert balance(db, code) == 3_00
