"""A member's share certificate and her dividend statement for a year: one page each, with
her member number (never her name) and the chain head when printed."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A5, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from coop.dividends import get_declaration
from coop.errors import InvalidInput, NotFound
from coop.ledger import queries
from coop.members import get_member
from coop.money import grouped, minor_digits
from coop.savings.shares import holding
from coop.society import Society, get_society


def _society(session: Session) -> tuple[Society, queries.BookView]:
    society = get_society(session)
    book = queries.book(session)
    if society is None or book is None:
        raise InvalidInput("the society has not been set up: run `coop init`")
    return society, book


def _page(title: str, society: Society, book: queries.BookView, rows: list[list[str]],
          note: str, printed_on: date) -> bytes:
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=landscape(A5), leftMargin=15 * mm,
                                 rightMargin=15 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
                                 title=title, author=society.name)
    table = Table(rows, colWidths=[70 * mm, 90 * mm])
    table.setStyle(TableStyle([
        ("FONTSIZE", (0, 0), (-1, -1), 12), ("FONT", (0, 0), (0, -1), "Helvetica-Bold"),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.grey)]))
    body = styles["BodyText"]
    document.build([
        Paragraph(society.name, styles["Title"]), Paragraph(title, styles["Heading2"]),
        Spacer(1, 3 * mm), table, Spacer(1, 5 * mm), Paragraph(note, body),
        Spacer(1, 3 * mm),
        Paragraph(f"Printed {printed_on.strftime('%d-%m-%Y')}; books at entry "
                  f"{book.head_seq}: {book.head_hash[:16]}", styles["Code"])])
    return buffer.getvalue()


def share_certificate(session: Session, code: str, *, printed_on: date) -> bytes:
    """Her paid-up shares on `printed_on`."""
    society, book = _society(session)
    member = get_member(session, code)
    held = holding(session, code, as_of=printed_on)
    exponent = minor_digits(society.currency)

    def money(minor: int) -> str:
        return f"{grouped(Decimal(minor).scaleb(-exponent), society.locale)} {society.currency}"

    rows = [["Member", member.code], ["Member since", member.joined_on.strftime("%d-%m-%Y")],
            ["Shares held", f"{held.count:,}"],
            ["Face value of a share", money(society.share_face_value_minor)],
            ["Paid-up value", money(held.value_minor)],
            ["As of", printed_on.strftime("%d-%m-%Y")]]
    return _page("Share certificate", society, book, rows,
                 "This certifies that the member named by the number above holds these fully "
                 "paid-up shares of the society, entitled to dividends as the general body "
                 "declares them.", printed_on)


def dividend_statement(session: Session, fiscal_year: int, code: str, *,
                       printed_on: date) -> bytes:
    """Her share of a declared (or paid) dividend: the basis, the dividend and the rebate."""
    society, book = _society(session)
    get_member(session, code)
    row = get_declaration(session, fiscal_year)
    document = json.loads(row.preview_json)
    mine = next((line for line in document["allocations"] if line["member_code"] == code),
                None)
    if mine is None:
        raise NotFound(f"{code} has no dividend for {fiscal_year}", field="code")
    dividend = document["dividend"]

    def money(text: str) -> str:
        return f"{grouped(Decimal(text), society.locale)} {society.currency}"

    basis = {"share_days": "paid-up value x days held",
             "months_held": "paid-up value x whole months held",
             "closing_register": "paid-up value on the last day of the year"}[dividend["basis"]]
    rows = [["Member", code], ["Fiscal year", str(fiscal_year)],
            ["Dividend rate", f"{dividend['rate']} % a year"], ["Basis", basis],
            ["Her basis", money(mine["basis_value"]) + {
                "share_days": " x days", "months_held": " x months"}.get(dividend["basis"], "")],
            ["Dividend", money(mine["dividend"])],
            ["Patronage rebate", money(mine["rebate"])], ["Total", money(mine["total"])],
            ["Status", {"paid": "paid into savings", "declared": "declared, to be paid",
                        "cancelled": "cancelled"}.get(row.status, row.status)]]
    return _page(f"Dividend statement, fiscal year {fiscal_year}", society, book, rows,
                 "The dividend is shared among all members in proportion to their basis; "
                 "the auditor's report of the year lists every member's share.", printed_on)
