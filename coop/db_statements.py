"""Statements on the driver's own cursor: `Prepared` (a Core statement compiled once per
dialect) and `driver_cursor` (the DBAPI cursor of a session's connection), for the counter's
hot path, where SQLAlchemy's per-execution machinery would cost more than the statement.
`coop.db` re-exports both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from coop import db_pg
from coop.errors import CoopError


class Prepared:
    """A Core statement compiled once per dialect (and set of parameter names) and run
    straight on the DBAPI cursor of the session's connection, inside its transaction.

    For the counter's hot path: SQLAlchemy's per-execution machinery costs some tens of
    microseconds a statement, more than SQLite takes to run it, and a deposit runs about ten.
    The statement stays defined once, in Core, against the mapped tables; values go through
    the columns' own bind processors (an instant is stored exactly as the ORM stores it).
    Rows come back as the driver gives them, without SQLAlchemy's result processing: use it
    for statements that read integers and text (and for writes)."""

    __slots__ = ("_forms", "statement")

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._forms: dict[tuple[str, tuple[str, ...]], _Form] = {}

    def execute(self, session: Session, params: dict[str, Any] | None = None) -> Any:
        """The DBAPI cursor, executed (fetch from it)."""
        values = params or {}
        dialect, cursor = driver_cursor(session)
        form = self._form(dialect, values)
        try:
            cursor.execute(form.sql, form.bind(values))
        except dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy would raise it
            raise DBAPIError.instance(form.sql, values, exc, dialect.loaded_dbapi.Error,
                                      dialect=dialect) from exc
        return cursor

    def defer(self, session: Session, params: dict[str, Any] | None = None) -> None:
        """A write whose answer nobody reads: on PostgreSQL it goes to the server with the
        transaction's next statement or its commit (coop.db_pg), elsewhere at once."""
        values = params or {}
        dialect, _ = driver_cursor(session)
        form = self._form(dialect, values)
        db_pg.defer(session, form.sql, [form.bind(values)])

    def ahead(self, session: Session, params: dict[str, Any] | None = None) -> None:
        """A read the transaction will run soon: on PostgreSQL it goes to the server with the
        transaction's next statement and its answer waits for `execute` (coop.db_pg.read_ahead);
        elsewhere nothing."""
        values = params or {}
        dialect, _ = driver_cursor(session)
        if dialect.name == "postgresql":
            form = self._form(dialect, values)
            db_pg.read_ahead(session, form.sql, form.bind(values))

    def _form(self, dialect: Dialect, values: dict[str, Any]) -> _Form:
        key = (dialect.name, tuple(sorted(values)))
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = _Form.of(self.statement, dialect, key[1])
            if dialect.name == "postgresql":
                db_pg.preparable(form.sql)
        return form


_CURSOR = "coop.db.cursor"
_MEMOS: set[str] = set()


def transaction_memo(key: str) -> str:
    """Register `key` as a `session.info` memo of what the session's transaction has read or
    locked (the society row, the ledger's locked rows): `forget_memos` drops it when a
    savepoint rolls back, since the rows it describes may have gone back with it, and the locks
    taken inside the savepoint are released. Returns `key`."""
    _MEMOS.add(key)
    return key


def forget_memos(session: Session, *_: object) -> None:
    """Drop every transaction memo of `session` (a savepoint, or the transaction, rolled
    back); the next use reads the rows again. Also a Session `after_soft_rollback` hook."""
    for key in _MEMOS:
        session.info.pop(key, None)


def driver_cursor(session: Session) -> tuple[Dialect, Any]:
    """The dialect and a DBAPI cursor of the session's connection, in its transaction (begun
    if it was not), kept for the session: a service owns one transaction, in a session of its
    own (Database.writing), so the connection does not change under it."""
    kept = session.info.get(_CURSOR)
    if kept is not None:
        return kept  # type: ignore[no-any-return]
    connection = session.connection()
    driver = connection.connection.driver_connection
    if driver is None:  # pragma: no cover - a live session always has one
        raise CoopError("the session has no live database connection")
    kept = (connection.dialect, driver.cursor())
    session.info[_CURSOR] = kept
    return kept


class _Form:
    """A statement's SQL for one dialect, its parameters' order (positional paramstyles) and
    the processors and fixed values of its binds."""

    __slots__ = ("fixed", "names", "processors", "sql")

    def __init__(self, sql: str, names: tuple[str, ...] | None,
                 processors: dict[str, Callable[[Any], Any]], fixed: dict[str, Any]) -> None:
        self.sql, self.names, self.processors, self.fixed = sql, names, processors, fixed

    @classmethod
    def of(cls, statement: Any, dialect: Dialect, keys: tuple[str, ...]) -> _Form:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) or None)
        processors: dict[str, Callable[[Any], Any]] = {}
        fixed: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
            if not bind.required and bind.callable is None and name not in keys:
                fixed[name] = bind.value
        positional = dialect.paramstyle in ("qmark", "numeric", "format")
        names = tuple(compiled.positiontup or ()) if positional else None
        return cls(compiled.string, names, processors, fixed)

    def bind(self, values: dict[str, Any]) -> Any:
        merged = {**self.fixed, **values} if self.fixed else values
        if self.processors:
            merged = {name: (self.processors[name](value) if name in self.processors
                             else value) for name, value in merged.items()}
        if self.names is None:
            return merged
        return tuple(merged[name] for name in self.names)
