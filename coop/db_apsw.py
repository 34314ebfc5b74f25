"""A DB-API 2.0 face on APSW, so SQLAlchemy's SQLite dialect can use the SQLite that APSW
bundles (3.54) instead of the one Python was built with.

Why: a SQLite older than 3.51.3 (Debian 12's is 3.40) has the WAL-reset bug, so two processes
must never write or checkpoint one database file at once; coop then runs one process per file.
With APSW's SQLite, `coop serve --workers N` may run several processes on one file (their
writes still take turns: coop.db's writer lock). APSW is a well-kept binding but deliberately
not DB-API; this module is the small adapter (written here: no maintained one exists).

Only what coop and SQLAlchemy's pysqlite dialect use is provided, with sqlite3's behaviour:
- the connection never opens a transaction by itself (as sqlite3 with `isolation_level=None`,
  which is how coop.db sets every connection): coop.db emits BEGIN, and `commit()`/`rollback()`
  end a transaction if one is open;
- errors are sqlite3's own exception classes (so `except sqlite3.Error` and SQLAlchemy's
  mapping work unchanged), with `sqlite_errorcode` and `sqlite_errorname` set;
- a cursor's `description` is known even when a query returns no rows (APSW forgets it once a
  statement completes, so the execution tracer keeps it), `rowcount` is the rows changed by
  INSERT, UPDATE, DELETE (-1 for queries) and `lastrowid` SQLite's last insert rowid;
- a fetch steps one row ahead, as sqlite3 does, so that the statement completes (and lets go of
  its read snapshot) as soon as its last row is fetched. APSW steps only when asked for the
  next row: a `fetchone()` of a one-row query left the statement running, its connection held
  the snapshot after COMMIT, and that connection's next BEGIN IMMEDIATE failed at once with
  SQLITE_BUSY_SNAPSHOT ("database is locked", no busy wait) whenever another process had
  committed since: `coop serve --workers 2` answered 500 (found by
  tests/crash/test_ack_durable.py; tests/unit/test_db_apsw.py). A reader connection kept an
  old snapshot the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import apsw

apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"
sqlite_version = apsw.sqlite_lib_version()
sqlite_version_info = tuple(int(part) for part in sqlite_version.split("."))
version_info = sqlite_version_info
PARSE_DECLTYPES = sqlite3.PARSE_DECLTYPES
PARSE_COLNAMES = sqlite3.PARSE_COLNAMES
Binary = bytes

Warning = sqlite3.Warning
Error = sqlite3.Error
InterfaceError = sqlite3.InterfaceError
DatabaseError = sqlite3.DatabaseError
DataError = sqlite3.DataError
OperationalError = sqlite3.OperationalError
IntegrityError = sqlite3.IntegrityError
InternalError = sqlite3.InternalError
ProgrammingError = sqlite3.ProgrammingError
NotSupportedError = sqlite3.NotSupportedError

_KINDS: dict[type[BaseException], type[sqlite3.Error]] = {
    apsw.ConstraintError: IntegrityError,
    apsw.MismatchError: IntegrityError,
    apsw.TooBigError: DataError,
    apsw.BindingsError: ProgrammingError,
    apsw.MisuseError: ProgrammingError,
    apsw.CursorClosedError: ProgrammingError,
    apsw.ConnectionClosedError: ProgrammingError,
    apsw.ThreadingViolationError: ProgrammingError,
    apsw.InternalError: InternalError,
    apsw.CorruptError: DatabaseError,
    apsw.NotADBError: DatabaseError,
    apsw.FormatError: DatabaseError,
    apsw.RangeError: InterfaceError,
}


def _translate(exc: BaseException) -> BaseException:
    """sqlite3's exception for an APSW one (OperationalError unless listed above)."""
    if isinstance(exc, apsw.NoMemError):
        return MemoryError(str(exc))
    kind: type[sqlite3.Error] = OperationalError
    for apsw_kind, dbapi_kind in _KINDS.items():
        if isinstance(exc, apsw_kind):
            kind = dbapi_kind
            break
    error = kind(str(exc))
    extended = getattr(exc, "extendedresult", None)
    if extended is not None:
        error.sqlite_errorcode = extended
        error.sqlite_errorname = str(apsw.mapping_result_codes.get(extended & 0xFF,
                                                                   "SQLITE_ERROR"))
    return error


_CHANGING = ("insert", "update", "delete", "replace")
_UNREAD: Any = object()
"""No row fetched ahead (`Cursor._ahead`); None there: the statement has no more rows."""


def _adapt(value: Any) -> Any:
    """sqlite3's default adapters (Python 3.11): an instant as "YYYY-MM-DD HH:MM:SS[.ffffff]",
    a date as "YYYY-MM-DD"."""
    if isinstance(value, datetime):
        return value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _adapted(parameters: Any) -> Any:
    if isinstance(parameters, dict):
        return {name: _adapt(value) for name, value in parameters.items()}
    return tuple(_adapt(value) for value in parameters)


