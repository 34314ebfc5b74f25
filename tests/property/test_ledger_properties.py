"""Properties of the ledger over a real database: refusals change nothing, the books balance,
cached balances are the fold of the postings, verify passes, a reversal nets to zero.

The `db` fixture is made once per test function, not per example, so every example opens its
own fresh savings sub-accounts and reads the state it starts from; what it checks either holds
for its own accounts or holds cumulatively for the whole book. A small pure model
(`LedgerModel`) predicts every outcome exactly: which entries are refused for overdraft and
which balances result. `test_ledger_machine.py` reuses it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, PostingDraft, Side, post, post_many, reverse
from coop.ledger import queries as q
from coop.ledger.chart import CASH, FEES_AND_PENALTIES, SAVINGS
from coop.ledger.model import (
    AlreadyReversed,
    EntryUnbalanced,
    InsufficientFunds,
    PostedEntry,
    reversed_postings,
    signed_balance,
)
from coop.ledger.orm import account_table, book_table, entry_table, posting_table
from coop.ledger.verify import verify
from tests.helpers import open_savings

LEG_AMOUNT_MAX = 10**13
"""Per generated leg; a balancing leg sums at most four of them, still within 10**14."""

Counters = dict[str, tuple[int, int]]

# -- the model --------------------------------------------------------------------------------


@dataclass
class ModelAccount:
    normal_side: str
    may_go_negative: bool
    parent: str | None
    debits: int
    credits: int

    @property
    def balance(self) -> int:
        return signed_balance(self.normal_side, debits_minor=self.debits,
                              credits_minor=self.credits)


@dataclass
class LedgerModel:
    """What the book should hold: every account's counters, the entries posted since the model
    was read (with their postings), which are reversed, and the chain head."""

    accounts: dict[str, ModelAccount]
    head_seq: int
    head_hash: str
    entries: dict[int, tuple[PostingDraft, ...]] = field(default_factory=dict)
    reversed: set[int] = field(default_factory=set)
    reversals: set[int] = field(default_factory=set)

    @classmethod
    def read(cls, db: Database) -> LedgerModel:
        def work(s: Session) -> LedgerModel:
            rows = s.execute(
                select(
                    account_table.c.id, account_table.c.code, account_table.c.parent_id,
                    account_table.c.normal_side, account_table.c.may_go_negative,
                    account_table.c.debits_posted, account_table.c.credits_posted,
                )
            ).all()
            codes = {r.id: r.code for r in rows}
            accounts = {
                r.code: ModelAccount(
                    r.normal_side, bool(r.may_go_negative),
                    None if r.parent_id is None else codes[r.parent_id],
                    r.debits_posted, r.credits_posted,
                )
                for r in rows
            }
            book = q.book(s)
            assert book is not None
            return cls(accounts, book.head_seq, book.head_hash)

        return db.read(work)

    def add_account(self, code: str, *, parent: str, normal_side: str = "credit") -> None:
        self.accounts[code] = ModelAccount(normal_side, False, parent, 0, 0)

    def counters(self) -> Counters:
        return {code: (a.debits, a.credits) for code, a in self.accounts.items()}

    def after(self, postings: Iterable[PostingDraft]) -> Counters:
        """The counters once `postings` are applied (to each account and its parent)."""
        result = self.counters()
        for p in postings:
            targets = [p.account]
            parent = self.accounts[p.account].parent
            if parent is not None:
                targets.append(parent)
            for code in targets:
                debits, credits = result[code]
                if p.side is Side.DEBIT:
                    result[code] = (debits + p.amount_minor, credits)
                else:
                    result[code] = (debits, credits + p.amount_minor)
        return result

    def fits(self, postings: Iterable[PostingDraft]) -> bool:
        """False when the postings would take an account that may not go negative below zero."""
        for code, (debits, credits) in self.after(postings).items():
            account = self.accounts[code]
            if account.may_go_negative:
                continue
            if signed_balance(account.normal_side, debits_minor=debits,
                              credits_minor=credits) < 0:
                return False
        return True

    def apply(self, entry: PostedEntry) -> None:
        assert entry.id == self.head_seq + 1
        assert entry.prev_hash == self.head_hash
        postings = tuple(PostingDraft(p.account, p.side, p.amount_minor) for p in entry.postings)
        for code, (debits, credits) in self.after(postings).items():
            self.accounts[code].debits, self.accounts[code].credits = debits, credits
        self.entries[entry.id] = postings
        if entry.reversal_of is not None:
            self.reversed.add(entry.reversal_of)
            self.reversals.add(entry.id)
        self.head_seq, self.head_hash = entry.id, entry.hash

    def reversible(self) -> list[int]:
        return [i for i in self.entries if i not in self.reversed and i not in self.reversals]

    def reversal_refusal(self, entry_id: int) -> type[Exception] | None:
        """The refusal reversing `entry_id` must meet, or None if it must succeed."""
        if entry_id in self.reversed or entry_id in self.reversals:
            return AlreadyReversed
        if not self.fits(reversed_postings(self.entries[entry_id])):  # type: ignore[arg-type]
            return InsufficientFunds
        return None


# -- reading the database ---------------------------------------------------------------------


@dataclass(frozen=True)
class BookState:
    counters: Counters
    entries: int
    postings: int
    head: tuple[int, str]


def book_state(db: Database) -> BookState:
    def work(s: Session) -> BookState:
        counters = {
            r.code: (r.debits_posted, r.credits_posted)
            for r in s.execute(
                select(account_table.c.code, account_table.c.debits_posted,
                       account_table.c.credits_posted)
            )
        }
        entries = s.execute(select(func.count()).select_from(entry_table)).scalar_one()
        postings = s.execute(select(func.count()).select_from(posting_table)).scalar_one()
        head = s.execute(select(book_table.c.head_seq, book_table.c.head_hash)).one()
        return BookState(counters, entries, postings, (head.head_seq, head.head_hash))

    return db.read(work)


def assert_matches_model(db: Database, model: LedgerModel) -> BookState:
    state = book_state(db)
    assert state.counters == model.counters()
    assert state.head == (model.head_seq, model.head_hash)
    assert state.entries == model.head_seq
    return state


def fold_postings(s: Session, *, to_on: date | None = None) -> Counters:
    """Every account's debits and credits summed from the journal itself (a control account:
    its sub-accounts' postings), read a page at a time through list_entries; with `to_on`
    only the entries dated up to it."""
    parents = _parent_codes(s)
    totals: dict[str, list[int]] = {code: [0, 0] for code in parents}
    after: int | None = None
    while True:
        page = q.list_entries(s, to_on=to_on, after_id=after, limit=q.ENTRIES_PAGE_MAX)
        if not page:
            break
        for entry in page:
            assert to_on is None or entry.value_date <= to_on
            for p in entry.postings:
                column = 0 if p.side is Side.DEBIT else 1
                totals[p.account][column] += p.amount_minor
                parent = parents[p.account]
                if parent is not None:
                    totals[parent][column] += p.amount_minor
        after = page[-1].id
    return {code: (d, c) for code, (d, c) in totals.items()}


def _parent_codes(s: Session) -> dict[str, str | None]:
    rows = s.execute(select(account_table.c.id, account_table.c.code,
                            account_table.c.parent_id)).all()
    codes = {r.id: r.code for r in rows}
    return {r.code: None if r.parent_id is None else codes[r.parent_id] for r in rows}


def assert_books_are_sound(db: Database) -> None:
    """The cumulative invariants: trial balance totals agree and match the folded journal,
    every cached counter is the fold of the postings, and verify finds nothing."""

    def work(s: Session) -> None:
        folded = fold_postings(s)
        for code, (debits, credits) in folded.items():
            account = q.get_account(s, code)
            assert account is not None
            assert (account.debits_minor, account.credits_minor) == (debits, credits), code
            if not account.may_go_negative:
                assert account.balance_minor >= 0, code
        roots = q.list_accounts(s)
        assert sum(a.debits_minor for a in roots) == sum(a.credits_minor for a in roots)
        tb = q.trial_balance(s)
        assert tb.total_debit_minor == tb.total_credit_minor
        assert [r.account for r in tb.rows] == [a.code for a in roots]
        for row in tb.rows:
            debits, credits = folded[row.account]
            assert row.debit_minor - row.credit_minor == debits - credits, row.account
            assert min(row.debit_minor, row.credit_minor) == 0
        report = verify(s)
        assert report.ok, report.problems
        assert report.entries_checked == report.head_seq

    db.read(work)


# -- strategies -------------------------------------------------------------------------------

leg_amounts = st.one_of(
    st.integers(min_value=1, max_value=1000),
    st.integers(min_value=1, max_value=LEG_AMOUNT_MAX),
)
SLOTS = 5
"""Accounts an entry may touch: cash, fees, and three savings sub-accounts of the example."""


@st.composite
def balanced_legs(draw: st.DrawFn, slots: int = SLOTS) -> list[tuple[int, Side, int]]:
    """2 to 5 legs as (account slot, side, amount) whose debits equal their credits: up to four
    random legs and, when they do not already balance, one more that balances them."""
    legs = draw(
        st.lists(
            st.tuples(st.integers(0, slots - 1), st.sampled_from(Side), leg_amounts),
            min_size=1, max_size=4,
        )
    )
    difference = sum(a if s is Side.DEBIT else -a for _, s, a in legs)
    if difference:
        side = Side.CREDIT if difference > 0 else Side.DEBIT
        legs.append((draw(st.integers(0, slots - 1)), side, abs(difference)))
    assert 2 <= len(legs) <= 5
    return legs


@st.composite
def unbalanced_legs(draw: st.DrawFn, slots: int = SLOTS) -> list[tuple[int, Side, int]]:
    legs = draw(
        st.lists(
            st.tuples(st.integers(0, slots - 1), st.sampled_from(Side), leg_amounts),
            min_size=2, max_size=5,
        )
    )
    if sum(a if s is Side.DEBIT else -a for _, s, a in legs) == 0:
        slot, side, amount = legs[-1]
        legs[-1] = (slot, side, amount + draw(st.integers(1, 1000)))
    return legs


_suffixes = itertools.count(1)


def open_example_accounts(db: Database, clock: FixedClock, model: LedgerModel | None = None
                          ) -> list[str]:
    """Cash, fees, and three savings sub-accounts new to this example (by slot)."""
    savings = [open_savings(db, clock, f"P{next(_suffixes)}") for _ in range(SLOTS - 2)]
    if model is not None:
        for code in savings:
            model.add_account(code, parent=SAVINGS)
    return [CASH, FEES_AND_PENALTIES, *savings]


def draft_of(legs: Sequence[tuple[int, Side, int]], accounts: Sequence[str],
             clock: FixedClock, narration: str = "Property entry") -> EntryDraft:
    return EntryDraft(
        value_date=clock.today(), narration=narration, kind="manual",
        postings=tuple(PostingDraft(accounts[slot], side, amount) for slot, side, amount in legs),
        actor="prop",
    )


def post_expecting(db: Database, clock: FixedClock, model: LedgerModel, draft: EntryDraft
                   ) -> PostedEntry | None:
    """Post the draft; it must succeed exactly when the model says it fits, and a refusal
    (InsufficientFunds) must change nothing."""
    if model.fits(draft.postings):
        event("post: accepted")
        entry = db.write(lambda s: post(s, draft, clock=clock))
        assert [(p.account, p.side, p.amount_minor) for p in entry.postings] == [
            (p.account, p.side, p.amount_minor) for p in draft.postings
        ]
        model.apply(entry)
        assert_matches_model(db, model)
        return entry
    event("post: refused for overdraft")
    before = book_state(db)
    with pytest.raises(InsufficientFunds):
        db.write(lambda s: post(s, draft, clock=clock))
    assert book_state(db) == before
    assert_matches_model(db, model)
    return None


def reverse_expecting(db: Database, clock: FixedClock, model: LedgerModel, entry_id: int
                      ) -> PostedEntry | None:
    refusal = model.reversal_refusal(entry_id)
    event(f"reverse: {'accepted' if refusal is None else refusal.__name__}")
    if refusal is None:
        undo = db.write(lambda s: reverse(s, entry_id, reason="property", actor="prop",
                                          clock=clock))
        assert undo.reversal_of == entry_id
        assert [(p.account, p.side.opposite(), p.amount_minor) for p in undo.postings] == [
            (p.account, p.side, p.amount_minor) for p in model.entries[entry_id]
        ]
        model.apply(undo)
        assert_matches_model(db, model)
        return undo
    before = book_state(db)
    with pytest.raises(refusal):
        db.write(lambda s: reverse(s, entry_id, reason="property", actor="prop", clock=clock))
    assert book_state(db) == before
    assert_matches_model(db, model)
    return None


# -- (a) an unbalanced entry is refused and changes nothing ------------------------------------


@settings(max_examples=40)
@given(
    funding=st.integers(min_value=0, max_value=10**9),
    legs=unbalanced_legs(),
)
@example(funding=0, legs=[(0, Side.DEBIT, 100), (2, Side.CREDIT, 99)])
@example(funding=5, legs=[(0, Side.DEBIT, 1), (1, Side.DEBIT, 1)])
def test_an_unbalanced_entry_is_refused_and_changes_nothing(
    db: Database, clock: FixedClock, funding: int, legs: list[tuple[int, Side, int]]
) -> None:
    model = LedgerModel.read(db)
    accounts = open_example_accounts(db, clock, model)
    if funding:
        deposit = draft_of([(0, Side.DEBIT, funding), (2, Side.CREDIT, funding)], accounts,
                           clock, "Funding")
        assert post_expecting(db, clock, model, deposit) is not None
    before = assert_matches_model(db, model)
    draft = draft_of(legs, accounts, clock)
    with pytest.raises(EntryUnbalanced) as refused:
        db.write(lambda s: post(s, draft, clock=clock))
    assert refused.value.field == "postings"
    assert book_state(db) == before
    # The same entry inside a batch refuses the whole batch, the good entries with it.
    good = draft_of([(0, Side.DEBIT, 7), (1, Side.CREDIT, 7)], accounts, clock)
    with pytest.raises(EntryUnbalanced):
        db.write(lambda s: post_many(s, [good, draft, good], clock=clock))
    assert book_state(db) == before


# -- (b) any sequence of posts and reversals keeps the books sound ------------------------------

Operation = tuple[str, list[tuple[int, Side, int]], int]
"""("post", legs, 0) posts a balanced entry; ("reverse", [], pick) reverses an entry of the
example's, chosen by `pick`: maybe one already reversed, or a reversal, which must be refused."""

