"""`coop serve --workers N` (issue 20): several server processes on one database.

The guard: on SQLite, several processes write one file only through a SQLite without the
WAL-reset bug (3.51.3 or later), so N > 1 with COOP_SQLITE_DRIVER naming an older one is
refused (exit 2) before anything starts; one process, or PostgreSQL, is never refused.

End to end (slow): two worker processes take deposits and withdrawals from ten clients at
once, both serve requests, every answer is a 201 (or the 422 of an over-withdrawal), and
afterwards the books verify and hold exactly the entries that were answered 201, with every
member's balance as the answers add up.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from coop import cli
from coop.api import server
from coop.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "workers-admin-password"
OLD, SAFE = (3, 40, 1), (3, 51, 3)
SQLITE_URL = "sqlite:///society.db"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/society"


def _sqlite_at(version: tuple[int, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every driver's SQLite is `version`."""
    monkeypatch.setattr(server, "sqlite_library", lambda driver: version)


# --- the guard ---

def test_python_sqlite_older_than_3_51_3_is_refused_for_several_workers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _sqlite_at(OLD, monkeypatch)
    refusal = server.workers_refusal(2, database_url=SQLITE_URL, driver="sqlite3")
    assert refusal is not None
    assert "3.51.3" in refusal and "SQLite 3.40.1" in refusal
    assert "COOP_SQLITE_DRIVER=sqlite3" in refusal and "--workers 2" in refusal
    _sqlite_at((3, 51, 2), monkeypatch)
    assert "SQLite 3.51.2" in (server.workers_refusal(8, database_url=SQLITE_URL,
                                                      driver="sqlite3") or "")


def test_a_sqlite_without_the_bug_is_never_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for version in (SAFE, (3, 54, 1), (4, 0, 0)):
        _sqlite_at(version, monkeypatch)
        for driver in ("sqlite3", "apsw", None):
            assert server.workers_refusal(4, database_url=SQLITE_URL, driver=driver) is None


def test_one_worker_is_never_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _sqlite_at(OLD, monkeypatch)
    for driver in ("sqlite3", "apsw", None):
        assert server.workers_refusal(1, database_url=SQLITE_URL, driver=driver) is None


def test_postgresql_is_never_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _sqlite_at(OLD, monkeypatch)
    for url in (PG_URL, "postgresql://coop@db.example/society"):
        for driver in ("sqlite3", "apsw", None):
            assert server.workers_refusal(16, database_url=url, driver=driver) is None


