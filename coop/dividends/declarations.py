"""Declaring, paying and cancelling a year's dividend (DESIGN.md §8).

* **Declaration** (the board) names the preview it declares (its `preview_digest`: refused
  when the figures it would post differ, so what is declared is what was seen) and the
  general body's resolution (a number and a date). It stores the preview, in minor units,
  and posts the appropriation: Dr 3900 the net surplus; Cr 3100, 3110, 3120 the funds, 2100
  Dividends payable what members get, 3200 Undistributed surplus the rest and the residues.
* **Board approvals**: the declaration is a subject of the board's votes
  (`coop.board`, kind `dividend_declaration`). A board member who declares casts the first
  approving vote; while approvals are fewer than the society's
  `dividend_approvals_required` the declaration is `pending` and posts nothing. The vote
  that brings the last approval needed posts the appropriation, after checking that the
  figures still come out as they were put forward; a declaration that can no longer be
  approved is `rejected` and the year may be declared afresh. Every step runs under
  `serialise`, so two last votes at once declare once: the second finds it declared (409).
  The CLI and the demo declare with no board member: one approval required, it is declared;
  more, it waits for the board's votes.
* **Payment**: Dr 2100, Cr each active member's savings, one entry per member. A member who
  has left keeps hers in 2100 until paid out by hand.
* **Cancellation** of a pending declaration withdraws it (nothing was posted); of a declared,
  unpaid dividend it is the ledger's reversal of the appropriation entry, so the year may be
  declared again. The reversal is dated as the declaration was; if a later year's close has
  locked that day since, it is dated today, still linked to the appropriation as its one
  reversal.

One declaration per year is live (pending, declared or paid); a cancelled or rejected one
stays on record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop import board
from coop.clock import Clock
from coop.dividends.errors import DividendStateConflict, PreviewChanged
from coop.dividends.orm import DeclarationRow
from coop.dividends.previews import (
    Preview,
    Request,
    load_preview,
    preview,
    preview_digest,
    stored_preview,
)
from coop.dividends.year_end import get_close, serialise
from coop.errors import InvalidInput, NotFound, require
from coop.ledger import EntryDraft, PostingDraft, credit, debit, post, queries, reverse
from coop.ledger.chart import CURRENT_YEAR_SURPLUS, DIVIDENDS_PAYABLE, UNDISTRIBUTED_SURPLUS
from coop.ledger.model import PostedEntry, check_text, reversed_postings
from coop.ledger.service import post_many
from coop.members import member_facts, savings_account
from coop.society import Society, require_society

PAYMENT_BATCH = 5000
PAYMENT_NARRATION = "Dividend and rebate, fiscal year {year}"
ENDED = ("cancelled", "rejected")
"""A declaration in one of these is on record only: the year may be declared again."""
RESOLUTION_NUMBER_LENGTH_MAX = 40
SUBJECT_KIND = "dividend_declaration"


@dataclass(frozen=True)
class Resolution:
    """The general body's resolution that the board records: its number and the date it was
    passed (None only for a declaration stored before the date was asked for)."""

    number: str
    on: date | None


@dataclass(frozen=True)
class Voter:
    """A board member voting: her member number (None if her user has none) and username."""

    code: str | None
    username: str


@dataclass(frozen=True)
class Declaration:
    """A year's declaration as it stands, with the distribution it declared and its votes."""

    fiscal_year: int
    status: str  # pending, declared, paid, cancelled, rejected
    resolution: Resolution | None
    appropriation_entry_id: int | None
    cancellation_entry_id: int | None
    payment_entries: int
    declared_by: str
    declared_at: datetime
    paid_at: datetime | None
    preview: Preview
    approvals: int
    rejections: int
    approvals_required: int

    @property
    def preview_digest(self) -> str:
        return preview_digest(self.preview)


def check_resolution(number: str, on: date, *, today: date) -> Resolution:
    """The resolution as entered: a short number (free text, no control characters) and a
    date that has come."""
    text = check_text(number.strip(), field="resolution_number",
                      length_max=RESOLUTION_NUMBER_LENGTH_MAX)
    if not text:
        raise InvalidInput("the resolution's number is needed", field="resolution_number")
    if on > today:
        raise InvalidInput("the resolution's date has not come yet", field="resolution_date")
    return Resolution(text, on)


