"""PostgreSQL: writes that need no answer go with the next statement, in one round trip.

A counter deposit on PostgreSQL was a dozen round trips to the server, most of them while it
held the rows every deposit needs (the book's chain head, the control accounts, the clerk's
till); the rows' next holder waits for all of them. Many of those statements are writes whose
answer nobody reads: the entry and its postings, the accounts' counters, the chain head, the
stored answer of an Idempotency-Key, the audit row, a savepoint. `defer(session, sql, rows)`
queues such a write on the session's connection instead of sending it; the connection's next
statement, whatever sends it (the ledger, SQLAlchemy, a savepoint's release, a rollback to
one), sends the queue in front of it as one query of several statements (the values bound on
this side by psycopg's own quoting, `literal`; a statement psycopg composes, or one inside its
pipeline mode, has the queue sent before it instead), and the COMMIT sends it too. The
server runs them in the order written, so every statement still sees every write before it;
only the waiting for each answer is gone.

The transaction's BEGIN goes the same way: psycopg sends it as a query of its own before a
transaction's first statement (a round trip for every transaction); the cursor here puts it in
front of that statement's text instead, with the connection's isolation level and access mode
as psycopg would have written them.

A statement marked `preparable` (the ledger's locking query and one-entry write, the
counter's statements built with `coop.db_statements.Prepared`) goes as `EXECUTE` of a
statement prepared once per connection, so the server does not plan it again every time.

What this changes and what it does not:
- A queued write that fails (it cannot, short of a bug: its checks ran under the locks) fails
  the statement it went with, so the transaction ends with an error as it would have.
  Anything a caller catches (a unique key taken) is its own statement's failure, sent without
  a queue ahead of it: `defer` is used only after those.
- A rollback throws the queue away; so does a connection going back to the pool.
- Only the engines `Database` builds have the cursor that sends the queue first
  (`engine_options`); on any other connection `defer` runs the write at once, as before.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

_QUEUE = "_coop_queue"
_CLIENT = "_coop_client"
_PREPARED = "_coop_prepared"
_AHEAD = "_coop_ahead"
_ANSWERED = "_coop_answered"
_SENT = "_coop_sent"

Rows = Sequence[Sequence[Any]] | Sequence[dict[str, Any]]


@cache
def _cursor_class() -> type[Any]:
    import psycopg

    class QueueFirstCursor(psycopg.Cursor[Any]):
        """A cursor whose every statement sends its connection's queued writes first."""

        def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
            connection = self.connection
            if connection.__dict__.get(_ANSWERED) and _answered(self, query, params, options):
                return self
            ahead = _ahead_of(connection, query, params, options)
            _prepare_for(connection, None if options else query)  # before BEGIN is decided
            begin = _begin_to_send(connection, query, options)
            if not connection.__dict__.get(_QUEUE):
                if begin is None and not ahead:
                    if options or not _is_preparable(query) or connection.pgconn.pipeline_status:
                        return super().execute(query, params, **options)
                    return super().execute(statement(connection, query, params))
                parts, before = [*([begin] if begin else [])], int(begin is not None)
            elif connection.pgconn.pipeline_status or not isinstance(query, str):
                _send(connection)  # in a pipeline already (it syncs), or a composed query
                return super().execute(query, params, **options)
            else:
                queued, count = _queued_text(connection)
                parts, before = [*([begin] if begin else []), queued], count + bool(begin)
            parts.append(statement(connection, query, params) if not options
                         else literal(connection, query, params))
            parts.extend(statement(connection, sql, values) for sql, values in ahead)
            self._coop_begun = begin is not None  # read (and cleared) by _start_query
            try:
                super().execute(";\n".join(parts))
            finally:  # never left for another statement, which psycopg must BEGIN itself
                self.__dict__.pop("_coop_begun", None)
            _count_sent(connection)
            for _ in range(before):  # the results before this statement's
                self.nextset()
            if ahead:  # the reads after it: kept for when they are asked for
                results = self._results[before + 1:]
                del self._results[before + 1:]
                connection.__dict__[_ANSWERED] = [
                    (sql, values, result) for (sql, values), result in zip(
                        ahead, results, strict=True)]
            return self

        def _start_query(self, query: Any = None) -> Any:
            """psycopg's start of a query, which sends the transaction's BEGIN on its own
            first: not when `execute` put the BEGIN in front of the query's text."""
            if not self.__dict__.pop("_coop_begun", False):
                return (yield from super()._start_query(query))
            connection = self._conn
            connection._autocommit = True  # read by the connection's own _start_query only
            try:
                return (yield from super()._start_query(query))
            finally:
                connection._autocommit = False

        def executemany(self, query: Any, params_seq: Any, **options: Any) -> None:
            connection = self.connection
            _forget_ahead(connection)
            if connection.__dict__.get(_QUEUE):
                if connection.pgconn.pipeline_status:
                    _send(connection)
                else:
                    _prepare_for(connection, None)
                    super().execute(_queued_text(connection)[0])
                    _count_sent(connection)
            super().executemany(query, params_seq, **options)

    return QueueFirstCursor


