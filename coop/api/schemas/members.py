"""Members, shares and savings: bodies and presenters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Literal

from pydantic import ConfigDict, Field

from coop.api.schemas.common import Day, In, LanguageCode, MoneyText, Out, Page, money
from coop.members import MemberRow
from coop.savings import HoldRow, SavingsBalance, StatementLine
from coop.savings.interest_run import InterestRun, RunReversal
from coop.savings.shares import Holding, RegisterLine


class MemberIn(In):
    known_as: str | None = Field(default=None, min_length=1, max_length=120)
    legal_name: str | None = Field(default=None, min_length=1, max_length=120)
    phone: str | None = Field(default=None, min_length=3, max_length=32)
    nominee: str | None = Field(default=None, min_length=1, max_length=120)
    joined_on: Day | None = None
    language: LanguageCode | None = None
    known_as_on_passbook: bool = False


class MemberOut(Out):
    code: str
    status: Literal["active", "exited"]
    joined_on: date


class SharesOut(Out):
    count: int
    value: MoneyText


class SavingsOut(Out):
    balance: MoneyText
    available: MoneyText


class MemberLoanOut(Out):
    id: int
    status: str
    outstanding_principal: MoneyText


class MemberSummaryOut(Out):
    code: str
    status: Literal["active", "exited"]
    joined_on: date
    known_as: str | None = None
    shares: SharesOut
    savings: SavingsOut
    loans: list[MemberLoanOut]


class SharePurchaseIn(In):
    count: int = Field(ge=1, le=100_000)
    source: Literal["cash", "savings"] = "cash"
    value_date: Day | None = None
    confirm_large_amount: bool = False


class SharePurchaseOut(Out):
    entry_id: int
    shares: SharesOut


class CashIn(In):
    amount: MoneyText
    value_date: Day | None = None
    narration: str | None = Field(default=None, min_length=1, max_length=120)
    confirm_large_amount: bool = False


class CashOut(Out):
    entry_id: int
    balance: MoneyText
    available: MoneyText


class StatementLineOut(Out):
    entry_id: int
    value_date: date
    narration: str
    deposit: MoneyText
    withdrawal: MoneyText
    balance: MoneyText


class HoldIn(In):
    amount: MoneyText
    reason: str = Field(min_length=1, max_length=120)


class HoldOut(Out):
    id: int
    amount: MoneyText
    reason: str
    released: bool


class InterestRunIn(In):
    through: Day
    period_start: Day | None = Field(default=None, alias="from")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class InterestRunOut(Out):
    id: int
    status: Literal["posted", "reversed"]
    period_start: date
    period_end: date
    rate: str
    accounts: int
    total: MoneyText
    replayed: bool


class ShareRedemptionIn(In):
    count: int = Field(ge=1, le=100_000)
    to: Literal["cash", "savings"] = "cash"
    value_date: Day | None = None


class RegisterLineOut(Out):
    member_code: str
    count: int


class ShareRegisterOut(Out):
    as_of: date
    items: list[RegisterLineOut]
    total_count: int


class PhoneSearchIn(In):
    phone: str = Field(min_length=3, max_length=32)


class MemberQueryIn(In):
    """A member number, a phone, or whole words of the name she is known by (in the body,
    never in a URL, where it would be logged)."""

    q: str = Field(min_length=1, max_length=120)


class MemberMatchOut(Out):
    code: str
    status: Literal["active", "exited"]
    known_as: str | None = None


class MemberMatchesOut(Out):
    found_by: Literal["number", "name", "phone"]
    items: list[MemberMatchOut]
    more: bool = False
    """More members matched than are listed: add a word of her name."""


def member_out(member: MemberRow) -> MemberOut:
    return MemberOut(code=member.code, status=member.status,
                     joined_on=member.joined_on)


def member_page(found: Sequence[MemberRow], *, limit: int) -> Page[MemberOut]:
    return Page[MemberOut](items=[member_out(m) for m in found],
                           next_cursor=found[-1].code if len(found) == limit else None)


def shares_out(holding: Holding, currency: str) -> SharesOut:
    return SharesOut(count=holding.count, value=money(holding.value_minor, currency))


def savings_out(balance: SavingsBalance, currency: str) -> SavingsOut:
    return SavingsOut(balance=money(balance.balance_minor, currency),
                      available=money(balance.available_minor, currency))


def member_summary_out(member: MemberRow, *, known_as: str | None, holding: Holding,
                       balance: SavingsBalance, loans: Iterable[Any],
                       currency: str) -> MemberSummaryOut:
    """Her page: `loans` are the loan rows of `coop.loans.loans_of`."""
    return MemberSummaryOut(
        code=member.code, status=member.status,
        joined_on=member.joined_on, known_as=known_as,
        shares=shares_out(holding, currency), savings=savings_out(balance, currency),
        loans=[MemberLoanOut(id=loan.id, status=loan.status,
                             outstanding_principal=money(loan.outstanding_minor, currency))
               for loan in loans])


def share_purchase_out(entry_id: int, holding: Holding, currency: str) -> SharePurchaseOut:
    return SharePurchaseOut(entry_id=entry_id, shares=shares_out(holding, currency))


def cash_out(entry_id: int, balance: SavingsBalance, currency: str) -> CashOut:
    return CashOut(entry_id=entry_id, balance=money(balance.balance_minor, currency),
                   available=money(balance.available_minor, currency))


def statement_out(lines: Iterable[StatementLine], currency: str) -> Page[StatementLineOut]:
    return Page[StatementLineOut](items=[StatementLineOut(
        entry_id=line.entry_id, value_date=line.value_date, narration=line.narration,
        deposit=money(line.deposit_minor, currency),
        withdrawal=money(line.withdrawal_minor, currency),
        balance=money(line.balance_minor, currency)) for line in lines])


def hold_out(hold: HoldRow, *, released: bool, currency: str) -> HoldOut:
    return HoldOut(id=hold.id, amount=money(hold.amount_minor, currency), reason=hold.reason,
                   released=released)


class InterestRunReversalOut(Out):
    id: int
    status: Literal["reversed"]
    entries_reversed: int


def interest_run_out(run: InterestRun, currency: str) -> InterestRunOut:
    return InterestRunOut(id=run.id, status="reversed" if run.status == "reversed" else "posted",
                          period_start=run.period_start, period_end=run.period_end,
                          rate=run.rate_percent, accounts=run.accounts,
                          total=money(run.total_minor, currency), replayed=run.replayed)


def interest_run_reversal_out(done: RunReversal) -> InterestRunReversalOut:
    return InterestRunReversalOut(id=done.id, status="reversed",
                                  entries_reversed=done.entries_reversed)


def share_register_out(lines: Sequence[RegisterLine], *, as_of: date) -> ShareRegisterOut:
    return ShareRegisterOut(
        as_of=as_of, total_count=sum(line.count for line in lines),
        items=[RegisterLineOut(member_code=line.member_code, count=line.count)
               for line in lines])
