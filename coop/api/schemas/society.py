"""The society: its settings document, bodies and presenter."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from coop.api.schemas.common import In, MoneyText, Out, money
from coop.society import Society, settings_document


class SocietyOut(Out):
    name: str
    currency: str
    locale: str
    fiscal_year_start: str
    share_face_value: MoneyText
    business_date: date
    settings: dict[str, Any]


class SocietyPatchIn(In):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    locale: str | None = Field(default=None, min_length=2, max_length=16)
    settings: dict[str, Any] | None = None


def society_out(society: Society, *, business_date: date) -> SocietyOut:
    return SocietyOut(
        name=society.name, currency=society.currency, locale=society.locale,
        fiscal_year_start=society.fiscal_year_start,
        share_face_value=money(society.share_face_value_minor, society.currency),
        business_date=business_date, settings=settings_document(society.settings))
