"""`verify` of a million entries: the chain, every balance and every register.

1. builds the book once as bench/dividends.py does (3,000 members registered in an SQLite
   file, the shared workload's 1,000,000 entries for calendar 2024 bulk-loaded onto them through
   `post_many`, their share purchases in the share register, a membership share each: 1,003,002
   entries in all) and keeps it in --cache (a verify only reads it, so later runs reuse it);
2. times `verify` in two processes (as `coop verify` runs it when a second core is idle) and
   in one, and the registers' checks; median of --runs each;
3. in the same run, the reference: plain sqlite3 reading the same columns of both tables in
   the same order and hashing each entry's stored bytes with sha256 (the floor any check of
   the chain in Python stands on), and the ratio.

    .venv/bin/python bench/verify.py [--members 3000] [--entries 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dividends import build, workload  # noqa: E402

from coop import registers  # noqa: E402
from coop.db import Database  # noqa: E402
from coop.ledger.verify import VerifyReport, verify  # noqa: E402

CACHE = Path("/tmp/coop-bench")


def cached_book(members: int, entries: int, cache: Path) -> Path:
    """The book's SQLite file, built the first time (a few minutes) and reused after."""
    path = cache / f"verify_{members}_{entries}.db"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    building = path.with_suffix(".building")
    for stale in cache.glob(f"{building.name}*"):
        stale.unlink()
    started = time.perf_counter()
    db = Database(f"sqlite:///{building}", pool_size=2)
    build(db, members, workload(members, entries))
    db.dispose()
    with sqlite3.connect(building) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.move(building, path)
    print(f"book built in {time.perf_counter() - started:.0f} s and kept in {path}", flush=True)
    return path


def plain_scan(path: Path) -> tuple[int, str]:
    """Plain sqlite3: every entry's and posting's stored columns, merged in order, each
    entry's bytes through sha256 (no canonical form, no balances): the floor."""
    chain = hashlib.sha256()
    count = 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as raw:
        postings = raw.execute("SELECT entry_id, account_id, side, amount_minor "
                               "FROM ledger_posting ORDER BY entry_id, line")
        pending = postings.fetchone()
        for row in raw.execute("SELECT id, value_date, posted_at, kind, narration, actor, "
                               "reversal_of, prev_hash, hash FROM ledger_entry ORDER BY id"):
            legs = []
            while pending is not None and pending[0] == row[0]:
                legs.append(pending)
                pending = postings.fetchone()
            text = "\x1f".join(map(str, (*row, *(v for leg in legs for v in leg))))
            digest = hashlib.sha256(text.encode()).digest()
            chain.update(digest)
            count += 1
    return count, chain.hexdigest()


def timed(work: Callable[[], object], runs: int) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=3_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    path = cached_book(args.members, args.entries, args.cache)
    db = Database(f"sqlite:///{path}", pool_size=2)
    try:
        reports: dict[str, float] = {}
        for name, processes in (("verify, two processes", 2), ("verify, one process", 1)):
            seconds, report = timed(lambda p=processes: db.read(  # type: ignore[misc]
                lambda s: verify(s, processes=p)), args.runs)
            assert isinstance(report, VerifyReport) and report.ok, report
            reports[name] = seconds
            entries = report.entries_checked
        registers_s, problems = timed(lambda: db.read(registers.reconcile_registers), args.runs)
        assert problems == [], problems
        plain_s, (scanned, _) = timed(lambda: plain_scan(path), args.runs)  # type: ignore[misc]
        assert scanned == entries
    finally:
        db.dispose()
    print(f"{entries:,} entries (SQLite file {path.stat().st_size / 1e6:.0f} MB), medians of "
          f"{args.runs}:")
    for name, seconds in reports.items():
        print(f"  {name:<26} {seconds:6.1f} s  {entries / seconds:9,.0f} entries/s  "
              f"{plain_s / seconds:.2f}x plain sqlite3")
    print(f"  {'registers checks':<26} {registers_s:6.1f} s")
    print(f"  {'coop verify (2 + registers)':<26} "
          f"{reports['verify, two processes'] + registers_s:6.1f} s  (target < 15 s)")
    print(f"  {'plain sqlite3 + sha256':<26} {plain_s:6.1f} s  {entries / plain_s:9,.0f} "
          "entries/s  (same run)")


if __name__ == "__main__":
    main()
