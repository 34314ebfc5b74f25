"""Loans (CONTRACT.md: Loans): quotes, products, applications, votes, disbursement,
repayments, payoff, reschedules, write-offs, moratoria and the portfolio report."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, get_type_hints

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter
from sqlalchemy.orm import Session

from coop import loans
from coop.api.deps import AppState, app_state, money, parse_money
from coop.api.idempotency import respond
from coop.api.loan_schemas import (
    BoardLoanOut,
    DisbursementIn,
    DisbursementOut,
    LoanCreatedOut,
    LoanIn,
    LoanOut,
    MoratoriumIn,
    MoratoriumOut,
    PayoffOut,
    PortfolioOut,
    ProductIn,
    ProductOut,
    ProductTermsIn,
    QuoteIn,
    QuoteOut,
    RepaymentIn,
    RepaymentOut,
    RescheduleIn,
    RescheduleOut,
    TallyOut,
    VoteIn,
    WriteOffIn,
    WriteOffOut,
)
from coop.api.schemas import LanguageCode
from coop.api.security import allow, current_principal, own_member_or_404
from coop.auth import STAFF, Principal, Role
from coop.errors import InvalidInput
from coop.loans import schedule as sched
from coop.loans.products import field_value
from coop.passbooks.loan_card import loan_card
from coop.society import require_society

_TERM_TYPES = get_type_hints(loans.ProductTerms)
A, B, C, D, M = Role.ADMIN, Role.BOARD, Role.CLERK, Role.AUDITOR, Role.MEMBER
LoanId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]  # loan ids are 32-bit
AsOf = Annotated[date | None, QueryParameter()]


def _product_terms(state: AppState, data: ProductTermsIn) -> loans.ProductTerms:
    """The terms in a request body, field by field as `ProductTerms` declares them."""
    values: dict[str, Any] = {}
    for spec in fields(loans.ProductTerms):
        raw = getattr(data, spec.name)
        if spec.metadata.get("unit") == sched.MINOR_UNITS:
            if raw:  # absent: the field's default
                values[spec.name] = parse_money(state, raw, field=spec.name)
        else:
            values[spec.name] = field_value(_TERM_TYPES[spec.name], raw)
    return loans.ProductTerms(**values)


def _terms_out(state: AppState, terms: loans.ProductTerms) -> dict[str, Any]:
    """The terms for a response body, field by field (money as money, the rest as text)."""
    shown: dict[str, Any] = {}
    for spec in fields(loans.ProductTerms):
        value = getattr(terms, spec.name)
        if spec.metadata.get("unit") == sched.MINOR_UNITS:
            shown[spec.name] = money(state, value)
        elif isinstance(value, Enum):
            shown[spec.name] = value.value
        else:
            shown[spec.name] = value if isinstance(value, int) else str(value)
    return shown


def _quote_rows(state: AppState, schedule: sched.Schedule) -> list[dict[str, Any]]:
    return [{"number": i.number, "due_on": i.due_on.isoformat(),
             "principal": money(state, i.principal), "interest": money(state, i.interest),
             "total": money(state, i.total), "balance": money(state, i.balance)}
            for i in schedule.installments]


def _product_out(state: AppState, product: loans.Product) -> ProductOut:
    return ProductOut.model_validate({
        "code": product.code, "name": product.name, **_terms_out(state, product.terms),
        "max_principal": (money(state, product.max_principal_minor)
                          if product.max_principal_minor is not None else None),
        "fee_percent": str(product.fee_percent), "penalty_rate": str(product.penalty_rate),
        "allocation_order": [b.value for b in product.allocation_order]})


def _loan_out(state: AppState, session: Session, loan_id: int, as_of: date) -> dict[str, Any]:
    standing = loans.standing(session, loan_id, as_of=as_of)
    loan, position = standing.loan, standing.position
    zero = money(state, 0)
    return {
        "id": loan.id, "member_code": loan.member_code, "status": loan.status,
        "product": loan.product.code, "principal": money(state, loan.principal_minor),
        "fee": money(state, loan.fee_minor), "purpose": loan.purpose,
        "applied_on": loan.applied_on.isoformat(),
        "disbursed_on": loan.disbursed_on.isoformat() if loan.disbursed_on else None,
        "closed_on": loan.closed_on.isoformat() if loan.closed_on else None,
        "outstanding_principal": money(state, position.outstanding_principal) if position
        else zero,
        "interest_due": money(state, position.interest_due) if position else zero,
        "penalty_due": money(state, position.penalty_due) if position else zero,
        "payoff_amount": money(state, position.payoff) if position else zero,
        "overdue": money(state, position.overdue) if position else zero,
        "days_past_due": position.days_past_due if position else 0,
        "guarantors": [{"member_code": code, "amount": money(state, amount),
                        "held": money(state, held)}
                       for code, amount, held in loans.guarantors_of(session, loan_id)],
        "schedule": [{"number": v.number, "due_on": v.due_on.isoformat(),
                      "principal": money(state, v.principal),
                      "interest": money(state, v.interest), "total": money(state, v.total),
                      "paid": money(state, v.paid), "status": v.status}
                     for v in standing.installments],
    }


def _own_loan(session: Session, principal: Principal, loan_id: int) -> None:
    """A member reaches only her own loans (404 for anyone else's, as for members)."""
    if principal.role is Role.MEMBER:
        loan = loans.get_loan(session, loan_id)
        own_member_or_404(principal, loan.member_code)


def _tally(tally: loans.Tally) -> dict[str, Any]:
    return {"status": tally.status, "approvals": tally.approvals,
            "rejections": tally.rejections, "required": tally.required}


class LoanProductsController(Controller):
    path = "/loan-products"
    tags = ("loans",)

    @post("/", opt=allow(A), sync_to_thread=True)
    def create(self, request: Request[Any, Any, Any],
               data: JSONBody[ProductIn]) -> Response[ProductOut]:
        """A loan product: its terms, limits, fee, penalty and allocation order."""
        state = app_state(request)
        product = loans.Product(
            code=data.code, name=data.name, terms=_product_terms(state, data),
            max_principal_minor=(parse_money(state, data.max_principal, field="max_principal")
                                 if data.max_principal else None),
            fee_percent=Decimal(data.fee_percent), penalty_rate=Decimal(data.penalty_rate),
            allocation_order=loans.parse_order(data.allocation_order))

        def work(session: Session) -> dict[str, Any]:
            created = loans.create_product(session, product, clock=state.clock)
            return _product_out(state, created).model_dump(mode="json")

        return respond(request, current_principal(request), data, work)

    @get("/", opt=allow(STAFF), sync_to_thread=True)
    def list(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Every loan product."""
        state = app_state(request)
        found = state.db.read(loans.list_products)
        return {"items": [_product_out(state, p) for p in found], "next_cursor": None}


class LoansController(Controller):
    path = "/loans"
    tags = ("loans",)

    @post("/quote", opt=allow(STAFF), sync_to_thread=True, status_code=200)
    def quote(self, request: Request[Any, Any, Any], data: JSONBody[QuoteIn]) -> QuoteOut:
        """A schedule and its APR for any terms: pure, nothing is stored."""
        state = app_state(request)
        terms = _product_terms(state, data).terms(
            principal=parse_money(state, data.principal, field="principal"),
            disbursed_on=data.disbursed_on,
            fee=parse_money(state, data.fee, field="fee") if data.fee else 0)
        if data.first_due_on is not None:
            terms = sched.with_terms(terms, first_due_on=data.first_due_on)
        schedule = sched.build(terms)
        return QuoteOut(installments=_quote_rows(state, schedule),
                        total_principal=money(state, schedule.total_principal),
                        total_interest=money(state, schedule.total_interest),
                        total_fee=money(state, terms.fee), apr=f"{schedule.apr:.2f}")

    @post("/", opt=allow(A, C), sync_to_thread=True)
    def apply(self, request: Request[Any, Any, Any],
              data: JSONBody[LoanIn]) -> Response[LoanCreatedOut]:
        """A loan application, checked against eligibility; pending until the board votes."""
        state = app_state(request)
        principal = current_principal(request)
        amount = parse_money(state, data.principal, field="principal")
        guarantees = [loans.Guarantee(g.member_code, parse_money(state, g.amount,
                                                                 field="guarantors"))
                      for g in data.guarantors]

        def work(session: Session) -> dict[str, Any]:
            loan, schedule = loans.apply(
                session, member_code=data.member_code, product_code=data.product,
                principal_minor=amount, installments=data.installments, purpose=data.purpose,
                guarantors=guarantees, society=require_society(session), actor=principal.username,
                clock=state.clock)
            return {"id": loan.id, "status": loan.status, "member_code": loan.member_code,
                    "principal": money(state, loan.principal_minor),
                    "fee": money(state, loan.fee_minor), "apr": f"{schedule.apr:.2f}",
                    "schedule": _quote_rows(state, schedule)}

        return respond(request, principal, data, work)

    @get("/", opt=allow(STAFF, M), sync_to_thread=True)
    def list(
        self, request: Request[Any, Any, Any],
        member: Annotated[str | None, QueryParameter(max_length=16)] = None,
    ) -> dict[str, Any]:
        """Loans of one member (`?member=CODE`; a member sees her own)."""
        state = app_state(request)
        principal = current_principal(request)
        code = member or principal.member_code
        if code is None:
            raise InvalidInput("name a member: ?member=CODE", field="member")
        own_member_or_404(principal, code)
        found = state.db.read(lambda s: loans.loans_of(s, code))
        return {"items": [{"id": loan.id, "status": loan.status,
                           "principal": money(state, loan.principal_minor),
                           "outstanding_principal": money(state, loan.outstanding_minor),
                           "product": loan.product.code} for loan in found],
                "next_cursor": None}

    @get("/{loan_id:int}", opt=allow(STAFF, M), sync_to_thread=True)
    def detail(self, request: Request[Any, Any, Any], loan_id: LoanId,
               as_of: AsOf = None) -> LoanOut:
        """The loan today (or `?as_of=`): payoff, days past due, the schedule with what is
        paid, partly paid, overdue and still to come."""
        state = app_state(request)
        principal = current_principal(request)

        def read(session: Session) -> dict[str, Any]:
            _own_loan(session, principal, loan_id)
            return _loan_out(state, session, loan_id, as_of or state.clock.today())

        return LoanOut(**state.db.read(read))

    @get("/{loan_id:int}/card.pdf", opt=allow(A, C, M), sync_to_thread=True,
         media_type="application/pdf")
    def card(self, request: Request[Any, Any, Any], loan_id: LoanId,
             language: Annotated[LanguageCode | None, QueryParameter(
                 description="Print in this language instead of hers.")] = None,
             ) -> Response[bytes]:
        """Her loan card in her language: key facts, the schedule with what is paid, every
        repayment acknowledged, and the discharge once closed."""
        state = app_state(request)
        principal = current_principal(request)

        def read(session: Session) -> bytes:
            _own_loan(session, principal, loan_id)
            return loan_card(session, loan_id, printed_on=state.clock.today(),
                             language=language)

        return Response(state.db.read(read), media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="loan-{loan_id}.pdf"'})

    @get("/{loan_id:int}/payoff", opt=allow(STAFF, M), sync_to_thread=True)
    def payoff(self, request: Request[Any, Any, Any], loan_id: LoanId,
               as_of: AsOf = None) -> PayoffOut:
        """What clears the loan on a day: principal, interest to that day, penalty."""
        state = app_state(request)
        principal = current_principal(request)
        day = as_of or state.clock.today()

        def read(session: Session) -> PayoffOut:
            _own_loan(session, principal, loan_id)
            position = loans.standing(session, loan_id, as_of=day).position
            if position is None:
                raise loans.LoanStateConflict(f"loan {loan_id} has not been disbursed")
            return PayoffOut(as_of=day, principal=money(state, position.outstanding_principal),
                             interest=money(state, position.interest_due),
                             penalty=money(state, position.penalty_due),
                             fees=money(state, position.fees_due),
                             total=money(state, position.payoff))

        return state.db.read(read)

    @post("/{loan_id:int}/votes", opt=allow(B), sync_to_thread=True)
    def vote(self, request: Request[Any, Any, Any], loan_id: LoanId,
             data: JSONBody[VoteIn]) -> Response[TallyOut]:
        """A board member's vote (never on her own loan, nor one she guarantees)."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> dict[str, Any]:
            return _tally(loans.vote(
                session, loan_id, voter_code=principal.member_code,
                voter_username=principal.username, decision=data.decision, note=data.note,
                society=require_society(session), clock=state.clock))

        return respond(request, principal, data, work)

    @get("/{loan_id:int}/votes", opt=allow(A, B, D), sync_to_thread=True)
    def votes(
        self, request: Request[Any, Any, Any], loan_id: LoanId,
        reschedule: Annotated[int, QueryParameter(ge=0, le=2**31 - 1)] = 0,
    ) -> dict[str, Any]:
        """Every vote on the application (or on reschedule `?reschedule=ID`): who, when, how,
        and her note."""
        state = app_state(request)

        def read(session: Session) -> dict[str, Any]:
            loans.get_loan(session, loan_id)  # 404 for a loan that does not exist
            return {"items": [{"voter": v.voter_username, "decision": v.decision,
                               "note": v.note, "voted_at": v.voted_at.isoformat()}
                              for v in loans.votes_of(session, loan_id, reschedule)],
                    "next_cursor": None}

        return state.db.read(read)

    @post("/{loan_id:int}/disbursement", opt=allow(A, C), sync_to_thread=True)
    def disburse(self, request: Request[Any, Any, Any], loan_id: LoanId,
                 data: JSONBody[DisbursementIn]) -> Response[DisbursementOut]:
        """Pay out an approved loan, in cash or to her savings; the schedule starts today."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> dict[str, Any]:
            entry, loan = loans.disburse(session, loan_id, to=data.to,
                                         on=data.value_date or state.clock.today(),
                                         actor=principal.username, clock=state.clock)
            return {"entry_id": entry.id, "status": loan.status}

        return respond(request, principal, data, work)

    @post("/{loan_id:int}/repayments", opt=allow(A, C), sync_to_thread=True)
    def repay(self, request: Request[Any, Any, Any], loan_id: LoanId,
              data: JSONBody[RepaymentIn]) -> Response[RepaymentOut]:
        """Any amount, any day, from cash or savings; more than the payoff is 422."""
        state = app_state(request)
        principal = current_principal(request)
        amount = parse_money(state, data.amount, field="amount")

        def work(session: Session) -> dict[str, Any]:
            done = loans.repay(session, loan_id, amount_minor=amount, source=data.source,
                               on=data.value_date or state.clock.today(),
                               actor=principal.username, clock=state.clock)
            allocation = done.allocation
            return {"entry_id": done.entry.id, "status": done.status,
                    "allocated": {"penalty": money(state, allocation.penalty),
                                  "fees": money(state, allocation.fees),
                                  "interest": money(state, allocation.interest),
                                  "principal": money(state, allocation.principal)},
                    "outstanding_principal": money(state, done.position.outstanding_principal),
                    "payoff_amount": money(state, done.position.payoff)}

        return respond(request, principal, data, work)

    @post("/{loan_id:int}/write-off", opt=allow(B), sync_to_thread=True)
    def write_off(self, request: Request[Any, Any, Any], loan_id: LoanId,
                  data: JSONBody[WriteOffIn]) -> Response[WriteOffOut]:
        """The board writes off what is left of the principal (Dr 5200 Loan losses)."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> dict[str, Any]:
            entry = loans.write_off(session, loan_id, on=data.value_date or state.clock.today(),
                                    reason=data.reason, actor=principal.username,
                                    clock=state.clock)
            amount = sum(p.amount_minor for p in entry.postings
                          if p.side.value == "debit") if entry else 0
            return {"entry_id": entry.id if entry else None, "status": "written_off",
                    "written_off": money(state, amount)}

        return respond(request, principal, data, work)

    @post("/{loan_id:int}/reschedules", opt=allow(A, C), sync_to_thread=True)
    def reschedule(self, request: Request[Any, Any, Any], loan_id: LoanId,
                   data: JSONBody[RescheduleIn]) -> Response[RescheduleOut]:
        """Ask the board for more installments, a new rate or a payment holiday."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> dict[str, Any]:
            request_row = loans.request_reschedule(
                session, loan_id, extra_installments=data.extra_installments,
                annual_rate=Decimal(data.annual_rate) if data.annual_rate else None,
                holiday_until=data.holiday_until, reason=data.reason,
                actor=principal.username, clock=state.clock)
            return {"id": request_row.id, "status": request_row.status}

        return respond(request, principal, data, work)

    @post("/{loan_id:int}/reschedules/{reschedule_id:int}/votes", opt=allow(B),
          sync_to_thread=True)
    def vote_reschedule(self, request: Request[Any, Any, Any], loan_id: LoanId,
                        reschedule_id: LoanId,
                        data: JSONBody[VoteIn]) -> Response[TallyOut]:
        """A board vote on a reschedule; approval applies it at once."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> dict[str, Any]:
            return _tally(loans.vote_reschedule(
                session, loan_id, reschedule_id, voter_code=principal.member_code,
                voter_username=principal.username, decision=data.decision, note=data.note,
                society=require_society(session), actor=principal.username, clock=state.clock))

        return respond(request, principal, data, work)


class MoratoriaController(Controller):
    path = "/moratoria"
    tags = ("loans",)

    @post("/", opt=allow(B), sync_to_thread=True)
    def declare(self, request: Request[Any, Any, Any],
                data: JSONBody[MoratoriumIn]) -> Response[MoratoriumOut]:
        """A board resolution: no installments fall due in the window on any active loan,
        interest accrues or not, and arrears stop ageing during it."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> dict[str, Any]:
            row = loans.declare_moratorium(
                session, from_on=data.from_on, to_on=data.to_on,
                accrue_interest=data.accrue_interest, resolution=data.resolution,
                actor=principal.username, clock=state.clock)
            return {"id": row.id, "from_on": row.from_on.isoformat(),
                    "to_on": row.to_on.isoformat(), "accrue_interest": row.accrue_interest,
                    "loans_affected": row.loans_affected}

        return respond(request, principal, data, work)


class ReportsController(Controller):
    path = "/reports"
    tags = ("reports",)

    @get("/portfolio", opt=allow(A, B, D), sync_to_thread=True)
    def portfolio(self, request: Request[Any, Any, Any], as_of: AsOf = None) -> PortfolioOut:
        """Outstanding principal by days past due, and PAR30."""
        state = app_state(request)
        day = as_of or state.clock.today()
        report = state.db.read(lambda s: loans.portfolio(s, as_of=day))
        return PortfolioOut(
            as_of=day, loans_active=report.loans_active,
            outstanding_principal=money(state, report.outstanding_minor),
            buckets={name: money(state, value) for name, value in report.buckets.items()},
            loans_by_bucket=report.counts, par30=f"{report.par30:.2f}")

    @get("/board-loans", opt=allow(A, B, D), sync_to_thread=True)
    def board_loans(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Loans to board members, every status, with the approvals each had."""
        state = app_state(request)
        found = state.db.read(lambda s: loans.board_loans(s))
        return {"items": [BoardLoanOut(
            id=x.loan_id, member_code=x.member_code, status=x.status,
            principal=money(state, x.principal_minor),
            outstanding_principal=money(state, x.outstanding_minor), approvals=x.approvals)
            for x in found], "next_cursor": None}
