"""The annual statements (issue 19), read-only: the balance sheet, the income and expenditure
account and the receipts and payments account, each with the previous year beside it; the
member-wise schedules of savings and share capital behind the balance sheet; monthly figures
for the charts.

* `periods`: fiscal years, comparative periods, month ends (pure).
* `model`: the statements as values and the pure functions that build them.
* `reports`: the statements read from the books (aggregate queries, then `model`).
* `schedules`: member-wise savings and share capital, names only for admin and board.

Nothing here posts: the provisioning run and the auditor's pack are not this package's.
"""

from coop.statements.model import (
    CONTRA_ACCOUNTS,
    CURRENT_YEAR_SURPLUS_LINE,
    BalanceSheet,
    IncomeExpenditure,
    Line,
    ReceiptsPayments,
    Section,
)
from coop.statements.periods import check_day, check_period, fiscal_year_of
from coop.statements.reports import (
    CASH_ACCOUNTS,
    MonthFigures,
    balance_sheet,
    income_expenditure,
    monthly,
    receipts_payments,
    this_year_so_far,
)
from coop.statements.schedules import NAME_ROLES, SCHEDULES, Names, Schedule, schedule

__all__ = [
    "CASH_ACCOUNTS",
    "CONTRA_ACCOUNTS",
    "CURRENT_YEAR_SURPLUS_LINE",
    "NAME_ROLES",
    "SCHEDULES",
    "BalanceSheet",
    "IncomeExpenditure",
    "Line",
    "MonthFigures",
    "Names",
    "ReceiptsPayments",
    "Schedule",
    "Section",
    "balance_sheet",
    "check_day",
    "check_period",
    "fiscal_year_of",
    "income_expenditure",
    "monthly",
    "receipts_payments",
    "schedule",
    "this_year_so_far",
]
