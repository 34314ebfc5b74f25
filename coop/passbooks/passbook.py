"""The savings passbook as a PDF, for printing into her physical book (DESIGN.md §9).

A book's front page shows the society's printed name, her member number, her known-as name
only if she asked for it, and the book's serial; when the whole passbook is printed as a
statement (not into a book), the first front page also shows her balance today in a large
box. Nothing on a page is a ledger code or a hash: the chain head that makes a page
checkable is in its QR code. Its pages hold Date | Particulars
| Withdrawals | Deposits | Balance, a set number of lines each, under a brought-forward line.
Every line has a fixed place (coop.passbooks.layout), so a continuation run prints only the new
lines, each exactly where it belongs on the page the clerk feeds back into the printer.
Each page started in a run carries its headings, the page number and a verification code.

Type is large and black on white; words are in her language (coop.i18n), amounts in the
society's locale. A line too long for its column is set smaller before it is ever cut.
ReportLab's invariant mode makes the same request give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from reportlab.lib.pagesizes import A5, A6, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.errors import NotFound
from coop.i18n import Translator
from coop.ledger import queries
from coop.members import Reader, get_member, read_identity
from coop.members.vault import Vault
from coop.money import amount_formatter, count_formatter, minor_digits
from coop.passbooks import books as bookkeeping
from coop.passbooks.layout import Book, Line, PagePlan, place
from coop.passbooks.typeset import Typesetter
from coop.passbooks.verification import draw_qr, payload
from coop.society import NOT_SET_UP, Society, SocietyNotSetUp, require_society


@dataclass(frozen=True, slots=True)
class Geometry:
    page: tuple[float, float]
    margin: float
    size: int  # the lines' type size in points
    qr: float
    date_width: float
    amount_width: float


GEOMETRY = {
    "A5": Geometry(landscape(A5), 11 * mm, 12, 15 * mm, 25 * mm, 30 * mm),
    "A6": Geometry(landscape(A6), 7 * mm, 9, 11 * mm, 18 * mm, 25 * mm),
}


@dataclass(frozen=True, slots=True)
class Run:
    """One book's share of a document: its front page (or not) and the pages to print."""

    book: Book
    front: bool
    plans: list[PagePlan]


@dataclass(frozen=True, slots=True)
class Face:
    """What the document says about whom, and when."""

    society_name: str
    code: str
    known_as: str | None
    currency: str
    printed_on: date
    head: tuple[int, str]
    balance_today_minor: int | None = None
    """Her balance when printed, for the box on a statement's first page (None in a book)."""


