"""Reading the ledger: accounts, balances (now and as of a date), entries, the trial balance.

Balances now are O(1): they come from the accounts' cumulative counters. A balance as of a
past date is the balance now less the postings dated after it, found through the
(account, value date) index, so a recent date costs little whatever the size of the history.
The trial balance reads the general-ledger account rows (control accounts include their
members' sub-accounts), not the postings.

Two walks over the postings, each written once: `account_lines` (one account's postings with
the running balance after each, for statements and passbooks) and `journal_batches` (every
entry with its postings in sequence order, a batch at a time, read with the driver's cursor,
for `verify` and the export).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from coop.db_statements import Prepared
from coop.ledger.model import (
    IdempotencyKeyReused,
    PostedEntry,
    PostedPosting,
    Side,
    signed_balance,
)
from coop.ledger.orm import account_table, book_table, entry_table, posting_table

ENTRIES_PAGE_MAX = 500


@dataclass(frozen=True, slots=True)
class AccountView:
    id: int
    code: str
    name: str
    type: str
    normal_side: str
    parent_id: int | None
    owner: str | None
    may_go_negative: bool
    is_control: bool
    debits_minor: int
    credits_minor: int

    @property
    def balance_minor(self) -> int:
        return signed_balance(
            self.normal_side, debits_minor=self.debits_minor, credits_minor=self.credits_minor
        )


@dataclass(frozen=True, slots=True)
class BookView:
    currency: str
    head_seq: int
    head_hash: str
    closed_through: date | None


@dataclass(frozen=True, slots=True)
class TrialBalanceRow:
    account: str
    name: str
    type: str
    debit_minor: int
    credit_minor: int


@dataclass(frozen=True, slots=True)
class TrialBalance:
    as_of: date | None
    rows: tuple[TrialBalanceRow, ...]
    total_debit_minor: int
    total_credit_minor: int


_ACCOUNT_SELECT = select(
    account_table.c.id, account_table.c.code, account_table.c.name, account_table.c.type,
    account_table.c.normal_side, account_table.c.parent_id, account_table.c.owner,
    account_table.c.may_go_negative, account_table.c.is_control,
    account_table.c.debits_posted, account_table.c.credits_posted,
)


_BOOK = select(book_table.c.currency, book_table.c.head_seq, book_table.c.head_hash,
               book_table.c.closed_through)


def book(session: Session) -> BookView | None:
    row = session.connection().execute(_BOOK).first()
    return None if row is None else BookView(*row)


_ACCOUNT_BY_CODE = _ACCOUNT_SELECT.where(account_table.c.code == bindparam("code"))


def get_account(session: Session, code: str) -> AccountView | None:
    row = session.connection().execute(_ACCOUNT_BY_CODE, {"code": code}).first()
    return None if row is None else AccountView(*row)


def list_accounts(session: Session, *, owner: str | None = None) -> list[AccountView]:
    """General-ledger accounts, or with `owner` that owner's sub-accounts, ordered by code."""
    query = _ACCOUNT_SELECT.order_by(account_table.c.code)
    if owner is None:
        query = query.where(account_table.c.parent_id.is_(None))
    else:
        query = query.where(account_table.c.owner == owner)
    return [AccountView(*row) for row in session.execute(query)]


_BALANCE_BY_CODE = Prepared(select(
    account_table.c.normal_side, account_table.c.debits_posted, account_table.c.credits_posted,
).where(account_table.c.code == bindparam("code")))


def balance(session: Session, code: str) -> int | None:
    """The account's balance now, signed by its normal side, in minor units (O(1))."""
    row = _BALANCE_BY_CODE.execute(session, {"code": code}).fetchone()
    if row is None:
        return None
    return signed_balance(row[0], debits_minor=int(row[1]), credits_minor=int(row[2]))


def balance_as_of(session: Session, code: str, on: date) -> int | None:
    """The balance at the end of `on`: the balance now less what was posted dated later."""
    account = get_account(session, code)
    if account is None:
        return None
    later = (
        select(posting_table.c.side, func.sum(posting_table.c.amount_minor))
        .where(posting_table.c.value_date > on)
        .group_by(posting_table.c.side)
    )
    if account.is_control:
        children = select(account_table.c.id).where(account_table.c.parent_id == account.id)
        later = later.where(or_(posting_table.c.account_id == account.id,  # 1000's own
                                posting_table.c.account_id.in_(children)))
    else:
        later = later.where(posting_table.c.account_id == account.id)
    after = {side: int(total) for side, total in session.execute(later)}
    return signed_balance(
        account.normal_side,
        debits_minor=account.debits_minor - after.get("debit", 0),
        credits_minor=account.credits_minor - after.get("credit", 0),
    )


