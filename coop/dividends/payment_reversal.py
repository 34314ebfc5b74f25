"""Reversing a paid dividend's payment (the admin): the one way a `dividend_payment` entry
is undone. Every payment entry of the year is reversed in one transaction and the
declaration goes back to `declared`, so it can be paid again or cancelled (and then the year
reopened). Each reversal is dated as its payment was, or today when a close has locked that
day since (the same rule as a cancellation's reversal of the appropriation).

Refused (409, naming the member number and the figure) where a member's savings no longer
hold her dividend (she has withdrawn it) or would fall below her holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop import savings
from coop.clock import Clock
from coop.dividends.declarations import PAYMENT_NARRATION
from coop.dividends.errors import DividendStateConflict
from coop.dividends.orm import DeclarationRow
from coop.dividends.year_end import serialise
from coop.errors import Conflict
from coop.ledger import EntryDraft, post_many, queries
from coop.ledger.model import PostedEntry, Side, reversed_postings
from coop.ledger.orm import entry_table
from coop.members import get_member, savings_account
from coop.money import Amount
from coop.society import book_currency

BATCH = 5000


@dataclass(frozen=True)
class PaymentReversal:
    fiscal_year: int
    status: str  # "declared" again
    entries_reversed: int


def reverse_dividend_payment(session: Session, name: int, *, actor: str,
                             clock: Clock) -> PaymentReversal:
    """Undo the payment of year `name`'s dividend (see the module docstring)."""
    serialise(session)
    row = session.execute(select(DeclarationRow).where(
        DeclarationRow.fiscal_year == name, DeclarationRow.status == "paid")
        .order_by(DeclarationRow.id.desc()).execution_options(populate_existing=True)).scalar()
    if row is None or row.status != "paid":
        raise DividendStateConflict.said("no paid dividend for {year} to reverse", year=name)
    entries = standing_payments(session, name)
    currency = book_currency(session)
    paid = [(entry, *_credited(entry)) for entry in entries]
    for _, code, amount in paid:
        balance = queries.balance(session, savings_account(code)) or 0
        if amount > balance:
            raise Conflict.said("{code}'s savings are {balance}, less than her dividend of "
                                "{amount}", code=code, balance=Amount(balance, currency),
                                amount=Amount(amount, currency))
    book = queries.book(session)
    closed = book.closed_through if book else None
    drafts = [EntryDraft(
        value_date=entry.value_date if closed is None or entry.value_date > closed
        else clock.today(), kind="reversal", actor=actor,
        narration=f"Reversal of entry {entry.id}: dividend {name} payment reversed",
        postings=reversed_postings(entry.postings), reversal_of=entry.id)
        for entry in entries]
    for first in range(0, len(drafts), BATCH):
        post_many(session, drafts[first:first + BATCH], clock=clock)
    for _, code, amount in paid:  # under the accounts' locks now
        balance = queries.balance(session, savings_account(code)) or 0
        on_hold = savings.held(session, get_member(session, code).id)
        if on_hold > balance:
            raise Conflict.said(
                "{code} has {held} on hold; taking back her dividend of {amount} would leave "
                "{balance}", code=code, held=Amount(on_hold, currency),
                amount=Amount(amount, currency), balance=Amount(balance, currency))
    row.status = "declared"
    row.payment_entries = 0
    row.paid_at = None
    session.flush()
    return PaymentReversal(name, row.status, len(drafts))


def standing_payments(session: Session, name: int) -> list[PostedEntry]:
    """Year `name`'s dividend payment entries not reversed."""
    reversal = entry_table.alias("reversal")
    ids = list(session.execute(
        select(entry_table.c.id)
        .outerjoin(reversal, reversal.c.reversal_of == entry_table.c.id)
        .where(entry_table.c.kind == "dividend_payment",
               entry_table.c.narration == PAYMENT_NARRATION.format(year=name),
               reversal.c.id.is_(None))
        .order_by(entry_table.c.id)).scalars())
    return queries.load_entries(session, ids)


def _credited(entry: PostedEntry) -> tuple[str, int]:
    """(member number, amount) of a payment entry: the credit to her savings."""
    line = next(p for p in entry.postings if p.side is Side.CREDIT)
    return line.account.partition(":")[2], line.amount_minor
