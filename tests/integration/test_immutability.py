"""The database's own backstops, reached with raw SQL behind the service's back.

On both engines a trigger refuses UPDATE and DELETE of journal entries and postings. On
PostgreSQL TRUNCATE is refused too, and a deferred constraint trigger refuses, at COMMIT, an
entry whose postings do not balance (or that has fewer than two).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger.model import GENESIS_HASH
from coop.ledger.orm import account_table, entry_table, posting_table
from coop.ledger.verify import verify
from tests.conftest import is_postgres
from tests.helpers import deposit, open_savings, withdraw

only_postgres = pytest.mark.skipif(not is_postgres(), reason="a PostgreSQL-only backstop")


def journal(db: Database) -> tuple[list[tuple], list[tuple]]:
    """Every entry row and every posting row, in order: the state that must not change."""

    def read(session) -> tuple[list[tuple], list[tuple]]:
        entries = session.execute(select(entry_table).order_by(entry_table.c.id)).all()
        postings = session.execute(
            select(posting_table).order_by(posting_table.c.entry_id, posting_table.c.line)
        ).all()
        return [tuple(r) for r in entries], [tuple(r) for r in postings]

    return db.read(read)


@pytest.fixture
def booked(db: Database, clock: FixedClock) -> Database:
    """Three entries: two deposits and a withdrawal (six postings)."""
    asha = open_savings(db, clock, "M-7Q4K2")
    deposit(db, clock, asha, 150_00)
    deposit(db, clock, asha, 20_00)
    withdraw(db, clock, asha, 40_50)
    return db


TAMPERING = [
    "UPDATE ledger_posting SET amount_minor = 1",
    "UPDATE ledger_posting SET amount_minor = 1 WHERE entry_id = 2 AND line = 1",
    "UPDATE ledger_entry SET narration = 'x'",
    "UPDATE ledger_entry SET narration = 'x' WHERE id = 3",
    "DELETE FROM ledger_posting",
    "DELETE FROM ledger_posting WHERE entry_id = 3",
    "DELETE FROM ledger_entry",
    "DELETE FROM ledger_entry WHERE id = 3",
]


@pytest.mark.parametrize("statement", TAMPERING)
def test_raw_update_and_delete_of_the_journal_are_refused(
    booked: Database, statement: str
) -> None:
    before = journal(booked)
    assert (len(before[0]), len(before[1])) == (3, 6)
    with pytest.raises(DBAPIError, match="rows are immutable"), booked.writing() as session:
        session.execute(text(statement))
    assert journal(booked) == before
    assert booked.read(verify).ok


def test_a_refused_change_takes_the_rest_of_its_transaction_with_it(
    booked: Database,
) -> None:
    """The refusal aborts the statement, and the caller's transaction rolls back whole."""
    before = journal(booked)
    with pytest.raises(DBAPIError, match="rows are immutable"), booked.writing() as session:
        session.execute(text("UPDATE ledger_account SET name = 'renamed' WHERE code = '1000'"))
        session.execute(text("DELETE FROM ledger_posting WHERE entry_id = 1"))
    assert journal(booked) == before
    name = booked.read(
        lambda s: s.execute(
            select(account_table.c.name).where(account_table.c.code == "1000")
        ).scalar_one()
    )
    assert name != "renamed"


@only_postgres
@pytest.mark.parametrize(
    "statement",
    ["TRUNCATE ledger_posting", "TRUNCATE ledger_posting, ledger_entry CASCADE",
     "TRUNCATE ledger_entry, ledger_posting CASCADE"],
)
def test_truncate_is_refused_on_postgres(booked: Database, statement: str) -> None:
    before = journal(booked)
    with pytest.raises(DBAPIError, match="rows are immutable"), booked.writing() as session:
        session.execute(text(statement))
    assert journal(booked) == before


def _raw_entry(session, entry_id: int, postings: list[tuple[int, str, int]]) -> None:
    """Insert an entry row and its postings with plain SQL, as an intruder would."""
    session.execute(
        entry_table.insert().values(
            id=entry_id, value_date=date(2025, 6, 30), posted_at=datetime(2025, 6, 30, tzinfo=UTC),
            kind="manual", narration="raw", actor="intruder", idempotency_key=f"raw-{entry_id}",
            reversal_of=None, prev_hash=GENESIS_HASH, hash="f" * 64, hash_version=1,
        )
    )
    for line, (account_id, side, amount) in enumerate(postings, start=1):
        session.execute(
            posting_table.insert().values(
                entry_id=entry_id, line=line, account_id=account_id, side=side,
                amount_minor=amount, value_date=date(2025, 6, 30),
            )
        )


def _account_id(db: Database, code: str) -> int:
    return db.read(
        lambda s: s.execute(
            select(account_table.c.id).where(account_table.c.code == code)
        ).scalar_one()
    )


@only_postgres
@pytest.mark.parametrize(
    ("legs", "message"),
    [
        ([("1000", "debit", 500)], "debits 500, credits 0, 1 postings"),
        ([("1000", "debit", 500), ("2000:M-7Q4K2", "credit", 499)],
         "debits 500, credits 499, 2 postings"),
        ([], "debits 0, credits 0, 0 postings"),
    ],
)
def test_an_unbalanced_raw_entry_is_refused_at_commit_on_postgres(
    booked: Database, legs: list[tuple[str, str, int]], message: str
) -> None:
    before = journal(booked)
    postings = [(_account_id(booked, code), side, amount) for code, side, amount in legs]
    inserted = []
    refusal = f"ledger entry 99 does not balance: {message}"
    with pytest.raises(DBAPIError, match=refusal), booked.writing() as session:
        _raw_entry(session, 99, postings)
        # The inserts themselves went through: the refusal comes only at COMMIT.
        count = session.execute(
            text("SELECT count(*) FROM ledger_posting WHERE entry_id = 99")
        ).scalar_one()
        inserted.append(count)
    assert inserted == [len(postings)]
    assert journal(booked) == before


@only_postgres
def test_a_balanced_raw_entry_passes_the_commit_trigger(booked: Database) -> None:
    """The positive control: the deferred trigger refuses imbalance, not raw inserts as such
    (which is why `verify` exists: this entry breaks the chain and the cached balances)."""
    cash, asha = _account_id(booked, "1000"), _account_id(booked, "2000:M-7Q4K2")
    with booked.writing() as session:
        _raw_entry(session, 4, [(cash, "debit", 500), (asha, "credit", 500)])
    entries, postings = journal(booked)
    assert (len(entries), len(postings)) == (4, 8)
    problems = booked.read(verify).problems
    assert problems[0].seq == 4
    assert problems[0].message == "does not name the hash of the entry before it"
