"""Writes that need no answer go with the next statement (coop.db_pg), and `post_and_balance`.

On PostgreSQL a queued write reaches the server with the transaction's next statement,
whichever path sends it, or with its COMMIT; a rollback drops it. On SQLite `defer` runs the
write at once. Either way a transaction sees its own writes and commits all or nothing."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from coop import db_pg
from coop.clock import FixedClock
from coop.db import Database
from coop.db_statements import driver_cursor
from coop.ledger import EntryDraft, credit, debit, post, post_and_balance, queries
from coop.ledger.orm import entry_table
from coop.ledger.verify import verify
from coop.members import Identity, register_member, savings_account
from coop.members.vault import Vault
from coop.savings import record_deposit
from coop.society import require_society
from tests.conftest import BUSINESS_DATE
from tests.helpers import QueriesSent

KEYS = Vault(b"d" * 32)



def _member(db: Database, clock: FixedClock) -> str:
    return db.write(lambda s: register_member(s, identity=Identity(), joined_on=date(2025, 1, 1),
                                              vault=KEYS, clock=clock).code)


def _draft(code: str, amount: int, *, key: str | None = None) -> EntryDraft:
    return EntryDraft(value_date=BUSINESS_DATE, narration="Deposit", kind="deposit",
                      actor="clerk", postings=(debit("1000", amount),
                                               credit(savings_account(code), amount)),
                      idempotency_key=key)


def post_undo_post(session: Session, code: str, clock: FixedClock) -> None:
    """Three posts to `code` (1.00, 2.00, 4.00), the second in a savepoint rolled back."""
    post(session, _draft(code, 1_00), clock=clock)
    nested = session.begin_nested()
    session.execute(text("SELECT 1"))  # SQLAlchemy emits the SAVEPOINT with a statement
    post(session, _draft(code, 2_00), clock=clock)
    nested.rollback()
    post(session, _draft(code, 4_00), clock=clock)


def _entries(db: Database) -> int:
    return int(db.read(lambda s: s.scalar(select(func.count()).select_from(entry_table))))


def _queues(db: Database) -> bool:
    return db.read(lambda s: db_pg.can_queue(driver_cursor(s)[1].connection))


def test_only_postgresql_connections_of_a_database_queue(db: Database) -> None:
    assert _queues(db) is (not db.is_sqlite)


def test_a_transaction_reads_its_queued_writes_by_every_path(
        db: Database, clock: FixedClock) -> None:
    code = _member(db, clock)
    before = _entries(db)

    def work(session: Session) -> tuple[int, int, int]:
        entry = post(session, _draft(code, 250_00), clock=clock)
        orm = session.scalar(select(func.count()).select_from(entry_table))  # SQLAlchemy
        _, cursor = driver_cursor(session)
        cursor.execute("SELECT count(*) FROM ledger_posting WHERE entry_id = "
                       + str(entry.id))  # the driver's own cursor
        postings = cursor.fetchone()[0]
        return int(orm or 0), int(postings), queries.balance(session, savings_account(code)) or 0

    orm, postings, balance = db.write(work)
    assert (orm, postings, balance) == (before + 1, 2, 250_00)
    assert _entries(db) == before + 1
    assert db.read(verify).ok


def test_a_rollback_drops_the_queue(db: Database, clock: FixedClock) -> None:
    code = _member(db, clock)
    before = _entries(db)

    def refused(session: Session) -> None:
        post(session, _draft(code, 10_00), clock=clock)
        raise RuntimeError("the clerk cancelled")

    for _ in range(3):  # the same pooled connections again: nothing left queued on them
        with pytest.raises(RuntimeError):
            db.write(refused)
        db.write(lambda s: s.execute(text("SELECT 1")))
    assert _entries(db) == before
    assert db.read(lambda s: queries.balance(s, savings_account(code))) == 0
    assert db.read(verify).ok


def test_a_savepoint_rolled_back_takes_its_queued_writes(
        db: Database, clock: FixedClock) -> None:
    code = _member(db, clock)

    def work(session: Session) -> None:
        post(session, _draft(code, 5_00), clock=clock)  # queued, then sent before SAVEPOINT
        nested = session.begin_nested()
        session.execute(text("SELECT 1"))  # SQLAlchemy emits the SAVEPOINT with a statement
        post(session, _draft(code, 7_00), clock=clock)  # queued inside the savepoint
        nested.rollback()

    db.write(work)
    assert db.read(lambda s: queries.balance(s, savings_account(code))) == 5_00
    assert db.read(verify).ok


def test_a_queued_write_that_fails_fails_the_commit_and_nothing_stays(
        db: Database, clock: FixedClock) -> None:
    """Negative control: the queue is really sent at COMMIT (a bad write there is an error)."""
    code = _member(db, clock)
    before = _entries(db)

    def work(session: Session) -> None:
        post(session, _draft(code, 3_00), clock=clock)
        db_pg.defer(session, "INSERT INTO no_such_table VALUES (1)", [()])

    with pytest.raises(Exception, match="no_such_table"):
        db.write(work)
    assert _entries(db) == before
    assert db.read(verify).ok


def test_a_plain_engine_runs_a_deferred_write_at_once(database_url: str) -> None:
    """Any connection but a Database's: `defer` is an ordinary execute."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            session.execute(text("CREATE TABLE scratch_defer (n INTEGER)"))
            _, cursor = driver_cursor(session)
            assert not db_pg.can_queue(cursor.connection)
            marker = "%s" if engine.dialect.name == "postgresql" else "?"
            db_pg.defer(session, f"INSERT INTO scratch_defer VALUES ({marker})", [(1,), (2,)])
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM scratch_defer")).scalar() == 2
            conn.execute(text("DROP TABLE scratch_defer"))
            conn.commit()
    finally:
        engine.dispose()


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=6),
       replay=st.booleans())
