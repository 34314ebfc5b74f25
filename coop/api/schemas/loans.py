"""Loans: the bodies of `coop.api.schemas.loan_terms` (the loan terms models, folded in here
later), the output models it lacks, and the presenters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import date
from enum import Enum
from typing import Any

from coop import board, loans
from coop.api.schemas.common import MoneyText, Out, Page, money
from coop.api.schemas.loan_terms import (
    AllocatedOut,
    BoardLoanOut,
    DisbursementOut,
    GuarantorOut,
    LoanCreatedOut,
    LoanOut,
    MoratoriumOut,
    PayoffOut,
    PortfolioOut,
    ProductOut,
    QuoteOut,
    QuoteRowOut,
    RepaymentOut,
    RescheduleOut,
    ScheduleRowOut,
    TallyOut,
    WriteOffOut,
    WriteOffReversalOut,
)
from coop.ledger.model import PostedEntry, Side
from coop.loans import schedule as sched
from coop.loans.orm import MoratoriumRow
from coop.loans.reports import Standing


class LoanListItemOut(Out):
    id: int
    status: str
    principal: MoneyText
    outstanding_principal: MoneyText
    product: str


class VoteOut(Out):
    voter: str
    decision: str
    note: str | None
    voted_at: str


def quote_rows(schedule: sched.Schedule, currency: str) -> list[QuoteRowOut]:
    return [QuoteRowOut(number=i.number, due_on=i.due_on, principal=money(i.principal, currency),
                        interest=money(i.interest, currency), total=money(i.total, currency),
                        balance=money(i.balance, currency))
            for i in schedule.installments]


def quote_out(schedule: sched.Schedule, *, fee_minor: int, currency: str) -> QuoteOut:
    return QuoteOut(installments=quote_rows(schedule, currency),
                    total_principal=money(schedule.total_principal, currency),
                    total_interest=money(schedule.total_interest, currency),
                    total_fee=money(fee_minor, currency), apr=f"{schedule.apr:.2f}")


def terms_out(terms: loans.ProductTerms, currency: str) -> dict[str, Any]:
    """The terms for a response body, field by field as `ProductTerms` declares them (money
    as money, enums by value, counts as numbers, the rest as text)."""
    shown: dict[str, Any] = {}
    for spec in fields(loans.ProductTerms):
        value = getattr(terms, spec.name)
        if spec.metadata.get("unit") == sched.MINOR_UNITS:
            shown[spec.name] = money(value, currency)
        elif isinstance(value, Enum):
            shown[spec.name] = value.value
        else:
            shown[spec.name] = value if isinstance(value, int) else str(value)
    return shown


def product_out(product: loans.Product, currency: str) -> ProductOut:
    return ProductOut.model_validate({
        "code": product.code, "name": product.name, **terms_out(product.terms, currency),
        "max_principal": (money(product.max_principal_minor, currency)
                          if product.max_principal_minor is not None else None),
        "fee_percent": str(product.fee_percent), "penalty_rate": str(product.penalty_rate),
        "allocation_order": [b.value for b in product.allocation_order]})


def products_out(found: Iterable[loans.Product], currency: str) -> Page[ProductOut]:
    return Page[ProductOut](items=[product_out(p, currency) for p in found], next_cursor=None)


def loan_created_out(loan: loans.Loan, schedule: sched.Schedule,
                     currency: str) -> LoanCreatedOut:
    return LoanCreatedOut(id=loan.id, status=loan.status, member_code=loan.member_code,
                          principal=money(loan.principal_minor, currency),
                          fee=money(loan.fee_minor, currency), apr=f"{schedule.apr:.2f}",
                          schedule=quote_rows(schedule, currency))


def loan_list_out(found: Iterable[loans.Loan], currency: str) -> Page[LoanListItemOut]:
    return Page[LoanListItemOut](items=[LoanListItemOut(
        id=loan.id, status=loan.status, principal=money(loan.principal_minor, currency),
        outstanding_principal=money(loan.outstanding_minor, currency),
        product=loan.product.code) for loan in found], next_cursor=None)


def loan_out(standing: Standing, guarantors: Sequence[tuple[str, int, int]],
             currency: str) -> LoanOut:
    """The loan as `loans.standing` sees it on a day; `guarantors` as `loans.guarantors_of`."""
    loan, position = standing.loan, standing.position

    def m(amount: int) -> str:
        return money(amount, currency)

    return LoanOut(
        id=loan.id, member_code=loan.member_code, status=loan.status,
        product=loan.product.code, principal=m(loan.principal_minor), fee=m(loan.fee_minor),
        purpose=loan.purpose, applied_on=loan.applied_on, disbursed_on=loan.disbursed_on,
        closed_on=loan.closed_on,
        outstanding_principal=m(position.outstanding_principal if position else 0),
        interest_due=m(position.interest_due if position else 0),
        penalty_due=m(position.penalty_due if position else 0),
        payoff_amount=m(position.payoff if position else 0),
        overdue=m(position.overdue if position else 0),
        days_past_due=position.days_past_due if position else 0,
        guarantors=[GuarantorOut(member_code=code, amount=m(amount), held=m(held))
                    for code, amount, held in guarantors],
        schedule=[ScheduleRowOut(number=v.number, due_on=v.due_on, principal=m(v.principal),
                                 interest=m(v.interest), total=m(v.total), paid=m(v.paid),
                                 status=v.status)
                  for v in standing.installments])


def payoff_out(position: loans.engine.Position, *, as_of: date, currency: str) -> PayoffOut:
    return PayoffOut(as_of=as_of, principal=money(position.outstanding_principal, currency),
                     interest=money(position.interest_due, currency),
                     penalty=money(position.penalty_due, currency),
                     fees=money(position.fees_due, currency),
                     total=money(position.payoff, currency))


def tally_out(tally: loans.Tally) -> TallyOut:
    return TallyOut(status=tally.status, approvals=tally.approvals,
                    rejections=tally.rejections, required=tally.required)


def votes_out(votes: Iterable[board.VoteRow], *, notes: bool) -> Page[VoteOut]:
    """The votes; their notes only with `notes` (the board's own deliberation: issue 18
    shows them to board members only, never to an admin, an auditor, a clerk or a member)."""
    return Page[VoteOut](items=[VoteOut(voter=v.voter_username, decision=v.decision,
                                        note=v.note if notes else None,
                                        voted_at=v.voted_at.isoformat())
                                for v in votes], next_cursor=None)


def disbursement_out(entry: PostedEntry, loan: loans.Loan) -> DisbursementOut:
    return DisbursementOut(entry_id=entry.id, status=loan.status)


def repayment_out(done: loans.Repayment, currency: str) -> RepaymentOut:
    allocation = done.allocation
    return RepaymentOut(
        entry_id=done.entry.id, status=done.status,
        allocated=AllocatedOut(penalty=money(allocation.penalty, currency),
                               fees=money(allocation.fees, currency),
                               interest=money(allocation.interest, currency),
                               principal=money(allocation.principal, currency)),
        outstanding_principal=money(done.position.outstanding_principal, currency),
        payoff_amount=money(done.position.payoff, currency))


def write_off_out(entry: PostedEntry | None, currency: str) -> WriteOffOut:
    """None when no principal was left: nothing was posted."""
    amount = sum(p.amount_minor for p in entry.postings if p.side is Side.DEBIT) if entry else 0
    return WriteOffOut(entry_id=entry.id if entry else None, status="written_off",
                       written_off=money(amount, currency))


def write_off_reversal_out(entry: PostedEntry | None, loan: loans.Loan,
                           currency: str) -> WriteOffReversalOut:
    return WriteOffReversalOut(entry_id=entry.id if entry else None, status="active",
                               outstanding_principal=money(loan.outstanding_minor, currency))


def reschedule_out(row: loans.RescheduleRow) -> RescheduleOut:
    return RescheduleOut(id=row.id, status=row.status)


def moratorium_out(row: MoratoriumRow) -> MoratoriumOut:
    return MoratoriumOut(id=row.id, from_on=row.from_on, to_on=row.to_on,
                         accrue_interest=row.accrue_interest, loans_affected=row.loans_affected)


def portfolio_out(report: loans.Portfolio, *, as_of: date, currency: str) -> PortfolioOut:
    return PortfolioOut(
        as_of=as_of, loans_active=report.loans_active,
        outstanding_principal=money(report.outstanding_minor, currency),
        buckets={name: money(value, currency) for name, value in report.buckets.items()},
        loans_by_bucket=report.counts, par30=f"{report.par30:.2f}")


def board_loans_out(found: Iterable[loans.InsiderLoan], currency: str) -> Page[BoardLoanOut]:
    return Page[BoardLoanOut](items=[BoardLoanOut(
        id=x.loan_id, member_code=x.member_code, status=x.status,
        principal=money(x.principal_minor, currency),
        outstanding_principal=money(x.outstanding_minor, currency), approvals=x.approvals)
        for x in found], next_cursor=None)
