"""The undo operations keep every register equal to the ledger (`coop verify` clean after
each), the registers' checks know an undone run or payment (negative controls corrupt the
register directly and see verify name the figure), `ledger.reopen_through` only moves the
closed date back, and the CLI commands `coop year reopen` and `coop savings
reverse-interest` work, with `coop verify` passing after. SQLite, and PostgreSQL when
COOP_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from coop import dividends
from coop.cli import app
from coop.clock import FixedClock
from coop.db import Database
from coop.dividends.payment_reversal import reverse_dividend_payment
from coop.dividends.reopening import reopen_year
from coop.errors import InvalidInput
from coop.ledger import queries, reopen_through
from coop.ledger.service import close_through
from coop.savings.interest_run import InterestRunRow, reverse_interest_run
from coop.society import require_society
from tests.integration.test_cli import fresh_url  # noqa: F401 - the fixture
from tests.integration.test_cli_year_end import _year_of_business
from tests.integration.test_register_checks import FY, Book, _execute, _problems, book

__all__ = ["book"]  # the fixture, used by name below
runner = CliRunner()


def _run_id(db: Database) -> int:
    return int(db.read(lambda s: s.execute(select(InterestRunRow.id)).scalar_one()))


# --- ledger.reopen_through -------------------------------------------------------------------


def test_reopen_through_only_moves_back(db: Database, clock: FixedClock) -> None:
    def closed() -> date | None:
        found = db.read(queries.book)
        assert found is not None
        return found.closed_through

    with pytest.raises(InvalidInput, match="nothing is closed"):
        db.write(lambda s: reopen_through(s, None, clock=clock))
    db.write(lambda s: close_through(s, date(2025, 3, 31), clock=clock))
    for forward in (date(2025, 3, 31), date(2025, 4, 30)):
        with pytest.raises(InvalidInput, match="back, never forward"):
            db.write(lambda s, on=forward: reopen_through(s, on, clock=clock))
    assert closed() == date(2025, 3, 31)
    was = db.write(lambda s: reopen_through(s, date(2024, 3, 31), clock=clock))
    assert (was, closed()) == (date(2025, 3, 31), date(2024, 3, 31))
    db.write(lambda s: reopen_through(s, None, clock=clock))
    assert closed() is None


# --- verify after each undo, and the negative controls ---------------------------------------


def test_interest_run_reversed_verifies_and_its_register_is_checked(
        db: Database, book: Book, clock: FixedClock) -> None:
    run_id = _run_id(db)
    done = db.write(lambda s: reverse_interest_run(s, run_id, actor="admin", clock=clock))
    assert (done.status, done.entries_reversed) == ("reversed", 3)
    assert _problems(db) == []
    _execute(db, update(InterestRunRow).values(reversed_at=None))  # said to stand again
    assert _problems(db) == [
        "interest run 2025-05-01 to 2025-05-31: the run stands, but 3 of its 3 entries are "
        "reversed"]


def test_a_standing_run_said_reversed_is_caught(db: Database, book: Book,
                                                 clock: FixedClock) -> None:
    _execute(db, update(InterestRunRow).values(reversed_at=clock.now(), reversed_by="x"))
    assert _problems(db) == [
        "interest run 2025-05-01 to 2025-05-31: the run is reversed, but 3 of its 3 entries "
        "stand in the ledger"]


def test_interest_entries_of_no_run_are_caught(db: Database, book: Book) -> None:
    _execute(db, update(InterestRunRow).values(attempt=2))
    found = _problems(db)
    assert found[0].startswith("interest run 2025-05-01 to 2025-05-31: the run says ")
    assert found[1].startswith("interest 2025-05-01 to 2025-05-31 (attempt 1): ")
    assert found[1].endswith("in 3 entries of no recorded run")


def test_a_dividend_payment_reversed_verifies_and_is_checked(
        db: Database, book: Book, clock: FixedClock) -> None:
    done = db.write(lambda s: reverse_dividend_payment(s, FY, actor="admin", clock=clock))
    assert (done.status, done.entries_reversed) == ("declared", 3)
    assert _problems(db) == []
    _execute(db, update(dividends.DeclarationRow)
             .where(dividends.DeclarationRow.status == "declared")
             .values(status="paid", payment_entries=3))
    assert _problems(db) == ["dividend 2024: 3 payment entries recorded, the ledger has 0"]


def test_a_paid_dividend_said_unpaid_is_caught(db: Database, book: Book) -> None:
    _execute(db, update(dividends.DeclarationRow)
             .where(dividends.DeclarationRow.status == "paid").values(status="declared"))
    found = _problems(db)
    assert len(found) == 1
    assert found[0].startswith("dividend 2024: declared, not paid, but the ledger has ")
    assert found[0].endswith("paid to 3 member(s)")


def test_a_year_reopened_after_its_dividend_is_undone_verifies(
        db: Database, book: Book, clock: FixedClock) -> None:
    db.write(lambda s: reverse_dividend_payment(s, FY, actor="admin", clock=clock))
    db.write(lambda s: dividends.cancel_dividend(s, FY, actor="board", clock=clock))
    first = db.read(lambda s: dividends.get_close(s, FY))
    done = db.write(lambda s: reopen_year(s, FY, society=require_society(s), actor="admin",
                                          clock=clock))
    assert done.status == "open" and _problems(db) == []
    again = db.write(lambda s: dividends.close_year(s, FY, society=require_society(s),
                                                    actor="admin", clock=clock))
    assert again.net_surplus_minor == first.net_surplus_minor
    assert _problems(db) == []


# --- the CLI ---------------------------------------------------------------------------------


def test_the_cli_reopens_a_year_and_reverses_an_interest_run(
        fresh_url: str, tmp_path: Path) -> None:  # noqa: F811
    assert runner.invoke(app, ["init"]).exit_code == 0
    _year_of_business(fresh_url, tmp_path / "keys" / "data.key")
    assert runner.invoke(app, ["year", "close", "2024"]).exit_code == 0
    reopened = runner.invoke(app, ["year", "reopen", "2024"])
    assert reopened.exit_code == 0, reopened.output
    assert "Fiscal year 2024 reopened: closing entry reversed by entry" in reopened.output
    again = runner.invoke(app, ["year", "reopen", "2024"])
    assert again.exit_code != 0 and "is not closed" in str(again.exception)
    closed = runner.invoke(app, ["year", "close", "2024"])
    assert "net surplus ₹1,00,000.00" in closed.output
    posted = runner.invoke(app, ["savings", "post-interest", "--from", "2025-05-01",
                                 "--through", "2025-05-31"])
    assert posted.exit_code == 0, posted.output
    reversed_run = runner.invoke(app, ["savings", "reverse-interest", "1"])
    assert reversed_run.exit_code == 0, reversed_run.output
    assert "Interest run 1 reversed" in reversed_run.output
    verified = runner.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
