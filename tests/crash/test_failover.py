"""The failover drill (issue 21): a primary with a synchronous standby, the counter's load on
`coop serve`, the primary's machine dies (SIGKILL to the postmaster and every process of it at
once), the standby is promoted, and the load goes on against it with nothing else touched:
the server finds the new primary by itself through the multi-host COOP_DATABASE_URL.

- The pair is made by scripts/pg-replica.sh (`pair`: two clusters on free ports in a fresh
  directory, pg_basebackup, synchronous_standby_names, synchronous_commit = remote_apply); the
  books by `coop init` through the multi-host URL and the crash harness's society
  (tests.crash.harness.set_up); the server is the real `coop serve`, in a process group of its
  own, with COOP_REPLICA_URL on the standby-first URL the script prints.
- CLIENTS threads send deposits, each with a unique Idempotency-Key, as fast as the server
  answers. A request that fails (no answer, a 5xx, a 409 "still being processed") is sent
  again with the same key until it is acknowledged, as a counter client does; so at the end
  every request sent has been acknowledged exactly once.
- After BEFORE_KILL acknowledgements the primary is killed; the standby is promoted
  (`pg-replica.sh promote`) at once; the load runs until AFTER_KILL requests sent after the
  kill are acknowledged.
- Then, the server still running: the harness's checker in HTTP mode (verify, every balance
  against its postings, no partial entry, every acknowledged key's idempotency record naming
  an entry that moved exactly the amount asked, no entry that no key accounts for), every
  member's savings balance equal to her opening savings plus the sum of her acknowledged
  deposits (exactly), the chain's entries numbered 1..head without a gap, `coop verify` clean,
  and GET /ledger/verify clean through the replica URL. The old primary cannot be started again
  by the script (it would be a second primary).
- The negative controls feed the same checks what a lost or doubled deposit looks like (an
  acknowledged key that is not in the books, an amount that is not the one asked, a deposit in
  the books that no acknowledgement accounts for) and require each to be reported.

The figures (acknowledged before and after the kill, lost, applied twice, answers 503 and the
retries, seconds from the kill to the promotion and to the first acknowledgement of a request
sent after the kill, the longest a request waited) are printed and kept in the crash harness's
summary. Needs PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup): skipped without
them. COOP_FAILOVER_CLIENTS, COOP_FAILOVER_BEFORE, COOP_FAILOVER_AFTER change the load.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger.orm import book_table, entry_table
from coop.savings import balances, record_deposit
from tests.conftest import BUSINESS_DATE
from tests.crash.harness import (
    CLERK,
    CLERK_PASSWORD,
    OPENING_SAVINGS,
    VAULT,
    Books,
    Findings,
    Op,
    check_books,
    env_int,
    money_text,
    seed,
    set_up,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "pg-replica.sh"
DEADLINE_S = 90.0
"""The whole load (both phases) stops by then whatever happens."""


def _pg_bin() -> Path | None:
    """The PostgreSQL server programs: PG_BIN, the newest /usr/lib/postgresql/*/bin, or the
    folder of an `initdb` on the PATH (as scripts/pg-replica.sh looks for them)."""
    chosen = os.environ.get("PG_BIN")
    found = [Path(chosen)] if chosen else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
        if p.parent.name.isdigit() else 0)
    if not found and shutil.which("initdb"):
        found = [Path(str(shutil.which("initdb"))).parent]
    for folder in reversed(found):
        if all((folder / tool).exists() for tool in ("initdb", "pg_ctl", "pg_basebackup")):
            return folder
    return None


PG_BIN = _pg_bin()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    PG_BIN is None, reason="PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) are "
    "not installed (Debian: postgresql); set PG_BIN to their folder")]


# --- the pair, the books, the server ----------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, "PG_BIN": str(PG_BIN)}, timeout=120, check=False)


@dataclass
class Pair:
    """A primary and its synchronous standby, made by scripts/pg-replica.sh."""

    folder: Path
    urls: dict[str, str] = field(default_factory=dict)

    def make(self) -> None:
        primary, standby = _free_ports(2)
        made = _script("pair", str(self.folder), "--primary-port", str(primary),
                       "--standby-port", str(standby))
        assert made.returncode == 0, made.stdout + made.stderr
        assert "the standby is synchronous (synchronous_commit = remote_apply)" in made.stdout
        for line in made.stdout.splitlines():
            name, _, value = line.partition("=")
            if name in ("COOP_DATABASE_URL", "COOP_REPLICA_URL"):
                self.urls[name] = value
        assert set(self.urls) == {"COOP_DATABASE_URL", "COOP_REPLICA_URL"}, made.stdout

    def kill_primary(self) -> tuple[float, float, int]:
        """The primary's machine dies: SIGSTOP to the postmaster (it forks no more), then
        SIGKILL to it and to every process it started. When it was stopped, when every
        process had its SIGKILL (a request sent after that cannot reach it), how many."""
        postmaster = int((self.folder / "primary" / "postmaster.pid").read_text().split()[0])
        stopped_at = time.monotonic()
        os.kill(postmaster, signal.SIGSTOP)
        children = [pid for pid in _pids() if _parent(pid) == postmaster]
        for pid in (postmaster, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return stopped_at, time.monotonic(), 1 + len(children)

    def promote(self) -> None:
        promoted = _script("promote", str(self.folder))
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr

    def remove(self) -> None:
        _script("stop", str(self.folder))
        shutil.rmtree(self.folder, ignore_errors=True)


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rfind(")") + 2:].split()[1])


def _coop_env(pair: Pair, key_file: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COOP_")}
    env.update({"PYTHONPATH": str(ROOT), "COOP_DATA_KEY_FILE": str(key_file),
                "COOP_DATABASE_URL": pair.urls["COOP_DATABASE_URL"],
                "COOP_REPLICA_URL": pair.urls["COOP_REPLICA_URL"],
                "COOP_BUSINESS_DATE": BUSINESS_DATE.isoformat(),
                "COOP_ADMIN_PASSWORD": "failover drill admin 1",
                "COOP_ARGON2_MEMORY_KIB": "1024"})
    return env


def _coop(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coop.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180, check=False)


@dataclass
class Serve:
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    base_url: str = ""

    def start(self) -> None:
        port = _free_ports(1)[0]
        self.base_url = f"http://127.0.0.1:{port}"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "coop.cli", "serve", "--host", "127.0.0.1", "--port",
                 str(port)], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, f"coop serve died:\n{self.tail()}"
            assert time.monotonic() < deadline, f"coop serve did not start:\n{self.tail()}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)

    def token(self, username: str, password: str) -> str:
        """A token from the server itself (its clock is the system's; the set-up's token was
        made on the harness's fixed clock)."""
        response = httpx.post(f"{self.base_url}/api/v1/auth/token", timeout=60,
                              json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def tail(self, chars: int | None = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-chars:] if chars else text


@pytest.fixture
def drill_folder() -> Iterator[Path]:
    """A folder the `postgres` user can reach (pytest's own tmp folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="coop-failover-"))
    folder.chmod(0o711)  # the clusters' folder inside is theirs alone (pg-replica.sh)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Load:
    """Clients sending deposits; each request is sent again, same key, until acknowledged."""

    base_url: str
    token: str
    books: Books
    run_seed: int
    killed_at: float | None = None
    """When the old primary had its SIGKILLs: a request sent after it reached the new one."""
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ops: dict[str, Op] = field(default_factory=dict)
    acked: dict[str, Op] = field(default_factory=dict)
    acked_after_kill: int = 0
    """Acknowledged requests whose last try was sent after the kill."""
    first_after_kill: float | None = None
    """When the first of those was acknowledged."""
    longest_wait_s: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    """The answers that were not 201: status and problem type (or the transport error)."""
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    next_n: int = 0

    def plan(self, n: int) -> Op:
        rng = random.Random(f"{self.run_seed}:failover:{n}")
        return Op(f"failover-{self.run_seed}-{n}", n, "deposit", rng.choice(self.books.codes),
                  rng.randint(100, 200_000))

    def client(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=30) as client:
            while not self.stop.is_set():
                with self.lock:
                    op = self.plan(self.next_n)
                    self.next_n += 1
                    self.ops[op.key] = op
                if not self._until_acknowledged(client, op):
                    return

    def _until_acknowledged(self, client: httpx.Client, op: Op) -> bool:
        first_sent = time.monotonic()
        deadline = first_sent + DEADLINE_S
        while time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                response = client.post(f"/api/v1/members/{op.member}/deposits",
                                       json={"amount": money_text(op.amount_minor)},
                                       headers={"Idempotency-Key": op.key})
            except httpx.TransportError as exc:
                self._again(f"no answer ({type(exc).__name__})")
                continue
            if response.status_code == 201:
                self._acknowledged(op, sent, first_sent)
                return True
            kind = str(response.json().get("type", "")).rsplit(":", 1)[-1] \
                if response.headers.get("content-type", "").endswith("json") else ""
            if response.status_code >= 500 or kind == "idempotency-key-in-flight":
                self._again(f"{response.status_code} {kind}")
                continue
            with self.lock:
                self.errors.append(f"{op.key}: {response.status_code} {response.text[:300]}")
            self.stop.set()
            return False
        with self.lock:
            self.errors.append(f"{op.key}: not acknowledged within {DEADLINE_S:.0f} s")
        self.stop.set()
        return False

    def _again(self, why: str) -> None:
        with self.lock:
            self.statuses[why] += 1
            self.retries += 1
        time.sleep(0.05)

    def _acknowledged(self, op: Op, sent: float, first_sent: float) -> None:
        now = time.monotonic()
        with self.lock:
            self.acked[op.key] = op
            if self.killed_at is not None and sent > self.killed_at:
                self.acked_after_kill += 1
                if self.first_after_kill is None:
                    self.first_after_kill = now
            if self.killed_at is not None and now > self.killed_at:
                self.longest_wait_s = max(self.longest_wait_s, now - first_sent)

    def wait_for(self, what: Callable[[], bool], label: str, serve: Serve) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not what():
            assert not self.errors, self.errors[:5]
            assert time.monotonic() < deadline, f"{label}: timed out\n{serve.tail()}"
            time.sleep(0.01)


# --- the checks -------------------------------------------------------------------------------


def balance_faults(db: Database, books: Books, acked: dict[str, Op]) -> list[str]:
    """Each member's savings balance against her opening savings and her acknowledged
    deposits, to the paisa."""
    expected = dict.fromkeys(books.codes, OPENING_SAVINGS)
    for op in acked.values():
        expected[op.member] += op.amount_minor
    found = {code: db.read(lambda s, c=code: balances(s, c).balance_minor)
             for code in books.codes}
    return [f"{code}: balance {found[code]}, acknowledged {expected[code]}"
            for code in books.codes if found[code] != expected[code]]


def chain_faults(db: Database) -> list[str]:
    """The journal is entries 1..head, none missing, and the book's head is the last."""
    count, first, last = db.read(lambda s: s.execute(
        select(func.count(), func.min(entry_table.c.id), func.max(entry_table.c.id))).one())
    head = db.read(lambda s: s.execute(select(book_table.c.head_seq)).scalar_one())
    if (count, first, last) == (head, 1, head):
        return []
    return [f"{count} entries numbered {first}..{last}, the head is {head}"]


def look(db: Database, books: Books, acked: dict[str, Op],
         attempted: set[str]) -> tuple[Findings, list[str]]:
    findings = check_books(db, books=books, acked=acked, attempted=attempted, http=True)
    return findings, balance_faults(db, books, acked) + chain_faults(db)


def test_the_standby_takes_over_and_nothing_acknowledged_is_lost(
        drill_folder: Path, crash_report: Callable[[str], None]) -> None:
    started = time.monotonic()
    run_seed = seed()
    pair = Pair(drill_folder / "pg")
    serve: Serve | None = None
    db: Database | None = None
    try:
        pair.make()
        key_file = drill_folder / "data.key"
        key_file.write_bytes(VAULT.master_key)
        key_file.chmod(0o600)
        env = _coop_env(pair, key_file)
        init = _coop(env, "init")
        assert init.returncode == 0, init.stdout + init.stderr
        db = Database(pair.urls["COOP_DATABASE_URL"], pool_size=4)
        books = set_up(db, FixedClock(BUSINESS_DATE))
        serve = Serve(env, drill_folder / "serve.log")
        serve.start()

        load = Load(serve.base_url, serve.token(CLERK, CLERK_PASSWORD), books, run_seed)
        clients = [threading.Thread(target=load.client, daemon=True)
                   for _ in range(env_int("COOP_FAILOVER_CLIENTS", 6))]
        for client in clients:
            client.start()
        before = env_int("COOP_FAILOVER_BEFORE", 150)
        load.wait_for(lambda: len(load.acked) >= before, "the load before the kill", serve)
        acked_before = len(load.acked)
        killed_at, load.killed_at, processes = pair.kill_primary()
        pair.promote()
        promoted_s = time.monotonic() - killed_at
        after = env_int("COOP_FAILOVER_AFTER", 150)
        load.wait_for(lambda: load.acked_after_kill >= after, "the load on the new primary",
                      serve)
        load.stop.set()
        for client in clients:
            client.join(DEADLINE_S)
        assert not load.errors, load.errors[:5]
        assert set(load.acked) == set(load.ops), "a request was left unacknowledged"

        findings, faults = look(db, books, load.acked, set(load.ops))
        assert findings.ok, str(findings)
        assert not faults, faults
        verified = _coop(env, "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        admin = serve.token("admin", env["COOP_ADMIN_PASSWORD"])
        auditor_view = httpx.get(  # through COOP_REPLICA_URL: the new primary, now
            f"{serve.base_url}/api/v1/ledger/verify", timeout=60,
            headers={"Authorization": f"Bearer {admin}"})
        assert auditor_view.status_code == 200, auditor_view.text
        assert auditor_view.json()["ok"] is True, auditor_view.json()
        restart = _script("start", str(pair.folder))
        assert restart.returncode != 0 and "second primary" in restart.stderr, restart

        assert load.first_after_kill is not None
        recovered_s = load.first_after_kill - killed_at
        log = serve.tail(None)
        head = db.read(lambda s: s.execute(select(book_table.c.head_seq)).scalar_one())
        crash_report(
            f"failover drill (PostgreSQL {PG_BIN.parent.name if PG_BIN else '?'}, "
            f"synchronous_commit = remote_apply): {len(load.acked)} deposits acknowledged "
            f"({acked_before} before the kill, {len(load.acked) - acked_before} after) by "
            f"{len(clients)} clients; lost {len(findings.lost)}, applied twice "
            f"{len(findings.twice)}, partial {len(findings.partial)}; the primary's "
            f"{processes} processes SIGKILLed, the standby promoted {promoted_s:.2f} s later; "
            f"first acknowledgement from the new primary {recovered_s:.2f} s after the kill; "
            f"the longest a deposit waited across it {load.longest_wait_s:.2f} s; "
            f"{log.count('waiting up to')} reads and writes run again by the server on the "
            f"new primary unseen, "
            f"{log.count('during a COMMIT')} answered outcome-unknown; {load.retries} sent "
            f"again with the same key "
            f"({', '.join(f'{n} {why}' for why, n in load.statuses.most_common()) or 'none'}); "
            f"verify clean, chain 1..{head} continuous; seed {run_seed}; "
            f"{time.monotonic() - started:.1f} s")
        _negative_controls(db, books, load)
    finally:
        if serve is not None:
            serve.stop()
        if db is not None:
            db.dispose()
        pair.remove()


def _negative_controls(db: Database, books: Books, load: Load) -> None:
    """The checks above can fail: what a lost, a wrong and a doubled deposit look like."""
    attempted = set(load.ops)
    never = Op("failover-never-sent", -1, "deposit", books.codes[0], 12_345)
    findings, faults = look(db, books, {**load.acked, never.key: never}, attempted)
    assert findings.lost == [never.key], str(findings)
    assert faults == [f"{never.member}: balance {_balance(db, never.member)}, acknowledged "
                      f"{_balance(db, never.member) + 12_345}"]

    key, op = next(iter(load.acked.items()))
    wrong = Op(op.key, op.n, op.kind, op.member, op.amount_minor + 1)
    findings, faults = look(db, books, {**load.acked, key: wrong}, attempted)
    assert findings.wrong and findings.wrong[0].startswith(key), str(findings)
    assert len(faults) == 1

    clock = FixedClock(BUSINESS_DATE)
    db.write(lambda s: record_deposit(s, books.codes[1], amount_minor=500,
                                      value_date=clock.today(), actor="behind the API",
                                      clock=clock))
    findings, faults = look(db, books, load.acked, attempted)
    assert any("no keyed request's" in line for line in findings.twice), str(findings)
    assert faults == [f"{books.codes[1]}: balance {_balance(db, books.codes[1])}, "
                      f"acknowledged {_balance(db, books.codes[1]) - 500}"]


def _balance(db: Database, code: str) -> int:
    return db.read(lambda s: balances(s, code).balance_minor)


def test_the_script_makes_a_pair_the_two_machine_way(drill_folder: Path) -> None:
    """`primary` on one machine, `standby --from` on the other (here both on this one), with
    a replication password: the standby is synchronous, and with remote_apply a deposit's
    COMMIT returns only once the standby shows it."""
    primary_port, standby_port = _free_ports(2)
    password = {"COOP_REPLICATION_PASSWORD": "a replication pass'word"}

    def script(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                              env={**os.environ, "PG_BIN": str(PG_BIN), **password},
                              timeout=120, check=False)

    machines = (drill_folder / "a", drill_folder / "b")
    try:
        made = script("primary", str(machines[0]), "--port", str(primary_port))
        assert made.returncode == 0, made.stderr
        made = script("standby", str(machines[1]), "--port", str(standby_port),
                      "--from", f"127.0.0.1:{primary_port}")
        assert made.returncode == 0, made.stderr
        primary = Database(f"postgresql+psycopg://postgres@127.0.0.1:{primary_port}/coop",
                           pool_size=1)
        standby = Database(f"postgresql+psycopg://postgres@127.0.0.1:{standby_port}/coop",
                           pool_size=1)
        try:
            deadline = time.monotonic() + 30
            while primary.read(lambda s: s.execute(text(
                    "SELECT sync_state FROM pg_stat_replication")).scalar()) != "sync":
                assert time.monotonic() < deadline, "the standby never became synchronous"
                time.sleep(0.1)
            primary.write(lambda s: s.execute(text("CREATE TABLE drill (n int)")))
            for n in range(20):  # each COMMIT waits for the standby to apply it
                primary.write(lambda s, n=n: s.execute(text("INSERT INTO drill VALUES (:n)"),
                                                       {"n": n}))
                assert standby.read(lambda s: s.execute(text(
                    "SELECT count(*) FROM drill")).scalar_one()) == n + 1
            with pytest.raises(DBAPIError, match="during recovery"):
                standby.write(lambda s: s.execute(text("INSERT INTO drill VALUES (99)")))
        finally:
            primary.dispose()
            standby.dispose()
    finally:
        for machine in machines:
            script("stop", str(machine))
