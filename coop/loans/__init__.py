"""Loans: products, applications, board votes, disbursement, repayment, reschedules,
moratoria, write-offs and the portfolio report (DESIGN.md §7, CONTRACT.md Loans).

One module per job; this package only re-exports: `__all__` is what the rest of the code
(api, cli, demo, dividends, passbooks, tests, bench) uses, and the room's errors. Anything
else is imported from its module.

* `orm` the tables; `errors` the refusals;
* `schedule` (pure) the repayment schedule and the terms (`ProductTerms`, `Terms`);
  `engine` (pure) a loan's position replayed from its plan and payments;
* `products` products and the one terms codec; `records` reading a loan, its plans and
  history, the replay remembered; `cover` the share-cover rule; `guarantors` guarantees and
  their holds on savings (through `coop.savings`'s functions);
* `applications` `apply` and the pure `check_eligibility`; `votes` the board's votes;
  `servicing` disburse, repay (and preview), recover, write off; `reschedules` reschedules
  and moratoria; `reports` standing, portfolio, arrears and PAR30 month by month, the
  month's loan activity, a member's repayment record, the board's and the counter's lists,
  reconciliation with the journal, the interest each member paid in a period;
  `risk` (pure) portfolio at risk: days past due, buckets, PAR30; `punctuality` (pure) each
  installment on time, late or overdue; `classification` (pure) the loan classes and their
  provision; `losses` the board's loss marks; `provisioning` the loans by class on a day,
  the provisioning run and the member-wise schedule of loans outstanding.
"""

from __future__ import annotations

from coop.loans import engine, punctuality, risk, schedule
from coop.loans.applications import (
    ApplicationQuote,
    EligibilityFacts,
    EligibilityRules,
    GuarantorHold,
    QuoteChanged,
    Refusal,
    apply,
    check_eligibility,
    quote_application,
)
from coop.loans.cover import check_share_cover
from coop.loans.errors import (
    AboveLimit,
    AlreadyVoted,
    LoanNotFound,
    LoanStateConflict,
    NotEligible,
    PaymentAbovePayoff,
    VoteNotAllowed,
)
from coop.loans.guarantors import Guarantee, guarantors_of
from coop.loans.orm import (
    PURPOSES,
    EventRow,
    LoanRow,
    PlanRow,
    RescheduleRow,
)
from coop.loans.products import (
    Product,
    ProductTerms,
    create_product,
    get_product,
    list_products,
    parse_order,
)
from coop.loans.records import (
    Loan,
    get_loan,
    history,
    loans_of,
    member_code_of,
)
from coop.loans.reports import (
    BUCKETS,
    Activity,
    Arrear,
    InsiderLoan,
    Portfolio,
    RepaymentRecord,
    activity_between,
    arrears,
    board_loans,
    bucket_of,
    due_between,
    falling_due,
    interest_paid_by_member,
    open_principal_of,
    par30_by_month,
    pending,
    portfolio,
    position_of,
    reconcile,
    repayment_records,
    standing,
)
from coop.loans.reschedules import declare_moratorium, request_reschedule, vote_reschedule
from coop.loans.risk import MonthPar
from coop.loans.schedule import Terms, TermsInvalid
from coop.loans.servicing import Repayment, disburse, preview_repayment, repay, write_off
from coop.loans.votes import Tally, outcome, vote, votes_of

__all__ = [
    "BUCKETS",
    "PURPOSES",
    "AboveLimit",
    "Activity",
    "AlreadyVoted",
    "ApplicationQuote",
    "Arrear",
    "EligibilityFacts",
    "EligibilityRules",
    "EventRow",
    "Guarantee",
    "GuarantorHold",
    "InsiderLoan",
    "Loan",
    "LoanNotFound",
    "LoanRow",
    "LoanStateConflict",
    "MonthPar",
    "NotEligible",
    "PaymentAbovePayoff",
    "PlanRow",
    "Portfolio",
    "Product",
    "ProductTerms",
    "QuoteChanged",
    "Refusal",
    "Repayment",
    "RepaymentRecord",
    "RescheduleRow",
    "Tally",
    "Terms",
    "TermsInvalid",
    "VoteNotAllowed",
    "activity_between",
    "apply",
    "arrears",
    "board_loans",
    "bucket_of",
    "check_eligibility",
    "check_share_cover",
    "create_product",
    "declare_moratorium",
    "disburse",
    "due_between",
    "engine",
    "falling_due",
    "get_loan",
    "get_product",
    "guarantors_of",
    "history",
    "interest_paid_by_member",
    "list_products",
    "loans_of",
    "member_code_of",
    "open_principal_of",
    "outcome",
    "par30_by_month",
    "parse_order",
    "pending",
    "portfolio",
    "position_of",
    "preview_repayment",
    "punctuality",
    "quote_application",
    "reconcile",
    "repay",
    "repayment_records",
    "request_reschedule",
    "risk",
    "schedule",
    "standing",
    "vote",
    "vote_reschedule",
    "votes_of",
    "write_off",
]
