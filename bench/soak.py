"""Load and soak: a realistic counter mix at 20 clients for 10 minutes, then `coop verify`.

Starts `coop serve` on a fresh SQLite file (or PostgreSQL with --pg), sets a society up through
the API (members with savings and shares, a board member, loans paid out), then drives it from
this process (a second process over loopback) with `--clients` threads for `--minutes`:

    30 % deposit               15 % withdrawal (1 in 5 too large: an expected 422)
    10 % share purchase        15 % loan repayment
    20 % member summary         5 % her savings statement     5 % her loan

Every write carries a fresh Idempotency-Key. It reports throughput, p50/p99 per operation,
errors (anything but 2xx and the expected 422s), the server's memory (RSS) at the start and
the end and at its highest, and `coop verify` on the books afterwards.

Memory is sampled every 5 s. The server's caches fill mostly in the first minute of load
(`--warm-up`), so besides the growth from the start it reports the growth after warm-up (the
RSS at the end less the RSS when the warm-up ended), the slope fitted to the samples after it,
and whether that growth meets issue 20's target (under 5 MiB in the 10-minute soak).
`--rss-log FILE` writes the samples as CSV.

    .venv/bin/python bench/soak.py [--minutes 10] [--clients 20] [--members 500] [--pg URL]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from api import BIN, PASSWORD, fresh_pg, serve  # noqa: E402

API = "/api/v1"
GROWTH_TARGET_MIB = 5
SAMPLE_SECONDS = 5
MIX = (("deposit", 30), ("withdrawal", 15), ("shares", 10), ("repayment", 15),
       ("summary", 20), ("statement", 5), ("loan", 5))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Society:
    """The society set up through the API: its members and active loans."""

    def __init__(self, base: str, members: int, loans: int) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        token = self.http.post(f"{API}/auth/token", json={"username": "admin",
                                                         "password": PASSWORD}).json()
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}
        self.codes: list[str] = []
        self.loans: list[int] = []
        self._setup(members, loans)

    def call(self, method: str, path: str, body: object = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        response = self.http.request(method, f"{API}{path}", json=body,
                                     headers=headers or self.headers)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response

    def _setup(self, members: int, loans: int) -> None:
        self.call("PATCH", "/society", {"settings": {
            "loan_approvals_required": 1, "loan_min_membership_days": 0,
            "max_loan_multiple_of_savings": "100", "min_shares": 0}})
        for _ in range(members):
            code = self.call("POST", "/members", {"joined_on": "2024-01-01"}).json()["code"]
            self.call("POST", f"/members/{code}/deposits", {"amount": "5000.00"})
            self.call("POST", f"/members/{code}/shares", {"count": 5})
            self.codes.append(code)
        board_code = self.codes[0]
        self.call("POST", "/users", {"username": "board1", "password": PASSWORD,
                                     "role": "board", "member_code": board_code})
        board = self.http.post(f"{API}/auth/token", json={"username": "board1",
                                                         "password": PASSWORD}).json()
        voter = {"Authorization": f"Bearer {board['access_token']}"}
        self.call("POST", "/loan-products", {"code": "WEEKLY", "name": "Weekly loan",
                                             "annual_rate": "12", "installments": 52,
                                             "frequency": "weekly"})
        for code in self.codes[1:loans + 1]:
            loan_id = self.call("POST", "/loans", {"member_code": code, "product": "WEEKLY",
                                                   "principal": "50000.00"}).json()["id"]
            self.call("POST", f"/loans/{loan_id}/votes", {"decision": "approve"}, voter)
            self.call("POST", f"/loans/{loan_id}/disbursement", {"to": "savings"})
            self.loans.append(loan_id)


def operation(rng: random.Random, society: Society) -> tuple[str, str, str, object, bool]:
    """(name, method, path, body, whether a 422 is expected) for one counter request."""
    name = rng.choices([n for n, _ in MIX], weights=[w for _, w in MIX])[0]
    code = rng.choice(society.codes)
    if name == "deposit":
        return name, "POST", f"/members/{code}/deposits", {
            "amount": f"{rng.randint(10, 2000)}.00"}, False
    if name == "withdrawal":
        too_much = rng.random() < 0.2
        amount = "99999999.00" if too_much else f"{rng.randint(1, 50)}.00"
        return name, "POST", f"/members/{code}/withdrawals", {"amount": amount}, too_much
    if name == "shares":
        return name, "POST", f"/members/{code}/shares", {"count": 1}, False
    if name == "repayment":
        loan = rng.choice(society.loans)
        return name, "POST", f"/loans/{loan}/repayments", {"amount": "100.00"}, False
    if name == "summary":
        return name, "GET", f"/members/{code}", None, False
    if name == "statement":
        return name, "GET", f"/members/{code}/savings/transactions", None, False
    return name, "GET", f"/loans/{rng.choice(society.loans)}", None, False


def drive(society: Society, base: str, clients: int, seconds: float,
          seed: int) -> tuple[dict[str, list[float]], Counter[str], list[str]]:
    latencies: dict[str, list[float]] = defaultdict(list)
    outcomes: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        with httpx.Client(base_url=base, timeout=30) as http:
            while time.monotonic() < stop_at:
                name, method, path, body, expect_422 = operation(rng, society)
                headers = dict(society.headers)
                if method == "POST":
                    headers["Idempotency-Key"] = uuid.uuid4().hex
                started = time.perf_counter()
                detail = ""
                try:
                    response = http.request(method, f"{API}{path}", json=body,
                                            headers=headers)
                    status = response.status_code
                except httpx.HTTPError as error:
                    status, response = 0, None
                    detail = repr(error)
                elapsed = (time.perf_counter() - started) * 1000
                ok = status < 300 or (status == 422 and expect_422)
                with lock:
                    latencies[name].append(elapsed)
                    outcomes[f"{name} {status}"] += 1
                    if not ok and len(errors) < 20:
                        errors.append(f"{method} {path} -> {status} "
                                      f"{response.text[:200] if response else detail}")
                    if not ok:
                        outcomes["errors"] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, outcomes, errors


def slope_mib_per_min(samples: list[tuple[float, int]]) -> float:
    """The least-squares slope of (seconds, KiB) samples, in MiB a minute."""
    if len(samples) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in samples)
    mean_k = statistics.fmean(k for _, k in samples)
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if not spread:
        return 0.0
    return sum((t - mean_t) * (k - mean_k) for t, k in samples) / spread * 60 / 1024


def memory_report(samples: list[tuple[float, int]], warm_up: float) -> list[str]:
    """The lines on the server's memory: from the start, and after warm-up against the target."""
    kib = [k for _, k in samples]
    first, last = kib[0], kib[-1]
    lines = [f"server memory: {first / 1024:.0f} MiB at the start, {last / 1024:.0f} MiB "
             f"at the end (highest {max(kib) / 1024:.0f} MiB, growth "
             f"{(last - first) / 1024:+.0f} MiB)"]
    after = [(t, k) for t, k in samples if t >= warm_up]
    if len(after) < 2:
        lines.append(f"after warm-up: the run is too short to tell (warm-up {warm_up:g} s)")
        return lines
    growth = (last - after[0][1]) / 1024
    met = "met" if growth < GROWTH_TARGET_MIB else "NOT met"
    lines.append(f"after warm-up ({after[0][0]:.0f} s): {after[0][1] / 1024:.1f} MiB, "
                 f"{last / 1024:.1f} MiB at the end: growth {growth:+.1f} MiB, slope "
                 f"{slope_mib_per_min(after):+.2f} MiB/min; target under "
                 f"{GROWTH_TARGET_MIB} MiB: {met}")
    return lines


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--loans", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--pg", help="a PostgreSQL URL to use (dropped and created)")
    parser.add_argument("--warm-up", type=float, default=60,
                        help="seconds of load after which the caches are taken as full")
    parser.add_argument("--rss-log", type=Path, help="write the RSS samples here (CSV)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        tmp = Path(work)
        url = args.pg or f"sqlite:///{tmp / 'soak.db'}"
        if args.pg:
            fresh_pg(args.pg)
        server = serve(url, args.port, tmp)
        base = f"http://127.0.0.1:{args.port}"
        try:
            started = time.perf_counter()
            society = Society(base, args.members, args.loans)
            print(f"set up {len(society.codes)} members and {len(society.loans)} loans through "
                  f"the API in {time.perf_counter() - started:.0f} s", flush=True)
            load_started = time.monotonic()
            memory = [(0.0, rss_kib(server.pid))]
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.wait(SAMPLE_SECONDS):
                    memory.append((time.monotonic() - load_started, rss_kib(server.pid)))

            sampler = threading.Thread(target=sample)
            sampler.start()
            seconds = args.minutes * 60
            latencies, outcomes, errors = drive(society, base, args.clients, seconds, args.seed)
            sampling.set()
            sampler.join()
            memory.append((time.monotonic() - load_started, rss_kib(server.pid)))
        finally:
            server.terminate()
            server.wait(timeout=30)
        env = {**os.environ, "COOP_DATABASE_URL": url,
               "COOP_DATA_KEY_FILE": str(tmp / "data.key")}
        verified = subprocess.run([str(BIN / "coop"), "verify"], env=env, capture_output=True,
                                  text=True)
    total = sum(len(v) for v in latencies.values())
    every = [x for v in latencies.values() for x in v]
    print(f"{args.clients} clients for {args.minutes:g} min on "
          f"{'PostgreSQL' if args.pg else 'SQLite'}: {total:,} requests, "
          f"{total / seconds:.0f} req/s, p50 {statistics.median(every):.1f} ms, "
          f"p99 {percentile(every, 0.99):.1f} ms")
    for name, _ in MIX:
        values = latencies.get(name, [])
        if values:
            print(f"  {name:<11} {len(values):>7,}  p50 {statistics.median(values):6.1f} ms  "
                  f"p99 {percentile(values, 0.99):6.1f} ms")
    expected = sum(c for k, c in outcomes.items() if k == "withdrawal 422")
    print(f"errors: {outcomes['errors']} (expected 422s for too-large withdrawals: {expected})")
    for line in errors:
        print("  ", line)
    for line in memory_report(memory, args.warm_up):
        print(line)
    if args.rss_log:
        args.rss_log.write_text("seconds,rss_kib\n" + "".join(
            f"{t:.1f},{k}\n" for t, k in memory))
    print(f"coop verify: exit {verified.returncode}: {verified.stdout.strip()[-300:]}")
    if outcomes["errors"] or verified.returncode:
        sys.exit(1)


if __name__ == "__main__":
    main()