def test_post_and_balance_is_the_balance_after_the_post(
        db: Database, clock: FixedClock, amounts: list[int], replay: bool) -> None:
    code = _member(db, clock)
    account = savings_account(code)
    running = 0
    for n, amount in enumerate(amounts):
        key = f"{code}-{n}"
        _, after = db.write(lambda s, a=amount, k=key: post_and_balance(
            s, _draft(code, a, key=k), account, clock=clock))
        running += amount
        assert after == running == db.read(lambda s: queries.balance(s, account))
        if replay:  # the same key again: the entry is not posted twice, the balance is now's
            entry, again = db.write(lambda s, a=amount, k=key: post_and_balance(
                s, _draft(code, a, key=k), account, clock=clock))
            assert entry.replayed and again == running


def test_a_deposit_answers_the_balance_and_holds_after_it(
        db: Database, clock: FixedClock) -> None:
    from coop.savings import place_hold

    code = _member(db, clock)
    db.write(lambda s: record_deposit(s, code, amount_minor=500_00, value_date=clock.today(),
                                      actor="clerk", clock=clock))
    db.write(lambda s: place_hold(s, code, amount_minor=120_00, reason="guarantee",
                                  actor="admin", clock=clock))
    _, balances = db.write(lambda s: record_deposit(
        s, code, amount_minor=30_00, value_date=clock.today(), actor="clerk", clock=clock))
    assert (balances.balance_minor, balances.held_minor) == (530_00, 120_00)



def _commands_sent_alone(db: Database, work: object) -> list[bytes]:
    """The commands psycopg sent as queries of their own (its BEGIN, for one) while `work`
    ran in a write transaction."""
    sent: list[bytes] = []

    def spied(session: Session) -> object:
        driver = driver_cursor(session)[1].connection
        original = driver._exec_command

        def exec_command(command: bytes, *args: object, **kwargs: object) -> object:
            sent.append(bytes(command))
            return original(command, *args, **kwargs)

        driver._exec_command = exec_command
        try:
            return work(session)  # type: ignore[operator]
        finally:
            del driver._exec_command

    db.write(lambda s: s.execute(text("SELECT 1")))  # a pooled connection, set up
    db.writer.pool.dispose()  # the next write takes a fresh one: its BEGIN not yet sent
    db.write(spied)
    return sent


@pytest.mark.skipif("not __import__('tests.conftest').conftest.is_postgres()",
                    reason="PostgreSQL: psycopg's BEGIN")
