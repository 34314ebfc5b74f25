"""What every context's bodies share: the strict input base, the output base, money as a
decimal string (never a JSON number), dates as YYYY-MM-DD, pages of items, and the one place
an output model is validated and turned into bytes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator

from coop.errors import require
from coop.money import format_minor

Day = Annotated[date, Strict()]
MoneyText = Annotated[str, Field(max_length=24, examples=["1250.50"])]
RoleName = Literal["admin", "board", "clerk", "auditor", "member"]
AccountTypeName = Literal["asset", "liability", "equity", "income", "expense"]
# a plain pattern, not a Literal: Litestar describes a Literal shared by bodies and query
# parameters differently depending on which route it met first
LanguageCode = Annotated[str, Field(pattern="^(en|kn|bn|hi|es|sw)$", examples=["kn"])]
MemberCode = Annotated[str, Field(min_length=3, max_length=16, examples=["M-7Q4K2X"])]


def _takes_int(annotation: Any) -> bool:
    """An int field, optional or not (bool is a subclass of int, but no count is a bool)."""
    if annotation is int:
        return True
    return int in get_args(annotation) and bool not in get_args(annotation)


class In(BaseModel):
    """A request body: unknown fields are refused, and an integer is a JSON integer (`"1"`
    and `true` are not counts: 422 naming the field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _integers_are_integers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if (field is not None and isinstance(value, bool | str | float)
                and _takes_int(field.annotation)):
            raise ValueError("must be a JSON integer, such as 3 (not \"3\", true or 3.0)")
        return value


class Out(BaseModel):
    """A response body: built by a presenter, validated when built (and again, whole, before
    it is sent or stored: `dump`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


T = TypeVar("T")


class Page(Out, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class ChainHeadOut(Out):
    seq: int
    hash: str


def money(amount_minor: int, currency: str) -> str:
    """Minor units as the decimal string of the API (exactly the currency's digits)."""
    return format_minor(amount_minor, currency)


def utc_text(moment: datetime) -> str:
    """A UTC instant as the API writes it: ISO 8601 with a Z."""
    return moment.isoformat().replace("+00:00", "Z")


def dump(payload: Out) -> Any:
    """The JSON-ready form of an output model. Only a validated model is sent or stored: a
    presenter's model is validated when it is built (nested dicts included); a work function
    that hands back anything else is a programming error."""
    require(isinstance(payload, Out), f"a response is an output model, not {type(payload)}")
    return payload.model_dump(mode="json")
