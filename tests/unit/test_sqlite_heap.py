"""SQLite's memory in `coop serve` is bounded as a whole (coop.db.SQLITE_HEAP_LIMIT_KIB): once
SQLite's own heap reaches the limit, the readers' page caches stop growing. Measured with APSW's
SQLite, which reports its heap (`apsw.memory_used`); the pragma is the same for both drivers.
The negative control lifts the limit, and the same reads then take the caches past it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import apsw
import pytest
from sqlalchemy import text

from coop import db
from coop.db import Database

MIB = 1024 * 1024
READERS = 5
ROWS = 12_000  # about 5 MiB of table: more than READERS caches of READER_CACHE_KIB


@pytest.fixture
def books(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'heap.db'}"
    setup = Database(url, pool_size=1, sqlite_driver="apsw")
    with setup.writing() as session:
        session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, pad TEXT NOT NULL)"))
        session.execute(text("INSERT INTO t (pad) SELECT printf('%.400c', 'x') FROM "
                             "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                             f"WHERE i < {ROWS}) SELECT i FROM n)"))
    setup.dispose()
    yield url
    with apsw.Connection(":memory:") as reset:  # the limit is the process's, not the test's
        reset.execute(f"PRAGMA soft_heap_limit={db.SQLITE_HEAP_LIMIT_KIB * 1024}")


def heap_after_reading(url: str) -> tuple[int, int]:
    """SQLite's heap before and after READERS connections each read the whole table, all
    open at once (so each keeps its own cache)."""
    books = Database(url, pool_size=READERS, sqlite_driver="apsw")
    try:
        before = apsw.memory_used()
        with ExitStack() as stack:
            for _ in range(READERS):
                session = stack.enter_context(books.reading())
                assert session.execute(text("SELECT count(*), sum(length(pad)) FROM t")).one() \
                    == (ROWS, ROWS * 400)
            during = apsw.memory_used()
        return before, during
    finally:
        books.dispose()


def test_the_readers_caches_stop_at_the_limit(books: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "SQLITE_HEAP_LIMIT_KIB", 1024)
    before, during = heap_after_reading(books)
    # schema and statements of five connections (about 0.6 MiB) may go past the limit; pages not
    assert during <= max(before, MIB) + MIB, (before, during)


def test_without_the_limit_the_same_reads_fill_every_cache(
        books: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "SQLITE_HEAP_LIMIT_KIB", 0)  # 0: no limit
    before, during = heap_after_reading(books)
    assert during - before >= READERS * db.READER_CACHE_KIB * 1024 * 0.9, (before, during)


def test_every_connection_sets_the_limit(tmp_path: Path) -> None:
    for driver in db.SQLITE_DRIVERS:
        books = Database(f"sqlite:///{tmp_path / f'{driver}.db'}", pool_size=1,
                         sqlite_driver=driver)
        try:
            for open_books in (books.reading, books.writing):
                with open_books() as session:
                    assert session.execute(text("PRAGMA soft_heap_limit")).scalar_one() \
                        == db.SQLITE_HEAP_LIMIT_KIB * 1024
        finally:
            books.dispose()
