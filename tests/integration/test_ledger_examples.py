"""A clerk's day in the ledger, as worked examples with exact figures."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, close_through, credit, debit, lock_balance, post, reverse
from coop.ledger import queries as q
from coop.ledger.chart import CASH, FEES_AND_PENALTIES, SAVINGS
from coop.ledger.model import (
    AlreadyReversed,
    ControlAccountPosting,
    EntryUnbalanced,
    FutureValueDate,
    IdempotencyKeyReused,
    InsufficientFunds,
    PeriodClosed,
    UnknownAccount,
)
from coop.ledger.orm import entry_table
from coop.ledger.verify import verify
from tests.helpers import deposit, open_savings, withdraw


def entry_count(db: Database) -> int:
    return len(db.read(lambda s: s.execute(select(entry_table.c.id)).all()))


def test_deposit_then_withdrawal_moves_cash_and_savings(db: Database, clock: FixedClock) -> None:
    asha = open_savings(db, clock, "M-7Q4K2")
    first = deposit(db, clock, asha, 150_00)
    second = withdraw(db, clock, asha, 40_50)
    assert (first.id, second.id) == (1, 2)
    assert second.prev_hash == first.hash
    assert db.read(lambda s: q.balance(s, asha)) == 109_50
    assert db.read(lambda s: q.balance(s, CASH)) == 109_50
    assert db.read(lambda s: q.balance(s, SAVINGS)) == 109_50  # the control account sums
    report = db.read(verify)
    assert report.ok, report.problems
    assert (report.entries_checked, report.head_seq, report.head_hash) == (2, 2, second.hash)


def test_withdrawal_beyond_the_balance_is_refused_and_changes_nothing(
    db: Database, clock: FixedClock
) -> None:
    asha = open_savings(db, clock, "M-7Q4K2")
    deposit(db, clock, asha, 100_00)
    with pytest.raises(InsufficientFunds):
        withdraw(db, clock, asha, 100_01)
    assert db.read(lambda s: q.balance(s, asha)) == 100_00
    assert entry_count(db) == 1


def test_a_withdrawal_with_a_fee_is_one_entry_of_three_postings(
    db: Database, clock: FixedClock
) -> None:
    asha = open_savings(db, clock, "M-7Q4K2")
    deposit(db, clock, asha, 500_00)
    draft = EntryDraft(
        value_date=clock.today(), narration="Withdrawal with fee", kind="withdrawal",
        postings=(debit(asha, 210_00), credit(CASH, 200_00), credit(FEES_AND_PENALTIES, 10_00)),
    )
    entry = db.write(lambda s: post(s, draft, clock=clock))
    assert len(entry.postings) == 3
    assert db.read(lambda s: q.balance(s, asha)) == 290_00
    assert db.read(lambda s: q.balance(s, FEES_AND_PENALTIES)) == 10_00
    tb = db.read(lambda s: q.trial_balance(s))
    assert tb.total_debit_minor == tb.total_credit_minor == 300_00


def test_lock_balance_reads_the_locked_row_and_names_an_unknown_account(
        db: Database, clock: FixedClock) -> None:
    """`lock_balance` gives the balance by the account's normal side, the same inside a
    transaction that has already posted to it; a control account may be locked (the safe's
    cash, the savings total); an unknown account is refused on the field `account`."""
    asha = open_savings(db, clock, "M-7Q4K2")
    deposit(db, clock, asha, 150_00)

    def work(session: object) -> tuple[int, ...]:
        before = lock_balance(session, asha)  # type: ignore[arg-type]
        post(session, EntryDraft(clock.today(), "out", kind="withdrawal",  # type: ignore[arg-type]
                                 postings=(debit(asha, 40_00), credit(CASH, 40_00))),
             clock=clock)
        return (before, lock_balance(session, asha), lock_balance(session, SAVINGS),  # type: ignore[arg-type]
                lock_balance(session, CASH))  # type: ignore[arg-type]

    assert db.write(work) == (150_00, 110_00, 110_00, 110_00)
    with pytest.raises(UnknownAccount) as refused:
        db.write(lambda s: lock_balance(s, "2000:M-NOPE"))
    assert refused.value.field == "account"


@pytest.mark.parametrize(
    ("postings", "error"),
    [
        ((debit(CASH, 100), credit("2000:M-AAAAA", 99)), EntryUnbalanced),
        ((debit(CASH, 100),), Exception),
        ((debit(CASH, 100), credit("9999", 100)), UnknownAccount),
        ((debit(CASH, 100), credit(SAVINGS, 100)), ControlAccountPosting),
    ],
)
def test_malformed_entries_are_refused(
    db: Database, clock: FixedClock, postings: tuple, error: type[Exception]
) -> None:
    open_savings(db, clock, "M-AAAAA")
    draft = EntryDraft(value_date=clock.today(), narration="bad", kind="manual",
                       postings=postings)
    with pytest.raises(error):
        db.write(lambda s: post(s, draft, clock=clock))
    assert entry_count(db) == 0


def test_value_dates_in_a_closed_period_or_the_future_are_refused(
    db: Database, clock: FixedClock
) -> None:
    asha = open_savings(db, clock, "M-7Q4K2")
    deposit(db, clock, asha, 10_00, on=date(2025, 3, 31))
    db.write(lambda s: close_through(s, date(2025, 3, 31), clock=clock))
    with pytest.raises(PeriodClosed):
        deposit(db, clock, asha, 10_00, on=date(2025, 3, 31))
    with pytest.raises(FutureValueDate):
        deposit(db, clock, asha, 10_00, on=clock.today() + timedelta(days=1))
    with pytest.raises(PeriodClosed):
        db.write(lambda s: reverse(s, 1, reason="wrong", actor="admin", clock=clock))
    assert deposit(db, clock, asha, 10_00, on=date(2025, 4, 1)).id == 2


def test_same_key_replays_and_a_different_body_is_refused(
    db: Database, clock: FixedClock
) -> None:
    asha = open_savings(db, clock, "M-7Q4K2")
    first = deposit(db, clock, asha, 25_00, key="counter-1-0001")
    again = deposit(db, clock, asha, 25_00, key="counter-1-0001")
    assert again.replayed and again == first
    with pytest.raises(IdempotencyKeyReused):
        deposit(db, clock, asha, 26_00, key="counter-1-0001")
    assert db.read(lambda s: q.balance(s, asha)) == 25_00
    assert entry_count(db) == 1


def test_reversal_negates_exactly_and_only_once(db: Database, clock: FixedClock) -> None:
    asha = open_savings(db, clock, "M-7Q4K2")
    wrong = deposit(db, clock, asha, 999_00)
    undo = db.write(lambda s: reverse(s, wrong.id, reason="typed 999 for 99", actor="admin",
                                      clock=clock))
    assert undo.reversal_of == wrong.id and undo.value_date == wrong.value_date
    assert [(p.account, p.side.value, p.amount_minor) for p in undo.postings] == [
        (CASH, "credit", 999_00), (asha, "debit", 999_00)]
    assert db.read(lambda s: q.balance(s, asha)) == 0
    with pytest.raises(AlreadyReversed):
        db.write(lambda s: reverse(s, wrong.id, reason="again", actor="admin", clock=clock))
    with pytest.raises(AlreadyReversed):
        db.write(lambda s: reverse(s, undo.id, reason="undo undo", actor="admin", clock=clock))
    assert db.read(verify).ok


def test_reversing_a_deposit_already_withdrawn_is_refused(
    db: Database, clock: FixedClock
) -> None:
    asha = open_savings(db, clock, "M-7Q4K2")
    dep = deposit(db, clock, asha, 100_00)
    withdraw(db, clock, asha, 60_00)
    with pytest.raises(InsufficientFunds):
        db.write(lambda s: reverse(s, dep.id, reason="bounced", actor="admin", clock=clock))


def test_balances_and_trial_balance_as_of_a_date(db: Database, clock: FixedClock) -> None:
    asha = open_savings(db, clock, "M-7Q4K2")
    deposit(db, clock, asha, 100_00, on=date(2025, 4, 10))
    deposit(db, clock, asha, 50_00, on=date(2025, 5, 10))
    deposit(db, clock, asha, 7_00, on=date(2025, 4, 20))  # back-dated
    assert db.read(lambda s: q.balance_as_of(s, asha, date(2025, 4, 9))) == 0
    assert db.read(lambda s: q.balance_as_of(s, asha, date(2025, 4, 30))) == 107_00
    assert db.read(lambda s: q.balance_as_of(s, SAVINGS, date(2025, 4, 30))) == 107_00
    assert db.read(lambda s: q.balance_as_of(s, asha, date(2025, 6, 30))) == 157_00
    tb = db.read(lambda s: q.trial_balance(s, as_of=date(2025, 4, 30)))
    rows = {r.account: (r.debit_minor, r.credit_minor) for r in tb.rows}
    assert rows[CASH] == (107_00, 0) and rows[SAVINGS] == (0, 107_00)
    assert tb.total_debit_minor == tb.total_credit_minor == 107_00


def test_entries_by_account_page_in_journal_order(db: Database, clock: FixedClock) -> None:
    asha = open_savings(db, clock, "M-7Q4K2")
    bina = open_savings(db, clock, "M-9XK3P")
    for amount in (1_00, 2_00, 3_00):
        deposit(db, clock, asha, amount)
        deposit(db, clock, bina, amount * 10)
    page = db.read(lambda s: q.list_entries(s, account=asha, limit=2))
    assert [e.id for e in page] == [1, 3]
    rest = db.read(lambda s: q.list_entries(s, account=asha, after_id=3))
    assert [e.id for e in rest] == [5]
    assert len(db.read(lambda s: q.list_entries(s, account=SAVINGS))) == 6


def test_a_batch_is_all_or_nothing_and_may_not_reverse_twice(
    db: Database, clock: FixedClock
) -> None:
    from coop.ledger import post_many

    asha = open_savings(db, clock, "M-7Q4K2")
    first = deposit(db, clock, asha, 50_00)
    twice = [
        EntryDraft(value_date=clock.today(), narration="undo", kind="reversal",
                   postings=(credit(CASH, 50_00), debit(asha, 50_00)), reversal_of=first.id)
        for _ in range(2)
    ]
    with pytest.raises(AlreadyReversed):
        db.write(lambda s: post_many(s, twice, clock=clock))
    batch = [
        EntryDraft(value_date=clock.today(), narration="Deposit", kind="deposit",
                   postings=(debit(CASH, 10_00), credit(asha, 10_00))),
        EntryDraft(value_date=clock.today(), narration="Withdrawal", kind="withdrawal",
                   postings=(debit(asha, 70_00), credit(CASH, 70_00))),  # 60.00 is all she has
    ]
    with pytest.raises(InsufficientFunds):
        db.write(lambda s: post_many(s, batch, clock=clock))
    assert db.read(lambda s: q.balance(s, asha)) == 50_00
    assert entry_count(db) == 1
