"""Two processes' group commits taking the same rows in opposite orders do not deadlock
(PostgreSQL).

A group runs its requests one after the other in one transaction, so its later requests lock
their rows after the earlier ones', out of any one order: group 1 (clerk 1's deposit, then
clerk 2's) and group 2 (clerk 2's, then clerk 1's). Two orders made that deadlock, each broken
by PostgreSQL after its deadlock_timeout (1 s) and every request of the undone group run again
alone:
- a cash movement read its clerk's open till FOR UPDATE: group 2 held clerk 2's till row while
  it waited for the cash control account that group 1 had locked, and group 1's second deposit
  waited for clerk 2's till row. A movement now takes the till row FOR SHARE; a close (FOR
  UPDATE) still waits for a movement that has read the till;
- a post locked its accounts before the book: group 2 held 1010 while it waited for the savings
  control account, and group 1's second post waited for 1010. The book now comes first, so a
  transaction that waits for it holds no account.
Each has a negative control that puts the old order back and sees the deadlock."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import date

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import coop.ledger.rows as ledger_rows
import coop.ledger.service as ledger_service
from coop import auth, tills
from coop.clock import FixedClock
from coop.db import Database
from coop.db_statements import Prepared
from coop.ledger import EntryDraft, credit, debit, post, queries
from coop.ledger.verify import verify
from coop.members import Identity, register_member, savings_account
from coop.members.vault import Vault
from coop.savings import (
    read_deposit_ahead,
    read_withdrawal_ahead,
    record_deposit,
    record_withdrawal,
)
from coop.tills.orm import till_table
from tests.helpers import QueriesSent

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
            _until_a_lock_waits(until_waiting)
    return work


def _two_groups(db: Database, clock: FixedClock,
                make=None, one=CLERKS[0], other=CLERKS[1]):  # type: ignore[no-untyped-def]
    """Group 1 runs `make(member, one)` then `make(member, other)` (each work for its own
    member), group 2 the other way round; group 1's first work goes on once group 2 waits
    for a lock. Every work's 10.00 lands, the books verify; each group's outcomes."""
    make = make or _deposit
    members = _society(db, clock)
    first_holds = threading.Event()
    outcomes: list[list[tuple[bool, object]]] = [[], []]

    def group_1() -> None:
        outcomes[0] = db.write_batch([
            make(members[0], one, clock, then=first_holds, until_waiting=db),
            make(members[1], other, clock)])

    def group_2() -> None:
        assert first_holds.wait(10)
        outcomes[1] = db.write_batch([make(members[2], other, clock),
                                      make(members[3], one, clock)])

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
        _until_a_lock_waits(db, closed)  # until the close waits for this, or is done
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


def _post_to(code: str, cash: str, clock: FixedClock, then: threading.Event | None = None,
             until_waiting: Database | None = None):  # type: ignore[no-untyped-def]
    def work(session: Session) -> None:
        post(session, EntryDraft(value_date=clock.today(), narration="Deposit", kind="deposit",
                                 actor="clerk", postings=(debit(cash, 10_00),
                                                          credit(savings_account(code), 10_00))),
             clock=clock)
        if then is not None:
            then.set()
        if until_waiting is not None:
            _until_a_lock_waits(until_waiting)
    return work


def _until_a_lock_waits(db: Database, done: threading.Event | None = None) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (done is not None and done.is_set()) \
            and not db.read(lambda s: s.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()")).scalar()):
        time.sleep(0.01)


def test_groups_posting_to_two_cash_accounts_in_opposite_order_do_not_deadlock(
        pg: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture) -> None:
    """Group 1 posts from 1000 then from 1010, group 2 from 1010 then from 1000. With the
    accounts locked before the book, group 2 held 1010 while waiting for the savings control
    account group 1 had locked, and group 1's second post waited for 1010."""
    caplog.set_level(logging.INFO, logger="coop.db")
    assert _two_groups(pg, clock, _post_to, "1000", "1010") == [[(True, None), (True, None)]] * 2
    assert not [r for r in caplog.records if "group commit undone" in r.getMessage()]


