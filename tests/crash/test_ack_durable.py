"""A request is acknowledged only after its commit is durable: a crash right after an
acknowledgement loses nothing (issue 20: deposits and withdrawals are grouped into one commit
on SQLite, coop.api.writes.GroupCommit -> Database.write_batch; on PostgreSQL each runs in a
worker thread, a transaction each).

Each round starts the real server, `coop serve` (with `--workers 2` in the second variant), in
a process group of its own, on the test's database (the SQLite file, or PostgreSQL when
COOP_TEST_DATABASE_URL says so). CLIENTS client threads send deposits and withdrawals with
unique Idempotency-Keys as fast as the server answers, so that group commits carry several
requests (test_the_clients_fill_group_commits measures it). The moment the k-th 201 of the
round arrives (k drawn per round) the client that got it SIGKILLs the whole group. Every
acknowledged request (key, entry id) and every request without an answer (in flight) is
recorded. Then, the server dead, the books are checked directly: the harness's checker in HTTP
mode (tests.crash.harness.check_books: verify, loans.reconcile, no partial entry, no drift,
every acknowledged request's entry present exactly once and as asked, nothing applied twice,
so an in-flight request is there at most once), the registers, and every acknowledgement
against the books (its idempotency record names the entry its 201 named, which moved its
amount on the member's savings account). The next round's server first sends every request
acknowledged before the restart again, with its key (201, Idempotent-Replayed: true, the same
entry), then the ones in flight at the kill (201, replayed exactly when the first attempt had
committed). A last start settles the last round, and a last look follows.

The negative control serves a deliberately broken app (tests.crash.ackapp.early_ack_app,
test-only: its writes answer a batch before committing it) to the same clients, kills and
checks: they must catch an acknowledged request lost within a few rounds.

`coop serve` is started as the `coop` command's own `main` in a spare process that loaded its
modules while the previous round ran (SERVE_PRELUDE): the rounds are bounded by server starts.

COOP_ACK_ROUNDS (default 8) and COOP_ACK_WORKER_ROUNDS (default 3) set the kills per variant;
COOP_CRASH_SEED the seed (printed with the figures): it draws the requests and each round's k
(how many requests are in flight at a kill, and which, depends on timing).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coop import auth, registers
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger.orm import account_table, posting_table
from coop.members import savings_account
from tests.crash.ackapp import BATCH_LOG
from tests.crash.harness import (
    CLERK,
    CLERK_PASSWORD,
    VAULT,
    Books,
    Findings,
    Op,
    Tally,
    check_books,
    child_url,
    engine_name,
    env_int,
    money_text,
    seed,
    set_up,
    wait_for_sessions_gone,
)

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 8
DEFAULT_ROUNDS = 8
DEFAULT_WORKER_ROUNDS = 3
KTH_ACK = (5, 80)
"""The round's server is killed the moment its k-th acknowledgement arrives, k in this range."""
WITHDRAWAL_SHARE = 0.25
READY_TIMEOUT_S = 60
CONTROL_ROUNDS_MAX = 5
COUNTED_ACKS = 400


@pytest.fixture
def books(db: Database, clock: FixedClock) -> Books:
    return set_up(db, clock)


# --- the server, in a process group of its own ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group, from /proc."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            alive.append(int(entry))
    return alive


SERVE_PRELUDE = """
import sys

import coop.api.app, coop.api.server, coop.cli, uvicorn  # what `coop serve` loads, ahead

words = sys.stdin.readline().split()
if words:
    sys.argv = ["coop", *words]
    coop.cli.main()
"""
"""A spare server: the `coop` command's own `main` (the console script's), its modules loaded
ahead while the previous round runs; the line it reads is the command (`serve --workers N
--host H --port P`). Starting the server is then what `coop serve` does after its imports."""


