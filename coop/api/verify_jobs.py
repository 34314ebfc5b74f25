"""Verify as a job, and as a stream (issue 20, "Speed"): GET /ledger/verify answers only once
the whole book is checked (a million entries take several seconds, during which a browser or a
proxy sees nothing), so the same check can also run in the background and say how far it is.

- `POST /ledger/verify-jobs` starts the check GET /ledger/verify makes (`check_books`: the hash
  chain, every balance, then every register) in a thread of this server process and answers
  at once (202) with the job. One runs at a time per app: asked again while one runs, the
  running one is answered (200) and nothing else starts. Starting one is written in the audit
  trail (it changes no books, so it is not an idempotent write: a second start finds the
  first running, or starts a fresh check of the books as they are then).
- `GET /ledger/verify-jobs/{id}`: its state (`running`, `done`, `failed`), entries checked of
  the book's entries (its chain head's number when it started), a whole percent that reaches
  100 only when done (the registers are checked after the entries), and once done `result`,
  exactly the answer of GET /ledger/verify. A failure becomes `failed` with plain words (the
  cause goes to the server's log, never to the client).
- Jobs live in memory, the last `JOBS_KEPT`: a restart forgets them. They hold entry numbers,
  account codes and figures, as verify's answer does: no member's name, phone or anything of
  her identity.
- Progress comes from verify's `progress` callback: every `PROGRESS_EVERY` entries from this
  thread, or, for a book big enough to be checked in two processes at once, the sum of both
  halves. The count shown never goes back (should the second process fail, its half is
  checked again here, counted from the seam).
- `verify_lines`: the same check for one request as NDJSON, a line `{"entries_checked",
  "entries_total"}` at the start and at each step, the answer of GET /ledger/verify last
  (or `{"state": "failed", "message"}`), for GET /ledger/verify with
  `Accept: application/x-ndjson`.

A job's thread holds one read snapshot while it runs; the app's shutdown waits for it (up to
`SHUTDOWN_WAIT_SECONDS`) so its connection is back before the database is closed. With
COOP_REPLICA_URL the check reads the replica (`Database.read_report`): the books as the
standby has them, a moment behind the primary at most.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from coop import registers
from coop.api.schemas.common import dump
from coop.api.schemas.ledger import VerifyOut, verify_out
from coop.clock import Clock
from coop.db import Database
from coop.errors import CoopError
from coop.ledger import queries
from coop.ledger.verify import Problem, verify

log = logging.getLogger(__name__)

JOBS_KEPT = 10
SHUTDOWN_WAIT_SECONDS = 30.0
NDJSON = "application/x-ndjson"
FAILED_WORDS = ("the check could not finish: the books could not be read to the end (the "
                "server's log says why); start it again, or run `coop verify` on the server")

JobState = Literal["running", "done", "failed"]


def check_books(db: Database, *, progress: Callable[[int], None] | None = None) -> VerifyOut:
    """What GET /ledger/verify answers: the chain and every balance recomputed (`progress` is
    told the entries checked, every few thousand), then every register's problems."""
    report = db.read_report(lambda session: verify(session, progress=progress))
    for account, message in db.read_report(registers.reconcile_registers):
        report.add(Problem(None, account, message))
    return verify_out(report)


def entries_total(db: Database) -> int:
    """The entries a check will go through: the chain head's number (read in O(1))."""
    book = db.read_report(queries.book)
    return book.head_seq if book is not None else 0


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as it stands at one moment."""

    id: str
    state: JobState
    entries_checked: int
    entries_total: int
    started_at: datetime
    finished_at: datetime | None
    result: VerifyOut | None
    message: str | None

    @property
    def percent(self) -> int:
        """Whole percent of the entries checked; 100 only once done."""
        if self.state == "done":
            return 100
        if self.entries_total <= 0:
            return 0
        return min(99, self.entries_checked * 100 // self.entries_total)


class VerifyJob:
    """One check of the books, told its progress from the thread that runs it and read from
    the request threads (every change under its condition, so a view is never torn)."""

    def __init__(self, *, total: int, started_at: datetime) -> None:
        self._changed = threading.Condition()
        self._view = JobView(id=uuid.uuid4().hex, state="running", entries_checked=0,
                             entries_total=total, started_at=started_at, finished_at=None,
                             result=None, message=None)

    @property
    def id(self) -> str:
        return self._view.id

    def view(self) -> JobView:
        with self._changed:
            return self._view

    def advance(self, checked: int) -> None:
        """Verify's progress callback: a count that never goes back."""
        with self._changed:
            now = self._view
            if now.state == "running" and checked > now.entries_checked:
                self._view = replace(now, entries_checked=checked)
                self._changed.notify_all()

    def finish(self, result: VerifyOut, *, at: datetime) -> None:
        """Done: the count is the entries verify went through, and so is the total."""
        with self._changed:
            self._view = replace(self._view, state="done", entries_checked=result.entries_checked,
                                 entries_total=result.entries_checked, finished_at=at,
                                 result=result)
            self._changed.notify_all()

    def fail(self, message: str, *, at: datetime) -> None:
        with self._changed:
            self._view = replace(self._view, state="failed", finished_at=at, message=message)
            self._changed.notify_all()

    def wait(self, seen: int) -> JobView:
        """The job once its count is other than `seen`, or once it has ended."""
        with self._changed:
            self._changed.wait_for(lambda: self._view.state != "running"
                                   or self._view.entries_checked != seen)
            return self._view


