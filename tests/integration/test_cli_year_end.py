"""`coop year close`, `coop dividends preview` (the auditor's re-run from the command line)
and `coop dividends declare` (the figures it printed, on the general body's resolution)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from coop import dividends
from coop.cli import app
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, credit, debit, post
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings.shares import buy_shares
from tests.integration.test_cli import fresh_url  # noqa: F401 - the fixture

runner = CliRunner()


def _year_of_business(url: str, key_file: Path) -> list[str]:
    """Two members with shares in fiscal year 2024 and 1,00,000.00 of income."""
    db = Database(url, pool_size=2)
    clock = FixedClock(date(2025, 6, 30))
    vault = Vault.from_file(key_file)

    def work(session: object) -> list[str]:
        codes = []
        for bought in (date(2024, 4, 1), date(2024, 8, 20)):
            code = register_member(session, identity=Identity(),  # type: ignore[arg-type]
                                   joined_on=date(2024, 4, 1), vault=vault, clock=clock).code
            buy_shares(session, code, count=100, source="cash",  # type: ignore[arg-type]
                       face_value_minor=1000, value_date=bought, actor="test", clock=clock)
            codes.append(code)
        post(session, EntryDraft(  # type: ignore[arg-type]
            value_date=date(2024, 12, 1), narration="Grant", kind="grant", actor="test",
            postings=(debit("1000", 10_000_000), credit("4200", 10_000_000))), clock=clock)
        return codes

    try:
        return db.write(work)
    finally:
        db.dispose()


def test_close_then_preview_writes_the_auditors_csv(fresh_url: str, tmp_path: Path) -> None:  # noqa: F811
    assert runner.invoke(app, ["init"]).exit_code == 0
    codes = _year_of_business(fresh_url, tmp_path / "keys" / "data.key")
    early = runner.invoke(app, ["dividends", "preview", "2024", "--rate", "15", "--out",
                                str(tmp_path / "x.csv")])
    assert early.exit_code != 0 and "has not been closed" in str(early.exception)
    closed = runner.invoke(app, ["year", "close", "2024"])
    assert closed.exit_code == 0, closed.output
    assert "net surplus ₹1,00,000.00" in closed.output
    again = runner.invoke(app, ["year", "close", "2024"])
    assert again.exit_code != 0 and "closed already" in str(again.exception)
    report = tmp_path / "dividends-2024.csv"
    run = runner.invoke(app, ["dividends", "preview", "2024", "--rate", "15", "--basis",
                              "months_held", "--out", str(report)])
    assert run.exit_code == 0, run.output
    assert "distributable surplus: 64000.00" in run.output
    assert "Dividend pool: 15 % a year on months_held: 237.50" in run.output
    assert "Statutory reserve fund (25 %): 25000.00" in run.output
    assert "Patronage rebate pool: 0 % of the loan interest members paid: 0.00" in run.output
    lines = report.read_text().splitlines()
    assert lines[0] == "member_code,basis_value,dividend,rebate,total"
    by_code = {line.split(",")[0]: line.split(",")[1:] for line in lines[1:]}
    assert by_code[codes[0]] == ["12000.00", "150.00", "0.00", "150.00"]
    assert by_code[codes[1]] == ["7000.00", "87.50", "0.00", "87.50"]
    capped = runner.invoke(app, ["dividends", "preview", "2024", "--rate", "16", "--out",
                                 str(report)])
    assert capped.exit_code != 0 and "dividend_cap_percent" in str(capped.exception)
    verified = runner.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output


def test_declare_prints_the_figures_and_declares_them(fresh_url: str, tmp_path: Path) -> None:  # noqa: F811
    assert runner.invoke(app, ["init"]).exit_code == 0
    _year_of_business(fresh_url, tmp_path / "keys" / "data.key")
    assert runner.invoke(app, ["year", "close", "2024"]).exit_code == 0
    declare = ["dividends", "declare", "2024", "--rate", "12", "--rebate", "5",
               "--resolution-number", "GB-7/2025", "--resolution-date", "2025-06-28"]
    asked = runner.invoke(app, declare, input="n\n")
    assert asked.exit_code == 1 and "Nothing declared." in asked.output
    assert "distributable surplus: 64000.00" in asked.output
    assert "Declare these figures on resolution GB-7/2025 of 2025-06-28?" in asked.output
    future = runner.invoke(app, [*declare[:-1], "2025-07-01", "--yes"])
    assert future.exit_code != 0 and "has not come yet" in str(future.exception)
    done = runner.invoke(app, [*declare, "--yes"])
    assert done.exit_code == 0, done.output
    assert "Dividend for 2024 declared:" in done.output
    db = Database(fresh_url, pool_size=1)
    try:
        declared = db.read(lambda s: dividends.get_declaration(s, 2024))
    finally:
        db.dispose()
    assert declared.status == "declared" and declared.declared_by == "cli"
    assert declared.resolution == dividends.Resolution("GB-7/2025", date(2025, 6, 28))
    assert f"Preview digest: {declared.preview_digest}" in done.output
    twice = runner.invoke(app, [*declare, "--yes"])
    assert twice.exit_code != 0 and "declared already" in str(twice.exception)
    assert runner.invoke(app, ["verify"]).exit_code == 0