class _Pages:
    """Draws the runs onto a canvas."""

    def __init__(self, canvas: Canvas, face: Face, type_: Typesetter,
                 amount: Callable[[int], str]) -> None:
        self.canvas, self.face, self.type, self.amount = canvas, face, type_, amount
        self.boxed = face.balance_today_minor is None  # the box goes on the first front only

    def qr(self, book: Book, geometry: Geometry) -> None:
        seq, digest = self.face.head
        draw_qr(self.canvas, payload(self.face.code, book.serial, seq, digest),
                geometry.page[0] - geometry.margin - geometry.qr, geometry.margin * 0.6,
                geometry.qr)

    def front(self, book: Book, geometry: Geometry) -> None:
        tr, draw, canvas = self.type.tr, self.type.draw, self.canvas
        width, height = geometry.page
        big = geometry.size
        centre = width / 2
        y = height - geometry.margin - big * 1.6
        draw(canvas, self.face.society_name, centre, y, big + 6, bold=True, align="centre")
        y -= big * 2.2
        draw(canvas, tr("Savings passbook"), centre, y, big + 3, align="centre")
        y -= big * 3.2
        draw(canvas, self.face.code, centre, y, big + 14, bold=True, align="centre")
        y -= big * 1.4
        draw(canvas, tr("Member number"), centre, y, big - 1, align="centre")
        if self.face.known_as:
            y -= big * 1.9
            draw(canvas, f"{tr('Known as')}: {self.face.known_as}", centre, y, big,
                 align="centre")
        which = tr("Book") if book.number == 1 else \
            tr("Continuation book {number}", number=book.number)
        facts = [f"{which}: {book.serial}",
                 tr("Issued on {date}", date=(book.issued_on or self.face.printed_on)
                    .strftime("%d-%m-%Y")),
                 tr("Amounts in {currency}", currency=self.face.currency)]
        y -= big * 1.2
        for fact in facts:
            y -= big * 1.55
            draw(canvas, fact, centre, y, big, align="centre")
        if not self.boxed:
            self.balance_box(centre, y - big * 1.4, big)
            self.boxed = True
        elif book.duplicate:
            self.stamp(centre, y - big * 2.6, big + 6)
        draw(canvas, tr("Keep this book safe. Only the society writes in it."),
             geometry.margin, geometry.margin + big * 1.6, big - 2)
        self.footer(book, geometry, None)
        canvas.showPage()

    def balance_box(self, x: float, top: float, size: int) -> None:
        """Her balance today, large, in a box whose top is at `top`, centred on x."""
        assert self.face.balance_today_minor is not None
        label = self.type.tr("Balance today ({date})",
                             date=self.face.printed_on.strftime("%d-%m-%Y"))
        figure = self.amount(self.face.balance_today_minor)
        big = size * 2
        width = max(self.type.width(label, size, bold=True),
                    self.type.width(figure, big, bold=True)) + 16 * mm
        height = size * 2.2 + big * 1.6
        self.canvas.setLineWidth(2.5)
        self.canvas.rect(x - width / 2, top - height, width, height)
        self.type.draw(self.canvas, label, x, top - size * 1.7, size, bold=True,
                       align="centre")
        self.type.draw(self.canvas, figure, x, top - height + big * 0.55, big, bold=True,
                       align="centre")

    def stamp(self, x: float, y: float, size: int) -> None:
        text = self.type.tr("DUPLICATE")
        width = self.type.width(text, size, bold=True)
        self.canvas.setLineWidth(1.5)
        self.canvas.rect(x - width / 2 - 6, y - size * 0.45, width + 12, size * 1.6)
        self.type.draw(self.canvas, text, x, y, size, bold=True, align="centre")

    def footer(self, book: Book, geometry: Geometry, page: int | None) -> None:
        tr, canvas = self.type.tr, self.canvas
        size = geometry.size - 3
        where = f"{self.face.code}   {book.serial}" + (
            f"   {tr('Page {page}', page=page)}" if page is not None else "")
        printed = tr('Printed {date}', date=self.face.printed_on.strftime('%d-%m-%Y'))
        self.type.draw(canvas, where, geometry.margin, geometry.margin * 0.6 + size * 1.4,
                       size + 1, bold=True)
        self.type.draw(canvas, printed, geometry.margin, geometry.margin * 0.6, size)
        self.qr(book, geometry)

    def page(self, book: Book, plan: PagePlan, geometry: Geometry) -> None:
        tr, draw, canvas = self.type.tr, self.type.draw, self.canvas
        width, height = geometry.page
        size, margin = geometry.size, geometry.margin
        right = width - margin
        balance_x, deposit_x = right, right - geometry.amount_width
        withdrawal_x = deposit_x - geometry.amount_width
        text_x = margin + geometry.date_width
        text_width = withdrawal_x - geometry.amount_width + 2 * mm - text_x
        top = height - margin - size
        rows = book.per_page + 1  # the brought-forward slot, then the lines
        row = (top - size * 0.8 - (margin * 0.6 + geometry.qr + 2 * mm)) / rows
        if plan.starts_page:
            headings = ((tr("Date"), margin, "left", geometry.date_width),
                        (tr("Particulars"), text_x, "left", text_width),
                        (tr("Withdrawals"), withdrawal_x, "right", geometry.amount_width),
                        (tr("Deposits"), deposit_x, "right", geometry.amount_width),
                        (tr("Balance"), balance_x, "right", geometry.amount_width))
            for title, x, align, room in headings:
                text, fitted = self.type.fitted(title, size, room - 2 * mm, bold=True)
                draw(canvas, text, x, top, fitted, bold=True, align=align)
            canvas.setLineWidth(1)
            canvas.line(margin, top - size * 0.45, right, top - size * 0.45)
            if book.duplicate:
                self.stamp(width / 2, height - margin * 0.55 - size * 0.2, size - 1)
            self.footer(book, geometry, plan.page)
        if plan.brought_forward_minor is not None:
            y = top - row * 0.95 - size * 0.3
            words = tr("Brought forward") if plan.from_book is None else \
                tr("Brought forward from book {number}", number=plan.from_book)
            text, fitted = self.type.fitted(words, size, text_width)
            draw(canvas, text, text_x, y, fitted)
            draw(canvas, self.amount(plan.brought_forward_minor), balance_x, y, size,
                 bold=True, align="right")
        for slot in plan.slots:
            self.line(slot.line, top - row * (slot.row + 0.95) - size * 0.3, geometry,
                      (margin, text_x, withdrawal_x, deposit_x, balance_x), text_width, row)
        canvas.showPage()

    def line(self, line: Line, y: float, geometry: Geometry, xs: tuple[float, ...],
             text_width: float, row: float) -> None:
        """One line. Its particulars may run on into an amount column the line leaves
        empty (a deposit has no withdrawal), up to a gap before its first amount; too long
        even in smaller type, they take two smaller lines within the line's height."""
        draw, canvas, size = self.type.draw, self.canvas, geometry.size
        date_x, text_x, withdrawal_x, deposit_x, balance_x = xs
        draw(canvas, line.on.strftime("%d-%m-%Y"), date_x, y, size)
        first_x, first = next((x, minor) for x, minor in (
            (withdrawal_x, line.withdrawal_minor), (deposit_x, line.deposit_minor),
            (balance_x, line.balance_minor)) if minor or x == balance_x)
        room = first_x - self.type.width(self.amount(first), size, bold=first_x == balance_x) \
            - 3 * mm - text_x
        room = max(text_width, room)
        text, fitted = self.type.fitted(line.particulars, size, room)
        if text == line.particulars:
            draw(canvas, text, text_x, y, fitted)
        else:
            two, small = self.type.wrapped(line.particulars, min(fitted, row / 2.2), room)
            for index, part in enumerate(two):
                draw(canvas, part, text_x, y + small * (0.55 - 1.1 * index), small)
        if line.withdrawal_minor:
            draw(canvas, self.amount(line.withdrawal_minor), withdrawal_x, y, size,
                 align="right")
        if line.deposit_minor:
            draw(canvas, self.amount(line.deposit_minor), deposit_x, y, size, align="right")
        draw(canvas, self.amount(line.balance_minor), balance_x, y, size, bold=True,
             align="right")


