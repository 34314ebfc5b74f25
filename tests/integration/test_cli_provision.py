"""`coop provision --as-of DATE`: the provision booked from the command line, the same day
again booking nothing, and a refusal in words for an earlier day, a day to come or a date
that is not one.

One loan of 12,000.00 (the product of test_loans_service.py) is paid out on 28 February
2025 and never repaid: its first installment fell due on 28 March, so on 29 June 2025 it is
93 days overdue, sub_standard, and asks 12,000.00 x 10 % = 1,200.00.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from coop.cli import app
from coop.clock import FixedClock
from coop.db import Database
from coop.members.vault import Vault
from tests.integration.test_cli import fresh_url  # noqa: F401 - the fixture
from tests.integration.test_loans_service import open_desk

runner = CliRunner()


def test_coop_provision(fresh_url: str, tmp_path: Path) -> None:  # noqa: F811
    assert runner.invoke(app, ["init"]).exit_code == 0
    db = Database(fresh_url, pool_size=2)
    try:
        desk = open_desk(db, FixedClock(date(2025, 2, 28)), Vault(b"k" * 32),
                         start=date(2025, 2, 28))
        desk.lend(desk.register())
    finally:
        db.dispose()

    booked = runner.invoke(app, ["provision", "--as-of", "2025-06-29"])
    assert booked.exit_code == 0, booked.output
    assert "Provision as of 2025-06-29: ₹1,200.00, raised by ₹1,200.00 from ₹0.00" \
        in booked.output
    again = runner.invoke(app, ["provision", "--as-of", "2025-06-29"])
    assert again.exit_code == 0 and "was booked already: ₹1,200.00" in again.output

    earlier = runner.invoke(app, ["provision", "--as-of", "2025-06-28"])
    assert earlier.exit_code != 0
    assert "a provisioning run on 2025-06-29 stands already" in str(earlier.exception)
    later = runner.invoke(app, ["provision", "--as-of", "2025-07-01"])
    assert later.exit_code != 0 and "after the business date" in str(later.exception)
    garbled = runner.invoke(app, ["provision", "--as-of", "29/06/2025"])
    assert garbled.exit_code != 0 and "YYYY-MM-DD" in str(garbled.exception)

    verified = runner.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