def test_without_a_driver_named_several_workers_use_apsw(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def version(driver: str) -> tuple[int, ...]:
        asked.append(driver)
        return OLD if driver == "sqlite3" else SAFE

    monkeypatch.setattr(server, "sqlite_library", version)
    assert server.workers_refusal(2, database_url=SQLITE_URL, driver=None) is None
    assert asked == ["apsw"]
    assert server.sqlite_library("apsw") >= SAFE  # the real one: APSW bundles 3.54


def test_several_sqlite_workers_are_told_to_use_apsw(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'coop.db'}")
    # prepare_workers writes to os.environ: a copy of it here, so nothing leaks to other tests
    environ = {k: v for k, v in os.environ.items() if k != "COOP_SQLITE_DRIVER"}
    monkeypatch.setattr(os, "environ", environ)
    server.prepare_workers(1, settings)
    assert "COOP_SQLITE_DRIVER" not in os.environ
    server.prepare_workers(2, settings)
    assert os.environ["COOP_SQLITE_DRIVER"] == "apsw"
    environ["COOP_SQLITE_DRIVER"] = "sqlite3"  # a choice is kept (and was checked)
    server.prepare_workers(2, settings)
    assert os.environ["COOP_SQLITE_DRIVER"] == "sqlite3"


def _serve_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The environment of an in-process `coop serve`, whose uvicorn.run only records."""
    import uvicorn

    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append((app, options)))
    monkeypatch.setenv("COOP_DATABASE_URL", f"sqlite:///{tmp_path / 'coop.db'}")
    monkeypatch.setenv("COOP_DATA_KEY_FILE", str(tmp_path / "keys" / "data.key"))
    return started


@pytest.mark.parametrize("workers", [2, 1])
def test_serve_on_an_old_sqlite_refuses_several_workers_before_starting_anything(
        workers: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started = _serve_env(tmp_path, monkeypatch)
    monkeypatch.setenv("COOP_SQLITE_DRIVER", "sqlite3")
    _sqlite_at(OLD, monkeypatch)
    result = CliRunner().invoke(cli.app, ["serve", "--workers", str(workers)])
    if workers > 1:
        assert result.exit_code == 2, result.output
        assert "refused" in result.output and "3.51.3" in result.output
        assert not started and not (tmp_path / "coop.db").exists()
    else:  # one process on Python's own SQLite, as ever
        assert result.exit_code == 0, result.output
        assert "refused" not in result.output and len(started) == 1


@pytest.mark.skipif(sqlite3.sqlite_version_info >= SAFE,
                    reason=f"Python's SQLite {sqlite3.sqlite_version} has no WAL-reset bug")
def test_the_real_command_refuses_pythons_old_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300",
           "COOP_SQLITE_DRIVER": "sqlite3",
           "COOP_DATABASE_URL": f"sqlite:///{tmp_path / 'society.db'}",
           "COOP_DATA_KEY_FILE": str(tmp_path / "keys" / "data.key")}
    ran = subprocess.run(
        [sys.executable, "-c", "from coop.cli import main; main()", "serve", "--workers", "2",
         "--port", str(_free_port())], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=120)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    said = " ".join(ran.stderr.split())
    assert "refused" in said and "3.51.3" in said
    assert f"SQLite {sqlite3.sqlite_version}" in said
    assert not (tmp_path / "society.db").exists()


# --- end to end: two processes, ten clients ---

CLIENTS, SECONDS, MEMBERS = 10, 5.0, 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fresh_pg_url() -> str:
    """A PostgreSQL database of this test's own, beside the suite's, created empty."""
    from tests.conftest import PG_URL as suite_url

    assert suite_url
    url = make_url(suite_url)
    name = f"{url.database}_serve"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found.extend(int(child) for child in children)
    return found


def _workers(pid: int) -> list[int]:
    """uvicorn's worker processes under `coop serve` (multiprocessing's spawned children;
    not its resource tracker)."""
    return [child for child in _children(pid)
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _wait_up(base: str, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, "the server exited"
        assert time.monotonic() < deadline, "the server did not answer"
        time.sleep(0.2)


def _load(base: str, token: str, codes: list[str]) -> tuple[Counter[tuple[str, int]],
                                                                dict[str, Decimal], list[str]]:
    """CLIENTS threads posting deposits and withdrawals for SECONDS: the answers by kind and
    status, each member's balance as the 201s add up, and the unexpected answers."""
    answers: Counter[tuple[str, int]] = Counter()
    moved = {code: Decimal(0) for code in codes}
    unexpected: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + SECONDS

    def client(seed: int) -> None:
        chance = random.Random(seed)
        mine: Counter[tuple[str, int]] = Counter()
        delta = {code: Decimal(0) for code in codes}
        odd: list[str] = []
        sent = 0
        while time.monotonic() < stop_at:
            # a new connection now and then, so the kernel hands clients to both processes
            with httpx.Client(base_url=base, timeout=60,
                              headers={"Authorization": f"Bearer {token}"}) as http:
                for _ in range(15):
                    if time.monotonic() >= stop_at:
                        break
                    code = chance.choice(codes)
                    kind = chance.choice(("deposits", "withdrawals"))
                    amount = Decimal(chance.randint(1, 40_000)) / 100
                    response = http.post(f"/api/v1/members/{code}/{kind}",
                                         json={"amount": f"{amount:.2f}"},
                                         headers={"Idempotency-Key": uuid.uuid4().hex})
                    sent += 1
                    mine[(kind, response.status_code)] += 1
                    if response.status_code == 201:
                        delta[code] += amount if kind == "deposits" else -amount
                    elif not (kind == "withdrawals" and response.status_code == 422):
                        odd.append(f"{kind} {response.status_code} {response.text[:300]}")
        with lock:
            answers.update(mine)
            for code, amount in delta.items():
                moved[code] += amount
            unexpected.extend(odd)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, moved, unexpected


