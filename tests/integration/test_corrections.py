"""Corrections keep every register equal to the ledger (issue 16), on SQLite and PostgreSQL.

For each kind of entry: undo it (an admin at once, or a clerk asks and another user approves),
then `coop verify` (the ledger's checks and every register's) is clean; or the undo is refused
with 409 and nothing changed. The loan example is worked out by hand (the product of
test_loans_service: 12,000.00 at 1 % a month, 12 installments of 1,066.19):

    paid 10-02 1,066.19 = interest 120.00 + principal 946.19
    paid 10-03 1,066.19 = interest 110.54 + principal 955.65     outstanding 10,098.16
    undo the first: the second now pays installment 1, overdue since 10-02, which comes first
    in the allocation order:
    paid 10-03 1,066.19 = interest 120.00 + principal 946.19     outstanding 11,053.81
    and one entry on 10-03 moves 9.46 (110.54 -> 120.00) from her loan account to interest
    income; installment 2 is now overdue.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date as D
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coop import corrections, registers
from coop.clock import FixedClock
from coop.corrections import (
    CorrectionDecided,
    CorrectionPending,
    CorrectionRefused,
    OwnCorrection,
)
from coop.db import Database
from coop.i18n import translator
from coop.ledger import EntryDraft, credit, debit, post, queries
from coop.ledger.chart import CASH, LOAN_INTEREST_INCOME, OTHER_INCOME
from coop.ledger.model import AlreadyReversed
from coop.ledger.verify import verify
from coop.loans import EventRow, LoanRow, get_loan, repay, write_off
from coop.loans.guarantors import guarantors_of
from coop.members import savings_account, shares_account
from coop.members.vault import Vault
from coop.passbooks.narrations import particulars
from coop.savings import balances, place_hold, record_deposit, record_withdrawal
from coop.savings.interest_run import post_interest
from coop.savings.shares import buy_shares, holding, redeem_shares
from tests.integration.test_loans_service import (
    INSTALLMENT,
    PRINCIPAL,
    Desk,
    open_desk,
    repayment_events,
    run_pair,
)

FACE = 1000


@pytest.fixture
def keys() -> Vault:
    return Vault(b"k" * 32)


def problems(db: Database) -> list[str]:
    """What `coop verify` reports: the ledger's own checks, then every register's."""
    report = db.read(lambda s: verify(s))
    return [str(p) for p in report.problems] + [
        message for _, message in db.read(registers.reconcile_registers)]


def undo(desk: Desk, entry_id: int, reason: str = "typed wrong") -> Any:
    return desk.db.write(lambda s: corrections.correct_now(
        s, entry_id, reason=reason, actor="admin", clock=desk.clock))


def ask(desk: Desk, entry_id: int, by: str = "clerk1", reason: str = "typed wrong") -> Any:
    return desk.db.write(lambda s: corrections.request_correction(
        s, entry_id, reason=reason, actor=by, clock=desk.clock))


def approve(desk: Desk, correction_id: int, by: str = "board1") -> Any:
    return desk.db.write(lambda s: corrections.approve_correction(
        s, correction_id, actor=by, clock=desk.clock))


def balance(db: Database, account: str) -> int:
    return int(db.read(lambda s: queries.balance(s, account)) or 0)


def entry_count(db: Database) -> int:
    book = db.read(queries.book)
    assert book is not None
    return int(book.head_seq)


# -- savings and shares -------------------------------------------------------------------------


def test_a_deposit_asked_for_and_approved_reads_plainly_on_her_passbook(
        db: Database, clock: FixedClock, keys: Vault, figure: Callable[[str], None]) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10), voters=0)
    asha = desk.register(savings=50_000)
    wrong, _ = db.write(lambda s: record_deposit(
        s, asha, amount_minor=100_000_000_000, value_date=clock.today(), actor="clerk1",
        clock=clock))
    asked = ask(desk, wrong.id, reason="clerk typed extra zeros")
    assert asked.status == "pending"
    with pytest.raises(OwnCorrection):
        approve(desk, asked.id, by="clerk1")
    with pytest.raises(CorrectionPending):
        ask(desk, wrong.id, by="clerk2")
    done = approve(desk, asked.id, by="board1")
    assert (done.status, done.decided_by) == ("applied", "board1")
    assert balance(db, savings_account(asha)) == 50_000
    reversal = db.read(lambda s: queries.load_entry(s, done.reversal_entry_id))
    assert reversal is not None and reversal.reversal_of == wrong.id
    assert "zeros" not in reversal.narration
    for language, words in (("en", "Correction of 10-01-2025 deposit"),
                            ("kn", "10-01-2025 ರ ಠೇವಣಿಯ ತಿದ್ದುಪಡಿ")):
        line = particulars(translator(language), reversal.kind, reversal.narration)
        figure(f"corrections: her passbook ({language}) says {line!r}")
        assert line == words
    with pytest.raises(CorrectionDecided):
        approve(desk, asked.id, by="admin")
    with pytest.raises(AlreadyReversed):
        ask(desk, wrong.id)
    assert problems(db) == []


def test_a_refused_correction_and_a_refused_undo_change_nothing(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10), voters=0)
    asha = desk.register(savings=0)
    deposit, _ = db.write(lambda s: record_deposit(
        s, asha, amount_minor=200_000, value_date=clock.today(), actor="clerk1", clock=clock))
    db.write(lambda s: place_hold(s, asha, amount_minor=150_000, reason="guarantee",
                                  actor="clerk1", clock=clock))
    asked = ask(desk, deposit.id)
    before = entry_count(db)
    with pytest.raises(CorrectionRefused, match=r"500\.00 free of holds"):
        approve(desk, asked.id)  # the deposit is on hold: undoing it would break the hold
    assert entry_count(db) == before
    assert db.read(lambda s: corrections.get_correction(s, asked.id)).status == "pending"
    refused = db.write(lambda s: corrections.refuse_correction(
        s, asked.id, actor="board1", clock=clock))
    assert refused.status == "refused"
    assert entry_count(db) == before
    assert balance(db, savings_account(asha)) == 200_000
    assert problems(db) == []


def test_share_purchase_and_redemption_undone_move_the_register_back(
        db: Database, clock: FixedClock, keys: Vault, figure: Callable[[str], None]) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10), voters=0)
    asha = desk.register(savings=100_000)
    bought, _ = db.write(lambda s: buy_shares(
        s, asha, count=8, source="savings", face_value_minor=FACE, value_date=clock.today(),
        actor="clerk1", clock=clock))
    wrong, _ = db.write(lambda s: buy_shares(
        s, asha, count=100_000 - 8, source="cash", face_value_minor=FACE,
        value_date=clock.today(), actor="clerk1", clock=clock))
    undo(desk, wrong.id)
    now = db.read(lambda s: holding(s, asha))
    figure(f"corrections: after the wrong purchase is undone she holds {now.count} shares "
           f"worth {now.value_minor / 100:.2f}")
    assert (now.count, now.value_minor) == (8, 8_000)
    redeemed, _ = db.write(lambda s: redeem_shares(
        s, asha, count=3, to="savings", face_value_minor=FACE, min_shares=1,
        value_date=clock.today(), actor="board1", clock=clock))
    undo(desk, redeemed.id)
    now = db.read(lambda s: holding(s, asha))
    assert (now.count, now.value_minor) == (8, 8_000)
    assert balance(db, shares_account(asha)) == 8_000
    assert balance(db, savings_account(asha)) == 92_000
    undo(desk, bought.id)
    assert db.read(lambda s: holding(s, asha)).count == 0
    assert problems(db) == []


def test_a_withdrawal_and_a_manual_entry_reverse_as_they_stand(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10), voters=0)
    asha = desk.register(savings=100_000)
    out, _ = db.write(lambda s: record_withdrawal(
        s, asha, amount_minor=30_000, value_date=clock.today(), actor="clerk1", clock=clock))
    undo(desk, out.id)
    assert balance(db, savings_account(asha)) == 100_000
    grant = db.write(lambda s: post(s, EntryDraft(
        value_date=clock.today(), kind="manual", narration="Grant", actor="admin",
        postings=(debit(CASH, 5_000), credit(OTHER_INCOME, 5_000))), clock=clock))
    reversal = undo(desk, grant.id, reason="posted to the wrong year")
    assert reversal.narration == f"Correction of entry {grant.id} (entry of 2025-01-10)"
    assert balance(db, OTHER_INCOME) == 0
    assert problems(db) == []


# -- loans --------------------------------------------------------------------------------------


def test_a_disbursement_is_undone_only_while_nothing_is_repaid(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10))
    asha = desk.register()
    loan_id = desk.lend(asha, to="savings")
    payout = db.read(lambda s: s.scalars(select(EventRow.entry_id).where(
        EventRow.loan_id == loan_id, EventRow.kind == "disbursement")).one())
    undo(desk, payout)
    loan = db.read(lambda s: get_loan(s, loan_id))
    assert (loan.status, loan.outstanding_minor, loan.disbursed_on) == ("approved", 0, None)
    assert balance(db, savings_account(asha)) == 500_000
    assert problems(db) == []
    desk.at(D(2025, 1, 12)).disburse(loan_id, "savings")  # paid out again, afresh
    assert db.read(lambda s: get_loan(s, loan_id)).outstanding_minor == PRINCIPAL
    desk.at(D(2025, 2, 12)).repay(loan_id, INSTALLMENT)
    again = db.read(lambda s: s.scalars(select(EventRow.entry_id).where(
        EventRow.loan_id == loan_id, EventRow.kind == "disbursement")).one())
    before = entry_count(db)
    with pytest.raises(CorrectionRefused, match="undo the repayments first"):
        undo(desk, again)
    assert entry_count(db) == before
    assert problems(db) == []


def test_a_repayment_undone_reallocates_the_later_one_by_hand(
        db: Database, clock: FixedClock, keys: Vault, figure: Callable[[str], None]) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10))
    asha = desk.register()
    loan_id = desk.lend(asha)
    first = desk.at(D(2025, 2, 10)).repay(loan_id, INSTALLMENT)
    desk.at(D(2025, 3, 10)).repay(loan_id, INSTALLMENT)
    income = balance(db, LOAN_INTEREST_INCOME)
    assert income == 12_000 + 11_054
    desk.at(D(2025, 3, 20))
    undo(desk, first.entry.id, reason="the member paid on another loan")
    left = repayment_events(db, loan_id)
    assert [(e.value_date, e.interest_minor, e.principal_minor) for e in left] == [
        (D(2025, 3, 10), 12_000, 94_619)]
    loan = db.read(lambda s: get_loan(s, loan_id))
    figure(f"corrections: loan {loan_id} after its first payment is undone: outstanding "
           f"{loan.outstanding_minor / 100:.2f}, interest income "
           f"{balance(db, LOAN_INTEREST_INCOME) / 100:.2f} (was {income / 100:.2f})")
    assert loan.outstanding_minor == PRINCIPAL - 94_619 == 1_105_381
    assert balance(db, LOAN_INTEREST_INCOME) == 12_000 == income + 946 - 12_000
    assert balance(db, loan.account_code or "") == 1_105_381
    moved = db.read(lambda s: queries.list_entries(s, account=LOAN_INTEREST_INCOME))[-1]
    assert (moved.kind, moved.value_date) == ("loan_reallocation", D(2025, 3, 10))
    assert [(p.account, p.side.value, p.amount_minor) for p in moved.postings] == [
        (loan.account_code, "debit", 946), (LOAN_INTEREST_INCOME, "credit", 946)]
    assert problems(db) == []


def test_the_payment_that_closed_a_loan_undone_reopens_it_with_its_guarantee(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    from coop.loans import Guarantee, apply

    desk = open_desk(db, clock, keys, start=D(2025, 1, 10))
    asha, bina = desk.register(), desk.register()
    loan, _ = db.write(lambda s: apply(
        s, member_code=asha, product_code="M12", principal_minor=PRINCIPAL,
        installments=None, purpose="business", guarantors=(Guarantee(bina, 300_000),),
        society=desk.society(s), actor="clerk1", clock=clock))
    desk.approve(loan.id)
    desk.disburse(loan.id)
    payoff = desk.at(D(2025, 2, 10)).payoff(loan.id)
    closing = desk.repay(loan.id, payoff)
    assert closing.status == "closed"
    assert db.read(lambda s: guarantors_of(s, loan.id)) == [(bina, 300_000, 0)]
    undo(desk, closing.entry.id)
    again = db.read(lambda s: get_loan(s, loan.id))
    assert (again.status, again.outstanding_minor, again.closed_on) == ("active", PRINCIPAL,
                                                                        None)
    assert db.read(lambda s: guarantors_of(s, loan.id)) == [(bina, 300_000, 300_000)]
    assert db.read(lambda s: balances(s, bina)).held_minor == 300_000
    assert problems(db) == []


def test_entries_of_whole_operations_refuse_the_general_reversal(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10))
    asha = desk.register()
    desk.at(D(2025, 3, 1))
    db.write(lambda s: post_interest(s, start=D(2025, 1, 1), through=D(2025, 1, 31),
                                     rate_percent=Decimal(4),
                                     min_balance_minor=0, actor="admin", clock=clock))
    interest = db.read(lambda s: queries.list_entries(s, account=savings_account(asha)))[-1]
    assert interest.kind == "savings_interest"
    loan_id = desk.lend(asha)
    desk.at(D(2025, 4, 1))
    db.write(lambda s: write_off(s, loan_id, on=clock.today(), reason="left town",
                                 actor="board1", clock=clock))
    written = db.read(lambda s: s.scalars(select(EventRow.entry_id).where(
        EventRow.loan_id == loan_id, EventRow.kind == "write_off")).one())
    before = entry_count(db)
    for entry_id, words in ((interest.id, "POST /savings/interest-runs/{id}/reversal"),
                            (written, "POST /loans/{id}/write-off/reversal")):
        with pytest.raises(CorrectionRefused, match=re.escape(words)):
            undo(desk, entry_id)
        with pytest.raises(CorrectionRefused):
            ask(desk, entry_id)
    assert entry_count(db) == before
    for kind in ("year_close", "dividend_payment", "dividend_declaration", "till_close"):
        assert corrections.refusal(kind) is not None
    assert problems(db) == []


def test_a_correction_in_a_closed_year_is_refused(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    from coop.ledger import close_through

    desk = open_desk(db, clock, keys, start=D(2025, 1, 10), voters=0)
    asha = desk.register(savings=0)
    deposit, _ = db.write(lambda s: record_deposit(
        s, asha, amount_minor=10_000, value_date=clock.today(), actor="clerk1", clock=clock))
    desk.at(D(2025, 4, 2))
    db.write(lambda s: close_through(s, D(2025, 3, 31), clock=clock))
    with pytest.raises(CorrectionRefused, match="closed year"):
        undo(desk, deposit.id)
    assert problems(db) == []


# -- two approvers at once ------------------------------------------------------------------------


@pytest.mark.slow
def test_two_approvals_at_once_post_one_reversal(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10))
    asha = desk.register()
    loan_id = desk.lend(asha)
    paid = desk.at(D(2025, 2, 10)).repay(loan_id, INSTALLMENT)
    desk.at(D(2025, 3, 10)).repay(loan_id, INSTALLMENT)
    asked = ask(desk, paid.entry.id)
    before = entry_count(db)
    results = run_pair(lambda i: approve(desk, asked.id, by=f"board{i + 1}"))
    applied = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(applied) == 1 and applied[0].status == "applied", results
    assert len(failed) == 1 and isinstance(failed[0], CorrectionDecided), results
    assert entry_count(db) == before + 2  # the reversal and one re-allocation, once
    assert problems(db) == []


def test_verify_sees_a_loan_event_left_behind(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    """Negative control: the undo's register change is what keeps verify clean."""
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10))
    loan_id = desk.lend(desk.register())
    paid = desk.at(D(2025, 2, 10)).repay(loan_id, INSTALLMENT)
    undo(desk, paid.entry.id)

    def put_back(s: Session) -> None:
        s.execute(update(LoanRow).where(LoanRow.id == loan_id).values(
            outstanding_minor=PRINCIPAL - 94_619))
    db.write(put_back)
    assert any(f"loan {loan_id}" in p for p in problems(db))
    assert repay is not None  # the service the register follows


