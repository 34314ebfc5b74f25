"""Year-end and dividends: bodies and presenters. The dividends package works in minor
units; `preview_body` shapes its figures as the contract shows them, and the models here check
that shape before it is sent."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

from coop.api.schemas.common import ChainHeadOut, Day, In, MoneyText, Out, money, utc_text
from coop.api.schemas.loan_terms import Rate
from coop.dividends import Declaration, Preview, YearClose, preview_digest
from coop.dividends.payment_reversal import PaymentReversal
from coop.dividends.reopening import YearReopening

BasisName = Literal["share_days", "months_held", "closing_register"]


class DividendIn(In):
    dividend_rate: Rate | None = None
    dividend_amount: MoneyText | None = None
    patronage_rebate_percent: Rate | None = None
    basis: BasisName | None = None


class ResolutionIn(In):
    """The general body's resolution: its number and the day it was passed."""

    number: str = Field(min_length=1, max_length=40, examples=["GB-7/2026"])
    date: Day


class DeclarationIn(DividendIn):
    preview_digest: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")
    """The digest of the preview the board saw; 409 when the body's figures differ."""
    resolution: ResolutionIn | None = None


class DeclarationVoteIn(In):
    decision: Literal["approve", "reject"]
    note: str | None = Field(default=None, min_length=1, max_length=200)


class YearOut(Out):
    fiscal_year: int
    start: date
    end: date
    net_surplus: MoneyText
    closing_entry_id: int | None
    chain_head: ChainHeadOut


class AppropriationOut(Out):
    fund: str
    account: str
    percent: str
    amount: MoneyText


class DividendPoolOut(Out):
    rate: str
    basis: BasisName
    pool: MoneyText
    allocated: MoneyText
    residue: MoneyText


class RebatePoolOut(Out):
    percent: str
    pool: MoneyText
    allocated: MoneyText
    residue: MoneyText


class MemberShareOut(Out):
    member_code: str
    basis_value: MoneyText
    dividend: MoneyText
    rebate: MoneyText
    total: MoneyText


class DividendPreviewOut(Out):
    fiscal_year: int
    net_surplus: MoneyText
    appropriations: list[AppropriationOut]
    distributable: MoneyText
    dividend: DividendPoolOut
    rebate: RebatePoolOut
    undistributed: MoneyText
    allocations: list[MemberShareOut]
    preview_digest: str


class ResolutionOut(Out):
    number: str
    date: date | None
    """None only for a declaration recorded before the date was asked for."""


class DeclarationOut(DividendPreviewOut):
    status: Literal["pending", "declared", "paid", "cancelled", "rejected"]
    resolution: ResolutionOut | None
    approvals: int
    rejections: int
    approvals_required: int
    appropriation_entry_id: int | None
    cancellation_entry_id: int | None
    payment_entries: int
    declared_at: str
    paid_at: str | None


class DeclarationTallyOut(Out):
    fiscal_year: int
    status: Literal["pending", "declared", "rejected"]
    approvals: int
    rejections: int
    required: int


class PaymentOut(Out):
    fiscal_year: int
    status: Literal["paid"]
    entries: int


class PaymentReversalOut(Out):
    fiscal_year: int
    status: Literal["declared"]
    entries_reversed: int


class YearReopeningOut(Out):
    fiscal_year: int
    status: Literal["open"]
    reversal_entry_id: int | None
    """None when the close posted no entry (no income or expense in the year)."""


class CancellationOut(Out):
    fiscal_year: int
    status: Literal["cancelled"]
    cancellation_entry_id: int | None


def year_out(closed: YearClose, currency: str) -> YearOut:
    return YearOut(fiscal_year=closed.fiscal_year, start=closed.start, end=closed.end,
                   net_surplus=money(closed.net_surplus_minor, currency),
                   closing_entry_id=closed.closing_entry_id,
                   chain_head=ChainHeadOut(seq=closed.chain_head_seq,
                                           hash=closed.chain_head_hash))


def preview_body(preview: Preview, currency: str) -> dict[str, Any]:
    """The preview as CONTRACT.md shapes it (money as decimal strings), from the minor units
    the dividends package works in."""
    def m(amount: int) -> str:
        return money(amount, currency)

    return {
        "fiscal_year": preview.fiscal_year,
        "net_surplus": m(preview.net_surplus),
        "appropriations": [{"fund": a.fund, "account": a.account, "percent": str(a.percent),
                            "amount": m(a.amount)} for a in preview.appropriations],
        "distributable": m(preview.distributable),
        "dividend": {"rate": str(preview.rate), "basis": preview.basis.value,
                     "pool": m(preview.pool), "allocated": m(preview.allocated),
                     "residue": m(preview.residue)},
        "rebate": {"percent": str(preview.rebate_percent), "pool": m(preview.rebate_pool),
                   "allocated": m(preview.rebate_allocated),
                   "residue": m(preview.rebate_residue)},
        "undistributed": m(preview.undistributed),
        "allocations": [{"member_code": s.member_code, "basis_value": m(s.basis_value),
                         "dividend": m(s.dividend), "rebate": m(s.rebate), "total": m(s.total)}
                        for s in preview.members],
        "preview_digest": preview_digest(preview),
    }


def preview_out(preview: Preview, currency: str) -> DividendPreviewOut:
    return DividendPreviewOut.model_validate(preview_body(preview, currency))


def declaration_out(declared: Declaration, currency: str) -> DeclarationOut:
    return DeclarationOut.model_validate({
        **preview_body(declared.preview, currency), "status": declared.status,
        "resolution": ({"number": declared.resolution.number, "date": declared.resolution.on}
                       if declared.resolution else None),
        "approvals": declared.approvals, "rejections": declared.rejections,
        "approvals_required": declared.approvals_required,
        "appropriation_entry_id": declared.appropriation_entry_id,
        "cancellation_entry_id": declared.cancellation_entry_id,
        "payment_entries": declared.payment_entries,
        "declared_at": utc_text(declared.declared_at),
        "paid_at": utc_text(declared.paid_at) if declared.paid_at else None})


def tally_out(declared: Declaration) -> DeclarationTallyOut:
    return DeclarationTallyOut.model_validate({
        "fiscal_year": declared.fiscal_year, "status": declared.status,
        "approvals": declared.approvals, "rejections": declared.rejections,
        "required": declared.approvals_required})


def payment_out(fiscal_year: int, declared: Declaration) -> PaymentOut:
    return PaymentOut(fiscal_year=fiscal_year, status=declared.status,
                      entries=declared.payment_entries)


def cancellation_out(fiscal_year: int, declared: Declaration) -> CancellationOut:
    return CancellationOut(fiscal_year=fiscal_year,
                           status=declared.status,
                           cancellation_entry_id=declared.cancellation_entry_id)


def payment_reversal_out(done: PaymentReversal) -> PaymentReversalOut:
    return PaymentReversalOut(fiscal_year=done.fiscal_year, status="declared",
                              entries_reversed=done.entries_reversed)


def year_reopening_out(done: YearReopening) -> YearReopeningOut:
    return YearReopeningOut(fiscal_year=done.fiscal_year, status="open",
                            reversal_entry_id=done.reversal_entry_id)