def _begin_to_send(connection: Any, query: Any, options: dict[str, Any]) -> str | None:
    """The BEGIN a statement starting a transaction goes with, in the same query (psycopg
    would send it on its own first: a round trip of its own for every transaction)."""
    if (connection.autocommit or options or not isinstance(query, str)
            or connection.pgconn.pipeline_status
            or connection.pgconn.transaction_status != _idle()):
        return None
    return str(connection._get_tx_start_command().decode())


@cache
def _idle() -> Any:
    from psycopg.pq import TransactionStatus

    return TransactionStatus.IDLE


def literal(connection: Any, sql: str, params: Any) -> str:
    """`sql` with its parameters bound on this side, by psycopg's own quoting (ClientCursor),
    to go in a query of several statements (the simple query protocol takes no parameters).
    psycopg's machinery per statement, and worse its pipeline mode, which polls a socket that
    is always writable while it waits for the answers, cost more of a two-core machine's CPU
    than the server's parsing of the literal values does."""
    if params is None:
        return sql
    client = connection.__dict__.get(_CLIENT)
    if client is None:
        import psycopg

        client = connection.__dict__[_CLIENT] = psycopg.ClientCursor(connection)
    return str(client.mogrify(sql, params))


PREPARABLE_CAP = 512
"""At most this many statement texts are ever prepared (the hot path has a few dozen; the
bound keeps a statement built with a varying shape from growing every connection's set)."""
PREPARABLE_PARAMS = 64
_PREPARABLE: dict[str, tuple[str, str, tuple[str, ...] | None]] = {}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s")


def preparable(sql: str) -> str:
    """Mark `sql` (psycopg's placeholders, `%s` or `%(name)s`) as one to run as a statement
    prepared on the server when it goes in a query of several statements; returns `sql`.

    A statement that goes in a query of several (with the queue, or with its transaction's
    BEGIN) is text with its values written in, and the server plans it again every time: a
    tenth to a fifth of a millisecond for the ledger's locking query and its one-statement
    write, most of what the server does for them. Such a statement is prepared once per
    connection (`PREPARE`, which a rollback does not undo) and sent as `EXECUTE name(values)`.
    Sent on its own, it goes the same way (psycopg's own preparing is off, `engine_options`).
    Only for statements whose parameters' types the server can tell from where they stand
    (a column compared or written): a `PREPARE` that fails fails the transaction."""
    if sql in _PREPARABLE or len(_PREPARABLE) >= PREPARABLE_CAP or "%%" in sql:
        return sql
    names: list[str] = []
    positional = 0

    def number(match: re.Match[str]) -> str:
        nonlocal positional
        name = match.group(1)
        if name is None:
            positional += 1
            return f"${positional}"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    numbered = _PLACEHOLDER.sub(number, sql)
    if (names and positional) or len(names) + positional > PREPARABLE_PARAMS:
        return sql
    name = "coop_" + hashlib.blake2b(sql.encode(), digest_size=10).hexdigest()
    _PREPARABLE[sql] = (name, numbered, tuple(names) if names else None)
    return sql


def _is_preparable(query: Any) -> bool:
    return isinstance(query, str) and query in _PREPARABLE


