"""The passbook's pages: fixed lines per page, the balance brought forward on each new page,
and a PDF with a front page and one page per page of lines."""

from __future__ import annotations

import re
from datetime import date, timedelta

from coop.passbooks.passbook import Line, pages, passbook_pdf


def _lines(count: int) -> list[Line]:
    balance, lines = 0, []
    for n in range(count):
        deposit = 1000 * (n + 1) if n % 3 else 0
        withdrawal = 0 if n % 3 else 500
        balance += deposit - withdrawal
        lines.append(Line(date(2025, 4, 1) + timedelta(days=n), "Deposit" if deposit
                          else "Withdrawal", withdrawal, deposit, balance))
    return lines


def test_pages_carry_the_balance_forward() -> None:
    lines = _lines(30)
    laid_out = pages(lines, per_page=14)
    assert [len(p.lines) for p in laid_out] == [14, 14, 2]
    assert laid_out[0].brought_forward_minor is None
    assert laid_out[1].brought_forward_minor == lines[13].balance_minor
    assert laid_out[2].brought_forward_minor == lines[27].balance_minor
    assert [line for page in laid_out for line in page.lines] == lines
    assert pages([], per_page=14)[0].lines == ()


def test_the_pdf_has_a_front_page_and_a_page_per_page_of_lines() -> None:
    pdf = passbook_pdf(_lines(30), society_name="Test Society", member_code="M-7Q4K2X",
                       currency="INR", exponent=2, locale="en_IN", printed_on=date(2025, 6, 30),
                       chain_head=(12, "ab" * 32), per_page=14)
    assert pdf.startswith(b"%PDF")
    assert re.findall(rb"/Count (\d+)", pdf) == [b"4"]  # the front page and three of lines
