"""COOP_WORKER_THREADS bounds the threads that run the server's database work: anyio's (the
writes and the async handlers' reads) and the event loop's own executor, where Litestar runs
the sync handlers (its default would be the CPUs plus four)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from litestar import get
from litestar.testing import TestClient

from coop.api import create_app
from coop.config import Settings
from coop.db import Database

WORKERS = 3
BUSY_S = 0.15


@get("/test-thread", sync_to_thread=True, opt={"public": True})
def thread_name() -> dict[str, str]:
    time.sleep(BUSY_S)  # long enough that the requests overlap
    return {"thread": threading.current_thread().name}


def test_sync_handlers_run_on_at_most_the_configured_threads() -> None:
    app = create_app(Settings(database_url="sqlite:///unused-threads.db",
                              worker_threads=WORKERS), db=cast(Database, object()))
    app.register(thread_name)
    with TestClient(app=app) as client:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=12) as clients:
            answers = list(clients.map(lambda _: client.get("/test-thread"), range(12)))
        elapsed = time.monotonic() - started
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    names = {a.json()["thread"] for a in answers}
    assert all(name.startswith("coop-worker") for name in names), names
    assert len(names) <= WORKERS, names
    # Twelve requests of 0.15 s on three threads take four rounds; a thread each would be one.
    assert elapsed >= 4 * BUSY_S * 0.9, elapsed