def test_a_transaction_s_begin_goes_with_its_first_statement(
        db: Database, clock: FixedClock) -> None:
    """psycopg sends BEGIN as a query of its own before a transaction's first statement; the
    Database's connections put it in front of that statement's text (one round trip less),
    with the engine's isolation level, and the transaction is one transaction still."""
    code = _member(db, clock)
    sent = _commands_sent_alone(db, lambda s: post(s, _draft(code, 4_00), clock=clock))
    assert not [c for c in sent if c.startswith(b"BEGIN")], sent
    # Negative control: a statement the queue does not rewrite (psycopg options given) gets
    # psycopg's own BEGIN, and the spy sees it.
    sent = _commands_sent_alone(db, lambda s: driver_cursor(s)[1].execute(
        "SELECT 1", prepare=False))
    assert len(sent) == 1 and sent[0].startswith(b"BEGIN"), sent

    def isolation(session: Session) -> tuple[str, str]:
        level = session.execute(text("SHOW transaction_isolation")).scalar_one()
        read_only = session.execute(text("SHOW transaction_read_only")).scalar_one()
        return str(level), str(read_only)

    assert db.write(isolation) == ("read committed", "off")
    assert db.read(isolation) == ("repeatable read", "on")

    def refused_then_rolled_back(session: Session) -> None:
        post(session, _draft(code, 9_00), clock=clock)
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError):
        db.write(refused_then_rolled_back)
    assert db.read(lambda s: queries.balance(s, savings_account(code))) == 4_00
    assert db.read(verify).ok


def test_preparable_numbers_the_placeholders_and_refuses_what_it_cannot_number() -> None:
    positional = "SELECT id FROM ledger_account WHERE code = %s OR code = %s -- test"
    named = "SELECT %(b)s::int + %(a)s::int + %(b)s::int -- test"
    assert db_pg.preparable(positional) == positional
    assert db_pg.preparable(named) == named
    name, numbered, order = db_pg._PREPARABLE[positional]
    assert name.startswith("coop_") and order is None
    assert numbered == "SELECT id FROM ledger_account WHERE code = $1 OR code = $2 -- test"
    assert db_pg._PREPARABLE[named][1:] == ("SELECT $1::int + $2::int + $1::int -- test",
                                             ("b", "a"))
    for refused in ("SELECT %s::int + %(a)s::int -- test",  # both kinds: no numbering
                    "SELECT '100%%' || %s -- test",  # an escaped percent sign
                    "SELECT " + " + ".join(["%s::int"] * (db_pg.PREPARABLE_PARAMS + 1))):
        db_pg.preparable(refused)
        assert refused not in db_pg._PREPARABLE


@pytest.mark.skipif("not __import__('tests.conftest').conftest.is_postgres()",
                    reason="PostgreSQL: statements prepared on the server")
