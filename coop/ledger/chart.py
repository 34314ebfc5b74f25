"""The default chart of accounts. Its codes are part of the public contract (CONTRACT.md).

`may_go_negative=False` is overdraft protection checked on every posting (and by a CHECK
constraint): cash cannot go below zero, nor a member's savings, nor the loans she owes.
Control accounts (1100, 2000, 3000) hold no postings of their own: they sum their members'
sub-accounts, so the member sub-ledger and the general ledger reconcile by construction.
1000 Cash on hand is a control account that also holds postings of its own (the safe's cash):
each open till is a sub-account of it (`1000:T-<till id>`, coop.tills), so its balance is all
the cash in the building, safe and tills together.

1190 Provision for bad and doubtful debts is a contra-asset: an asset-type account (so the
balance sheet shows it under 1100 and the beancount export under Assets) whose balance is a
credit. Its normal side stays the asset's debit, like every asset's (`open_account` takes the
side from the type), with `may_go_negative=True`: its signed balance is negative, and the
loans net of the provision are 1100 + 1190. Only the provisioning run (coop.loans.provisioning)
posts to it, against 5210 Provisioning for bad and doubtful debts (an expense, closed into the
surplus at the year close like every expense); `coop verify` checks 1190 against the runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from coop.ledger.model import AccountType

A, L, Q, R, X = (  # asset, liability, equity, revenue (income), expense
    AccountType.ASSET,
    AccountType.LIABILITY,
    AccountType.EQUITY,
    AccountType.INCOME,
    AccountType.EXPENSE,
)


@dataclass(frozen=True, slots=True)
class ChartAccount:
    code: str
    name: str
    type: AccountType
    may_go_negative: bool = False
    is_control: bool = False


CASH = "1000"
BANK = "1010"
LOANS = "1100"
INTEREST_RECEIVABLE = "1110"
PROVISION_FOR_BAD_DEBTS = "1190"
SAVINGS = "2000"
DIVIDENDS_PAYABLE = "2100"
INTEREST_PAYABLE = "2110"
SHARE_CAPITAL = "3000"
STATUTORY_RESERVE = "3100"
EDUCATION_FUND = "3110"
UNFORESEEN_LOSS_RESERVE = "3120"
UNDISTRIBUTED_SURPLUS = "3200"
CURRENT_YEAR_SURPLUS = "3900"
LOAN_INTEREST_INCOME = "4000"
FEES_AND_PENALTIES = "4100"
OTHER_INCOME = "4200"
LOAN_RECOVERIES = "4300"
CASH_OVERAGES = "4400"
SAVINGS_INTEREST_EXPENSE = "5000"
OPERATING_EXPENSES = "5100"
LOAN_LOSSES = "5200"
PROVISIONING_EXPENSE = "5210"
CASH_SHORTAGES = "5400"

HOLDS_OWN_POSTINGS = frozenset({CASH})
"""Control accounts that may also be posted to directly: the safe's cash is 1000 itself."""

DEFAULT_CHART: tuple[ChartAccount, ...] = (
    ChartAccount(CASH, "Cash on hand", A, is_control=True),
    ChartAccount(BANK, "Bank", A),
    ChartAccount(LOANS, "Loans to members", A, is_control=True),
    ChartAccount(INTEREST_RECEIVABLE, "Interest receivable", A),
    ChartAccount(PROVISION_FOR_BAD_DEBTS, "Provision for bad and doubtful debts", A,
                 may_go_negative=True),
    ChartAccount(SAVINGS, "Members' savings", L, is_control=True),
    ChartAccount(DIVIDENDS_PAYABLE, "Dividends payable", L),
    ChartAccount(INTEREST_PAYABLE, "Interest payable on savings", L),
    ChartAccount(SHARE_CAPITAL, "Share capital", Q, is_control=True),
    ChartAccount(STATUTORY_RESERVE, "Statutory reserve fund", Q),
    ChartAccount(EDUCATION_FUND, "Education fund", Q),
    ChartAccount(UNFORESEEN_LOSS_RESERVE, "Reserve for unforeseen losses", Q),
    ChartAccount(UNDISTRIBUTED_SURPLUS, "Undistributed surplus", Q, may_go_negative=True),
    ChartAccount(CURRENT_YEAR_SURPLUS, "Current year surplus", Q, may_go_negative=True),
    ChartAccount(LOAN_INTEREST_INCOME, "Interest on loans", R, may_go_negative=True),
    ChartAccount(FEES_AND_PENALTIES, "Fees and penalties", R, may_go_negative=True),
    ChartAccount(OTHER_INCOME, "Grants and other income", R, may_go_negative=True),
    ChartAccount(LOAN_RECOVERIES, "Recoveries of loans written off", R, may_go_negative=True),
    ChartAccount(CASH_OVERAGES, "Cash overages", R, may_go_negative=True),
    ChartAccount(SAVINGS_INTEREST_EXPENSE, "Interest on savings", X, may_go_negative=True),
    ChartAccount(OPERATING_EXPENSES, "Operating expenses", X, may_go_negative=True),
    ChartAccount(LOAN_LOSSES, "Loan losses", X, may_go_negative=True),
    ChartAccount(PROVISIONING_EXPENSE, "Provisioning for bad and doubtful debts", X,
                 may_go_negative=True),
    ChartAccount(CASH_SHORTAGES, "Cash shortages", X, may_go_negative=True),
)
