"""Test-only apps for tests/crash/test_ack_durable.py, served in a child by
`python -m uvicorn tests.crash.ackapp:<factory> --factory`. Production never imports this
module: each factory builds the production app (`coop.api.create_app` from the environment,
as `coop serve` does) and then swaps the way its counter requests write.

* `early_ack_app`: BROKEN on purpose, for the negative control. Its writes group requests as
  `coop.api.writes.GroupCommit` does, but run the batch in a thread that answers every
  request (resolves its future) *before* the commit, then waits `EARLY_ACK_PAUSE_S` and only
  then commits. A SIGKILL right after an acknowledgement loses it; the test must see that.
* `counted_app`: the production group commit, unchanged (`GroupCommit` on SQLite,
  `ThreadGroupCommit` on PostgreSQL), that also appends each batch's size to the file named by
  COOP_TEST_BATCH_LOG after the batch is done: the figure that shows the test's clients fill
  group commits with several requests.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

from litestar import Litestar
from sqlalchemy.orm import Session

from coop.api import create_app
from coop.api.deps import AppState
from coop.api.writes import GroupCommit, ThreadGroupCommit
from coop.config import Settings
from coop.db import Database

EARLY_ACK_PAUSE_S = 0.05
BATCH_LOG = "COOP_TEST_BATCH_LOG"

Batch = list[tuple[Any, "asyncio.Future[Any]"]]


class EarlyAck(GroupCommit):
    """BROKEN on purpose: every request of a batch is answered before the batch commits."""

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._write_early, args=(loop, batch), daemon=True).start()

    def _write_early(self, loop: asyncio.AbstractEventLoop, batch: Batch) -> None:
        outcomes: list[tuple[bool, Any]] = []
        with self.db.writing() as session:
            for work, _ in batch:
                outcomes.append(_in_savepoint(session, work))
            loop.call_soon_threadsafe(_resolve, batch, outcomes)  # the answers go out now
            time.sleep(EARLY_ACK_PAUSE_S)
        # ... and only here, when the block ends, the transaction commits


def _in_savepoint(session: Session, work: Any) -> tuple[bool, Any]:
    try:
        with session.begin_nested():
            return True, work(session)
    except Exception as exc:
        return False, exc


def _resolve(batch: Batch, outcomes: list[tuple[bool, Any]]) -> None:
    for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class CountedBatches:
    """The database as the group commits see it: each group's size noted once its
    `write_batch` (the group's one transaction) has returned."""

    def __init__(self, db: Database, *, log_path: str) -> None:
        self.db = db
        self._log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write_batch(self, works: list[Any]) -> Any:
        outcomes = self.db.write_batch(works)
        os.write(self._log, f"{len(works)}\n".encode())
        return outcomes


def _app_state(app: Litestar) -> AppState:
    state: AppState = app.state.coop
    return state


def early_ack_app() -> Litestar:
    app = create_app(Settings.from_env())
    state = _app_state(app)
    state.writes = EarlyAck(state.db)
    return app


def counted_app() -> Litestar:
    app = create_app(Settings.from_env())
    state = _app_state(app)
    counted: Any = CountedBatches(state.db, log_path=os.environ[BATCH_LOG])
    state.writes = GroupCommit(counted) if state.db.is_sqlite else ThreadGroupCommit(counted)
    return app
