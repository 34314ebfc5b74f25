"""`coop verify`'s check of the till register against the journal.

For each till, from its sub-account's postings (not the cached counters):
- the opening float is what its `till_open` entry moved from the safe;
- an open till's figures need nothing more (its cash is its balance);
- a counted till: the expected cash is what its counter work left in it (all its postings but
  the close and the difference), the variance is counted less expected, the close moved the
  counted cash (at most the expected) back to the safe;
- a till waiting for approval still holds the shortage (nothing if it was over);
- a closed till holds nothing, and a difference has its `till_variance` entry of that amount
  on 5400 Cash shortages or 4400 Cash overages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.ledger.chart import CASH, CASH_OVERAGES, CASH_SHORTAGES
from coop.ledger.orm import account_table, entry_table, posting_table
from coop.money import format_minor
from coop.society import book_currency
from coop.tills.orm import TillRow


def _postings(session: Session, codes: list[str]) -> dict[str, list[tuple[int, str, str, int]]]:
    """Each till account's postings as (entry id, entry kind, side, amount)."""
    found: dict[str, list[tuple[int, str, str, int]]] = defaultdict(list)
    if not codes:
        return found
    rows = session.execute(
        select(account_table.c.code, posting_table.c.entry_id, entry_table.c.kind,
               posting_table.c.side, posting_table.c.amount_minor)
        .join(account_table, account_table.c.id == posting_table.c.account_id)
        .join(entry_table, entry_table.c.id == posting_table.c.entry_id)
        .where(account_table.c.code.in_(codes)))
    for code, entry_id, kind, side, amount in rows:
        found[code].append((int(entry_id), kind, side, int(amount)))
    return found


def _entry_lines(session: Session, entry_id: int | None) -> tuple[str | None, set[tuple[
        str, str, int]]]:
    if entry_id is None:
        return None, set()
    kind = session.execute(
        select(entry_table.c.kind).where(entry_table.c.id == entry_id)).scalar()
    lines = session.execute(
        select(account_table.c.code, posting_table.c.side, posting_table.c.amount_minor)
        .join(account_table, account_table.c.id == posting_table.c.account_id)
        .where(posting_table.c.entry_id == entry_id)).all()
    return kind, {(code, side, int(amount)) for code, side, amount in lines}


def reconcile(session: Session) -> Sequence[tuple[str | None, str]]:
    rows = list(session.execute(select(TillRow).order_by(TillRow.id)).scalars())
    if not rows:
        return []
    currency = book_currency(session)
    postings = _postings(session, [r.account_code for r in rows])
    problems: list[tuple[str | None, str]] = []

    def money(minor: int | None) -> str:
        return "nothing" if minor is None else format_minor(minor, currency)

    for row in rows:
        name = f"till {row.id} ({row.username})"

        def say(message: str, row: TillRow = row, name: str = name) -> None:
            problems.append((row.account_code, f"{name}: {message}"))

        lines = postings.get(row.account_code, [])
        balance = sum(a if side == "debit" else -a for _, _, side, a in lines)
        worked = sum(a if side == "debit" else -a for _, kind, side, a in lines
                     if kind not in ("till_close", "till_variance"))
        moved_in = sum(a for _, kind, side, a in lines if kind == "till_open" and side == "debit")
        if moved_in != row.opening_float_minor:
            say(f"opening float {money(row.opening_float_minor)} but the journal moved "
                f"{money(moved_in)} from the safe")
        if row.status == "open":
            continue
        expected, counted, variance = (row.expected_at_close_minor, row.counted_minor,
                                       row.variance_minor)
        if expected is None or counted is None or variance is None:
            say(f"is {row.status} but has no count")
            continue
        if expected != worked:
            say(f"expected cash {money(expected)} but its postings left {money(worked)}")
        if variance != counted - expected:
            say(f"difference {money(variance)} but counted {money(counted)} less expected "
                f"{money(expected)} is {money(counted - expected)}")
        back = sum(a for _, kind, side, a in lines if kind == "till_close" and side == "credit")
        if back != min(counted, worked):
            say(f"counted {money(counted)} but {money(back)} went back to the safe")
        if row.status == "variance_pending":
            holds = max(worked - counted, 0)
            if balance != holds:
                say(f"waits for approval holding {money(holds)} but its account holds "
                    f"{money(balance)}")
            continue
        if balance != 0:
            say(f"is closed but its account holds {money(balance)}")
        if variance:
            kind, entry = _entry_lines(session, row.variance_entry_id)
            want = ({(CASH_SHORTAGES, "debit", -variance),
                     (row.account_code, "credit", -variance)} if variance < 0 else
                    {(CASH, "debit", variance), (CASH_OVERAGES, "credit", variance)})
            if kind != "till_variance" or entry != want:
                say(f"difference {money(variance)} approved but entry "
                    f"{row.variance_entry_id} does not post it")
    return problems
