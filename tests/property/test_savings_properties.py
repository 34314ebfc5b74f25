"""Random counter days against a pure model: deposits, withdrawals and share purchases (for
cash or from savings) over three members.

After every step: no savings balance is negative, a refusal changed nothing (entries and
balances), every member's savings and shares equal the model's, the members' savings sum to
the 2000 control account and their share values to 3000, and cash is what came in less what
went out. The db fixture lives for the whole test, so each example registers fresh members and
measures the control accounts from where the example found them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import queries
from coop.ledger.model import InsufficientFunds
from coop.ledger.orm import entry_table
from coop.ledger.verify import verify
from coop.members import Identity, list_members, register_member, savings_account, shares_account
from coop.members.vault import Vault
from coop.savings import record_deposit, record_withdrawal
from coop.savings import shares as member_shares

FACE = 1000
KEYS = Vault(secrets.token_bytes(32))


@dataclass(frozen=True)
class Op:
    kind: str  # deposit | withdraw | cash_shares | savings_shares
    member: int
    amount: int  # minor units, or a share count


ops = st.one_of(
    st.builds(Op, st.just("deposit"), st.integers(0, 2), st.integers(1, 50_000)),
    st.builds(Op, st.just("withdraw"), st.integers(0, 2), st.integers(1, 60_000)),
    st.builds(Op, st.just("cash_shares"), st.integers(0, 2), st.integers(1, 20)),
    st.builds(Op, st.just("savings_shares"), st.integers(0, 2), st.integers(1, 60)),
)


def _snapshot(session, codes: list[str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    accounts = ["1000", "2000", "3000"]
    accounts += [savings_account(c) for c in codes] + [shares_account(c) for c in codes]
    state = {a: queries.balance(session, a) or 0 for a in accounts}
    state["entries"] = int(session.execute(
        select(func.count()).select_from(entry_table)).scalar_one())
    state["all_members_savings"] = sum(
        queries.balance(session, savings_account(m.code)) or 0
        for m in list_members(session, limit=500))
    state["all_members_shares"] = sum(
        queries.balance(session, shares_account(m.code)) or 0
        for m in list_members(session, limit=500))
    return state


def _apply(db: Database, clock: FixedClock, code: str, op: Op) -> None:
    day = clock.today()
    if op.kind == "deposit":
        db.write(lambda s: record_deposit(s, code, amount_minor=op.amount, value_date=day,
                                          actor="clerk1", clock=clock))
    elif op.kind == "withdraw":
        db.write(lambda s: record_withdrawal(s, code, amount_minor=op.amount, value_date=day,
                                             actor="clerk1", clock=clock))
    else:
        source = "cash" if op.kind == "cash_shares" else "savings"
        db.write(lambda s: member_shares.buy_shares(
            s, code, count=op.amount, source=source, face_value_minor=FACE,  # type: ignore[arg-type]
            value_date=day, actor="clerk1", clock=clock))


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(steps=st.lists(ops, min_size=1, max_size=25))
def test_random_counter_days_match_the_model(
    db: Database, clock: FixedClock, steps: list[Op]
) -> None:
    codes = db.write(lambda s: [
        register_member(s, identity=Identity(), joined_on=None, vault=KEYS, clock=clock).code
        for _ in range(3)])
    start = db.read(lambda s: _snapshot(s, codes))
    savings = [0, 0, 0]
    held_shares = [0, 0, 0]
    cash = start["1000"]
    entries = start["entries"]
    refusals = 0

    for op in steps:
        before = db.read(lambda s: _snapshot(s, codes))
        cost = op.amount * FACE if op.kind.endswith("shares") else op.amount
        expect_refusal = op.kind in ("withdraw", "savings_shares") and cost > savings[op.member]
        try:
            _apply(db, clock, codes[op.member], op)
        except InsufficientFunds:
            assert expect_refusal, (op, savings)
            refusals += 1
            assert db.read(lambda s: _snapshot(s, codes)) == before, op
            continue
        assert not expect_refusal, (op, savings)
        entries += 1
        if op.kind == "deposit":
            savings[op.member] += cost
            cash += cost
        elif op.kind == "withdraw":
            savings[op.member] -= cost
            cash -= cost
        elif op.kind == "cash_shares":
            held_shares[op.member] += cost
            cash += cost
        else:
            savings[op.member] -= cost
            held_shares[op.member] += cost

        now = db.read(lambda s: _snapshot(s, codes))
        assert [now[savings_account(c)] for c in codes] == savings, op
        assert [now[shares_account(c)] for c in codes] == held_shares, op
        assert min(now[savings_account(c)] for c in codes) >= 0
        assert now["2000"] == start["2000"] + sum(savings) == now["all_members_savings"]
        assert now["3000"] == start["3000"] + sum(held_shares) == now["all_members_shares"]
        assert now["1000"] == cash == now["2000"] + now["3000"]
        assert now["entries"] == entries

    counts = db.read(lambda s: [member_shares.holding(s, c) for c in codes])
    assert [(h.count * FACE, h.value_minor) for h in counts] == [(v, v) for v in held_shares]
    assert entries == start["entries"] + len(steps) - refusals
    report = db.read(verify)
    assert report.ok, report.problems
