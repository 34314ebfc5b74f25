"""What the one-off documents share (loan card, share certificate, dividend statement): the
page, large type in her language, tables of Paragraph cells (so Indic text is shaped), and a
footer on every page with the printing date, the chain head and the verification code."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, A5, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, SimpleDocTemplate, Table, TableStyle
from sqlalchemy.orm import Session

from coop.ledger import queries
from coop.members import MemberRow
from coop.money import amount_formatter, minor_digits
from coop.passbooks.typeset import Typesetter, is_complex
from coop.passbooks.verification import draw_qr, payload
from coop.society import NOT_SET_UP, Society, SocietyNotSetUp, require_society

BODY = 12  # points: large type for readers with weak eyes or little schooling
QR = 16 * mm


@dataclass(frozen=True)
class Context:
    """A document's society, language, money format and chain head."""

    society: Society
    type: Typesetter
    head: tuple[int, str]
    money: Callable[[int], str]  # minor units -> grouped digits in the society's locale


def context(session: Session, member: MemberRow, language: str | None = None) -> Context:
    society = require_society(session)
    book = queries.book(session)
    if book is None:  # pragma: no cover - require_society found the book
        raise SocietyNotSetUp(NOT_SET_UP)
    chosen = language or member.language or society.settings.language
    return Context(society, Typesetter(chosen), (book.head_seq, book.head_hash),
                   amount_formatter(society.locale, minor_digits(society.currency)))


def facts_table(ctx: Context, rows: Sequence[Sequence[str]], widths_mm: Sequence[int]) -> Table:
    """Label | value pairs (two or four columns), labels bold."""
    p = ctx.type.paragraph
    cells = [[p(text, BODY, bold=index % 2 == 0) for index, text in enumerate(row)]
             for row in rows]
    table = Table(cells, colWidths=[width * mm for width in widths_mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.5, colors.black)]))
    return table


def grid(ctx: Context, rows: Sequence[Sequence[str]], widths_mm: Sequence[int], *,
         numbers_from: int, size: int = BODY - 1) -> Table:
    """A table with a bold heading row, repeated on each page; numbers right-aligned.
    Cells of dates and amounts are plain strings (a Paragraph per cell would cost most of
    a loan card's time); only text that needs shaping becomes a Paragraph."""
    type_ = ctx.type
    cells = [[type_.paragraph(text, size, bold=index == 0,
                              align="right" if column >= numbers_from else "left")
              if is_complex(text) else text
              for column, text in enumerate(row)] for index, row in enumerate(rows)]
    table = Table(cells, colWidths=[width * mm for width in widths_mm], repeatRows=1)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("FONT", (0, 0), (-1, -1), type_.latin[False], size),
                               ("FONT", (0, 0), (-1, 0), type_.latin[True], size),
                               ("ALIGN", (numbers_from, 0), (-1, -1), "RIGHT"),
                               ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                               ("TOPPADDING", (0, 0), (-1, -1), 2),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))
    return table


def build(ctx: Context, story: list[Flowable], *, title: str, code: str, document: str,
          printed_on: date, size: str = "A5") -> bytes:
    """The PDF: `story` on A5 landscape (or A4), the footer and code on every page.
    `document` names it in the verification code ("loan-12", "shares", "dividend-2025")."""
    pagesize = landscape(A5) if size == "A5" else A4
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer, pagesize=pagesize, leftMargin=14 * mm, rightMargin=14 * mm, topMargin=12 * mm,
        bottomMargin=12 * mm + QR, title=title, author=ctx.society.name, invariant=1,
        lang=ctx.type.language)
    seq, digest = ctx.head
    code_text = payload(code, document, seq, digest)
    printed = ctx.type.tr("Printed {date}", date=printed_on.strftime("%d-%m-%Y"))
    page_words = ctx.type.tr

    def footer(canvas: Canvas, doc: Any) -> None:
        width = pagesize[0]
        draw_qr(canvas, code_text, width - 14 * mm - QR, 8 * mm, QR)
        ctx.type.draw(canvas, f"{code}   {page_words('Page {page}', page=doc.page)}",
                      14 * mm, 8 * mm + 11, BODY - 2, bold=True)
        ctx.type.draw(canvas, f"{printed}   #{seq} {digest[:16]}", 14 * mm, 8 * mm,
                      BODY - 3)

    template.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


__all__ = ["BODY", "Context", "build", "context", "facts_table", "grid"]
