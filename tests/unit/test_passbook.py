"""The passbook's layout (pure): every line has one fixed place in one book; pages and books
carry the balance forward; a continuation run covers exactly the unprinted lines. Also the
particulars in each language, the type (fonts, runs, missing fonts) and the PDF's pages."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coop.i18n import LANGUAGE_CODES, Translator
from coop.passbooks.layout import Book, Line, chain, place
from coop.passbooks.narrations import particulars
from coop.passbooks.passbook import Face, Run, render
from coop.passbooks.typeset import FONT_DIR_DEFAULT, FontsMissing, Typesetter


def _lines(count: int) -> list[Line]:
    balance, lines = 0, []
    for n in range(count):
        deposit = 1000 * (n + 1) if n % 3 else 0
        withdrawal = 0 if n % 3 else 500
        balance += deposit - withdrawal
        lines.append(Line(n + 1, date(2025, 4, 1) + timedelta(days=n),
                          "Cash deposit" if deposit else "Cash withdrawal", withdrawal,
                          deposit, balance))
    return lines


def test_pages_carry_the_balance_forward() -> None:
    lines = _lines(30)
    book = Book(1, "M-7Q4K2X-1", 0, per_page=14, pages=20)
    laid_out = place(book, lines, 0, 30)
    assert [len(p.slots) for p in laid_out] == [14, 14, 2]
    assert laid_out[0].brought_forward_minor is None
    assert laid_out[1].brought_forward_minor == lines[13].balance_minor
    assert laid_out[2].brought_forward_minor == lines[27].balance_minor
    assert [slot.line for page in laid_out for slot in page.slots] == lines
    assert [slot.row for slot in laid_out[2].slots] == [1, 2]
    assert place(book, lines, 0, 0) == []


def test_a_continuation_run_prints_only_new_lines_at_their_rows() -> None:
    lines = _lines(30)
    book = Book(1, "M-7Q4K2X-1", 0, per_page=14, pages=20, printed_lines=11)
    run = place(book, lines, 11, 30)
    assert [(p.page, p.starts_page) for p in run] == [(1, False), (2, True), (3, True)]
    assert [s.row for s in run[0].slots] == [12, 13, 14]
    assert run[0].brought_forward_minor is None  # that page's top is already printed
    assert run[1].brought_forward_minor == lines[13].balance_minor
    assert [s.index for p in run for s in p.slots] == list(range(11, 30))


def test_a_continuation_book_opens_with_the_balance_from_the_book_before() -> None:
    lines = _lines(50)
    books = chain("M-7Q4K2X", [], len(lines), per_page=4, pages=5, page_size="A6")
    assert [(b.serial, b.first_line) for b in books] == [
        ("M-7Q4K2X-1", 0), ("M-7Q4K2X-2", 20), ("M-7Q4K2X-3", 40)]
    first_page = place(books[1], lines, 0, 4)[0]
    assert first_page.brought_forward_minor == lines[19].balance_minor
    assert first_page.from_book == 1
    with pytest.raises(ValueError, match="do not fit"):
        place(books[0], lines, 0, 21)


@given(count=st.integers(0, 400), per_page=st.integers(4, 16), pages=st.integers(1, 12),
       cuts=st.lists(st.integers(0, 400), max_size=6))
def test_every_line_is_printed_once_whatever_the_runs(count: int, per_page: int, pages: int,
                                                      cuts: list[int]) -> None:
    """Printing in runs that stop anywhere (as confirmations do) prints each line exactly
    once, in its place, and each page's brought-forward equals the ledger's balance."""
    lines = _lines(count)
    books = chain("M-7Q4K2X", [], count, per_page=per_page, pages=pages, page_size="A5")
    printed: list[int] = []
    stops = sorted({min(c, count) for c in cuts} | {count})
    done = 0
    for stop in stops:
        for book in books:
            start = max(done, book.first_line) - book.first_line
            end = min(stop, book.first_line + book.capacity) - book.first_line
            if start >= end:
                continue
            for page in place(book, lines, start, end):
                if page.brought_forward_minor is not None:
                    first = page.slots[0].index
                    assert page.brought_forward_minor == lines[first - 1].balance_minor
                for slot in page.slots:
                    k = slot.index - book.first_line
                    assert (page.page, slot.row) == (k // per_page + 1, k % per_page + 1)
                    printed.append(slot.index)
        done = stop
    assert printed == list(range(count))


@pytest.mark.parametrize(("kind", "narration", "expected"), [
    ("deposit", "Deposit", "Cash deposit"),
    ("deposit", "From her sister", "Cash deposit: From her sister"),
    ("withdrawal", "Withdrawal", "Cash withdrawal"),
    ("share_purchase", "3 shares bought from savings", "3 shares bought"),
    ("loan_repayment", "Loan 12 repayment from savings", "Loan 12 repayment"),
    ("loan_disbursement", "Loan 7 disbursed to savings", "Loan 7 paid into savings"),
    ("savings_interest", "Interest 2025-04-01 to 2025-06-30",
     "Savings interest 01-04-25 to 30-06-25"),
    ("dividend_payment", "Dividend and rebate, fiscal year 2024-25",
     "Dividend and rebate, year 2024-25"),
    ("reversal", "Reversal of entry 41: keyed twice", "Correction of entry 41"),  # no reason
    ("reversal", "Correction of entry 41 (deposit of 2026-12-05)",
     "Correction of 05-12-2026 deposit"),
    ("reversal", "Correction of entry 41 (loan repayment of 2026-12-05)",
     "Correction of 05-12-2026 loan repayment"),
    ("grant", "Something new", "Something new"),
])
def test_particulars_in_english(kind: str, narration: str, expected: str) -> None:
    assert particulars(Translator("en"), kind, narration) == expected


def test_particulars_in_kannada_keep_the_figures() -> None:
    text = particulars(Translator("kn"), "loan_repayment", "Loan 12 repayment")
    assert "12" in text
    assert any(0x0C80 <= ord(char) <= 0x0CFF for char in text)


def test_every_language_translates_every_column_heading() -> None:
    for language in LANGUAGE_CODES:
        tr = Translator(language)
        headings = [tr(w) for w in ("Date", "Particulars", "Withdrawals", "Deposits",
                                    "Balance")]
        assert all(headings)
        if language != "en":
            assert headings != ["Date", "Particulars", "Withdrawals", "Deposits", "Balance"]


def test_runs_change_font_only_between_words() -> None:
    """ReportLab shapes a word as one piece: a word of two fonts prints as boxes."""
    kannada = Typesetter("kn")
    markup = kannada.markup("ಖಾತೆ: 2000:M-7Q4K2X")
    runs = re.findall(r'<font name="([^"]+)">([^<]*)</font>', markup)
    assert [font for font, _ in runs] == ["coop-NotoSansKannada-Regular", "coop-NotoSans-Regular"]
    assert runs[0][1] == "ಖಾತೆ: "  # the colon is the Kannada font's own
    bengali = Typesetter("bn").markup("INR-এ")  # one word, two scripts: split by a hair space
    assert "\u200a" in bengali


def test_a_missing_font_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every language embeds its fonts, English too (a PDF's own Helvetica is not embedded
    and comes out spaced wrong on a viewer without it): none is printed without them."""
    monkeypatch.setenv("COOP_FONT_DIR", str(tmp_path))
    for language in ("bn", "en"):
        with pytest.raises(FontsMissing, match=r"NotoSans-Regular\.ttf.*fonts-noto-core"):
            Typesetter(language)
    for name in ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"):
        (tmp_path / name).symlink_to(Path(FONT_DIR_DEFAULT) / name)
    Typesetter("en")  # Latin needs only Noto Sans
    with pytest.raises(FontsMissing, match=r"NotoSansBengali-Regular\.ttf"):
        Typesetter("bn")


def _face() -> Face:
    return Face("Test Society", "M-7Q4K2X", None, "INR", date(2025, 6, 30), (12, "ab" * 32))


def test_the_pdf_has_a_front_page_and_a_page_per_page_of_lines() -> None:
    lines = _lines(30)
    book = Book(1, "M-7Q4K2X-1", 0, per_page=14, pages=20)
    pdf = render([Run(book, True, place(book, lines, 0, 30))], _face(), language="en",
                 locale="en_IN", exponent=2)
    assert pdf.startswith(b"%PDF")
    assert re.findall(rb"/Count (\d+)", pdf) == [b"4"]  # the front page and three of lines
    again = render([Run(book, True, place(book, lines, 0, 30))], _face(), language="en",
                   locale="en_IN", exponent=2)
    assert again == pdf  # invariant mode: the same bytes every time
