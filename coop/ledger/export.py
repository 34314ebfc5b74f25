"""Export the whole book as a beancount file that `bean-check` accepts, with the same balances.

Names follow CONTRACT.md: a general-ledger account is `<Root>:<code>-<Name-In-Words>`
(`Assets:1000-Cash-on-hand`) and a member's sub-account nests under its control account
(`Liabilities:2000-Members-savings:M-7Q4K2`). Beancount's signs are debit-positive, so a
liability with a credit balance shows as negative there. After the entries, one `balance`
assertion per account (dated the day after the last entry) makes bean-check itself confirm
that every balance equals ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop.ledger import queries
from coop.ledger.model import Side
from coop.ledger.orm import account_table, book_table, entry_table
from coop.money import format_minor, minor_digits

ROOTS = {
    "asset": "Assets",
    "liability": "Liabilities",
    "equity": "Equity",
    "income": "Income",
    "expense": "Expenses",
}
_NOT_NAME = re.compile(r"[^A-Za-z0-9]+")
CHUNK_ENTRIES = 5000


def beancount_name(
    *, type: str, code: str, name: str, parent_code: str | None, parent_name: str | None
) -> str:
    """The beancount account name for one of our accounts."""
    if parent_code is not None and parent_name is not None:
        suffix = code.removeprefix(f"{parent_code}:")
        return f"{_root_name(type, parent_code, parent_name)}:{suffix}"
    return _root_name(type, code, name)


def _root_name(type: str, code: str, name: str) -> str:
    words = _NOT_NAME.sub("-", name.replace("'", "")).strip("-")
    return f"{ROOTS[type]}:{code}-{words}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def export_beancount(session: Session) -> Iterator[str]:
    """The book as beancount text, a chunk at a time (so a large book streams)."""
    currency = session.execute(select(book_table.c.currency)).scalar_one()
    rows = session.execute(
        select(
            account_table.c.id, account_table.c.code, account_table.c.name,
            account_table.c.type, account_table.c.parent_id, account_table.c.normal_side,
            account_table.c.debits_posted, account_table.c.credits_posted,
        ).order_by(account_table.c.code)
    ).all()
    by_id = {r.id: r for r in rows}
    names: dict[int, str] = {}
    for r in rows:
        parent = by_id.get(r.parent_id) if r.parent_id is not None else None
        names[r.id] = beancount_name(
            type=r.type, code=r.code, name=r.name,
            parent_code=parent.code if parent else None,
            parent_name=parent.name if parent else None,
        )
    earliest, last_day = session.execute(
        select(func.min(entry_table.c.value_date), func.max(entry_table.c.value_date))
    ).one()
    if earliest is None:  # an empty book: open the accounts and assert zero on one day
        earliest = last_day = date(2000, 1, 1)
    yield f'option "title" "coop book"\noption "operating_currency" "{currency}"\n\n'
    for r in rows:
        yield f"{earliest.isoformat()} open {names[r.id]} {currency}\n"
    yield "\n"
    yield from _entries(session, names, currency)
    check_on = last_day + timedelta(days=1)
    for r in rows:
        # A control account's counters include its sub-accounts, as beancount's balance of
        # a parent account includes its children.
        net = r.debits_posted - r.credits_posted
        amount = format_minor(net, currency)
        yield f"{check_on.isoformat()} balance {names[r.id]} {amount} {currency}\n"


def _entries(session: Session, names: dict[int, str], currency: str) -> Iterator[str]:
    """Every entry as a beancount transaction, `CHUNK_ENTRIES` to a chunk, read with the
    driver's cursor a batch at a time (a million entries in seconds)."""
    digits = minor_digits(currency)
    scale = 10**digits
    # Each account's posting line up to its amount, and what follows the amount.
    heads = {account_id: f"  {name}  " for account_id, name in names.items()}
    tail = f" {currency}\n"
    debit = str(Side.DEBIT)
    chunk: list[str] = []
    cursor = queries.driver_cursor(session)
    try:
        last_entry, last_posting = queries.journal_bounds(cursor)
        for entries, postings in queries.journal_batches(
                cursor, "id, value_date, kind, narration, reversal_of", after=0,
                last_entry=last_entry, last_posting=last_posting):
            p, p_end = 0, len(postings)
            for seq, value_date, kind, narration, reversal_of in entries:
                while p < p_end and postings[p][0] < seq:  # no entry: nothing to export
                    p += 1
                lines = []
                while p < p_end and postings[p][0] == seq:
                    _, account_id, side, amount = postings[p]
                    p += 1
                    signed = amount if side == debit else -amount
                    if type(signed) is not int:
                        format_minor(signed, currency)  # refuses it, as it always has
                    whole, fraction = divmod(-signed if signed < 0 else signed, scale)
                    sign = "-" if signed < 0 else ""
                    lines.append(f"{heads[account_id]}{sign}{whole}.{fraction:0{digits}d}{tail}"
                                 if digits else f"{heads[account_id]}{sign}{whole}{tail}")
                on = value_date if type(value_date) is str else value_date.isoformat()
                reversal = "" if reversal_of is None else f"  reversal_of: {reversal_of}\n"
                said = (_quote(narration) if '"' in narration or "\\" in narration
                        else f'"{narration}"')
                chunk.append(f'{on} * {said}\n  seq: {seq}\n  kind: "{kind}"\n'
                             f'{reversal}{"".join(lines)}\n')
                if len(chunk) == CHUNK_ENTRIES:
                    yield "".join(chunk)
                    chunk = []
    finally:
        cursor.close()
    if chunk:
        yield "".join(chunk)
