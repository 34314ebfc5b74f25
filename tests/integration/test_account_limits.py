"""Issue 15, finding 1: an account's running totals only grew, and once they reached 2**62
every posting to it was a 500 for good. Now a balance is bounded (422 at the bound) and the
totals are netted before they can overflow; verify still accounts for every posting."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import service
from coop.ledger import verify as verify_module
from coop.ledger.model import AMOUNT_MINOR_MAX, BALANCE_MINOR_MAX, BalanceLimit
from coop.ledger.orm import account_table
from coop.ledger.verify import verify
from tests.helpers import deposit, open_savings, withdraw


def _counters(db: Database, code: str) -> tuple[int, int]:
    row = db.read(lambda s: s.execute(select(
        account_table.c.debits_posted, account_table.c.credits_posted)
        .where(account_table.c.code == code)).one())
    return int(row[0]), int(row[1])


@pytest.mark.slow
def test_a_balance_stops_at_the_bound_with_a_422_and_the_books_verify(
        db: Database, clock: FixedClock, figure: Callable[[str], None]) -> None:
    account = open_savings(db, clock, "EDGE")
    steps = BALANCE_MINOR_MAX // AMOUNT_MINOR_MAX
    for _ in range(steps):
        deposit(db, clock, account, AMOUNT_MINOR_MAX)
    with pytest.raises(BalanceLimit) as refused:
        deposit(db, clock, account, 1)
    assert refused.value.field == "postings" and "the most the books allow" in str(
        refused.value.detail)
    withdraw(db, clock, account, AMOUNT_MINOR_MAX)  # the account still works
    deposit(db, clock, account, 1)
    report = db.read(verify)
    figure(f"overflow edge: refused with 422 at a balance of {BALANCE_MINOR_MAX} minor units "
           f"after {steps} deposits of {AMOUNT_MINOR_MAX}; books verify ({report.ok})")
    assert report.ok, report.problems


def test_counters_are_netted_before_they_can_overflow(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
        figure: Callable[[str], None]) -> None:
    """The review's attack, scaled down: the netting threshold is lowered so that a few
    dozen postings of the largest amount cross it, as 46,117 would cross 2**62."""
    threshold = 10 * AMOUNT_MINOR_MAX
    monkeypatch.setattr(service, "COUNTER_MINOR_NET_ABOVE", threshold)
    monkeypatch.setattr(verify_module, "COUNTER_MINOR_NET_ABOVE", threshold)
    account = open_savings(db, clock, "TURN")
    for _ in range(30):
        deposit(db, clock, account, AMOUNT_MINOR_MAX)
        withdraw(db, clock, account, AMOUNT_MINOR_MAX - 1)
    debits, credits = _counters(db, account)
    assert max(debits, credits) <= threshold + AMOUNT_MINOR_MAX
    assert credits - debits == 30  # the balance is untouched by netting
    report = db.read(verify)
    assert report.ok, report.problems
    figure(f"counter netting: 60 postings of up to {AMOUNT_MINOR_MAX} turned over "
           f"{60 * AMOUNT_MINOR_MAX - 30}; counters {debits}/{credits}, books verify")


def test_verify_catches_counters_netted_unequally(db: Database, clock: FixedClock) -> None:
    """Negative control: netting takes the same amount off both counters; anything else
    is a fault verify names."""
    account = open_savings(db, clock, "BAD")
    deposit(db, clock, account, 500)
    withdraw(db, clock, account, 200)
    db.write(lambda s: s.execute(account_table.update()
                                 .where(account_table.c.code == account)
                                 .values(credits_posted=account_table.c.credits_posted - 100,
                                         debits_posted=account_table.c.debits_posted - 100)))
    report = db.read(verify)
    assert not report.ok and any(p.account == account for p in report.problems)
