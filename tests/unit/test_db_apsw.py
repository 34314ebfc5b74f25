"""coop.db_apsw fetches the way sqlite3 does: one row ahead, so that a statement whose last
row has been fetched is done and holds no read snapshot.

Regression: APSW steps only when asked for the next row, so a `fetchone()` of a one-row query
(coop.db.Prepared's counter statements) left its statement running. The connection kept that
snapshot past its COMMIT, and its next BEGIN IMMEDIATE failed at once with
SQLITE_BUSY_SNAPSHOT, "database is locked", without the busy wait, whenever another process had
committed in between: under `coop serve --workers 2` a deposit now and then answered 500
(found by tests/crash/test_ack_durable.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from coop import db_apsw
from coop.db import Database, Prepared

pytestmark = pytest.mark.skipif(not db_apsw.bug_free(), reason="APSW's SQLite is needed")


def _add(add: Prepared, x: int, session: Any) -> None:
    add.execute(session, {"x": x})


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[db_apsw.Connection, db_apsw.Connection]]:
    """Two connections to one WAL file, as two server processes have; a table of two rows."""
    path = str(tmp_path / "two.db")
    first = db_apsw.connect(path, timeout=5)
    assert first.execute("PRAGMA journal_mode=WAL").fetchall() == [("wal",)]
    first.execute("CREATE TABLE t (x INTEGER)")
    first.execute("INSERT INTO t VALUES (1), (2)")
    second = db_apsw.connect(path, timeout=5)
    yield first, second
    first.close()
    second.close()


@pytest.mark.parametrize("query", ["SELECT x FROM t WHERE x = 1", "SELECT count(*) FROM t"])
def test_a_fetched_one_row_query_holds_no_snapshot(
        two: tuple[db_apsw.Connection, db_apsw.Connection], query: str) -> None:
    first, second = two
    cursor = first.cursor()
    assert cursor.execute(query).fetchone() is not None  # the cursor stays, as Prepared's does
    second.execute("INSERT INTO t VALUES (3)")  # another process commits
    first.execute("BEGIN IMMEDIATE")  # was: BusyError, SQLITE_BUSY_SNAPSHOT
    assert first.execute("SELECT count(*) FROM t").fetchone() == (3,)  # the new snapshot
    first.execute("ROLLBACK")


def test_rows_come_back_as_before(
        two: tuple[db_apsw.Connection, db_apsw.Connection]) -> None:
    first, _ = two
    first.execute("INSERT INTO t VALUES (3), (4)")
    cursor = first.cursor()
    cursor.execute("SELECT x FROM t ORDER BY x")
    assert cursor.fetchone() == (1,)
    assert cursor.fetchmany(2) == [(2,), (3,)]
    assert cursor.fetchall() == [(4,)]
    assert cursor.fetchone() is None and cursor.fetchall() == []
    assert list(cursor.execute("SELECT x FROM t WHERE x > 2 ORDER BY x")) == [(3,), (4,)]
    assert cursor.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,), (3,), (4,)]
    assert cursor.execute("SELECT x FROM t WHERE x > 9").fetchone() is None
    assert cursor.description is not None and cursor.description[0][0] == "x"
    cursor.execute("SELECT x FROM t ORDER BY x")
    assert cursor.fetchone() == (1,)
    cursor.execute("SELECT x FROM t WHERE x = 4")  # a new statement: nothing of the last
    assert cursor.fetchall() == [(4,)]


def test_two_databases_write_in_turn_after_a_prepared_read(tmp_path: Path) -> None:
    """The counter's way: a Prepared one-row read in a write transaction, whose cursor the
    session keeps; another process's Database commits; this one writes again."""
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    table = Table("t", MetaData(), Column("x", Integer))
    read_one = Prepared(select(table.c.x).where(table.c.x == 1))
    add = Prepared(insert(table))
    ours, theirs = (Database(url, pool_size=2, sqlite_driver="apsw") for _ in range(2))
    gc.disable()  # the session's cursor is not collected in between, as under load
    try:
        ours.write(lambda s: s.connection().exec_driver_sql("CREATE TABLE t (x INTEGER)"))
        ours.write(lambda s: add.execute(s, {"x": 1}))
        for x in range(2, 6):
            assert ours.write(lambda s: read_one.execute(s).fetchone()) == (1,)
            theirs.write(partial(_add, add, x))
        ours.write(lambda s: add.execute(s, {"x": 9}))  # was: database is locked
        assert ours.read(lambda s: s.execute(select(table.c.x)).scalars().all()) == [
            1, 2, 3, 4, 5, 9]
    finally:
        gc.enable()
        ours.dispose()
        theirs.dispose()
