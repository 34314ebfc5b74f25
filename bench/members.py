"""The counter at scale: 20,000 members and a million entries in an SQLite file.

1. registers the members (random numbers, encrypted identities, their ledger accounts);
2. bulk-loads the shared workload (../shared/bench/gen_workload.py with --members 20000
   --entries 1000000), its member Mnnnnn mapped onto the registered members;
3. serves the API and measures, from a second process over loopback: a counter deposit
   (20 clients, and one client alone) and the member summary read;
4. times the interest posting run for all members for one month.

    .venv/bin/python bench/members.py [--members 20000] [--entries 1000000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api import PASSWORD, load  # noqa: E402
from ledger import GENERATOR, latency_ms  # noqa: E402

from coop import migrate  # noqa: E402
from coop.clock import FixedClock  # noqa: E402
from coop.db import Database  # noqa: E402
from coop.ledger import EntryDraft, PostingDraft, Side, open_account, post_many  # noqa: E402
from coop.members import Identity, register_member  # noqa: E402
from coop.members.vault import Vault, create_key_file  # noqa: E402
from coop.savings.interest_run import post_interest  # noqa: E402
from coop.society import init_society  # noqa: E402

CLOCK = FixedClock(date(2026, 1, 1))
BIN = Path(sys.executable).parent


def workload(members: int, entries: int) -> Path:
    path = ROOT / "bench" / "data" / f"wl_{members}_{entries}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        subprocess.run([sys.executable, str(GENERATOR), "--members", str(members), "--entries",
                        str(entries), "--seed", "42", "-o", str(path)], check=True)
    return path


def build(db: Database, vault: Vault, members: int, path: Path) -> list[str]:
    migrate.upgrade(db.writer)
    db.write(lambda s: init_society(s, name="Bench", currency="INR", locale="en_IN",
                                    clock=CLOCK))
    codes: list[str] = []
    started = time.perf_counter()
    for first in range(0, members, 1000):
        def register(session: object, n: int = min(1000, members - first)) -> list[str]:
            return [register_member(session, identity=Identity(known_as=f"Member {i}"),  # type: ignore[arg-type]
                                    joined_on=date(2025, 1, 1), vault=vault, clock=CLOCK).code
                    for i in range(n)]
        codes.extend(db.write(register))
    print(f"registered {members} members in {time.perf_counter() - started:.1f} s", flush=True)

    def opening(session: object) -> None:
        for code in codes:
            open_account(session, code=f"1100:{code}", name=f"Loan {code}", type="asset",  # type: ignore[arg-type]
                         parent="1100", owner=code, clock=CLOCK)
        post_many(session, [EntryDraft(  # type: ignore[arg-type]
            value_date=date(2025, 1, 1), narration="Opening balance", kind="opening",
            postings=(PostingDraft("1000", Side.DEBIT, 10**13),
                      PostingDraft("3200", Side.CREDIT, 10**13)))], clock=CLOCK)

    db.write(opening)
    fixed = {"Assets:Cash": "1000", "Assets:Bank": "1010", "Income:LoanInterest": "4000",
             "Income:Fees": "4100", "Income:Penalties": "4100"}
    parents = {"Assets:Loans": "1100", "Liabilities:Savings": "2000", "Equity:Shares": "3000"}

    def code_of(name: str) -> str:
        if name in fixed:
            return fixed[name]
        head, _, member = name.rpartition(":")
        return f"{parents[head]}:{codes[(int(member[1:]) - 1) % len(codes)]}"

    started = time.perf_counter()
    batch: list[EntryDraft] = []
    loaded = 0
    with path.open() as handle:
        for line in handle:
            raw = json.loads(line)
            batch.append(EntryDraft(
                value_date=date.fromisoformat(raw["date"]), narration=raw["description"],
                kind=raw["kind"],
                postings=tuple(PostingDraft(code_of(p["account"]),
                                            Side.DEBIT if p["amount"] > 0 else Side.CREDIT,
                                            abs(p["amount"])) for p in raw["postings"])))
            if len(batch) == 5000:
                db.write(lambda s, b=batch: post_many(s, b, clock=CLOCK))
                loaded += len(batch)
                batch = []
    if batch:
        db.write(lambda s, b=batch: post_many(s, b, clock=CLOCK))
        loaded += len(batch)
    print(f"loaded {loaded} entries in {time.perf_counter() - started:.1f} s", flush=True)
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT / "bench" / "data") as tmp:
        url = f"sqlite:///{tmp}/members.db"
        key_file = Path(tmp) / "data.key"
        create_key_file(key_file)
        vault = Vault.from_file(key_file)
        db = Database(url, pool_size=4)
        codes = build(db, vault, args.members, workload(args.members, args.entries))

        started = time.perf_counter()
        run = db.write(lambda s: post_interest(
            s, start=date(2025, 11, 1), through=date(2025, 11, 30),
            rate_percent=Decimal("4"), min_balance_minor=0, actor="bench", clock=CLOCK))
        print(f"interest run, one month, {len(codes)} members: "
              f"{time.perf_counter() - started:.1f} s ({run.accounts} entries)", flush=True)
        db.dispose()

        env = {**os.environ, "COOP_DATABASE_URL": url, "COOP_ADMIN_PASSWORD": PASSWORD,
               "COOP_DATA_KEY_FILE": str(key_file), "COOP_BUSINESS_DATE": "2026-01-01"}
        subprocess.run([str(BIN / "coop"), "init"], env=env, check=True, capture_output=True)
        port = 8766
        server = subprocess.Popen([str(BIN / "coop"), "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(f"{base}/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            token = httpx.post(f"{base}/api/v1/auth/token", json={
                "username": "admin", "password": PASSWORD}).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                member = codes[len(codes) // 2]
                alone = latency_ms(lambda: client.post(
                    f"/api/v1/members/{member}/deposits", json={"amount": "10.00"},
                    headers={"Idempotency-Key": uuid.uuid4().hex}), 300)
                summaries = sorted(
                    _timed(lambda m=m: client.get(f"/api/v1/members/{m}"))
                    for m in codes[: min(1000, len(codes))])
            print(f"deposit, one client, one member: p50 {alone:.1f} ms", flush=True)
            print(f"member summary, one client: p50 {summaries[len(summaries) // 2]:.1f} ms, "
                  f"p99 {summaries[int(len(summaries) * 0.99) - 1]:.1f} ms", flush=True)
            turn = itertools.count()
            counter = load(base, token, write=True, clients=1, seconds=args.seconds,
                           path_for=lambda _: (
                               f"/api/v1/members/{codes[next(turn) % len(codes)]}/deposits"),
                           body={"amount": "10.00"})
            print(f"deposit, one counter (one client, a different member each time): "
                  f"{counter['rps']:.0f} req/s, p50 {counter['p50_ms']:.1f} ms, "
                  f"p99 {counter['p99_ms']:.1f} ms", flush=True)
            many = _deposits(base, token, codes, args.seconds)
            print(f"deposit, 20 clients: {many['rps']:.0f} req/s, p50 {many['p50_ms']:.1f} ms, "
                  f"p99 {many['p99_ms']:.1f} ms ({int(many['errors'])} errors)", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=20)


def _timed(call: object) -> float:
    started = time.perf_counter()
    call()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def _deposits(base: str, token: str, codes: list[str], seconds: float) -> dict[str, float]:
    """20 clients, each depositing for a different member, as counters would."""
    return load(base, token, write=True, clients=20, seconds=seconds,
                path_for=lambda n: f"/api/v1/members/{codes[n % len(codes)]}/deposits",
                body={"amount": "10.00"})


if __name__ == "__main__":
    main()
