"""A lost PostgreSQL connection (issue 21, coop.db_failover): a transaction that never reached
its COMMIT runs again on a fresh connection, while a primary answers within the wait; one
whose COMMIT was on its way is never rerun (OutcomeUnknown: the client sends it again with
the same Idempotency-Key); COOP_DATABASE_URL may list several hosts, libpq's way, and so may
the backup's pg_dump and pg_restore.

The backup's pg_dump and pg_restore with such a URL: tests/integration/test_backup_restore.py.
The losses are real: a test ends its own transaction's backend with pg_terminate_backend,
before a statement or right before the COMMIT. SQLite has no server to lose, so those run on
PostgreSQL; what runs on both engines shows that nothing else is taken for a lost connection.
The failover itself (a primary killed, its standby promoted) is tests/crash/test_failover.py.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from coop.clock import FixedClock
from coop.db import Database
from coop.db_failover import BooksUnreachable, OutcomeUnknown, connection_lost, libpq_conninfo
from coop.ledger.orm import entry_table
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings import record_deposit
from tests.conftest import is_postgres
from tests.helpers import closed_port, multi_host

postgres_only = pytest.mark.skipif(
    not is_postgres(), reason="a lost connection is PostgreSQL's: SQLite has no server to lose")


class _Driver(Exception):
    """A driver's error as psycopg raises it (a SQLSTATE, or None for a client-side one)."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


class OperationalError(_Driver):
    pass


def wrapped(error: BaseException, *, invalidated: bool = False) -> DBAPIError:
    return DBAPIError("COMMIT", {}, error, connection_invalidated=invalidated)  # type: ignore[arg-type]


def test_a_lost_connection_is_told_apart_from_every_other_error() -> None:
    lost = [OperationalError(None),  # "server closed the connection unexpectedly"
            _Driver("08006"), _Driver("08001"),  # connection failure, cannot connect
            _Driver("57P01"), _Driver("57P02"), _Driver("57P03"),  # the server going away
            wrapped(OperationalError(None)), wrapped(_Driver("XX000"), invalidated=True)]
    not_lost = [_Driver("40P01"), _Driver("23505"), _Driver("53100"), _Driver("25006"),
                _Driver(None),  # no SQLSTATE, but no connection error either
                sqlite3.OperationalError("database is locked"),
                wrapped(sqlite3.OperationalError("disk I/O error")), ValueError("08006"),
                IntegrityError("INSERT", {}, _Driver("23505"))]
    assert [connection_lost(e) for e in lost] == [True] * len(lost)
    assert [connection_lost(e) for e in not_lost] == [False] * len(not_lost)


def test_nothing_sqlite_raises_is_taken_for_a_lost_server(database_url: str,
                                                         tmp_path: Path) -> None:
    """On either engine, an error that is not a lost connection is raised at once (no rerun,
    no wait); on SQLite even one that looks like a lost PostgreSQL connection (SQLite has no
    server: it is some other fault)."""
    db = Database(database_url, pool_size=2, failover_wait_s=5)
    calls = []

    def work(_: Session) -> None:
        calls.append(1)
        raise wrapped(_Driver("23505"))

    started = time.monotonic()
    with pytest.raises(DBAPIError):
        db.write(work)
    assert calls == [1]
    if db.is_sqlite:
        def looks_lost(_: Session) -> None:
            calls.append(2)
            raise wrapped(OperationalError(None), invalidated=True)

        with pytest.raises(DBAPIError):
            db.write(looks_lost)
        assert calls == [1, 2]
    assert time.monotonic() - started < 2
    db.dispose()


# --- real losses on PostgreSQL --------------------------------------------------------------


def _members(db: Database, clock: FixedClock) -> list[str]:
    keys = Vault(b"f" * 32)
    return db.write(lambda s: [register_member(s, identity=Identity(), vault=keys, clock=clock,
                                               joined_on=clock.today()).code for _ in range(2)])


def _terminate(database_url: str) -> Callable[[Session], None]:
    """Ends the server process of `session`'s connection, and waits until it has ended."""
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")

    def end(session: Session) -> None:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"),
                                      {"pid": pid}).scalar_one()
    return end


