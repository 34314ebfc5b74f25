"""The `coop` command: init (twice), verify, export."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from coop.cli import app
from tests.conftest import PG_URL, reset_postgres

runner = CliRunner()


@pytest.fixture
def fresh_url(tmp_path: Path, template: str, monkeypatch: pytest.MonkeyPatch) -> str:
    if PG_URL:
        reset_postgres(PG_URL)
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("COOP_DATABASE_URL", url)
    monkeypatch.setenv("COOP_BUSINESS_DATE", "2025-06-30")
    monkeypatch.setenv("COOP_DATA_KEY_FILE", str(tmp_path / "keys" / "data.key"))
    monkeypatch.setenv("COOP_ARGON2_MEMORY_KIB", "1024")
    return url


def test_init_is_safe_twice_and_verify_and_export_work(fresh_url: str, tmp_path: Path) -> None:
    first = runner.invoke(app, ["init", "--society-name", "Test Society", "--currency", "INR"])
    assert first.exit_code == 0, first.output
    assert "Society set up" in first.output
    key = tmp_path / "keys" / "data.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    assert "admin" in first.output  # the generated password is shown once
    master_key = key.read_bytes()
    second = runner.invoke(app, ["init"])
    assert second.exit_code == 0, second.output
    assert "already set up" in second.output
    assert "admin" not in second.output and key.read_bytes() == master_key
    verified = runner.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
    assert "entries checked: 0" in verified.output
    out = tmp_path / "book.beancount"
    exported = runner.invoke(app, ["export", "beancount", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "open Assets:1000-Cash-on-hand INR" in out.read_text()


def test_verify_refuses_a_malformed_checkpoint(fresh_url: str) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["verify", "--checkpoint", "nonsense"])
    assert result.exit_code != 0


def test_day_end_and_interest_from_the_command_line(fresh_url: str) -> None:
    from datetime import date

    from coop.clock import FixedClock
    from coop.db import Database
    from tests.helpers import deposit, open_savings

    assert runner.invoke(app, ["init"]).exit_code == 0
    db = Database(fresh_url, pool_size=2)
    clock = FixedClock(date(2025, 6, 30))
    asha = open_savings(db, clock, "M-AAAAA1")
    deposit(db, clock, asha, 36_500_00, on=date(2025, 6, 1))
    deposit(db, clock, asha, 12_50)
    db.dispose()
    day = runner.invoke(app, ["day-end", "--date", "2025-06-30"])
    assert day.exit_code == 0, day.output
    assert "₹12.50" in day.output and "₹36,512.50" in day.output
    assert "Chain head" in day.output and "2:" in day.output
    interest = runner.invoke(app, ["savings", "post-interest", "--from", "2025-06-01",
                                   "--through", "2025-06-29"])
    assert interest.exit_code == 0, interest.output
    assert "1 accounts, 116.00 in all" in interest.output  # 29 days x 4.00
    again = runner.invoke(app, ["savings", "post-interest", "--from", "2025-06-01",
                                "--through", "2025-06-29"])
    assert "was already posted" in again.output


@pytest.mark.slow
def test_demo_fills_an_empty_book_once_and_it_verifies(fresh_url: str) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    made = runner.invoke(app, ["demo", "--members", "12"])
    assert made.exit_code == 0, made.output
    assert "Demo society: 12 members" in made.output
    assert runner.invoke(app, ["demo", "--if-empty"]).exit_code == 0
    assert runner.invoke(app, ["demo"]).exit_code != 0  # never on a book with entries
    verified = runner.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
    assert "entries checked: 0" not in verified.output