operations: st.SearchStrategy[list[Operation]] = st.lists(
    st.one_of(
        st.tuples(st.just("post"), balanced_legs(), st.just(0)),
        st.tuples(st.just("reverse"), st.just([]), st.integers(min_value=0, max_value=63)),
    ),
    min_size=1, max_size=12,
)


@pytest.mark.slow
@settings(max_examples=20)
@given(
    funding=st.lists(st.integers(min_value=0, max_value=10**6), min_size=3, max_size=3),
    ops=operations,
)
@example(funding=[0, 0, 0], ops=[("post", [(2, Side.DEBIT, 1), (0, Side.CREDIT, 1)], 0)])
@example(
    funding=[100, 0, 0],
    ops=[("post", [(2, Side.DEBIT, 100), (1, Side.CREDIT, 100)], 0), ("reverse", [], 0),
         ("reverse", [], 0), ("reverse", [], 1), ("post", [(3, Side.CREDIT, 5),
         (2, Side.DEBIT, 5)], 0), ("reverse", [], 0)],
)
def test_any_sequence_of_posts_and_reversals_keeps_the_books_sound(
    db: Database, clock: FixedClock, funding: list[int], ops: list[Operation]
) -> None:
    model = LedgerModel.read(db)
    accounts = open_example_accounts(db, clock, model)
    for slot, amount in enumerate(funding, start=2):
        if amount:
            deposit = draft_of([(0, Side.DEBIT, amount), (slot, Side.CREDIT, amount)],
                               accounts, clock, "Deposit")
            assert post_expecting(db, clock, model, deposit) is not None
    posted: list[int] = []
    for op, legs, pick in ops:
        if op == "post":
            entry = post_expecting(db, clock, model, draft_of(legs, accounts, clock))
            if entry is not None:
                posted.append(entry.id)
        elif posted:
            undo = reverse_expecting(db, clock, model, posted[pick % len(posted)])
            if undo is not None:
                posted.append(undo.id)
    assert_books_are_sound(db)


