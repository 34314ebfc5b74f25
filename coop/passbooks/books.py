"""Her physical passbooks: which book is open, how far it is printed, continuation books and
duplicates (reference/domain.md §5.2).

The service remembers, per book, how many of its line slots are printed. A printing run renders
the lines after that (coop.passbooks.passbook); the pointer moves only when the clerk confirms
the print (`confirm_printed`), so a jammed printer or a closed browser never loses a line, and a
repeated confirmation changes nothing. A full book is followed by a continuation book; a lost or
spoiled open book is replaced by a duplicate, which reprints its lines marked DUPLICATE and
needs an admin. Every change is made with the member's row locked, so two counters cannot move
one pointer at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from coop.clock import Clock
from coop.db import Base
from coop.errors import Conflict, InvalidInput
from coop.i18n import Translator
from coop.ledger import queries
from coop.ledger.orm import posting_table
from coop.members import MemberRow, get_member, savings_account
from coop.passbooks.layout import Book, Line, chain, continuation_serial
from coop.passbooks.narrations import particulars
from coop.society import SocietySettings

BookStatus = Literal["open", "full", "lost"]


class BookRow(Base):
    __tablename__ = "passbook_book"
    __table_args__ = (UniqueConstraint("member_id", "number", "copy",
                                       name="uq_passbook_book_copy"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    number: Mapped[int]
    copy: Mapped[int]  # 0 the original, k its k-th duplicate
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    first_line: Mapped[int]
    per_page: Mapped[int]
    pages: Mapped[int]
    page_size: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(8))
    printed_lines: Mapped[int]
    front_printed: Mapped[bool] = mapped_column(Boolean)
    issued_on: Mapped[date]
    issued_by: Mapped[str] = mapped_column(String(32))
    last_printed_at: Mapped[datetime | None]
    replaced_because: Mapped[str | None] = mapped_column(String(16))


class PrintRunRow(Base):
    """A continuation run of her book was produced (its PDF made) for the clerk to print: the
    counter offers "It printed right" only for lines a run has produced."""

    __tablename__ = "passbook_print_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    serial: Mapped[str] = mapped_column(String(40))
    through: Mapped[int]
    produced_at: Mapped[datetime]
    produced_by: Mapped[str] = mapped_column(String(32))


def record_produced(session: Session, member: MemberRow, *, serial: str, through: int,
                    actor: str, clock: Clock) -> None:
    session.add(PrintRunRow(member_id=member.id, serial=serial, through=through,
                            produced_at=clock.now(), produced_by=actor[:32]))


def produced(session: Session, member_id: int, *, serial: str, through: int) -> bool:
    """Whether a run of book `serial` through line `through` has been produced."""
    return session.scalar(select(func.count()).select_from(PrintRunRow).where(
        PrintRunRow.member_id == member_id, PrintRunRow.serial == serial,
        PrintRunRow.through >= through)) != 0


class PassbookStale(Conflict):
    code = "passbook_stale"
    title = "That is not the book being printed"


class PassbookUpToDate(Conflict):
    code = "passbook_up_to_date"
    title = "Nothing new to print"


@dataclass(frozen=True, slots=True)
class BookState:
    """Her open book and how far it is printed (the next line's page and slot)."""

    book: Book
    line_count: int  # all her lines so far
    issued: bool  # False: the book exists only on paper to come (never printed yet)

    @property
    def available(self) -> int:
        """Lines of this book that exist now (printed or not)."""
        return max(0, min(self.book.capacity, self.line_count - self.book.first_line))

    @property
    def unprinted(self) -> int:
        return self.line_count - self.book.first_line - self.book.printed_lines

    @property
    def next_page(self) -> int:
        return self.book.printed_lines // self.book.per_page + 1

    @property
    def next_row(self) -> int:
        return self.book.printed_lines % self.book.per_page + 1


def ledger_lines(session: Session, code: str, tr: Translator, *,
                 count: Callable[[int], str] = str) -> list[Line]:
    """Her savings lines in the order they were posted (the order of the journal, so a line
    posted later with an earlier value date is still printed after the lines before it),
    each with her running balance; `count` groups the digits of a number of shares."""
    found = queries.account_lines(session, savings_account(code), order="journal")
    if found is None:
        return []
    return [Line(line.entry_id, line.value_date,
                 particulars(tr, line.kind, line.narration, count=count),
                 line.debit_minor, line.credit_minor, line.balance_minor)
            for line in found.lines]


def line_count(session: Session, code: str) -> int:
    account = queries.get_account(session, savings_account(code))
    if account is None:
        return 0
    return int(session.scalar(select(func.count()).select_from(posting_table)
                              .where(posting_table.c.account_id == account.id)) or 0)


def _layout(row: BookRow) -> Book:
    return Book(row.number, row.serial, row.first_line, row.per_page, row.pages,
                row.page_size, row.copy > 0, row.issued_on, row.printed_lines,
                row.front_printed)


def _rows(session: Session, member_id: int) -> list[BookRow]:
    return list(session.scalars(select(BookRow).where(BookRow.member_id == member_id,
                                                      BookRow.status != "lost")
                                .order_by(BookRow.number)))


def books(session: Session, member: MemberRow, count: int,
          settings: SocietySettings) -> list[Book]:
    """Her books, issued or still to come, enough to hold `count` lines."""
    return chain(member.code, [_layout(row) for row in _rows(session, member.id)], count,
                 per_page=settings.passbook_lines_per_page,
                 pages=settings.passbook_pages_per_book, page_size=settings.passbook_page_size)


def state(session: Session, member: MemberRow, settings: SocietySettings,
          count: int | None = None) -> BookState:
    count = line_count(session, member.code) if count is None else count
    rows = {row.serial for row in _rows(session, member.id)}
    for book in books(session, member, count, settings):
        if book.printed_lines < book.capacity:
            return BookState(book, count, book.serial in rows)
    raise AssertionError("a chain always ends in a book with room")  # pragma: no cover


def confirm_printed(session: Session, code: str, *, serial: str, through: int,
                    settings: SocietySettings, actor: str, clock: Clock) -> BookState:
    """The clerk saw lines up to `through` (of the open book) come out right: move the
    pointer. Repeating a confirmation is harmless; a full book opens its continuation."""
    member = _lock(session, code)
    now = state(session, member, settings)
    book = now.book
    if serial != book.serial:
        done = session.scalar(select(BookRow).where(BookRow.serial == serial,
                                                    BookRow.member_id == member.id))
        if done is not None and done.status == "full" and through == done.printed_lines:
            return now  # the confirmation that filled that book, again
        raise PassbookStale.said(
            "the open book of {code} is {serial}, not {serial2}",
            code=code, serial=book.serial, serial2=serial[:40], field="book")
    if through < book.printed_lines:
        raise PassbookStale.said(
            "book {serial} is already printed through line {printed_lines}",
            serial=serial, printed_lines=book.printed_lines, field="through")
    if through > now.available:
        raise InvalidInput.said(
            "book {serial} has {available} lines to print, not {through}",
            serial=serial, available=now.available, through=through, field="through")
    if through == book.printed_lines and book.front_printed:
        return now  # the same confirmation again
    row = session.scalar(select(BookRow).where(BookRow.serial == serial))
    if row is None:
        row = _new_row(member, book, actor=actor, clock=clock)
        session.add(row)
    row.printed_lines, row.front_printed = through, True
    row.last_printed_at = clock.now()
    if through == book.capacity:
        row.status = "full"
        following = book.number + 1
        session.add(_new_row(member, Book(
            following, continuation_serial(code, following), book.first_line + book.capacity,
            settings.passbook_lines_per_page, settings.passbook_pages_per_book,
            settings.passbook_page_size), actor=actor, clock=clock))
    session.flush()
    return state(session, member, settings, now.line_count)


def issue_duplicate(session: Session, code: str, *, because: Literal["lost", "damaged"],
                    settings: SocietySettings, actor: str, clock: Clock) -> BookState:
    """Replace her open book (lost or spoiled) with a duplicate that reprints all its lines,
    marked DUPLICATE. Books that are full stay with her; a statement stands in for those."""
    member = _lock(session, code)
    now = state(session, member, settings)
    if not now.issued:
        raise Conflict.said(
            "{code} has no book printed yet: print her first book instead",
            code=code, field="code")
    row = session.scalar(select(BookRow).where(BookRow.serial == now.book.serial))
    if row is None:  # pragma: no cover - `issued` says it is there
        raise Conflict.said("book {serial} is not on record", serial=now.book.serial)
    row.status, row.replaced_because = "lost", because
    copies = session.scalar(select(func.max(BookRow.copy)).where(
        BookRow.member_id == member.id, BookRow.number == row.number)) or 0
    session.flush()
    copy = copies + 1
    session.add(BookRow(
        member_id=member.id, number=row.number, copy=copy,
        serial=continuation_serial(code, row.number, copy), first_line=row.first_line,
        per_page=row.per_page, pages=row.pages, page_size=row.page_size, status="open",
        printed_lines=0, front_printed=False, issued_on=clock.today(), issued_by=actor,
        last_printed_at=None, replaced_because=None))
    session.flush()
    return state(session, member, settings, now.line_count)


def _new_row(member: MemberRow, book: Book, *, actor: str, clock: Clock) -> BookRow:
    return BookRow(member_id=member.id, number=book.number, copy=0, serial=book.serial,
                   first_line=book.first_line, per_page=book.per_page, pages=book.pages,
                   page_size=book.page_size, status="open", printed_lines=0,
                   front_printed=False, issued_on=clock.today(), issued_by=actor,
                   last_printed_at=None, replaced_because=None)


def _lock(session: Session, code: str) -> MemberRow:
    get_member(session, code)
    return session.execute(select(MemberRow).where(MemberRow.code == code)
                           .with_for_update()).scalar_one()


__all__ = ["BookRow", "BookState", "PassbookStale", "PassbookUpToDate", "books",
           "confirm_printed", "issue_duplicate", "ledger_lines", "line_count", "state"]
