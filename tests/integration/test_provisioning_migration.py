"""Migration 0017_loan_provisioning: a book set up before it gets 1190 Provision for bad and
doubtful debts (asset, its balance a credit: normal side debit, may go negative) and 5210
Provisioning for bad and doubtful debts (expense); downgrading removes them while nothing
was posted to them, and the upgrade again puts them back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import text

from coop import migrate
from coop.clock import FixedClock
from coop.db import Database
from coop.society import init_society
from tests.helpers import scratch_database

CLOCK = FixedClock(date(2025, 6, 30))


def _accounts(db: Database) -> list[tuple[object, ...]]:
    with db.writer.connect() as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT code, name, type, normal_side, may_go_negative FROM ledger_account "
            "WHERE code IN ('1190', '5210') ORDER BY code"))]


def test_an_existing_book_gets_the_two_accounts(tmp_path: Path, template: str) -> None:
    with scratch_database(tmp_path, "provision") as db:
        migrate.upgrade(db.writer)
        db.write(lambda s: init_society(s, name="Test Society", currency="INR",
                                        locale="en_IN", clock=CLOCK))
        opened = _accounts(db)
        assert opened == [
            ("1190", "Provision for bad and doubtful debts", "asset", "debit", True),
            ("5210", "Provisioning for bad and doubtful debts", "expense", "debit", True)]

        migrate.downgrade(db.writer, "0016_dividend_resolution")
        assert _accounts(db) == []  # nothing was posted to them
        migrate.upgrade(db.writer)
        assert _accounts(db) == opened


def test_an_empty_database_gets_them_from_coop_init(tmp_path: Path, template: str) -> None:
    with scratch_database(tmp_path, "provision-empty") as db:
        migrate.upgrade(db.writer)
        assert _accounts(db) == []  # no book: `coop init` opens the chart
