"""Counter deposits through the API under `wrk` (issue 20's target: 1,000/s at 20 connections
with p99 under 50 ms), with the same-run reference and the ratio.

For each engine (SQLite file; PostgreSQL with --pg) and each process count (--workers):
1. a fresh database, `coop init`, `coop serve --workers N`; members opened through the API;
2. `wrk` (Debian's, C) with bench/deposits.lua: every request a deposit with its own
   Idempotency-Key; a warm-up, then the measured run (--seconds, --connections);
3. the server stopped, `coop verify` run: the figures count only if every request was a 201
   and the books verify, with at least as many entries as wrk saw answered;
4. the reference (bench/reference_server.py: uvicorn with the same processes and one plain
   INSERT transaction a request, sqlite3 or psycopg) driven the same way.

    .venv/bin/python bench/deposits.py [--seconds 10] [--connections 20] [--workers 1,2]
                                       [--pg URL] [--pg-workers 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from api import BIN, PASSWORD, coop_env, fresh_pg, serve  # noqa: E402

API = "/api/v1"
LUA = ROOT / "bench" / "deposits.lua"
PORT = 8767


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_wrk(base: str, token: str, codes: Path, seconds: float, connections: int,
            run: str) -> dict[str, float]:
    env = {**os.environ, "COOP_TOKEN": token, "COOP_CODES": str(codes), "COOP_RUN": run}
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{round(seconds)}s", "--timeout", "10s",
         "-s", str(LUA), base], env=env, capture_output=True, text=True, check=True).stdout
    figures = dict(re.findall(r"(\w+)=(\d+)", out.split("COOP", 1)[1]))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "requests": int(figures["requests"]),
            "not_created": int(figures["not_created"]),
            "p50_ms": int(figures["p50_us"]) / 1000, "p99_ms": int(figures["p99_us"]) / 1000}


def coop_run(url: str, workers: int, args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    env = coop_env(url, tmp)
    base = f"http://127.0.0.1:{PORT}"
    process = serve(url, PORT, tmp, "--workers", str(workers))
    try:
        http = httpx.Client(base_url=base, timeout=30)
        token = http.post(f"{API}/auth/token", json={"username": "admin", "password": PASSWORD}
                          ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        codes = [http.post(f"{API}/members", json={"joined_on": "2024-01-01"},
                           headers=headers).json()["code"] for _ in range(args.members)]
        listing = tmp / "codes.txt"
        listing.write_text("\n".join(codes) + "\n")
        warm = run_wrk(base, token, listing, 3, args.connections, f"warm{workers}")
        result = run_wrk(base, token, listing, args.seconds, args.connections, f"run{workers}")
    finally:
        stop(process)
    verified = subprocess.run([str(BIN / "coop"), "verify"], env=env, capture_output=True,
                              text=True)
    found = re.search(r"entries checked: (\d+)", verified.stdout)
    entries = int(found.group(1)) if found else 0
    answered = int(warm["requests"]) + int(result["requests"])
    # wrk stops mid-flight: a request it gave up on may still have been booked, never fewer
    return {**result, "verify": verified.returncode == 0 and entries >= answered,
            "entries": entries}


def reference_run(url: str, workers: int, args: argparse.Namespace,
                  tmp: Path) -> dict[str, float]:
    env = {**os.environ, "COOP_REFERENCE_URL": url, "PYTHONPATH": str(ROOT)}
    base = f"http://127.0.0.1:{PORT}"
    process = subprocess.Popen(
        [str(BIN / "uvicorn"), "bench.reference_server:app", "--port", str(PORT), "--workers",
         str(workers), "--log-level", "warning", "--no-access-log"], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(f"{base}/x/M-0/deposits", json={"amount": "1"}, timeout=1,
                           headers={"Idempotency-Key": "probe"})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the reference did not start") from None
                time.sleep(0.1)
        listing = tmp / "ref-codes.txt"
        listing.write_text("\n".join(f"M-{n:04d}" for n in range(args.members)) + "\n")
        run_wrk(base, "none", listing, 3, args.connections, f"refwarm{workers}")
        return run_wrk(base, "none", listing, args.seconds, args.connections,
                       f"refrun{workers}")
    finally:
        stop(process)


def show(label: str, coop: dict[str, object], reference: dict[str, float]) -> None:
    ok = coop["not_created"] == 0 and coop["verify"]
    ratio = float(coop["rps"]) / reference["rps"]  # type: ignore[arg-type]
    print(f"{label:28} coop {float(coop['rps']):7.0f}/s p50 {coop['p50_ms']:5.1f} ms "  # type: ignore[arg-type]
          f"p99 {coop['p99_ms']:5.1f} ms ({coop['requests']} requests, "
          f"{coop['not_created']} not 201, verify {'clean' if coop['verify'] else 'FAILED'})"
          f" | reference {reference['rps']:7.0f}/s p99 {reference['p99_ms']:5.1f} ms"
          f" | ratio {ratio:.2f}{'' if ok else '  <- NOT VALID'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--workers", default="1,2",
                        help="process counts for SQLite (\"\" for none)")
    parser.add_argument("--pg", default=None, help="PostgreSQL URL of a scratch database")
    parser.add_argument("--pg-workers", default="2", help="process counts for PostgreSQL")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian)")
    print(f"deposits through the API: wrk, {args.connections} connections, {args.seconds:g} s "
          f"each, {os.cpu_count()} cores", flush=True)
    for workers in (int(n) for n in args.workers.split(",") if n):
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            coop = coop_run(f"sqlite:///{tmp}/coop.db", workers, args, tmp)
            reference = reference_run(f"sqlite:///{tmp}/ref.db", workers, args, tmp)
            show(f"SQLite, {workers} process{'es' if workers > 1 else ''}", coop, reference)
    if args.pg:
        for workers in (int(n) for n in args.pg_workers.split(",")):
            with tempfile.TemporaryDirectory() as folder:
                tmp = Path(folder)
                fresh_pg(args.pg)
                coop = coop_run(args.pg, workers, args, tmp)
                fresh_pg(args.pg)
                reference = reference_run(args.pg.replace("+psycopg", ""), workers, args, tmp)
                show(f"PostgreSQL, {workers} process{'es' if workers > 1 else ''}", coop,
                     reference)


if __name__ == "__main__":
    main()
