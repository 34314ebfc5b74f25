"""Two clerks' deposits in two processes' group commits do not deadlock (PostgreSQL).

A group runs its requests one after the other in one transaction, so it takes one clerk's
till row and later another's. A cash movement reads its clerk's open till with a lock that
holds off a close of that till until the movement commits. When that lock was FOR UPDATE, group
1 (clerk 1's deposit, then clerk 2's) and group 2 (clerk 2's, then clerk 1's) deadlocked: group 2
held clerk 2's till row while waiting for the cash control account group 1 had locked, and
group 1's second deposit waited for clerk 2's till row. PostgreSQL broke it after its
deadlock_timeout (1 s), and every request of the undone group ran again alone. A movement now
takes the till row FOR SHARE: movements do not hold one another off; a close (FOR UPDATE)
still waits for them. The negative control puts FOR UPDATE back and sees the deadlock."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import date

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from coop import auth, tills
from coop.clock import FixedClock
from coop.db import Database
from coop.db_statements import Prepared
from coop.ledger import queries
from coop.ledger.verify import verify
from coop.members import Identity, register_member, savings_account
from coop.members.vault import Vault
from coop.savings import record_deposit
from coop.tills.orm import till_table

KEYS = Vault(secrets.token_bytes(32))
PASSWORDS = auth.Passwords(memory_kib=1024, time_cost=1, parallelism=1)
CLERKS = ("clerk1", "clerk2")


def _society(db: Database, clock: FixedClock) -> list[str]:
    """Two clerks with open tills, and four members."""
    def setup(session: Session) -> list[str]:
        for name in CLERKS:
            auth.create_user(session, username=name, password="correct horse battery",
                             role="clerk", member_code=None, passwords=PASSWORDS, clock=clock)
            tills.open_till(session, username=name, opening_float_minor=0, clock=clock)
        return [register_member(session, identity=Identity(), joined_on=date(2025, 1, 1),
                                vault=KEYS, clock=clock).code for _ in range(4)]
    return db.write(setup)


def _deposit(code: str, clerk: str, clock: FixedClock, then: threading.Event | None = None,
             until_waiting: Database | None = None):  # type: ignore[no-untyped-def]
    def work(session: Session) -> None:
        record_deposit(session, code, amount_minor=10_00, value_date=clock.today(),
                       actor=clerk, clock=clock)
        if then is not None:
            then.set()
        if until_waiting is not None:  # the other group is blocked on a row this one holds
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not until_waiting.read(lambda s: s.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                         " AND datname = current_database()")).scalar()):
                time.sleep(0.01)
    return work


def _two_groups(db: Database, clock: FixedClock) -> list[list[tuple[bool, object]]]:
    members = _society(db, clock)
    first_holds = threading.Event()
    outcomes: list[list[tuple[bool, object]]] = [[], []]

    def group_1() -> None:
        outcomes[0] = db.write_batch([
            _deposit(members[0], CLERKS[0], clock, then=first_holds, until_waiting=db),
            _deposit(members[1], CLERKS[1], clock)])

    def group_2() -> None:
        assert first_holds.wait(10)
        outcomes[1] = db.write_batch([_deposit(members[2], CLERKS[1], clock),
                                      _deposit(members[3], CLERKS[0], clock)])

    threads = [threading.Thread(target=group_1), threading.Thread(target=group_2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for code in members:
        assert db.read(lambda s, c=code: queries.balance(s, savings_account(c))) == 10_00
    assert db.read(verify).ok
    return outcomes


@pytest.fixture
def pg(db: Database) -> Database:
    if db.is_sqlite:
        pytest.skip("SQLite's one writer takes no row locks")
    return db


def test_two_clerks_groups_in_opposite_order_do_not_deadlock(
        pg: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="coop.db")
    started = time.monotonic()
    outcomes = _two_groups(pg, clock)
    assert outcomes == [[(True, None), (True, None)]] * 2
    assert not [r for r in caplog.records if "group commit undone" in r.getMessage()]
    assert time.monotonic() - started < 5


def test_negative_control_the_till_row_for_update_deadlocks(
        pg: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.INFO, logger="coop.db")
    exclusive = Prepared(tills._OPEN_TILL_ACCOUNT.statement.with_for_update(read=False))
    monkeypatch.setattr(tills, "_OPEN_TILL_ACCOUNT", exclusive)
    _two_groups(pg, clock)  # every deposit still lands: the undone group's ran alone
    undone = [r.getMessage() for r in caplog.records if "group commit undone" in r.getMessage()]
    assert undone, "the groups took each other's till rows without a deadlock"


def _close_during_a_deposit(db: Database, clock: FixedClock) -> int:
    """Clerk 1's deposit has read her open till and not yet posted when her till is closed
    (counted 0.00): what the close expected to find in the till."""
    members = _society(db, clock)
    till_id = db.read(lambda s: tills.open_till_of(s, CLERKS[0])).id  # type: ignore[union-attr]
    read_till, closed = threading.Event(), threading.Event()

    def deposit(session: Session) -> None:
        tills.cash_account(session, CLERKS[0])
        read_till.set()
        deadline = time.monotonic() + 10  # until the close waits for this, or is done
        while time.monotonic() < deadline and not closed.is_set() and not db.read(
                lambda s: s.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()")).scalar()):
            time.sleep(0.01)
        record_deposit(session, members[0], amount_minor=10_00, value_date=clock.today(),
                       actor=CLERKS[0], clock=clock)

    expected: list[int] = []

    def close() -> None:
        assert read_till.wait(10)
        till = db.write(lambda s: tills.close_till(s, till_id, counted_minor=0,
                                                   actor=CLERKS[0], clock=clock))
        expected.append(-(till.variance_minor or 0))  # counted 0.00: short all it expected
        closed.set()

    threads = [threading.Thread(target=db.write, args=(deposit,)),
               threading.Thread(target=close)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return expected[0]


def test_a_close_waits_for_a_cash_movement_that_has_read_the_till(
        pg: Database, clock: FixedClock) -> None:
    assert _close_during_a_deposit(pg, clock) == 10_00


def test_negative_control_without_the_till_lock_the_close_misses_the_deposit(
        pg: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    unlocked = Prepared(select(till_table.c.account_code).where(
        till_table.c.username == bindparam("username"), till_table.c.status == "open"))
    monkeypatch.setattr(tills, "_OPEN_TILL_ACCOUNT", unlocked)
    assert _close_during_a_deposit(pg, clock) == 0
