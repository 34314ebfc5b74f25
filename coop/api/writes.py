"""How the API runs a counter request's one write transaction.

SQLite (`GroupCommit`): on the event loop, grouped. The first request to arrive schedules a
flush; every request that reaches its write before the flush runs joins it; the flush runs
them all in one transaction, each in its own savepoint, and one commit (one fsync) makes them
durable together (`Database.write_batch`). No request is answered before that commit. On one
core this is what a single SQLite writer can do best: no thread hand-offs, no fight over the
GIL while holding the writer, and the disk's sync shared.

PostgreSQL (`ThreadWrites`): in the worker threads, each request its own transaction; the
server's processes and PostgreSQL's own group commit do the rest.
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
        except BaseException as exc:  # write_batch reports each work's own failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            raise
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():  # the client went away: the write stands, unanswered
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


def writes_for(db: Database) -> Writes:
    return GroupCommit(db) if db.is_sqlite else ThreadWrites(db)
