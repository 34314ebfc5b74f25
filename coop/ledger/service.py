"""The only code that writes to the ledger: open accounts, post, reverse, close a period.

`post(session, draft, clock=...)` does, inside the caller's one transaction:

1. checks the draft (pure: 2..n postings, balanced, amounts in range, text clean);
2. locks the book row, which orders the hash chain and holds `closed_through` (first: a
   transaction waiting for it holds no account; coop.ledger.rows);
3. locks the touched accounts and their control accounts in ascending id order
   (`SELECT ... FOR UPDATE`; on SQLite the writer's BEGIN IMMEDIATE already serialises);
4. claims the idempotency key: an existing entry with the same key and the same content is
   returned unchanged (`replayed=True`); with different content it is refused;
5. checks the value date (not in a closed period, not in the future) and the overdraft limits
   against the locked balances;
6. inserts the entry and its postings, adds to the accounts' cumulative counters (and their
   control accounts'), and moves the chain head.

Nothing commits here: the service that called owns the transaction (coop.db.Database.write), so
a deposit, its idempotency record and its receipt commit together or not at all.

`post_many` is the bulk path for imports and the demo: the same checks, many entries, one
transaction, all or nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.errors import InvalidInput, require
from coop.ledger.chart import DEFAULT_CHART
from coop.ledger.model import (
    ACCOUNT_NAME_LENGTH_MAX,
    BALANCE_MINOR_MAX,
    COUNTER_MINOR_NET_ABOVE,
    GENESIS_HASH,
    ROOT_CODE_PATTERN,
    SUB_SUFFIX_PATTERN,
    AccountExists,
    AccountType,
    AlreadyReversed,
    BalanceLimit,
    EntryDraft,
    EntryNotFound,
    FutureValueDate,
    IdempotencyKeyReused,
    InsufficientFunds,
    PeriodClosed,
    PostedEntry,
    Side,
    UnknownAccount,
    chain_hash,
    check_draft,
    check_text,
    entry_canonical,
    reversed_postings,
    signed_balance,
)
from coop.ledger.orm import account_table, book_table, entry_table
from coop.ledger.queries import balance, load_entry
from coop.ledger.rows import (
    _Account,
    _Book,
    _existing_keys,
    _insert,
    _lock_accounts,
    _lock_book,
    _lock_for_post,
    _Raw,
    forget_book,
)
from coop.money import Amount, minor_digits

_FIND_REVERSAL = select(entry_table.c.id).where(entry_table.c.reversal_of == bindparam("of"))
# -- setting up -------------------------------------------------------------------------------


def init_book(session: Session, *, currency: str, clock: Clock) -> bool:
    """Create the book and the default chart if they are not there. Returns True if created."""
    minor_digits(currency)  # refuses an unknown currency
    conn = session.connection()
    if conn.execute(select(book_table.c.id)).first() is not None:
        return False
    conn.execute(
        insert(book_table).values(
            id=1, currency=currency.upper(), head_seq=0, head_hash=GENESIS_HASH
        )
    )
    for account in DEFAULT_CHART:
        open_account(
            session, code=account.code, name=account.name, type=account.type,
            may_go_negative=account.may_go_negative, is_control=account.is_control,
            clock=clock,
        )
    return True


def open_account(
    session: Session,
    *,
    code: str,
    name: str,
    type: AccountType | str,
    clock: Clock,
    parent: str | None = None,
    owner: str | None = None,
    may_go_negative: bool = False,
    is_control: bool = False,
) -> int:
    """Open a general-ledger account (code of four digits) or a sub-account of a control
    account (code `<parent>:<suffix>`, e.g. `2000:M-7Q4K2`). Returns the account id."""
    account_type = AccountType(type)
    name = check_text(name, field="name", length_max=ACCOUNT_NAME_LENGTH_MAX)
    conn = session.connection()
    parent_id = None
    if parent is None:
        if not ROOT_CODE_PATTERN.fullmatch(code):
            raise InvalidInput("a general-ledger account code is four digits", field="code")
    else:
        parent_row = conn.execute(
            select(account_table.c.id, account_table.c.type, account_table.c.is_control)
            .where(account_table.c.code == parent)
        ).first()
        if parent_row is None or not parent_row.is_control:
            raise UnknownAccount.said(
                "{parent} is not a control account",
                parent=repr(parent), field="parent")
        if parent_row.type != account_type:
            raise InvalidInput("a sub-account has its control account's type", field="type")
        suffix = code.removeprefix(f"{parent}:")
        if suffix == code or not SUB_SUFFIX_PATTERN.fullmatch(suffix):
            raise InvalidInput.said(
                "a sub-account code is '{parent}:<suffix>'",
                parent=parent, field="code")
        parent_id = parent_row.id
    if conn.execute(select(account_table.c.id).where(account_table.c.code == code)).first():
        raise AccountExists.said("account {code} exists", code=code, field="code")
    result = conn.execute(
        insert(account_table).values(
            code=code, name=name, type=str(account_type),
            normal_side=str(account_type.normal_side), parent_id=parent_id, owner=owner,
            may_go_negative=may_go_negative, is_control=is_control and parent is None,
            debits_posted=0, credits_posted=0, opened_at=clock.now(),
        )
    )
    account_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    require(isinstance(account_id, int), "opening an account returns its id")
    return int(account_id)  # type: ignore[arg-type]


def close_through(session: Session, on: date, *, clock: Clock) -> None:
    """Close every day up to and including `on`: nothing may be posted or reversed there."""
    book, _ = _lock_book(_Raw(session), "")
    if on >= clock.today():
        raise InvalidInput("only days before the business date can be closed", field="on")
    if book.closed_through is not None and on < book.closed_through:
        raise InvalidInput.said(
            "the book is closed through {closed_through}; a closed period stays closed",
            closed_through=book.closed_through, field="on")
    session.connection().execute(
        update(book_table).where(book_table.c.id == 1).values(closed_through=on)
    )
    forget_book(session)


def reopen_through(session: Session, on: date | None, *, clock: Clock) -> date | None:
    """Move `closed_through` BACK to `on` (None: nothing closed), under the book lock, so the
    days after `on` take postings and reversals again; returns what it was. Only a year's
    reopening calls this, and only ever backwards: a close moves forward by `close_through`.
    `clock` is the caller's, kept for the same shape as `close_through`."""
    book, _ = _lock_book(_Raw(session), "")
    if book.closed_through is None:
        raise InvalidInput("nothing is closed: there is nothing to reopen", field="on")
    if on is not None and on >= book.closed_through:
        raise InvalidInput.said(
            "the book is closed through {closed_through}; reopening moves that date back, never "
            "forward",
            closed_through=book.closed_through, field="on")
    require(on is None or on < clock.today(), "a reopened close date is in the past")
    session.connection().execute(
        update(book_table).where(book_table.c.id == 1).values(closed_through=on)
    )
    forget_book(session)
    return book.closed_through


