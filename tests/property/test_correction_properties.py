"""Property (issue 16): undoing a loan repayment leaves the loan exactly as if the payment had
never been made. Two borrowers take the same loan on the same day; one makes every payment
of a random schedule, the other the same schedule without payment k; then the first one's
payment k is undone. Their loans must agree in everything: each later payment's allocation,
the outstanding principal, the status, the balance of the loan account in the ledger, and
`coop verify` is clean. A second property does the same for deposits and share purchases:
undo any one and the member's savings, shares and register equal a member who never made it.
"""

from __future__ import annotations

from datetime import date, timedelta
from weakref import WeakKeyDictionary

from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy import select

from coop import corrections, registers
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import queries
from coop.ledger.verify import verify
from coop.loans import EventRow, get_loan
from coop.members import savings_account, shares_account
from coop.members.vault import Vault
from coop.savings import record_deposit
from coop.savings.shares import buy_shares, holding
from tests.integration.test_loans_service import Desk, open_desk

START = date(2025, 1, 10)
KEYS = Vault(b"p" * 32)

_DESKS: WeakKeyDictionary[Database, Desk] = WeakKeyDictionary()


def _desk(db: Database, clock: FixedClock, voters: int) -> Desk:
    """One desk per database (its product and board set up once, for every example)."""
    if db not in _DESKS:
        _DESKS[db] = open_desk(db, clock, KEYS, start=START, voters=voters)
    return _DESKS[db].at(START)


payments = st.lists(st.tuples(st.integers(min_value=1, max_value=60),
                              st.integers(min_value=1_000, max_value=1_300_000)),
                    min_size=1, max_size=6)


def _clean(db: Database) -> list[str]:
    report = db.read(lambda s: verify(s))
    return [str(p) for p in report.problems] + [
        m for _, m in db.read(registers.reconcile_registers)]


def _allocations(db: Database, loan_id: int) -> list[tuple[date, int, int, int, int]]:
    return [(e.value_date, e.principal_minor, e.interest_minor, e.penalty_minor, e.fees_minor)
            for e in db.read(lambda s: s.scalars(select(EventRow).where(
                EventRow.loan_id == loan_id, EventRow.kind == "repayment")
                .order_by(EventRow.seq)).all())]


def desk_status(db: Database, loan_id: int) -> str:
    return str(db.read(lambda s: get_loan(s, loan_id)).status)


@given(schedule=payments, pick=st.integers(min_value=0, max_value=5))
def test_an_undone_repayment_is_as_if_never_made(db: Database, clock: FixedClock,
                                                schedule: list[tuple[int, int]],
                                                pick: int) -> None:
    desk = _desk(db, clock, voters=2)
    first, second = desk.register(savings=1_000_000), desk.register(savings=1_000_000)
    loans = desk.lend(first), desk.lend(second)
    pick %= len(schedule)
    day, undone_entry = START, 0
    for number, (gap, amount) in enumerate(schedule):
        day += timedelta(days=gap)
        desk.at(day)
        # the same amount on both loans: no more than the first one's payoff (the second,
        # which misses payment k, owes at least as much)
        payoff = desk.payoff(loans[0])
        if payoff <= 0:
            continue
        for which, loan_id in enumerate(loans):
            if which == 1 and number == pick:
                continue
            paid = desk.repay(loan_id, min(amount, payoff))
            if which == 0 and number == pick:
                undone_entry = paid.entry.id
    if not undone_entry:  # the loan was paid off before payment k: nothing to undo
        event("paid off before the payment to undo")
        return
    event(f"undo payment {pick + 1} of {len(schedule)}; loan {desk_status(db, loans[0])}")
    desk.at(day)
    db.write(lambda s: corrections.correct_now(s, undone_entry, reason="property",
                                               actor="admin", clock=clock))
    one, two = (db.read(lambda s, i=i: get_loan(s, i)) for i in loans)
    strip = [a[1:] for a in _allocations(db, loans[0])], \
        [a[1:] for a in _allocations(db, loans[1])]
    assert strip[0] == strip[1]
    assert (one.outstanding_minor, one.status) == (two.outstanding_minor, two.status)
    ledger = [db.read(lambda s, a=a: queries.balance(s, a or "")) for a in
              (one.account_code, two.account_code)]
    assert ledger[0] == ledger[1] == one.outstanding_minor
    assert _clean(db) == []


@given(amounts=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=5),
       counts=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=3),
       pick=st.integers(min_value=0, max_value=7))
def test_an_undone_deposit_or_share_purchase_is_as_if_never_made(
        db: Database, clock: FixedClock, amounts: list[int], counts: list[int],
        pick: int) -> None:
    desk = _desk(db, clock, voters=0)
    first, second = desk.register(savings=0), desk.register(savings=0)
    steps = [("deposit", a) for a in amounts] + [("shares", c) for c in counts]
    pick %= len(steps)
    undone = 0
    for number, (kind, value) in enumerate(steps):
        for which, code in enumerate((first, second)):
            if which == 1 and number == pick:
                continue
            if kind == "deposit":
                entry, _ = db.write(lambda s, c=code, v=value: record_deposit(
                    s, c, amount_minor=v, value_date=START, actor="clerk1", clock=clock))
            else:
                entry, _ = db.write(lambda s, c=code, v=value: buy_shares(
                    s, c, count=v, source="cash", face_value_minor=1000, value_date=START,
                    actor="clerk1", clock=clock))
            if which == 0 and number == pick:
                undone = entry.id
    db.write(lambda s: corrections.correct_now(s, undone, reason="property", actor="admin",
                                               clock=clock))
    for account in (savings_account, shares_account):
        assert (db.read(lambda s, a=account: queries.balance(s, a(first))) ==
                db.read(lambda s, a=account: queries.balance(s, a(second))))
    assert (db.read(lambda s: holding(s, first)) == db.read(lambda s: holding(s, second)))
    assert _clean(db) == []
