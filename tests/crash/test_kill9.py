"""Crash safety (issue 9): a child posts a stream of counter operations and is killed with
SIGKILL at random moments; after every kill the books are checked (no partial entry, no
cached-balance drift, every acknowledged operation present exactly once and as asked), the
operation in flight is retried with the same request and key (at most one entry in all), an
acknowledged one is sent again (replayed, nothing new), and a new child carries on.

Service mode: the child calls the services with `key=`. HTTP mode: the child is the real app
under uvicorn and the parent is the client, with an `Idempotency-Key` on every POST.

COOP_CRASH_KILLS (service mode, default 60) and COOP_CRASH_HTTP_KILLS (HTTP mode, default 15)
set the kills per engine; COOP_CRASH_SEED (default 20250630) the seed, printed with the
figures: the same seed gives the same operations, kill delays and retries.

The negative controls run deliberately broken writers under the same checker and assert that
it reports them: an acknowledgement before the commit (lost acknowledged), an entry's legs in
two transactions (partial entry), its cached balances moved in a second transaction (drift),
and a retry without its key, through the service and through HTTP (applied twice).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.process import BaseProcess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlalchemy.exc import DBAPIError

from coop.api import create_app
from coop.clock import FixedClock
from coop.config import Settings
from coop.db import Database
from coop.ledger.orm import entry_table
from tests.crash import worker
from tests.crash.harness import (
    DEFAULT_HTTP_KILLS,
    DEFAULT_SERVICE_KILLS,
    KILL_DELAY_S,
    PASSWORDS,
    VAULT,
    Books,
    Findings,
    Op,
    SideFile,
    Tally,
    available_in,
    check_books,
    child_url,
    engine_name,
    env_int,
    http_request,
    plan_op,
    run_op,
    seed,
    set_up,
    wait_for_sessions_gone,
)

FORK = multiprocessing.get_context("fork")
READY_TIMEOUT_S = 30
CLIENTS = 2


_CHILDREN: list[BaseProcess] = []


def _spawn(target: Callable[..., None], *args: object) -> BaseProcess:
    child = FORK.Process(target=target, args=args, daemon=True)
    child.start()
    _CHILDREN.append(child)
    return child


@pytest.fixture(autouse=True)
def _no_child_left() -> Iterator[None]:
    """A test that fails half-way leaves no child running (nor holding a session)."""
    yield
    while _CHILDREN:
        child = _CHILDREN.pop()
        if child.is_alive() and child.pid is not None:
            os.kill(child.pid, signal.SIGKILL)
        child.join(30)


@pytest.fixture
def books(db: Database, clock: FixedClock) -> Books:
    return set_up(db, clock)


def _child_error(side_dir: Path) -> str:
    path = side_dir / "child-error.txt"
    return path.read_text() if path.exists() else "(no traceback written)"


def _kill(process: BaseProcess, side_dir: Path) -> None:
    assert process.pid is not None
    assert process.is_alive(), f"the child died before its kill:\n{_child_error(side_dir)}"
    os.kill(process.pid, signal.SIGKILL)
    process.join(30)
    assert process.exitcode == -signal.SIGKILL, process.exitcode


def _entries_with_key(db: Database, key: str) -> int:
    return int(db.read(lambda s: s.execute(
        sql_select(func.count()).select_from(entry_table)
        .where(entry_table.c.idempotency_key == key)).scalar_one()))


def _entry_of(db: Database, key: str) -> int | None:
    return db.read(lambda s: s.execute(sql_select(entry_table.c.id)
                                       .where(entry_table.c.idempotency_key == key)).scalar())


# --- service mode ---------------------------------------------------------------------------


@dataclass
class ServiceRun:
    """The parent of service-mode children: start, kill, check, retry, carry on."""

    db: Database
    url: str
    books: Books
    clock: FixedClock
    side_dir: Path
    run_seed: int
    mode: str = "correct"
    tally: Tally = field(default_factory=Tally)
    ops: dict[str, Op] = field(default_factory=dict)
    acked: dict[str, Op] = field(default_factory=dict)
    rounds: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.run_seed}:{self.mode}:kills")
        self.attempting = SideFile(self.side_dir / "attempting")
        self.acked_file = SideFile(self.side_dir / "acked")

    def kill_once(self) -> Findings:
        """One child, killed after a random delay; the books checked; returns the findings."""
        self.rounds += 1
        name = f"coop-crash-{os.getpid()}-{self.mode}-{self.rounds}"
        start = max((op.n for op in self.ops.values()), default=-1) + 1
        self.db.dispose()  # nothing of the parent's crosses the fork
        ready_read, ready_write = os.pipe()
        child = _spawn(worker.service_child, child_url(self.url, name), self.books,
                       self.run_seed, start, self.side_dir, ready_write, self.mode)
        os.close(ready_write)
        try:
            readable, _, _ = select.select([ready_read], [], [], READY_TIMEOUT_S)
            assert readable and os.read(ready_read, 1) == b"r", (
                f"the child did not start:\n{_child_error(self.side_dir)}")
        finally:
            os.close(ready_read)
        time.sleep(self.rng.uniform(*KILL_DELAY_S))
        _kill(child, self.side_dir)
        self.tally.kills += 1
        wait_for_sessions_gone(self.db, name)
        for line in self.attempting.records():
            op = Op.from_json(line)
            self.ops[op.key] = op
        self.acked = {key: self.ops[key] for key in self.acked_file.records()}
        findings = self.check(f"kill {self.tally.kills}")
        self.tally.survived += findings.ok
        self.tally.acked = len(self.acked)
        return findings

    def check(self, when: str) -> Findings:
        findings = check_books(self.db, books=self.books, acked=self.acked,
                               attempted=set(self.ops), http=False)
        self.tally.add(findings, when)
        return findings

    def retry_in_flight(self) -> None:
        """The operation the kill interrupted, again with the same request and key: one entry
        in all, whether it had committed (replayed) or not (applied now)."""
        for key, op in self.ops.items():
            if key in self.acked:
                continue
            _, replayed = run_op(self.db, op, self.clock, actor="retry")
            self.tally.in_flight += 1
            self.tally.landed += replayed
            if _entries_with_key(self.db, key) != 1:
                self.tally.twice += 1
                self.tally.notes.append(f"{key}: {_entries_with_key(self.db, key)} entries "
                                        "after its retry")
            self.acked_file.append(key)
            self.acked[key] = op

    def resend_acknowledged(self, *, keyed: bool = True) -> None:
        """An acknowledged operation sent again (its answer lost, say): with its key it is
        replayed and changes nothing. `keyed=False` is the negative control's broken retry."""
        if not self.acked:
            return
        key = self.rng.choice(sorted(self.acked))
        first = _entry_of(self.db, key)
        entry_id, replayed = run_op(self.db, replace(self.acked[key], key=key if keyed else ""),
                                    self.clock, actor="retry")
        self.tally.resent += 1
        if keyed and (entry_id, replayed) != (first, True):
            self.tally.twice += 1
            self.tally.notes.append(f"{key} sent again: entry {entry_id} (replayed "
                                    f"{replayed}), first entry {first}")


