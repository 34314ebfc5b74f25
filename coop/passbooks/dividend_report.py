"""The auditor's one-page summary of a year's dividend: surplus, appropriation, rate, pool,
residue, totals and the chain head, so a printed copy can be checked against the books."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from coop.money import grouped


def amount_text(value: str, locale: str) -> str:
    """A decimal string in the society's digit grouping, two places: "100000.00" in en_IN
    gives "1,00,000.00". The currency is named once in the heading, not on every figure."""
    return grouped(Decimal(value), locale)


def summary_pdf(document: dict[str, Any], *, society_name: str, currency: str, locale: str,
                status: str, chain_head: tuple[int, str]) -> bytes:
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm,
                            title=f"Dividend {document['fiscal_year']}", author=society_name)

    def money(value: str) -> str:
        return amount_text(value, locale)

    dividend, rebate = document["dividend"], document["rebate"]
    rows = [["", f"Amount ({currency})"],
            ["Net surplus of the year", money(document["net_surplus"])]]
    rows += [[f"{a['fund'].replace('_', ' ').capitalize()} ({a['percent']} %, {a['account']})",
              money(a["amount"])] for a in document["appropriations"]]
    rows += [["Distributable balance", money(document["distributable"])],
             [f"Dividend pool ({dividend['rate']} % on {dividend['basis'].replace('_', ' ')})",
              money(dividend["pool"])],
             ["Dividend allocated to members", money(dividend["allocated"])],
             ["Dividend rounding residue (to 3200)", money(dividend["residue"])],
             [f"Patronage rebate pool ({rebate['percent']} % of loan interest paid)",
              money(rebate["pool"])],
             ["Patronage rebate allocated", money(rebate["allocated"])],
             ["Undistributed, to 3200", money(document["undistributed"])]]
    members = document["allocations"]
    total = sum(Decimal(line["total"]) for line in members)
    rows.append([f"Total to {len(members)} members", money(f"{total:.2f}")])
    table = Table(rows, colWidths=[120 * mm, 50 * mm])
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ("FONTSIZE", (0, 0), (-1, -1), 11),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]))
    seq, digest = chain_head
    story = [
        Paragraph(society_name, styles["Title"]),
        Paragraph(f"Dividend for fiscal year {document['fiscal_year']}: {status}",
                  styles["Heading2"]),
        Spacer(1, 4 * mm), table, Spacer(1, 6 * mm),
        Paragraph("Every member's basis, dividend and rebate are in the CSV report of the "
                  "same year. The figures above are the stored declaration; re-run the preview "
                  "to check them.", styles["BodyText"]),
        Spacer(1, 3 * mm),
        Paragraph(f"Chain head when printed: {seq}:{digest}", styles["Code"]),
    ]
    pdf.build(story)
    return buffer.getvalue()
