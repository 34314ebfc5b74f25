"""HTTP benchmark: requests/s and p50/p99 latency through the real server on loopback.

Starts `coop serve` in a subprocess on a fresh database (SQLite file, and PostgreSQL with --pg),
then drives it from this process with N concurrent clients (threads, one httpx client each),
bounded by a duration per scenario:
- GET  /api/v1/ledger/accounts   (the chart with balances)
- POST /api/v1/ledger/entries    (a balanced manual entry, a fresh Idempotency-Key each)

    .venv/bin/python bench/api.py [--clients 20] [--seconds 10] [--pg URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "bench-admin-password"


def fresh_pg(url: str) -> None:
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def coop_env(url: str, tmp: Path) -> dict[str, str]:
    return {**os.environ, "COOP_DATABASE_URL": url, "COOP_ADMIN_PASSWORD": PASSWORD,
            "COOP_DATA_KEY_FILE": str(tmp / "data.key")}


def serve(url: str, port: int, tmp: Path, *options: str) -> subprocess.Popen[bytes]:
    """`coop init` and `coop serve --port PORT [options]` on `url`, once it answers /health."""
    env = coop_env(url, tmp)
    subprocess.run([str(BIN / "coop"), "init"], env=env, check=True, capture_output=True)
    process = subprocess.Popen([str(BIN / "coop"), "serve", "--port", str(port), *options],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode})")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


GRANT = {"narration": "Bench grant", "postings": [
    {"account": "1010", "debit": "10.00"}, {"account": "4200", "credit": "10.00"}]}


def load(
    base: str, token: str, *, write: bool, clients: int, seconds: float,
    path_for: Callable[[int], str] | None = None, body: dict[str, Any] | None = None,
) -> dict[str, float]:
    """`clients` threads calling one endpoint until `seconds` pass. Client n asks
    `path_for(n)` for the path of each request (default: the ledger's entries or accounts);
    writes send `body` with a fresh Idempotency-Key each."""
    latencies: list[float] = []
    first_error: list[str] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    default = "/api/v1/ledger/entries" if write else "/api/v1/ledger/accounts"

    def client(n: int) -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            while time.monotonic() < stop_at:
                path = path_for(n) if path_for else default
                started = time.perf_counter()
                if write:
                    response = http.post(path, json=body or GRANT,
                                         headers={"Idempotency-Key": uuid.uuid4().hex})
                    ok = response.status_code == 201
                    if not ok and not first_error:
                        first_error.append(f"{response.status_code} {response.text[:300]}")
                else:
                    ok = http.get(path).status_code == 200
                mine.append((time.perf_counter() - started) * 1000)
                bad += not ok
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    if first_error:
        print(f"  first error: {first_error[0]}", flush=True)
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
    }


def run(url: str, port: int, args: argparse.Namespace, tmp: Path) -> dict[str, dict[str, float]]:
    process = serve(url, port, tmp)
    try:
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(f"{base}/api/v1/auth/token",
                           json={"username": "admin", "password": PASSWORD}).json()["access_token"]
        return {
            "GET /ledger/accounts": load(base, token, write=False, clients=args.clients,
                                         seconds=args.seconds),
            "POST /ledger/entries": load(base, token, write=True, clients=args.clients,
                                         seconds=args.seconds),
        }
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--pg", default=None, help="PostgreSQL URL of a scratch database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite:///{tmp}/bench-api.db")]
        if args.pg:
            fresh_pg(args.pg)
            targets.append(("postgresql", args.pg))
        for label, url in targets:
            print(f"== {label}, {args.clients} clients, {args.seconds:g} s per scenario ==")
            for name, r in run(url, 8765, args, Path(tmp)).items():
                print(f"{name:24} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.1f} ms  "
                      f"p99 {r['p99_ms']:6.1f} ms  ({int(r['requests'])} requests, "
                      f"{int(r['errors'])} errors)", flush=True)


if __name__ == "__main__":
    main()
