"""What the one-off documents share (loan card, share certificate, dividend statement): the
page, large type in her language, tables of Paragraph cells (so Indic text is shaped), a large
box for the one figure she came for, and a footer on every page with her member number, the
page, the printing date and the verification code.

The face of a page carries nothing she cannot read: no ledger account code and no hash. The
chain head that makes a page checkable is in the QR code (coop.passbooks.verification), which
a board member scans."""

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
from coop.money import amount_formatter, count_formatter, minor_digits
from coop.passbooks.typeset import Typesetter, is_complex
from coop.passbooks.verification import draw_qr, payload
from coop.society import NOT_SET_UP, Society, SocietyNotSetUp, require_society

BODY = 12  # points: large type for readers with weak eyes or little schooling
QR = 16 * mm
PADDING = 6  # points: a table cell's left and right padding together (ReportLab's default)


@dataclass(frozen=True)
class Context:
    """A document's society, language, money format and chain head."""

    society: Society
    type: Typesetter
    head: tuple[int, str]
    money: Callable[[int], str]  # minor units -> grouped digits in the society's locale
    count: Callable[[int], str]  # a count of shares -> grouped digits in the society's locale


def context(session: Session, member: MemberRow, language: str | None = None) -> Context:
    society = require_society(session)
    book = queries.book(session)
    if book is None:  # pragma: no cover - require_society found the book
        raise SocietyNotSetUp(NOT_SET_UP)
    chosen = language or member.language or society.settings.language
    return context_of(society, chosen, (book.head_seq, book.head_hash))


def context_of(society: Society, language: str, head: tuple[int, str]) -> Context:
    """The context of a document in `language`, from values (no database)."""
    return Context(society, Typesetter(language), head,
                   amount_formatter(society.locale, minor_digits(society.currency)),
                   count_formatter(society.locale))


def embedded(ctx: Context) -> list[tuple[Any, ...]]:
    """A table's base font: ReportLab sets each cell's font before drawing it, even a cell
    of paragraphs, and its default is the PDF's Helvetica, which is not embedded."""
    return [("FONT", (0, 0), (-1, -1), ctx.type.latin[False])]


def cell(ctx: Context, text: str, size: float, width: float, *, bold: bool = False,
         align: str = "left") -> Flowable:
    """A table cell's paragraph, its type made smaller (to three quarters at most) if its
    longest word would not fit the column: a word is never broken."""
    fitted = ctx.type.cell_size(text, size, width - PADDING, bold=bold)
    return ctx.type.paragraph(text, fitted, bold=bold, align=align)


def facts_table(ctx: Context, rows: Sequence[Sequence[str]], widths_mm: Sequence[int]) -> Table:
    """Label | value pairs (two or four columns), labels bold."""
    cells = [[cell(ctx, text, BODY, widths_mm[index] * mm, bold=index % 2 == 0)
              for index, text in enumerate(row)] for row in rows]
    table = Table(cells, colWidths=[width * mm for width in widths_mm], hAlign="LEFT")
    table.setStyle(TableStyle([*embedded(ctx), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.5, colors.black)]))
    return table


def grid(ctx: Context, rows: Sequence[Sequence[str]], widths_mm: Sequence[int], *,
         numbers_from: int, size: int = BODY - 1) -> Table:
    """A table with a bold heading row, repeated on each page; numbers right-aligned.
    The headings are paragraphs that wrap between words and shrink to fit their column.
    Cells of dates and amounts are plain strings (a Paragraph per cell would cost most of
    a loan card's time); only text that needs shaping becomes a Paragraph."""
    type_ = ctx.type
    cells = [[cell(ctx, text, size, widths_mm[column] * mm, bold=index == 0,
                   align="right" if column >= numbers_from else "left")
              if index == 0 or is_complex(text) else text
              for column, text in enumerate(row)] for index, row in enumerate(rows)]
    table = Table(cells, colWidths=[width * mm for width in widths_mm], repeatRows=1,
                  hAlign="LEFT")
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
        lang=ctx.type.language, initialFontName=ctx.type.latin[False])
    seq, digest = ctx.head
    code_text = payload(code, document, seq, digest)
    printed = ctx.type.tr("Printed {date}", date=printed_on.strftime("%d-%m-%Y"))
    page_words = ctx.type.tr

    def footer(canvas: Canvas, doc: Any) -> None:
        width = pagesize[0]
        draw_qr(canvas, code_text, width - 14 * mm - QR, 8 * mm, QR)
        ctx.type.draw(canvas, f"{code}   {page_words('Page {page}', page=doc.page)}",
                      14 * mm, 8 * mm + 12, BODY - 2, bold=True)
        ctx.type.draw(canvas, printed, 14 * mm, 8 * mm, BODY - 2)

    template.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def big_box(ctx: Context, label: str, figure: str, note: str | None = None, *,
            width_mm: int = 120) -> Table:
    """The one figure she came for ("Left to repay today", her shares), in a box in large
    type, with its label above it and a line of plain words below it."""
    inner = width_mm * mm - PADDING - 12
    rows: list[list[Flowable]] = [
        [cell(ctx, label, BODY + 2, inner, bold=True, align="centre")],
        [cell(ctx, figure, BODY + 12, inner, bold=True, align="centre")]]
    if note:
        rows.append([cell(ctx, note, BODY, inner, align="centre")])
    box = Table(rows, colWidths=[width_mm * mm])
    box.setStyle(TableStyle([*embedded(ctx), ("BOX", (0, 0), (-1, -1), 2.5, colors.black),
                             ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                             ("TOPPADDING", (0, 0), (-1, -1), 3),
                             ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                             ("TOPPADDING", (0, 1), (-1, 1), 6),
                             ("BOTTOMPADDING", (0, 1), (-1, 1), 6)]))
    return box


__all__ = ["BODY", "Context", "big_box", "build", "cell", "context", "context_of", "embedded",
           "facts_table", "grid"]
