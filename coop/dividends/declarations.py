"""Declaring, paying and cancelling a year's dividend (DESIGN.md §8).

* **Declaration** (the board) stores the preview, in minor units, and posts the
  appropriation: Dr 3900 the net surplus; Cr 3100, 3110, 3120 the funds, 2100 Dividends
  payable what members get, 3200 Undistributed surplus the rest and the residues.
* **Payment**: Dr 2100, Cr each active member's savings, one entry per member. A member who
  has left keeps hers in 2100 until paid out by hand.
* **Cancellation** of a declared, unpaid dividend is the ledger's reversal of the
  appropriation entry, so the year may be declared again. The reversal is dated as the
  declaration was; if a later year's close has locked that day since, it is dated today,
  still linked to the appropriation as its one reversal.

One declaration per year is live (declared or paid); a cancelled one stays on record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.dividends.errors import DividendStateConflict
from coop.dividends.orm import DeclarationRow
from coop.dividends.previews import Preview, Request, load_preview, preview, stored_preview
from coop.dividends.year_end import get_close, serialise
from coop.errors import InvalidInput, NotFound
from coop.ledger import EntryDraft, PostingDraft, credit, debit, post, queries, reverse
from coop.ledger.chart import CURRENT_YEAR_SURPLUS, DIVIDENDS_PAYABLE, UNDISTRIBUTED_SURPLUS
from coop.ledger.model import PostedEntry, reversed_postings
from coop.ledger.service import post_many
from coop.members import member_facts, savings_account
from coop.society import Society

PAYMENT_BATCH = 5000
PAYMENT_NARRATION = "Dividend and rebate, fiscal year {year}"


@dataclass(frozen=True)
class Declaration:
    """A year's declaration as it stands, with the distribution it declared."""

    fiscal_year: int
    status: str  # declared, paid, cancelled
    resolution: str | None
    appropriation_entry_id: int
    cancellation_entry_id: int | None
    payment_entries: int
    declared_by: str
    declared_at: datetime
    paid_at: datetime | None
    preview: Preview


def _declaration(row: DeclarationRow) -> Declaration:
    return Declaration(row.fiscal_year, row.status, row.resolution, row.appropriation_entry_id,
                       row.cancellation_entry_id, row.payment_entries, row.declared_by,
                       row.declared_at, row.paid_at, load_preview(row.preview_json))


def _current(session: Session, name: int) -> DeclarationRow | None:
    return session.execute(select(DeclarationRow).where(
        DeclarationRow.fiscal_year == name, DeclarationRow.status != "cancelled")
        .order_by(DeclarationRow.id.desc())).scalar()


def declare_dividend(session: Session, name: int, request: Request, *, society: Society,
                     resolution: str | None, actor: str, clock: Clock) -> Declaration:
    """The board declares: the preview is stored and the appropriation posted."""
    serialise(session)
    get_close(session, name)  # 409 before the year is closed
    if _current(session, name) is not None:
        raise DividendStateConflict(f"a dividend for {name} has been declared already")
    result = preview(session, name, request, society=society)
    postings = appropriation_postings(result)
    if len(postings) < 2:
        raise InvalidInput(f"fiscal year {name} has no surplus to appropriate", field="fy")
    entry = post(session, EntryDraft(
        value_date=clock.today(), kind="dividend_declaration", actor=actor,
        narration=f"Fiscal year {name}: surplus appropriated, dividend "
                  f"{result.rate} % declared", postings=tuple(postings)), clock=clock)
    row = DeclarationRow(
        fiscal_year=name, status="declared", request_json=request.to_json(),
        preview_json=stored_preview(result), resolution=resolution,
        appropriation_entry_id=entry.id, cancellation_entry_id=None, payment_entries=0,
        declared_by=actor, declared_at=clock.now(), paid_at=None)
    session.add(row)
    session.flush()
    return _declaration(row)


