"""Negative controls for `verify` at scale: a fault deep inside a large batch, at a batch's
edge, or in postings left behind by a deleted entry is reported at its entry, exactly once.

The book: 2,000 entries posted in bulk for 40 members (entry n pays n minor units into member
n mod 40's savings, or every seventh takes n / 10 out), with narrations in Kannada, Hindi, an
astral character and a backslash, so the encoder's every path is walked. Each fault is checked
with the default batch (the whole book in one), with batches of 7 entries (so a batch boundary
falls everywhere), and with the book split between two processes at entry 1,000 (every fault
but one falls in the second process's half; the seam is tested on its own).
Tampering goes behind the service, as tests/integration/test_tamper.py does.
"""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, credit, debit, post_many
from coop.ledger import verify as verify_module
from coop.ledger.chart import CASH
from coop.ledger.orm import account_table
from coop.ledger.verify import Problem, verify
from tests.conftest import is_postgres
from tests.helpers import open_savings
from tests.integration.test_tamper import HASH_MISMATCH, cached_problem, counters, tamper

ENTRIES = 2_000
MEMBERS = 40
NARRATIONS = ("Deposit", "ಠೇವಣಿ ₹", "जमा \"नकद\"", "Withdrawal 𝄞", "back\\slash / ok")


def in_two_processes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Make verify split any book between two processes; the list fills with each walk's
    (last entry checked here, last entry of the book)."""
    monkeypatch.setattr(verify_module, "PARALLEL_ABOVE", 0)
    monkeypatch.setattr(verify_module, "_spare_core", lambda: True)
    splits: list[tuple[int, int]] = []
    real = verify_module._check_in_two

    def spy(*args: Any) -> Any:
        splits.append((args[3][0], args[4].last_entry))
        return real(*args)

    monkeypatch.setattr(verify_module, "_check_in_two", spy)
    return splits


def member(n: int) -> str:
    return f"2000:M-{n % MEMBERS:04d}"


@pytest.fixture(params=[(verify_module.BATCH_ENTRIES, False), (7, False), (7, True)],
                ids=["one batch", "batches of 7", "two processes"])
def big_book(request: pytest.FixtureRequest, db: Database, clock: FixedClock,
             monkeypatch: pytest.MonkeyPatch) -> Database:
    batch, in_two = request.param
    monkeypatch.setattr(verify_module, "BATCH_ENTRIES", batch)
    if in_two:  # the second process takes entries 1,001 to 2,000 (the split is at half)
        in_two_processes(monkeypatch)
    for n in range(MEMBERS):
        open_savings(db, clock, f"M-{n:04d}")
    drafts = []
    for n in range(1, ENTRIES + 1):
        withdrawal = n % 7 == 3 and n > MEMBERS  # a member has been paid in by then
        legs = ((debit(member(n), n // 10), credit(CASH, n // 10)) if withdrawal
                else (debit(CASH, n), credit(member(n), n)))
        drafts.append(EntryDraft(value_date=date(2025, 6, 30),
                                 narration=NARRATIONS[n % len(NARRATIONS)],
                                 kind="withdrawal" if withdrawal else "deposit",
                                 postings=legs, actor="clerk"))
    for first in range(0, ENTRIES, 500):
        db.write(lambda s, chunk=drafts[first:first + 500]: post_many(s, chunk, clock=clock))
    report = db.read(verify)
    assert report.ok, report.problems
    assert (report.entries_checked, report.head_seq) == (ENTRIES, ENTRIES)
    return db


@pytest.mark.parametrize("seq", [1_500, 1_998])
def test_an_edited_narration_deep_in_the_book_is_its_only_fault(big_book: Database,
                                                                 seq: int) -> None:
    tamper(big_book, f"UPDATE ledger_entry SET narration = 'Deposit.' WHERE id = {seq}")
    report = big_book.read(verify)
    assert report.problems == [Problem(seq, None, HASH_MISMATCH)]
    assert report.entries_checked == ENTRIES


def test_a_changed_stored_hash_breaks_that_entry_and_the_next_link(big_book: Database) -> None:
    """The next entry still names the true hash, and its own hash chains from it: both
    disagree with the forged one."""
    tamper(big_book, "UPDATE ledger_entry SET hash = '" + "ab" * 32 + "' WHERE id = 1701")
    assert big_book.read(verify).problems == [
        Problem(1701, None, HASH_MISMATCH),
        Problem(1702, None, "does not name the hash of the entry before it"),
        Problem(1702, None, HASH_MISMATCH),
    ]


def test_an_amount_moved_between_two_members_deep_in_the_book(big_book: Database) -> None:
    """Entry 1,203 (a deposit of 1,203 to member 3) is redirected to member 4: it still
    balances, but its hash and both members' counters give it away."""
    ids = dict(big_book.read(lambda s: s.execute(select(account_table.c.code,
                                                        account_table.c.id)).all()))
    three, four = counters(big_book, member(3)), counters(big_book, member(4))
    tamper(big_book, f"UPDATE ledger_posting SET account_id = {ids[member(4)]} "
                     f"WHERE entry_id = 1203 AND account_id = {ids[member(3)]}")
    assert big_book.read(verify).problems == [
        Problem(1203, None, HASH_MISMATCH),
        cached_problem(member(3), three, (three[0], three[1] - 1203)),
        cached_problem(member(4), four, (four[0], four[1] + 1203)),
    ]