def lock_balance(session: Session, code: str) -> int:
    """Lock the book and one account (with its control account) for the rest of the
    transaction and return its balance (signed by its normal side). A service that checks
    more than the ledger does (a savings account's holds) checks against this locked figure,
    then posts, in the same transaction."""
    # a control account may be locked, as the safe's cash is
    return _locked_balances(session, [code], field="account", posting=False)[code]


def lock_balances(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """Lock the book, then the accounts named and their control accounts in ascending id
    order, the locks `post` takes and in its order, and return each named account's balance
    (signed by its normal side). A service that checks a balance and then posts locks all the
    entry's accounts this way first: locking one alone (`lock_balance`) and the rest in
    `post` took them out of order, and on PostgreSQL a withdrawal then deadlocked with a
    deposit to the same member (Dr cash first, then her savings) until its reruns ran out."""
    return _locked_balances(session, list(codes))


def _locked_balances(session: Session, named: list[str], *, field: str = "postings",
                     posting: bool = True) -> dict[str, int]:
    """The book, then `named` with their control accounts, locked as `post` takes them (on
    PostgreSQL in one round trip), and each named account's balance."""
    accounts, _, _ = _lock_for_post(_Raw(session), named, "", field=field, posting=posting)
    return {code: signed_balance(accounts[code].normal_side,
                                 debits_minor=accounts[code].debits_minor,
                                 credits_minor=accounts[code].credits_minor)
            for code in named}


# -- posting ----------------------------------------------------------------------------------


def lock_book(session: Session) -> None:
    """Take the book's row lock, which every posting takes: until this transaction ends no
    other entry can be posted (a year-end close reads the year's balances under it)."""
    _lock_book(_Raw(session), "")


def post(session: Session, draft: EntryDraft, *, clock: Clock) -> PostedEntry:
    """Post one balanced entry (see the module docstring for every step)."""
    return _post(session, draft, clock)[0]


def post_and_balance(
    session: Session, draft: EntryDraft, account: str, *, clock: Clock,
) -> tuple[PostedEntry, int]:
    """`post`, and the balance of `account` (one the draft posts to) right after it: from the
    row locked for the post, so no statement of its own (a counter receipt shows it). A replay
    reads the balance now."""
    entry, accounts = _post(session, draft, clock)
    locked = accounts.get(account) if accounts is not None else None
    if locked is None:
        return entry, balance(session, account) or 0
    return entry, signed_balance(
        locked.normal_side, debits_minor=locked.debits_minor + locked.debit_added,
        credits_minor=locked.credits_minor + locked.credit_added)


def _post(session: Session, draft: EntryDraft,
          clock: Clock) -> tuple[PostedEntry, dict[str, _Account] | None]:
    draft = check_draft(draft)
    raw = _Raw(session)
    key = draft.idempotency_key or uuid.uuid4().hex  # one made here is nobody's yet: no lookup
    accounts, book, existing = _lock_for_post(raw, (p.account for p in draft.postings),
                                              draft.idempotency_key or "")
    if existing is not None:
        return _replay(session, existing, draft), None
    _check_date(draft.value_date, book, today=clock.today())
    if draft.reversal_of is not None:
        _check_not_reversed(session, draft.reversal_of)
    _check_limits(_apply(draft, accounts), book.currency)
    entry = _entry(draft, key, book, clock)
    _insert(raw, [entry], accounts, book)
    return entry, accounts


def post_many(
    session: Session, drafts: Sequence[EntryDraft], *, clock: Clock
) -> list[PostedEntry]:
    """Post many entries in the caller's one transaction: the same checks as `post`, applied
    in order against running balances; any refusal refuses the whole batch."""
    checked = [check_draft(d) for d in drafts]
    raw = _Raw(session)
    book, _ = _lock_book(raw, "")
    accounts = _lock_accounts(raw, {p.account for d in checked for p in d.postings})
    today = clock.today()
    keys = [d.idempotency_key or uuid.uuid4().hex for d in checked]
    taken = _existing_keys(raw, [k for d, k in zip(checked, keys, strict=True)
                                 if d.idempotency_key])
    posted: list[PostedEntry] = []
    fresh: list[PostedEntry] = []
    seen: set[str] = set()
    reversed_here: set[int] = set()
    for draft, key in zip(checked, keys, strict=True):
        if key in taken:
            posted.append(_replay(session, taken[key], draft))
            continue
        if key in seen:
            raise IdempotencyKeyReused.said("key {key} appears twice in the batch", key=repr(key))
        seen.add(key)
        _check_date(draft.value_date, book, today=today)
        if draft.reversal_of is not None:
            if draft.reversal_of in reversed_here:
                raise AlreadyReversed.said(
                    "entry {reversal_of} is reversed twice in the batch",
                    reversal_of=draft.reversal_of)
            _check_not_reversed(session, draft.reversal_of)
            reversed_here.add(draft.reversal_of)
        _check_limits(_apply(draft, accounts), book.currency)
        entry = _entry(draft, key, book, clock)
        fresh.append(entry)
        posted.append(entry)
    if fresh:
        _insert(raw, fresh, accounts, book)
    return posted


def reverse(
    session: Session,
    entry_id: int,
    *,
    reason: str,
    actor: str,
    clock: Clock,
    idempotency_key: str | None = None,
    narration: str | None = None,
    move: Mapping[str, str] | None = None,
) -> PostedEntry:
    """Post the entry that exactly negates `entry_id`, on the same value date. An entry is
    reversed at most once, and a reversal is not itself reversed: post a new entry instead.
    The narration is "Reversal of entry N: <reason>" unless the caller gives its own (a
    correction keeps the staff's reason out of the journal, which members' papers print).
    `move` sends a leg to another account (cash that went through a till closed since comes
    back through the till open now)."""
    original = load_entry(session, entry_id)
    if original is None:
        raise EntryNotFound.said(
            "there is no entry {entry_id}",
            entry_id=entry_id, field="entry_id")
    if original.reversal_of is not None:
        raise AlreadyReversed.said(
            "entry {entry_id} is itself the reversal of entry {reversal_of}",
            entry_id=entry_id, reversal_of=original.reversal_of)
    reason = check_text(reason, field="reason", length_max=150)
    draft = EntryDraft(
        value_date=original.value_date,
        narration=narration or f"Reversal of entry {entry_id}: {reason}",
        kind="reversal",
        postings=tuple(replace(p, account=move.get(p.account, p.account)) if move else p
                       for p in reversed_postings(original.postings)),
        actor=actor,
        idempotency_key=idempotency_key,
        reversal_of=entry_id,
    )
    return post(session, draft, clock=clock)


# -- the steps --------------------------------------------------------------------------------


def _replay(session: Session, entry_id: int, draft: EntryDraft) -> PostedEntry:
    existing = load_entry(session, entry_id)
    require(existing is not None, "an entry found by its key can be loaded")
    assert existing is not None  # for mypy; require() above has checked it
    same = (
        existing.value_date == draft.value_date
        and existing.kind == draft.kind
        and existing.narration == draft.narration
        and existing.reversal_of == draft.reversal_of
        and [(p.account, p.side, p.amount_minor) for p in existing.postings]
        == [(p.account, p.side, p.amount_minor) for p in draft.postings]
    )
    if not same:
        raise IdempotencyKeyReused(
            "this idempotency key was already used for a different entry",
            field="idempotency_key",
        )
    return PostedEntry(**{**_fields(existing), "replayed": True})


def _fields(entry: PostedEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in PostedEntry.__dataclass_fields__}


def _check_date(value_date: date, book: _Book, *, today: date) -> None:
    if book.closed_through is not None and value_date <= book.closed_through:
        raise PeriodClosed.said(
            "the book is closed through {closed_through}",
            closed_through=book.closed_through, field="value_date")
    if value_date > today:
        raise FutureValueDate.said(
            "{value_date} is after the business date {today}",
            value_date=value_date, today=today, field="value_date")


def _check_not_reversed(session: Session, entry_id: int) -> None:
    if session.execute(_FIND_REVERSAL, {"of": entry_id}).first() is not None:
        raise AlreadyReversed.said("entry {entry_id} has already been reversed", entry_id=entry_id)


def _apply(draft: EntryDraft, accounts: dict[str, _Account]) -> list[_Account]:
    """Add the draft's postings to the running totals of its accounts and their control
    accounts; returns the accounts touched."""
    touched: list[_Account] = []
    for posting in draft.postings:
        account: _Account | None = accounts[posting.account]
        while account is not None:
            touched.append(account)
            if posting.side is Side.DEBIT:
                account.debit_added += posting.amount_minor
            else:
                account.credit_added += posting.amount_minor
            account = account.parent
    return touched


def _check_limits(accounts: Iterable[_Account], currency: str) -> None:
    for account in accounts:
        debits = account.debits_minor + account.debit_added
        credits = account.credits_minor + account.credit_added
        if abs(debits - credits) > BALANCE_MINOR_MAX:
            raise BalanceLimit.said(
                "account {code} would hold more than {balance_minor_max}, the most the books "
                "allow",
                code=account.code, balance_minor_max=Amount(BALANCE_MINOR_MAX, currency),
                field="postings")
        if max(debits, credits) >= COUNTER_MINOR_NET_ABOVE:
            account.netted = min(debits, credits)
        require(max(debits, credits) - account.netted < 2**62, "account counters fit a BIGINT")
        if account.may_go_negative:
            continue
        balance = signed_balance(
            account.normal_side, debits_minor=debits, credits_minor=credits
        )
        if balance < 0:
            raise InsufficientFunds.said(
                "account {code} would go below zero (short by {shortfall})",
                code=account.code, shortfall=Amount(-balance, currency), field="postings")


def _entry(draft: EntryDraft, key: str, book: _Book, clock: Clock) -> PostedEntry:
    """Give the draft its place in the chain (and advance the in-memory head)."""
    seq = book.head_seq + 1
    posted_at = clock.now()
    canonical = entry_canonical(
        seq=seq, value_date=draft.value_date, posted_at=posted_at, kind=draft.kind,
        narration=draft.narration, actor=draft.actor, reversal_of=draft.reversal_of,
        postings=draft.postings,
    )
    digest = chain_hash(book.head_hash, canonical)
    entry = PostedEntry(
        id=seq, value_date=draft.value_date, posted_at=posted_at, kind=draft.kind,
        narration=draft.narration, actor=draft.actor, idempotency_key=key,
        reversal_of=draft.reversal_of, postings=draft.postings, prev_hash=book.head_hash,
        hash=digest,
    )
    book.head_seq, book.head_hash = seq, digest
    return entry
