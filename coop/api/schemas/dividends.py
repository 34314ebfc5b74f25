"""Year-end and dividends: bodies and presenters. The preview's figures are shaped by
`coop.dividends.preview_document` (the same document a declaration stores); the models here
check that shape before it is sent."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal

from pydantic import Field

from coop.api.loan_schemas import Rate
from coop.api.schemas.common import ChainHeadOut, In, MoneyText, Out, money, utc_text
from coop.dividends import DeclarationRow, YearClose

BasisName = Literal["share_days", "months_held", "closing_register"]


class DividendIn(In):
    dividend_rate: Rate | None = None
    dividend_amount: MoneyText | None = None
    patronage_rebate_percent: Rate | None = None
    basis: BasisName | None = None


class DeclarationIn(DividendIn):
    resolution: str | None = Field(default=None, min_length=1, max_length=200)


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


class DeclarationOut(DividendPreviewOut):
    status: Literal["declared", "paid", "cancelled"]
    resolution: str | None
    appropriation_entry_id: int
    cancellation_entry_id: int | None
    payment_entries: int
    declared_at: str
    paid_at: str | None


class PaymentOut(Out):
    fiscal_year: int
    status: Literal["paid"]
    entries: int


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


def preview_out(document: dict[str, Any]) -> DividendPreviewOut:
    """`document` is `coop.dividends.preview_document(...)`."""
    return DividendPreviewOut.model_validate(document)


def declaration_out(row: DeclarationRow) -> DeclarationOut:
    return DeclarationOut.model_validate({
        **json.loads(row.preview_json), "status": row.status, "resolution": row.resolution,
        "appropriation_entry_id": row.appropriation_entry_id,
        "cancellation_entry_id": row.cancellation_entry_id,
        "payment_entries": row.payment_entries, "declared_at": utc_text(row.declared_at),
        "paid_at": utc_text(row.paid_at) if row.paid_at else None})


def payment_out(fiscal_year: int, row: DeclarationRow) -> PaymentOut:
    return PaymentOut(fiscal_year=fiscal_year, status=row.status,
                      entries=row.payment_entries)


def cancellation_out(fiscal_year: int, row: DeclarationRow) -> CancellationOut:
    return CancellationOut(fiscal_year=fiscal_year, status=row.status,
                           cancellation_entry_id=row.cancellation_entry_id)
