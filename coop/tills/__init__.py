"""Tills (teller cash): a clerk's drawer of cash, from its opening float to the day-end count.

Ledger-native. 1000 Cash on hand is the safe's cash (postings on 1000 itself) and the control
account of the tills: opening a till opens `1000:T-<id>` and moves the opening float from the
safe to it (kind `till_open`). While it is open, every cash movement its user makes posts to it
instead of 1000 (`cash_account`, called by the savings, shares and loans services). Closing
moves the counted cash back to the safe (`till_close`): all of it when it is short or exact;
when it is over, the expected amount (the extra is not on the books until approved). A
difference waits (`variance_pending`) until an admin or a board user who is not the till's
user approves it (`till_variance`): a shortage goes from the till to 5400 Cash shortages, an
overage from 4400 Cash overages into the safe. A closed till's sub-account is then zero.

Every function runs in the caller's one transaction; the till row is locked before its account
(on PostgreSQL FOR UPDATE by a close or an approval, FOR SHARE by a cash movement; SQLite's
single writer serialises), so a close, an approval and a cash movement of the same till are
ordered, and approving twice posts once; two movements through one till are ordered by its
account's lock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from coop.auth import get_user
from coop.clock import Clock
from coop.db_statements import Prepared, transaction_memo
from coop.errors import Conflict, Forbidden, InvalidInput, NotFound
from coop.ledger import queries
from coop.ledger.chart import CASH, CASH_OVERAGES, CASH_SHORTAGES
from coop.ledger.model import EntryDraft, InsufficientFunds, credit, debit, signed_balance
from coop.ledger.orm import account_table, entry_table, posting_table
from coop.ledger.service import lock_balance, open_account, post
from coop.money import Amount, minor_digits
from coop.society import book_currency, require_society
from coop.tills.orm import TillRow, till_table

__all__ = [
    "DENOMINATIONS", "Till", "TillAlreadyOpen", "TillNotFound", "TillNotOpen", "TillRow",
    "VarianceNotPending", "approve_variance", "cash_account", "close_till", "day_tills",
    "denominations", "get_till", "open_till", "open_till_of", "pending", "safe_minor",
    "till_table",
]

OPEN_KINDS = ("till_open", "till_close", "till_variance")
"""The entries that move a till's own cash; everything else on it is her work at the counter."""

DENOMINATIONS: dict[str, tuple[str, ...]] = {
    "INR": ("500", "200", "100", "50", "20", "10", "5", "2", "1"),
    "KES": ("1000", "500", "200", "100", "50", "20", "10", "5", "1"),
    "EUR": ("500", "200", "100", "50", "20", "10", "5", "2", "1", "0.50", "0.20", "0.10",
            "0.05", "0.02", "0.01"),
    "USD": ("100", "50", "20", "10", "5", "2", "1", "0.25", "0.10", "0.05", "0.01"),
}
"""Notes and coins in use, largest first, per currency; a currency not here is counted as one
total (no denomination grid)."""
COUNT_MAX = 1_000_000


class TillNotOpen(InvalidInput):
    code = "till_not_open"
    title = "Open your till first"


class TillAlreadyOpen(Conflict):
    code = "till_already_open"
    title = "This user already has an open till"


class TillNotFound(NotFound):
    code = "till_not_found"
    title = "No such till"


class TillClosed(Conflict):
    code = "till_closed"
    title = "The till is not open"


class VarianceNotPending(Conflict):
    code = "variance_not_pending"
    title = "No difference is waiting for approval"


class OwnTill(Forbidden):
    code = "own_till"
    title = "Another person approves a till's difference"


@dataclass(frozen=True, slots=True)
class Till:
    """A till with its figures from the journal."""

    id: int
    username: str
    status: str
    opened_on: date
    account: str
    opening_float_minor: int
    cash_in_minor: int
    cash_out_minor: int
    expected_minor: int
    counted_minor: int | None
    variance_minor: int | None
    counted: dict[str, int] | None
    approved_by: str | None
    variance_entry_id: int | None


