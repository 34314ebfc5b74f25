"""How the API runs a counter request's one write transaction.

SQLite (`GroupCommit`): on the event loop, grouped. The first request to arrive schedules a
flush; every request that reaches its write before the flush runs joins it; the flush runs
them all in one transaction, each in its own savepoint, and one commit (one fsync) makes them
durable together (`Database.write_batch`). No request is answered before that commit. On one
core this is what a single SQLite writer can do best: no thread hand-offs, no fight over the
GIL while holding the writer, and the disk's sync shared.

PostgreSQL (`ThreadGroupCommit`): the same grouping, run in a worker thread (the driver
blocks): while one group's transaction runs, the requests that arrive wait, and go together as
the next group. Every deposit takes the same rows (the book's chain head, the control accounts,
the clerk's till) until its commit; one transaction per request in many threads made a queue of
backends on those rows, each handed the lock in turn by the scheduler, and one fsync each. One
group at a time per process hands the rows over once per group and shares the fsync.
`ThreadWrites` (one transaction per request in the worker threads) stays for comparison and
for COOP_GROUP_COMMIT=0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import anyio.to_thread
from sqlalchemy.orm import Session

from coop.db import Database

T = TypeVar("T")


class Writes(Protocol):
    async def run(self, work: Callable[[Session], T]) -> T: ...


class ThreadWrites:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, work: Callable[[Session], T]) -> T:
        return await anyio.to_thread.run_sync(self.db.write, work)


class ThreadGroupCommit:
    def __init__(self, db: Database, *, limit: int = 64) -> None:
        self.db = db
        self.limit = limit
        self._pending: list[tuple[Callable[[Session], Any], asyncio.Future[Any]]] = []
        self._draining = False
        self.batches = 0
        self.writes = 0

    async def run(self, work: Callable[[Session], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:self.limit]
                del self._pending[:self.limit]
                self.batches += 1
                self.writes += len(batch)
                try:
                    outcomes = await anyio.to_thread.run_sync(
                        self.db.write_batch, [work for work, _ in batch])
                except Exception as exc:  # the group as a whole (its COMMIT's outcome unknown)
                    _settle_all(batch, exc)  # each of its requests hears it; the next go on
                    continue
                except BaseException as exc:
                    _settle_all(batch, exc)
                    raise
                _settle(batch, outcomes)
        finally:
            self._draining = False
            for _, future in self._pending:  # cancelled on the way out: none left waiting
                if not future.done():
                    future.cancel()
            self._pending.clear()


class GroupCommit:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[tuple[Callable[[Session], Any], asyncio.Future[Any]]] = []
        self.batches = 0
        self.writes = 0

    async def run(self, work: Callable[[Session], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((work, future))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self.batches += 1
        self.writes += len(batch)
        try:
            outcomes = self.db.write_batch([work for work, _ in batch])
        except Exception as exc:  # write_batch reports each work's own; this is the group's
            _settle_all(batch, exc)
            return
        except BaseException as exc:
            _settle_all(batch, exc)
            raise
        _settle(batch, outcomes)


_Batch = list[tuple[Callable[[Session], Any], "asyncio.Future[Any]"]]


def _settle(batch: _Batch, outcomes: list[tuple[bool, Any]]) -> None:
    for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
        if future.done():  # the client went away: the write stands, unanswered
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _settle_all(batch: _Batch, exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


def writes_for(db: Database, *, grouped: bool = True) -> Writes:
    if db.is_sqlite:
        return GroupCommit(db)
    return ThreadGroupCommit(db) if grouped else ThreadWrites(db)