def appropriation_postings(result: Preview) -> list[PostingDraft]:
    """Dr 3900 the surplus; Cr the funds, 2100 what members get, 3200 the rest. Nothing for
    a loss or a nil year."""
    if result.net_surplus <= 0:
        return []
    postings = [debit(CURRENT_YEAR_SURPLUS, result.net_surplus)]
    postings += [credit(fund.account, fund.amount) for fund in result.appropriations
                 if fund.amount]
    payable = result.allocated + result.rebate_allocated
    if payable:
        postings.append(credit(DIVIDENDS_PAYABLE, payable))
    if result.undistributed:
        postings.append(credit(UNDISTRIBUTED_SURPLUS, result.undistributed))
    return postings


def get_declaration(session: Session, name: int) -> Declaration:
    """The live declaration of the year, else the latest cancelled one; NotFound if none."""
    row = _current(session, name) or session.execute(
        select(DeclarationRow).where(DeclarationRow.fiscal_year == name)
        .order_by(DeclarationRow.id.desc())).scalar()
    if row is None:
        raise NotFound(f"no dividend has been declared for {name}", field="fy")
    return _declaration(row)


def pay_dividend(session: Session, name: int, *, actor: str, clock: Clock) -> Declaration:
    """Every active member's dividend and rebate into her savings: Dr 2100, Cr her savings."""
    serialise(session)
    row = _current(session, name)
    if row is None:
        raise DividendStateConflict(f"no dividend for {name} is declared")
    if row.status != "declared":
        raise DividendStateConflict(f"the dividend for {name} is {row.status}")
    active = _active_members(session)
    drafts = [EntryDraft(
        value_date=clock.today(), kind="dividend_payment", actor=actor,
        narration=PAYMENT_NARRATION.format(year=name),
        postings=(debit(DIVIDENDS_PAYABLE, share.total),
                  credit(savings_account(share.member_code), share.total)))
        for share in load_preview(row.preview_json).members
        if share.total and share.member_code in active]
    for first in range(0, len(drafts), PAYMENT_BATCH):
        post_many(session, drafts[first:first + PAYMENT_BATCH], clock=clock)
    row.status = "paid"
    row.payment_entries = len(drafts)
    row.paid_at = clock.now()
    session.flush()
    return _declaration(row)


def _active_members(session: Session) -> set[str]:
    """The numbers of the members who have not left, from `coop.members`."""
    return {facts.code for facts in member_facts(session).values()
            if facts.status == "active"}


def cancel_dividend(session: Session, name: int, *, actor: str, clock: Clock) -> Declaration:
    """Undo a declared, unpaid dividend: the appropriation entry is reversed."""
    serialise(session)
    row = _current(session, name)
    if row is None or row.status != "declared":
        raise DividendStateConflict(f"no declared, unpaid dividend for {name} to cancel")
    entry = _reverse_appropriation(session, row.appropriation_entry_id,
                                   reason=f"Fiscal year {name}: dividend declaration cancelled",
                                   actor=actor, clock=clock)
    row.status = "cancelled"
    row.cancellation_entry_id = entry.id
    session.flush()
    return _declaration(row)


def _reverse_appropriation(session: Session, entry_id: int, *, reason: str, actor: str,
                           clock: Clock) -> PostedEntry:
    """The ledger's reversal, on the declaration's own date. When a later year's close has
    locked that date since, a reversal cannot be dated there: the same negation, linked as
    the entry's one reversal, is dated today (where the cancellation was always dated)."""
    original = queries.load_entry(session, entry_id)
    if original is None:
        raise NotFound("the appropriation entry is missing")
    book = queries.book(session)
    if book is None or book.closed_through is None or original.value_date > book.closed_through:
        return reverse(session, entry_id, reason=reason, actor=actor, clock=clock)
    return post(session, EntryDraft(
        value_date=clock.today(), kind="reversal", actor=actor,
        narration=f"Reversal of entry {entry_id}: {reason}",
        postings=reversed_postings(original.postings), reversal_of=entry_id), clock=clock)