def denominations(currency: str) -> list[tuple[str, int]]:
    """The notes and coins of `currency` as (text, minor units), largest first."""
    digits = minor_digits(currency)
    return [(d, int(Decimal(d).scaleb(digits))) for d in DENOMINATIONS.get(currency, ())]


# -- the hook every cash movement calls ----------------------------------------------------


def open_till_of(session: Session, username: str, *, lock: bool = False) -> TillRow | None:
    query = select(TillRow).where(TillRow.username == username, TillRow.status == "open")
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar()


def closed_accounts(session: Session, codes: Sequence[str]) -> set[str]:
    """Of these account codes, the tills' that are no longer open (their cash went back to
    the safe; nothing more may come or go through them)."""
    return set(session.scalars(select(TillRow.account_code).where(
        TillRow.account_code.in_(list(codes)), TillRow.status != "open")))


_OPEN_TILL_ACCOUNT = Prepared(select(till_table.c.account_code).where(
    till_table.c.username == bindparam("username"), till_table.c.status == "open",
).with_for_update(read=True))
"""A cash movement's read of its clerk's open till: FOR SHARE, so a close or an approval (FOR
UPDATE) waits for the movement, or the movement, after the close, finds no open till; but
movements do not hold one another off. FOR UPDATE here deadlocked two processes' group
commits that took two clerks' tills in opposite orders (tests/integration/
test_group_lock_order.py)."""


def read_cash_account_ahead(session: Session, username: str) -> None:
    """`cash_account`'s read of the till, sent ahead with the transaction's next statement
    (coop.db_statements.Prepared.ahead)."""
    _OPEN_TILL_ACCOUNT.ahead(session, {"username": username})


def cash_account(session: Session, username: str) -> str:
    """The cash account that `username`'s cash movement posts to: her open till's sub-account,
    else 1000 (the safe). The till row is locked, so a close of it waits for this movement
    (or this movement sees it closed). With the society's `require_open_till` on, a user with
    no open till is refused (422 till-not-open)."""
    row = _OPEN_TILL_ACCOUNT.execute(session, {"username": username}).fetchone()
    if row is not None:
        found = str(row[0])
    elif require_society(session).settings.require_open_till:
        raise TillNotOpen.said(
            "{username} has no open till: open a till first to take or pay cash",
            username=username[:32], field="till")
    else:
        found = CASH
    session.info.setdefault(_CASH_SEEN, {})[username] = found
    return found


_CASH_SEEN = transaction_memo("coop.tills.cash_seen")


def cash_account_seen(session: Session, username: str) -> str | None:
    """The cash account `cash_account` last found for `username` in this transaction (a
    group commit's earlier request), or None: what its next read will most likely find, for
    sending a lock ahead (coop.ledger.lock_ahead). Only a guess: the read still decides."""
    seen = session.info.get(_CASH_SEEN)
    return seen.get(username) if seen else None


# -- opening, closing, approving -----------------------------------------------------------


def safe_minor(session: Session, *, as_of: date | None = None) -> int:
    """The cash that should be in the safe: 1000's own postings (its tills' are not)."""
    cash = queries.get_account(session, CASH)
    if cash is None:
        return 0
    tills = session.execute(
        select(func.coalesce(func.sum(account_table.c.debits_posted), 0),
               func.coalesce(func.sum(account_table.c.credits_posted), 0))
        .where(account_table.c.parent_id == cash.id)).one()
    debits, credits = cash.debits_minor - int(tills[0]), cash.credits_minor - int(tills[1])
    if as_of is not None:
        later = session.execute(
            select(posting_table.c.side, func.sum(posting_table.c.amount_minor))
            .where(posting_table.c.account_id == cash.id, posting_table.c.value_date > as_of)
            .group_by(posting_table.c.side))
        for side, total in later:
            if side == "debit":
                debits -= int(total)
            else:
                credits -= int(total)
    return signed_balance(cash.normal_side, debits_minor=debits, credits_minor=credits)