def failure_words(error: BaseException) -> str:
    """A failure in plain words: a refusal's own, else a sentence that names no table or SQL."""
    if isinstance(error, CoopError):
        return f"the check could not finish: {error.detail}"
    return FAILED_WORDS


def run_job(job: VerifyJob, db: Database, clock: Clock) -> None:
    """The job's thread: check the books, then say how it went."""
    message = FAILED_WORDS
    try:
        result = check_books(db, progress=job.advance)
    except Exception as error:  # anything: the job says it failed, the log says why
        log.warning("verify job %s failed", job.id, exc_info=True)
        message = failure_words(error)
    else:
        job.finish(result, at=clock.now())
    finally:
        if job.view().state == "running":  # an exception, or the thread was stopped
            job.fail(message, at=clock.now())


def start_thread(job: VerifyJob, db: Database, clock: Clock) -> threading.Thread:
    thread = threading.Thread(target=run_job, args=(job, db, clock),
                              name=f"verify-job-{job.id[:8]}", daemon=True)
    try:
        thread.start()
    except RuntimeError:  # no thread to be had: the job cannot run
        log.warning("verify job %s could not start a thread", job.id, exc_info=True)
        job.fail("the check could not start: the server has no thread to spare; try again "
                 "in a moment", at=clock.now())
    return thread


class VerifyJobs:
    """An app's jobs: at most one running, the last `kept` remembered."""

    def __init__(self, kept: int = JOBS_KEPT) -> None:
        self._kept = kept
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, VerifyJob] = OrderedDict()
        self._threads: dict[str, threading.Thread] = {}

    def get(self, job_id: str) -> VerifyJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def claim(self, *, total: int, started_at: datetime) -> tuple[VerifyJob, bool]:
        """The running job and False, or a new one (kept, not started yet) and True."""
        with self._lock:
            running = next((job for job in self._jobs.values()
                            if job.view().state == "running"), None)
            if running is not None:
                return running, False
            job = VerifyJob(total=total, started_at=started_at)
            self._jobs[job.id] = job
            while len(self._jobs) > max(self._kept, 1):  # none runs: the oldest has ended
                old, _ = self._jobs.popitem(last=False)
                self._threads.pop(old, None)
            return job, True

    def forget(self, job: VerifyJob) -> None:
        """A claimed job that will not run after all (its start could not be recorded)."""
        with self._lock:
            self._jobs.pop(job.id, None)

    def start(self, job: VerifyJob, db: Database, clock: Clock) -> None:
        thread = start_thread(job, db, clock)
        with self._lock:
            self._threads[job.id] = thread

    def start_or_join(self, db: Database, clock: Clock, *,
                      record: Callable[[], object]) -> tuple[JobView, bool]:
        """The running job (and False), or a fresh one started (and True) once `record` has
        written its start in the audit trail; should that fail, nothing starts."""
        job, fresh = self.claim(total=entries_total(db), started_at=clock.now())
        if fresh:
            try:
                record()
            except BaseException:
                self.forget(job)
                raise
            self.start(job, db, clock)
        return job.view(), fresh

    def wait(self, timeout: float = SHUTDOWN_WAIT_SECONDS) -> None:
        """Wait for the running job's thread (the app is shutting down)."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            if thread.is_alive():
                thread.join(timeout)


def _line(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def verify_lines(db: Database, clock: Clock) -> Iterator[bytes]:
    """GET /ledger/verify as NDJSON: the check starts now (in a thread of its own, so the
    lines are sent while it runs), its progress a line at a time, its answer last."""
    job = VerifyJob(total=entries_total(db), started_at=clock.now())
    start_thread(job, db, clock)
    return _job_lines(job)


def _job_lines(job: VerifyJob) -> Iterator[bytes]:
    view = job.view()
    seen = 0
    yield _line({"entries_checked": 0, "entries_total": view.entries_total})
    while view.state == "running":
        view = job.wait(seen)
        if view.state == "running":
            seen = view.entries_checked
            yield _line({"entries_checked": seen, "entries_total": view.entries_total})
    if view.result is not None:
        yield _line(dump(view.result))
    else:
        yield _line({"state": "failed", "message": view.message})


__all__ = ["JOBS_KEPT", "NDJSON", "JobView", "VerifyJob", "VerifyJobs", "check_books",
           "entries_total", "verify_lines"]
