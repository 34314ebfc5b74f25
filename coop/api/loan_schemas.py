"""Loan request and response bodies (CONTRACT.md: Loans). Money and rates are strings."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from coop.api.schemas import Day, In, MoneyText, Out

Rate = Annotated[str, Field(pattern=r"^[0-9]{1,3}(\.[0-9]{1,4})?$", examples=["12", "7.5"])]
Count = Annotated[int, Field(ge=0, le=1200)]
Frequency = Literal["daily", "weekly", "fortnightly", "monthly"]
Method = Literal["declining_balance", "flat"]
AmortizationName = Literal["equal_installments", "equal_principal"]
PeriodName = Literal["same_as_repayment", "daily"]
YearName = Literal["actual", "360", "365"]
MonthName = Literal["actual", "30"]
BucketName = Literal["penalty", "fees", "overdue_interest", "overdue_principal", "due_interest",
                     "due_principal"]
Purpose = Literal["business", "education", "health", "housing", "emergency", "debts",
                  "household", "other"]


class ProductTermsIn(In):
    annual_rate: Rate
    installments: int = Field(ge=1, le=1200)
    frequency: Frequency = "monthly"
    interest_method: Method = "declining_balance"
    amortization: AmortizationName = "equal_installments"
    interest_period: PeriodName = "same_as_repayment"
    days_in_year: YearName = "actual"
    days_in_month: MonthName = "actual"
    installment_multiple: MoneyText | None = None
    grace_on_principal: Count = 0
    grace_on_interest_payment: Count = 0
    grace_on_interest_charged: Count = 0


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


class ProductOut(Out):
    code: str
    name: str
    annual_rate: str
    installments: int
    frequency: str
    interest_method: str
    amortization: str
    interest_period: str
    days_in_year: str
    days_in_month: str
    installment_multiple: MoneyText
    grace_on_principal: int
    grace_on_interest_payment: int
    grace_on_interest_charged: int
    max_principal: MoneyText | None
    fee_percent: str
    penalty_rate: str
    allocation_order: list[str]


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