def _subject(row: DeclarationRow) -> board.Subject:
    return board.Subject(SUBJECT_KIND, row.id)


def _declaration(session: Session, row: DeclarationRow, required: int) -> Declaration:
    counts = board.tally_of(session, _subject(row))
    resolution = (Resolution(row.resolution_number, row.resolution_on)
                  if row.resolution_number is not None else None)
    return Declaration(row.fiscal_year, row.status, resolution, row.appropriation_entry_id,
                       row.cancellation_entry_id, row.payment_entries, row.declared_by,
                       row.declared_at, row.paid_at, load_preview(row.preview_json),
                       counts.approvals, counts.rejections, required)


def _row_in(session: Session, name: int, status: str) -> DeclarationRow:
    """The year's live declaration, which must be `status` (409 otherwise)."""
    row = _current(session, name)
    if row is not None and row.status == status:
        return row
    if row is None and status == "pending":
        raise DividendStateConflict.said("no dividend for {year} is waiting for the board's "
                                         "votes", year=name)
    if row is None:
        raise DividendStateConflict.said("no dividend for {year} has been declared", year=name)
    raise _already(row)


def _already(row: DeclarationRow) -> DividendStateConflict:
    """The refusal for a year whose dividend is `row`, live already."""
    if row.status == "pending":
        return DividendStateConflict.said("the dividend for {year} is waiting for the board's "
                                          "approvals", year=row.fiscal_year)
    if row.status == "declared":
        return DividendStateConflict.said("the dividend for {year} is declared already",
                                          year=row.fiscal_year)
    return DividendStateConflict.said("the dividend for {year} is paid already",
                                      year=row.fiscal_year)


def _current(session: Session, name: int) -> DeclarationRow | None:
    return session.execute(select(DeclarationRow).where(
        DeclarationRow.fiscal_year == name, DeclarationRow.status.not_in(ENDED))
        .order_by(DeclarationRow.id.desc())
        .execution_options(populate_existing=True)).scalar()


def declare_dividend(session: Session, name: int, request: Request, *, society: Society,
                     resolution: Resolution | None, actor: str, clock: Clock,
                     preview_digest: str | None = None, voter: Voter | None = None
                     ) -> Declaration:
    """The board declares what it previewed (see the module docstring): pending while more
    approvals are required, else the appropriation is posted."""
    serialise(session)
    get_close(session, name)  # 409 before the year is closed
    current = _current(session, name)
    if current is not None:
        raise _already(current)
    result = _checked_preview(session, name, request, society=society, digest=preview_digest)
    if len(appropriation_postings(result)) < 2:
        raise InvalidInput.said("fiscal year {year} has no surplus to appropriate", year=name,
                                field="fy")
    row = DeclarationRow(
        fiscal_year=name, status="pending", request_json=request.to_json(),
        preview_json=stored_preview(result),
        resolution_number=resolution.number if resolution else None,
        resolution_on=resolution.on if resolution else None, appropriation_entry_id=None,
        cancellation_entry_id=None, payment_entries=0, declared_by=actor,
        declared_at=clock.now(), paid_at=None)
    session.add(row)
    session.flush()
    required = society.settings.dividend_approvals_required
    if voter is not None:
        approved = _cast(session, row, voter, "approve", None, society=society,
                         clock=clock).status == "approved"
    else:
        approved = required <= 1  # the general body's decision, recorded from the CLI
    if approved:
        _post_appropriation(session, row, result, actor=actor, clock=clock)
    return _declaration(session, row, required)


def _checked_preview(session: Session, name: int, request: Request, *, society: Society,
                     digest: str | None) -> Preview:
    result = preview(session, name, request, society=society)
    if digest is not None and digest != preview_digest(result):
        raise PreviewChanged(
            "these are not the figures of the preview you saw (the rate, the rebate or the "
            "register changed since): preview again and declare what it shows",
            field="preview_digest")
    return result


