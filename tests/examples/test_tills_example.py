"""A worked example of a till's day, with figures a person can check on paper (INR, paise).

The safe holds 5,000.00 (Asha's deposit taken before any till was open). Clerk Rani opens her
till with a float of 1,000.00; Asha deposits 500.00 and 250.00 with her, Bina withdraws
100.00. Rani's till should hold 1,000.00 + 750.00 - 100.00 = 1,650.00; she counts 1,630.00 by
notes and coins: 20.00 short. 1,630.00 goes back to the safe (4,000.00 + 1,630.00 = 5,630.00),
the till keeps the 20.00 that is not there until the admin approves it: then 20.00 is posted
to 5400 Cash shortages and the till is zero. `coop verify` is clean after every step, and a
corrupted till row is named with its figure.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import update

from coop import auth, registers, tills
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import queries
from coop.ledger.chart import CASH, CASH_OVERAGES, CASH_SHORTAGES
from coop.ledger.export import export_beancount
from coop.ledger.verify import verify
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.money import format_minor
from coop.savings import record_deposit, record_withdrawal
from coop.society import update_settings
from coop.tills.orm import TillRow

PASSWORDS = auth.Passwords(memory_kib=1024, time_cost=1, parallelism=1)
VAULT = Vault(b"t" * 32)


def _problems(db: Database) -> list[str]:
    report = db.read(lambda s: verify(s))
    return [str(p) for p in report.problems] + [
        m for _, m in db.read(registers.reconcile_registers)]


def _money(minor: int) -> str:
    return format_minor(minor, "INR")


@pytest.fixture
def day(db: Database, clock: FixedClock) -> dict[str, str]:
    def work(session: object) -> dict[str, str]:
        for name, role in (("rani", "clerk"), ("admin", "admin"), ("sita", "clerk")):
            auth.create_user(session, username=name, password="correct horse battery",  # type: ignore[arg-type]
                             role=role, member_code=None, passwords=PASSWORDS, clock=clock)
        codes = {who: register_member(session, identity=Identity(known_as=who),  # type: ignore[arg-type]
                                      joined_on=None, vault=VAULT, clock=clock).code
                 for who in ("Asha", "Bina")}
        record_deposit(session, codes["Asha"], amount_minor=400_000,  # type: ignore[arg-type]
                       value_date=clock.today(), actor="admin", clock=clock)
        record_deposit(session, codes["Bina"], amount_minor=100_000,  # type: ignore[arg-type]
                       value_date=clock.today(), actor="admin", clock=clock)
        return codes

    return db.write(work)  # type: ignore[arg-type]


def test_a_tills_day(db: Database, clock: FixedClock, day: dict[str, str],
                     figure: Callable[[str], None], tmp_path: Path) -> None:
    balance = lambda code: db.read(lambda s: queries.balance(s, code)) or 0  # noqa: E731
    safe = lambda: db.read(tills.safe_minor)  # noqa: E731
    assert safe() == 500_000
    till = db.write(lambda s: tills.open_till(s, username="rani", opening_float_minor=100_000,
                                              clock=clock))
    assert till.account == f"{CASH}:T-{till.id}" and till.status == "open"
    assert (safe(), balance(till.account), balance(CASH)) == (400_000, 100_000, 500_000)
    for amount in (50_000, 25_000):
        db.write(lambda s, a=amount: record_deposit(  # type: ignore[misc]
            s, day["Asha"], amount_minor=a, value_date=clock.today(), actor="rani", clock=clock))
    db.write(lambda s: record_withdrawal(s, day["Bina"], amount_minor=10_000,
                                         value_date=clock.today(), actor="rani", clock=clock))
    now = db.read(lambda s: tills.get_till(s, till.id))
    assert (now.cash_in_minor, now.cash_out_minor, now.expected_minor) == (
        75_000, 10_000, 165_000)
    assert safe() == 400_000  # the safe saw none of it
    assert _problems(db) == []

    counts = {"500": 3, "100": 1, "20": 1, "10": 1}  # 1,630.00
    closed = db.write(lambda s: tills.close_till(s, till.id, counted_minor=163_000,
                                                 actor="rani", clock=clock, counts=counts))
    assert (closed.expected_minor, closed.counted_minor, closed.variance_minor,
            closed.status) == (165_000, 163_000, -2_000, "variance_pending")
    assert (safe(), balance(till.account)) == (563_000, 2_000)
    assert _problems(db) == []
    with pytest.raises(tills.OwnTill):
        db.write(lambda s: tills.approve_variance(s, till.id, approver="rani", clock=clock))
    done, entry_id = db.write(lambda s: tills.approve_variance(s, till.id, approver="admin",
                                                               clock=clock))
    assert done.status == "closed"
    assert (balance(till.account), balance(CASH_SHORTAGES), balance(CASH)) == (0, 2_000, 563_000)
    with pytest.raises(tills.VarianceNotPending):
        db.write(lambda s: tills.approve_variance(s, till.id, approver="admin", clock=clock))
    assert _problems(db) == []
    # a second till still open: 1000 has postings of its own and two sub-accounts
    db.write(lambda s: tills.open_till(s, username="sita", opening_float_minor=30_000,
                                       clock=clock))
    text = "".join(db.read(lambda s: list(export_beancount(s))))
    assert f"Assets:1000-Cash-on-hand:T-{till.id}" in text
    book = tmp_path / "book.beancount"
    book.write_text(text, encoding="utf-8")
    checked = subprocess.run([str(Path(sys.executable).parent / "bean-check"), str(book)],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert _problems(db) == []
    figure(f"till example: float {_money(100_000)}, deposits {_money(75_000)}, withdrawal "
           f"{_money(10_000)}, expected {_money(165_000)}, counted {_money(163_000)}, "
           f"short {_money(2_000)} posted to 5400 Cash shortages in entry {entry_id}; "
           f"the safe holds {_money(563_000)}")


def test_an_overage_goes_to_income_and_the_safe(db: Database, clock: FixedClock,
                                                day: dict[str, str]) -> None:
    till = db.write(lambda s: tills.open_till(s, username="sita", opening_float_minor=50_000,
                                              clock=clock))
    closed = db.write(lambda s: tills.close_till(s, till.id, counted_minor=50_500,
                                                 actor="sita", clock=clock))
    assert (closed.variance_minor, closed.status) == (500, "variance_pending")
    assert db.read(tills.safe_minor) == 500_000  # the extra 5.00 is not booked yet
    db.write(lambda s: tills.approve_variance(s, till.id, approver="admin", clock=clock))
    assert db.read(tills.safe_minor) == 500_500
    assert db.read(lambda s: queries.balance(s, CASH_OVERAGES)) == 500
    assert _problems(db) == []


def test_rules(db: Database, clock: FixedClock, day: dict[str, str]) -> None:
    till = db.write(lambda s: tills.open_till(s, username="rani", opening_float_minor=0,
                                              clock=clock))
    with pytest.raises(tills.TillAlreadyOpen):
        db.write(lambda s: tills.open_till(s, username="rani", opening_float_minor=0,
                                           clock=clock))
    with pytest.raises(tills.InsufficientFunds):  # the safe holds 5,000.00
        db.write(lambda s: tills.open_till(s, username="sita", opening_float_minor=600_000,
                                           clock=clock))
    with pytest.raises(tills.InvalidInput):  # notes that do not add up to the count
        db.write(lambda s: tills.close_till(s, till.id, counted_minor=100, actor="rani",
                                            clock=clock, counts={"500": 1}))
    exact = db.write(lambda s: tills.close_till(s, till.id, counted_minor=0, actor="rani",
                                                clock=clock))
    assert exact.status == "closed"
    with pytest.raises(tills.TillClosed):
        db.write(lambda s: tills.close_till(s, till.id, counted_minor=0, actor="rani",
                                            clock=clock))
    db.write(lambda s: update_settings(s, {"require_open_till": True}))
    with pytest.raises(tills.TillNotOpen):
        db.write(lambda s: record_deposit(s, day["Asha"], amount_minor=100,
                                          value_date=clock.today(), actor="rani", clock=clock))


@pytest.mark.parametrize(("column", "value", "words"), [
    ("counted_minor", 164_000, "difference -20.00 but counted 1640.00"),
    ("expected_at_close_minor", 170_000, "expected cash 1700.00 but its postings left "
                                         "1650.00"),
    ("opening_float_minor", 90_000, "opening float 900.00 but the journal moved 1000.00"),
    ("status", "closed", "is closed but its account holds 20.00"),
])
def test_verify_names_a_corrupted_till(db: Database, clock: FixedClock, day: dict[str, str],
                                       column: str, value: object, words: str) -> None:
    """Negative control: the till row changed directly (never the ledger) fails verify, which
    names the till, its user and the figure."""
    till = db.write(lambda s: tills.open_till(s, username="rani", opening_float_minor=100_000,
                                              clock=clock))
    db.write(lambda s: record_deposit(s, day["Asha"], amount_minor=75_000,
                                      value_date=clock.today(), actor="rani", clock=clock))
    db.write(lambda s: record_withdrawal(s, day["Bina"], amount_minor=10_000,
                                         value_date=clock.today(), actor="rani", clock=clock))
    db.write(lambda s: tills.close_till(s, till.id, counted_minor=163_000, actor="rani",
                                        clock=clock))
    assert _problems(db) == []
    db.write(lambda s: s.execute(update(TillRow).where(TillRow.id == till.id)
                                 .values({column: value})))
    problems = _problems(db)
    assert any(f"till {till.id} (rani)" in p and words in p for p in problems), problems