def test_negative_control_accounts_before_the_book_deadlock(
        pg: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def accounts_first(raw, codes, key, **options):  # type: ignore[no-untyped-def]
        accounts = ledger_rows._lock_accounts(raw, sorted(set(codes)), **options)
        return (accounts, *ledger_rows._lock_book(raw, key))

    caplog.set_level(logging.INFO, logger="coop.db")
    monkeypatch.setattr(ledger_service, "_lock_for_post", accounts_first)
    _two_groups(pg, clock, _post_to, "1000", "1010")  # all land: the undone group ran alone
    assert [r for r in caplog.records if "group commit undone" in r.getMessage()]


def test_the_book_first_costs_a_withdrawal_no_round_trip(
        pg: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A withdrawal locks the book and its accounts in one round trip before it checks her
    holds, as a deposit's post does, so it takes one round trip more than a deposit (the
    holds' read). With the book locked in a statement of its own it took two more."""
    code = _society(pg, clock)[0]
    sent = QueriesSent(monkeypatch)

    def deposit(session: Session) -> None:
        read_deposit_ahead(session, code, CLERKS[0])
        record_deposit(session, code, amount_minor=100_00, value_date=clock.today(),
                       actor=CLERKS[0], clock=clock)

    def withdrawal(session: Session) -> None:
        read_withdrawal_ahead(session, code, CLERKS[0])
        record_withdrawal(session, code, amount_minor=1_00, value_date=clock.today(),
                          actor=CLERKS[0], clock=clock)

    pg.write(deposit)  # the statements prepared (PREPARE is a round trip, once)
    pg.write(withdrawal)
    trips = []
    with sent.counting():
        for work in (deposit, withdrawal):
            before = sent.n
            pg.write(work)
            trips.append(sent.n - before)
    assert trips[1] == trips[0] + 1, trips


def _locked_elsewhere(pg: Database, sql: str, *params: object) -> bool:
    """Whether another connection finds the row(s) `sql` selects locked (FOR UPDATE NOWAIT)."""
    with pg.writer.connect() as other:
        try:
            other.exec_driver_sql(f"{sql} FOR UPDATE NOWAIT", params)
        except OperationalError as exc:
            assert "could not obtain lock" in str(exc)
            return True
        finally:
            other.rollback()
    return False


def test_lock_balance_takes_the_book_and_the_account_in_one_round_trip(
        pg: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """`lock_balance` (a repayment from savings, a till's close, a write-off) locks the book,
    then the account and its control account, in one round trip, as `post` does; it took two
    with the book in a statement of its own. Its balance is the row's, and the rows stay
    locked until the transaction ends."""
    code = savings_account(_society(pg, clock)[0])
    pg.write(lambda s: post(s, EntryDraft(date(2025, 1, 2), "in", kind="deposit", postings=(
        debit("1000", 7_00), credit(code, 7_00))), clock=clock))
    sent = QueriesSent(monkeypatch)
    seen: dict[str, object] = {}

    def work(session: Session) -> None:
        queries.balance(session, code)  # the transaction begun
        before = sent.n
        with sent.counting():
            seen["balance"] = ledger_service.lock_balance(session, code)
        seen["trips"] = sent.n - before
        seen["book"] = _locked_elsewhere(pg, "SELECT id FROM ledger_book WHERE id = 1")
        seen["account"] = _locked_elsewhere(
            pg, "SELECT id FROM ledger_account WHERE code = %s", code)
        seen["control"] = _locked_elsewhere(
            pg, "SELECT id FROM ledger_account WHERE code = %s", "2000")

    pg.write(work)
    assert seen == {"balance": 7_00, "trips": 1, "book": True, "account": True,
                    "control": True}
    assert not _locked_elsewhere(pg, "SELECT id FROM ledger_book WHERE id = 1")

    # Negative control: the book in a statement of its own first is a round trip more
    def book_alone(raw: ledger_rows._Raw, codes: object, key: str, **options: object) -> object:
        ledger_rows._lock_book(raw, key)
        return ledger_rows._lock_for_post(raw, codes, key, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger_service, "_lock_for_post", book_alone)
    pg.write(work)
    assert seen["trips"] == 2
