"""A PostgreSQL primary that goes away, and the standby that takes over (issue 21).

COOP_DATABASE_URL may name both servers, libpq's way (SQLAlchemy passes them to psycopg):
`postgresql+psycopg://coop@/coop?host=a:5432&host=b:5432&target_session_attrs=read-write`.
A new connection tries each host in turn and keeps the one that takes writes; so once the
standby is promoted, the next connection reaches it. What `coop.db.Database` does when the
primary is lost, as decided here:

- A transaction whose connection fails before its COMMIT was sent (the connection could not be
  made, or a statement failed with it) wrote nothing: the server rolls back a transaction
  whose client is gone. The pooled connections to the lost server are thrown away
  (`PoolReset`) and the transaction runs again on a fresh connection, for up to
  COOP_FAILOVER_WAIT_S seconds (default 10) while no primary answers; after that the request
  is refused with `BooksUnreachable` (503: nothing was written).
- A connection that fails while its COMMIT is on the way leaves the outcome unknown: the
  primary may have committed (and, with a synchronous standby, the standby may have the entry)
  before it died, or not. Running the transaction again could record a deposit twice, so it
  is never rerun: `OutcomeUnknown` (503) tells the client to send the request again with the
  same Idempotency-Key, which replays the first answer if it was recorded and records it once
  if it was not.

SQLite has no connection to lose: nothing here applies to it (a SQLite OperationalError is
"database is locked" and the like, never a lost server).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any, ClassVar

from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError

from coop.errors import CoopError

log = logging.getLogger(__name__)

FAILOVER_WAIT_S = 10.0
"""How long a write waits for a primary (COOP_FAILOVER_WAIT_S) before it is refused."""
RECONNECT_PAUSE_S = 0.2
RESET_EVERY_S = 1.0
SERVER_GONE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
"""admin_shutdown (also what a backend says when its postmaster died), crash_shutdown,
cannot_connect_now (starting up, or shutting down)."""
_DRIVER_CONNECTION_ERRORS = ("OperationalError", "InterfaceError")


class OutcomeUnknown(CoopError):
    """503: the connection failed while the COMMIT was on its way."""

    code = "outcome_unknown"
    kind = "unavailable"
    title = "The books did not confirm this request"
    retry_after_s: ClassVar[int] = 2


def outcome_unknown() -> OutcomeUnknown:
    return OutcomeUnknown(
        "The connection to the books was lost while this was being saved, so it may or may "
        "not have been recorded. Send it again with the same Idempotency-Key: it is recorded "
        "at most once. At the counter, look at the member's latest entries before taking it "
        "again.")


class BooksUnreachable(CoopError):
    """503: no primary answered within COOP_FAILOVER_WAIT_S; nothing was written."""

    code = "books_unreachable"
    kind = "unavailable"
    title = "The books cannot be reached"
    retry_after_s: ClassVar[int] = 5


def books_unreachable() -> BooksUnreachable:
    return BooksUnreachable("The books cannot be reached just now, so nothing was recorded. "
                            "Try again in a moment.")


def connection_lost(exc: BaseException) -> bool:
    """True when `exc` says the connection to a PostgreSQL server failed or could not be
    made (as SQLAlchemy wrapped it, or straight from psycopg's cursor): a client-side error
    with no SQLSTATE, a connection exception (class 08), or the server going away."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        original: BaseException | None = exc.orig
    else:
        original = exc
    if original is None or isinstance(original, sqlite3.Error) \
            or not hasattr(original, "sqlstate"):
        return False
    sqlstate = original.sqlstate
    if sqlstate is None:
        return any(kind.__name__ in _DRIVER_CONNECTION_ERRORS
                   for kind in type(original).__mro__)
    return str(sqlstate).startswith("08") or sqlstate in SERVER_GONE_SQLSTATES


class PoolReset:
    """Throws away an engine's pooled connections after a lost connection (at most once a
    second, however many threads saw it): the next checkout connects afresh and so finds
    the server that takes writes now. Connections other threads hold are left to them (their
    own next statement fails and they come here too); they are closed when given back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0

    def __call__(self, *engines: Engine) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < RESET_EVERY_S:
                return
            self._last = now
        for engine in engines:
            engine.dispose()


class Patience:
    """How long one request still waits for a primary: from its first lost connection on,
    up to `wait_s`."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self.since: float | None = None

    def another_try(self, exc: BaseException) -> bool:
        """After a lost connection: pause briefly and say True to try again, or False once
        the wait is over."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
            log.warning("lost the connection to the database (%s): waiting up to %.0f s for "
                        "a primary", type(exc).__name__, self.wait_s)
        if now - self.since >= self.wait_s:
            return False
        time.sleep(min(RECONNECT_PAUSE_S, max(0.0, self.since + self.wait_s - now)))
        return True


def libpq_conninfo(url: URL) -> str:
    """The URL as libpq's programs (pg_dump, pg_restore) take it, without its password: a
    `key=value` string, so that several hosts (`host=a:5432&host=b:5432`) become libpq's
    `host=a,b port=5432,5432` as psycopg gets them."""
    from psycopg.conninfo import make_conninfo

    psycopg_url = url.set(drivername="postgresql+psycopg")
    _, params = psycopg_url.get_dialect()().create_connect_args(psycopg_url)
    options: dict[str, Any] = {key: value for key, value in params.items()
                               if key not in ("context", "password") and value is not None}
    return make_conninfo("", **options)
