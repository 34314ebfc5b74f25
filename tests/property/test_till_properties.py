"""Random till days against a model: two clerks open tills, take deposits and pay out
withdrawals (a till cannot pay out more than it holds), count and close with a random count,
and the admin approves some differences.

After every step: each open till holds its float plus what came in less what went out; 1000
Cash on hand is the safe plus every till's balance; the safe is what the model says; a refusal
changed nothing; `coop verify` and every register check are clean.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from coop import auth, registers, tills
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import queries
from coop.ledger.model import InsufficientFunds
from coop.ledger.verify import verify
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings import record_deposit, record_withdrawal

KEYS = Vault(secrets.token_bytes(32))
PASSWORDS = auth.Passwords(memory_kib=1024, time_cost=1, parallelism=1)
CLERKS = ("p1", "p2")


@dataclass(frozen=True)
class Op:
    kind: str  # open | deposit | withdraw | close | approve
    clerk: int
    amount: int


ops = st.lists(st.one_of(
    st.builds(Op, st.just("open"), st.integers(0, 1), st.integers(0, 30_000)),
    st.builds(Op, st.just("deposit"), st.integers(0, 1), st.integers(1, 20_000)),
    st.builds(Op, st.just("withdraw"), st.integers(0, 1), st.integers(1, 40_000)),
    st.builds(Op, st.just("close"), st.integers(0, 1), st.integers(-3_000, 3_000)),
    st.builds(Op, st.just("approve"), st.just(0), st.just(0)),
), min_size=1, max_size=14)


@dataclass
class Model:
    safe: int
    till: dict[str, int] = field(default_factory=dict)  # open tills' cash
    pending: dict[int, int] = field(default_factory=dict)  # till id -> its variance


def _cash(db: Database) -> tuple[int, int]:
    return (db.read(tills.safe_minor), db.read(lambda s: queries.balance(s, "1000")) or 0)


@settings(max_examples=25)
@given(days=ops)
def test_a_tills_day_keeps_the_books(db: Database, clock: FixedClock, days: list[Op]) -> None:
    def setup(session: object) -> str:
        for name in CLERKS:
            if auth.find_user(session, name) is None:  # type: ignore[arg-type]
                auth.create_user(session, username=name, password="correct horse battery",  # type: ignore[arg-type]
                                 role="clerk", member_code=None, passwords=PASSWORDS,
                                 clock=clock)
        code = register_member(session, identity=Identity(), joined_on=None,  # type: ignore[arg-type]
                               vault=KEYS, clock=clock).code
        record_deposit(session, code, amount_minor=100_000, value_date=clock.today(),  # type: ignore[arg-type]
                       actor="admin", clock=clock)
        return code

    code = db.write(setup)  # type: ignore[arg-type]
    for name in CLERKS:  # a till left open by an earlier example is closed exactly
        row = db.read(lambda s, n=name: tills.open_till_of(s, n))  # type: ignore[misc]
        if row is not None:
            left = db.read(lambda s, r=row: queries.balance(s, r.account_code)) or 0  # type: ignore[misc]
            db.write(lambda s, r=row, m=left: tills.close_till(  # type: ignore[misc]
                s, r.id, counted_minor=m, actor="admin", clock=clock))
    for left_over in db.read(lambda s: tills.pending(s)):  # a difference left is approved
        db.write(lambda s, t=left_over: tills.approve_variance(  # type: ignore[misc]
            s, t.id, approver="admin", clock=clock))
    model = Model(safe=db.read(tills.safe_minor))
    ids: dict[str, int] = {}
    for op in days:
        who = CLERKS[op.clerk]
        before = _cash(db)
        try:
            if op.kind == "open":
                till = db.write(lambda s, o=op, w=who: tills.open_till(  # type: ignore[misc]
                    s, username=w, opening_float_minor=o.amount, clock=clock))
                ids[who] = till.id
                model.safe -= op.amount
                model.till[who] = op.amount
            elif op.kind == "deposit":
                db.write(lambda s, o=op, w=who: record_deposit(  # type: ignore[misc]
                    s, code, amount_minor=o.amount, value_date=clock.today(), actor=w,
                    clock=clock))
                if who in model.till:
                    model.till[who] += op.amount
                else:
                    model.safe += op.amount
            elif op.kind == "withdraw":
                db.write(lambda s, o=op, w=who: record_withdrawal(  # type: ignore[misc]
                    s, code, amount_minor=o.amount, value_date=clock.today(), actor=w,
                    clock=clock))
                if who in model.till:
                    model.till[who] -= op.amount
                else:
                    model.safe -= op.amount
            elif op.kind == "close" and who in model.till:
                expected = model.till.pop(who)
                counted = max(expected + op.amount, 0)
                db.write(lambda s, w=who, c=counted: tills.close_till(  # type: ignore[misc]
                    s, ids[w], counted_minor=c, actor=w, clock=clock))
                model.safe += min(counted, expected)
                if counted != expected:
                    model.pending[ids[who]] = counted - expected
            elif op.kind == "approve" and model.pending:
                first = min(model.pending)  # the oldest difference waiting
                db.write(lambda s, t=first: tills.approve_variance(  # type: ignore[misc]
                    s, t, approver="admin", clock=clock))
                variance = model.pending.pop(first)
                model.safe += max(variance, 0)
        except (InsufficientFunds, tills.TillAlreadyOpen):
            assert _cash(db) == before  # a refusal changed nothing
        safe, cash = _cash(db)
        assert safe == model.safe
        for name, held in model.till.items():
            assert db.read(lambda s, n=name: tills.get_till(  # type: ignore[misc]
                s, ids[n])).expected_minor == held
        shortages = sum(-v for v in model.pending.values() if v < 0)
        assert cash == safe + sum(model.till.values()) + shortages
    assert db.read(lambda s: verify(s)).ok
    assert db.read(registers.reconcile_registers) == []
