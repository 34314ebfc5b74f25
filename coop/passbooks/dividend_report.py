"""The auditor's one-page summary of a year's dividend: surplus, appropriation, rate, pool,
residue, totals and the chain head, so a printed copy can be checked against the books."""

from __future__ import annotations

import io
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from coop.dividends import Preview
from coop.dividends.previews import FUND_NAMES, preview_digest
from coop.money import format_minor, grouped
from coop.passbooks.typeset import latin_fonts


def amount_text(value: str, locale: str) -> str:
    """A decimal string in the society's digit grouping, two places: "100000.00" in en_IN
    gives "1,00,000.00". The currency is named once in the heading, not on every figure."""
    return grouped(Decimal(value), locale)


def summary_pdf(preview: Preview, *, society_name: str, currency: str, locale: str,
                status: str, chain_head: tuple[int, str], resolution: str = "") -> bytes:
    """`resolution`: the general body's, as it should read ("GB-7/2026 of 2026-05-30")."""
    styles = getSampleStyleSheet()
    latin = latin_fonts()  # embedded, as in every document (coop.passbooks.typeset)
    for style in styles.byName.values():
        style.fontName = latin["Bold" in getattr(style, "fontName", "")]
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm,
                            title=f"Dividend {preview.fiscal_year}", author=society_name,
                            initialFontName=latin[False], invariant=1)

    def money(amount_minor: int) -> str:
        return amount_text(format_minor(amount_minor, currency), locale)

    rows = [["", f"Amount ({currency})"],
            ["Net surplus of the year", money(preview.net_surplus)]]
    rows += [[f"{FUND_NAMES.get(a.fund, a.fund)} ({a.percent} %, {a.account})",
              money(a.amount)] for a in preview.appropriations]
    rows += [["Distributable balance", money(preview.distributable)],
             [f"Dividend pool ({preview.rate} % on {preview.basis.value.replace('_', ' ')})",
              money(preview.pool)],
             ["Dividend allocated to members", money(preview.allocated)],
             ["Dividend rounding residue (to 3200)", money(preview.residue)],
             [f"Patronage rebate pool ({preview.rebate_percent} % of loan interest paid)",
              money(preview.rebate_pool)],
             ["Patronage rebate allocated", money(preview.rebate_allocated)],
             ["Undistributed, to 3200", money(preview.undistributed)]]
    members = preview.members
    total = sum(share.total for share in members)
    rows.append([f"Total to {len(members)} members", money(total)])
    table = Table(rows, colWidths=[120 * mm, 50 * mm])
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), latin[False]),
        ("FONT", (0, 0), (-1, 0), latin[True]),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ("FONTSIZE", (0, 0), (-1, -1), 11),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]))
    seq, digest = chain_head
    story = [
        Paragraph(society_name, styles["Title"]),
        Paragraph(f"Dividend for fiscal year {preview.fiscal_year}: {status}",
                  styles["Heading2"]),
        Paragraph(f"General body resolution: {resolution or 'not recorded'}; preview digest "
                  f"{preview_digest(preview)}", styles["BodyText"]),
        Spacer(1, 4 * mm), table, Spacer(1, 6 * mm),
        Paragraph("Every member's basis, dividend and rebate are in the CSV report of the "
                  "same year. The figures above are the stored declaration; re-run the preview "
                  "to check them.", styles["BodyText"]),
        Spacer(1, 3 * mm),
        Paragraph(f"Chain head when printed: {seq}:{digest}", styles["Code"]),
    ]
    pdf.build(story)
    return buffer.getvalue()