def _ensure_prepared(connection: Any, sql: str) -> str:
    """The name `sql` is prepared under on this connection, preparing it the first time (a
    round trip of its own, once per connection)."""
    name, numbered, _ = _PREPARABLE[sql]
    done = connection.__dict__.setdefault(_PREPARED, set())
    if name not in done:
        import psycopg

        cursor = _cursor_class()(connection)
        cursor._coop_begun = True  # outside a transaction, psycopg is not to BEGIN one for it
        psycopg.Cursor.execute(cursor, f"PREPARE {name} AS {numbered}")  # the queue stays
        done.add(name)
    return name


def _prepare_for(connection: Any, query: Any) -> None:
    """Prepare `query` and the queued statements that are `preparable` and not yet prepared
    on this connection: before a query of several statements is put together, so that its
    BEGIN (or none) is decided after any round trip a `PREPARE` takes."""
    if connection.pgconn.pipeline_status:
        return
    if _is_preparable(query):
        _ensure_prepared(connection, query)
    for sql, _ in (*connection.__dict__.get(_QUEUE, ()), *connection.__dict__.get(_AHEAD, ())):
        if sql in _PREPARABLE:
            _ensure_prepared(connection, sql)


def statement(connection: Any, sql: str, params: Any) -> str:
    """`sql` with `params` as text to go in a query of several statements: `EXECUTE` of the
    statement prepared on this connection if `sql` is `preparable`, else `literal`."""
    spec = _PREPARABLE.get(sql)
    if spec is None:
        return literal(connection, sql, params)
    name = _ensure_prepared(connection, sql)
    order = spec[2]
    values = (list(params or ()) if order is None
              else [params[key] for key in order] if isinstance(params, Mapping) else None)
    if values is None:
        return literal(connection, sql, params)
    if not values:
        return f"EXECUTE {name}"
    return literal(connection, f"EXECUTE {name}({', '.join(['%s'] * len(values))})", values)


def read_ahead(session: Session, sql: str, params: Any) -> None:
    """Send the read `sql` (a SELECT) after the session's next statement, in the same query,
    and keep its answer for when the same statement with the same values is asked for: one
    round trip for several statements that a request runs one after another, none of which
    needs the one before's answer to be written. A no-op but on PostgreSQL's queueing
    connections.

    Nothing runs in a different order from the one the code asks for: an answer kept is used
    only if it is asked for next, with no write queued since; any other statement first (or a
    rollback, a commit, the connection going back to its pool) throws the kept answers away,
    and those statements go to the server again when they are asked for. A read that locks
    (FOR UPDATE) takes its lock a little earlier, in the same order."""
    from coop.db_statements import driver_cursor

    driver = driver_cursor(session)[1].connection
    if can_queue(driver) and sql.lstrip()[:6].upper() == "SELECT":
        driver.__dict__.setdefault(_AHEAD, []).append((sql, params))


def _ahead_of(connection: Any, query: Any, params: Any,
              options: dict[str, Any]) -> list[tuple[str, Any]]:
    """The reads to send after `query` (the statement asked for now is not one of them)."""
    ahead = connection.__dict__.pop(_AHEAD, None)
    if not ahead or options or not isinstance(query, str) or connection.pgconn.pipeline_status:
        return []
    return [(sql, values) for sql, values in ahead if (sql, values) != (query, params)]


def _answered(cursor: Any, query: Any, params: Any, options: dict[str, Any]) -> bool:
    """Whether `query` was answered ahead, next, with nothing queued since: the cursor then
    holds that answer. Else every answer kept is thrown away."""
    from psycopg import adapt

    connection = cursor.connection
    answered = connection.__dict__[_ANSWERED]
    sql, values, result = answered[0]
    if (isinstance(query, str) and sql == query and values == params and not options
            and not connection.__dict__.get(_QUEUE)):
        answered.pop(0)
        cursor._reset()
        # a transformer of its own for the answer, as psycopg makes one when a query starts
        # (a cursor that has run nothing yet has none)
        cursor._tx = adapt.Transformer(cursor)
        cursor._set_results([result])
        return True
    del connection.__dict__[_ANSWERED]
    return False


