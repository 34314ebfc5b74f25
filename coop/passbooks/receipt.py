"""A receipt slip for one counter transaction, in the member's language: the society, the
date and time, her member number (never her name), what was done in the words of her
passbook, the amount in digits and in words, the balance after it, the clerk, and a
verification code (`COOP-PB1|<member>|receipt-<entry>|<entry>|<hash>`) that
POST /passbook-checks confirms against the journal. Two sizes: an 80 mm roll and A6."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.errors import NotFound
from coop.i18n.words import amount_words
from coop.ledger import PostedEntry, queries
from coop.loans import EventRow
from coop.members import account_owner, get_member, savings_account, shares_account
from coop.money import minor_digits
from coop.passbooks.narrations import particulars
from coop.passbooks.sheet import Context, context, embedded
from coop.passbooks.verification import draw_qr, payload

Size = Literal["roll", "a6"]
ROLL_WIDTH = 80 * mm
ROLL_HEIGHT = 115 * mm
QR_SIDE = 22 * mm


@dataclass(frozen=True)
class _Slip:
    title: str
    rows: list[tuple[str, str]]
    code: str


def _amount(entry: PostedEntry, code: str) -> int:
    """What moved for her: the largest posting to one of her accounts (a repayment's cash,
    a deposit's credit), which is the amount she handed over or received."""
    mine = [p.amount_minor for p in entry.postings if account_owner(p.account) == code]
    theirs = [p.amount_minor for p in entry.postings if account_owner(p.account) != code]
    return max(mine + theirs) if not mine else max(max(mine), max(theirs or [0]))


def _balance_after(session: Session, ctx: Context, entry: PostedEntry, code: str) -> str:
    tr, money = ctx.type.tr, ctx.money
    accounts = {p.account for p in entry.postings}
    if savings_account(code) in accounts:
        after = queries.balance_after_entry(session, savings_account(code), entry.id) or 0
        return tr("Savings {amount}", amount=money(after))
    if shares_account(code) in accounts:
        after = queries.balance_after_entry(session, shares_account(code), entry.id) or 0
        return tr("Shares {amount}", amount=money(after))
    event = session.scalars(select(EventRow).where(EventRow.entry_id == entry.id)).first()
    if event is not None:
        return tr("Loan {loan}: {amount} left to repay", loan=event.loan_id,
                  amount=money(event.outstanding_after))
    return ""


def _slip(session: Session, code: str, entry_id: int, *, timezone: str,
          language: str | None) -> tuple[Context, _Slip]:
    member = get_member(session, code)
    entry = queries.load_entry(session, entry_id)
    if entry is None or all(account_owner(p.account) != code for p in entry.postings):
        raise NotFound.said(
            "{code} has no entry {entry_id}",
            code=code, entry_id=entry_id, field="entry_id")
    ctx = context(session, member, language)
    tr, society = ctx.type.tr, ctx.society
    amount = _amount(entry, code)
    when = entry.posted_at.astimezone(ZoneInfo(timezone))
    words = amount_words(amount, minor_digits(society.currency), locale=society.locale,
                         language=ctx.type.language)
    rows = [(tr("Date"), when.strftime("%d-%m-%Y %H:%M")),
            (tr("Member number"), code),
            (tr("What"), particulars(tr, entry.kind, entry.narration, count=ctx.count)),
            (tr("Amount"), f"{ctx.money(amount)} {society.currency}"),
            (tr("In words"), words),
            (tr("After it"), _balance_after(session, ctx, entry, code)),
            (tr("Clerk"), entry.actor)]
    text = payload(code, f"receipt-{entry.id}", entry.id, entry.hash)
    return ctx, _Slip(tr("Receipt {number}", number=entry.id), rows, text)


def receipt(session: Session, code: str, entry_id: int, *, size: Size = "roll",
            timezone: str = "Asia/Kolkata", language: str | None = None) -> bytes:
    """The slip as a PDF (one page)."""
    ctx, slip = _slip(session, code, entry_id, timezone=timezone, language=language)
    width, height = (ROLL_WIDTH, ROLL_HEIGHT) if size == "roll" else A6
    margin = 4 * mm if size == "roll" else 7 * mm
    body = 10 if size == "roll" else 11
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer, pagesize=(width, height), leftMargin=margin, rightMargin=margin,
        topMargin=margin, bottomMargin=margin + QR_SIDE + 2 * mm,
        title=f"Receipt {entry_id} {code}", author=ctx.society.name, invariant=1,
        lang=ctx.type.language, initialFontName=ctx.type.latin[False])
    p = ctx.type.paragraph
    inner = width - 2 * margin
    # the amount and what she has after it are the figures she checks: bold and larger
    cells = [[p(label, body, bold=True),
              p(value, body + 2 if index in (3, 5) else body, bold=index in (3, 5))]
             for index, (label, value) in enumerate(slip.rows) if value]
    table = Table(cells, colWidths=[inner * 0.36, inner * 0.64])
    table.setStyle(TableStyle([*embedded(ctx), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 1),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.black)]))
    story: list[Flowable] = [p(ctx.society.name, body + 3, bold=True, align="centre"),
                             p(slip.title, body + 1, align="centre"), Spacer(1, 2 * mm),
                             table]

    def stamp(canvas: Canvas, _doc: object) -> None:
        draw_qr(canvas, slip.code, (width - QR_SIDE) / 2, margin, QR_SIDE)

    template.build(story, onFirstPage=stamp, onLaterPages=stamp)
    return buffer.getvalue()


__all__ = ["Size", "receipt"]
