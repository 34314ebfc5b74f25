"""Properties of the annual statements over a real database (issue 19), for any sequence of
operations over two fiscal years (1 April 2024 - 31 March 2026): deposits, withdrawals,
shares, loans paid out and repaid (principal and interest, to a till), grants, costs, moves
between cash, tills and bank, provisions against loans (the contra account 1190), dividends
declared out of 3900, and the first year closed into 3900 as the year close does.

- the balance sheet balances at every date asked, and at the previous year's close;
- the income and expenditure surplus of any period is the change in members' funds over it,
  less share capital paid in, plus dividends declared (the change in equity from operations);
- receipts and payments reconcile: opening cash + receipts - payments = closing cash, and
  the closing cash is 1000 (with its tills) + 1010 as the ledger reads it at the period's end.

The `db` fixture lives for the whole test, so examples add to one book: every property is
about the whole book, and holds whatever earlier examples left in it.
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop import statements
from coop.clock import FixedClock
from coop.db import Database
from coop.errors import CoopError
from coop.ledger import EntryDraft, PostingDraft, Side, open_account, post, queries, reverse
from coop.ledger.aggregates import CLOSING_KINDS, movements_in
from coop.ledger.model import InsufficientFunds
from coop.ledger.orm import entry_table
from coop.society import Society, require_society

FIRST = date(2024, 4, 1)
DAYS = 730  # to 31 March 2026
YEAR_END = date(2025, 3, 31)
M, T, L = "2000:M-PROP", "1000:T-PROP", "1100:L-PROP"
OPERATIONS = {
    # kind: (debits, credits); a third leg splits the amount 3:1 (repayments)
    "deposit": (("1000",), (M,)), "withdrawal": ((M,), ("1000",)),
    "shares": (("1000",), ("3000:M-PROP",)), "lend": ((L,), ("1010",)),
    "repay": ((T,), (L, "4000")), "grant": (("1010",), ("4200",)),
    "cost": (("5100",), ("1000",)), "bank": (("1010",), ("1000",)),
    "till": ((T,), ("1000",)), "provide": (("5200",), ("1190",)),
    "dividend": (("3900",), ("2100",)),
    "reverse": ((), ()),  # the latest entry not yet reversed, reversed as a correction is
}
Operation = tuple[int, str, int]


def setup(db: Database, clock: FixedClock) -> Society:
    def work(s: Session) -> None:
        if queries.get_account(s, M) is not None:
            return
        for code, name, type_, parent in (
                (M, "Savings PROP", "liability", "2000"), ("3000:M-PROP", "Shares", "equity",
                                                           "3000"),
                (L, "Loan PROP", "asset", "1100"), (T, "Till PROP", "asset", "1000"),
                ("1190", "Provision for bad and doubtful debts", "asset", None)):
            if queries.get_account(s, code) is not None:  # 1190 is in the chart since 0017
                continue
            open_account(s, code=code, name=name, type=type_, parent=parent,
                         owner="M-PROP" if parent in ("2000", "3000") else None,
                         may_go_negative=code == "1190", clock=clock)

    db.write(work)
    return db.read(require_society)


def reverse_latest(s: Session, clock: FixedClock) -> None:
    reversed_ids = select(entry_table.c.reversal_of).where(entry_table.c.reversal_of.is_not(None))
    latest = s.execute(select(func.max(entry_table.c.id)).where(
        entry_table.c.kind == "manual", entry_table.c.reversal_of.is_(None),
        entry_table.c.id.not_in(reversed_ids))).scalar()
    if latest is not None:
        reverse(s, latest, reason="taken in error", actor="test", clock=clock)


def apply(db: Database, clock: FixedClock, operation: Operation) -> None:
    offset, kind, amount = operation
    if kind == "reverse":
        with contextlib.suppress(CoopError):  # refused (it would overdraw): as the counter
            db.write(lambda s: reverse_latest(s, clock))
        return
    debits, credits = OPERATIONS[kind]
    legs = [PostingDraft(code, Side.DEBIT, amount) for code in debits]
    if len(credits) == 2:
        principal = amount * 3 // 4
        legs += [PostingDraft(credits[0], Side.CREDIT, principal),
                 PostingDraft(credits[1], Side.CREDIT, amount - principal)]
    else:
        legs.append(PostingDraft(credits[0], Side.CREDIT, amount))
    draft = EntryDraft(value_date=FIRST + timedelta(days=offset), narration=kind,
                       kind="manual", actor="test", postings=tuple(legs))
    with contextlib.suppress(InsufficientFunds):  # refused, as the counter would
        db.write(lambda s: post(s, draft, clock=clock))


def close_first_year(db: Database, clock: FixedClock) -> None:
    """What the year close posts: every income and expense balance at 31 March 2025 to 3900
    (the period is not locked, so later examples may still post into the year)."""
    def work(s: Session) -> None:
        legs, net = [], 0
        for row in queries.trial_balance(s, as_of=YEAR_END).rows:
            if row.type in ("income", "expense") and row.debit_minor != row.credit_minor:
                balance = row.credit_minor - row.debit_minor
                net += balance
                legs.append(PostingDraft(row.account, Side.DEBIT if balance > 0 else Side.CREDIT,
                                         abs(balance)))
        if not legs:
            return
        if net:
            legs.append(PostingDraft("3900", Side.CREDIT if net > 0 else Side.DEBIT, abs(net)))
        post(s, EntryDraft(value_date=YEAR_END, narration="close", kind="year_close",
                           actor="test", postings=tuple(legs)), clock=clock)

    db.write(work)


operations = st.lists(st.tuples(st.integers(0, DAYS - 1), st.sampled_from(sorted(OPERATIONS)),
                                st.integers(4, 10**9)), min_size=1, max_size=25)  # 3:1 splits
days = st.integers(0, DAYS - 1).map(lambda offset: FIRST + timedelta(days=offset))


def book_of(db: Database, clock: FixedClock, ops: list[Operation], close: bool) -> Society:
    clock.business_date = date(2026, 4, 30)
    society = setup(db, clock)
    for operation in ops:
        apply(db, clock, operation)
    if close:
        close_first_year(db, clock)
    return society


@given(ops=operations, close=st.booleans(), on=st.lists(days, min_size=1, max_size=4))
def test_the_balance_sheet_balances_at_every_date(db: Database, clock: FixedClock,
                                                  ops: list[Operation], close: bool,
                                                  on: list[date]) -> None:
    society = book_of(db, clock, ops, close)
    for day in on:
        sheet = db.read(lambda s, day=day: statements.balance_sheet(s, society, as_of=day))
        assert sheet.total_assets_minor == sheet.total_liabilities_and_equity_minor
        assert (sheet.previous_total_assets_minor
                == sheet.previous_total_liabilities_and_equity_minor)
        # loans net of the provision: 1100 less 1190, both as the trial balance reads them
        tb = {r.account: r.debit_minor - r.credit_minor
              for r in db.read(lambda s, day=day: queries.trial_balance(s, as_of=day)).rows}
        loans = [line for line in sheet.assets.lines if line.account == "1100"]
        assert (loans[0].amount_minor if loans else 0) == tb["1100"] + tb["1190"]
        assert "1190" not in {line.account for line in sheet.assets.lines}


def equity(db: Database, society: Society, day: date) -> tuple[int, int]:
    """(members' funds, share capital) at the end of `day`."""
    sheet = db.read(lambda s: statements.balance_sheet(s, society, as_of=day))
    share = sum(line.amount_minor for line in sheet.equity.lines if line.account == "3000")
    return sheet.equity.total_minor, share


@given(ops=operations, close=st.booleans(), ends=st.tuples(days, days))
def test_the_surplus_is_the_change_in_equity_from_operations(
        db: Database, clock: FixedClock, ops: list[Operation], close: bool,
        ends: tuple[date, date]) -> None:
    society = book_of(db, clock, ops, close)
    first, last = min(ends), max(ends)
    account = db.read(lambda s: statements.income_expenditure(s, first=first, last=last))
    funds_before, shares_before = equity(db, society, first - timedelta(days=1))
    funds_after, shares_after = equity(db, society, last)
    declared = db.read(lambda s: _dividends_declared(s, first, last))
    assert account.net_surplus_minor == (funds_after - funds_before) - (
        shares_after - shares_before) + declared


def _dividends_declared(session: Session, first: date, last: date) -> int:
    """Credits to 2100 Dividends payable dated within the period (each is a declaration)."""
    return -movements_in(session, [(first, last)], types=("liability",))[0].get("2100", 0)


@given(ops=operations, ends=st.tuples(days, days))
def test_receipts_and_payments_reconcile_to_the_cash(db: Database, clock: FixedClock,
                                                     ops: list[Operation],
                                                     ends: tuple[date, date]) -> None:
    book_of(db, clock, ops, close=False)
    first, last = min(ends), max(ends)
    cash = db.read(lambda s: statements.receipts_payments(s, first=first, last=last))
    assert (cash.opening_cash_minor + cash.receipts.total_minor - cash.payments.total_minor
            == cash.closing_cash_minor)

    def ledger_cash(s: Session, day: date) -> int:
        return sum(queries.balance_as_of(s, code, day) or 0 for code in ("1000", "1010"))

    assert cash.closing_cash_minor == db.read(lambda s: ledger_cash(s, last))
    assert cash.opening_cash_minor == db.read(lambda s: ledger_cash(s, first - timedelta(1)))
    # moves between cash, tills and bank are neither receipts nor payments
    accounts = {line.account for line in cash.receipts.lines + cash.payments.lines}
    assert not accounts & {"1000", "1010"}


def test_a_move_from_cash_to_the_bank_is_no_receipt_nor_payment(db: Database,
                                                                 clock: FixedClock) -> None:
    """Negative control: a deposit is a receipt; moving it to the bank changes no line."""
    book_of(db, clock, [(10, "deposit", 50_000)], close=False)
    period = {"first": FIRST, "last": date(2025, 3, 31)}
    before = db.read(lambda s: statements.receipts_payments(s, **period))
    apply(db, clock, (11, "bank", 50_000))
    apply(db, clock, (12, "till", 1))
    after = db.read(lambda s: statements.receipts_payments(s, **period))
    assert after.receipts == before.receipts and after.payments == before.payments
    assert after.closing_cash_minor == before.closing_cash_minor == 50_000


def test_without_leaving_out_the_close_a_closed_year_would_show_no_surplus(
        db: Database, clock: FixedClock) -> None:
    """Negative control: the year's closing entry is what `movements_in` leaves out; counted,
    it would cancel the year's income and expenditure."""
    book_of(db, clock, [(4, "deposit", 10), (5, "grant", 70_000), (6, "cost", 1)], close=True)
    year = (FIRST, YEAR_END)
    kept = db.read(lambda s: movements_in(s, [year])[0])
    assert -sum(kept.values()) == 69_999
    assert CLOSING_KINDS == ("year_close",)
    everything = db.read(lambda s: movements_in(s, [year], leave_out=())[0])
    assert -sum(everything.values()) == 0  # the close brought every account to zero
    account = db.read(lambda s: statements.income_expenditure(s, first=year[0], last=year[1]))
    assert account.net_surplus_minor == 69_999


def test_a_deposit_taken_in_error_and_reversed_is_neither_receipt_nor_payment(
        db: Database, clock: FixedClock) -> None:
    """Worked: 500.00 deposited on 10 May 2024 and reversed (a correction): the period's
    receipts and payments hold nothing for savings, where they once held 500.00 each way."""
    book_of(db, clock, [], close=False)
    apply(db, clock, (39, "deposit", 50_000))
    apply(db, clock, (39, "reverse", 0))
    cash = db.read(lambda s: statements.receipts_payments(
        s, first=date(2024, 5, 10), last=date(2024, 5, 10)))
    assert [line.account for line in cash.receipts.lines + cash.payments.lines
            if line.amount_minor] == []
    assert cash.opening_cash_minor == cash.closing_cash_minor