def test_kill9_through_the_services(db: Database, database_url: str, books: Books,
                                    clock: FixedClock, tmp_path: Path,
                                    crash_report: Callable[[str], None]) -> None:
    run_seed, kills = seed(), env_int("COOP_CRASH_KILLS", DEFAULT_SERVICE_KILLS)
    started = time.monotonic()
    run = ServiceRun(db, database_url, books, clock, tmp_path, run_seed)
    for _ in range(kills):
        run.kill_once()
        run.retry_in_flight()
        run.resend_acknowledged()
    run.check("the end")
    crash_report(run.tally.line(engine_name(database_url), "service", run_seed,
                                time.monotonic() - started))
    assert run.tally.clean, run.tally.notes
    assert run.tally.kills == kills and run.tally.acked > kills
    if kills >= 10:
        assert run.tally.in_flight > 0, "no kill landed while an operation was in flight"


# --- HTTP mode ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HttpRun:
    """The parent of HTTP-mode children: it serves the app in a child and is its client."""

    db: Database
    url: str
    books: Books
    side_dir: Path
    run_seed: int
    tally: Tally = field(default_factory=Tally)
    ops: dict[str, Op] = field(default_factory=dict)
    acked: dict[str, Op] = field(default_factory=dict)
    entry_ids: dict[str, int] = field(default_factory=dict)
    in_flight: list[Op] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    next_n: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.run_seed}:http:kills")
        self.name = f"coop-crash-{os.getpid()}-http"
        self.attempting = SideFile(self.side_dir / "attempting")
        self.acked_file = SideFile(self.side_dir / "acked")
        self.lock = threading.Lock()
        self.available = available_in(self.db)
        self.headers = {"Authorization": f"Bearer {self.books.token}"}
        # Built here and never started here: each child serves its own copy, and the app's
        # Database opens its first connection in the child.
        app_db = Database(child_url(self.url, self.name), pool_size=6)
        self.app = create_app(Settings(database_url=self.url, worker_threads=4), db=app_db,
                              clock=FixedClock(self.books.business_date),
                              passwords=PASSWORDS, vault=VAULT)
        self.child: BaseProcess | None = None
        self.base_url = ""

    def start(self) -> None:
        self.db.dispose()
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.child = _spawn(worker.http_child, self.app, port, self.side_dir)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.child.is_alive(), f"the server died:\n{_child_error(self.side_dir)}"
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.01)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        assert self.child is not None
        _kill(self.child, self.side_dir)
        wait_for_sessions_gone(self.db, self.name)

    def post(self, client: httpx.Client, op: Op, *, keyed: bool = True) -> httpx.Response:
        path, body = http_request(op)
        return client.post(path, json=body,
                           headers={"Idempotency-Key": op.key} if keyed else {})

    def client(self, slot: int, stop: threading.Event) -> None:
        """One counter clerk: her own members, one request at a time, until the server dies."""
        mine = self.books.codes[slot::CLIENTS]
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=60) as client:
            while not stop.is_set():
                with self.lock:
                    n, self.next_n = self.next_n, self.next_n + 1
                op = plan_op(self.run_seed, n, "http", self.books, self.available,
                             members_of=mine, savings_shares=False)
                with self.lock:
                    self.attempting.append(op.to_json())
                    self.ops[op.key] = op
                try:
                    response = self.post(client, op)
                except httpx.TransportError:
                    with self.lock:
                        self.in_flight.append(op)
                    return
                if response.status_code != 201:
                    with self.lock:
                        self.errors.append(f"{op}: {response.status_code} {response.text}")
                    return
                with self.lock:
                    self.acked_file.append(op.key)
                    self.acked[op.key] = op
                    self.entry_ids[op.key] = int(response.json()["entry_id"])

    def stream_and_kill(self) -> Findings:
        stop = threading.Event()
        clients = [threading.Thread(target=self.client, args=(slot, stop), daemon=True)
                   for slot in range(CLIENTS)]
        for thread in clients:
            thread.start()
        time.sleep(self.rng.uniform(*KILL_DELAY_S))
        self.kill()
        stop.set()
        for thread in clients:
            thread.join(60)
            assert not thread.is_alive(), "a client did not notice the server's death"
        assert not self.errors, self.errors
        self.tally.kills += 1
        findings = self.check(f"kill {self.tally.kills}")
        self.tally.survived += findings.ok
        self.tally.acked = len(self.acked)
        return findings

    def check(self, when: str) -> Findings:
        findings = check_books(self.db, books=self.books, acked=self.acked,
                               attempted=set(self.ops), http=True)
        self.tally.add(findings, when)
        return findings

    def retry_in_flight(self) -> None:
        """The requests the kill interrupted, again with the same key and body: 201, and
        `Idempotent-Replayed` when the first attempt had committed."""
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=60) as client:
            for op in self.in_flight:
                response = self.post(client, op)
                assert response.status_code == 201, (op, response.status_code, response.text)
                self.tally.in_flight += 1
                self.tally.landed += response.headers.get("idempotent-replayed") == "true"
                self.acked_file.append(op.key)
                self.acked[op.key] = op
                self.entry_ids[op.key] = int(response.json()["entry_id"])
        self.in_flight.clear()

    def resend_acknowledged(self, *, keyed: bool = True) -> None:
        if not self.acked:
            return
        key = self.rng.choice(sorted(self.acked))
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=60) as client:
            response = self.post(client, self.acked[key], keyed=keyed)
        assert response.status_code == 201, response.text
        self.tally.resent += 1
        replayed = response.headers.get("idempotent-replayed") == "true"
        entry_id = int(response.json()["entry_id"])
        if keyed and (entry_id, replayed) != (self.entry_ids[key], True):
            self.tally.twice += 1
            self.tally.notes.append(f"{key} sent again: entry {entry_id} (replayed "
                                    f"{replayed}), first entry {self.entry_ids[key]}")


