"""dividend previews stored in minor units

A declaration's `preview_json` used to be the API's display JSON (money as decimal strings,
"30092.05"); it becomes the figures in minor units (`net_surplus_minor`: 3009205, ...), as
`coop.dividends.previews` documents. Upgrade converts every stored preview with the book's
currency digits; downgrade writes the display form back. No table changes.

Revision ID: 0008_dividend_minor
Revises: 0007
Create Date: 2026-12-06
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

from coop.errors import InvariantViolation
from coop.money import minor_digits

revision: str = '0008_dividend_minor'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = {"net_surplus", "distributable", "undistributed"}
POOL = ("pool", "allocated", "residue")
MEMBER = ("basis_value", "dividend", "rebate")


def _digits(connection: sa.Connection) -> int:
    """The book currency's ISO 4217 minor digits (no book, no declaration to convert)."""
    currency = connection.execute(sa.text("SELECT currency FROM ledger_book")).scalar()
    return minor_digits(str(currency)) if currency else 2


def _minor(text: str, digits: int) -> int:
    scaled = Decimal(text).scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise InvariantViolation(f"{text!r} is not a whole number of minor units")
    return int(scaled)


def _text(minor: int, digits: int) -> str:
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}" if digits else f"{sign}{whole}"


def to_minor(document: dict[str, Any], digits: int) -> dict[str, Any]:
    def m(text: str) -> int:
        return _minor(text, digits)

    return {
        "fiscal_year": document["fiscal_year"],
        **{f"{key}_minor": m(document[key]) for key in MONEY},
        "appropriations": [{"fund": a["fund"], "account": a["account"],
                            "percent": a["percent"], "amount_minor": m(a["amount"])}
                           for a in document["appropriations"]],
        "dividend": {"rate": document["dividend"]["rate"],
                     "basis": document["dividend"]["basis"],
                     **{f"{key}_minor": m(document["dividend"][key]) for key in POOL}},
        "rebate": {"percent": document["rebate"]["percent"],
                   **{f"{key}_minor": m(document["rebate"][key]) for key in POOL}},
        "allocations": [{"member_code": line["member_code"],
                         **{f"{key}_minor": m(line[key]) for key in MEMBER}}
                        for line in document["allocations"]],
    }


def to_text(document: dict[str, Any], digits: int) -> dict[str, Any]:
    def t(minor: int) -> str:
        return _text(minor, digits)

    return {
        "fiscal_year": document["fiscal_year"],
        **{key: t(document[f"{key}_minor"]) for key in MONEY},
        "appropriations": [{"fund": a["fund"], "account": a["account"],
                            "percent": a["percent"], "amount": t(a["amount_minor"])}
                           for a in document["appropriations"]],
        "dividend": {"rate": document["dividend"]["rate"],
                     "basis": document["dividend"]["basis"],
                     **{key: t(document["dividend"][f"{key}_minor"]) for key in POOL}},
        "rebate": {"percent": document["rebate"]["percent"],
                   **{key: t(document["rebate"][f"{key}_minor"]) for key in POOL}},
        "allocations": [{"member_code": line["member_code"],
                         **{key: t(line[f"{key}_minor"]) for key in MEMBER},
                         "total": t(line["dividend_minor"] + line["rebate_minor"])}
                        for line in document["allocations"]],
    }


def _convert(stored: bool) -> None:
    """Rewrite every preview: to minor units (`stored`) or back to display strings."""
    connection = op.get_bind()
    digits = _digits(connection)
    rows = connection.execute(sa.text("SELECT id, preview_json FROM dividend_declaration")).all()
    for row_id, text in rows:
        document = json.loads(text)
        if ("net_surplus_minor" in document) == stored:
            continue  # in that form already
        changed = to_minor(document, digits) if stored else to_text(document, digits)
        connection.execute(
            sa.text("UPDATE dividend_declaration SET preview_json = :preview WHERE id = :id"),
            {"preview": json.dumps(changed, sort_keys=True), "id": row_id})


def upgrade() -> None:
    _convert(stored=True)


def downgrade() -> None:
    _convert(stored=False)