def test_the_ledger_s_statements_run_prepared_and_a_rollback_keeps_them(
        db: Database, clock: FixedClock) -> None:
    """A post's locking query and its one-statement write go as EXECUTE of statements
    prepared once on the connection (the server plans them once, not every time), and a
    ROLLBACK TO SAVEPOINT, or a rolled-back transaction, leaves them prepared: psycopg's own
    preparing, which would DEALLOCATE ALL on any rollback, is off."""
    code = _member(db, clock)

    def prepared(session: Session) -> dict[str, int]:
        rows = session.execute(text(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE name LIKE 'coop%'")).all()
        uses: dict[str, int] = {}
        for statement, count in rows:
            kind = ("lock" if "FOR UPDATE" in statement and "ledger_account" in statement
                    else "write" if statement.lstrip().startswith("PREPARE") and
                    "WITH entry AS" in statement else None)
            if kind is not None:
                uses[kind] = uses.get(kind, 0) + int(count)
        return uses

    def three_posts_one_undone(session: Session) -> dict[str, int]:
        before = prepared(session)
        post_undo_post(session, code, clock)
        after = prepared(session)
        return {kind: after.get(kind, 0) - before.get(kind, 0) for kind in ("lock", "write")}

    # one connection, so that every write prepares on (and reads) the same server session
    db.writer.pool.dispose()
    # (the third's queued write goes to the server in front of the counting query). The
    # second post finds its rows held by the transaction (no lock of its own); the savepoint's
    # rollback forgets them, so the third locks again.
    assert db.write(three_posts_one_undone) == {"lock": 2, "write": 3}

    def rolled_back(session: Session) -> None:
        post(session, _draft(code, 8_00), clock=clock)
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError):
        db.write(rolled_back)
    assert db.write(three_posts_one_undone) == {"lock": 2, "write": 3}
    assert db.read(lambda s: queries.balance(s, savings_account(code))) == 2 * (1_00 + 4_00)
    assert db.read(verify).ok
    # Negative control: a statement nobody marked preparable goes as text with its values.
    assert db.read(lambda s: db_pg.statement(
        driver_cursor(s)[1].connection, "SELECT %s::int AS not_marked", [7])) == (
        "SELECT 7::int AS not_marked")


@pytest.mark.skipif("not __import__('tests.conftest').conftest.is_postgres()",
                    reason="PostgreSQL: statements prepared on the server")
def test_psycopg_s_own_preparing_would_drop_them_on_a_rollback(
        db: Database, clock: FixedClock) -> None:
    """Negative control for the above: with psycopg's preparing on, a ROLLBACK TO SAVEPOINT
    makes psycopg send DEALLOCATE ALL, and the ledger's prepared statements are gone."""
    code = _member(db, clock)
    db.writer.pool.dispose()

    def count(session: Session) -> int:
        return int(session.execute(text(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'coop%'")).scalar_one())

    def work(session: Session) -> tuple[int, int]:
        driver = driver_cursor(session)[1].connection
        post(session, _draft(code, 1_00), clock=clock)
        prepared = count(session)
        driver.prepare_threshold = 0  # psycopg prepares every statement it sends alone
        try:
            nested = session.begin_nested()
            session.execute(text("SELECT 1"))
            nested.rollback()
            return prepared, count(session)
        finally:
            driver.prepare_threshold = None

    try:
        prepared, after = db.write(work)
        assert prepared >= 3 and after == 0
    finally:
        db.writer.pool.dispose()  # that connection believes its statements still prepared


def _round_trips(monkeypatch: pytest.MonkeyPatch, db: Database, work: object) -> tuple[int, object]:
    """How many queries reached the server while `work` ran in a write transaction (its
    COMMIT, and what goes with it, not counted), and what `work` returned."""
    sent = QueriesSent(monkeypatch)

    def spied(session: Session) -> object:
        require_society(session)  # the transaction begun; the society read, once a transaction
        with sent.counting():
            return work(session)  # type: ignore[operator]

    result = db.write(spied)
    return sent.n, result


@pytest.mark.skipif("not __import__('tests.conftest').conftest.is_postgres()",
                    reason="PostgreSQL: reads sent ahead")
def test_the_counter_s_first_reads_go_ahead_in_one_round_trip(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A counter deposit reads the member with her holds, then the clerk's till, then locks
    its accounts: with the first two read ahead, two queries instead of three, and the same
    answer (the member's balance and holds after it). A withdrawal: one query fewer."""
    from coop.savings import (
        place_hold,
        read_deposit_ahead,
        read_withdrawal_ahead,
        record_withdrawal,
    )

    code = _member(db, clock)
    db.write(lambda s: record_deposit(s, code, amount_minor=500_00, value_date=clock.today(),
                                      actor="clerk", clock=clock))
    db.write(lambda s: place_hold(s, code, amount_minor=120_00, reason="guarantee",
                                  actor="admin", clock=clock))

    def deposit(session: Session) -> tuple[int, int]:
        _, balances = record_deposit(session, code, amount_minor=30_00,
                                     value_date=clock.today(), actor="clerk", clock=clock)
        return balances.balance_minor, balances.held_minor

    def deposit_ahead(session: Session) -> tuple[int, int]:
        read_deposit_ahead(session, code, "clerk")
        return deposit(session)

    assert _round_trips(monkeypatch, db, deposit) == (3, (530_00, 120_00))  # the control
    assert _round_trips(monkeypatch, db, deposit_ahead) == (2, (560_00, 120_00))

    def withdrawal(session: Session) -> int:
        _, balances = record_withdrawal(session, code, amount_minor=10_00,
                                        value_date=clock.today(), actor="clerk", clock=clock)
        return balances.balance_minor

    def withdrawal_ahead(session: Session) -> int:
        read_withdrawal_ahead(session, code, "clerk")
        return withdrawal(session)

    control, _ = _round_trips(monkeypatch, db, withdrawal)
    assert _round_trips(monkeypatch, db, withdrawal_ahead) == (control - 1, 540_00)
    assert db.read(verify).ok


@pytest.mark.skipif("not __import__('tests.conftest').conftest.is_postgres()",
                    reason="PostgreSQL: reads sent ahead")
def test_a_read_ahead_is_never_answered_out_of_turn(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer kept is used only if its statement is the next one asked for with nothing
    queued since: a write in between (sent, or queued) or a rollback to a savepoint throws
    the kept answers away, and the read sees the write."""
    from coop.savings import place_hold, read_deposit_ahead

    code = _member(db, clock)
    db.write(lambda s: record_deposit(s, code, amount_minor=500_00, value_date=clock.today(),
                                      actor="clerk", clock=clock))

    def hold_between(session: Session) -> int:
        read_deposit_ahead(session, code, "clerk")
        session.execute(text("SELECT 2"))  # the reads go with this one, before the hold
        place_hold(session, code, amount_minor=70_00, reason="guarantee", actor="admin",
                   clock=clock)
        _, balances_after = record_deposit(session, code, amount_minor=1_00,
                                           value_date=clock.today(), actor="clerk", clock=clock)
        return balances_after.held_minor

    assert db.write(hold_between) == 70_00

    def queued_between(session: Session) -> int:
        from coop.savings import HoldRow

        member_id = session.execute(text("SELECT id FROM member WHERE code = :c"),
                                    {"c": code}).scalar_one()
        read_deposit_ahead(session, code, "clerk")
        session.execute(text("SELECT 2"))  # the reads go with this one and are kept
        db_pg.defer(session, f"INSERT INTO {HoldRow.__tablename__} (member_id, amount_minor, "
                    "placed_by, reason, placed_at) VALUES (%s, %s, %s, %s, now())",
                    [(member_id, 5_00, "admin", "queued")])  # queued, not yet sent
        _, after = record_deposit(session, code, amount_minor=3_00, value_date=clock.today(),
                                  actor="clerk", clock=clock)  # its first read: asked anew
        return after.held_minor

    assert db.write(queued_between) == 70_00 + 5_00

    def undone_between(session: Session) -> int:
        nested = session.begin_nested()
        read_deposit_ahead(session, code, "clerk")
        session.execute(text("SELECT 2"))  # the SAVEPOINT, then this with the reads
        nested.rollback()
        return record_deposit(session, code, amount_minor=2_00, value_date=clock.today(),
                              actor="clerk", clock=clock)[1].balance_minor

    assert db.write(undone_between) == 504_00 + 2_00
    other = _member(db, clock)

    def another_member_asked(session: Session) -> tuple[int, int]:
        read_deposit_ahead(session, code, "clerk")  # hers (75.00 on hold) read ahead
        session.execute(text("SELECT 2"))
        _, after = record_deposit(session, other, amount_minor=9_00, value_date=clock.today(),
                                  actor="clerk", clock=clock)  # the same read, another member
        return after.balance_minor, after.held_minor

    assert db.write(another_member_asked) == (9_00, 0)
    assert db.read(verify).ok


def test_a_read_ahead_is_nothing_on_sqlite_and_a_plain_engine(
        db: Database, clock: FixedClock) -> None:
    from coop.savings import read_deposit_ahead

    code = _member(db, clock)

    def ahead(session: Session) -> object:
        read_deposit_ahead(session, code, "clerk")
        return getattr(driver_cursor(session)[1].connection, "__dict__", {}).get(db_pg._AHEAD)

    kept = db.write(ahead)
    assert (kept is None) is db.is_sqlite
