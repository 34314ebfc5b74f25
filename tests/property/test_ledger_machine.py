"""A state machine over a real database: random posts, deposits, withdrawals and reversals,
each predicted exactly by a pure model, with the books' invariants checked after every step.

Every run of the machine starts from a fresh, migrated database with the default chart: on
SQLite a copy of the session's template file, on PostgreSQL the same database emptied.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, PostingDraft, Side, credit, debit
from coop.ledger import queries as q
from coop.ledger.chart import (
    CASH,
    CURRENT_YEAR_SURPLUS,
    FEES_AND_PENALTIES,
    OPERATING_EXPENSES,
    SAVINGS,
)
from coop.ledger.model import AlreadyReversed, InsufficientFunds
from coop.ledger.verify import verify
from coop.society import init_society
from tests.conftest import BUSINESS_DATE, PG_URL, _empty_postgres
from tests.helpers import open_savings as open_savings_account
from tests.property.test_ledger_properties import (
    LedgerModel,
    balanced_legs,
    book_state,
    post_expecting,
    reverse_expecting,
)

pytestmark = pytest.mark.slow  # a Hypothesis state machine over the ledger

SAVINGS_ACCOUNTS_MAX = 4
GENERAL_ACCOUNTS = (CASH, FEES_AND_PENALTIES, OPERATING_EXPENSES)
SLOTS = len(GENERAL_ACCOUNTS) + SAVINGS_ACCOUNTS_MAX

_runs = itertools.count(1)


def fresh_database(template: str, workdir: Path) -> Database:
    """A migrated, empty database of its own for one run of the machine."""
    if PG_URL:
        _empty_postgres(PG_URL)
        return Database(PG_URL, pool_size=2)
    target = workdir / f"machine-{next(_runs)}.db"
    shutil.copyfile(template, target)
    return Database(f"sqlite:///{target}", pool_size=2)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, template: str, workdir: Path) -> None:
        super().__init__()
        self.clock = FixedClock(BUSINESS_DATE)
        self.db = fresh_database(template, workdir)
        clock = self.clock
        self.db.write(
            lambda s: init_society(s, name="Machine Society", currency="INR", locale="en_IN",
                                   clock=clock)
        )
        self.model = LedgerModel.read(self.db)
        assert self.model.head_seq == 0
        self.savings: list[str] = []

    # -- rules --------------------------------------------------------------------------------

    def _account(self, slot: int) -> str:
        """Slots beyond the general accounts name savings sub-accounts, wrapping around."""
        if slot < len(GENERAL_ACCOUNTS):
            return GENERAL_ACCOUNTS[slot]
        return self.savings[(slot - len(GENERAL_ACCOUNTS)) % len(self.savings)]

    @initialize(capital=st.integers(min_value=10**13, max_value=10**14))
    def start(self, capital: int) -> None:
        """A first member, and a till full enough that withdrawals meet the member's limit,
        not the till's."""
        self.open_savings()
        draft = EntryDraft(
            value_date=self.clock.today(), narration="Opening capital", kind="opening",
            postings=(debit(CASH, capital), credit(CURRENT_YEAR_SURPLUS, capital)),
        )
        assert post_expecting(self.db, self.clock, self.model, draft) is not None

    @precondition(lambda self: len(self.savings) < SAVINGS_ACCOUNTS_MAX)
    @rule()
    def open_savings(self) -> None:
        code = open_savings_account(self.db, self.clock, f"M-{len(self.savings) + 1}")
        self.model.add_account(code, parent=SAVINGS)
        self.savings.append(code)

    @rule(legs=balanced_legs(slots=SLOTS))
    def post_entry(self, legs: list[tuple[int, Side, int]]) -> None:
        draft = EntryDraft(
            value_date=self.clock.today(), narration="Machine entry", kind="manual",
            postings=tuple(PostingDraft(self._account(slot), side, amount)
                           for slot, side, amount in legs),
            actor="machine",
        )
        post_expecting(self.db, self.clock, self.model, draft)

    @rule(slot=st.integers(0, SAVINGS_ACCOUNTS_MAX - 1),
          amount=st.integers(min_value=1, max_value=10**10))
    def deposit(self, slot: int, amount: int) -> None:
        account = self.savings[slot % len(self.savings)]
        draft = EntryDraft(
            value_date=self.clock.today(), narration="Deposit", kind="deposit",
            postings=(debit(CASH, amount), credit(account, amount)), actor="clerk",
        )
        assert post_expecting(self.db, self.clock, self.model, draft) is not None

    @rule(
        slot=st.integers(0, SAVINGS_ACCOUNTS_MAX - 1),
        how=st.sampled_from(["all", "all_but_one", "one_too_many", "any"]),
        amount=st.integers(min_value=1, max_value=10**10),
    )
    def withdraw(self, slot: int, how: str, amount: int) -> None:
        funded = [c for c in self.savings if self.model.accounts[c].balance > 0]
        choices = funded if funded and how != "any" else self.savings
        account = choices[slot % len(choices)]
        held = self.model.accounts[account].balance
        amount = {
            "all": held, "all_but_one": held - 1, "one_too_many": held + 1, "any": amount,
        }[how]
        if amount < 1:
            amount = 1
        cash = self.model.accounts[CASH].balance
        draft = EntryDraft(
            value_date=self.clock.today(), narration="Withdrawal", kind="withdrawal",
            postings=(debit(account, amount), credit(CASH, amount)), actor="clerk",
        )
        # A withdrawal succeeds exactly when the member has the amount (and the till has it).
        allowed = amount <= held and amount <= cash
        assert self.model.fits(draft.postings) == allowed
        event(f"withdraw: {'paid' if allowed else 'refused'} ({how})")
        entry = post_expecting(self.db, self.clock, self.model, draft)
        assert (entry is not None) == allowed
        if entry is not None:
            assert self.model.accounts[account].balance == held - amount

    @precondition(lambda self: bool(self.model.reversible()))
    @rule(pick=st.integers(min_value=0, max_value=255))
    def reverse_entry(self, pick: int) -> None:
        reversible = self.model.reversible()
        entry_id = reversible[pick % len(reversible)]
        assert self.model.reversal_refusal(entry_id) in (None, InsufficientFunds)
        reverse_expecting(self.db, self.clock, self.model, entry_id)

    @precondition(lambda self: bool(self.model.reversed or self.model.reversals))
    @rule(pick=st.integers(min_value=0, max_value=255))
    def reverse_again(self, pick: int) -> None:
        done = sorted(self.model.reversed | self.model.reversals)
        entry_id = done[pick % len(done)]
        assert self.model.reversal_refusal(entry_id) is AlreadyReversed
        reverse_expecting(self.db, self.clock, self.model, entry_id)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def roots_balance(self) -> None:
        roots = self.db.read(q.list_accounts)
        assert all(a.parent_id is None for a in roots)
        assert sum(a.debits_minor for a in roots) == sum(a.credits_minor for a in roots)
        tb = self.db.read(q.trial_balance)
        assert tb.total_debit_minor == tb.total_credit_minor

    @invariant()
    def cached_balances_equal_the_model(self) -> None:
        state = book_state(self.db)
        assert state.counters == self.model.counters()
        assert state.head == (self.model.head_seq, self.model.head_hash)
        assert state.entries == self.model.head_seq
        codes = list(self.model.accounts)
        views = self.db.read(lambda s: {code: q.get_account(s, code) for code in codes})
        for code, view in views.items():
            assert view is not None
            expected = self.model.accounts[code]
            assert (view.debits_minor, view.credits_minor) == (expected.debits, expected.credits)
            assert view.balance_minor == expected.balance

    @invariant()
    def no_protected_account_is_negative(self) -> None:
        for code, account in self.model.accounts.items():
            if not account.may_go_negative:
                assert account.balance >= 0, code
        views = self.db.read(lambda s: [q.get_account(s, c) for c in self.model.accounts])
        for view in views:
            assert view is not None
            if not view.may_go_negative:
                assert view.balance_minor >= 0, view.code

    @invariant()
    def verify_passes(self) -> None:
        report = self.db.read(verify)
        assert report.ok, report.problems
        assert (report.head_seq, report.head_hash) == (self.model.head_seq, self.model.head_hash)

    def teardown(self) -> None:
        try:
            if self.model.head_seq:
                checkpoint = (self.model.head_seq, self.model.head_hash)
                report = self.db.read(lambda s: verify(s, checkpoint=checkpoint))
                assert report.ok, report.problems
                assert report.entries_checked == self.model.head_seq
        finally:
            self.db.dispose()


def test_ledger_state_machine(template: str, tmp_path: Path) -> None:
    run_state_machine_as_test(
        lambda: LedgerMachine(template, tmp_path),
        settings=settings(max_examples=20, stateful_step_count=40),
    )
