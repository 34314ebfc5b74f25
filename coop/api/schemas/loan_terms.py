"""Loan request and response bodies (CONTRACT.md: Loans). Money and rates are strings.

A product's terms are not listed here: `ProductTermsIn` and the terms in `ProductOut` are
derived from the fields of `coop.loans.schedule.ProductTerms` (their types, defaults and the
bounds and units in their metadata), so the OpenAPI document describes every field the
schedule has, and a field added there appears here."""

from __future__ import annotations

from dataclasses import MISSING, fields
from dataclasses import Field as DataclassField
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_type_hints

from pydantic import Field, create_model

from coop.api.schemas import Day, In, MoneyText, Out
from coop.loans.schedule import MINOR_UNITS, ProductTerms

Rate = Annotated[str, Field(pattern=r"^[0-9]{1,3}(\.[0-9]{1,4})?$", examples=["12", "7.5"])]
BucketName = Literal["penalty", "fees", "overdue_interest", "overdue_principal", "due_interest",
                     "due_principal"]
Purpose = Literal["business", "education", "health", "housing", "emergency", "debts",
                  "household", "other"]


def _term_in(spec: DataclassField[Any], kind: Any) -> tuple[Any, Any]:
    """(annotation, default) of one terms field in a request body."""
    if spec.metadata.get("unit") == MINOR_UNITS:
        return MoneyText | None, None  # money text; absent means the field's default
    if kind is Decimal:
        annotation: Any = Rate
    elif isinstance(kind, type) and issubclass(kind, Enum):
        annotation = Literal[tuple(member.value for member in kind)]
    else:
        annotation = Annotated[kind, Field(ge=spec.metadata.get("min"),
                                           le=spec.metadata.get("max"))]
    default = spec.default
    if default is MISSING:
        return annotation, ...
    return annotation, default.value if isinstance(default, Enum) else default


def _term_out(spec: DataclassField[Any], kind: Any) -> tuple[Any, Any]:
    """(annotation, required) of one terms field in a response body."""
    if spec.metadata.get("unit") == MINOR_UNITS:
        return MoneyText, ...
    return (int if kind is int else str), ...


_TERM_TYPES = get_type_hints(ProductTerms)
TERMS_IN: dict[str, Any] = {spec.name: _term_in(spec, _TERM_TYPES[spec.name])
                            for spec in fields(ProductTerms)}
TERMS_OUT: dict[str, Any] = {spec.name: _term_out(spec, _TERM_TYPES[spec.name])
                             for spec in fields(ProductTerms)}

if TYPE_CHECKING:  # the fields are the schedule's; type checkers see the base
    ProductTermsIn = In
else:
    ProductTermsIn = create_model("ProductTermsIn", __base__=In, **TERMS_IN)


class QuoteIn(ProductTermsIn):
    principal: MoneyText
    disbursed_on: Day
    first_due_on: Day | None = None
    fee: MoneyText | None = None


class QuoteRowOut(Out):
    number: int
    due_on: date
    principal: MoneyText
    interest: MoneyText
    total: MoneyText
    balance: MoneyText


class QuoteOut(Out):
    installments: list[QuoteRowOut]
    total_principal: MoneyText
    total_interest: MoneyText
    total_fee: MoneyText
    apr: str


class ProductIn(ProductTermsIn):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=80)
    max_principal: MoneyText | None = None
    fee_percent: Rate = "0"
    penalty_rate: Rate = "0"
    allocation_order: list[BucketName] | None = Field(default=None, min_length=6, max_length=6)


if TYPE_CHECKING:
    ProductOut = Out
else:
    ProductOut = create_model(
        "ProductOut", __base__=Out, code=(str, ...), name=(str, ...), **TERMS_OUT,
        max_principal=(MoneyText | None, ...), fee_percent=(str, ...),
        penalty_rate=(str, ...), allocation_order=(list[str], ...))


class GuarantorIn(In):
    member_code: str = Field(min_length=3, max_length=16)
    amount: MoneyText


