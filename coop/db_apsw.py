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
  statement completes, so the execution tracer keeps it) and has sqlite3's shape (a name and
  six Nones); `rowcount` and `lastrowid` as sqlite3 gives them (see Cursor): a trigger's
  changes are not counted, nor another cursor's;
- a date or an instant is bound as sqlite3's default adapters store it (Python 3.11).

tests/unit/test_db_apsw.py holds it to sqlite3, a differential property among them.
"""

from __future__ import annotations

import functools
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
# sqlite3's words for these (SQLAlchemy's SQLite dialect knows a lost connection by them)
_MESSAGES: dict[type[BaseException], str] = {
    apsw.CursorClosedError: "Cannot operate on a closed cursor.",
    apsw.ConnectionClosedError: "Cannot operate on a closed database.",
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
    error = kind(_MESSAGES.get(type(exc), str(exc)))
    extended = getattr(exc, "extendedresult", None)
    if extended is not None:
        error.sqlite_errorcode = extended
        error.sqlite_errorname = str(
            apsw.mapping_extended_result_codes.get(extended)
            or apsw.mapping_result_codes.get(extended & 0xFF, "SQLITE_ERROR"))
    return error


_CHANGING = ("insert", "update", "delete", "replace")


@functools.lru_cache(maxsize=512)
def _is_dml(sql: str) -> bool:
    """Whether sqlite3 (Python 3.11) counts this statement's changes in `rowcount`: it starts,
    after blanks and comments, with INSERT, UPDATE, DELETE or REPLACE (a WITH ... DELETE does
    not count, as in sqlite3)."""
    rest = sql
    while True:
        rest = rest.lstrip()
        if rest.startswith("--"):
            _, _, rest = rest.partition("\n")
        elif rest.startswith("/*"):
            _, closed, rest = rest[2:].partition("*/")
            if not closed:
                return False
        else:
            return rest[:7].lower().startswith(_CHANGING)


def _convert(_cursor: Any, number: int, value: Any) -> Any:
    """APSW's hook for a value it cannot bind: sqlite3's default adapters (Python 3.11), an
    instant as "YYYY-MM-DD HH:MM:SS[.ffffff]" and a date as "YYYY-MM-DD"; anything else is
    refused as sqlite3 refuses it."""
    if isinstance(value, datetime):
        return value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    raise ProgrammingError(
        f"Error binding parameter {number}: type '{type(value).__name__}' is not supported")


_UNREAD = object()  # no row read ahead yet


class _Described:
    """The execution tracer of a cursor: it keeps the description of the statement about to
    run, which APSW forgets once the statement completes (a query without rows)."""

    __slots__ = ("columns",)

    def __init__(self) -> None:
        self.columns: tuple[tuple[str, str | None], ...] = ()

    def __call__(self, cursor: Any, _sql: str, _bindings: Any) -> bool:
        self.columns = cursor.get_description()
        return True


class Cursor:
    """sqlite3's cursor on an APSW one. `rowcount` is SQLite's changes() for the statement
    (not counting a trigger's), taken when it completes: at once for INSERT, UPDATE, DELETE
    and REPLACE, once its rows are all fetched for one with RETURNING (0 until then), summed
    over the rows of `executemany`; -1 for anything else. `lastrowid` is the connection's last
    insert rowid after `execute` (`executemany` leaves it), as sqlite3 does."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._db = connection._db
        try:
            self._cursor = self._db.cursor()
        except apsw.Error as exc:
            raise _translate(exc) from exc
        self._described = _Described()
        self._cursor.exec_trace = self._described
        self._description: tuple[tuple[Any, ...], ...] | None = None
        self._rows: Any = iter(())
        self._ahead: Any = _UNREAD  # the row read ahead (None: none left)
        self._pending_changes = False  # a statement with RETURNING whose rows are unread
        self.rowcount = -1
        self.lastrowid: int | None = None

    def _start(self) -> None:
        """Forget the statement run before."""
        self._described.columns = ()
        self._description = None
        self._pending_changes = False
        self._rows = iter(())
        self._ahead = _UNREAD
        self.rowcount = -1

    def _run(self, sql: str, parameters: Any) -> Any:
        try:
            return self._cursor.execute(sql, parameters)
        except apsw.Error as exc:
            raise _translate(exc) from exc
        except TypeError as exc:  # parameters that are not a sequence or a mapping
            raise ProgrammingError(str(exc)) from exc

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        dml = _is_dml(sql)
        self._start()
        self._rows = self._run(sql, parameters)
        self.lastrowid = self._db.last_insert_rowid()
        if dml:
            if not self._described.columns or not self._has_row():
                self.rowcount = self._db.changes()
            else:
                self.rowcount = 0
                self._pending_changes = True
        return self

    def _has_row(self) -> bool:
        """Whether the statement just run has a row waiting (it has not completed)."""
        try:
            self._cursor.has_vdbe  # noqa: B018 - APSW raises once the statement completed
        except apsw.ExecutionCompleteError:
            return False
        return True

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> Cursor:
        if not _is_dml(sql):
            raise ProgrammingError("executemany() can only execute DML statements.")
        self._start()
        changes = 0
        for parameters in seq_of_parameters:
            for _ in self._run(sql, parameters):  # a RETURNING's rows are not kept (sqlite3)
                pass
            changes += self._db.changes()
        self.rowcount = changes
        return self

    def executescript(self, script: str) -> Cursor:
        self._start()
        for _ in self._run(script, ()):
            pass
        return self

    @property
    def description(self) -> tuple[tuple[Any, ...], ...] | None:
        """sqlite3's: each column's name and six Nones (APSW gives the declared type too)."""
        if self._description is None and self._described.columns:
            self._description = tuple((name, None, None, None, None, None, None)
                                      for name, _ in self._described.columns)
        return self._description

    def _completed(self) -> None:
        if self._pending_changes:
            self._pending_changes = False
            self.rowcount = self._db.changes()

    def _step(self) -> Any:
        """APSW's next row, or None once the statement has completed."""
        try:
            row = next(self._rows, None)
        except apsw.Error as exc:
            raise _translate(exc) from exc
        if row is None:
            self._completed()
        return row

    def fetchone(self) -> Any:
        """The next row. As sqlite3, the statement steps past each row as it is handed out,
        so it completes (and lets go of its read snapshot) with the last row: APSW would
        step only when asked for the row after, and a statement left on its last row keeps
        the connection's snapshot past COMMIT, so the next BEGIN IMMEDIATE after another
        process's commit fails at once with SQLITE_BUSY_SNAPSHOT."""
        row = self._step() if self._ahead is _UNREAD else self._ahead
        self._ahead = None if row is None else self._step()
        return row

    def fetchmany(self, size: int | None = None) -> list[Any]:
        wanted = self.arraysize if size is None else size
        rows = []
        for _ in range(wanted):
            row = self.fetchone()
            if row is None:
                break
            rows.append(row)
        return rows

    def fetchall(self) -> list[Any]:
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return []
        try:
            rows = list(self._rows)
        except apsw.Error as exc:
            raise _translate(exc) from exc
        self._completed()
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
        self._ahead = None
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
        self._db.convert_binding = _convert
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
        """As sqlite3: an exception in `func` fails the statement with OperationalError."""
        def call(*args: Any) -> Any:
            try:
                return func(*args)
            except Exception as exc:
                raise OperationalError("user-defined function raised exception") from exc

        self._db.create_scalar_function(name, call, narg, deterministic=deterministic)

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
