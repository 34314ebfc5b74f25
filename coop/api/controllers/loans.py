"""Loans (CONTRACT.md: Loans): quotes, products, applications, votes, disbursement,
repayments, payoff, reschedules, write-offs, moratoria and the portfolio report."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, get_type_hints

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter
from sqlalchemy.orm import Session

from coop import loans
from coop.api.deps import AppState, SocietyDep, app_state, currency, parse_money
from coop.api.idempotency import respond
from coop.api.schemas.common import LanguageCode, Page
from coop.api.schemas.loan_terms import (
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
    WriteOffReversalIn,
    WriteOffReversalOut,
)
from coop.api.schemas.loans import (
    LoanListItemOut,
    VoteOut,
    board_loans_out,
    disbursement_out,
    loan_created_out,
    loan_list_out,
    loan_out,
    moratorium_out,
    payoff_out,
    portfolio_out,
    product_out,
    products_out,
    quote_out,
    repayment_out,
    reschedule_out,
    tally_out,
    votes_out,
    write_off_out,
    write_off_reversal_out,
)
from coop.api.security import allow, current_principal, own_member_or_404
from coop.auth import STAFF, Principal, Role
from coop.errors import InvalidInput
from coop.loans import schedule as sched
from coop.loans.products import field_value
from coop.loans.writeoffs import reverse_write_off
from coop.passbooks.loan_card import loan_card

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


def _own_loan(session: Session, principal: Principal, loan_id: int) -> None:
    """A member reaches only her own loans (404 for anyone else's, as for members)."""
    if principal.role is Role.MEMBER:
        loan = loans.get_loan(session, loan_id)
        own_member_or_404(principal, loan.member_code)


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

        cur = currency(state)

        def work(session: Session) -> ProductOut:
            return product_out(loans.create_product(session, product, clock=state.clock), cur)

        return respond(request, current_principal(request), data, work)

    @get("/", opt=allow(STAFF), sync_to_thread=True)
    def list(self, request: Request[Any, Any, Any]) -> Page[ProductOut]:
        """Every loan product."""
        state = app_state(request)
        return products_out(state.db.read(loans.list_products), currency(state))


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
        return quote_out(sched.build(terms), fee_minor=terms.fee, currency=currency(state))

    @post("/", opt=allow(A, C), sync_to_thread=True)
    def apply(self, request: Request[Any, Any, Any], data: JSONBody[LoanIn],
              society: SocietyDep) -> Response[LoanCreatedOut]:
        """A loan application, checked against eligibility; pending until the board votes."""
        state = app_state(request)
        principal = current_principal(request)
        amount = parse_money(state, data.principal, field="principal")
        guarantees = [loans.Guarantee(g.member_code, parse_money(state, g.amount,
                                                                 field="guarantors"))
                      for g in data.guarantors]

        def work(session: Session) -> LoanCreatedOut:
            loan, schedule = loans.apply(
                session, member_code=data.member_code, product_code=data.product,
                principal_minor=amount, installments=data.installments, purpose=data.purpose,
                guarantors=guarantees, society=society, actor=principal.username,
                clock=state.clock)
            return loan_created_out(loan, schedule, society.currency)

        return respond(request, principal, data, work)

    @get("/", opt=allow(STAFF, M), sync_to_thread=True)
    def list(
        self, request: Request[Any, Any, Any],
        member: Annotated[str | None, QueryParameter(max_length=16)] = None,
    ) -> Page[LoanListItemOut]:
        """Loans of one member (`?member=CODE`; a member sees her own)."""
        state = app_state(request)
        principal = current_principal(request)
        code = member or principal.member_code
        if code is None:
            raise InvalidInput("name a member: ?member=CODE", field="member")
        own_member_or_404(principal, code)
        found = state.db.read(lambda s: loans.loans_of(s, code))
        return loan_list_out(found, currency(state))

    @get("/{loan_id:int}", opt=allow(STAFF, M), sync_to_thread=True)
    def detail(self, request: Request[Any, Any, Any], loan_id: LoanId,
               as_of: AsOf = None) -> LoanOut:
        """The loan today (or `?as_of=`): payoff, days past due, the schedule with what is
        paid, partly paid, overdue and still to come."""
        state = app_state(request)
        principal = current_principal(request)

        cur = currency(state)

        def read(session: Session) -> LoanOut:
            _own_loan(session, principal, loan_id)
            return loan_out(loans.standing(session, loan_id, as_of=as_of or state.clock.today()),
                            loans.guarantors_of(session, loan_id), cur)

        return state.db.read(read)

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
        cur = currency(state)

        def read(session: Session) -> PayoffOut:
            _own_loan(session, principal, loan_id)
            position = loans.standing(session, loan_id, as_of=day).position
            if position is None:
                raise loans.LoanStateConflict(f"loan {loan_id} has not been disbursed")
            return payoff_out(position, as_of=day, currency=cur)

        return state.db.read(read)

    @post("/{loan_id:int}/votes", opt=allow(B), sync_to_thread=True)
    def vote(self, request: Request[Any, Any, Any], loan_id: LoanId,
             data: JSONBody[VoteIn], society: SocietyDep) -> Response[TallyOut]:
        """A board member's vote (never on her own loan, nor one she guarantees)."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> TallyOut:
            return tally_out(loans.vote(
                session, loan_id, voter_code=principal.member_code,
                voter_username=principal.username, decision=data.decision, note=data.note,
                society=society,
                clock=state.clock))

        return respond(request, principal, data, work)

    @get("/{loan_id:int}/votes", opt=allow(A, B, D), sync_to_thread=True)
    def votes(
        self, request: Request[Any, Any, Any], loan_id: LoanId,
        reschedule: Annotated[int, QueryParameter(ge=0, le=2**31 - 1)] = 0,
    ) -> Page[VoteOut]:
        """Every vote on the application (or on reschedule `?reschedule=ID`): who, when, how,
        and (to a board member only; null to others) her note."""
        state = app_state(request)
        board_member = current_principal(request).role is B

        def read(session: Session) -> Page[VoteOut]:
            loans.get_loan(session, loan_id)  # 404 for a loan that does not exist
            return votes_out(loans.votes_of(session, loan_id, reschedule), notes=board_member)

        return state.db.read(read)

    @post("/{loan_id:int}/disbursement", opt=allow(A, C), sync_to_thread=True)
    def disburse(self, request: Request[Any, Any, Any], loan_id: LoanId,
                 data: JSONBody[DisbursementIn]) -> Response[DisbursementOut]:
        """Pay out an approved loan, in cash or to her savings; the schedule starts today."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> DisbursementOut:
            return disbursement_out(*loans.disburse(
                session, loan_id, to=data.to, on=data.value_date or state.clock.today(),
                actor=principal.username, clock=state.clock))

        return respond(request, principal, data, work)

    @post("/{loan_id:int}/repayments", opt=allow(A, C), sync_to_thread=True)
    def repay(self, request: Request[Any, Any, Any], loan_id: LoanId,
              data: JSONBody[RepaymentIn]) -> Response[RepaymentOut]:
        """Any amount, any day, from cash or savings; more than the payoff is 422."""
        state = app_state(request)
        principal = current_principal(request)
        amount = parse_money(state, data.amount, field="amount")
        cur = currency(state)

        def work(session: Session) -> RepaymentOut:
            return repayment_out(loans.repay(
                session, loan_id, amount_minor=amount, source=data.source,
                on=data.value_date or state.clock.today(), actor=principal.username,
                clock=state.clock, confirmed=data.confirm_large_amount), cur)

        return respond(request, principal, data, work)

    @post("/{loan_id:int}/write-off", opt=allow(B), sync_to_thread=True)
    def write_off(self, request: Request[Any, Any, Any], loan_id: LoanId,
                  data: JSONBody[WriteOffIn]) -> Response[WriteOffOut]:
        """The board writes off what is left of the principal (Dr 5200 Loan losses)."""
        state = app_state(request)
        principal = current_principal(request)

        cur = currency(state)

        def work(session: Session) -> WriteOffOut:
            return write_off_out(loans.write_off(
                session, loan_id, on=data.value_date or state.clock.today(),
                reason=data.reason, actor=principal.username, clock=state.clock), cur)

        return respond(request, principal, data, work)

    @post("/{loan_id:int}/write-off/reversal", opt=allow(B), sync_to_thread=True)
    def reverse_write_off(self, request: Request[Any, Any, Any], loan_id: LoanId,
                          data: JSONBody[WriteOffReversalIn]) -> Response[WriteOffReversalOut]:
        """The board undoes a write-off while nothing has been recovered: the loan is active
        again with its principal outstanding and the guarantors' holds back."""
        state = app_state(request)
        principal = current_principal(request)
        cur = currency(state)

        def work(session: Session) -> WriteOffReversalOut:
            entry, loan = reverse_write_off(session, loan_id, reason=data.reason,
                                            actor=principal.username, clock=state.clock)
            return write_off_reversal_out(entry, loan, cur)

        return respond(request, principal, data, work)

    @post("/{loan_id:int}/reschedules", opt=allow(A, C), sync_to_thread=True)
    def reschedule(self, request: Request[Any, Any, Any], loan_id: LoanId,
                   data: JSONBody[RescheduleIn]) -> Response[RescheduleOut]:
        """Ask the board for more installments, a new rate or a payment holiday."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> RescheduleOut:
            return reschedule_out(loans.request_reschedule(
                session, loan_id, extra_installments=data.extra_installments,
                annual_rate=Decimal(data.annual_rate) if data.annual_rate else None,
                holiday_until=data.holiday_until, reason=data.reason,
                actor=principal.username, clock=state.clock))

        return respond(request, principal, data, work)

    @post("/{loan_id:int}/reschedules/{reschedule_id:int}/votes", opt=allow(B),
          sync_to_thread=True)
    def vote_reschedule(self, request: Request[Any, Any, Any], loan_id: LoanId,
                        reschedule_id: LoanId, data: JSONBody[VoteIn],
                        society: SocietyDep) -> Response[TallyOut]:
        """A board vote on a reschedule; approval applies it at once."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> TallyOut:
            return tally_out(loans.vote_reschedule(
                session, loan_id, reschedule_id, voter_code=principal.member_code,
                voter_username=principal.username, decision=data.decision, note=data.note,
                society=society,
                actor=principal.username, clock=state.clock))

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

        def work(session: Session) -> MoratoriumOut:
            return moratorium_out(loans.declare_moratorium(
                session, from_on=data.from_on, to_on=data.to_on,
                accrue_interest=data.accrue_interest, resolution=data.resolution,
                actor=principal.username, clock=state.clock))

        return respond(request, principal, data, work)


class ReportsController(Controller):
    path = "/reports"
    tags = ("reports",)

    @get("/portfolio", opt=allow(A, B, D), sync_to_thread=True)
    def portfolio(self, request: Request[Any, Any, Any], as_of: AsOf = None) -> PortfolioOut:
        """Outstanding principal by days past due, and PAR30."""
        state = app_state(request)
        day = as_of or state.clock.today()
        report = state.db.read_report(lambda s: loans.portfolio(s, as_of=day))
        return portfolio_out(report, as_of=day, currency=currency(state))

    @get("/board-loans", opt=allow(A, B, D), sync_to_thread=True)
    def board_loans(self, request: Request[Any, Any, Any]) -> Page[BoardLoanOut]:
        """Loans to board members, every status, with the approvals each had."""
        state = app_state(request)
        found = state.db.read(lambda s: loans.board_loans(s))
        return board_loans_out(found, currency(state))
