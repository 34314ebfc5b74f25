"""The child of the crash harness: what runs until the parent kills it with SIGKILL.

* `service_child`: opens its own Database and posts the stream of counter operations through
  the service layer, each with its idempotency key: it appends the operation to the
  `attempting` file (fsync) before the call, and its key to the `acked` file (fsync) only
  after the transaction committed. It runs until it is killed.
* `http_child`: the real app served by uvicorn in this process; the parent is the client.
* `overlap_child`: one operation whose commit lands while the parent's retry of it waits.

Broken modes, for the negative controls only (they must be caught by the same checker):
* `ack_early`: acknowledges before the transaction (and holds it open a while);
* `split_legs`: posts a deposit's two legs in two transactions, by direct SQL;
* `split_counters`: posts the entry in one transaction and moves the cached balances in a
  second one.

A child is started with `multiprocessing.get_context("fork")` by a parent that has disposed of
its own engines, so no connection is ever shared across the fork. It tells the parent it is
running by writing one byte to `ready_fd`. Anything unexpected is written to `error_path`
before the child exits non-zero, for the parent to show.
"""

from __future__ import annotations

import os
import time
import traceback
from datetime import UTC
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import insert, select, update

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger.chart import CASH
from coop.ledger.model import PostingDraft, Side, chain_hash, entry_canonical
from coop.ledger.orm import account_table, book_table, entry_table, posting_table
from coop.members import savings_account
from tests.crash.harness import Books, Op, SideFile, available_in, plan_op, run_op

MODES = ("correct", "ack_early", "split_legs", "split_counters")
EARLY_ACK_PAUSE_S = 0.02
SPLIT_PAUSE_S = 0.03


def service_child(url: str, books: Books, run_seed: int, start: int, side_dir: Path,
                  ready_fd: int, mode: str = "correct") -> None:
    """The stream from operation `start` on, until SIGKILL."""
    error = side_dir / "child-error.txt"
    try:
        assert mode in MODES, mode
        db = Database(url, pool_size=2)
        clock = FixedClock(books.business_date)
        attempting = SideFile(side_dir / "attempting")
        acked = SideFile(side_dir / "acked")
        available = available_in(db)
        db.read(lambda s: None)  # connected: what follows is the stream
        os.write(ready_fd, b"r")
        os.close(ready_fd)
        n = start
        while True:
            op = plan_op(run_seed, n, "svc", books, available,
                         savings_shares=mode == "correct")
            if mode.startswith("split"):
                op = Op(op.key, n, "deposit", op.member, op.amount_minor)
            attempting.append(op.to_json())
            if mode == "ack_early":  # BROKEN on purpose: the acknowledgement before the commit
                acked.append(op.key)
                run_op(db, op, clock, pause_s=EARLY_ACK_PAUSE_S)
            elif mode.startswith("split"):  # BROKEN on purpose: one entry, two transactions
                split_deposit(db, op, clock, legs=mode == "split_legs")
                acked.append(op.key)
            else:
                run_op(db, op, clock)
                acked.append(op.key)
            n += 1
    except BaseException:
        error.write_text(traceback.format_exc())
        os._exit(1)


def overlap_child(url: str, books: Books, op: Op, side_dir: Path, ready_fd: int,
                  commit_fd: int) -> None:
    """One operation whose transaction waits, open, for the parent's word before it commits;
    then the child says so and waits to be killed: it never acknowledges (its client died
    between the commit and the answer, while the retry was already waiting)."""
    error = side_dir / "child-error.txt"
    try:
        db = Database(url, pool_size=1)

        def hold() -> None:
            os.write(ready_fd, b"t")  # in the transaction, its locks held
            assert os.read(commit_fd, 1) == b"c"

        run_op(db, op, FixedClock(books.business_date), before_commit=hold)
        os.write(ready_fd, b"c")  # committed
        time.sleep(3600)
    except BaseException:
        error.write_text(traceback.format_exc())
        os._exit(1)


def split_deposit(db: Database, op: Op, clock: FixedClock, *, legs: bool,
                  bypass_guards: bool = True) -> None:
    """A deposit written the wrong way, by direct SQL, in two transactions. `legs`: the entry
    with its debit leg first, the credit leg second. Otherwise the entry and both legs first,
    the accounts' cached counters second. Between the two: a partial entry, or drift.

    On PostgreSQL a deferred constraint trigger refuses to commit an entry that does not
    balance; `bypass_guards` turns the triggers off for these two transactions (as
    session_replication_role = replica does), so that the checker has something to find."""
    guard_off = bypass_guards and not db.is_sqlite
    on = clock.today()
    posted_at = clock.now().astimezone(UTC)
    lines = [PostingDraft(CASH, Side.DEBIT, op.amount_minor),
             PostingDraft(savings_account(op.member), Side.CREDIT, op.amount_minor)]
    accounts: dict[str, Any] = {}

    def first(session: Any) -> int:
        conn = session.connection()
        if guard_off:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        book = conn.execute(select(book_table.c.head_seq, book_table.c.head_hash)).one()
        seq = book.head_seq + 1
        digest = chain_hash(book.head_hash, entry_canonical(
            seq=seq, value_date=on, posted_at=posted_at, kind="deposit", narration="Deposit",
            actor="broken", reversal_of=None, postings=tuple(lines)))
        for row in conn.execute(select(account_table.c.id, account_table.c.code,
                                       account_table.c.parent_id)
                                .where(account_table.c.code.in_([p.account for p in lines]))):
            accounts[row.code] = row
        conn.execute(insert(entry_table).values(
            id=seq, value_date=on, posted_at=posted_at, kind="deposit", narration="Deposit",
            actor="broken", idempotency_key=op.key, reversal_of=None,
            prev_hash=book.head_hash, hash=digest, hash_version=1))
        conn.execute(update(book_table).where(book_table.c.id == 1)
                     .values(head_seq=seq, head_hash=digest))
        for line, posting in enumerate(lines[:1] if legs else lines, start=1):
            _leg(conn, seq, line, posting, accounts, on, counters=legs)
        return int(seq)

    seq = db.write(first)
    time.sleep(SPLIT_PAUSE_S)

    def second(session: Any) -> None:
        conn = session.connection()
        if guard_off:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        if legs:
            _leg(conn, seq, 2, lines[1], accounts, on, counters=True)
        else:
            for posting in lines:
                _counters(conn, posting, accounts)

    db.write(second)


def _leg(conn: Any, seq: int, line: int, posting: PostingDraft, accounts: dict[str, Any],
         on: Any, *, counters: bool) -> None:
    conn.execute(insert(posting_table).values(
        entry_id=seq, line=line, account_id=accounts[posting.account].id,
        side=posting.side.value, amount_minor=posting.amount_minor, value_date=on))
    if counters:
        _counters(conn, posting, accounts)


def _counters(conn: Any, posting: PostingDraft, accounts: dict[str, Any]) -> None:
    account = accounts[posting.account]
    column = "debits_posted" if posting.side is Side.DEBIT else "credits_posted"
    for account_id in (account.id, account.parent_id):
        if account_id is not None:
            conn.execute(update(account_table).where(account_table.c.id == account_id)
                         .values({column: account_table.c[column] + posting.amount_minor}))


def http_child(app: Any, port: int, side_dir: Path) -> None:
    """The app (built by the parent, never started there) served on a loopback port."""
    try:
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                      access_log=False)).run()
    except BaseException:
        (side_dir / "child-error.txt").write_text(traceback.format_exc())
        os._exit(1)
    os._exit(0)