class LoanIn(In):
    member_code: str = Field(min_length=3, max_length=16)
    product: str = Field(min_length=1, max_length=32)
    principal: MoneyText
    installments: int | None = Field(default=None, ge=1, le=1200)
    purpose: Purpose | None = None
    guarantors: list[GuarantorIn] = Field(default_factory=list, max_length=5)


class ScheduleRowOut(Out):
    number: int
    due_on: date
    principal: MoneyText
    interest: MoneyText
    total: MoneyText
    paid: MoneyText
    status: Literal["paid", "partly_paid", "overdue", "due", "upcoming"]


class LoanCreatedOut(Out):
    id: int
    status: str
    member_code: str
    principal: MoneyText
    fee: MoneyText
    apr: str
    schedule: list[QuoteRowOut]


class GuarantorOut(Out):
    member_code: str
    amount: MoneyText
    held: MoneyText


class LoanOut(Out):
    id: int
    member_code: str
    status: Literal["pending", "approved", "rejected", "active", "closed", "written_off"]
    product: str
    principal: MoneyText
    fee: MoneyText
    purpose: str | None
    applied_on: date
    disbursed_on: date | None
    closed_on: date | None
    outstanding_principal: MoneyText
    interest_due: MoneyText
    penalty_due: MoneyText
    payoff_amount: MoneyText
    overdue: MoneyText
    days_past_due: int
    guarantors: list[GuarantorOut]
    schedule: list[ScheduleRowOut]


class VoteIn(In):
    decision: Literal["approve", "reject"]
    note: str | None = Field(default=None, min_length=1, max_length=200)


class TallyOut(Out):
    status: str
    approvals: int
    rejections: int
    required: int


class DisbursementIn(In):
    to: Literal["cash", "savings"] = "cash"
    value_date: Day | None = None


class DisbursementOut(Out):
    entry_id: int
    status: Literal["active"]


class RepaymentIn(In):
    amount: MoneyText
    source: Literal["cash", "savings"] = "cash"
    value_date: Day | None = None
    confirm_large_amount: bool = False


class AllocatedOut(Out):
    penalty: MoneyText
    fees: MoneyText
    interest: MoneyText
    principal: MoneyText


class RepaymentOut(Out):
    entry_id: int
    allocated: AllocatedOut
    outstanding_principal: MoneyText
    payoff_amount: MoneyText
    status: str


class PayoffOut(Out):
    as_of: date
    principal: MoneyText
    interest: MoneyText
    penalty: MoneyText
    fees: MoneyText
    total: MoneyText


class RescheduleIn(In):
    extra_installments: int = Field(default=0, ge=0, le=120)
    annual_rate: Rate | None = None
    holiday_until: Day | None = None
    reason: str = Field(min_length=1, max_length=200)


class RescheduleOut(Out):
    id: int
    status: str


class WriteOffIn(In):
    reason: str = Field(min_length=1, max_length=200)
    value_date: Day | None = None


class WriteOffReversalIn(In):
    reason: str = Field(min_length=1, max_length=200)


class WriteOffReversalOut(Out):
    entry_id: int | None
    """The reversal of the write-off entry (None when the write-off posted nothing)."""
    status: Literal["active"]
    outstanding_principal: MoneyText


class WriteOffOut(Out):
    entry_id: int | None
    """None when no principal was left (unpaid interest is never income: nothing to post)."""
    status: Literal["written_off"]
    written_off: MoneyText


class MoratoriumIn(In):
    from_on: Day
    to_on: Day
    accrue_interest: bool = True
    resolution: str = Field(min_length=1, max_length=200)


class MoratoriumOut(Out):
    id: int
    from_on: date
    to_on: date
    accrue_interest: bool
    loans_affected: int


class PortfolioOut(Out):
    as_of: date
    loans_active: int
    outstanding_principal: MoneyText
    buckets: dict[str, MoneyText]
    loans_by_bucket: dict[str, int]
    par30: str


class BoardLoanOut(Out):
    id: int
    member_code: str
    status: str
    principal: MoneyText
    outstanding_principal: MoneyText
    approvals: int
