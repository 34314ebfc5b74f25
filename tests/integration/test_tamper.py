"""Tamper detection: someone with the database password edits the books behind the service.

Each test posts the same ten entries, switches off the immutability triggers (on SQLite by
dropping them from this test's own copy of the database; on PostgreSQL by disabling and
re-enabling them inside the tampering transaction itself, so the shared schema is never left
unprotected), changes something, and checks exactly what `verify` reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import queries as q
from coop.ledger.chart import CASH, SAVINGS
from coop.ledger.model import PostedPosting, canonical_bytes, chain_hash, hash_body
from coop.ledger.orm import account_table, entry_table
from coop.ledger.verify import Problem, verify
from tests.conftest import is_postgres
from tests.helpers import deposit, open_savings, withdraw

REPO = Path(__file__).resolve().parents[2]
ASHA = f"{SAVINGS}:M-7Q4K2"
BINA = f"{SAVINGS}:M-9XK3P"
HASH_MISMATCH = "its hash does not match its contents"
WRONG_PREV = "does not name the hash of the entry before it"

# (who, deposit or withdrawal, amount): ten entries, ids 1..10.
SCRIPT = [
    (ASHA, "deposit", 1_000_00), (BINA, "deposit", 500_00), (ASHA, "withdrawal", 120_00),
    (BINA, "deposit", 75_25), (ASHA, "deposit", 33_00), (BINA, "withdrawal", 200_00),
    (ASHA, "withdrawal", 13_13), (BINA, "deposit", 9_99), (ASHA, "deposit", 250_00),
    (BINA, "withdrawal", 1_01),
]


@pytest.fixture
def book(db: Database, clock: FixedClock) -> Database:
    open_savings(db, clock, "M-7Q4K2")
    open_savings(db, clock, "M-9XK3P")
    for seq, (who, kind, amount) in enumerate(SCRIPT, start=1):
        move = deposit if kind == "deposit" else withdraw
        assert move(db, clock, who, amount).id == seq
    report = db.read(verify)
    assert report.ok, report.problems
    assert (report.entries_checked, report.head_seq) == (10, 10)
    return db


def tamper(db: Database, *statements: str) -> None:
    """Run raw SQL with the immutability triggers out of the way, in one transaction."""
    with db.writing() as session:
        if is_postgres():
            for table in ("ledger_entry", "ledger_posting"):
                session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_immutable"))
        else:
            for table in ("ledger_entry", "ledger_posting"):
                for action in ("update", "delete"):
                    session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
        for statement in statements:
            session.execute(text(statement))
        if is_postgres():
            for table in ("ledger_entry", "ledger_posting"):
                session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_immutable"))


def head(db: Database) -> tuple[int, str]:
    view = db.read(q.book)
    assert view is not None
    return view.head_seq, view.head_hash


def entry_hashes(db: Database) -> dict[int, str]:
    rows = db.read(lambda s: s.execute(select(entry_table.c.id, entry_table.c.hash)).all())
    return dict(rows)


def counters(db: Database, code: str) -> tuple[int, int]:
    account = db.read(lambda s: q.get_account(s, code))
    assert account is not None
    return account.debits_minor, account.credits_minor


def cached_problem(code: str, cached: tuple[int, int], summed: tuple[int, int]) -> Problem:
    return Problem(
        None, code,
        f"cached debits/credits {cached[0]}/{cached[1]} but the postings sum to "
        f"{summed[0]}/{summed[1]}",
    )


def test_the_untouched_book_verifies(book: Database) -> None:
    report = book.read(verify)
    assert report.problems == []
    assert (report.head_seq, report.head_hash) == head(book)


@pytest.mark.parametrize("seq", [1, 6, 10])
def test_an_edited_amount_is_reported_at_its_entry_first(book: Database, seq: int) -> None:
    """Add one minor unit to the member's leg (a deposit's line 2, a withdrawal's line 1):
    that unbalances the entry, breaks its hash, and leaves the cached counters of the member's
    account and of the savings control account one unit short of their postings."""
    who, kind, amount = SCRIPT[seq - 1]
    side, line = ("credit", 2) if kind == "deposit" else ("debit", 1)
    member_before, control_before = counters(book, who), counters(book, SAVINGS)
    tamper(
        book,
        f"UPDATE ledger_posting SET amount_minor = amount_minor + 1 "
        f"WHERE entry_id = {seq} AND line = {line}",
    )
    problems = book.read(verify).problems
    debits, credits = (amount, amount + 1) if side == "credit" else (amount + 1, amount)
    bump = (0, 1) if side == "credit" else (1, 0)

    def plus(pair: tuple[int, int]) -> tuple[int, int]:
        return pair[0] + bump[0], pair[1] + bump[1]

    assert problems == [
        Problem(seq, None, HASH_MISMATCH),
        Problem(seq, None, f"does not balance: debits {debits}, credits {credits}"),
        # accounts in code order: 2000 before 2000:M-...
        cached_problem(SAVINGS, control_before, plus(control_before)),
        cached_problem(who, member_before, plus(member_before)),
    ]
    assert problems[0].seq == seq
    assert sorted({p.account for p in problems if p.account}) == sorted({SAVINGS, who})


@pytest.mark.parametrize("seq", [1, 4, 10])
def test_an_edited_narration_is_a_hash_mismatch_at_that_entry_only(
    book: Database, seq: int
) -> None:
    tamper(book, f"UPDATE ledger_entry SET narration = 'x' WHERE id = {seq}")
    report = book.read(verify)
    assert report.problems == [Problem(seq, None, HASH_MISMATCH)]
    assert (report.entries_checked, report.head_seq) == (10, 10)


def test_an_edited_value_date_or_actor_is_caught_too(book: Database) -> None:
    tamper(
        book,
        "UPDATE ledger_entry SET value_date = '2025-06-01' WHERE id = 3",
        "UPDATE ledger_entry SET actor = 'someone-else' WHERE id = 8",
    )
    assert book.read(verify).problems == [
        Problem(3, None, HASH_MISMATCH), Problem(8, None, HASH_MISMATCH)
    ]


def test_a_deleted_entry_leaves_a_gap_reported_where_it_was(book: Database) -> None:
    who, _, amount = SCRIPT[4]  # entry 5: Asha deposits 33.00
    member, control, cash = counters(book, who), counters(book, SAVINGS), counters(book, CASH)
    tamper(book, "DELETE FROM ledger_posting WHERE entry_id = 5",
           "DELETE FROM ledger_entry WHERE id = 5")
    report = book.read(verify)
    assert report.problems == [
        Problem(6, None, "expected entry 5 here: a gap or reorder"),
        Problem(6, None, WRONG_PREV),
        Problem(6, None, HASH_MISMATCH),
        cached_problem(CASH, cash, (cash[0] - amount, cash[1])),
        cached_problem(SAVINGS, control, (control[0], control[1] - amount)),
        cached_problem(who, member, (member[0], member[1] - amount)),
    ]
    assert report.entries_checked == 9


def test_deleting_the_last_entry_is_caught_by_the_book_head(book: Database) -> None:
    who, _, amount = SCRIPT[9]  # entry 10: Bina withdraws 1.01
    member, control, cash = counters(book, who), counters(book, SAVINGS), counters(book, CASH)
    tamper(book, "DELETE FROM ledger_posting WHERE entry_id = 10",
           "DELETE FROM ledger_entry WHERE id = 10")
    report = book.read(verify)
    assert report.problems == [
        Problem(10, None, "the book's chain head is not the last entry"),
        cached_problem(CASH, cash, (cash[0], cash[1] - amount)),
        cached_problem(SAVINGS, control, (control[0] - amount, control[1])),
        cached_problem(who, member, (member[0] - amount, member[1])),
    ]
    assert (report.entries_checked, report.head_seq) == (9, 9)


def test_an_edited_cached_balance_is_reported_for_that_account(book: Database) -> None:
    before = counters(book, BINA)
    with book.writing() as session:  # no trigger guards the counters: no need to tamper()
        session.execute(
            update(account_table).where(account_table.c.code == BINA)
            .values(credits_posted=account_table.c.credits_posted + 1)
        )
    assert book.read(verify).problems == [
        cached_problem(BINA, (before[0], before[1] + 1), before)
    ]


def forge_from(db: Database, seq: int, extra: int, *, fix_counters: bool) -> None:
    """Add `extra` to both legs of entry `seq` (so it still balances), then recompute the hash
    of it and of every later entry, and move the book's head: a forger who knows the scheme."""
    last = head(db)[0]
    entries = db.read(lambda s: q.load_entries(s, list(range(seq, last + 1))))
    prev = entries[0].prev_hash
    statements = [
        f"UPDATE ledger_posting SET amount_minor = amount_minor + {extra} WHERE entry_id = {seq}"
    ]
    for entry in entries:
        postings = entry.postings
        if entry.id == seq:
            postings = tuple(
                PostedPosting(p.account, p.side, p.amount_minor + extra) for p in postings
            )
        body = hash_body(
            seq=entry.id, value_date=entry.value_date, posted_at=entry.posted_at,
            kind=entry.kind, narration=entry.narration, actor=entry.actor,
            reversal_of=entry.reversal_of, postings=postings,
        )
        digest = chain_hash(prev, canonical_bytes(body))
        statements.append(
            f"UPDATE ledger_entry SET prev_hash = '{prev}', hash = '{digest}' "
            f"WHERE id = {entry.id}"
        )
        prev = digest
    statements.append(f"UPDATE ledger_book SET head_hash = '{prev}' WHERE id = 1")
    if fix_counters:
        for p in entries[0].postings:
            column = "debits_posted" if p.side == "debit" else "credits_posted"
            codes = [p.account]
            parent = p.account.partition(":")[0]
            if parent != p.account:
                codes.append(parent)
            for code in codes:
                statements.append(
                    f"UPDATE ledger_account SET {column} = {column} + {extra} "
                    f"WHERE code = '{code}'"
                )
    tamper(db, *statements)