def vote_on_declaration(session: Session, name: int, *, voter: Voter, decision: str,
                        note: str | None, society: Society, clock: Clock) -> Declaration:
    """A board member's vote on the year's pending declaration. The last approval needed
    posts the appropriation; a declaration that can no longer be approved is rejected."""
    serialise(session)
    row = _row_in(session, name, "pending")
    tally = _cast(session, row, voter, decision, note, society=society, clock=clock)
    if tally.status == "approved":
        stored = load_preview(row.preview_json)
        again = Request.from_json(row.request_json)
        _checked_preview(session, name, again, society=society, digest=preview_digest(stored))
        _post_appropriation(session, row, stored, actor=voter.username, clock=clock)
    elif tally.status == "rejected":
        row.status = "rejected"
        session.flush()
    return _declaration(session, row, society.settings.dividend_approvals_required)


def _cast(session: Session, row: DeclarationRow, voter: Voter, decision: str,
          note: str | None, *, society: Society, clock: Clock) -> board.Tally:
    """Every board member may vote on a dividend: all members share in it alike, so none has
    a conflict of interest the bylaws exclude."""
    return board.cast_vote(
        session, subject=_subject(row), voter_code=voter.code,
        voter_username=voter.username, decision=decision, note=note, excluded_member_ids={},
        required=society.settings.dividend_approvals_required,
        seats=society.settings.board_seats, clock=clock)


def _post_appropriation(session: Session, row: DeclarationRow, result: Preview, *,
                        actor: str, clock: Clock) -> None:
    require(row.status == "pending" and row.appropriation_entry_id is None,
            "a declaration posts its appropriation once")
    entry = post(session, EntryDraft(
        value_date=clock.today(), kind="dividend_declaration", actor=actor,
        narration=f"Fiscal year {row.fiscal_year}: surplus appropriated, dividend "
                  f"{result.rate} % declared", postings=tuple(appropriation_postings(result))),
        clock=clock)
    row.status = "declared"
    row.appropriation_entry_id = entry.id
    row.declared_at = clock.now()
    session.flush()


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
    """The live declaration of the year, else the latest cancelled or rejected one; NotFound
    if none."""
    row = _latest(session, name)
    required = require_society(session).settings.dividend_approvals_required
    return _declaration(session, row, required)


def declaration_votes(session: Session, name: int) -> list[board.VoteRow]:
    """Every board vote on the year's declaration (the live one, else the latest)."""
    return board.votes_on(session, _subject(_latest(session, name)))


def _latest(session: Session, name: int) -> DeclarationRow:
    row = _current(session, name) or session.execute(
        select(DeclarationRow).where(DeclarationRow.fiscal_year == name)
        .order_by(DeclarationRow.id.desc())).scalar()
    if row is None:
        raise NotFound.said("no dividend has been declared for {year}", year=name, field="fy")
    return row


def pay_dividend(session: Session, name: int, *, actor: str, clock: Clock) -> Declaration:
    """Every active member's dividend and rebate into her savings: Dr 2100, Cr her savings."""
    serialise(session)
    row = _row_in(session, name, "declared")
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
    return get_declaration(session, name)


def _active_members(session: Session) -> set[str]:
    """The numbers of the members who have not left, from `coop.members`."""
    return {facts.code for facts in member_facts(session).values()
            if facts.status == "active"}


def cancel_dividend(session: Session, name: int, *, actor: str, clock: Clock) -> Declaration:
    """Withdraw a pending declaration, or undo a declared, unpaid dividend: the appropriation
    entry is reversed."""
    serialise(session)
    row = _current(session, name)
    if row is None or row.status not in ("pending", "declared"):
        raise DividendStateConflict.said("no declared, unpaid dividend for {year} to cancel",
                                         year=name)
    if row.appropriation_entry_id is not None:
        entry = _reverse_appropriation(
            session, row.appropriation_entry_id,
            reason=f"Fiscal year {name}: dividend declaration cancelled", actor=actor,
            clock=clock)
        row.cancellation_entry_id = entry.id
    row.status = "cancelled"
    session.flush()
    return get_declaration(session, name)


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
