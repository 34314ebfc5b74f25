"""Year-end at scale: the dividend preview and payment for 100,000 members.

1. registers `--members` members (joined before the year) in an SQLite file;
2. bulk-loads the shared workload (../shared/bench/gen_workload.py --year 2024), its members
   Mnnnnnn mapped onto the registered members; every share purchase in it is also a row of the
   share register, so the year has real share movements (before and inside the fiscal year
   2024-04-01..2025-03-31); every member also holds one membership share from January;
3. closes fiscal year 2024 and times the preview (share-days basis, 10 %, with a patronage
   rebate), the declaration and the payment into every member's savings.

    .venv/bin/python bench/dividends.py [--members 100000] [--entries 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ledger import GENERATOR  # noqa: E402

from coop import dividends, migrate  # noqa: E402
from coop.clock import FixedClock  # noqa: E402
from coop.db import Database  # noqa: E402
from coop.ledger import EntryDraft, PostingDraft, Side, post_many  # noqa: E402
from coop.members import Identity, register_member  # noqa: E402
from coop.members.vault import Vault  # noqa: E402
from coop.savings.shares import ShareMovementRow  # noqa: E402
from coop.society import get_society, init_society  # noqa: E402

CLOCK = FixedClock(date(2025, 5, 2))
CLOCK.instant = CLOCK.now()


def workload(members: int, entries: int) -> Path:
    path = ROOT / "bench" / "data" / f"wl_{members}_{entries}_2024.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        subprocess.run([sys.executable, str(GENERATOR), "--members", str(members), "--entries",
                        str(entries), "--seed", "42", "--year", "2024", "-o", str(path)],
                       check=True)
    return path


def build(db: Database, members: int, path: Path) -> list[str]:
    migrate.upgrade(db.writer)
    db.write(lambda s: init_society(s, name="Bench", currency="INR", locale="en_IN",
                                    clock=CLOCK))
    vault = Vault(bytes(range(32)))
    codes: list[str] = []
    started = time.perf_counter()
    for first in range(0, members, 1000):
        def register(session: object, n: int = min(1000, members - first)) -> list[str]:
            return [register_member(session, identity=Identity(),  # type: ignore[arg-type]
                                    joined_on=date(2023, 1, 1), vault=vault, clock=CLOCK).code
                    for _ in range(n)]
        codes.extend(db.write(register))
    print(f"registered {members} members in {time.perf_counter() - started:.0f} s", flush=True)
    ids: dict[str, int] = db.read(lambda s: {code: id_ for code, id_ in s.execute(
        text("SELECT code, id FROM member"))})
    fixed = {"Assets:Cash": "1000", "Assets:Bank": "1010", "Income:LoanInterest": "4000",
             "Income:Fees": "4100", "Income:Penalties": "4100"}
    parents = {"Liabilities:Savings": "2000", "Equity:Shares": "3000"}

    def code_of(name: str) -> str:
        if name in fixed:
            return fixed[name]
        head, _, member = name.rpartition(":")
        if head == "Assets:Loans":  # loans are not modelled here: lent from the surplus
            return "3200"
        return f"{parents[head]}:{codes[(int(member[1:]) - 1) % len(codes)]}"

    db.write(lambda s: post_many(s, [EntryDraft(  # type: ignore[arg-type]
        value_date=date(2024, 1, 1), narration="Opening balance", kind="opening",
        postings=(PostingDraft("1000", Side.DEBIT, 10**13),
                  PostingDraft("3200", Side.CREDIT, 10**13))), EntryDraft(
        value_date=date(2024, 12, 31), narration="Grant for the year", kind="grant",
        postings=(PostingDraft("1010", Side.DEBIT, 10**11),
                  PostingDraft("4200", Side.CREDIT, 10**11)))], clock=CLOCK))
    started = time.perf_counter()
    batch: list[EntryDraft] = []
    loaded = 0

    def flush(session: object, drafts: list[EntryDraft]) -> None:
        posted = post_many(session, drafts, clock=CLOCK)  # type: ignore[arg-type]
        rows = []
        for entry in posted:
            if entry.kind != "share_purchase":
                continue
            share = next(p for p in entry.postings if p.account.startswith("3000:"))
            rows.append(ShareMovementRow(member_id=ids[share.account[5:]], entry_id=entry.id,
                                         count=share.amount_minor // 1000,
                                         value_date=entry.value_date))
        session.add_all(rows)  # type: ignore[attr-defined]

    for first in range(0, len(codes), 5000):  # everyone holds a share before the year
        db.write(lambda s, chunk=codes[first:first + 5000]: flush(s, [EntryDraft(
            value_date=date(2024, 1, 2), narration="Membership share", kind="share_purchase",
            postings=(PostingDraft("1000", Side.DEBIT, 1000),
                      PostingDraft(f"3000:{code}", Side.CREDIT, 1000))) for code in chunk]))
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
                db.write(lambda s, b=batch: flush(s, b))
                loaded += len(batch)
                batch = []
    if batch:
        db.write(lambda s, b=batch: flush(s, b))
        loaded += len(batch)
    print(f"loaded {loaded} entries in {time.perf_counter() - started:.0f} s", flush=True)
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT / "bench" / "data") as tmp:
        db = Database(f"sqlite:///{tmp}/dividends.db", pool_size=4)
        build(db, args.members, workload(args.members, args.entries))
        society = db.read(get_society)
        assert society is not None
        db.write(lambda s: dividends.close_year(s, 2023, society=society, actor="bench",
                                                clock=CLOCK))  # January to March 2024
        started = time.perf_counter()
        closed = db.write(lambda s: dividends.close_year(s, 2024, society=society,
                                                         actor="bench", clock=CLOCK))
        print(f"year close: {time.perf_counter() - started:.1f} s (net surplus "
              f"{closed.net_surplus_minor / 100:.2f})", flush=True)
        request = dividends.Request(dividend_rate=Decimal("10"),
                                    patronage_rebate_percent=Decimal("5"))
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            result = db.read(lambda s: dividends.preview(s, 2024, request, society=society))
            timings.append(time.perf_counter() - started)
        print(f"preview, {len(result.members)} members, share-days at 10 %: "
              f"{min(timings):.1f} s (pool {result.pool / 100:.2f}, residue "
              f"{result.residue / 100:.2f})", flush=True)
        started = time.perf_counter()
        agm = dividends.Resolution("AGM-2025/4", date(2025, 6, 28))
        db.write(lambda s: dividends.declare_dividend(s, 2024, request, society=society,
                                                      resolution=agm, actor="bench",
                                                      clock=CLOCK))
        print(f"declaration: {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        paid = db.write(lambda s: dividends.pay_dividend(s, 2024, actor="bench", clock=CLOCK))
        print(f"payment, {paid.payment_entries} entries into savings: "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        db.dispose()


if __name__ == "__main__":
    main()