def test_a_recomputed_chain_is_caught_only_by_a_witnessed_checkpoint(book: Database) -> None:
    witnessed = entry_hashes(book)  # e.g. printed in the minutes of each board meeting
    who = SCRIPT[3][0]  # entry 4: Bina deposits 75.25
    member, control, cash = counters(book, who), counters(book, SAVINGS), counters(book, CASH)
    forge_from(book, 4, 100_00, fix_counters=False)
    hashes = entry_hashes(book)
    assert [s for s in range(1, 11) if hashes[s] != witnessed[s]] == list(range(4, 11))

    # Without a checkpoint the chain itself looks whole: only the counters give it away.
    assert book.read(verify).problems == [
        cached_problem(CASH, cash, (cash[0] + 100_00, cash[1])),
        cached_problem(SAVINGS, control, (control[0], control[1] + 100_00)),
        cached_problem(who, member, (member[0], member[1] + 100_00)),
    ]
    # A checkpoint witnessed before the forged entry still holds; one at or after it does not.
    assert book.read(lambda s: verify(s, checkpoint=(3, witnessed[3]))).problems == [
        cached_problem(CASH, cash, (cash[0] + 100_00, cash[1])),
        cached_problem(SAVINGS, control, (control[0], control[1] + 100_00)),
        cached_problem(who, member, (member[0], member[1] + 100_00)),
    ]
    for seq in (4, 7, 10):
        problems = book.read(lambda s, seq=seq: verify(s, checkpoint=(seq, witnessed[seq])))
        assert problems.problems[0] == Problem(
            seq, None, "the chain differs from the witnessed checkpoint"
        )
        assert [p for p in problems.problems if p.seq is not None] == [problems.problems[0]]


