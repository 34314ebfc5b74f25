"""An interest run undone and run again gives exactly the first run's figures.

For random savings (one to four new members, random deposits on random days before and in the
month), a month's run is posted, reversed as a whole, and posted again: the reversal takes
back exactly what the run paid (every balance as before the run, 5000 back where it was), the
run again pays the same accounts the same total, and `verify` with every register check is
clean after each step. The db fixture lives for the whole test: each example takes the next
month and its own new members.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from coop import registers
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import queries
from coop.ledger.chart import SAVINGS_INTEREST_EXPENSE
from coop.ledger.verify import verify
from coop.members import Identity, register_member, savings_account
from coop.members.vault import Vault
from coop.savings import record_deposit
from coop.savings.interest_run import post_interest, reverse_interest_run

KEYS = Vault(secrets.token_bytes(32))
MONTHS = itertools.count()

deposits = st.lists(st.lists(st.tuples(st.integers(-20, 27), st.integers(1, 10**9)),
                             min_size=1, max_size=4), min_size=1, max_size=4)


def _clean(db: Database) -> bool:
    report = db.read(verify)
    return report.ok and db.read(registers.reconcile_registers) == []


@given(savers=deposits, rate=st.decimals(min_value=Decimal("0.5"), max_value=Decimal(12),
                                         places=2))
def test_a_run_undone_and_run_again_is_the_same_run(db: Database, savers: list[list[tuple[
        int, int]]], rate: Decimal) -> None:
    month = next(MONTHS)
    start = date(2001 + month // 12, 1 + month % 12, 1)
    through = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    clock = FixedClock(date(2030, 1, 1))
    accounts = []
    for moves in savers:
        code = db.write(lambda s: register_member(s, identity=Identity(), joined_on=None,
                                                  vault=KEYS, clock=clock).code)
        for offset, amount in moves:
            on = start + timedelta(days=offset)
            db.write(lambda s, on=on, amount=amount, code=code: record_deposit(
                s, code, amount_minor=amount, value_date=on, actor="clerk", clock=clock))
        accounts.append(savings_account(code))

    def balances() -> list[int]:
        return [db.read(lambda s, a=a: queries.balance(s, a)) or 0
                for a in (*accounts, SAVINGS_INTEREST_EXPENSE)]

    def run() -> tuple[int, int, int]:
        done = db.write(lambda s: post_interest(
            s, start=start, through=through, rate_percent=rate, min_balance_minor=0,
            actor="admin", clock=clock))
        return done.id, done.accounts, done.total_minor

    before = balances()
    first_id, *first = run()
    after = balances()
    undone = db.write(lambda s: reverse_interest_run(s, first_id, actor="admin", clock=clock))
    assert undone.entries_reversed == first[0]
    assert balances() == before and _clean(db)
    again_id, *again = run()
    assert again_id != first_id and again == first
    assert balances() == after and _clean(db)