def balance_after_entry(session: Session, code: str, entry_id: int) -> int | None:
    """A (non-control) account's balance just after entry `entry_id` was posted: the balance
    now less what later entries posted to it (a receipt's "balance after")."""
    account = get_account(session, code)
    if account is None:
        return None
    later = {side: int(total) for side, total in session.execute(
        select(posting_table.c.side, func.sum(posting_table.c.amount_minor))
        .where(posting_table.c.account_id == account.id, posting_table.c.entry_id > entry_id)
        .group_by(posting_table.c.side))}
    return signed_balance(
        account.normal_side,
        debits_minor=account.debits_minor - later.get("debit", 0),
        credits_minor=account.credits_minor - later.get("credit", 0),
    )


def trial_balance(session: Session, *, as_of: date | None = None) -> TrialBalance:
    """Every general-ledger account with its balance in the debit or the credit column."""
    accounts = list_accounts(session)
    later: dict[int, dict[str, int]] = defaultdict(dict)
    if as_of is not None:
        root = func.coalesce(account_table.c.parent_id, account_table.c.id)
        rows = session.execute(
            select(root, posting_table.c.side, func.sum(posting_table.c.amount_minor))
            .join(account_table, account_table.c.id == posting_table.c.account_id)
            .where(posting_table.c.value_date > as_of)
            .group_by(root, posting_table.c.side)
        )
        for account_id, side, total in rows:
            later[account_id][side] = int(total)
    result = []
    for account in accounts:
        net = (account.debits_minor - later[account.id].get("debit", 0)) - (
            account.credits_minor - later[account.id].get("credit", 0)
        )
        result.append(
            TrialBalanceRow(
                account.code, account.name, account.type, max(net, 0), max(-net, 0)
            )
        )
    return TrialBalance(
        as_of=as_of,
        rows=tuple(result),
        total_debit_minor=sum(r.debit_minor for r in result),
        total_credit_minor=sum(r.credit_minor for r in result),
    )


def load_entry(session: Session, entry_id: int) -> PostedEntry | None:
    entries = load_entries(session, [entry_id])
    return entries[0] if entries else None


def reversal_of(session: Session, entry_id: int) -> int | None:
    """The id of the entry that reversed `entry_id`, if one has."""
    found = session.execute(select(entry_table.c.id).where(
        entry_table.c.reversal_of == entry_id)).scalar()
    return int(found) if found is not None else None


def replay_of(session: Session, key: str | None, *, kind: str,
              amount_minor: int) -> PostedEntry | None:
    """The entry already posted with this idempotency key (marked replayed), or None. A
    service that checks balances or writes rows besides the entry asks this first, under its
    own locks, so a retried request changes nothing; the same key on a different request is
    refused."""
    if not key:
        return None
    found = session.execute(select(entry_table.c.id).where(
        entry_table.c.idempotency_key == key)).scalar()
    if found is None:
        return None
    entry = load_entry(session, found)
    if entry is None:  # pragma: no cover - it was just found
        return None
    moved = sum(p.amount_minor for p in entry.postings if p.side is Side.DEBIT)
    if entry.kind != kind or moved != amount_minor:
        raise IdempotencyKeyReused(
            "this idempotency key was already used for a different entry",
            field="idempotency_key")
    return replace(entry, replayed=True)


def load_entries(session: Session, entry_ids: Sequence[int]) -> list[PostedEntry]:
    """The entries with these ids, in id order, each with its postings in line order."""
    if not entry_ids:
        return []
    ids = sorted(set(entry_ids))
    postings: dict[int, list[PostedPosting]] = defaultdict(list)
    for entry_id, code, side, amount in session.execute(
        select(
            posting_table.c.entry_id, account_table.c.code, posting_table.c.side,
            posting_table.c.amount_minor,
        )
        .join(account_table, account_table.c.id == posting_table.c.account_id)
        .where(posting_table.c.entry_id.in_(ids))
        .order_by(posting_table.c.entry_id, posting_table.c.line)
    ):
        postings[entry_id].append(PostedPosting(code, Side(side), amount))
    rows = session.execute(
        select(
            entry_table.c.id, entry_table.c.value_date, entry_table.c.posted_at,
            entry_table.c.kind, entry_table.c.narration, entry_table.c.actor,
            entry_table.c.idempotency_key, entry_table.c.reversal_of,
            entry_table.c.prev_hash, entry_table.c.hash,
        )
        .where(entry_table.c.id.in_(ids))
        .order_by(entry_table.c.id)
    )
    return [
        PostedEntry(
            id=r.id, value_date=r.value_date, posted_at=r.posted_at, kind=r.kind,
            narration=r.narration, actor=r.actor, idempotency_key=r.idempotency_key,
            reversal_of=r.reversal_of, postings=tuple(postings[r.id]),
            prev_hash=r.prev_hash, hash=r.hash,
        )
        for r in rows
    ]