def render(runs: Sequence[Run], face: Face, *, language: str, locale: str,
           exponent: int) -> bytes:
    """The PDF for the runs, in one language; byte for byte the same for the same input."""
    type_ = Typesetter(language)
    buffer = io.BytesIO()
    first = GEOMETRY[runs[0].book.page_size] if runs else GEOMETRY["A5"]
    canvas = Canvas(buffer, pagesize=first.page, invariant=1, pageCompression=1,
                    lang=language, initialFontName=type_.latin[False])
    canvas.setTitle(f"Passbook {face.code}")
    canvas.setAuthor(face.society_name)
    canvas.setSubject("Savings passbook")
    pages = _Pages(canvas, face, type_, amount_formatter(locale, exponent))
    for run in runs:
        geometry = GEOMETRY[run.book.page_size]
        canvas.setPageSize(geometry.page)
        if run.front:
            pages.front(run.book, geometry)
        for plan in run.plans:
            pages.page(run.book, plan, geometry)
    canvas.save()
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Printout:
    """A rendered passbook and, for a continuation run, what the clerk confirms after it."""

    pdf: bytes
    book: str
    through: int  # lines of `book` printed once this run is confirmed
    remaining: int  # her lines still unprinted after it (they need the next book)


def member_passbook(session: Session, code: str, *, printed_on: date,
                    mode: str = "all", book_number: int | None = None,
                    vault: Vault | None = None, reader: Reader | None = None,
                    clock: Clock | None = None, language: str | None = None) -> Printout:
    """Her passbook from the books. `mode` "all": every book, every line so far (a view or a
    statement); "book": just book `book_number`; "continue": what her open book lacks."""
    society, head = _society(session)
    member = get_member(session, code)
    language = language or member.language or society.settings.language
    type_lines = bookkeeping.ledger_lines(session, code, Translator(language),
                                          count=count_formatter(society.locale))
    count = len(type_lines)
    known_as = None
    if member.passbook_known_as and vault is not None and reader is not None \
            and clock is not None:
        known_as = read_identity(session, code, fields=("known_as",), reader=reader,
                                 vault=vault, clock=clock)["known_as"]
    face = Face(society.name, code, known_as, society.currency, printed_on, head)
    exponent = minor_digits(society.currency)
    if mode == "continue":
        now = bookkeeping.state(session, member, society.settings, count)
        book = now.book
        plans = place(book, type_lines, book.printed_lines, now.available)
        if not plans and book.front_printed:
            raise bookkeeping.PassbookUpToDate.said(
                "book {serial} is printed up to date ({printed_lines} lines)",
                serial=book.serial, printed_lines=book.printed_lines)
        pdf = render([Run(book, not book.front_printed, plans)], face, language=language,
                     locale=society.locale, exponent=exponent)
        if clock is not None:
            bookkeeping.record_produced(session, member, serial=book.serial,
                                        through=now.available,
                                        actor=reader.username if reader else "system",
                                        clock=clock)
        return Printout(pdf, book.serial, now.available,
                        count - book.first_line - now.available)
    chain = bookkeeping.books(session, member, count, society.settings)
    if mode == "book":
        chain = [book for book in chain if book.number == book_number]
        if not chain:
            raise NotFound.said(
                "{code} has no book {book_number}",
                code=code, book_number=book_number, field="book")
    runs = [Run(book, True, place(book, type_lines, 0,
                                  max(0, min(book.capacity, count - book.first_line))))
            for book in chain]
    if mode == "all":  # a statement, not a print into her book: her balance up front
        face = replace(face, balance_today_minor=type_lines[-1].balance_minor
                       if type_lines else 0)
    pdf = render(runs, face, language=language, locale=society.locale, exponent=exponent)
    return Printout(pdf, chain[-1].serial, 0, 0)


def _society(session: Session) -> tuple[Society, tuple[int, str]]:
    society = require_society(session)
    book = queries.book(session)
    if book is None:  # pragma: no cover - require_society found the book
        raise SocietyNotSetUp(NOT_SET_UP)
    return society, (book.head_seq, book.head_hash)


__all__ = ["GEOMETRY", "Face", "Printout", "Run", "member_passbook", "render"]
