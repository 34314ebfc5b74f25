"""Counter services take an idempotency key: a retry after the first attempt went through
(the answer lost to a crash or a dropped line) returns the first entry and changes nothing,
even where the balance has moved since; the same key on a different request is refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from coop import loans
from coop.board import take_seat
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger.model import IdempotencyKeyReused
from coop.ledger.orm import entry_table
from coop.loans import schedule
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings import balances, record_deposit, record_withdrawal, shares
from coop.society import get_society, update_settings

FACE = 1000


@pytest.fixture
def member(db: Database, clock: FixedClock) -> str:
    keys = Vault(b"k" * 32)
    return db.write(lambda s: register_member(s, identity=Identity(), joined_on=date(2025, 1, 1),
                                              vault=keys, clock=clock).code)


def entries(db: Database) -> int:
    return int(db.read(lambda s: s.scalar(select(func.count()).select_from(entry_table))))


def test_a_retried_deposit_withdrawal_and_share_purchase_post_once(
        db: Database, clock: FixedClock, member: str) -> None:
    today = clock.today()
    first, _ = db.write(lambda s: record_deposit(s, member, amount_minor=50_000, value_date=today,
                                                 actor="clerk", clock=clock, key="dep-1"))
    again, balance = db.write(lambda s: record_deposit(
        s, member, amount_minor=50_000, value_date=today, actor="clerk", clock=clock,
        key="dep-1"))
    assert (again.id, again.replayed, balance.balance_minor) == (first.id, True, 50_000)

    out, _ = db.write(lambda s: record_withdrawal(s, member, amount_minor=40_000,
                                                  value_date=today, actor="clerk", clock=clock,
                                                  key="wd-1"))
    # 10,000 left: the same withdrawal again would not fit, but it is a retry, not a new one
    retry, left = db.write(lambda s: record_withdrawal(
        s, member, amount_minor=40_000, value_date=today, actor="clerk", clock=clock,
        key="wd-1"))
    assert (retry.id, retry.replayed, left.balance_minor) == (out.id, True, 10_000)

    bought, _ = db.write(lambda s: shares.buy_shares(
        s, member, count=5, source="savings", face_value_minor=FACE, value_date=today,
        actor="clerk", clock=clock, key="sh-1"))
    repeat, holding = db.write(lambda s: shares.buy_shares(
        s, member, count=5, source="savings", face_value_minor=FACE, value_date=today,
        actor="clerk", clock=clock, key="sh-1"))
    assert (repeat.id, holding.count) == (bought.id, 5)
    assert entries(db) == 3
    assert db.read(lambda s: balances(s, member)).balance_minor == 5_000

    with pytest.raises(IdempotencyKeyReused):
        db.write(lambda s: record_withdrawal(s, member, amount_minor=1_000, value_date=today,
                                             actor="clerk", clock=clock, key="wd-1"))
    with pytest.raises(IdempotencyKeyReused):
        db.write(lambda s: record_deposit(s, member, amount_minor=1, value_date=today,
                                          actor="clerk", clock=clock, key="sh-1"))
    assert entries(db) == 3


def test_a_retried_repayment_is_allocated_once(db: Database, clock: FixedClock,
                                               member: str) -> None:
    keys = Vault(b"k" * 32)
    board = db.write(lambda s: register_member(s, identity=Identity(), joined_on=date(2025, 1, 1),
                                               vault=keys, clock=clock).code)
    today = clock.today()
    db.write(lambda s: take_seat(s, member_code=board, username="board", on=today))
    db.write(lambda s: update_settings(s, {"loan_approvals_required": 1,
                                           "loan_min_membership_days": 0}))
    db.write(lambda s: record_deposit(s, member, amount_minor=500_000, value_date=today,
                                      actor="clerk", clock=clock))
    db.write(lambda s: loans.create_product(s, loans.Product(
        "WEEKLY", "Weekly", loans.ProductTerms(Decimal("12"), 10, schedule.Frequency.WEEKLY),
        None, Decimal("1"), Decimal("0"), loans.engine.DEFAULT_ORDER), clock=clock))

    def lend(session: object) -> int:
        society = get_society(session)  # type: ignore[arg-type]
        assert society is not None
        loan, _ = loans.apply(session, member_code=member, product_code="WEEKLY",  # type: ignore[arg-type]
                              principal_minor=100_000, installments=None, purpose="business",
                              guarantors=(), society=society, actor="clerk", clock=clock)
        loans.vote(session, loan.id, voter_code=board, voter_username="board",  # type: ignore[arg-type]
                   decision="approve", note=None, society=society, clock=clock)
        loans.disburse(session, loan.id, to="cash", on=today, actor="clerk", clock=clock)  # type: ignore[arg-type]
        return loan.id

    loan_id = db.write(lend)
    paid = db.write(lambda s: loans.repay(s, loan_id, amount_minor=20_000, source="cash",
                                          on=today, actor="clerk", clock=clock, key="rp-1"))
    count = entries(db)
    again = db.write(lambda s: loans.repay(s, loan_id, amount_minor=20_000, source="cash",
                                           on=today, actor="clerk", clock=clock, key="rp-1"))
    assert again.entry.id == paid.entry.id and again.entry.replayed
    assert again.allocation == paid.allocation
    assert again.position.outstanding_principal == paid.position.outstanding_principal == 80_000
    assert entries(db) == count
    with pytest.raises(IdempotencyKeyReused):
        db.write(lambda s: loans.repay(s, loan_id, amount_minor=30_000, source="cash",
                                       on=today, actor="clerk", clock=clock, key="rp-1"))