def _entries_by_kind(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT kind, count(*) FROM ledger_entry GROUP BY kind"))
            return {kind: int(count) for kind, count in rows}
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_two_worker_processes_take_deposits_and_the_books_verify(
        engine: str, tmp_path: Path, figure: Any) -> None:
    from tests.conftest import is_postgres

    if engine == "postgresql" and not is_postgres():
        pytest.skip("COOP_TEST_DATABASE_URL is not a PostgreSQL database")
    url = _fresh_pg_url() if engine == "postgresql" else f"sqlite:///{tmp_path / 'society.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COOP_DATABASE_URL": url,
           "COOP_ADMIN_PASSWORD": PASSWORD,
           "COOP_DATA_KEY_FILE": str(tmp_path / "keys" / "data.key"),
           "COOP_BACKUP_KEY_FILE": str(tmp_path / "keys" / "backup.key")}
    env.pop("COOP_SQLITE_DRIVER", None)  # several processes on SQLite: APSW's, by default

    def coop(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from coop.cli import main; main()",
                               *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)

    initialised = coop("init")
    assert initialised.returncode == 0, initialised.stderr
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", "from coop.cli import main; main()", "serve", "--port",
             str(port), "--workers", "2"], env=env, cwd=tmp_path, stdout=output,
            stderr=subprocess.STDOUT, text=True)
    try:
        _wait_up(base, process)
        if engine == "sqlite":  # the writers' cross-process turn: only the APSW driver's
            assert Path(f"{tmp_path / 'society.db'}.writer-lock").exists()
        with httpx.Client(base_url=base, timeout=60) as http:
            token = http.post("/api/v1/auth/token", json={"username": "admin",
                                                          "password": PASSWORD}
                              ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            codes = []
            for _ in range(MEMBERS):
                made = http.post("/api/v1/members", json={}, headers=auth)
                assert made.status_code == 201, made.text
                codes.append(made.json()["code"])
        workers = _workers(process.pid)
        assert len(workers) == 2, f"uvicorn's processes under coop serve: {_children(process.pid)}"
        before = {pid: _cpu_ticks(pid) for pid in workers}
        answers, moved, unexpected = _load(base, token, codes)
        used = {pid: _cpu_ticks(pid) - before[pid] for pid in workers}
        assert not unexpected, (unexpected[:5], log.read_text()[-5000:])
        created = {kind: answers[(kind, 201)] for kind in ("deposits", "withdrawals")}
        figure(f"serve --workers 2 on {engine}: {sum(answers.values())} requests in "
               f"{SECONDS:g} s from {CLIENTS} clients, {created['deposits']} deposits and "
               f"{created['withdrawals']} withdrawals booked, "
               f"{answers[('withdrawals', 422)]} over-withdrawals refused; CPU ticks per "
               f"worker {sorted(used.values())}")
        assert created["deposits"] > 50 and created["withdrawals"] > 0
        # both processes served: each worked for at least a tenth of what the two did
        total = sum(used.values())
        assert all(ticks >= total / 10 for ticks in used.values()), used
        with httpx.Client(base_url=base, timeout=60, headers=auth) as http:
            for code in codes:
                savings = http.get(f"/api/v1/members/{code}").json()["savings"]
                assert Decimal(savings["balance"]) == moved[code], code
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()[-3000:]
    verified = coop("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    checked = re.search(r"entries checked: (\d+)", verified.stdout)
    booked = _entries_by_kind(url)
    assert booked.get("deposit", 0) == created["deposits"]
    assert booked.get("withdrawal", 0) == created["withdrawals"]
    assert checked and int(checked.group(1)) == sum(booked.values())
