"""Tables as files: CSV, XLSX (XlsxWriter) and PDF (ReportLab, Noto Sans as every document),
from one value, `TableDoc`: a title, lines under it (the society, the date), column
headings and rows. The annual statements and their schedules use it; so can any report that
is a table (the loan schedule, the classification).

A cell is text, or an amount in minor units (an `int`), which each writer shows its own way:
CSV in the society's format ("1,00,000.00", as the society writes amounts), XLSX as a number
with two places and the grouping Excel shows (so an auditor can add it up), PDF in the
society's format, right-aligned. A row is a line, a section heading or a total (bold, ruled
above). The PDF has the society's name and the title on top, the heading row repeated on
every page and "Page n of m" with the printing date at the foot of each.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

import xlsxwriter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, PageBreak, SimpleDocTemplate, Spacer, Table, TableStyle

from coop.passbooks.sheet import BODY, Context

Cell = str | int
RowKind = Literal["line", "heading", "total"]
MARGIN = 16 * mm


@dataclass(frozen=True, slots=True)
class TableRow:
    cells: tuple[Cell, ...]
    kind: RowKind = "line"


@dataclass(frozen=True)
class TableDoc:
    title: str
    lines: tuple[str, ...]
    headings: tuple[str, ...]
    rows: tuple[TableRow, ...]
    widths_mm: tuple[int, ...] = field(default=())  # the PDF's columns; even when empty

    def columns(self) -> int:
        return len(self.headings)


def csv_bytes(doc: TableDoc, money: Callable[[int], str]) -> bytes:
    """The heading row, then every row; amounts in the society's format."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(doc.headings)
    for row in doc.rows:
        writer.writerow([money(cell) if isinstance(cell, int) else cell for cell in row.cells])
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(doc: TableDoc, *, exponent: int, created: date | None = None) -> bytes:
    """One worksheet: the title and its lines, the headings, the rows; amounts as numbers
    (exact decimals of the minor units) formatted with `exponent` places. With `created`
    the workbook says it was made then (00:00), not now: the same table, the same bytes."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    if created is not None:
        book.set_properties({"created": datetime.combine(created, time())})
    sheet = book.add_worksheet(doc.title[:31].replace("/", "-") or "Sheet1")
    places = "0." + "0" * exponent if exponent else "0"
    styles = {
        "title": book.add_format({"bold": True, "font_size": 14}),
        "heading": book.add_format({"bold": True, "bottom": 1, "text_wrap": True}),
        "line": book.add_format({}), "amount": book.add_format({"num_format": f"#,##{places}"}),
        "section": book.add_format({"bold": True}),
        "total": book.add_format({"bold": True, "top": 1}),
        "total_amount": book.add_format({"bold": True, "top": 1,
                                         "num_format": f"#,##{places}"}),
    }
    sheet.write(0, 0, doc.title, styles["title"])
    for index, text in enumerate(doc.lines, start=1):
        sheet.write(index, 0, text)
    top = len(doc.lines) + 2
    for column, text in enumerate(doc.headings):
        sheet.write(top, column, text, styles["heading"])
    for number, row in enumerate(doc.rows, start=top + 1):
        for column, cell in enumerate(row.cells):
            if isinstance(cell, int):
                style = styles["total_amount" if row.kind == "total" else "amount"]
                sheet.write_number(number, column, Decimal(cell).scaleb(-exponent), style)
            else:
                style = styles[{"line": "line", "heading": "section", "total": "total"}[
                    row.kind]]
                sheet.write(number, column, cell, style)
    sheet.set_column(0, 0, 48)
    sheet.set_column(1, max(doc.columns() - 1, 1), 18)
    book.close()
    return buffer.getvalue()


def _footer_canvas(ctx: Context, title: str, printed_on: date | None) -> type[Canvas]:
    """A canvas that writes "title   Page n of m" and the printing date at each page's foot
    once the number of pages is known (the pages are kept until the document is saved); with
    no printing date (the auditor's pack: the same bytes whenever it is built) the chain head
    alone."""
    tr = ctx.type.tr
    seq, digest = ctx.head

    class Numbered(Canvas):  # type: ignore[misc]  # ReportLab is untyped
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                ctx.type.draw(self, f"{title}   " + tr("Page {page} of {pages}", page=number,
                                                       pages=total),
                              MARGIN, 10 * mm + 11, BODY - 2, bold=True)
                printed = ("" if printed_on is None else
                           tr("Printed {date}", date=printed_on.strftime("%d-%m-%Y")) + "   ")
                ctx.type.draw(self, printed + f"#{seq} {digest[:16]}", MARGIN, 10 * mm,
                              BODY - 3)
                super().showPage()
            super().save()

    return Numbered


def textual_columns(doc: TableDoc) -> frozenset[int]:
    """The columns of words (the first always; any other whose lines hold text that is not
    a figure, such as an account's name or a member's), set left; figures are set right."""
    figure = re.compile(r"[\d.,%\s-]*")
    return frozenset({0} | {column for row in doc.rows if row.kind == "line"
                            for column, cell in enumerate(row.cells)
                            if isinstance(cell, str) and not figure.fullmatch(cell)})


def table_flowable(ctx: Context, doc: TableDoc, width_mm: int) -> Table:
    """The rows as a ReportLab table: headings bold and repeated on each page, amounts in the
    society's format right-aligned, words left-aligned and shaped in their own script,
    section headings bold, totals bold and ruled above."""
    type_, size = ctx.type, BODY - 1
    words = textual_columns(doc)
    widths = list(doc.widths_mm) or [width_mm - 40 * (doc.columns() - 1)] + [40] * (
        doc.columns() - 1)
    cells: list[list[Any]] = [[type_.paragraph(text, size, bold=True,
                                               align="left" if column in words else "right")
                               for column, text in enumerate(doc.headings)]]
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONT", (0, 0), (-1, -1), type_.latin[False], size),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"), ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]
    for number, row in enumerate(doc.rows, start=1):
        bold = row.kind != "line"
        cells.append([ctx.money(cell) if isinstance(cell, int) else
                      type_.paragraph(cell, size, bold=bold) if column in words else cell
                      for column, cell in enumerate(row.cells)])
        if bold:
            style.append(("FONT", (1, number), (-1, number), type_.latin[True], size))
        if row.kind == "total":
            style.append(("LINEABOVE", (0, number), (-1, number), 0.8, colors.black))
        if row.kind == "heading":
            style.append(("TOPPADDING", (0, number), (-1, number), 7))
    table = Table(cells, colWidths=[w * mm for w in widths], repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(style))
    return table


def pdf_bytes(ctx: Context, docs: Sequence[TableDoc], *, printed_on: date | None,
              extra: Sequence[Flowable] = ()) -> bytes:
    """The tables on A4, each under the society's name, its title and its lines, a new page
    for each; `extra` (charts) after them on a page of their own."""
    width_mm = int((A4[0] - 2 * MARGIN) / mm)
    p = ctx.type.paragraph
    story: list[Flowable] = []
    for index, doc in enumerate(docs):
        if index:
            story.append(PageBreak())
        story += [p(ctx.society.name, BODY + 6, bold=True, align="centre"), Spacer(1, 2 * mm),
                  p(doc.title, BODY + 3, bold=True, align="centre")]
        story += [p(text, BODY - 1, align="centre") for text in doc.lines]
        story += [Spacer(1, 4 * mm), table_flowable(ctx, doc, width_mm)]
    if extra:
        story += [PageBreak(), *extra]
    buffer = io.BytesIO()
    title = docs[0].title if docs else ""
    template = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=14 * mm,
        bottomMargin=22 * mm, title=title, author=ctx.society.name, invariant=1,
        lang=ctx.type.language, initialFontName=ctx.type.latin[False])
    template.build(story, canvasmaker=_footer_canvas(ctx, title, printed_on))
    return buffer.getvalue()


__all__ = ["Cell", "TableDoc", "TableRow", "csv_bytes", "pdf_bytes", "table_flowable",
           "xlsx_bytes"]
