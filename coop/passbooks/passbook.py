"""The savings passbook as a PDF: a front page, then the lines Date | Particulars |
Withdrawals | Deposits | Balance, a set number per page, each page after the first opening
with the balance brought forward (DESIGN.md §9).

It is discreet by design: the society's printed name and the member number, never a personal
name, so a passbook found by someone else tells them nothing about its owner. Lines sit at fixed
positions on the page (line n of a page is always at the same height), which is what printing
into a physical book needs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reportlab.lib.pagesizes import A5, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from coop.errors import InvalidInput
from coop.ledger import queries
from coop.money import grouped, minor_digits
from coop.savings import statement
from coop.society import get_society

LINES_PER_PAGE = 14
MARGIN = 12 * mm
ROW = 7.5 * mm
PARTICULARS_WIDTH = 76 * mm


@dataclass(frozen=True, slots=True)
class Line:
    on: date
    particulars: str
    withdrawal_minor: int
    deposit_minor: int
    balance_minor: int


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    brought_forward_minor: int | None
    lines: tuple[Line, ...]


def pages(lines: Sequence[Line], *, per_page: int = LINES_PER_PAGE,
          opening_minor: int = 0) -> list[Page]:
    """The lines laid out on pages; every page after the first starts with the balance
    brought forward from the last line of the page before."""
    result: list[Page] = []
    for start in range(0, max(len(lines), 1), per_page):
        chunk = tuple(lines[start:start + per_page])
        forward = opening_minor if start == 0 and opening_minor else None
        if start:
            forward = lines[start - 1].balance_minor
        result.append(Page(len(result) + 1, forward, chunk))
    return result


def _fit(text: str, size: int = 10) -> str:
    """The text, shortened with an ellipsis if it would run into the amounts."""
    if stringWidth(text, "Helvetica", size) <= PARTICULARS_WIDTH:
        return text
    while text and stringWidth(text + "...", "Helvetica", size) > PARTICULARS_WIDTH:
        text = text[:-1]
    return text.rstrip() + "..."


def _amount(minor: int, exponent: int, locale: str) -> str:
    return grouped(Decimal(minor).scaleb(-exponent), locale) if minor else ""


def passbook_pdf(lines: Sequence[Line], *, society_name: str, member_code: str,
                 currency: str, exponent: int, locale: str, printed_on: date,
                 chain_head: tuple[int, str], per_page: int = LINES_PER_PAGE) -> bytes:
    buffer = io.BytesIO()
    size = landscape(A5)  # an open passbook: 210 x 148 mm
    canvas = Canvas(buffer, pagesize=size, pageCompression=1)
    canvas.setTitle(f"Passbook {member_code}")
    canvas.setAuthor(society_name)
    width, height = size
    # the front page
    canvas.setFont("Helvetica-Bold", 18)
    canvas.drawCentredString(width / 2, height - 30 * mm, society_name)
    canvas.setFont("Helvetica", 14)
    canvas.drawCentredString(width / 2, height - 42 * mm, "Savings passbook")
    canvas.setFont("Helvetica-Bold", 24)
    canvas.drawCentredString(width / 2, height - 65 * mm, member_code)
    canvas.setFont("Helvetica", 11)
    canvas.drawCentredString(width / 2, height - 76 * mm, f"Account 2000:{member_code}")
    canvas.drawCentredString(width / 2, height - 83 * mm, f"Amounts in {currency}")
    seq, digest = chain_head
    canvas.setFont("Helvetica", 8)
    canvas.drawCentredString(width / 2, MARGIN, f"Printed {printed_on.isoformat()}; "
                                                f"books at entry {seq}: {digest[:16]}")
    canvas.showPage()
    columns = (("Date", MARGIN, "left"), ("Particulars", MARGIN + 20 * mm, "left"),
               ("Withdrawals", width - MARGIN - 60 * mm, "right"),
               ("Deposits", width - MARGIN - 30 * mm, "right"),
               ("Balance", width - MARGIN, "right"))
    for page in pages(lines, per_page=per_page):
        top = height - MARGIN
        canvas.setFont("Helvetica-Bold", 10)
        for title, x, align in columns:
            (canvas.drawString if align == "left" else canvas.drawRightString)(x, top, title)
        canvas.line(MARGIN, top - 2 * mm, width - MARGIN, top - 2 * mm)
        canvas.setFont("Helvetica", 10)
        y = top - ROW
        if page.brought_forward_minor is not None:
            canvas.drawString(columns[1][1], y, "Brought forward")
            canvas.drawRightString(columns[4][1], y,
                                   _amount(page.brought_forward_minor, exponent, locale)
                                   or "0")
        for row, line in enumerate(page.lines, start=1):
            y = top - ROW * (row + 1)
            canvas.drawString(columns[0][1], y, line.on.strftime("%d-%m-%y"))
            canvas.drawString(columns[1][1], y, _fit(line.particulars))
            canvas.drawRightString(columns[2][1], y,
                                   _amount(line.withdrawal_minor, exponent, locale))
            canvas.drawRightString(columns[3][1], y, _amount(line.deposit_minor, exponent, locale))
            canvas.drawRightString(columns[4][1], y,
                                   _amount(line.balance_minor, exponent, locale) or "0")
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(width - MARGIN, MARGIN, f"{member_code}  page {page.number}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def member_passbook(session: Session, code: str, *, printed_on: date) -> bytes:
    """Her whole passbook from the books: every savings line with its running balance."""
    society = get_society(session)
    book = queries.book(session)
    if society is None or book is None:
        raise InvalidInput("the society has not been set up: run `coop init`")
    lines = [Line(s.value_date, s.narration, s.withdrawal_minor, s.deposit_minor,
                  s.balance_minor) for s in statement(session, code)]
    return passbook_pdf(lines, society_name=society.name, member_code=code,
                        currency=society.currency, exponent=minor_digits(society.currency),
                        locale=society.locale, printed_on=printed_on,
                        chain_head=(book.head_seq, book.head_hash))