# -- (c) an entry and its reversal net to zero on every account --------------------------------


@pytest.mark.slow
@settings(max_examples=30)
@given(
    funding=st.integers(min_value=0, max_value=10**12),
    legs=balanced_legs(),
)
@example(funding=0, legs=[(0, Side.DEBIT, 5), (1, Side.CREDIT, 5)])
@example(funding=10, legs=[(2, Side.DEBIT, 10), (2, Side.CREDIT, 3), (0, Side.CREDIT, 7)])
def test_an_entry_and_its_reversal_net_to_zero(
    db: Database, clock: FixedClock, funding: int, legs: list[tuple[int, Side, int]]
) -> None:
    model = LedgerModel.read(db)
    accounts = open_example_accounts(db, clock, model)
    if funding:
        deposit = draft_of([(0, Side.DEBIT, funding), (2, Side.CREDIT, funding)], accounts,
                           clock, "Deposit")
        assert post_expecting(db, clock, model, deposit) is not None
    before = book_state(db)
    balances_before = db.read(lambda s: {code: q.balance(s, code) for code in before.counters})
    entry = post_expecting(db, clock, model, draft_of(legs, accounts, clock))
    if entry is None:
        return  # refused for overdraft, and shown to have changed nothing
    moved = {p.account for p in entry.postings}
    assert any(book_state(db).counters[code] != before.counters[code] for code in moved)
    undo = reverse_expecting(db, clock, model, entry.id)
    assert undo is not None, "reversing straight away restores a state that was allowed"
    after = book_state(db)
    assert after.entries == before.entries + 2
    assert after.postings == before.postings + 2 * len(legs)
    balances_after = db.read(lambda s: {code: q.balance(s, code) for code in after.counters})
    assert balances_after == balances_before
    for code, (debits, credits) in after.counters.items():
        was_debits, was_credits = before.counters[code]
        # The counters only grow; what the entry added on one side the reversal added on the other.
        assert debits - was_debits == credits - was_credits, code
    assert_books_are_sound(db)


