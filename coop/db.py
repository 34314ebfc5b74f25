"""Engines, sessions and transactions for SQLite (embedded) and PostgreSQL (production).

- SQLite: every connection gets WAL, synchronous=FULL, foreign keys, a busy timeout and
  secure_delete. Python's sqlite3 would open transactions lazily with a plain BEGIN, which can
  fail with SQLITE_BUSY on the upgrade to a write lock without honouring the busy timeout; so
  pysqlite's own transaction handling is switched off and we emit BEGIN ourselves: BEGIN
  IMMEDIATE for writes, BEGIN (deferred) for reads. Writes go through one writer connection per
  process (a pool of one), which both serialises writers without busy-wait sleeps and avoids two
  connections writing or checkpointing at once (the WAL-reset bug of SQLite < 3.51.3).
- PostgreSQL: writes run at READ COMMITTED; correctness comes from row locks taken in ascending
  id order (see coop.ledger.service). A deadlock or serialization failure (SQLSTATE 40P01/40001)
  rolls the whole transaction back and `Database.write` runs it again, at most three times.
  Reads for reports run REPEATABLE READ READ ONLY so that a report never sees a torn state.
- A lost PostgreSQL connection (a primary and its standby, coop.db_failover): a transaction
  that never reached its COMMIT runs again once a primary answers; one lost during its COMMIT
  never does (`OutcomeUnknown`). `read_report` reads on COOP_REPLICA_URL when there is one.

A service function owns exactly one transaction: it is handed to `Database.write` (or runs
inside `Database.writing()`), and nothing below it commits.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Date, DateTime, Dialect, MetaData, create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from coop import db_pg
from coop.db_failover import (
    FAILOVER_WAIT_S,
    OutcomeUnknown,
    Patience,
    PoolReset,
    books_unreachable,
    connection_lost,
    outcome_unknown,
)
from coop.db_statements import driver_cursor, forget_memos
from coop.errors import CoopError

log = logging.getLogger(__name__)

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_SAFE_VERSION = (3, 51, 3)
SQLITE_FIXED_BRANCHES = ((3, 44, 6), (3, 50, 7))
"""The WAL-reset fix of 3.51.3 was also backported to these patch releases of older branches:
a version on one of those branches at or past its patch is safe too."""
SQLITE_DRIVERS = ("sqlite3", "apsw")
"""COOP_SQLITE_DRIVER: Python's own sqlite3 (one server process per file), or APSW's bundled
SQLite (coop.db_apsw), which `coop serve --workers N` needs."""
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
WRITE_ATTEMPTS_MAX = 3
# The storage refused the write: disk full, read-only, I/O error. Nothing was written (the
# transaction rolled back), reads still work, and the request may be tried again later.
STORAGE_SQLSTATES = {"53100": "the database's disk is full",
                     "54000": "the database server is out of resources",
                     "25006": "the database is read-only"}
SQLITE_STORAGE_CODES = {13: "the database's disk is full",  # SQLITE_FULL
                        8: "the database is read-only",  # SQLITE_READONLY and its variants
                        10: "the database's disk could not be written"}  # SQLITE_IOERR


def sqlite_module(driver: str | None = None) -> Any:
    """The DB-API module of a COOP_SQLITE_DRIVER (None: the environment's, else sqlite3).

    Whatever opens a database file outside SQLAlchemy (a backup's VACUUM INTO) opens it
    through this, the SQLite library the process's Database uses: two copies of SQLite in one
    process do not see each other's POSIX locks, and a file closed by one drops the other's
    (sqlite.org/howtocorrupt.html, 2.2.1). A backup through Python's sqlite3 beside APSW's
    writer in the same process copied a torn book (its head said 1,009 entries, it held 0)."""
    if (driver or os.environ.get("COOP_SQLITE_DRIVER") or "sqlite3") == "apsw":
        from coop import db_apsw

        return db_apsw
    return sqlite3


class StorageUnavailable(CoopError):
    """503: the write could not be stored; the books are as they were before it."""

    code = "storage_unavailable"
    kind = "unavailable"
    title = "The books cannot take writes just now"


def _driver_error(exc: BaseException) -> BaseException | None:
    """The driver's own exception in `exc`, or None when it is none of the drivers': the one
    SQLAlchemy wrapped, or `exc` itself when it came straight from a DBAPI cursor (our own
    BEGIN; the ledger's statements on the driver's cursor, coop.ledger.rows._Raw), which
    is sqlite3's (so coop.db_apsw's too) or carries a SQLSTATE (psycopg's)."""
    if isinstance(exc, DBAPIError):
        return exc.orig
    if isinstance(exc, sqlite3.Error) or hasattr(exc, "sqlstate"):
        return exc
    return None


def storage_problem(exc: BaseException) -> str | None:
    """What is wrong with the storage, if `exc` is the storage refusing a write."""
    original = _driver_error(exc)
    if original is None:
        return None
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in STORAGE_SQLSTATES:
        return STORAGE_SQLSTATES[sqlstate]
    code = getattr(original, "sqlite_errorcode", None)
    if isinstance(original, sqlite3.Error) and code is not None:
        return SQLITE_STORAGE_CODES.get(code & 0xFF)
    return None


class UTCDateTime(TypeDecorator[datetime]):
    """A UTC instant, timezone-aware in Python on every engine (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a stored instant must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        int: BigInteger,
        date: Date,
        datetime: UTCDateTime,
    }


class FairLock:
    """A lock handed to waiters strictly in arrival order.

    The SQLite writer is one connection. A plain lock (or the pool's own wait) lets a thread
    that has just arrived take the writer ahead of threads that have waited for a while, so
    under load a few requests wait hundreds of milliseconds while most wait none. Here a
    release hands the lock directly to the longest waiter.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        turn.acquire()  # released by the holder that hands over to us

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # ownership passes; _held stays True
            else:
                self._held = False

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


READER_CACHE_KIB = 512
"""The page cache of each reading connection (SQLite's default is 2,000 KiB). A reader's
cache is emptied whenever another connection has written since its last transaction, so
under the counter's load it holds little more than one query's pages, and a long statement
filled it up to the bound: some reader connections at 2 MiB each made `coop serve`'s memory
creep up with the members' histories. The writer keeps the default: nothing else writes, so
its cache stays warm."""

SQLITE_HEAP_LIMIT_KIB = 6 * 1024
"""SQLite's soft heap limit for the whole process (`PRAGMA soft_heap_limit`): once SQLite's
own memory (every connection's page cache, parsed schema and prepared statements) reaches
it, a page cache takes a new page by recycling one of its own instead of growing. Measured
in the 10-minute soak: the writer's warm cache (2 MiB) and statements, and about 130 KiB of
schema and statements per reader connection, come to about 4 MiB; without the limit the
readers' caches, each up to READER_CACHE_KIB, took SQLite to 7.8 MiB and more as the pool
opened connections at the busiest moments."""


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=FULL",
        "foreign_keys=ON",
        "busy_timeout=30000",
        "secure_delete=ON",
        f"soft_heap_limit={SQLITE_HEAP_LIMIT_KIB * 1024}",  # process-wide; the same each time
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_reader_on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    _sqlite_on_connect(dbapi_connection, record)
    dbapi_connection.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")


def _sqlite_on_begin(connection: Any) -> None:
    mode = connection.get_execution_options().get("coop_begin", "DEFERRED")
    # Straight to the driver: this runs on every transaction, and SQLAlchemy's statement
    # machinery would cost more than the BEGIN itself.
    connection.connection.driver_connection.execute(f"BEGIN {mode}")


def wal_reset_safe(version: Sequence[int]) -> bool:
    """Whether a SQLite `version` is free of the WAL-reset bug (two connections writing or
    checkpointing one WAL database at once can corrupt it): 3.51.3 or later, or 3.50.7+ /
    3.44.6+ on their branches."""
    release = tuple(version[:3])
    return release >= SQLITE_SAFE_VERSION or any(
        release[:2] == fixed[:2] and release >= fixed for fixed in SQLITE_FIXED_BRANCHES)


def sqlite_version_warning() -> str | None:
    """A warning for start-up when the linked SQLite has the WAL-reset bug, else None."""
    if wal_reset_safe(sqlite3.sqlite_version_info):
        return None
    return (
        f"SQLite {sqlite3.sqlite_version} is older than 3.51.3 and has the WAL-reset bug: "
        "run one coop process per database file (this process writes through one "
        "connection), or use PostgreSQL for anything multi-process"
    )


class _Ungroupable(Exception):
    """A grouped work failed after changing the session's ORM state: the batch is undone and
    each work runs on its own."""


class DriverMissing(CoopError):
    """The database's driver is not installed (psycopg: the optional extra coop[pg])."""

    code = "driver_missing"
    kind = "unavailable"
    title = "The database driver is not installed"


def require_driver(url: URL) -> None:
    """PostgreSQL is reached through psycopg, which a plain `pip install coop` leaves out
    (the extra `pg`): say so in words before SQLAlchemy fails on the import."""
    if url.get_backend_name() != "postgresql":
        return
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise DriverMissing(
            "COOP_DATABASE_URL names a PostgreSQL database, and psycopg is not installed: "
            "install coop[pg] (pip install 'coop[pg]'; requirements/run.txt has it)") from exc


def _ends_transaction(exc: BaseException) -> bool:
    """A database error that may have rolled the whole transaction back (SQLite does for a
    full disk, an I/O error, a busy or out-of-memory one) or that a rerun of the work may clear
    (a PostgreSQL deadlock), not only the statement: anything from a driver but a constraint
    (SQLSTATE class 23 on PostgreSQL)."""
    if isinstance(exc, IntegrityError | sqlite3.IntegrityError):
        return False
    original = _driver_error(exc)
    if original is None:
        return False
    return not str(getattr(original, "sqlstate", None) or "").startswith("23")


def is_retryable(exc: BaseException) -> bool:
    """True for a PostgreSQL deadlock or serialization failure, which a rerun may clear,
    whether SQLAlchemy wrapped it or the driver's cursor raised it straight."""
    return getattr(_driver_error(exc), "sqlstate", None) in RETRYABLE_SQLSTATES


def _private_sqlite_file(database: str | None) -> None:
    """The database file is its owner's alone (mode 0600, its folder 0700 when we make it):
    SQLite gives its -wal and -shm files the database file's mode, so they follow."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if part.exists() and part.stat().st_mode & 0o077:
            part.chmod(0o600)


class Database:
    """The engines of one society's database and the two ways into it: write and read."""

    def __init__(self, url: str | URL, *, pool_size: int = 40, echo: bool = False,
                 sqlite_driver: str | None = None, replica_url: str | URL | None = None,
                 failover_wait_s: float = FAILOVER_WAIT_S) -> None:
        self.url = make_url(url)
        require_driver(self.url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.sqlite_driver = sqlite_driver or os.environ.get("COOP_SQLITE_DRIVER") or "sqlite3"
        self.failover_wait_s = failover_wait_s
        self._reset_pool = PoolReset()
        self._lock_fd: int | None = None
        if self.is_sqlite:
            if self.sqlite_driver not in SQLITE_DRIVERS:
                raise CoopError(f"COOP_SQLITE_DRIVER is {self.sqlite_driver!r}: it is one of "
                                f"{', '.join(SQLITE_DRIVERS)}")
            _private_sqlite_file(self.url.database)
            self._lock_fd = self._writer_lock_file()
            self.reader = self._sqlite_engine(self.url, pool_size=pool_size, echo=echo,
                                              on_connect=_sqlite_reader_on_connect)
            self.writer: Engine = self._sqlite_engine(
                self.url, pool_size=1, echo=echo).execution_options(coop_begin="IMMEDIATE")
        else:
            # No ping before each use (a round trip and the driver's CPU per transaction): a
            # connection found dead is thrown away with the pool, and the write or read that
            # met it runs again (write, _read; coop.db_failover).
            engine = create_engine(
                self.url, pool_size=pool_size, max_overflow=10, pool_pre_ping=False, echo=echo,
                **db_pg.engine_options(),
            )
            db_pg.listen(engine)
            self.writer = engine
            self.reader = engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        self.replica = self.reader if replica_url is None else \
            self._replica_engine(make_url(replica_url), echo=echo)  # where read_report reads
        self._writer_turn = FairLock() if self.is_sqlite else None
        self._write_sessions = sessionmaker(bind=self.writer, expire_on_commit=False)
        # a savepoint rolled back (begin_nested) takes its writes and locks: memos forget them
        event.listen(self._write_sessions, "after_soft_rollback", forget_memos)
        self._read_sessions = sessionmaker(bind=self.reader, expire_on_commit=False)
        self._report_sessions = sessionmaker(bind=self.replica, expire_on_commit=False)

    def _replica_engine(self, url: URL, *, echo: bool) -> Engine:
        """A read-only engine on COOP_REPLICA_URL (a hot standby), of the primary's kind."""
        if (url.get_backend_name() == "sqlite") != self.is_sqlite:
            raise CoopError(f"COOP_REPLICA_URL is a {url.get_backend_name()} database and "
                            f"COOP_DATABASE_URL a {self.url.get_backend_name()} one: a "
                            "replica is a copy of the primary, on the same engine")
        if self.is_sqlite:
            return self._sqlite_engine(url, pool_size=4, echo=echo,
                                       on_connect=_sqlite_reader_on_connect)
        return create_engine(url, pool_size=4, max_overflow=8, pool_pre_ping=True,
                             echo=echo).execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True)

    def _writer_lock_file(self) -> int | None:
        """With APSW (several server processes on one file), the file beside the database
        whose lock the processes' writers take in turn: the kernel hands it over the moment
        it is free, where SQLite's own busy handler sleeps 1, 2, 5, 10 ... ms between tries."""
        database = self.url.database
        if self.sqlite_driver != "apsw" or not database or database == ":memory:" \
                or database.startswith("file:"):
            return None
        return os.open(f"{database}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def _file_turn(self) -> Iterator[None]:
        if self._lock_fd is None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _sqlite_engine(
        self, url: URL, *, pool_size: int, echo: bool,
        on_connect: Callable[[Any, ConnectionPoolEntry], None] = _sqlite_on_connect,
    ) -> Engine:
        extra: dict[str, Any] = {}
        if self.sqlite_driver == "apsw":
            extra["module"] = sqlite_module("apsw")
        engine = create_engine(
            url,
            **extra,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=0 if pool_size == 1 else 10,
            pool_timeout=120,
            # Every transaction ends in an explicit COMMIT or ROLLBACK (Database.writing and
            # .reading), so the pool need not issue another ROLLBACK on each return.
            pool_reset_on_return=None,
            echo=echo,
        )
        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """One write transaction: commits when the block ends, rolls back on any exception.
        A connection lost during the COMMIT itself is `OutcomeUnknown` (coop.db_failover)."""
        committing = False
        try:
            if self._writer_turn is None:
                with self._write_sessions() as session, session.begin():
                    yield session
                    session.flush()  # a failure here is before the COMMIT: nothing written
                    committing = True
                return
            with self._writer_turn, self._file_turn(), self._write_sessions() as session, \
                    session.begin():
                yield session
        except Exception as exc:
            if committing and connection_lost(exc):  # only ever on PostgreSQL
                log.error("connection lost during a COMMIT: its outcome is unknown (%s)", exc)
                raise outcome_unknown() from exc
            raise

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """One read-only, consistent snapshot (REPEATABLE READ on PostgreSQL)."""
        with self._read_sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading_report(self) -> Iterator[Session]:
        """`reading` on the replica (COOP_REPLICA_URL) if any: reports and the auditor's checks
        may see the books as they were a moment ago; never a read a write depends on."""
        with self._report_sessions() as session, session.begin():
            yield session

    def _lost(self, exc: BaseException) -> bool:
        """A lost PostgreSQL connection: the pool's connections to that server go."""
        if self.is_sqlite or not connection_lost(exc):
            return False
        self._reset_pool(self.writer, *([] if self.replica is self.reader else [self.replica]))
        return True

    def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one write transaction, rerunning it after a deadlock (PostgreSQL), or
        after a connection lost before its COMMIT, until a primary answers (for up to
        `failover_wait_s`; coop.db_failover)."""
        attempt = 1
        patience = Patience(self.failover_wait_s)
        while True:
            try:
                with self.writing() as session:
                    return work(session)
            except Exception as exc:
                if _driver_error(exc) is None:
                    raise
                problem = storage_problem(exc)
                if problem is not None:
                    log.error("write refused by the storage: %s (%s)", problem, exc)
                    raise StorageUnavailable(
                        f"{problem}: nothing was written; the books are as they were. "
                        "Tell the administrator; reading still works") from exc
                if self._lost(exc):  # never reached its COMMIT (writing()): nothing written
                    if patience.another_try(exc):
                        continue
                    raise books_unreachable() from exc
                if not is_retryable(exc) or attempt >= WRITE_ATTEMPTS_MAX:
                    raise
                log.info("write rerun after %s (attempt %d)", exc, attempt)
                time.sleep(random.uniform(0.001, 0.01) * attempt)  # noqa: S311 - jitter only
                attempt += 1

    def write_batch(self, works: Sequence[Callable[[Session], Any]]) -> list[tuple[bool, Any]]:
        """Several writers' works in one transaction and one commit (group commit): one
        fsync for all, each work in its own savepoint. For each work, (True, its result) or
        (False, the exception it raised); none is reported before the commit is durable.

        A work that raises a refusal of its own (a domain error, a constraint) is undone alone
        and the others commit. Any other database error (disk full, I/O) may have ended the
        whole transaction, so the batch is undone and each work runs again in a transaction
        of its own, exactly as `write` runs it: the same outcome as without grouping."""
        if len(works) == 1:
            return [self._outcome(works[0])]
        results: list[tuple[bool, Any]] = []
        try:
            with self.writing() as session:
                _, cursor = driver_cursor(session)
                for work in works:
                    # the work before's writes (PostgreSQL) go with this one's first statement
                    queued, sent = db_pg.queue_state(session)
                    db_pg.defer(session, "SAVEPOINT coop_write", [()])  # with its first
                    try:
                        result = work(session)
                        if session.new or session.dirty or session.deleted:
                            session.flush()
                    except Exception as exc:
                        if _ends_transaction(exc) or (
                                queued and _driver_error(exc) is not None
                                and db_pg.queue_state(session)[1] == sent):
                            # the error may be the work before's writes failing, in its
                            # savepoint, which rolling back "this" one would undo after
                            # it was counted done: the group is undone, each runs alone
                            raise
                        cursor.execute("ROLLBACK TO SAVEPOINT coop_write")
                        forget_memos(session)
                        cursor.execute("RELEASE SAVEPOINT coop_write")
                        if len(session.identity_map) or session.new or session.deleted:
                            # ORM state the savepoint's rollback cannot take back
                            raise _Ungroupable from exc
                        results.append((False, exc))
                    else:  # with the next work's first statement, or the COMMIT
                        db_pg.defer(session, "RELEASE SAVEPOINT coop_write", [()])
                        results.append((True, result))
        except OutcomeUnknown:
            raise  # committed or not: running the works again could record them twice
        except Exception as exc:
            log.info("group commit undone (%s): each write on its own", type(exc).__name__)
            return [self._outcome(work) for work in works]
        return results

    def _outcome(self, work: Callable[[Session], Any]) -> tuple[bool, Any]:
        try:
            return True, self.write(work)
        except Exception as exc:
            return False, exc

    def read(self, work: Callable[[Session], T]) -> T:
        return self._read(self.reading, work)

    def read_report(self, work: Callable[[Session], T]) -> T:
        """`read` on the replica when there is one (see `reading_report`)."""
        return self._read(self.reading_report, work)

    def _read(self, snapshot: Callable[[], contextlib.AbstractContextManager[Session]],
              work: Callable[[Session], T]) -> T:
        """Run again after a lost connection (a read changes nothing) while one may answer."""
        patience = Patience(self.failover_wait_s)
        while True:
            try:
                with snapshot() as session:
                    return work(session)
            except Exception as exc:
                if not self._lost(exc) or not patience.another_try(exc):
                    raise

    def dispose(self) -> None:
        self.writer.dispose()
        self.reader.dispose()
        self.replica.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
