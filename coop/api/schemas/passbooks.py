"""Passbooks: her open book, its printing, a duplicate, her preferences, and checking a
scanned verification code; bodies and presenters."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from coop.api.schemas.common import In, LanguageCode, Out
from coop.members import MemberRow
from coop.passbooks.books import BookState
from coop.passbooks.verification import CheckResult
from coop.society import Society


class PreferencesIn(In):
    """Her choices; a field left out stays as it is (language null: the society's)."""

    language: LanguageCode | None = None
    known_as_on_passbook: bool | None = None


class PreferencesOut(Out):
    code: str
    language: LanguageCode | None
    document_language: LanguageCode
    known_as_on_passbook: bool


class PassbookPrintedIn(In):
    book: str = Field(min_length=1, max_length=40, examples=["M-7Q4K2X-1"])
    through: int = Field(ge=0, le=10_000)


class PassbookDuplicateIn(In):
    because: Literal["lost", "damaged"]


class PassbookOut(Out):
    """Her open book: how far it is printed, where the next line goes, what is waiting."""

    code: str
    book: str
    number: int
    duplicate: bool
    issued: bool
    page_size: Literal["A5", "A6"]
    lines_per_page: int
    pages: int
    capacity: int
    printed_lines: int
    next_page: int
    next_line: int
    unprinted_lines: int


class PassbookCheckIn(In):
    code: str = Field(min_length=1, max_length=200,
                      examples=["COOP-PB1|M-7Q4K2X|M-7Q4K2X-1|6068|a9b61e85879676cc"])


class PassbookCheckOut(Out):
    genuine: bool
    member_code: str | None
    book: str | None
    book_status: str | None
    head_seq: int | None
    problems: list[str]


def passbook_out(code: str, now: BookState) -> PassbookOut:
    book = now.book
    return PassbookOut(
        code=code, book=book.serial, number=book.number, duplicate=book.duplicate,
        issued=now.issued, page_size=book.page_size,
        lines_per_page=book.per_page, pages=book.pages, capacity=book.capacity,
        printed_lines=book.printed_lines, next_page=now.next_page, next_line=now.next_row,
        unprinted_lines=now.unprinted)


def preferences_out(member: MemberRow, society: Society) -> PreferencesOut:
    return PreferencesOut(code=member.code, language=member.language,
                          document_language=member.language or society.settings.language,
                          known_as_on_passbook=member.passbook_known_as)


def passbook_check_out(result: CheckResult) -> PassbookCheckOut:
    return PassbookCheckOut(genuine=result.genuine, member_code=result.member_code,
                            book=result.book, book_status=result.book_status,
                            head_seq=result.head_seq, problems=result.problems)
