"""coop.db_apsw, the DB-API face on APSW, behaves as sqlite3 wherever coop and SQLAlchemy's
SQLite dialect rely on it: most checks run the same thing on both drivers and compare, and a
Hypothesis property does so for random sequences of statements."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, ForeignKey, Integer, String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from coop import db_apsw
from coop.db import Database, UTCDateTime

DRIVERS = pytest.mark.parametrize("driver", [sqlite3, db_apsw], ids=["sqlite3", "apsw"])

SCHEMA = (
    "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE audit (what TEXT, t_id INTEGER)",
    # a trigger's own changes are never in rowcount (SQLAlchemy compares it with the rows
    # it meant to change)
    "CREATE TRIGGER t_added AFTER INSERT ON t BEGIN "
    "INSERT INTO audit VALUES ('insert', new.id); INSERT INTO audit VALUES ('again', new.id); END",
    "CREATE TRIGGER t_changed AFTER UPDATE ON t BEGIN "
    "INSERT INTO audit VALUES ('update', new.id); END",
    "CREATE TRIGGER t_kept BEFORE DELETE ON t WHEN old.name = 'kept' "
    "BEGIN SELECT RAISE(ABORT, 'a kept row is never deleted'); END",
)


def connect(driver: ModuleType, database: str = ":memory:", **options: Any) -> Any:
    connection = driver.connect(database, **options)
    connection.isolation_level = None  # as coop.db sets every connection
    for statement in SCHEMA if database == ":memory:" else ():
        connection.execute(statement)
    return connection


@pytest.fixture
def both() -> Iterator[tuple[Any, Any]]:
    pair = (connect(sqlite3), connect(db_apsw))
    yield pair
    for connection in pair:
        connection.close()


def on_both(both: tuple[Any, Any], sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    """Run `sql` on each driver: (description, rows, rowcount, lastrowid) of each."""
    seen = []
    for connection in both:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        description = cursor.description
        rows = cursor.fetchall()
        seen.append((description, rows, cursor.rowcount, cursor.lastrowid))
    return seen


def test_a_query_without_rows_still_describes_its_columns(both: tuple[Any, Any]) -> None:
    ours, theirs = (connection.execute("SELECT id, name AS called FROM t WHERE 0")
                    for connection in both)
    assert [column[0] for column in theirs.description] == ["id", "called"]
    assert ours.description == theirs.description  # a name and six Nones, as sqlite3
    assert theirs.fetchall() == [] and theirs.fetchone() is None


def test_statements_without_columns_have_no_description(both: tuple[Any, Any]) -> None:
    for sql in ("INSERT INTO t (name) VALUES ('a')", "UPDATE t SET n = 1", "BEGIN", "COMMIT",
                "CREATE TABLE u (x)"):
        mine, theirs = on_both(both, sql)
        assert mine == theirs and mine[0] is None, sql


def test_rowcount_of_changes_and_queries(both: tuple[Any, Any]) -> None:
    for name in "abc":
        inserted = on_both(both, "INSERT INTO t (name) VALUES (?)", (name,))
        assert inserted[0] == inserted[1] and inserted[1][2] == 1  # the trigger's two not counted
    cases = [("UPDATE t SET n = n + 1 WHERE name <> 'c'", 2), ("UPDATE t SET n = 1 WHERE 0", 0),
             ("DELETE FROM t WHERE name = 'a'", 1), ("SELECT * FROM t", -1),
             ("REPLACE INTO t (id, name) VALUES (9, 'z')", 1), ("-- a comment\nDELETE FROM t", 3),
             ("/* a comment */ INSERT INTO t (name) VALUES ('q')", 1),
             ("WITH old AS (SELECT 1) DELETE FROM t", -1),  # sqlite3 looks at the first word
             ("PRAGMA user_version", -1)]
    for sql, count in cases:
        mine, theirs = on_both(both, sql)
        assert mine == theirs and mine[2] == count, sql


def test_rowcount_is_the_cursors_own_statement(both: tuple[Any, Any]) -> None:
    for connection in both:
        first, second = connection.cursor(), connection.cursor()
        first.execute("INSERT INTO t (name) VALUES ('one')")
        second.execute("INSERT INTO t (name) VALUES ('two'), ('three')")
        assert (first.rowcount, second.rowcount) == (1, 2)
        assert connection.cursor().rowcount == -1  # nothing run yet


def test_lastrowid(both: tuple[Any, Any]) -> None:
    assert [connection.cursor().lastrowid for connection in both] == [None, None]
    mine, theirs = on_both(both, "INSERT INTO t (id, name) VALUES (41, 'x')")
    assert mine[3] == theirs[3] == 41
    mine, theirs = on_both(both, "INSERT INTO t (name) VALUES ('y')")
    assert mine[3] == theirs[3] == 42
    for connection in both:  # a failed insert leaves it
        cursor = connection.cursor()
        cursor.execute("INSERT INTO t (name) VALUES ('z')")
        with pytest.raises(sqlite3.IntegrityError):
            cursor.execute("INSERT INTO t (name) VALUES ('z')")
        assert cursor.lastrowid == 43


def test_executemany(both: tuple[Any, Any]) -> None:
    for connection in both:
        cursor = connection.cursor()
        cursor.execute("INSERT INTO t (id, name) VALUES (7, 'seven')")
        cursor.executemany("INSERT INTO t (name, n) VALUES (?, ?)", [("a", 1), ("b", 2), ("c", 3)])
        assert cursor.rowcount == 3 and cursor.lastrowid == 7  # executemany leaves lastrowid
        cursor.executemany("UPDATE t SET n = n * 10 WHERE n >= ?", [(2,), (25,), (99999,)])
        assert cursor.rowcount == 3  # 2 + 1 + 0, no trigger's changes
        cursor.executemany("DELETE FROM t WHERE name = ?", iter([]))
        assert cursor.rowcount == 0
        assert cursor.execute("SELECT name, n FROM t ORDER BY id").fetchall() == [
            ("seven", 0), ("a", 1), ("b", 20), ("c", 300)]
        with pytest.raises(sqlite3.ProgrammingError, match="only execute DML"):
            cursor.executemany("SELECT ?", [(1,)])


def test_returning_rows_and_their_rowcount(both: tuple[Any, Any]) -> None:
    for connection in both:
        cursor = connection.cursor()
        cursor.execute("INSERT INTO t (name) VALUES ('a'), ('b') RETURNING id, name")
        assert [column[0] for column in cursor.description] == ["id", "name"]
        assert cursor.rowcount == 0  # sqlite3 knows the count once the rows are read
        assert cursor.fetchone() == (1, "a")
        assert cursor.fetchall() == [(2, "b")]
        assert cursor.rowcount == 2 and cursor.lastrowid == 2
        cursor.execute("UPDATE t SET n = 5 WHERE 0 RETURNING id")
        assert cursor.rowcount == 0 and cursor.fetchall() == []
        cursor.execute("DELETE FROM t WHERE name = 'a' RETURNING name")
        assert list(cursor) == [("a",)] and cursor.rowcount == 1
        cursor.execute("UPDATE t SET n = n + 1 RETURNING n")
        assert cursor.fetchmany(5) == [(1,)] and cursor.rowcount == 1


@DRIVERS
def test_commit_and_rollback_with_and_without_a_transaction(driver: ModuleType,
                                                            tmp_path: Path) -> None:
    connection = connect(driver)
    assert not connection.in_transaction
    connection.commit()  # nothing open: nothing happens
    connection.rollback()
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO t (name) VALUES ('undone')")
    assert connection.in_transaction
    connection.rollback()
    assert not connection.in_transaction
    connection.execute("BEGIN")
    connection.execute("INSERT INTO t (name) VALUES ('kept')")
    connection.commit()
    assert not connection.in_transaction
    connection.rollback()  # after the commit: nothing to undo
    assert connection.execute("SELECT name FROM t").fetchall() == [("kept",)]
    connection.execute("INSERT INTO t (name) VALUES ('autocommitted')")  # no BEGIN: no transaction
    assert not connection.in_transaction
    connection.execute("BEGIN")
    connection.execute("SAVEPOINT one")
    connection.execute("INSERT INTO t (name) VALUES ('in a savepoint')")
    connection.execute("ROLLBACK TO one")
    connection.execute("RELEASE one")
    connection.commit()
    assert connection.execute("SELECT count(*) FROM t").fetchone() == (2,)
    connection.close()


@DRIVERS
def test_dates_are_stored_as_sqlite3s_default_adapters_store_them(driver: ModuleType) -> None:
    connection = connect(driver)
    values = [date(2025, 3, 31), datetime(2025, 3, 31, 9, 5, 7),
              datetime(2025, 3, 31, 9, 5, 7, 120), datetime(2025, 3, 31, 9, 5, 7, tzinfo=UTC)]
    connection.execute("CREATE TABLE d (v)")
    connection.executemany("INSERT INTO d VALUES (?)", [(value,) for value in values])
    connection.execute("INSERT INTO d VALUES (:v)", {"v": date(1999, 12, 1)})
    assert connection.execute("SELECT v FROM d").fetchall() == [
        ("2025-03-31",), ("2025-03-31 09:05:07",), ("2025-03-31 09:05:07.000120",),
        ("2025-03-31 09:05:07+00:00",), ("1999-12-01",)]
    connection.close()


@DRIVERS
def test_integrity_errors(driver: ModuleType) -> None:
    connection = connect(driver)
    connection.execute("INSERT INTO t (name) VALUES ('kept')")
    with pytest.raises(sqlite3.IntegrityError,
                       match=r"^UNIQUE constraint failed: t\.name$") as unique:
        connection.execute("INSERT INTO t (name) VALUES ('kept')")
    assert unique.value.sqlite_errorcode == 2067  # type: ignore[attr-defined]
    assert unique.value.sqlite_errorname == "SQLITE_CONSTRAINT_UNIQUE"  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.IntegrityError) as trigger:
        connection.execute("DELETE FROM t WHERE name = 'kept'")
    assert str(trigger.value) == "a kept row is never deleted"  # the trigger's words, intact
    assert trigger.value.sqlite_errorname == "SQLITE_CONSTRAINT_TRIGGER"  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        connection.execute("INSERT INTO t (name, n) VALUES ('x', NULL)")
    connection.close()


@DRIVERS
def test_operational_and_programming_errors(driver: ModuleType) -> None:
    connection = connect(driver)
    with pytest.raises(sqlite3.OperationalError, match="syntax error") as syntax:
        connection.execute("SELEC 1")
    assert syntax.value.sqlite_errorcode == 1  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        connection.execute("SELECT * FROM nowhere")
    with pytest.raises(sqlite3.ProgrammingError, match="Incorrect number of bindings"):
        connection.execute("SELECT ?, ?", (1,))
    with pytest.raises(sqlite3.ProgrammingError, match="Incorrect number of bindings"):
        connection.execute("SELECT ?", (1, 2))
    with pytest.raises(sqlite3.ProgrammingError,
                       match="Error binding parameter 1: type 'object' is not supported"):
        connection.execute("SELECT ?", (object(),))
    cursor = connection.cursor()
    cursor.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed cursor"):
        cursor.execute("SELECT 1")
    connection.close()
    # SQLAlchemy's SQLite dialect knows a lost connection by sqlite3's words
    with pytest.raises(sqlite3.ProgrammingError, match="Cannot operate on a closed database"):
        connection.execute("SELECT 1")


@DRIVERS
def test_a_locked_database_is_an_operational_error_with_its_code(driver: ModuleType,
                                                                 tmp_path: Path) -> None:
    path = str(tmp_path / "locked.db")
    holder = connect(driver, path)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE x (v)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = connect(driver, path, timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="database is locked") as locked:
        waiter.execute("BEGIN IMMEDIATE")
    assert locked.value.sqlite_errorcode & 0xFF == 5  # type: ignore[attr-defined]  # SQLITE_BUSY
    assert locked.value.sqlite_errorname.startswith("SQLITE_BUSY")  # type: ignore[attr-defined]
    holder.rollback()
    waiter.execute("BEGIN IMMEDIATE")  # free again
    waiter.rollback()
    holder.close()
    waiter.close()


@DRIVERS
def test_reading_the_last_row_ends_the_statement_and_its_snapshot(driver: ModuleType,
                                                                   tmp_path: Path) -> None:
    """coop reads one row with fetchone() and commits (coop.db_statements.Prepared, the
    ledger's cursor).
    The statement must be over by then, or it keeps the connection's read snapshot past the
    COMMIT, and once another process has committed, the next BEGIN IMMEDIATE fails at once
    with SQLITE_BUSY_SNAPSHOT (no busy wait helps): two `coop serve` workers answered 500.
    A write with RETURNING left on its row likewise refused the next SAVEPOINT (a 503 of
    tests/api/test_loans_api.py on APSW)."""
    path = str(tmp_path / "two.db")
    mine, other = connect(driver, path), connect(driver, path)
    mine.execute("PRAGMA journal_mode=WAL")
    mine.execute("CREATE TABLE x (v INTEGER)")
    mine.execute("INSERT INTO x VALUES (1), (2)")
    cursor = mine.cursor()
    for query in ("SELECT v FROM x WHERE v = 1", "SELECT count(*) FROM x",
                  "INSERT INTO x VALUES (3) RETURNING v"):
        mine.execute("BEGIN IMMEDIATE")
        assert cursor.execute(query).fetchone() is not None  # one row: read, never asked for more
        mine.commit()
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO x VALUES (0)")
        other.commit()
        mine.execute("BEGIN IMMEDIATE")  # sees the other's commit: no stale snapshot
        mine.rollback()
    mine.execute("BEGIN IMMEDIATE")
    assert cursor.execute("INSERT INTO x VALUES (4) RETURNING v").fetchone() == (4,)
    mine.execute("SAVEPOINT next")  # the insert is over: "SQL statements in progress" else
    mine.execute("RELEASE next")
    mine.commit()
    cursor.execute("SELECT v FROM x ORDER BY v")  # fetchone, fetchmany and fetchall together
    assert cursor.fetchone() == (0,)
    assert cursor.fetchmany(2) == [(0,), (0,)]
    assert cursor.fetchall() == [(1,), (2,), (3,), (4,)]
    assert cursor.fetchone() is None and cursor.fetchall() == []
    mine.close()
    other.close()


@DRIVERS
def test_create_function(driver: ModuleType) -> None:
    connection = connect(driver)
    connection.create_function("twice", 1, lambda value: value * 2, deterministic=True)
    connection.create_function("count_args", -1, lambda *values: len(values))
    assert connection.execute("SELECT twice(21), count_args(1, 2, 3)").fetchone() == (42, 3)

    def broken(_: object) -> None:
        raise ValueError("inside")

    connection.create_function("broken", 1, broken)
    with pytest.raises(sqlite3.OperationalError, match="user-defined function raised"):
        connection.execute("SELECT broken(1)").fetchall()
    connection.close()


def test_bug_free_is_the_version_check(monkeypatch: pytest.MonkeyPatch) -> None:
    assert db_apsw.bug_free() is (db_apsw.sqlite_version_info >= (3, 51, 3))
    assert db_apsw.bug_free()  # APSW bundles 3.54: the reason this module exists
    monkeypatch.setattr(db_apsw, "sqlite_version_info", (3, 51, 2))
    assert not db_apsw.bug_free()
    monkeypatch.setattr(db_apsw, "sqlite_version_info", (3, 51, 3))
    assert db_apsw.bug_free()


def test_module_attributes_as_sqlalchemy_reads_them() -> None:
    assert (db_apsw.apilevel, db_apsw.paramstyle) == ("2.0", "qmark")
    assert db_apsw.sqlite_version == ".".join(map(str, db_apsw.sqlite_version_info))
    assert db_apsw.Error is sqlite3.Error and db_apsw.IntegrityError is sqlite3.IntegrityError


# --- the differential property: random statements, the same answers from both drivers ---

NAMES = st.sampled_from(["a", "b", "c", "d", "kept"])
OPERATIONS = st.one_of(
    st.tuples(st.just("INSERT INTO t (name, n) VALUES (?, ?)"),
              st.tuples(NAMES, st.integers(-3, 3))),
    st.tuples(st.just("INSERT INTO t (name) VALUES (?) RETURNING id, name, n"), st.tuples(NAMES)),
    st.tuples(st.just("INSERT OR REPLACE INTO t (name, n) VALUES (?, ?)"),
              st.tuples(NAMES, st.integers(-3, 3))),
    st.tuples(st.just("UPDATE t SET n = n + ? WHERE n >= ?"),
              st.tuples(st.integers(-2, 2), st.integers(-3, 3))),
    st.tuples(st.just("UPDATE t SET name = ? WHERE id = ?"), st.tuples(NAMES, st.integers(1, 6))),
    st.tuples(st.just("UPDATE t SET n = n - 1 WHERE name = ? RETURNING id, n"), st.tuples(NAMES)),
    st.tuples(st.just("DELETE FROM t WHERE name = ?"), st.tuples(NAMES)),
    st.tuples(st.just("DELETE FROM t WHERE n < ? RETURNING name"), st.tuples(st.integers(-3, 3))),
    st.tuples(st.just("SELECT id, name, n FROM t WHERE n >= ? ORDER BY id"),
              st.tuples(st.integers(-3, 3))),
    st.tuples(st.just("SELECT count(*), total(n) FROM audit"), st.just(())),
    st.tuples(st.sampled_from(["BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"]), st.just(())),
    st.tuples(st.just("many"), st.lists(st.tuples(NAMES, st.integers(-3, 3)), max_size=4)),
)


def _outcome(connection: Any, cursor: Any, sql: str, params: Any) -> tuple[Any, ...]:
    try:
        if sql == "many":
            cursor.executemany("INSERT INTO t (name, n) VALUES (?, ?)", params)
        else:
            cursor.execute(sql, params)
        description = [column[0] for column in cursor.description or ()]
        rows = cursor.fetchall()
        failed = None
    except sqlite3.Error as exc:
        description, rows, failed = [], [], (type(exc).__name__, str(exc))
    return (description, rows, cursor.rowcount, cursor.lastrowid, failed,
            connection.in_transaction)


@settings(max_examples=150, deadline=None)
@given(st.lists(OPERATIONS, max_size=25))
def test_the_adapter_answers_as_sqlite3_does(operations: list[tuple[str, Any]]) -> None:
    reference, adapter = connect(sqlite3), connect(db_apsw)
    cursors = [(reference, reference.cursor()), (adapter, adapter.cursor())]
    try:
        for sql, params in operations:
            theirs, ours = (_outcome(connection, cursor, sql, params)
                            for connection, cursor in cursors)
            assert ours == theirs, sql
        final = "SELECT * FROM t ORDER BY id"
        audit = "SELECT * FROM audit ORDER BY rowid"
        for query in (final, audit):
            assert adapter.execute(query).fetchall() == reference.execute(query).fetchall()
    finally:
        reference.close()
        adapter.close()


# --- through SQLAlchemy and coop.db.Database ---

class _Base(DeclarativeBase):
    type_annotation_map = {int: BigInteger, datetime: UTCDateTime}  # noqa: RUF012


class Shelf(_Base):
    __tablename__ = "shelf"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # a rowid on SQLite
    label: Mapped[str] = mapped_column(String(40), unique=True)
    opened_on: Mapped[date]
    touched_at: Mapped[datetime]
    jars: Mapped[list[Jar]] = relationship(back_populates="shelf", cascade="all, delete-orphan")


class Jar(_Base):
    __tablename__ = "jar"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # a rowid on SQLite
    shelf_id: Mapped[int] = mapped_column(ForeignKey("shelf.id"))
    grams: Mapped[int]
    shelf: Mapped[Shelf] = relationship(back_populates="jars")


def test_an_orm_round_trip_through_database_on_apsw(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'orm.db'}", sqlite_driver="apsw", pool_size=2)
    try:
        with database.writing() as session:
            raw = session.connection().connection.driver_connection
            assert isinstance(raw, db_apsw.Connection)
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            _Base.metadata.create_all(session.connection())
            # a trigger writing elsewhere on every change: SQLAlchemy compares rowcount with
            # the rows it meant to change, so its changes must not be counted
            session.execute(text("CREATE TABLE shelf_log (shelf_id INTEGER)"))
            session.execute(text("CREATE TRIGGER shelf_logged AFTER UPDATE ON shelf BEGIN "
                                 "INSERT INTO shelf_log VALUES (new.id); "
                                 "INSERT INTO shelf_log VALUES (new.id); END"))
        at = datetime(2025, 6, 30, 10, 15, 0, 250, tzinfo=UTC)
        with database.writing() as session:
            shelf = Shelf(label="top", opened_on=date(2025, 4, 1), touched_at=at,
                          jars=[Jar(grams=250), Jar(grams=2**40)])
            session.add(shelf)
            session.add(Shelf(label="low", opened_on=date(2025, 4, 2), touched_at=at))
            session.flush()
            assert shelf.id == 1 and [jar.id for jar in shelf.jars] == [1, 2]
        with database.reading() as session:
            shelf = session.scalars(select(Shelf).where(Shelf.label == "top")).one()
            assert (shelf.opened_on, shelf.touched_at) == (date(2025, 4, 1), at)
            assert sorted(jar.grams for jar in shelf.jars) == [250, 2**40]
            assert session.scalars(select(Shelf.label).where(Shelf.label.regexp_match("^l"))
                                   ).all() == ["low"]
        with database.writing() as session:
            shelf = session.scalars(select(Shelf).where(Shelf.label == "top")).one()
            shelf.label = "middle"
            shelf.jars[0].grams = 300
        with database.writing() as session:
            session.delete(session.scalars(select(Shelf).where(Shelf.label == "middle")).one())
        with database.reading() as session:
            assert session.scalars(select(Shelf.label)).all() == ["low"]
            assert session.scalars(select(Jar)).all() == []
            assert session.execute(text("SELECT count(*) FROM shelf_log")).scalar() == 2
        with pytest.raises(Exception, match="UNIQUE constraint failed") as refused, \
                database.writing() as session:
            session.add(Shelf(label="low", opened_on=date(2025, 4, 3), touched_at=at))
        assert isinstance(refused.value.orig, sqlite3.IntegrityError)  # type: ignore[attr-defined]
    finally:
        database.dispose()


@pytest.mark.parametrize("driver", ["sqlite3", "apsw"])
def test_a_backup_opens_the_file_through_the_processs_own_sqlite(
        driver: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Two SQLite libraries in one process drop each other's file locks (a backup through
    Python's sqlite3 beside APSW's writer copied a torn book): the backup's VACUUM INTO goes
    through the library COOP_SQLITE_DRIVER names, the one Database uses."""
    from coop import backup, migrate
    from coop.db import sqlite_module

    monkeypatch.setenv("COOP_SQLITE_DRIVER", driver)
    module = sqlite_module()
    assert module is (db_apsw if driver == "apsw" else sqlite3)
    assert sqlite_module("apsw") is db_apsw and sqlite_module("sqlite3") is sqlite3
    opened: list[str] = []
    connect = module.connect
    monkeypatch.setattr(module, "connect", lambda path, *a, **k: opened.append(path)
                        or connect(path, *a, **k))
    url = f"sqlite:///{tmp_path / 'books.db'}"
    database = Database(url, pool_size=1)
    try:
        migrate.upgrade(database.writer)
        with database.writing() as session:
            session.execute(text("INSERT INTO ledger_book (id, head_seq, head_hash, currency) "
                                 "VALUES (1, 0, :h, 'INR')"), {"h": "0" * 64})
        manifest = backup.create(url, tmp_path / "books.zip", key=bytes(32))
    finally:
        database.dispose()
    assert str(tmp_path / "books.db") in opened and manifest.entries == 0