# -- (d) a balance as of a date is the fold of the postings dated up to it ----------------------


@pytest.mark.slow
@settings(max_examples=20)
@given(
    entries=st.lists(
        st.tuples(st.integers(min_value=0, max_value=60), balanced_legs()),
        min_size=1, max_size=6,
    ),
    days_back=st.lists(st.integers(min_value=-1, max_value=61), min_size=1, max_size=4),
)
def test_balances_as_of_a_date_are_the_fold_of_the_postings_dated_up_to_it(
    db: Database, clock: FixedClock, entries: list[tuple[int, list[tuple[int, Side, int]]]],
    days_back: list[int],
) -> None:
    model = LedgerModel.read(db)
    accounts = open_example_accounts(db, clock, model)
    for slot in range(2, SLOTS):
        funding = draft_of([(0, Side.DEBIT, 10**9), (slot, Side.CREDIT, 10**9)], accounts,
                           clock, "Deposit")
        assert post_expecting(db, clock, model, funding) is not None
    for back, legs in entries:
        draft = draft_of(legs, accounts, clock)
        dated = EntryDraft(
            value_date=clock.today() - timedelta(days=back), narration=draft.narration,
            kind=draft.kind, postings=draft.postings, actor=draft.actor,
        )
        post_expecting(db, clock, model, dated)

    def work(s: Session) -> None:
        for back in days_back:
            on = clock.today() - timedelta(days=back)
            folded = fold_postings(s, to_on=on)
            for code in [*accounts, SAVINGS]:
                account = q.get_account(s, code)
                assert account is not None
                debits, credits = folded[code]
                expected = signed_balance(account.normal_side, debits_minor=debits,
                                          credits_minor=credits)
                assert q.balance_as_of(s, code, on) == expected, (code, on)
            tb = q.trial_balance(s, as_of=on)
            assert tb.total_debit_minor == tb.total_credit_minor
            for row in tb.rows:
                debits, credits = folded[row.account]
                assert row.debit_minor - row.credit_minor == debits - credits, row.account

    db.read(work)