@dataclass
class Server:
    """`coop serve` (or with `app`, a test app under uvicorn) on a loopback port, its
    processes in a group of their own: a SIGKILL to the group ends the server's every
    process (uvicorn's supervisor and its workers with `--workers N`) at once."""

    env: dict[str, str]
    log: Path
    workers: int
    marker: str
    """A library a worker has loaded once it has built its app's database engine (APSW's
    module on SQLite, psycopg's on PostgreSQL): with --workers N, the server is ready when
    every worker has."""
    app: str | None = None
    process: subprocess.Popen[bytes] | None = None
    spare: subprocess.Popen[bytes] | None = None
    base_url: str = ""

    def _spawn(self, argv: list[str], *, stdin: int | None = None) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            return subprocess.Popen(argv, env=self.env, cwd=ROOT, stdin=stdin, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def _spare(self) -> subprocess.Popen[bytes]:
        return self._spawn([sys.executable, "-c", SERVE_PRELUDE], stdin=subprocess.PIPE)

    def start(self, *, again: bool = True) -> None:
        """Start the server and wait until it answers (with N workers, until every worker
        has built its app). `again`: another start will follow, so a spare `coop` process
        loads its modules meanwhile."""
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        where = ["--host", "127.0.0.1", "--port", str(port)]
        if self.app is not None:
            assert self.workers == 1
            self.process = self._spawn([sys.executable, "-m", "uvicorn",
                                        f"tests.crash.ackapp:{self.app}", "--factory",
                                        "--log-level", "warning", "--no-access-log", *where])
        else:
            self.process, self.spare = self.spare or self._spare(), None
            assert self.process.stdin is not None
            self.process.stdin.write(" ".join(["serve", "--workers", str(self.workers),
                                               *where]).encode() + b"\n")
            self.process.stdin.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._ready():
            assert self.process.poll() is None, f"the server died:\n{self._log_tail()}"
            assert time.monotonic() < deadline, f"the server did not start:\n{self._log_tail()}"
            time.sleep(0.02)
        if again and self.app is None:
            self.spare = self._spare()

    def _ready(self) -> bool:
        try:
            if httpx.get(f"{self.base_url}/health", timeout=1).status_code != 200:
                return False
        except httpx.TransportError:
            return False
        if self.workers == 1:
            return True
        assert self.process is not None
        workers = [pid for pid in _group_members(self.process.pid)
                   if b"spawn_main" in _read(f"/proc/{pid}/cmdline")]
        return len(workers) == self.workers and all(
            self.marker.encode() in _read(f"/proc/{pid}/maps") for pid in workers)

    def kill(self) -> None:
        """SIGKILL to every process of the server (safe from any thread, and twice)."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def reap(self) -> None:
        """Wait until no process of the server is left (its workers too)."""
        assert self.process is not None
        self.process.wait(30)
        deadline = time.monotonic() + 30
        while _group_members(self.process.pid):
            assert time.monotonic() < deadline, "a server process outlived its SIGKILL"
            time.sleep(0.01)

    def close(self) -> None:
        """Nothing of this server left running: the server and its spare."""
        for process in (self.process, self.spare):
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)
        if self.process is not None:
            self.reap()

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


_SERVERS: list[Server] = []


@pytest.fixture(autouse=True)
def _no_server_left() -> Iterator[None]:
    yield
    while _SERVERS:
        _SERVERS.pop().close()


def _server(database_url: str, tmp_path: Path, books: Books, *, name: str, workers: int,
            app: str | None = None, extra: dict[str, str] | None = None) -> Server:
    """`coop serve` on the test's database, or with `app` the test app of that name
    (tests.crash.ackapp) under uvicorn, from the same environment."""
    key_file = tmp_path / "data.key"
    if not key_file.exists():
        key_file.write_bytes(VAULT.master_key)
        key_file.chmod(0o600)
    env = {key: value for key, value in os.environ.items() if not key.startswith("COOP_")}
    env.update({
        "PYTHONPATH": str(ROOT),
        "COOP_DATABASE_URL": child_url(database_url, name),
        "COOP_DATA_KEY_FILE": str(key_file),
        "COOP_BUSINESS_DATE": books.business_date.isoformat(),
        "COOP_ARGON2_MEMORY_KIB": "1024",
        **(extra or {}),
    })
    marker = "apsw" if engine_name(database_url) == "sqlite" else "psycopg"
    server = Server(env, tmp_path / f"server-{name}.log", workers, marker, app)
    _SERVERS.append(server)
    return server


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Figures(Tally):
    """The harness's tally (kills, what the checks found, acknowledged, in flight, landed,
    sent again), and what this test adds."""

    after_kill: int = 0
    """Acknowledgements that reached a client after the kill was sent (already on the wire)."""
    retried: int = 0
    ks: list[int] = field(default_factory=list)

    def line(self, engine: str, mode: str, run_seed: int, seconds: float) -> str:
        of = "" if self.survived == self.kills else f" ({self.survived} survived)"
        return (f"ack durability ({engine}, {mode}): {self.kills} kills{of} at the k-th "
                f"acknowledgement (k {min(self.ks, default=0)}-{max(self.ks, default=0)}), "
                f"{CLIENTS} clients; {self.acked} requests acknowledged ({self.after_kill} "
                f"answers reached a client after the kill), {self.in_flight} in flight at the "
                f"kills ({self.landed} of them had committed unanswered), each retried once; "
                f"{self.lost} lost acknowledged, {self.twice} applied twice, {self.wrong} not "
                f"as asked, {self.partial} partial entries, {self.drift} drift, {self.verify} "
                f"verify problems; {self.resent} acknowledged requests sent again after a "
                f"restart, all replayed with their entry; {self.checks} checks; seed "
                f"{run_seed}; {seconds:.1f} s")


class AckRun:
    """Clients against one server at a time: stream, kill at the k-th 201, check, restart."""

    def __init__(self, db: Database, books: Books, server: Server, run_seed: int, mode: str,
                 app_name: str) -> None:
        self.db = db
        self.books = books
        self.server = server
        self.run_seed = run_seed
        self.app_name = app_name
        self.rng = random.Random(f"{run_seed}:ack:{mode}:kills")
        self.prefix = f"ack-{mode}-{run_seed}"
        self.headers: dict[str, str] = {}
        self.figures = Figures()
        self.ops: dict[str, Op] = {}
        self.acked: dict[str, Op] = {}
        """Every request acknowledged so far, over all rounds (what must be in the books)."""
        self.entry_of: dict[str, int] = {}
        """The entry each acknowledgement named."""
        self.since_check: list[str] = []
        """Acknowledged since the books were last checked: each one checked against its
        answer."""
        self.to_resend: list[str] = []
        """Acknowledged since the last restart: sent again after the next one."""
        self.round_acks = 0
        self.pending: dict[str, Op] = {}
        """Sent, no answer yet; after a kill: the requests in flight at it."""
        self.landed: set[str] = set()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.next_n = 0

    # the requests

    def plan(self, n: int) -> Op:
        """Request n: a deposit, or (a quarter of them) a withdrawal small enough that the
        members' opening savings never run out over the test.

        Half the members only pay in and the other half only take out: on PostgreSQL a
        withdrawal locks her savings row before `post` takes the cash and control rows, so a
        withdrawal and a deposit for one member at once deadlock (a second each, rerun by
        Database.write; three in a row answer 500). That is tested on its own
        (tests/integration/test_concurrency.py); here it would only slow the rounds down."""
        rng = random.Random(f"{self.run_seed}:ack:{n}")
        half = len(self.books.codes) // 2
        key = f"{self.prefix}-{n}"
        if rng.random() < WITHDRAWAL_SHARE:
            member = rng.choice(self.books.codes[half:])
            return Op(key, n, "withdrawal", member, rng.randint(100, 5_000))
        member = rng.choice(self.books.codes[:half])
        return Op(key, n, "deposit", member, rng.randint(100, 200_000))

    def post(self, client: httpx.Client, op: Op) -> httpx.Response:
        return client.post(f"/api/v1/members/{op.member}/{op.kind}s",
                           json={"amount": money_text(op.amount_minor)},
                           headers={"Idempotency-Key": op.key})

    def _acknowledged(self, op: Op, response: httpx.Response) -> None:
        self.acked[op.key] = op
        self.entry_of[op.key] = int(response.json()["entry_id"])
        self.since_check.append(op.key)
        self.to_resend.append(op.key)

    def client(self, k: int, killed: threading.Event) -> None:
        """One client: requests one after the other as fast as the server answers; the one
        that receives the round's k-th 201 kills the server that moment."""
        with httpx.Client(base_url=self.server.base_url, headers=self.headers,
                          timeout=60) as client:
            while True:
                with self.lock:
                    if killed.is_set():
                        return
                    n, self.next_n = self.next_n, self.next_n + 1
                    op = self.plan(n)
                    self.ops[op.key] = op
                    self.pending[op.key] = op
                try:
                    response = self.post(client, op)
                except httpx.TransportError:
                    return  # the server is gone: this one stays in flight
                with self.lock:
                    if response.status_code != 201:
                        self.errors.append(f"{op}: {response.status_code} {response.text}")
                        killed.set()
                        return
                    del self.pending[op.key]
                    self._acknowledged(op, response)
                    self.round_acks += 1
                    self.figures.acked += 1
                    if killed.is_set():  # sent by the server before it died
                        self.figures.after_kill += 1
                    elif self.round_acks == k:
                        self.server.kill()  # the moment the k-th acknowledgement is here
                        killed.set()

    def stream_and_kill(self, k: int | None = None) -> Findings:
        """One round: the clients until the k-th acknowledgement (k drawn unless given), the
        kill, the check."""
        k = k or self.rng.randint(*KTH_ACK)
        self.figures.ks.append(k)
        self.round_acks = 0
        killed = threading.Event()
        threads = [threading.Thread(target=self.client, args=(k, killed), daemon=True)
                   for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while not killed.wait(0.05) and any(thread.is_alive() for thread in threads):
            assert time.monotonic() < deadline, "the clients never reached their k-th answer"
        self.server.kill()  # a no-op unless a client's error ended the round
        for thread in threads:
            thread.join(60)
            assert not thread.is_alive(), "a client did not notice the server's death"
        self.server.reap()
        assert not self.errors, self.errors
        assert killed.is_set(), f"the server died by itself:\n{self.server._log_tail()}"
        wait_for_sessions_gone(self.db, self.app_name)
        self.figures.kills += 1
        self.figures.in_flight += len(self.pending)
        self.landed = self._landed()
        found = self.check(f"kill {self.figures.kills} (k {k})")
        self.figures.survived += found.ok
        return found

    # the checks

    def check(self, when: str) -> Findings:
        """The books, with the server dead: the harness's checker (HTTP mode), the registers,
        and every acknowledgement since the last check against its answer."""
        found = check_books(self.db, books=self.books, acked=self.acked,
                            attempted=set(self.ops), http=True)
        found.verify += [f"{account}: {message}" for account, message
                         in self.db.read(registers.reconcile_registers)]
        self.db.read(lambda s: self._as_answered(s, found))
        self.since_check = []
        self.figures.add(found, when)
        return found

    def _as_answered(self, session: Session, found: Findings) -> None:
        """Each acknowledged request: its idempotency record names the entry its 201 named,
        and that entry moved the amount on the member's savings account, on the side of its
        kind (a deposit credits her savings, a withdrawal debits them)."""
        records = auth.IdempotencyRow.__table__
        named = {key: int(json.loads(bytes(body))["entry_id"]) for key, body in session.execute(
            select(records.c.key, records.c.body)
            .where(records.c.user_id == self.books.user_id,
                   records.c.key.in_(self.since_check), records.c.status == 201))}
        for key in self.since_check:
            op, entry_id = self.acked[key], self.entry_of[key]
            if key not in named:
                continue  # check_books has it as lost
            if named[key] != entry_id:
                found.wrong.append(f"{key}: answered entry {entry_id}, recorded {named[key]}")
                continue
            legs = [tuple(leg) for leg in session.execute(
                select(account_table.c.code, posting_table.c.side, posting_table.c.amount_minor)
                .join(account_table, account_table.c.id == posting_table.c.account_id)
                .where(posting_table.c.entry_id == entry_id))]
            side = "credit" if op.kind == "deposit" else "debit"
            if (savings_account(op.member), side, op.amount_minor) not in legs:
                found.wrong.append(f"{key}: entry {entry_id} has {legs}, asked {op.kind} of "
                                   f"{op.amount_minor} for {op.member}")

    def _landed(self) -> set[str]:
        """The keys in flight whose request had committed: a 201 record is stored."""
        records = auth.IdempotencyRow.__table__
        return set(self.db.read(lambda s: s.execute(
            select(records.c.key).where(records.c.user_id == self.books.user_id,
                                        records.c.key.in_(list(self.pending)),
                                        records.c.status == 201)).scalars().all()))

    # after a restart

    def log_in(self) -> None:
        """The clerk's token from the server (its clock is the system's: the set-up's token,
        issued at the test clock's instant, has expired)."""
        response = httpx.post(f"{self.server.base_url}/api/v1/auth/token", timeout=60,
                              json={"username": CLERK, "password": CLERK_PASSWORD})
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def settle(self) -> None:
        """On a new server: every request acknowledged before the restart again, with its key
        (201, Idempotent-Replayed: true, the entry it named), then the requests in flight at
        the kill (201; replayed exactly when the first attempt had committed)."""
        if not self.headers:
            self.log_in()
        resend, self.to_resend = self.to_resend, []
        with httpx.Client(base_url=self.server.base_url, headers=self.headers,
                          timeout=60) as client:
            for key in resend:
                response = self.post(client, self.acked[key])
                self.figures.resent += 1
                replayed = response.headers.get("idempotent-replayed") == "true"
                entry_id = (int(response.json()["entry_id"]) if response.status_code == 201
                            else None)
                if (response.status_code, replayed, entry_id) != (201, True,
                                                                  self.entry_of[key]):
                    self.figures.twice += 1
                    self.figures.notes.append(
                        f"{key} sent again: {response.status_code}, replayed {replayed}, "
                        f"entry {entry_id}, first answered {self.entry_of[key]}")
            for key, op in sorted(self.pending.items(), key=lambda item: item[1].n):
                response = self.post(client, op)
                assert response.status_code == 201, (op, response.status_code, response.text)
                replayed = response.headers.get("idempotent-replayed") == "true"
                self.figures.retried += 1
                self.figures.landed += key in self.landed
                if replayed != (key in self.landed):
                    self.figures.wrong += 1
                    self.figures.notes.append(f"{key} in flight: committed {key in self.landed}"
                                              f", its retry replayed {replayed}")
                self._acknowledged(op, response)
        self.pending.clear()


def _run(db: Database, database_url: str, books: Books, tmp_path: Path, *, mode: str,
         workers: int, rounds: int, app: str | None = None,
         stop_when: Callable[[Findings], bool] | None = None) -> tuple[AckRun, Findings | None]:
    """`rounds` rounds: start, settle the last round, stream, kill, check. Then a last start
    (one process will do) to settle the last round, and a last look."""
    name = f"coop-ack-{os.getpid()}-{mode}"
    server = _server(database_url, tmp_path, books, name=name, workers=workers, app=app)
    run = AckRun(db, books, server, seed(), mode, name)
    for _ in range(rounds):
        db.dispose()  # nothing of the test's own connections open while the server writes
        server.start()
        run.settle()
        found = run.stream_and_kill()
        if stop_when is not None and stop_when(found):
            return run, found
    db.dispose()
    server.workers = 1
    server.start(again=False)
    run.settle()
    server.kill()
    server.reap()
    wait_for_sessions_gone(db, name)
    run.check("the end")
    return run, None


@pytest.mark.parametrize("workers", [1, 2], ids=["serve", "serve-workers-2"])
def test_an_acknowledged_request_survives_a_kill(
        db: Database, database_url: str, books: Books, tmp_path: Path,
        crash_report: Callable[[str], None], workers: int) -> None:
    rounds = (env_int("COOP_ACK_ROUNDS", DEFAULT_ROUNDS) if workers == 1
              else env_int("COOP_ACK_WORKER_ROUNDS", DEFAULT_WORKER_ROUNDS))
    mode = "coop serve" if workers == 1 else f"coop serve --workers {workers}"
    started = time.monotonic()
    run, _ = _run(db, database_url, books, tmp_path, mode=f"w{workers}", workers=workers,
                  rounds=rounds)
    figures = run.figures
    crash_report(figures.line(engine_name(database_url), mode, run.run_seed,
                              time.monotonic() - started))
    assert figures.clean, figures.notes
    assert figures.kills == figures.survived == rounds
    assert figures.acked >= rounds * KTH_ACK[0]
    assert figures.retried == figures.in_flight
    # every acknowledgement was sent again after a restart, but the last restart's own
    assert figures.resent == len(run.acked) - len(run.to_resend)
    if rounds >= 5:
        assert figures.in_flight > 0, "no kill landed while a request was in flight"


def test_an_early_acknowledgement_is_caught(
        db: Database, database_url: str, books: Books, tmp_path: Path,
        crash_report: Callable[[str], None]) -> None:
    """The negative control: the same clients, kills and checks on a server that answers a
    batch before committing it (tests.crash.ackapp.early_ack_app) must lose an acknowledged
    request, and the check must say so, within a few rounds."""
    run, caught = _run(db, database_url, books, tmp_path, mode="early", workers=1,
                       rounds=CONTROL_ROUNDS_MAX, app="early_ack_app",
                       stop_when=lambda found: bool(found.lost))
    assert caught is not None, (f"{CONTROL_ROUNDS_MAX} kills of a server that acknowledges "
                                f"before its commit went unnoticed: {run.figures.notes}")
    assert not caught.twice and not caught.partial and not caught.drift, caught
    crash_report(f"ack durability negative control ({engine_name(database_url)}, answered "
                 f"before the commit): caught after {run.figures.kills} kill(s), "
                 f"{len(caught.lost)} acknowledged request(s) lost of "
                 f"{run.round_acks} acknowledged in that round: {caught.lost[:3]}")


def test_the_clients_fill_group_commits(
        db: Database, database_url: str, books: Books, tmp_path: Path,
        crash_report: Callable[[str], None]) -> None:
    """The same clients against the production group commit, counted
    (tests.crash.ackapp.counted_app; on PostgreSQL the groups a worker thread commits): batches
    carry several requests, so the kills above land on shared commits."""
    log = tmp_path / "batches"
    server = _server(database_url, tmp_path, books, name="counted", workers=1,
                     app="counted_app", extra={BATCH_LOG: str(log)})
    run = AckRun(db, books, server, seed(), "counted", "counted")
    db.dispose()
    server.start()
    run.log_in()
    found = run.stream_and_kill(k=COUNTED_ACKS)
    assert found.ok, found
    sizes = [int(line) for line in log.read_text().split()]
    assert sum(sizes) >= COUNTED_ACKS
    shared = sum(size for size in sizes if size > 1)
    crash_report(f"ack durability ({engine_name(database_url)}, group commits): {CLIENTS} "
                 f"clients, {sum(sizes)} requests in {len(sizes)} commits, "
                 f"{sum(sizes) / len(sizes):.1f} a commit on average, at most {max(sizes)}; "
                 f"{shared / sum(sizes):.0%} of the requests shared their commit")
    assert max(sizes) >= 2 and shared >= sum(sizes) // 4, sizes