def open_till(session: Session, *, username: str, opening_float_minor: int,
              clock: Clock) -> Till:
    """Open `username`'s till with a float from the safe (409 if she has an open till)."""
    if not 0 <= opening_float_minor <= 10**14:
        raise InvalidInput("the opening float is zero or more", field="opening_float")
    get_user(session, username, lock=True)  # orders two opens by the same user
    if open_till_of(session, username) is not None:
        raise TillAlreadyOpen.said("{username} already has an open till", username=username[:32])
    currency = book_currency(session)
    lock_balance(session, CASH)  # the safe's figure below stays true until this commits
    safe = safe_minor(session)
    if opening_float_minor > safe:
        raise InsufficientFunds.said(
            "the safe holds {safe}",
            safe=Amount(safe, currency), field="opening_float")
    today = clock.today()
    row = TillRow(username=username, status="open", opened_on=today, opened_at=clock.now(),
                  opening_float_minor=opening_float_minor,
                  account_code=f"pending:{username}"[:64])
    session.add(row)
    session.flush()
    row.account_code = f"{CASH}:T-{row.id}"
    open_account(session, code=row.account_code, name=f"Till {row.id} {username}"[:120],
                 type="asset", parent=CASH, clock=clock)
    if opening_float_minor:
        entry = post(session, EntryDraft(
            value_date=today, kind="till_open", actor=username,
            narration=f"Till {row.id} opened: float from the safe",
            postings=(debit(row.account_code, opening_float_minor),
                      credit(CASH, opening_float_minor))), clock=clock)
        row.open_entry_id = entry.id
    session.flush()
    return _view(session, row)


def _lock(session: Session, till_id: int) -> TillRow:
    row = session.execute(
        select(TillRow).where(TillRow.id == till_id).with_for_update()).scalar()
    if row is None:
        raise TillNotFound.said("there is no till {till_id}", till_id=till_id)
    return row


def _counted(currency: str, counted_minor: int,
             counts: Mapping[str, int] | None) -> dict[str, int] | None:
    if counts is None:
        return None
    known = dict(denominations(currency))
    total = 0
    kept: dict[str, int] = {}
    for text, count in counts.items():
        if text not in known:
            raise InvalidInput.said(
                "{text} is not a note or coin of {currency}",
                text=repr(text[:20]), currency=currency, field="denominations")
        if not 0 <= count <= COUNT_MAX:
            raise InvalidInput.said(
                "a count is 0 to {count_max}",
                count_max=COUNT_MAX, field="denominations")
        total += known[text] * count
        if count:
            kept[text] = count
    if total != counted_minor:
        raise InvalidInput.said(
            "the notes and coins add up to {total}, not {counted}",
            total=Amount(total, currency), counted=Amount(counted_minor, currency),
            field="counted")
    return kept


def close_till(session: Session, till_id: int, *, counted_minor: int, actor: str,
               clock: Clock, counts: Mapping[str, int] | None = None) -> Till:
    """Count the till: the counted cash goes back to the safe; a difference waits for
    approval. Only the till's user or an admin closes it (the caller checks the role)."""
    if not 0 <= counted_minor <= 10**14:
        raise InvalidInput("the counted cash is zero or more", field="counted")
    row = _lock(session, till_id)
    if row.status != "open":
        raise TillClosed.said(
            "till {till_id} is {status}",
            till_id=till_id, status=row.status.replace('_', ' '))
    currency = book_currency(session)
    kept = _counted(currency, counted_minor, counts)
    expected = lock_balance(session, row.account_code)
    back = min(counted_minor, expected)
    if back:
        entry = post(session, EntryDraft(
            value_date=clock.today(), kind="till_close", actor=actor,
            narration=f"Till {row.id} closed: counted cash to the safe",
            postings=(debit(CASH, back), credit(row.account_code, back))), clock=clock)
        row.close_entry_id = entry.id
    row.counted_minor, row.expected_at_close_minor = counted_minor, expected
    row.variance_minor = counted_minor - expected
    row.counted_json = json.dumps(kept, sort_keys=True) if kept is not None else None
    row.status = "closed" if row.variance_minor == 0 else "variance_pending"
    row.closed_by, row.closed_at = actor, clock.now()
    session.flush()
    return _view(session, row)


