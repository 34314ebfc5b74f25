"""The demo society rehearses its year, as the README tells it: `coop demo`, then
`coop year close`, the auditor's `coop dividends preview`, the board's preview and declaration
and the clerk's payment through the API with the demo's own logins; the member with ten
shares all year reads her dividend on her own savings page, and `coop verify` passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from litestar.testing import TestClient
from typer.testing import CliRunner

from coop import auth, loans
from coop.api import create_app
from coop.cli import app
from coop.config import Settings
from coop.db import Database
from coop.demo import (
    AUDITOR_PASSWORD,
    BOARD_PASSWORD,
    CLERK_PASSWORD,
    MEMBER_PIN,
    year_to_rehearse,
)
from coop.ledger import queries
from tests.integration.test_cli import fresh_url  # noqa: F401 - the fixture

runner = CliRunner()
YEAR = 2024  # the business date is pinned to 2025-06-30: fiscal year 2024 has ended
API = "/api/v1"
CENT = Decimal("0.01")


def _token(client: TestClient, username: str, password: str) -> dict[str, str]:
    answer = client.post(f"{API}/auth/token", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _figures_of_the_year(url: str) -> dict[str, Decimal]:
    """The year's income and costs from the trial balance on its last day, in rupees."""
    db = Database(url, pool_size=2)
    try:
        rows = db.read(lambda s: queries.trial_balance(s, as_of=date(2025, 3, 31)).rows)
    finally:
        db.dispose()
    return {row.account: (Decimal(row.credit_minor - row.debit_minor) / 100).quantize(CENT)
            for row in rows}


@pytest.mark.slow
@pytest.mark.parametrize("members", [11, 60])
def test_the_demo_closes_its_year_and_pays_ten_shares_more_than_50(
        fresh_url: str, tmp_path: Path, members: int,  # noqa: F811
        figure: Callable[[str], None]) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    started = time.perf_counter()
    made = runner.invoke(app, ["demo", "--members", str(members)])
    seconds = time.perf_counter() - started
    assert made.exit_code == 0, made.output
    assert f"Fiscal year {YEAR} has ended and is open" in made.output
    assert "clerk" in made.output and CLERK_PASSWORD in made.output and MEMBER_PIN in made.output
    ledger = _figures_of_the_year(fresh_url)
    costs = -sum(ledger[code] for code in ("5000", "5110", "5120", "5130"))
    assert ledger["4000"] > 0 and ledger["4000"] + ledger["4100"] > costs  # loans pay costs

    closed = runner.invoke(app, ["year", "close", str(YEAR)])
    assert closed.exit_code == 0, closed.output
    csv = tmp_path / "dividends.csv"
    audited = runner.invoke(app, ["dividends", "preview", str(YEAR), "--rate", "10",
                                  "--out", str(csv)])
    assert audited.exit_code == 0, audited.output

    settings = Settings.from_env()
    db = Database(settings.database_url, pool_size=4)
    her = next(u.member_code for u in db.read(auth.list_users) if u.role == "member")
    assert her is not None
    with TestClient(app=create_app(settings, db=db)) as client:
        board = _token(client, "board", BOARD_PASSWORD)
        body = {"dividend_rate": "10"}
        preview = client.post(f"{API}/dividends/{YEAR}/preview", json=body, headers=board)
        assert preview.status_code == 200, preview.text
        if "preview_digest" in preview.json():  # the declaration names the figures it saw
            body["preview_digest"] = preview.json()["preview_digest"]
        declared = client.post(f"{API}/dividends/{YEAR}/declaration", json=body,
                               headers=board)
        assert declared.status_code == 201, declared.text
        paid = client.post(f"{API}/dividends/{YEAR}/payment",
                           headers=_token(client, "clerk", CLERK_PASSWORD))
        assert paid.status_code == 201, paid.text
        member = _token(client, her.lower(), MEMBER_PIN)
        mine = client.get(f"{API}/members/{her}", headers=member).json()
        lines = client.get(f"{API}/members/{her}/savings/transactions", headers=member).json()
        auditor = _token(client, "auditor", AUDITOR_PASSWORD)
        portfolio = client.get(f"{API}/reports/portfolio", headers=auditor).json()
        waiting = db.read(lambda s: [loans.votes.approvals(s, loan.id)
                                     for loan in loans.pending(s)[0]])
    db.dispose()

    assert mine["shares"]["count"] == 10
    dividend = [Decimal(line["deposit"]) for line in lines["items"]
                if line["deposit"] and "ividend" in line["narration"]]
    assert len(dividend) == 1 and dividend[0] > Decimal("50.00"), lines["items"][-3:]
    row = next(line for line in csv.read_text().splitlines() if line.startswith(her))
    assert Decimal(row.split(",")[-1]) == dividend[0]  # the auditor's CSV, to the paisa
    assert sorted(waiting) == [0, 5]  # the `board` login's vote decides one of them
    late = sum(Decimal(portfolio["buckets"][b]) for b in ("1-30", "31-90", "91-180"))
    assert late > 0 and Decimal(portfolio["par30"]) > 0, portfolio
    verified = runner.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
    figure(f"demo, {members} members: {seconds:.1f} s; fiscal year {YEAR}: loan interest "
           f"₹{ledger['4000']}, fees ₹{ledger['4100']}, bank interest ₹{ledger['4500']}, "
           f"savings interest and costs ₹{costs}; "
           f"{closed.output.split(':')[1].split(';')[0].strip()}; at 10 %: "
           f"{' '.join(audited.output.split(';')[1].split())}; ten shares all year: "
           f"₹{dividend[0]}; "
           f"PAR30 today {portfolio['par30']} %")


@pytest.mark.parametrize(("today", "year"), [
    (date(2026, 4, 1), 2025), (date(2026, 3, 31), 2024), (date(2026, 12, 7), 2025)])
def test_the_demo_rehearses_the_last_year_that_has_ended(today: date, year: int) -> None:
    assert year_to_rehearse(today, "04-01").name == year
    assert year_to_rehearse(today, "01-01").name == today.year - 1


def test_the_demo_needs_a_board_and_four_members_besides(fresh_url: str) -> None:  # noqa: F811
    assert runner.invoke(app, ["init"]).exit_code == 0
    refused = runner.invoke(app, ["demo", "--members", "10"])
    assert refused.exit_code != 0 and "at least 11 members" in str(refused.exception)
