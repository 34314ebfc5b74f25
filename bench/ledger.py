"""Ledger benchmark on the shared co-op workload (../shared/bench/gen_workload.py).

Measures, on an SQLite file and (with --pg) on PostgreSQL, medians of:
- entries/s through `post()`, one transaction per entry (the counter's path);
- the same workload through plain `sqlite3` (WAL, synchronous=FULL, one transaction per entry),
  or on PostgreSQL through plain psycopg (one transaction per entry): the physical limit on
  this machine, measured in the same run, and post()'s ratio to it (the target is 0.5);
- entries/s through the bulk path `post_many()` (many entries per transaction, same checks);
- `balance()` latency (a read transaction and one indexed row) at ~10k and at ~1M postings;
- trial balance time at ~1M postings (it reads account rows, not postings);
- `verify()` time for the whole book.

    .venv/bin/python bench/ledger.py                 # SQLite only
    .venv/bin/python bench/ledger.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/coop_bench

Workload accounts map onto the chart: Assets:Cash -> 1000, Assets:Bank -> 1010,
Assets:Loans:M -> 1100:M, Liabilities:Savings:M -> 2000:M, Equity:Shares:M -> 3000:M,
Income:LoanInterest -> 4000, Income:Fees and Income:Penalties -> 4100. The workload pays cash
withdrawals beyond the cash it takes in (deposits also go to the bank), so the book opens with
an opening-balance entry that funds the cash box from undistributed surplus.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coop import migrate  # noqa: E402
from coop.clock import FixedClock  # noqa: E402
from coop.db import Database, _sqlite_on_connect  # noqa: E402
from coop.ledger import EntryDraft, PostingDraft, Side, open_account, post, post_many  # noqa: E402
from coop.ledger import queries as q  # noqa: E402
from coop.ledger.rows import (  # noqa: E402
    _ADD_TO_ACCOUNT,
    _BOOK_LOCK,
    _INSERT_ENTRY,
    _INSERT_POSTING,
    _KEY_LOOKUP,
    _MOVE_HEAD,
    sqlite_account_lock,
)
from coop.ledger.verify import verify  # noqa: E402
from coop.society import init_society  # noqa: E402

GENERATOR = ROOT.parent / "shared" / "bench" / "gen_workload.py"
DATA = ROOT / "bench" / "data"
CLOCK = FixedClock(date(2025, 12, 31))
OPENING_CASH_MINOR = 10**12
FIXED = {
    "Assets:Cash": "1000",
    "Assets:Bank": "1010",
    "Income:LoanInterest": "4000",
    "Income:Fees": "4100",
    "Income:Penalties": "4100",
}
PARENTS = {"Assets:Loans": ("1100", "asset"), "Liabilities:Savings": ("2000", "liability"),
           "Equity:Shares": ("3000", "equity")}


def workload(members: int, entries: int) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"wl_{members}_{entries}.jsonl"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(GENERATOR), "--members", str(members), "--entries",
             str(entries), "--seed", "42", "-o", str(path)],
            check=True,
        )
    return path


def account_code(name: str) -> str:
    if name in FIXED:
        return FIXED[name]
    head, _, member = name.rpartition(":")
    return f"{PARENTS[head][0]}:{member}"


def drafts(path: Path, limit: int | None = None, start: int = 0) -> Iterator[EntryDraft]:
    with path.open() as handle:
        for n, line in enumerate(handle):
            if n < start:
                continue
            if limit is not None and n >= start + limit:
                return
            raw = json.loads(line)
            yield EntryDraft(
                value_date=date.fromisoformat(raw["date"]),
                narration=raw["description"],
                kind=raw["kind"],
                postings=tuple(
                    PostingDraft(account_code(p["account"]),
                                 Side.DEBIT if p["amount"] > 0 else Side.CREDIT,
                                 abs(p["amount"]))
                    for p in raw["postings"]
                ),
                idempotency_key=f"wl-{n}",
            )


def set_up(db: Database, path: Path) -> None:
    migrate.upgrade(db.writer)
    db.write(lambda s: init_society(s, name="Bench", currency="INR", locale="en_IN",
                                    clock=CLOCK))
    names: set[str] = set()
    with path.open() as handle:
        for line in handle:
            names.update(p["account"] for p in json.loads(line)["postings"])

    def open_all(session: object) -> None:
        for name in sorted(names):
            head, _, member = name.rpartition(":")
            if name in FIXED:
                continue
            parent, kind = PARENTS[head]
            open_account(session, code=f"{parent}:{member}", name=f"{head} {member}",  # type: ignore[arg-type]
                         type=kind, parent=parent, owner=member, clock=CLOCK)
        post(session, EntryDraft(  # type: ignore[arg-type]
            value_date=date(2025, 1, 1), narration="Opening balance", kind="opening",
            postings=(PostingDraft("1000", Side.DEBIT, OPENING_CASH_MINOR),
                      PostingDraft("3200", Side.CREDIT, OPENING_CASH_MINOR))),
            clock=CLOCK)

    db.write(open_all)


def fresh_database(url: str | None, label: str, tmp: Path) -> Database:
    if url is None:
        return Database(f"sqlite:///{tmp / label}.db", pool_size=4)
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return Database(url, pool_size=4)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else 0.0


def bench_single(db: Database, path: Path, count: int, chunk: int = 500) -> float:
    """Median entries/s over chunks of `chunk` entries, each entry its own transaction."""
    rates = []
    batch: list[EntryDraft] = []
    for draft in drafts(path, count):
        batch.append(draft)
        if len(batch) == chunk:
            started = time.perf_counter()
            for d in batch:
                db.write(lambda s, d=d: post(s, d, clock=CLOCK))
            rates.append(rate(len(batch), time.perf_counter() - started))
            batch = []
    return statistics.median(rates)


def bench_bulk(db: Database, path: Path, count: int, start: int, batch: int = 5000) -> float:
    rates = []
    source = drafts(path, count, start=start)
    while True:
        chunk = [d for _, d in zip(range(batch), source, strict=False)]
        if not chunk:
            break
        started = time.perf_counter()
        db.write(lambda s, c=chunk: post_many(s, c, clock=CLOCK))
        rates.append(rate(len(chunk), time.perf_counter() - started))
    return statistics.median(rates)


def bench_plain_sqlite(path: Path, count: int, tmp: Path, chunk: int = 500) -> float:
    conn = sqlite3.connect(tmp / "plain.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE entry (id INTEGER PRIMARY KEY, value_date TEXT, narration TEXT,"
                 " kind TEXT)")
    conn.execute("CREATE TABLE posting (entry_id INTEGER, line INTEGER, account TEXT,"
                 " amount INTEGER, PRIMARY KEY (entry_id, line))")
    rates = []
    rows = []
    with path.open() as handle:
        for n, line in zip(range(count), handle, strict=False):
            rows.append((n + 1, json.loads(line)))
    for start in range(0, len(rows) - chunk + 1, chunk):
        started = time.perf_counter()
        for entry_id, raw in rows[start : start + chunk]:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO entry VALUES (?, ?, ?, ?)",
                         (entry_id, raw["date"], raw["description"], raw["kind"]))
            conn.executemany("INSERT INTO posting VALUES (?, ?, ?, ?)",
                             [(entry_id, i, p["account"], p["amount"])
                              for i, p in enumerate(raw["postings"])])
            conn.execute("COMMIT")
        rates.append(rate(chunk, time.perf_counter() - started))
    conn.close()
    return statistics.median(rates)


def bench_plain_pg(url: str, path: Path, count: int, chunk: int = 500) -> float:
    """The same entries through plain psycopg: one transaction per entry (INSERT the entry,
    executemany its postings, COMMIT), in a scratch database."""
    import psycopg

    fresh_database(url, "plain", Path()).dispose()
    conn = psycopg.connect(url.replace("+psycopg", ""), autocommit=False)
    with conn.transaction():
        conn.execute("CREATE TABLE entry (id BIGINT PRIMARY KEY, value_date TEXT, "
                     "narration TEXT, kind TEXT)")
        conn.execute("CREATE TABLE posting (entry_id BIGINT, line INTEGER, account TEXT, "
                     "amount BIGINT, PRIMARY KEY (entry_id, line))")
    rows = []
    with path.open() as handle:
        for n, line in zip(range(count), handle, strict=False):
            rows.append((n + 1, json.loads(line)))
    rates = []
    for start in range(0, len(rows) - chunk + 1, chunk):
        started = time.perf_counter()
        for entry_id, raw in rows[start : start + chunk]:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute("INSERT INTO entry VALUES (%s, %s, %s, %s)",
                               (entry_id, raw["date"], raw["description"], raw["kind"]))
                cursor.executemany("INSERT INTO posting VALUES (%s, %s, %s, %s)",
                                   [(entry_id, i, p["account"], p["amount"])
                                    for i, p in enumerate(raw["postings"])])
        rates.append(rate(chunk, time.perf_counter() - started))
    conn.close()
    return statistics.median(rates)


def bench_same_sql_sqlite(path: Path, count: int, tmp: Path, chunk: int = 500) -> float:
    """post()'s own statements with nothing else, through plain sqlite3 on a book set up as
    the post() run's was (the same schema, indexes, constraints and pragmas): each entry's
    BEGIN IMMEDIATE, the book's and the accounts' reads, the key's lookup, the entry, its
    postings, the counters of its accounts and their control accounts, the chain head, the
    COMMIT. No checks and no Python of the ledger's: the floor under post() on this machine.
    The hash is a plain sha256 of the entry's number."""
    db = fresh_database(None, "same-sql", tmp)
    set_up(db, path)
    db.dispose()
    conn = sqlite3.connect(tmp / "same-sql.db", isolation_level=None)
    _sqlite_on_connect(conn, None)  # type: ignore[arg-type]
    accounts = {code: (account_id, parent_id) for account_id, code, parent_id
                in conn.execute("SELECT id, code, parent_id FROM ledger_account")}
    entry_id, prev_hash = conn.execute("SELECT head_seq, head_hash FROM ledger_book").fetchone()
    rates = []
    entries = list(drafts(path, count))
    for start in range(0, len(entries) - chunk + 1, chunk):
        started = time.perf_counter()
        for draft in entries[start : start + chunk]:
            entry_id += 1
            codes = sorted({p.account for p in draft.postings})
            added: dict[int, list[int]] = {}
            for p in draft.postings:
                account_id, parent_id = accounts[p.account]
                for touched in (account_id, *([parent_id] if parent_id else [])):
                    sums = added.setdefault(touched, [0, 0])
                    sums[p.side is Side.CREDIT] += p.amount_minor
            entry_hash = hashlib.sha256(str(entry_id).encode()).hexdigest()
            on = draft.value_date.isoformat()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_BOOK_LOCK).fetchone()
            conn.execute(*sqlite_account_lock(codes)).fetchall()
            conn.execute(_KEY_LOOKUP, [draft.idempotency_key]).fetchone()
            conn.execute(_INSERT_ENTRY, (entry_id, on, "2025-12-31 00:00:00.000000", draft.kind,
                                         draft.narration, "system", draft.idempotency_key,
                                         None, prev_hash, entry_hash))
            conn.executemany(_INSERT_POSTING, [
                (entry_id, line, accounts[p.account][0], p.side.value, p.amount_minor, on)
                for line, p in enumerate(draft.postings, start=1)])
            conn.executemany(_ADD_TO_ACCOUNT, [(d, c, i) for i, (d, c) in added.items()])
            conn.execute(_MOVE_HEAD, (entry_id, entry_hash))
            conn.execute("COMMIT")
            prev_hash = entry_hash
        rates.append(rate(chunk, time.perf_counter() - started))
    conn.close()
    return statistics.median(rates)


