"""The loan card: the key facts in plain words, the schedule grid with what is paid, every
repayment acknowledged, and the discharge once the loan is closed (DESIGN.md §9; the
microfinance repayment card of reference/domain.md §5.3).

Like the passbook it carries the member number, never her name.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.errors import InvalidInput
from coop.ledger import queries
from coop.loans import EventRow, standing
from coop.loans.schedule import build
from coop.money import grouped, minor_digits
from coop.society import get_society

FREQUENCY_WORDS = {"daily": "every day", "weekly": "every week",
                   "fortnightly": "every two weeks", "monthly": "every month"}


@dataclass(frozen=True, slots=True)
class Receipt:
    on: date
    amount_minor: int
    principal_minor: int
    interest_minor: int
    penalty_minor: int
    entry_id: int | None


def loan_card(session: Session, loan_id: int, *, printed_on: date) -> bytes:
    """Her loan card from the books, as it stands on `printed_on`."""
    society = get_society(session)
    book = queries.book(session)
    if society is None or book is None:
        raise InvalidInput("the society has not been set up: run `coop init`")
    now = standing(session, loan_id, as_of=printed_on)
    loan, position = now.loan, now.position
    exponent = minor_digits(society.currency)

    def money(minor: int) -> str:
        return grouped(Decimal(minor).scaleb(-exponent), society.locale)

    events = list(session.scalars(select(EventRow).where(EventRow.loan_id == loan_id)
                                  .order_by(EventRow.seq)))
    receipts = [Receipt(e.value_date, e.amount_minor, e.principal_minor, e.interest_minor,
                        e.penalty_minor + e.fees_minor, e.entry_id)
                for e in events if e.kind in ("repayment", "recovery")]
    terms = loan.terms
    schedule = build(terms)
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    body.fontSize, body.leading = 11, 14
    facts = [
        ["Loan", f"{loan.id} ({loan.product.name})", "Member", loan.member_code],
        ["Amount", f"{money(loan.principal_minor)} {society.currency}", "Status",
         loan.status.replace("_", " ")],
        ["Interest", f"{terms.annual_rate} % a year, "
                     f"{terms.interest_method.value.replace('_', ' ')}",
         "APR", f"{schedule.apr} %"],
        ["Installments", f"{terms.installments}, {FREQUENCY_WORDS[terms.frequency.value]}",
         "Fee", f"{money(loan.fee_minor)} (taken at disbursement)"],
        ["First due", now.installments[0].due_on.strftime("%d-%m-%Y"),
         "Last due", now.installments[-1].due_on.strftime("%d-%m-%Y")],
        ["Penalty", "none" if not loan.product.penalty_rate else
         f"{loan.product.penalty_rate} % a year, on overdue only", "Paying early",
         "any day, no charge"],
    ]
    grid = [["No", "Due date", "Due", "Paid date", "Paid", "Balance"]]
    covered, cumulative, balance = _covered_on(receipts), 0, loan.principal_minor
    for view in now.installments:
        cumulative += view.total
        balance -= view.principal
        when = next((on for on, total in covered if total >= cumulative), None)
        grid.append([str(view.number), view.due_on.strftime("%d-%m-%Y"), money(view.total),
                     when.strftime("%d-%m-%Y") if when and view.status == "paid"
                     else view.status.replace("_", " "), money(view.paid),
                     money(max(balance, 0))])
    paid = [["Date", "Amount", "Interest", "Principal", "Penalty", "Receipt"]]
    for receipt in receipts:
        paid.append([receipt.on.strftime("%d-%m-%Y"), money(receipt.amount_minor),
                     money(receipt.interest_minor), money(receipt.principal_minor),
                     money(receipt.penalty_minor), str(receipt.entry_id or "")])
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                                 topMargin=15 * mm, bottomMargin=15 * mm,
                                 title=f"Loan card {loan.id}", author=society.name)
    story: list[object] = [Paragraph(society.name, styles["Title"]),
                           Paragraph(f"Loan card, amounts in {society.currency}",
                                     styles["Heading2"]),
                           _table(facts, [28, 62, 28, 62], header=False),
                           Spacer(1, 5 * mm), Paragraph("Schedule", styles["Heading3"]),
                           _table(grid, [14, 28, 32, 30, 32, 34])]
    if position is not None and loan.status == "active":
        story += [Spacer(1, 3 * mm), Paragraph(
            f"On {printed_on.strftime('%d-%m-%Y')}: principal outstanding "
            f"{money(position.outstanding_principal)}, interest due "
            f"{money(position.interest_due)}; to close the loan today pay "
            f"{money(position.payoff)}.", body)]
    story += [Spacer(1, 5 * mm), Paragraph("Repayments received", styles["Heading3"]),
              _table(paid, [28, 32, 30, 32, 28, 30],
                     numbers_from=1)
              if receipts else Paragraph("None yet.", body)]
    if loan.status == "closed" and loan.closed_on:
        story += [Spacer(1, 5 * mm), Paragraph(
            f"<b>Discharge.</b> This loan was repaid in full and closed on "
            f"{loan.closed_on.strftime('%d-%m-%Y')}. Nothing more is owed on it.", body)]
    elif loan.status == "written_off":
        story += [Spacer(1, 5 * mm), Paragraph(
            "The board has written this loan off; any payment is received as a recovery.",
            body)]
    story += [Spacer(1, 6 * mm), Paragraph(
        f"Questions or complaints: {society.settings.grievance_contact}", body),
        Paragraph(f"Printed {printed_on.strftime('%d-%m-%Y')}; books at entry "
                  f"{book.head_seq}: {book.head_hash[:16]}", styles["Code"])]
    document.build(story)
    return buffer.getvalue()


def _covered_on(receipts: list[Receipt]) -> list[tuple[date, int]]:
    """(date, everything paid to interest and principal by then) after each receipt."""
    total, result = 0, []
    for receipt in receipts:
        total += receipt.principal_minor + receipt.interest_minor
        result.append((receipt.on, total))
    return result


def _table(rows: list[list[str]], widths_mm: list[int], *, header: bool = True,
           numbers_from: int = 2) -> Table:
    table = Table(rows, colWidths=[width * mm for width in widths_mm],
                  repeatRows=1 if header else 0)
    style = [("FONTSIZE", (0, 0), (-1, -1), 10), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("GRID", (0, 0), (-1, -1), 0.3, colors.grey)]
    if header:
        style += [("FONT", (0, 0), (-1, 0), "Helvetica-Bold"),
                  ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                  ("ALIGN", (numbers_from, 1), (-1, -1), "RIGHT")]
    else:
        style += [("FONT", (0, 0), (0, -1), "Helvetica-Bold"),
                  ("FONT", (2, 0), (2, -1), "Helvetica-Bold")]
    table.setStyle(TableStyle(style))
    return table
