"""The auditor's CSV of a year's dividend: one row per member, money as decimal strings with
the currency's digits (member_code, basis_value, dividend, rebate, total)."""

from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session

from coop.dividends.declarations import get_declaration
from coop.dividends.previews import Preview
from coop.money import format_minor
from coop.society import book_currency


def preview_csv(preview: Preview, currency: str) -> str:
    """Every member's basis, dividend, rebate and total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["member_code", "basis_value", "dividend", "rebate", "total"])
    for share in preview.members:
        writer.writerow([share.member_code] + [
            format_minor(amount, currency)
            for amount in (share.basis_value, share.dividend, share.rebate, share.total)])
    return out.getvalue()


def report_csv(session: Session, name: int) -> str:
    """The CSV of the declared (or paid, or last cancelled) dividend of year `name`."""
    return preview_csv(get_declaration(session, name).preview, book_currency(session))