def postings(db: Database) -> int:
    return db.read(lambda s: s.execute(text("SELECT COUNT(*) FROM ledger_posting")).scalar_one())


def latency_ms(work: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(url: str | None, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    label = "postgresql" if url else "sqlite"
    results: dict[str, float] = {}
    small = workload(1000, 100_000)
    db = fresh_database(url, f"single-{label}", tmp)
    set_up(db, small)
    results["post_per_s"] = bench_single(db, small, args.single)
    member = "2000:M00001"
    results["postings_small"] = postings(db)
    results["balance_ms_small"] = latency_ms(lambda: db.read(lambda s: q.balance(s, member)), 2000)
    db.dispose()

    big = workload(10_000, args.big_entries)
    db = fresh_database(url, f"bulk-{label}", tmp)
    set_up(db, big)
    started = time.perf_counter()
    results["bulk_per_s"] = bench_bulk(db, big, args.big_entries, start=0)
    results["bulk_load_s"] = time.perf_counter() - started
    results["postings_big"] = postings(db)
    results["balance_ms_big"] = latency_ms(lambda: db.read(lambda s: q.balance(s, member)), 2000)
    results["trial_balance_ms_big"] = latency_ms(lambda: db.read(q.trial_balance), 30)
    results["trial_balance_asof_ms_big"] = latency_ms(
        lambda: db.read(lambda s: q.trial_balance(s, as_of=date(2025, 12, 1))), 5)
    started = time.perf_counter()
    report = db.read(verify)
    results["verify_s_big"] = time.perf_counter() - started
    results["verify_ok"] = float(report.ok)
    db.dispose()
    if url is None:
        results["plain_sqlite_per_s"] = bench_plain_sqlite(small, args.single, tmp)
        results["post_ratio_to_plain"] = results["post_per_s"] / results["plain_sqlite_per_s"]
        results["same_sql_plain_per_s"] = bench_same_sql_sqlite(small, args.single, tmp)
        results["same_sql_ratio_to_plain"] = (results["same_sql_plain_per_s"]
                                              / results["plain_sqlite_per_s"])
        results["post_ratio_to_same_sql"] = (results["post_per_s"]
                                             / results["same_sql_plain_per_s"])
    else:
        results["plain_psycopg_per_s"] = bench_plain_pg(url, small, args.single)
        results["post_ratio_to_plain"] = results["post_per_s"] / results["plain_psycopg_per_s"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=None, help="PostgreSQL URL of a scratch database")
    parser.add_argument("--single", type=int, default=5000,
                        help="entries posted one transaction each")
    parser.add_argument("--big-entries", type=int, default=440_000,
                        help="entries bulk-loaded for the ~1M-postings figures")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--skip-sqlite", action="store_true", help="only PostgreSQL (--pg)")
    args = parser.parse_args()
    all_results = {}
    with tempfile.TemporaryDirectory(dir=DATA if DATA.exists() else None) as tmp:
        engines: list[str | None] = [] if args.skip_sqlite else [None]
        for url in [*engines, args.pg] if args.pg else engines:
            label = "postgresql" if url else "sqlite"
            print(f"== {label} ==", flush=True)
            results = run(url, args, Path(tmp))
            all_results[label] = results
            for key, value in results.items():
                print(f"{key:28} {value:,.3f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(all_results, indent=2))


if __name__ == "__main__":
    main()
