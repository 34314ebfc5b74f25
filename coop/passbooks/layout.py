"""Where each passbook line goes in the member's physical books (pure; no database).

A book has `pages` pages of `per_page` line slots, and above the slots of every page a
brought-forward slot. The member's savings lines, in the order they were posted, fill book 1,
then continuation book 2, and so on: line i of the member (0-based) is line i - first_line of
the book that holds it, on page k // per_page + 1, slot k % per_page + 1. A page's
brought-forward slot carries the balance after the line before it (on the first page of a
continuation book, the balance carried from the book before); the very first page of book 1 has
none. Because a line's place never changes, the service only needs to remember how many lines
of the open book are printed to print the next ones exactly where they belong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Line:
    entry_id: int
    on: date
    particulars: str
    withdrawal_minor: int
    deposit_minor: int
    balance_minor: int


@dataclass(frozen=True, slots=True)
class Book:
    """One physical book (or one not issued yet) and its page layout."""

    number: int
    serial: str
    first_line: int
    per_page: int
    pages: int
    page_size: str = "A5"
    duplicate: bool = False
    issued_on: date | None = None
    printed_lines: int = 0
    front_printed: bool = False

    @property
    def capacity(self) -> int:
        return self.per_page * self.pages


@dataclass(frozen=True, slots=True)
class Slot:
    row: int  # 1..per_page
    index: int  # the line's number among all her lines, 0-based
    line: Line


@dataclass(frozen=True, slots=True)
class PagePlan:
    """What to print on one page of a book in one printing run."""

    page: int
    starts_page: bool  # the page is new: print its headings, footer and code too
    brought_forward_minor: int | None
    from_book: int | None  # the book the brought-forward balance comes from, if another
    slots: tuple[Slot, ...]


def place(book: Book, lines: Sequence[Line], start: int, end: int,
          *, opening_minor: int = 0) -> list[PagePlan]:
    """The pages of `book` for its lines start..end (positions within the book, 0-based,
    end exclusive). `lines` are all her lines. `opening_minor` is her balance before her first
    line (0 unless the books began with one)."""
    if not 0 <= start <= end <= book.capacity:
        raise ValueError(f"lines {start}..{end} do not fit book {book.serial}")
    plans: list[PagePlan] = []
    position = start
    while position < end:
        page, row0 = divmod(position, book.per_page)
        stop = min(end, (page + 1) * book.per_page)
        slots = tuple(Slot(row=k - page * book.per_page + 1, index=book.first_line + k,
                           line=lines[book.first_line + k]) for k in range(position, stop))
        forward, from_book = None, None
        if row0 == 0:
            first = book.first_line + position
            if first > 0:
                forward = lines[first - 1].balance_minor
                from_book = book.number - 1 if position == 0 else None
            elif opening_minor:
                forward = opening_minor
        plans.append(PagePlan(page + 1, row0 == 0, forward, from_book, slots))
        position = stop
    return plans


def continuation_serial(code: str, number: int, copy: int = 0) -> str:
    """Book n of member M-7Q4K2 is M-7Q4K2-n; its k-th duplicate M-7Q4K2-n-Dk."""
    return f"{code}-{number}" + (f"-D{copy}" if copy else "")


def chain(code: str, books: Sequence[Book], line_count: int, *, per_page: int, pages: int,
          page_size: str) -> list[Book]:
    """Her books in order, extended with the continuation books her lines will need (not
    issued yet, laid out with today's settings), so every line has a place."""
    result = list(books)
    if not result:
        result.append(Book(1, continuation_serial(code, 1), 0, per_page, pages, page_size))
    while result[-1].first_line + result[-1].capacity < line_count:
        last = result[-1]
        number = last.number + 1
        result.append(Book(number, continuation_serial(code, number),
                           last.first_line + last.capacity, per_page, pages, page_size))
    return result


__all__ = ["Book", "Line", "PagePlan", "Slot", "chain", "continuation_serial", "place"]
