"""Bodies of the annual statements (CONTRACT.md, Annual accounts and reports): every line
with its figure (`amount`) and the comparative figure (`previous_amount`), money as decimal
strings, and the schedules behind the balance sheet."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, create_model

from coop.api.schemas.common import MoneyText, Out, money
from coop.statements import (
    BalanceSheet,
    IncomeExpenditure,
    Line,
    ReceiptsPayments,
    Schedule,
    Section,
)


class LessOut(Out):
    account: str
    name: str
    amount: MoneyText
    previous_amount: MoneyText


class LineOut(Out):
    account: str
    name: str
    amount: MoneyText
    previous_amount: MoneyText
    less: LessOut | None = Field(default=None, description="A contra account netted into "
                                 "this line (loans less the provision), as a positive sum")


class BalanceSheetOut(Out):
    as_of: date
    previous_as_of: date = Field(description="The previous fiscal year's last day")
    assets: list[LineOut]
    liabilities: list[LineOut]
    equity: list[LineOut]
    total_assets: MoneyText
    total_liabilities_and_equity: MoneyText
    previous_total_assets: MoneyText
    previous_total_liabilities_and_equity: MoneyText


_PERIOD_FIELDS: dict[str, Any] = {
    "from": (date, Field(description="The period's first day")),
    "to": (date, Field(description="The period's last day")),
}
_FromTo = create_model("_FromTo", __base__=Out, **_PERIOD_FIELDS)
"""A body with fields named `from` and `to` (Python words, so not class attributes): built
by name, the JSON and the OpenAPI document both say `from` and `to`."""


class _Period(_FromTo):
    previous_from: date = Field(description="The same days a year before: the first")
    previous_to: date = Field(description="... and the last")


class IncomeExpenditureOut(_Period):
    income: list[LineOut]
    expenditure: list[LineOut]
    total_income: MoneyText
    total_expenditure: MoneyText
    net_surplus: MoneyText
    previous_total_income: MoneyText
    previous_total_expenditure: MoneyText
    previous_net_surplus: MoneyText


class ReceiptsPaymentsOut(_Period):
    opening_cash: MoneyText
    receipts: list[LineOut]
    payments: list[LineOut]
    closing_cash: MoneyText
    total_receipts: MoneyText
    total_payments: MoneyText
    previous_opening_cash: MoneyText
    previous_total_receipts: MoneyText
    previous_total_payments: MoneyText
    previous_closing_cash: MoneyText


class ScheduleLineOut(Out):
    member_code: str
    amount: MoneyText
    shares: int | None = None
    name: str | None = None


class ScheduleOut(Out):
    schedule: str
    account: str
    as_of: date
    members: int
    lines: list[ScheduleLineOut]
    total: MoneyText


def _line(line: Line, currency: str) -> LineOut:
    less = line.less
    return LineOut(account=line.account, name=line.name,
                   amount=money(line.amount_minor, currency),
                   previous_amount=money(line.previous_minor, currency),
                   less=None if less is None else LessOut(
                       account=less.account, name=less.name,
                       amount=money(less.amount_minor, currency),
                       previous_amount=money(less.previous_minor, currency)))


def _lines(section: Section, currency: str) -> list[LineOut]:
    return [_line(line, currency) for line in section.lines]


def balance_sheet_out(sheet: BalanceSheet, currency: str) -> BalanceSheetOut:
    return BalanceSheetOut(
        as_of=sheet.as_of, previous_as_of=sheet.previous_as_of,
        assets=_lines(sheet.assets, currency), liabilities=_lines(sheet.liabilities, currency),
        equity=_lines(sheet.equity, currency),
        total_assets=money(sheet.total_assets_minor, currency),
        total_liabilities_and_equity=money(sheet.total_liabilities_and_equity_minor, currency),
        previous_total_assets=money(sheet.previous_total_assets_minor, currency),
        previous_total_liabilities_and_equity=money(
            sheet.previous_total_liabilities_and_equity_minor, currency))


def income_expenditure_out(account: IncomeExpenditure, currency: str) -> IncomeExpenditureOut:
    return IncomeExpenditureOut(
        **{"from": account.first, "to": account.last}, previous_from=account.previous_first,
        previous_to=account.previous_last, income=_lines(account.income, currency),
        expenditure=_lines(account.expenditure, currency),
        total_income=money(account.income.total_minor, currency),
        total_expenditure=money(account.expenditure.total_minor, currency),
        net_surplus=money(account.net_surplus_minor, currency),
        previous_total_income=money(account.income.previous_total_minor, currency),
        previous_total_expenditure=money(account.expenditure.previous_total_minor, currency),
        previous_net_surplus=money(account.previous_net_surplus_minor, currency))


def receipts_payments_out(account: ReceiptsPayments, currency: str) -> ReceiptsPaymentsOut:
    return ReceiptsPaymentsOut(
        **{"from": account.first, "to": account.last}, previous_from=account.previous_first,
        previous_to=account.previous_last,
        opening_cash=money(account.opening_cash_minor, currency),
        receipts=_lines(account.receipts, currency), payments=_lines(account.payments, currency),
        closing_cash=money(account.closing_cash_minor, currency),
        total_receipts=money(account.receipts.total_minor, currency),
        total_payments=money(account.payments.total_minor, currency),
        previous_opening_cash=money(account.previous_opening_cash_minor, currency),
        previous_total_receipts=money(account.receipts.previous_total_minor, currency),
        previous_total_payments=money(account.payments.previous_total_minor, currency),
        previous_closing_cash=money(account.previous_closing_cash_minor, currency))


def schedule_out(found: Schedule, currency: str) -> ScheduleOut:
    return ScheduleOut(
        schedule=found.name, account=found.account, as_of=found.as_of,
        members=len(found.lines),
        lines=[ScheduleLineOut(member_code=line.member_code,
                               amount=money(line.amount_minor, currency), shares=line.shares,
                               name=line.name) for line in found.lines],
        total=money(found.total_minor, currency))
