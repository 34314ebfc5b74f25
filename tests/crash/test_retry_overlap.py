"""A retry that overlaps the first attempt: the child's transaction is open (its locks held)
when the parent retries the same operation with the same key; the retry waits; the child
commits and is killed with SIGKILL before it acknowledges. The retry must find the first
attempt's entry and apply nothing more, and the same checker as after the random kills must
find the books clean.

On SQLite the writers are serialised by BEGIN IMMEDIATE, so the retry starts only after the
commit. On PostgreSQL (READ COMMITTED) the retry runs until the first row lock it needs and
waits there; whatever it looked up before that lock was read before the first attempt
committed.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from coop.clock import FixedClock
from coop.db import Database
from tests.crash import worker
from tests.crash.harness import (
    Books,
    Op,
    check_books,
    child_url,
    engine_name,
    run_op,
    set_up,
    wait_for_sessions_gone,
)

FORK = multiprocessing.get_context("fork")
# Found here and fixed: buy_shares(source="cash", key=K) retried while the first attempt's
# transaction was still open waited on the cash account, got the committed entry back from
# post() as a replay, and added a second share movement for it (PostgreSQL; her share count
# doubled). The "shares_cash" case below is that regression test.


@pytest.fixture
def books(db: Database, clock: FixedClock) -> Books:
    return set_up(db, clock)


def _op(kind: str, books: Books) -> Op:
    code = books.codes[0]
    key = f"overlap-{kind}"
    three = 3 * books.face_value_minor
    return {
        "deposit": Op(key, 0, "deposit", code, 12_345),
        "withdrawal": Op(key, 0, "withdrawal", code, 12_345),
        "repayment": Op(key, 0, "repayment", code, 1_234, loan_id=books.loans[code]),
        "shares_savings": Op(key, 0, "shares", code, three, count=3, source="savings"),
        "shares_cash": Op(key, 0, "shares", code, three, count=3, source="cash"),
    }[kind]


def _expect(fd: int, byte: bytes, side_dir: Path) -> None:
    readable, _, _ = select.select([fd], [], [], 30)
    got = os.read(fd, 1) if readable else b""
    assert got == byte, (got, (side_dir / "child-error.txt").read_text()
                         if (side_dir / "child-error.txt").exists() else "")


def _wait_until_waiting(db: Database) -> None:
    """PostgreSQL: until a session of this database waits on a lock (the retry)."""
    if db.is_sqlite:
        time.sleep(0.3)  # BEGIN IMMEDIATE waits in the busy handler: nothing to see
        return
    query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                 "AND wait_event_type = 'Lock'")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if db.read(lambda s: s.execute(query).scalar_one()):
            return
        time.sleep(0.01)
    raise AssertionError("the retry never waited on the first attempt's locks")


@pytest.mark.parametrize("kind", [
    "deposit", "withdrawal", "repayment", "shares_savings", "shares_cash",
])
def test_a_retry_waiting_on_the_killed_attempts_commit_applies_once(
        db: Database, database_url: str, books: Books, clock: FixedClock, tmp_path: Path,
        crash_report: Callable[[str], None], kind: str) -> None:
    op = _op(kind, books)
    name = f"coop-crash-{os.getpid()}-overlap"
    db.dispose()
    ready_read, ready_write = os.pipe()
    commit_read, commit_write = os.pipe()
    child = FORK.Process(target=worker.overlap_child, daemon=True, args=(
        child_url(database_url, name), books, op, tmp_path, ready_write, commit_read))
    child.start()
    os.close(ready_write)
    os.close(commit_read)
    outcome: list[tuple[int, bool] | Exception] = []
    try:
        _expect(ready_read, b"t", tmp_path)  # the first attempt is in its transaction

        def retry() -> None:
            try:
                outcome.append(run_op(db, op, clock, actor="retry"))
            except Exception as exc:
                outcome.append(exc)

        retrying = threading.Thread(target=retry, daemon=True)
        retrying.start()
        _wait_until_waiting(db)
        os.write(commit_write, b"c")
        _expect(ready_read, b"c", tmp_path)  # committed, never acknowledged
    finally:
        if child.is_alive():
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)
        child.join(30)
        os.close(ready_read)
        os.close(commit_write)
    wait_for_sessions_gone(db, name)
    retrying.join(60)
    assert outcome, "the retry did not finish"
    result = outcome[0]
    assert not isinstance(result, Exception), result
    entry_id, replayed = result
    findings = check_books(db, books=books, acked={op.key: op}, attempted={op.key},
                           http=False)
    crash_report(f"crash harness retry overlap ({engine_name(database_url)}, {kind}): "
                 f"the retry got entry {entry_id}, replayed {replayed}; books: {findings}")
    assert replayed, "the retry applied the operation again"
    assert findings.ok, str(findings)