def test_a_recovery_undone_and_a_member_who_left_is_left_alone(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    from coop.members import exit_member

    desk = open_desk(db, clock, keys, start=D(2025, 1, 10))
    asha = desk.register()
    loan_id = desk.lend(asha)
    desk.at(D(2025, 4, 1))
    db.write(lambda s: write_off(s, loan_id, on=clock.today(), reason="left town",
                                 actor="board1", clock=clock))
    recovered = desk.repay(loan_id, 40_000)
    assert db.read(lambda s: get_loan(s, loan_id)).recovered_minor == 40_000
    undo(desk, recovered.entry.id)
    assert db.read(lambda s: get_loan(s, loan_id)).recovered_minor == 0
    assert problems(db) == []

    bina = desk.register(savings=0)
    db.write(lambda s: record_deposit(
        s, bina, amount_minor=7_000, value_date=clock.today(), actor="clerk1", clock=clock))
    paid_out, _ = db.write(lambda s: record_withdrawal(
        s, bina, amount_minor=7_000, value_date=clock.today(), actor="clerk1", clock=clock))
    db.write(lambda s: exit_member(s, bina, clock=clock))
    with pytest.raises(CorrectionRefused, match="has left the society"):
        undo(desk, paid_out.id)
    assert balance(db, savings_account(bina)) == 0
    assert problems(db) == []
