"""The years that have a live dividend (declared, or declared and paid): a cheap read for a
member's page, which offers her a statement for each year she was a member in. The stored
previews are not read."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.dividends.orm import DeclarationRow

LIVE = ("declared", "paid")


def declared_years(session: Session) -> list[int]:
    """The fiscal years with a live declaration, latest first."""
    return list(session.scalars(
        select(DeclarationRow.fiscal_year).where(DeclarationRow.status.in_(LIVE))
        .distinct().order_by(DeclarationRow.fiscal_year.desc())))


__all__ = ["declared_years"]