def test_kill9_through_the_http_server(db: Database, database_url: str, books: Books,
                                       tmp_path: Path,
                                       crash_report: Callable[[str], None]) -> None:
    run_seed, kills = seed(), env_int("COOP_CRASH_HTTP_KILLS", DEFAULT_HTTP_KILLS)
    started = time.monotonic()
    run = HttpRun(db, database_url, books, tmp_path, run_seed)
    for _ in range(kills):
        run.start()
        run.retry_in_flight()
        run.resend_acknowledged()
        run.stream_and_kill()
    run.start()  # the last kill's requests in flight, retried; then a last look
    run.retry_in_flight()
    run.resend_acknowledged()
    run.kill()
    run.check("the end")
    crash_report(run.tally.line(engine_name(database_url), "http", run_seed,
                                time.monotonic() - started))
    assert run.tally.clean, run.tally.notes
    assert run.tally.kills == kills and run.tally.acked > kills
    if kills >= 10:
        assert run.tally.in_flight > 0, "no kill landed while a request was in flight"


# --- negative controls: the checker sees a broken writer ------------------------------------

CONTROL_KILLS_MAX = 25


@pytest.mark.parametrize(("mode", "flagged"), [
    ("ack_early", "lost"),
    ("split_legs", "partial"),
    ("split_counters", "drift"),
])
def test_the_checker_catches_a_broken_writer(
        db: Database, database_url: str, books: Books, clock: FixedClock, tmp_path: Path,
        crash_report: Callable[[str], None], mode: str, flagged: str) -> None:
    """The same kills and the same checker on a child that writes the wrong way: within a
    few kills the checker reports what that writer breaks."""
    run = ServiceRun(db, database_url, books, clock, tmp_path, seed(), mode=mode)
    caught: Findings | None = None
    for _ in range(CONTROL_KILLS_MAX):
        findings = run.kill_once()
        if getattr(findings, flagged):
            caught = findings
            break
        assert findings.ok, findings  # a broken writer breaks only what it breaks
    assert caught is not None, f"{CONTROL_KILLS_MAX} kills of a {mode} writer went unnoticed"
    if flagged in ("partial", "drift"):
        assert caught.verify, "verify agrees with the direct queries"
    if mode == "split_legs" and not db.is_sqlite:
        # without the child's bypass, PostgreSQL's deferred trigger refuses the first half
        op = Op("guarded", 0, "deposit", books.codes[0], 100)
        with pytest.raises(DBAPIError, match="does not balance"):
            worker.split_deposit(db, op, clock, legs=True, bypass_guards=False)
    crash_report(f"crash harness negative control ({engine_name(database_url)}, {mode}): "
                 f"flagged after {run.tally.kills} kill(s): {caught}")