class Cursor:
    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._cursor = connection._db.cursor()
        self._cursor.exec_trace = self._traced
        self._description: tuple[tuple[Any, ...], ...] | None = None
        self._rows: Any = iter(())
        self._ahead: Any = _UNREAD
        self._changes_before = 0
        self._changing = False
        self.lastrowid: int | None = None

    def _traced(self, cursor: Any, sql: str, bindings: Any) -> bool:
        description = cursor.description
        self._description = description or None
        return True

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        db = self.connection._db
        self._description = None
        self._ahead = _UNREAD
        self._changing = sql.lstrip()[:7].lower().startswith(_CHANGING)
        self._changes_before = db.total_changes()
        try:
            try:
                self._rows = self._cursor.execute(sql, parameters)
            except TypeError:  # a date or an instant: sqlite3's default adapters, then again
                self._rows = self._cursor.execute(sql, _adapted(parameters))
        except apsw.Error as exc:
            raise _translate(exc) from exc
        except TypeError as exc:
            raise ProgrammingError(str(exc)) from exc
        self.lastrowid = db.last_insert_rowid()
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        db = self.connection._db
        self._description = None
        self._ahead = _UNREAD
        self._changing = True
        self._changes_before = db.total_changes()
        rows = list(seq_of_parameters)
        try:
            if rows:
                self._rows = self._cursor.executemany(sql, [_adapted(row) for row in rows])
            else:
                self._rows = iter(())
        except apsw.Error as exc:
            raise _translate(exc) from exc
        except TypeError as exc:
            raise ProgrammingError(str(exc)) from exc
        self.lastrowid = db.last_insert_rowid()
        return self

    def executescript(self, script: str) -> Cursor:
        try:
            for _ in self._cursor.execute(script):
                pass
        except apsw.Error as exc:
            raise _translate(exc) from exc
        self._rows = iter(())
        self._ahead = _UNREAD
        return self

    @property
    def description(self) -> tuple[tuple[Any, ...], ...] | None:
        return self._description

    @property
    def rowcount(self) -> int:
        if not self._changing:
            return -1
        return int(self.connection._db.total_changes() - self._changes_before)

    def fetchone(self) -> Any:
        try:
            if self._ahead is _UNREAD:
                row = next(self._rows, None)
            else:
                row, self._ahead = self._ahead, _UNREAD
            if row is not None:
                self._ahead = next(self._rows, None)  # past the last row: the statement is done
            return row
        except apsw.Error as exc:
            raise _translate(exc) from exc

    def fetchmany(self, size: int | None = None) -> list[Any]:
        wanted = size or self.arraysize
        rows = []
        for _ in range(wanted):
            row = self.fetchone()
            if row is None:
                break
            rows.append(row)
        return rows

    def fetchall(self) -> list[Any]:
        ahead, self._ahead = self._ahead, _UNREAD
        if ahead is None:
            return []
        try:
            rows = list(self._rows)
        except apsw.Error as exc:
            raise _translate(exc) from exc
        return rows if ahead is _UNREAD else [ahead, *rows]

    def __iter__(self) -> Cursor:
        return self

    def __next__(self) -> Any:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def close(self) -> None:
        self._rows = iter(())
        self._ahead = _UNREAD
        self._cursor.close(True)

    def setinputsizes(self, sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass


class Connection:
    def __init__(self, database: str, *, timeout: float = 5.0, uri: bool = False) -> None:
        flags = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
        if uri or database.startswith("file:"):
            flags |= apsw.SQLITE_OPEN_URI
        try:
            self._db = apsw.Connection(database, flags=flags)
        except apsw.Error as exc:
            raise _translate(exc) from exc
        self._db.set_busy_timeout(int(timeout * 1000))
        self.isolation_level: str | None = None

    @property
    def in_transaction(self) -> bool:
        return bool(self._db.in_transaction)

    @property
    def total_changes(self) -> int:
        return int(self._db.total_changes())

    def cursor(self) -> Cursor:
        return Cursor(self)

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, script: str) -> Cursor:
        return self.cursor().executescript(script)

    def commit(self) -> None:
        if self._db.in_transaction:
            self.execute("COMMIT")

    def rollback(self) -> None:
        if self._db.in_transaction:
            self.execute("ROLLBACK")

    def close(self) -> None:
        self._db.close(True)

    def create_function(self, name: str, narg: int, func: Callable[..., Any], *,
                        deterministic: bool = False) -> None:
        self._db.create_scalar_function(name, func, narg, deterministic=deterministic)

    def interrupt(self) -> None:
        self._db.interrupt()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.commit()
        else:
            self.rollback()


def connect(database: str, timeout: float = 5.0, detect_types: int = 0,
            isolation_level: str | None = None, check_same_thread: bool = True,
            factory: object = None, cached_statements: int = 128,
            uri: bool = False) -> Connection:
    """sqlite3.connect's signature; `detect_types`, `check_same_thread` and
    `cached_statements` have no meaning here (APSW caches statements and checks threads
    itself), and `isolation_level` is always None (see the module docstring)."""
    return Connection(database, timeout=timeout, uri=uri)


def bug_free() -> bool:
    """True when this SQLite has no WAL-reset bug (3.51.3 or later)."""
    return sqlite_version_info >= (3, 51, 3)
