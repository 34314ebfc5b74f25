"""The auditor's pack at scale: 20,000 members and a year of business.

1. builds the book as bench/dividends.py does (members registered in an SQLite file, the
   shared workload for calendar 2024 bulk-loaded onto them with its share purchases in the
   share register, one membership share each from January);
2. closes fiscal years 2023 and 2024 and declares a 10 % dividend for 2024;
3. times `coop.auditpack.build_pack` for 2024 (median of --runs builds), step by step from
   its progress reports, and checks that every build gave the same bytes.

    .venv/bin/python bench/audit_pack.py [--members 20000] [--entries 400000] [--runs 2]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dividends import CLOCK, build, workload  # noqa: E402

from coop import dividends as year_end  # noqa: E402
from coop.auditpack import build_pack  # noqa: E402
from coop.db import Database  # noqa: E402
from coop.ledger import queries  # noqa: E402
from coop.society import require_society  # noqa: E402

FY = 2024


def close_and_declare(db: Database) -> None:
    for name in (FY - 1, FY):
        db.write(lambda s, n=name: year_end.close_year(
            s, n, society=require_society(s), actor="bench", clock=CLOCK))
    db.write(lambda s: year_end.declare_dividend(
        s, FY, year_end.Request(dividend_rate=Decimal("10")), society=require_society(s),
        resolution=year_end.Resolution("AGM-2025/4", date(2025, 4, 28)), actor="bench",
        clock=CLOCK))


def timed_build(db: Database, out: Path) -> tuple[float, dict[str, float], str]:
    """Seconds in all, seconds per step (first to last report of each), the zip's digest."""
    seen: dict[str, list[float]] = defaultdict(list)

    def progress(step: str, _done: int, _total: int | None) -> None:
        seen[step].append(time.perf_counter())

    started = time.perf_counter()
    build_pack(db, FY, out, progress, today_on=CLOCK.today(), replace=True)
    total = time.perf_counter() - started
    steps = {step: marks[-1] - marks[0] for step, marks in seen.items()}
    return total, steps, hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--entries", type=int, default=400_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    (ROOT / "bench" / "data").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "bench" / "data") as tmp:
        db = Database(f"sqlite:///{tmp}/audit_pack.db", pool_size=4)
        started = time.perf_counter()
        build(db, args.members, workload(args.members, args.entries))
        close_and_declare(db)
        print(f"book built in {time.perf_counter() - started:.0f} s", flush=True)
        out = Path(tmp) / "pack.zip"
        runs = [timed_build(db, out) for _ in range(args.runs)]
        totals = [total for total, _, _ in runs]
        digests = {digest for _, _, digest in runs}
        book = db.read(queries.book)
        entries = book.head_seq if book else 0
        print(f"pack of fiscal year {FY}: {entries:,} entries in the book, "
              f"{out.stat().st_size / 1e6:.1f} MB zip; builds "
              f"{', '.join(f'{t:.1f}' for t in totals)} s, "
              f"median {statistics.median(totals):.1f} s; "
              f"the same bytes every time: {len(digests) == 1}")
        for step, seconds in runs[-1][1].items():
            print(f"  {step:<14} {seconds:6.1f} s")
        db.dispose()


if __name__ == "__main__":
    main()