def test_the_checker_catches_a_retry_without_its_key(
        db: Database, database_url: str, books: Books, clock: FixedClock, tmp_path: Path,
        crash_report: Callable[[str], None]) -> None:
    """An acknowledged operation sent again without its key, through the service and through
    HTTP, is an application twice, and the checker says so."""
    (tmp_path / "service").mkdir()
    run = ServiceRun(db, database_url, books, clock, tmp_path / "service", seed())
    assert run.kill_once().ok
    run.retry_in_flight()
    run.resend_acknowledged(keyed=False)
    service = run.check("a keyless retry")
    assert service.twice and not service.lost, service

    (tmp_path / "http").mkdir()
    head = db.read(lambda s: s.execute(sql_select(func.max(entry_table.c.id))).scalar_one())
    http = HttpRun(db, database_url, replace(books, baseline=head), tmp_path / "http", seed())
    http.start()
    http.stream_and_kill()
    http.start()
    http.retry_in_flight()
    http.resend_acknowledged(keyed=False)
    http.kill()
    caught = http.check("a keyless retry")
    assert caught.twice and not caught.lost, caught
    crash_report(f"crash harness negative control ({engine_name(database_url)}, keyless "
                 f"retry): service {service.twice[:1]}; http {caught.twice[:1]}")