def test_a_careful_forger_who_fixes_the_counters_too_is_caught_by_the_checkpoint(
    book: Database,
) -> None:
    old_head = head(book)
    forge_from(book, 4, 100_00, fix_counters=True)
    report = book.read(verify)
    assert report.problems == []  # the forgery is complete: verify alone cannot see it
    assert report.head_seq == 10 and report.head_hash != old_head[1]
    assert book.read(lambda s: verify(s, checkpoint=old_head)).problems == [
        Problem(10, None, "the chain differs from the witnessed checkpoint")
    ]
    assert book.read(lambda s: verify(s, checkpoint=(11, old_head[1]))).problems == [
        Problem(None, None, "the witnessed checkpoint is beyond the journal's end")
    ]


def test_balance_checks_cover_control_accounts_even_when_the_member_row_is_consistent(
    book: Database,
) -> None:
    """Moving a posting to another member's account keeps every entry balanced; only the
    hash and the members' counters betray it (the control account's total is unchanged)."""
    asha_id, bina_id = (
        book.read(lambda s, c=c: s.execute(
            select(account_table.c.id).where(account_table.c.code == c)).scalar_one())
        for c in (ASHA, BINA)
    )
    asha, bina = counters(book, ASHA), counters(book, BINA)
    amount = SCRIPT[8][2]  # entry 9: Asha deposits 250.00
    tamper(book, f"UPDATE ledger_posting SET account_id = {bina_id} "
                 f"WHERE entry_id = 9 AND account_id = {asha_id}")
    assert book.read(verify).problems == [
        Problem(9, None, HASH_MISMATCH),
        cached_problem(ASHA, asha, (asha[0], asha[1] - amount)),
        cached_problem(BINA, bina, (bina[0], bina[1] + amount)),
    ]


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COOP_DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "coop.cli", "verify", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.slow
def test_the_cli_exits_0_on_a_sound_book_and_1_with_the_first_fault(
    book: Database, database_url: str
) -> None:
    seq, digest = head(book)
    sound = run_cli(database_url)
    assert sound.returncode == 0, sound.stderr
    assert f"chain head: {seq}:{digest}" in sound.stdout
    assert "ok" in sound.stdout

    tamper(book, "UPDATE ledger_entry SET narration = 'x' WHERE id = 6",
           "UPDATE ledger_posting SET amount_minor = amount_minor + 1 "
           "WHERE entry_id = 8 AND line = 1")
    faulty = run_cli(database_url)
    assert faulty.returncode == 1, (faulty.stdout, faulty.stderr)
    lines = faulty.stderr.splitlines()
    assert lines[0] == f"FAULT entry 6: {HASH_MISMATCH}"
    assert lines[1].strip() == f"entry 8: {HASH_MISMATCH}"


@pytest.mark.slow
def test_the_cli_checkpoint_catches_a_recomputed_chain(
    book: Database, database_url: str
) -> None:
    seq, digest = head(book)
    forge_from(book, 2, 1_00, fix_counters=True)
    assert run_cli(database_url).returncode == 0  # the forgery is invisible without a witness
    caught = run_cli(database_url, "--checkpoint", f"{seq}:{digest}")
    assert caught.returncode == 1, (caught.stdout, caught.stderr)
    assert caught.stderr.splitlines()[0] == (
        f"FAULT entry {seq}: the chain differs from the witnessed checkpoint"
    )
    malformed = run_cli(database_url, "--checkpoint", "ten:abc")
    assert malformed.returncode == 2