def approve_variance(session: Session, till_id: int, *, approver: str, clock: Clock) -> tuple[
        Till, int]:
    """Post a closed till's difference (once: the row is locked and must still be pending)
    and close it. Returns the till and the entry id."""
    row = _lock(session, till_id)
    if row.username == approver:
        raise OwnTill("the difference of your own till is approved by someone else")
    if row.status != "variance_pending" or not row.variance_minor:
        raise VarianceNotPending.said(
            "till {till_id} has no difference waiting for approval",
            till_id=till_id)
    variance = row.variance_minor
    if variance < 0:
        postings = (debit(CASH_SHORTAGES, -variance), credit(row.account_code, -variance))
        words = "short"
    else:
        postings = (debit(CASH, variance), credit(CASH_OVERAGES, variance))
        words = "over"
    entry = post(session, EntryDraft(
        value_date=clock.today(), kind="till_variance", actor=approver,
        narration=f"Till {row.id} ({row.username[:32]}) cash {words}, approved",
        postings=postings), clock=clock)
    row.status, row.variance_entry_id = "closed", entry.id
    row.approved_by, row.approved_at = approver, clock.now()
    session.flush()
    return _view(session, row), entry.id


# -- reading --------------------------------------------------------------------------------


def _movements(session: Session, account_codes: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(cash in, cash out) of each till account: its postings but the till's own moves."""
    rows = session.execute(
        select(account_table.c.code, posting_table.c.side, func.sum(posting_table.c.amount_minor))
        .join(account_table, account_table.c.id == posting_table.c.account_id)
        .join(entry_table, entry_table.c.id == posting_table.c.entry_id)
        .where(account_table.c.code.in_(list(account_codes)),
               entry_table.c.kind.not_in(OPEN_KINDS))
        .group_by(account_table.c.code, posting_table.c.side))
    found: dict[str, list[int]] = {code: [0, 0] for code in account_codes}
    for code, side, total in rows:
        found[code][0 if side == "debit" else 1] += int(total)
    return {code: (v[0], v[1]) for code, v in found.items()}


def _view(session: Session, row: TillRow,
          moved: tuple[int, int] | None = None) -> Till:
    cash_in, cash_out = moved or _movements(session, [row.account_code])[row.account_code]
    if row.status == "open":
        expected = queries.balance(session, row.account_code) or 0
    else:
        expected = row.expected_at_close_minor or 0
    return Till(row.id, row.username, row.status, row.opened_on, row.account_code,
                row.opening_float_minor, cash_in, cash_out, expected, row.counted_minor,
                row.variance_minor,
                json.loads(row.counted_json) if row.counted_json else None,
                row.approved_by, row.variance_entry_id)


def get_till(session: Session, till_id: int) -> Till:
    row = session.get(TillRow, till_id)
    if row is None:
        raise TillNotFound.said("there is no till {till_id}", till_id=till_id)
    return _view(session, row)


def day_tills(session: Session, on: date) -> list[Till]:
    """The tills opened on `on`, and any still open or waiting for approval."""
    rows = list(session.execute(
        select(TillRow).where(or_(TillRow.opened_on == on, TillRow.status != "closed"))
        .order_by(TillRow.id)).scalars())
    moved = _movements(session, [r.account_code for r in rows])
    return [_view(session, r, moved[r.account_code]) for r in rows]


def pending(session: Session) -> list[Till]:
    rows = list(session.execute(
        select(TillRow).where(TillRow.status == "variance_pending").order_by(TillRow.id))
        .scalars())
    moved = _movements(session, [r.account_code for r in rows])
    return [_view(session, r, moved[r.account_code]) for r in rows]

