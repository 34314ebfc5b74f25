"""The dividend declarations against the ledger (`coop verify` runs it).

* A declared or paid declaration's appropriation entry posts exactly the stored figures:
  Dr 3900 the net surplus, Cr each fund, 2100 what members get, 3200 the rest. A pending
  one has posted nothing yet, and a rejected or cancelled one is undone or never was.
* A declared, unpaid one has no standing payment entries (a reversed payment's are reversed).
* A paid declaration's payment entries credit each member exactly her stored dividend and
  rebate, to no one else; the stored members' totals add up to what was appropriated to
  them; and there are as many payment entries as the declaration says.

One read of the declarations, one of their appropriation entries, one of the payments.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.dividends.declarations import PAYMENT_NARRATION, appropriation_postings
from coop.dividends.orm import DeclarationRow
from coop.dividends.previews import load_preview
from coop.ledger import queries
from coop.ledger.chart import DIVIDENDS_PAYABLE, SAVINGS
from coop.ledger.model import Side
from coop.ledger.orm import account_table, entry_table, posting_table
from coop.members import savings_account
from coop.money import format_minor
from coop.society import book_currency


def reconcile(session: Session) -> list[tuple[str | None, str]]:
    """(account or None, problem) for each way a live declaration differs from the ledger."""
    rows = session.execute(select(DeclarationRow).where(
        DeclarationRow.status.in_(("declared", "paid")))
        .order_by(DeclarationRow.fiscal_year)).scalars().all()
    if not rows:
        return []
    currency = book_currency(session)

    def money(amount: int) -> str:
        return format_minor(amount, currency)

    entries = {entry.id: entry for entry in queries.load_entries(
        session, [row.appropriation_entry_id for row in rows
                  if row.appropriation_entry_id is not None])}
    paid = _payments(session, {PAYMENT_NARRATION.format(year=row.fiscal_year)
                               for row in rows})
    problems: list[tuple[str | None, str]] = []
    for row in rows:
        year = row.fiscal_year
        stored = load_preview(row.preview_json)
        expected = Counter((p.account, Side(p.side), p.amount_minor)
                           for p in appropriation_postings(stored))
        entry = entries.get(row.appropriation_entry_id or 0)
        posted = Counter((p.account, p.side, p.amount_minor)
                         for p in (entry.postings if entry else ()))
        if posted != expected:
            problems.append((None, (
                f"dividend {year}: the appropriation entry {row.appropriation_entry_id} does "
                f"not post the stored figures (net surplus {money(stored.net_surplus)}, "
                f"to members {money(stored.allocated + stored.rebate_allocated)}, "
                f"undistributed {money(stored.undistributed)})")))
        if row.status != "paid":
            standing = paid.get(PAYMENT_NARRATION.format(year=year), {})
            if standing:
                problems.append((DIVIDENDS_PAYABLE, (
                    f"dividend {year}: {row.status}, not paid, but the ledger has "
                    f"{money(sum(amount for _, amount in standing.values()))} paid to "
                    f"{len(standing)} member(s)")))
            continue
        owed = {share.member_code: share.total for share in stored.members if share.total}
        pool = stored.allocated + stored.rebate_allocated
        if sum(owed.values()) != pool:
            problems.append((DIVIDENDS_PAYABLE, (
                f"dividend {year}: the members' stored allocations add up to "
                f"{money(sum(owed.values()))}, the stored pool is {money(pool)}")))
        credited = paid.get(PAYMENT_NARRATION.format(year=year), {})
        for code in sorted(credited.keys()):
            count, amount = credited[code]
            if code not in owed or amount != owed[code] or count != 1:
                problems.append((savings_account(code), (
                    f"dividend {year} {code}: the register says "
                    f"{money(owed.get(code, 0))}, the ledger paid {money(amount)}"
                    f"{f' in {count} entries' if count != 1 else ''}")))
        made = sum(count for count, _ in credited.values())
        if made != row.payment_entries:
            problems.append((DIVIDENDS_PAYABLE, (
                f"dividend {year}: {row.payment_entries} payment entries recorded, the ledger "
                f"has {made}")))
    return problems


def _payments(session: Session, narrations: set[str]) -> dict[str, dict[str, tuple[int, int]]]:
    """By payment narration (one per year), each member's savings credits from dividend
    payment entries that stand (a reversed payment is not counted): (entries, amount)."""
    if not narrations:
        return {}
    savings = select(account_table.c.id).where(account_table.c.code == SAVINGS)
    reversal = entry_table.alias("reversal")
    found: dict[str, dict[str, tuple[int, int]]] = {}
    for narration, owner, amount in session.execute(
        select(entry_table.c.narration, account_table.c.owner, posting_table.c.amount_minor)
        .join(posting_table, posting_table.c.entry_id == entry_table.c.id)
        .join(account_table, account_table.c.id == posting_table.c.account_id)
        .outerjoin(reversal, reversal.c.reversal_of == entry_table.c.id)
        .where(entry_table.c.kind == "dividend_payment", reversal.c.id.is_(None),
               entry_table.c.narration.in_(sorted(narrations)),
               posting_table.c.side == Side.CREDIT.value,
               account_table.c.parent_id.in_(savings))
    ):
        by_member = found.setdefault(str(narration), {})
        count, total = by_member.get(str(owner), (0, 0))
        by_member[str(owner)] = (count + 1, total + int(amount))
    return found