def list_entries(
    session: Session,
    *,
    account: str | None = None,
    from_on: date | None = None,
    to_on: date | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[PostedEntry]:
    """Entries in journal order, optionally only those touching `account` (for a control
    account: any of its sub-accounts) and dated within [from_on, to_on]; keyset paging on id."""
    limit = max(1, min(limit, ENTRIES_PAGE_MAX))
    query = select(entry_table.c.id).order_by(entry_table.c.id).limit(limit)
    if account is not None:
        matching = select(account_table.c.id).where(
            or_(
                account_table.c.code == account,
                account_table.c.parent_id.in_(
                    select(account_table.c.id).where(account_table.c.code == account)
                ),
            )
        )
        touching = select(posting_table.c.entry_id).where(
            posting_table.c.account_id.in_(matching)
        )
        query = query.where(entry_table.c.id.in_(touching))
    if from_on is not None:
        query = query.where(entry_table.c.value_date >= from_on)
    if to_on is not None:
        query = query.where(entry_table.c.value_date <= to_on)
    if after_id is not None:
        query = query.where(entry_table.c.id > after_id)
    return load_entries(session, list(session.scalars(query)))


@dataclass(frozen=True, slots=True)
class KindMovement:
    kind: str
    entries: int
    debit_minor: int
    credit_minor: int


def movements_by_kind(session: Session, code: str, on: date) -> list[KindMovement]:
    """What moved through one account on one value date, by kind of entry (e.g. the cash
    drawer's deposits, withdrawals and share purchases at day end)."""
    account = get_account(session, code)
    if account is None:
        return []
    rows = session.execute(
        select(entry_table.c.kind, posting_table.c.side,
               func.count(func.distinct(posting_table.c.entry_id)),
               func.sum(posting_table.c.amount_minor))
        .join(entry_table, entry_table.c.id == posting_table.c.entry_id)
        .where(posting_table.c.account_id == account.id, posting_table.c.value_date == on)
        .group_by(entry_table.c.kind, posting_table.c.side)
    )
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for kind, side, count, amount in rows:
        totals[kind][0] += int(count)
        totals[kind][1 if side == Side.DEBIT else 2] += int(amount)
    return [KindMovement(kind, *values) for kind, values in sorted(totals.items())]


def movements_between(session: Session, code: str, from_on: date,
                      to_on: date) -> list[KindMovement]:
    """What moved through an account from `from_on` to `to_on` (value dates, both included),
    by kind of entry; a control account's movements include its sub-accounts' (members'
    savings deposits, the tills' cash). Balance before + credits - debits (for an account
    whose normal side is credit) is the balance after, kind by kind."""
    account = get_account(session, code)
    if account is None:
        return []
    query = (
        select(entry_table.c.kind, posting_table.c.side,
               func.count(func.distinct(posting_table.c.entry_id)),
               func.sum(posting_table.c.amount_minor))
        .join(entry_table, entry_table.c.id == posting_table.c.entry_id)
        .where(posting_table.c.value_date >= from_on, posting_table.c.value_date <= to_on)
        .group_by(entry_table.c.kind, posting_table.c.side)
    )
    if account.is_control:
        children = select(account_table.c.id).where(account_table.c.parent_id == account.id)
        query = query.where(or_(posting_table.c.account_id == account.id,
                                posting_table.c.account_id.in_(children)))
    else:
        query = query.where(posting_table.c.account_id == account.id)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for kind, side, count, amount in session.execute(query):
        totals[kind][0] += int(count)
        totals[kind][1 if side == Side.DEBIT else 2] += int(amount)
    return [KindMovement(kind, *values) for kind, values in sorted(totals.items())]


LineOrder = Literal["journal", "value_date"]


@dataclass(frozen=True, slots=True)
class AccountLine:
    """One posting to an account, with the account's balance after it (signed by its normal
    side, so a member's savings count up with deposits)."""

    entry_id: int
    value_date: date
    kind: str
    narration: str
    debit_minor: int
    credit_minor: int
    balance_minor: int


@dataclass(frozen=True, slots=True)
class AccountLines:
    """An account's postings over a span: the balance brought forward, then each line."""

    account: AccountView
    brought_forward_minor: int
    lines: tuple[AccountLine, ...]


def account_lines(
    session: Session, code: str, *, from_on: date | None = None, to_on: date | None = None,
    order: LineOrder = "journal",
) -> AccountLines | None:
    """The postings to one (non-control) account dated within [from_on, to_on], with the
    running balance, after the balance brought forward from the day before `from_on`; None
    when there is no such account.

    `order="journal"` lists them as they were posted (entry sequence, then line): a passbook,
    where a line posted later with an earlier value date still prints after the lines before
    it. `order="value_date"` lists them by value date, then sequence: a statement."""
    account = get_account(session, code)
    if account is None:
        return None
    brought_forward = 0
    if from_on is not None:
        brought_forward = (balance_as_of(session, code, from_on - timedelta(days=1)) or 0
                           if from_on > date.min else 0)
    query = (
        select(entry_table.c.id, entry_table.c.value_date, entry_table.c.kind,
               entry_table.c.narration, posting_table.c.side, posting_table.c.amount_minor)
        .join(posting_table, posting_table.c.entry_id == entry_table.c.id)
        .where(posting_table.c.account_id == account.id)
    )
    if order == "value_date":
        query = query.order_by(posting_table.c.value_date, entry_table.c.id,
                               posting_table.c.line)
    else:
        query = query.order_by(entry_table.c.id, posting_table.c.line)
    if from_on is not None:
        query = query.where(posting_table.c.value_date >= from_on)
    if to_on is not None:
        query = query.where(posting_table.c.value_date <= to_on)
    sign = 1 if account.normal_side == Side.DEBIT else -1
    running, lines = brought_forward, []
    for entry_id, on, kind, narration, side, amount in session.execute(query):
        debit_minor, credit_minor = (amount, 0) if side == Side.DEBIT else (0, amount)
        running += sign * (debit_minor - credit_minor)
        lines.append(AccountLine(entry_id, on, kind, narration, debit_minor, credit_minor,
                                 running))
    return AccountLines(account, brought_forward, tuple(lines))


JOURNAL_BATCH_ENTRIES = 20_000
"""Entries read per batch by `journal_batches` (with their postings: a few megabytes)."""
_JOURNAL_ENTRIES = ("SELECT {columns} FROM ledger_entry WHERE id > {after} AND id <= {upto} "
                    "ORDER BY id LIMIT {limit}")
_JOURNAL_POSTINGS = ("SELECT entry_id, account_id, side, amount_minor FROM ledger_posting "
                     "WHERE entry_id > {after} AND entry_id <= {upto} ORDER BY entry_id, line")


def driver_cursor(session: Session) -> Any:
    """A cursor of the database driver itself on the session's connection, in its transaction:
    rows as plain tuples, dates and instants as the driver gives them (SQLite: the stored
    text), for reading the whole journal quickly."""
    return session.connection().connection.cursor()


def journal_bounds(cursor: Any) -> tuple[int, int]:
    """The last entry's id and the last id any posting names (at least the former)."""
    cursor.execute("SELECT max(id) FROM ledger_entry")
    last_entry = cursor.fetchone()[0] or 0
    cursor.execute("SELECT max(entry_id) FROM ledger_posting")
    return int(last_entry), int(max(last_entry, cursor.fetchone()[0] or 0))


def journal_batches(
    cursor: Any, entry_columns: str, *, after: int, last_entry: int, last_posting: int,
    batch_entries: int = JOURNAL_BATCH_ENTRIES,
) -> Iterator[tuple[Sequence[Any], Sequence[Any]]]:
    """The journal after entry `after` a batch at a time, read with a driver cursor: each
    batch's entries (`entry_columns`, id first) in sequence order up to `last_entry`, and
    the postings (entry id, account id, side, amount) from just after the previous batch's
    last entry up to this batch's last (after the last batch: all that remain up to
    `last_posting`), in entry then line order, so postings whose entry row is gone come too."""
    after = int(after)
    while True:
        cursor.execute(_JOURNAL_ENTRIES.format(columns=entry_columns, after=after,
                                               upto=int(last_entry), limit=int(batch_entries)))
        entries = cursor.fetchall()
        upto = int(entries[-1][0]) if entries else int(last_posting)
        cursor.execute(_JOURNAL_POSTINGS.format(after=after, upto=upto))
        postings = cursor.fetchall()
        if entries or postings:
            yield entries, postings
        if not entries:
            return
        after = upto
