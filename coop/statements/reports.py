"""The statements read from the books: each is one or two aggregate queries over the
postings (`coop.ledger.aggregates`), then a pure function (`coop.statements.model`).

Comparative figures (what an Indian co-operative's auditor expects, and what Schedule III
style accounts print):
- the balance sheet's "previous year" column is the previous fiscal year's closing balance
  sheet (at 31 March before, with the default 1 April year), whatever day the sheet is drawn
  to: the last audited figures;
- income and expenditure, and receipts and payments, compare with the same days a year
  before (for a fiscal year, the fiscal year before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from coop.ledger import aggregates, queries
from coop.ledger.chart import BANK, CASH, SAVINGS, SHARE_CAPITAL
from coop.society import Society
from coop.statements.model import (
    BalanceSheet,
    ChartLine,
    IncomeExpenditure,
    ReceiptsPayments,
    balance_sheet_of,
    income_expenditure_of,
    receipts_payments_of,
)
from coop.statements.periods import (
    MonthEnd,
    fiscal_year_of,
    months_ending,
    previous_period,
    previous_year_end,
)

CASH_ACCOUNTS = (CASH, BANK)
"""Cash for receipts and payments: 1000 Cash on hand with its tills, and 1010 Bank."""


def chart(session: Session) -> list[ChartLine]:
    return [ChartLine(a.code, a.name, a.type) for a in queries.list_accounts(session)]


def balance_sheet(session: Session, society: Society, *, as_of: date) -> BalanceSheet:
    """The balance sheet at the end of `as_of`, beside the previous fiscal year's closing."""
    previous = previous_year_end(as_of, society.fiscal_year_start)
    figures = aggregates.balances_on(session, [as_of, previous])
    return balance_sheet_of(chart(session), figures[as_of], figures[previous], as_of=as_of,
                            previous_as_of=previous)


def this_year_so_far(society: Society, today: date) -> tuple[date, date]:
    """The default period: the current fiscal year from its first day to `today`."""
    return fiscal_year_of(today, society.fiscal_year_start)[0], today


def income_expenditure(session: Session, *, first: date, last: date) -> IncomeExpenditure:
    """Income and expenditure from `first` to `last`, beside the same days a year before."""
    previous = previous_period(first, last)
    now, before = aggregates.movements_in(session, [(first, last), previous])
    return income_expenditure_of(chart(session), now, before, period=(first, last),
                                 previous=previous)


def _cash(figures: dict[str, int]) -> int:
    return sum(figures.get(code, 0) for code in CASH_ACCOUNTS)


def receipts_payments(session: Session, *, first: date, last: date) -> ReceiptsPayments:
    """Receipts and payments from `first` to `last`, beside the same days a year before."""
    previous = previous_period(first, last)
    days = [first - timedelta(days=1), last, previous[0] - timedelta(days=1), previous[1]]
    balances = aggregates.balances_on(session, days)
    flows, previous_flows = aggregates.cash_flows(session, CASH_ACCOUNTS,
                                                  [(first, last), previous])
    return receipts_payments_of(
        chart(session), flows, previous_flows, period=(first, last), previous=previous,
        cash=(_cash(balances[days[0]]), _cash(balances[days[1]])),
        previous_cash=(_cash(balances[days[2]]), _cash(balances[days[3]])))


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """One month of the charts: savings and share capital at its end, its income and
    expenditure."""

    month: str  # YYYY-MM
    through: date
    savings_minor: int
    share_capital_minor: int
    income_minor: int
    expenditure_minor: int


def monthly(session: Session, *, through: date) -> list[MonthFigures]:
    """The twelve months ending with the month of `through`: two queries in all."""
    months: list[MonthEnd] = months_ending(through)
    balances = aggregates.balances_on(session, [m.through for m in months])
    moved = aggregates.movements_in(session, [(m.first, m.through) for m in months])
    types = {line.code: line.type for line in chart(session)}
    found = []
    for month, movement in zip(months, moved, strict=True):
        at = balances[month.through]
        found.append(MonthFigures(
            month.name, month.through, -at.get(SAVINGS, 0), -at.get(SHARE_CAPITAL, 0),
            -sum(v for code, v in movement.items() if types.get(code) == "income"),
            sum(v for code, v in movement.items() if types.get(code) == "expense")))
    return found


__all__ = ["CASH_ACCOUNTS", "MonthFigures", "balance_sheet", "chart", "income_expenditure",
           "monthly", "receipts_payments", "this_year_so_far"]