def _entries(db: Database, key: str) -> int:
    return db.read(lambda s: s.execute(select(func.count()).select_from(entry_table)
                                       .where(entry_table.c.idempotency_key == key))
                   .scalar_one())


@postgres_only
def test_a_connection_lost_before_the_commit_is_run_again(db: Database, clock: FixedClock,
                                                           database_url: str) -> None:
    code = _members(db, clock)[0]
    end = _terminate(database_url)
    calls = []

    def work(session: Session) -> int:
        calls.append(1)
        if len(calls) == 1:
            end(session)  # the next statement finds the connection gone
        entry, _ = record_deposit(session, code, amount_minor=700, value_date=clock.today(),
                                  actor="clerk", clock=clock, key="lost-before")
        return entry.id

    pool_before = db.writer.pool
    entry_id = db.write(work)
    assert len(calls) == 2
    assert _entries(db, "lost-before") == 1
    assert entry_id > 0
    assert db.writer.pool is not pool_before  # the connections to the lost server went


@postgres_only
def test_a_connection_lost_during_the_commit_is_never_run_again(
        db: Database, clock: FixedClock, database_url: str) -> None:
    """The COMMIT fails with the connection: committed or not, nobody here can tell, so the
    write is not rerun (that could record it twice): OutcomeUnknown. Here the server ended
    the backend before the COMMIT reached it, so nothing was recorded, and a second try with
    the same key records it once; had it committed, the key would replay it."""
    code = _members(db, clock)[0]
    end = _terminate(database_url)
    calls = []

    def work(session: Session) -> int:
        calls.append(1)
        entry, _ = record_deposit(session, code, amount_minor=900, value_date=clock.today(),
                                  actor="clerk", clock=clock, key="lost-at-commit")
        session.flush()
        end(session)  # after the last statement: what fails is the COMMIT
        return entry.id

    with pytest.raises(OutcomeUnknown) as raised:
        db.write(work)
    assert len(calls) == 1
    assert connection_lost(raised.value.__cause__)  # type: ignore[arg-type]
    assert _entries(db, "lost-at-commit") == 0
    again, _ = db.write(lambda s: record_deposit(
        s, code, amount_minor=900, value_date=clock.today(), actor="clerk", clock=clock,
        key="lost-at-commit"))
    assert not again.replayed
    assert _entries(db, "lost-at-commit") == 1


@postgres_only
def test_a_url_with_several_hosts_reaches_the_one_that_takes_writes(
        db: Database, clock: FixedClock, database_url: str) -> None:
    url = multi_host(database_url, first_port=closed_port())
    assert "host=127.0.0.1%3A" in url  # both hosts in the query, as COOP_DATABASE_URL has them
    several = Database(url, pool_size=2)
    try:
        code = _members(several, clock)[0]
        several.write(lambda s: record_deposit(s, code, amount_minor=300,
                                               value_date=clock.today(), actor="clerk",
                                               clock=clock, key="multi-host"))
        assert _entries(db, "multi-host") == 1  # the same books as the plain URL's
    finally:
        several.dispose()
    conninfo = libpq_conninfo(make_url(url))
    assert "host=127.0.0.1,127.0.0.1" in conninfo and "target_session_attrs=read-write" \
        in conninfo


@postgres_only
def test_a_write_waits_for_a_primary_then_is_refused(clock: FixedClock,
                                                    database_url: str) -> None:
    """No host answers (the primary died, no standby promoted yet): the write tries again
    for COOP_FAILOVER_WAIT_S, then is refused as BooksUnreachable (nothing was written)."""
    url = make_url(database_url).set(host="127.0.0.1", port=closed_port())
    nowhere = Database(url, pool_size=1, failover_wait_s=0.6)
    tries = []

    def work(session: Session) -> None:
        tries.append(1)
        session.execute(text("SELECT 1"))

    started = time.monotonic()
    try:
        with pytest.raises(BooksUnreachable):
            nowhere.write(work)
    finally:
        nowhere.dispose()
    waited = time.monotonic() - started
    assert 0.6 <= waited < 3, waited
    assert len(tries) >= 2  # it did try again meanwhile