def delete_entry_row(db: Database, database_url: str, seq: int) -> None:
    """Delete an entry's row but not its postings: the foreign keys must be off for that (on
    SQLite only outside a transaction, so on a connection of its own)."""
    if is_postgres():
        tamper(db, "SET LOCAL session_replication_role = replica",
               f"DELETE FROM ledger_entry WHERE id = {seq}")
        return
    tamper(db)  # drops the immutability triggers
    with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as raw:
        raw.execute("PRAGMA foreign_keys = OFF")
        with raw:
            raw.execute("DELETE FROM ledger_entry WHERE id = ?", (seq,))


@pytest.mark.parametrize("seq", [700, 1_400, 2_000])
def test_postings_left_behind_by_a_deleted_entry_are_reported_where_it_was(
    big_book: Database, database_url: str, seq: int
) -> None:
    """The entry row goes, its postings stay (so every counter still agrees with them): the
    entry is reported where it stood, then the next one's gap and broken link; deleting the
    last entry leaves the book's head pointing past the journal."""
    delete_entry_row(big_book, database_url, seq)
    report = big_book.read(verify)
    gone = Problem(seq, None, "its postings remain but the entry itself is gone")
    if seq == ENTRIES:
        assert report.problems == [
            gone, Problem(ENTRIES, None, "the book's chain head is not the last entry")]
    else:
        assert report.problems == [
            gone,
            Problem(seq + 1, None, f"expected entry {seq} here: a gap or reorder"),
            Problem(seq + 1, None, "does not name the hash of the entry before it"),
            Problem(seq + 1, None, HASH_MISMATCH),
        ]
    assert report.entries_checked == ENTRIES - 1


def test_a_shrunk_amount_and_a_lost_leg_deep_in_the_book(big_book: Database) -> None:
    tamper(big_book, "DELETE FROM ledger_posting WHERE entry_id = 1111 AND line = 2",
           "UPDATE ledger_posting SET amount_minor = 5 WHERE entry_id = 1334 AND line = 1")
    problems = [p for p in big_book.read(verify).problems if p.seq is not None]
    assert problems == [
        Problem(1111, None, HASH_MISMATCH),
        Problem(1111, None, "has 1 postings; an entry needs two"),
        Problem(1111, None, "does not balance: debits 1111, credits 0"),
        Problem(1334, None, HASH_MISMATCH),
        Problem(1334, None, "does not balance: debits 5, credits 1334"),
    ]


@pytest.mark.parametrize("seq", [1_000, 1_001])
def test_a_fault_at_the_seam_between_the_two_processes(
    db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, seq: int
) -> None:
    """Entry 1,000 is the first process's last, 1,001 the second's first: a stored hash
    changed on either side of the seam is seen by the link check on the other side of it."""
    splits = in_two_processes(monkeypatch)
    open_savings(db, clock, "M-0000")
    drafts = [EntryDraft(value_date=date(2025, 6, 30), narration="Deposit", kind="deposit",
                         postings=(debit(CASH, n), credit(member(0), n)), actor="clerk")
              for n in range(1, 2_001)]
    db.write(lambda s: post_many(s, drafts, clock=clock))
    assert db.read(verify).ok
    tamper(db, "UPDATE ledger_entry SET hash = '" + "cd" * 32 + f"' WHERE id = {seq}")
    report = db.read(lambda s: verify(s, checkpoint=(2_000, "0" * 64)))
    assert report.problems == [
        Problem(seq, None, HASH_MISMATCH),
        Problem(seq + 1, None, "does not name the hash of the entry before it"),
        Problem(seq + 1, None, HASH_MISMATCH),
        Problem(2_000, None, "the chain differs from the witnessed checkpoint"),
    ]
    assert report.entries_checked == 2_000
    assert splits == [(1_000, 2_000)] * 2  # the sound book's walk and the tampered one's


def test_when_the_second_process_cannot_start_its_half_is_checked_here(
    big_book: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_two_processes(monkeypatch)
    monkeypatch.setattr(sys, "executable", "/bin/false")
    tamper(big_book, "UPDATE ledger_entry SET narration = 'Deposit.' WHERE id = 1500")
    report = big_book.read(verify)
    assert report.problems == [Problem(1500, None, HASH_MISMATCH)]
    assert (report.entries_checked, report.head_seq) == (ENTRIES, ENTRIES)
