"""Loans at scale: quotes, repayments at the counter, and the portfolio report.

1. quotes: 360-installment daily schedules built by the pure engine (and through the API);
2. builds an SQLite file: members with savings, the shared workload's entries
   (../shared/bench/gen_workload.py) for ledger volume, then `--loans` loans created through
   the service (apply, board vote, disburse) on dates over the past year, each with a few
   repayments, some on time, some late, some missed;
3. times GET /reports/portfolio's service over all of them, and the board's meeting pack
   (its figures and its PDF);
4. serves the API and measures a repayment (one client alone, and 20 clients on different
   loans) on the first `--active` loans.

    .venv/bin/python bench/loans.py [--loans 50000] [--members 5000] [--entries 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api import PASSWORD, load  # noqa: E402
from ledger import latency_ms  # noqa: E402
from members import build as build_members  # noqa: E402
from members import workload  # noqa: E402

from coop import loans  # noqa: E402
from coop.board import take_seat  # noqa: E402
from coop.clock import FixedClock  # noqa: E402
from coop.db import Database  # noqa: E402
from coop.loans import schedule  # noqa: E402
from coop.members.vault import Vault, create_key_file  # noqa: E402
from coop.society import get_society, update_settings  # noqa: E402

TODAY = date(2026, 1, 1)
BIN = Path(sys.executable).parent


def quotes(seconds: float = 5.0) -> float:
    terms = schedule.Terms(principal=10_000_00, annual_rate=Decimal("24"), installments=360,
                           disbursed_on=date(2025, 1, 1), frequency=schedule.Frequency.DAILY,
                           interest_period=schedule.InterestPeriod.DAILY)
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        schedule.build(terms)
        done += 1
    return done / (time.perf_counter() - started)


def make_loans(db: Database, codes: list[str], count: int) -> list[int]:
    rng = random.Random(7)
    clock = FixedClock(TODAY)
    clock.instant = clock.now()
    db.write(lambda s: update_settings(s, {"loan_approvals_required": 1,
                                           "loan_max_open_loans": 10,
                                           "loan_min_membership_days": 0,
                                           "max_loan_multiple_of_savings": "100"}))
    db.write(lambda s: loans.create_product(s, loans.Product(
        "WEEKLY26", "Weekly loan", loans.ProductTerms(Decimal("12"), 26,
                                                      schedule.Frequency.WEEKLY),
        None, Decimal("1"), Decimal("0"), loans.engine.DEFAULT_ORDER), clock=clock))
    db.write(lambda s: take_seat(s, member_code=codes[0], username="bench", on=TODAY))
    ids: list[int] = []
    started = time.perf_counter()
    for first in range(0, count, 500):
        def batch(session: object, n: int = min(500, count - first)) -> list[int]:
            made = []
            society = get_society(session)  # type: ignore[arg-type]
            assert society is not None
            for _ in range(n):
                code = codes[1 + (len(ids) + len(made)) % (len(codes) - 1)]
                disbursed = TODAY - timedelta(days=rng.randrange(1, 360))
                clock.business_date = disbursed
                loan, _ = loans.apply(session, member_code=code,  # type: ignore[arg-type]
                                      product_code="WEEKLY26",
                                      principal_minor=rng.randrange(5_000, 50_000) * 100,
                                      installments=None, purpose="business", guarantors=(),
                                      society=society, actor="bench",
                                      clock=clock)
                loans.vote(session, loan.id, voter_code=codes[0],  # type: ignore[arg-type]
                           voter_username="bench", decision="approve", note=None,
                           society=society, clock=clock)
                loans.disburse(session, loan.id, to="savings", on=disbursed,  # type: ignore[arg-type]
                               actor="bench", clock=clock)
                behaviour = rng.random()  # most pay on time, some late, some stop
                installment = loans.standing(session, loan.id,  # type: ignore[arg-type]
                                             as_of=disbursed).installments[0].total
                day = disbursed
                for _week in range(rng.randrange(0, 6)):
                    day += timedelta(days=7 + (rng.randrange(0, 30) if behaviour > 0.8 else 0))
                    if day > TODAY:
                        break
                    clock.business_date = day
                    try:
                        loans.repay(session, loan.id, amount_minor=installment,  # type: ignore[arg-type]
                                    source="savings", on=day, actor="bench", clock=clock)
                    except loans.PaymentAbovePayoff:
                        break
                made.append(loan.id)
            clock.business_date = TODAY
            return made
        ids.extend(db.write(batch))
        if first % 5000 == 0:
            print(f"  {len(ids)} loans, {time.perf_counter() - started:.0f} s", flush=True)
    print(f"created {len(ids)} loans through the service in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return ids


def board_pack(db: Database) -> None:
    """The board's meeting pack for the last month: its figures (PAR30 at twelve
    month-ends, the arrears, the month's money and loans) and the PDF."""
    from coop.passbooks.board_figures import gather, parse_month
    from coop.passbooks.board_pack import board_pack_pdf
    from coop.society import require_society

    month = parse_month("2025-12", today=TODAY)
    started = time.perf_counter()
    pack, society = db.read(lambda s: (gather(s, month, today=TODAY), require_society(s)))
    figures = time.perf_counter() - started
    started = time.perf_counter()
    pdf = board_pack_pdf(pack, society)
    drawn = time.perf_counter() - started
    print(f"board pack 2025-12: figures {figures:.2f} s ({len(pack.arrears)} loans in "
          f"arrears), PDF {drawn:.2f} s ({len(pdf) // 1024} KiB)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=50_000)
    parser.add_argument("--members", type=int, default=6_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--active", type=int, default=5_000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    print(f"quote, 360 daily installments (pure engine): {quotes():.0f} quotes/s", flush=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "bench" / "data") as tmp:
        url = f"sqlite:///{tmp}/loans.db"
        key_file = Path(tmp) / "data.key"
        create_key_file(key_file)
        db = Database(url, pool_size=4)
        codes = build_members(db, Vault.from_file(key_file), args.members,
                              workload(args.members, args.entries))
        ids = make_loans(db, codes, args.loans)
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            report = db.read(lambda s: loans.portfolio(s, as_of=TODAY))
            timings.append(time.perf_counter() - started)
        print(f"portfolio report, {report.loans_active} active of {len(ids)} loans: "
              f"{min(timings):.2f} s (PAR30 {report.par30} %)", flush=True)
        board_pack(db)
        active = [i for i in ids if db.read(lambda s, i=i: loans.get_loan(s, i)).status
                  == "active"][: args.active]
        db.dispose()
        serve_and_measure(url, key_file, active, args.seconds)


def serve_and_measure(url: str, key_file: Path, active: list[int], seconds: float) -> None:
    env = {**os.environ, "COOP_DATABASE_URL": url, "COOP_ADMIN_PASSWORD": PASSWORD,
           "COOP_DATA_KEY_FILE": str(key_file), "COOP_BUSINESS_DATE": TODAY.isoformat()}
    subprocess.run([str(BIN / "coop"), "init"], env=env, check=True, capture_output=True)
    port = 8767
    log = (key_file.parent / "server.log").open("w")
    server = subprocess.Popen([str(BIN / "coop"), "serve", "--port", str(port)], env=env,
                              stdout=log, stderr=log)
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
            quote = {"principal": "10000.00", "annual_rate": "24", "installments": 360,
                     "frequency": "daily", "interest_period": "daily",
                     "disbursed_on": "2025-01-01"}
            q = latency_ms(lambda: client.post("/api/v1/loans/quote", json=quote), 100)
            print(f"POST /loans/quote, 360 daily installments, one client: p50 {q:.1f} ms",
                  flush=True)
            probe = client.post(f"/api/v1/loans/{active[0]}/repayments",
                                json={"amount": "1.00", "source": "savings"},
                                headers={"Idempotency-Key": uuid.uuid4().hex})
            if probe.status_code != 201:
                log.flush()
                raise SystemExit(f"a repayment was refused: {probe.text}\n"
                                 + (key_file.parent / "server.log").read_text()[-3000:])
            turn = iter(range(10**9))
            alone = latency_ms(lambda: client.post(
                f"/api/v1/loans/{active[next(turn) % len(active)]}/repayments",
                json={"amount": "1.00", "source": "savings"},
                headers={"Idempotency-Key": uuid.uuid4().hex}), 300)
            detail = latency_ms(lambda: client.get(f"/api/v1/loans/{active[0]}"), 100)
        print(f"repayment, one client: p50 {alone:.1f} ms", flush=True)
        print(f"GET /loans/{{id}}, one client: p50 {detail:.1f} ms", flush=True)
        rng = random.Random(11)  # each request repays a loan drawn from the active ones

        def any_loan(_: int) -> str:
            return f"/api/v1/loans/{active[rng.randrange(len(active))]}/repayments"

        single = load(base, token, write=True, clients=1, seconds=seconds, path_for=any_loan,
                      body={"amount": "1.00", "source": "savings"})
        print(f"repayment, one client: {single['rps']:.0f} req/s, p50 {single['p50_ms']:.1f} "
              f"ms, p99 {single['p99_ms']:.1f} ms ({int(single['errors'])} errors)", flush=True)
        many = load(base, token, write=True, clients=20, seconds=seconds, path_for=any_loan,
                    body={"amount": "1.00", "source": "savings"})
        print(f"repayment, 20 clients: {many['rps']:.0f} req/s, p50 {many['p50_ms']:.1f} ms, "
              f"p99 {many['p99_ms']:.1f} ms ({int(many['errors'])} errors)", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