def _forget_ahead(connection: Any) -> None:
    connection.__dict__.pop(_AHEAD, None)
    connection.__dict__.pop(_ANSWERED, None)


def _queued_text(connection: Any) -> tuple[str, int]:
    """The queued writes as one text of statements, and how many (the queue is emptied)."""
    queued = connection.__dict__.pop(_QUEUE)
    parts = [statement(connection, sql, row) for sql, rows in queued for row in rows]
    return ";\n".join(parts), len(parts)


def _count_sent(connection: Any) -> None:
    connection.__dict__[_SENT] = connection.__dict__.get(_SENT, 0) + 1


def queue_state(session: Session) -> tuple[bool, int]:
    """Whether writes are queued on the session's connection, and how many times queued
    writes have reached the server there and been run without an error (a query that carried
    them came back). Coop.db.Database.write_batch tells by these whether an error was a
    request's own or came from the writes an earlier request queued."""
    from coop.db_statements import driver_cursor

    driver = driver_cursor(session)[1].connection
    if not can_queue(driver):
        return False, 0
    return bool(driver.__dict__.get(_QUEUE)), driver.__dict__.get(_SENT, 0)


def _send(connection: Any) -> None:
    """Send the queued writes as statements of their own (in pipeline mode: unanswered)."""
    queued = connection.__dict__.pop(_QUEUE)
    cursor = connection.cursor()  # the queue is gone, so this one sends nothing first
    for sql, rows in queued:
        if len(rows) == 1:
            cursor.execute(sql, rows[0])
        else:
            cursor.executemany(sql, rows)


def engine_options() -> dict[str, Any]:
    """`create_engine` arguments for a PostgreSQL engine whose connections can queue writes.

    psycopg's own preparing of a statement run five times is off: after any ROLLBACK (a
    refused request's ROLLBACK TO SAVEPOINT too) it sends DEALLOCATE ALL, which would drop
    the statements `preparable` prepared as well; those are the hot path's."""
    return {"connect_args": {"cursor_factory": _cursor_class(), "prepare_threshold": None}}


def listen(engine: Engine) -> None:
    """The COMMIT sends the queue with it; a rollback or a return to the pool drops it."""
    event.listen(engine, "commit", _commit_with_queue)
    event.listen(engine, "rollback", _drop_queue)
    event.listen(engine.pool, "reset", lambda driver, record, state: _forget(driver))
    event.listen(engine.pool, "checkout", lambda driver, record, proxy: _forget(driver))


def _commit_with_queue(connection: Any) -> None:
    driver = connection.connection.driver_connection
    if driver is not None:
        _forget_ahead(driver)
    if driver is not None and driver.__dict__.get(_QUEUE):
        _prepare_for(driver, None)
        queued, _ = _queued_text(driver)
        driver.cursor().execute(f"{queued};\nCOMMIT")  # SQLAlchemy's commit: nothing left


def _drop_queue(connection: Any) -> None:
    if connection.invalidated:  # a lost connection: it goes, and its queue with it
        return
    driver = connection.connection.driver_connection
    if driver is not None:
        _forget(driver)


def _forget(driver: Any) -> None:
    driver.__dict__.pop(_QUEUE, None)
    _forget_ahead(driver)


def can_queue(driver: Any) -> bool:
    """True for a connection of an engine built with `engine_options`."""
    if not type(driver).__module__.startswith("psycopg"):
        return False
    return getattr(driver, "cursor_factory", None) is _cursor_class()


def queue(driver: Any, sql: str, rows: Sequence[Any]) -> None:
    """Queue `sql` with each of `rows` (positional tuples or name mappings) on `driver`."""
    driver.__dict__.setdefault(_QUEUE, []).append((sql, rows))


def defer(session: Session, sql: str, rows: Sequence[Any]) -> None:
    """Run `sql` for each of `rows` in the session's transaction: queued on PostgreSQL's
    connections that send a queue first, at once anywhere else."""
    from coop.db_statements import driver_cursor

    _, cursor = driver_cursor(session)
    driver = cursor.connection
    if can_queue(driver):
        queue(driver, sql, rows)
    elif len(rows) == 1:
        cursor.execute(sql, rows[0])
    else:
        cursor.executemany(sql, rows)
