"""The statements as values, built by pure functions from the chart and the ledger's figures
(general-ledger account code -> debits minus credits, from `coop.ledger.aggregates`).

- Balance sheet: assets (debit balances positive), liabilities and equity (credit balances
  positive). A contra account (CONTRA_ACCOUNTS) is netted into the account it reduces, so
  loans are shown net of the provision for bad and doubtful debts. Income and expense not yet
  closed into 3900 are one equity line, `current-year-surplus`. Since every entry balances,
  the debits-minus-credits of all accounts sum to zero, so total assets always equal total
  liabilities and equity (`require`d).
- Income and expenditure: income accounts (credits positive) and expense accounts (debits
  positive) moved in a period; the net surplus is their difference.
- Receipts and payments: cash at the start, what came in and went out by the account on the
  other side, cash at the end; opening + receipts - payments = closing (`require`d).

Each line carries the comparative figure (`previous_minor`) beside the figure asked for;
lines zero in both are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from coop.errors import require
from coop.ledger.aggregates import CashFlow

CONTRA_ACCOUNTS: Mapping[str, str] = {"1190": "1100"}
"""Contra account -> the account it is shown against: 1190 Provision for bad and doubtful
debts reduces 1100 Loans to members. A contra account not in the chart is simply absent."""
CURRENT_YEAR_SURPLUS_LINE = "current-year-surplus"
CURRENT_YEAR_SURPLUS_NAME = "Surplus of the year not yet closed"


@dataclass(frozen=True, slots=True)
class ChartLine:
    code: str
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Line:
    account: str
    name: str
    amount_minor: int
    previous_minor: int
    less: Line | None = None  # the contra account netted into this line, as a positive sum


@dataclass(frozen=True, slots=True)
class Section:
    lines: tuple[Line, ...]

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    @property
    def previous_total_minor(self) -> int:
        return sum(line.previous_minor for line in self.lines)


@dataclass(frozen=True, slots=True)
class BalanceSheet:
    as_of: date
    previous_as_of: date
    assets: Section
    liabilities: Section
    equity: Section

    @property
    def total_assets_minor(self) -> int:
        return self.assets.total_minor

    @property
    def total_liabilities_and_equity_minor(self) -> int:
        return self.liabilities.total_minor + self.equity.total_minor

    @property
    def previous_total_assets_minor(self) -> int:
        return self.assets.previous_total_minor

    @property
    def previous_total_liabilities_and_equity_minor(self) -> int:
        return self.liabilities.previous_total_minor + self.equity.previous_total_minor


@dataclass(frozen=True, slots=True)
class IncomeExpenditure:
    first: date
    last: date
    previous_first: date
    previous_last: date
    income: Section
    expenditure: Section

    @property
    def net_surplus_minor(self) -> int:
        return self.income.total_minor - self.expenditure.total_minor

    @property
    def previous_net_surplus_minor(self) -> int:
        return self.income.previous_total_minor - self.expenditure.previous_total_minor


@dataclass(frozen=True, slots=True)
class ReceiptsPayments:
    first: date
    last: date
    previous_first: date
    previous_last: date
    opening_cash_minor: int
    closing_cash_minor: int
    previous_opening_cash_minor: int
    previous_closing_cash_minor: int
    receipts: Section
    payments: Section


def _line(chart: ChartLine, sign: int, now: Mapping[str, int],
          before: Mapping[str, int]) -> Line:
    return Line(chart.code, chart.name, sign * now.get(chart.code, 0),
                sign * before.get(chart.code, 0))


def _shown(lines: Sequence[Line]) -> tuple[Line, ...]:
    return tuple(line for line in lines if line.amount_minor or line.previous_minor)


def balance_sheet_of(chart: Sequence[ChartLine], now: Mapping[str, int],
                     before: Mapping[str, int], *, as_of: date, previous_as_of: date,
                     contra: Mapping[str, str] = CONTRA_ACCOUNTS) -> BalanceSheet:
    """The balance sheet from each account's debits minus credits at `as_of` (`now`) and at
    `previous_as_of` (`before`)."""
    by_code = {account.code: account for account in chart}
    netted = {code: target for code, target in contra.items()
              if code in by_code and target in by_code}
    sections: dict[str, list[Line]] = {"asset": [], "liability": [], "equity": []}
    for account in chart:
        if account.code in netted or account.type not in sections:
            continue
        sign = 1 if account.type == "asset" else -1
        line = _line(account, sign, now, before)
        for code, target in netted.items():
            if target == account.code:
                less = _line(by_code[code], -sign, now, before)
                line = Line(line.account, line.name, line.amount_minor - less.amount_minor,
                            line.previous_minor - less.previous_minor, less)
        sections[account.type].append(line)
    open_codes = [a.code for a in chart if a.type in ("income", "expense")]
    sections["equity"].append(Line(
        CURRENT_YEAR_SURPLUS_LINE, CURRENT_YEAR_SURPLUS_NAME,
        -sum(now.get(code, 0) for code in open_codes),
        -sum(before.get(code, 0) for code in open_codes)))
    sheet = BalanceSheet(as_of, previous_as_of, Section(_shown(sections["asset"])),
                         Section(_shown(sections["liability"])),
                         Section(_shown(sections["equity"])))
    require(sheet.total_assets_minor == sheet.total_liabilities_and_equity_minor
            and sheet.previous_total_assets_minor
            == sheet.previous_total_liabilities_and_equity_minor,
            "the balance sheet balances: every entry's debits equal its credits")
    return sheet


def income_expenditure_of(chart: Sequence[ChartLine], now: Mapping[str, int],
                          before: Mapping[str, int], *, period: tuple[date, date],
                          previous: tuple[date, date]) -> IncomeExpenditure:
    """The account from each income and expense account's movement (debits minus credits)
    in the period (`now`) and in the comparative period (`before`)."""
    income = [_line(a, -1, now, before) for a in chart if a.type == "income"]
    spent = [_line(a, 1, now, before) for a in chart if a.type == "expense"]
    return IncomeExpenditure(period[0], period[1], previous[0], previous[1],
                             Section(_shown(income)), Section(_shown(spent)))


def _flows(chart: Mapping[str, ChartLine], now: Sequence[CashFlow],
           before: Sequence[CashFlow], *, received: bool) -> Section:
    def amounts(flows: Sequence[CashFlow]) -> dict[str, int]:
        return {f.account: f.received_minor if received else f.paid_minor for f in flows}

    this, last = amounts(now), amounts(before)
    codes = sorted(set(this) | set(last))
    return Section(_shown([Line(code, chart[code].name if code in chart else code,
                                this.get(code, 0), last.get(code, 0)) for code in codes]))


def receipts_payments_of(chart: Sequence[ChartLine], flows: Sequence[CashFlow],
                         previous_flows: Sequence[CashFlow], *, period: tuple[date, date],
                         previous: tuple[date, date], cash: tuple[int, int],
                         previous_cash: tuple[int, int]) -> ReceiptsPayments:
    """The account from the cash flows of the period and of the comparative period, with
    (opening, closing) cash of each."""
    by_code = {a.code: a for a in chart}
    statement = ReceiptsPayments(
        period[0], period[1], previous[0], previous[1], cash[0], cash[1], previous_cash[0],
        previous_cash[1], _flows(by_code, flows, previous_flows, received=True),
        _flows(by_code, flows, previous_flows, received=False))
    for opening, closing, receipts, payments in (
            (cash[0], cash[1], statement.receipts.total_minor, statement.payments.total_minor),
            (previous_cash[0], previous_cash[1], statement.receipts.previous_total_minor,
             statement.payments.previous_total_minor)):
        require(opening + receipts - payments == closing,
                "opening cash + receipts - payments = closing cash")
    return statement


__all__ = ["CONTRA_ACCOUNTS", "CURRENT_YEAR_SURPLUS_LINE", "BalanceSheet", "ChartLine",
           "IncomeExpenditure", "Line", "ReceiptsPayments", "Section", "balance_sheet_of",
           "income_expenditure_of", "receipts_payments_of"]
