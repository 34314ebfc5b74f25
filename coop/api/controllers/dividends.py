"""Year-end and dividends (CONTRACT.md: Year-end and dividends)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody, PathParameter
from sqlalchemy.orm import Session

from coop import dividends
from coop.api.deps import AppState, SocietyDep, app_state, currency, parse_money
from coop.api.idempotency import respond
from coop.api.schemas.common import Page
from coop.api.schemas.dividends import (
    CancellationOut,
    DeclarationIn,
    DeclarationOut,
    DeclarationTallyOut,
    DeclarationVoteIn,
    DividendIn,
    DividendPreviewOut,
    PaymentOut,
    PaymentReversalOut,
    YearOut,
    YearReopeningOut,
    cancellation_out,
    declaration_out,
    payment_out,
    payment_reversal_out,
    preview_out,
    tally_out,
    year_out,
    year_reopening_out,
)
from coop.api.schemas.loans import VoteOut, votes_out
from coop.api.security import allow, current_principal
from coop.auth import Principal, Role
from coop.dividends.calc import Basis
from coop.dividends.payment_reversal import reverse_dividend_payment
from coop.dividends.reopening import reopen_year
from coop.ledger import queries
from coop.passbooks.dividend_report import summary_pdf

A, B, C, D = Role.ADMIN, Role.BOARD, Role.CLERK, Role.AUDITOR
FiscalYearName = Annotated[int, PathParameter(ge=1900, le=9998)]


def _request(state: AppState, data: DividendIn) -> dividends.Request:
    return dividends.Request(
        dividend_rate=Decimal(data.dividend_rate) if data.dividend_rate is not None else None,
        dividend_amount=(parse_money(state, data.dividend_amount, field="dividend_amount")
                         if data.dividend_amount is not None else None),
        patronage_rebate_percent=(Decimal(data.patronage_rebate_percent)
                                  if data.patronage_rebate_percent is not None else None),
        basis=Basis(data.basis) if data.basis else None)


def _voter(principal: Principal) -> dividends.Voter:
    return dividends.Voter(code=principal.member_code, username=principal.username)


class YearsController(Controller):
    path = "/years"
    tags = ("year-end",)

    @post("/{fy:int}/close", opt=allow(A), sync_to_thread=True)
    def close(self, request: Request[Any, Any, Any], fy: FiscalYearName,
              society: SocietyDep) -> Response[YearOut]:
        """Close the fiscal year: income and expense to 3900 on its last day; lock it."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> YearOut:
            closed = dividends.close_year(session, fy, society=society,
                                          actor=principal.username, clock=state.clock)
            return year_out(closed, society.currency)

        return respond(request, principal, None, work)

    @post("/{fy:int}/reopening", opt=allow(A), sync_to_thread=True)
    def reopen(self, request: Request[Any, Any, Any], fy: FiscalYearName,
               society: SocietyDep) -> Response[YearReopeningOut]:
        """Reopen a closed year: the closing entry reversed, the period open again; 409
        while the next year is closed or a dividend for the year is declared or paid."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> YearReopeningOut:
            return year_reopening_out(reopen_year(session, fy, society=society,
                                                  actor=principal.username, clock=state.clock))

        return respond(request, principal, None, work)

    @get("/{fy:int}", opt=allow(A, B, D), sync_to_thread=True)
    def detail(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> YearOut:
        """A closed year: its net surplus, closing entry and the chain head at closing."""
        state = app_state(request)
        return year_out(state.db.read(lambda s: dividends.get_close(s, fy)), currency(state))


class DividendsController(Controller):
    path = "/dividends"
    tags = ("year-end",)

    @post("/{fy:int}/preview", opt=allow(A, B, D), sync_to_thread=True, status_code=200)
    def preview(self, request: Request[Any, Any, Any], fy: FiscalYearName,
                data: JSONBody[DividendIn], society: SocietyDep) -> DividendPreviewOut:
        """The appropriation, the pool and every member's share: nothing is written, and the
        same request always gives the same answer."""
        state = app_state(request)
        wanted = _request(state, data)

        def read(session: Session) -> DividendPreviewOut:
            result = dividends.preview(session, fy, wanted, society=society)
            return preview_out(result, society.currency)

        return state.db.read(read)

    @post("/{fy:int}/declaration", opt=allow(B), sync_to_thread=True)
    def declare(self, request: Request[Any, Any, Any], fy: FiscalYearName,
                data: JSONBody[DeclarationIn], society: SocietyDep) -> Response[DeclarationOut]:
        """The board declares what it previewed (409 when `preview_digest` names other
        figures), recording the general body's resolution. Her declaration is her approving
        vote: with `dividend_approvals_required` above 1 the declaration is `pending` and
        posts nothing until the other approvals are in (POST .../declaration/votes); else the
        appropriation is posted (2100 payable)."""
        state = app_state(request)
        principal = current_principal(request)
        wanted = _request(state, data)
        given = data.resolution
        resolution = (dividends.check_resolution(given.number, given.date,
                                                 today=state.clock.today())
                      if given is not None else None)

        def work(session: Session) -> DeclarationOut:
            declared = dividends.declare_dividend(
                session, fy, wanted, society=society, resolution=resolution,
                preview_digest=data.preview_digest, voter=_voter(principal),
                actor=principal.username, clock=state.clock)
            return declaration_out(declared, society.currency)

        return respond(request, principal, data, work)

    @post("/{fy:int}/declaration/votes", opt=allow(B), sync_to_thread=True)
    def vote(self, request: Request[Any, Any, Any], fy: FiscalYearName,
             data: JSONBody[DeclarationVoteIn],
             society: SocietyDep) -> Response[DeclarationTallyOut]:
        """A board member's vote on the year's pending declaration: the approval that brings
        `dividend_approvals_required` declares it (the appropriation is posted); 409 when it
        is not pending, or she voted already."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> DeclarationTallyOut:
            return tally_out(dividends.vote_on_declaration(
                session, fy, voter=_voter(principal), decision=data.decision, note=data.note,
                society=society, clock=state.clock))

        return respond(request, principal, data, work)

    @get("/{fy:int}/declaration/votes", opt=allow(A, B, D), sync_to_thread=True)
    def votes(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> Page[VoteOut]:
        """Every board vote on the year's declaration, in the order cast."""
        state = app_state(request)
        notes = current_principal(request).role is B  # the notes to board members only
        return state.db.read(lambda s: votes_out(dividends.declaration_votes(s, fy),
                                                 notes=notes))

    @post("/{fy:int}/payment", opt=allow(A, C), sync_to_thread=True)
    def pay(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> Response[PaymentOut]:
        """Credit every active member's dividend and rebate to her savings."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> PaymentOut:
            return payment_out(fy, dividends.pay_dividend(session, fy, actor=principal.username,
                                                          clock=state.clock))

        return respond(request, principal, None, work)

    @post("/{fy:int}/payment/reversal", opt=allow(A), sync_to_thread=True)
    def reverse_payment(self, request: Request[Any, Any, Any],
                        fy: FiscalYearName) -> Response[PaymentReversalOut]:
        """Undo a paid dividend's payment: every payment entry reversed, the dividend back to
        declared; 409 naming the member where her savings no longer hold it."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> PaymentReversalOut:
            return payment_reversal_out(reverse_dividend_payment(
                session, fy, actor=principal.username, clock=state.clock))

        return respond(request, principal, None, work)

    @post("/{fy:int}/cancellation", opt=allow(A, B), sync_to_thread=True)
    def cancel(self, request: Request[Any, Any, Any],
               fy: FiscalYearName) -> Response[CancellationOut]:
        """Cancel a declared, unpaid dividend (one entry undoes the appropriation), or
        withdraw a pending one (nothing was posted)."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> CancellationOut:
            return cancellation_out(fy, dividends.cancel_dividend(
                session, fy, actor=principal.username, clock=state.clock))

        return respond(request, principal, None, work)

    @get("/{fy:int}", opt=allow(A, B, D), sync_to_thread=True)
    def detail(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> DeclarationOut:
        """The declaration with its status (pending, declared, paid, cancelled or rejected),
        its resolution and its board votes."""
        state = app_state(request)
        return state.db.read(lambda s: declaration_out(dividends.get_declaration(s, fy),
                                                       currency(state)))

    @get("/{fy:int}/report.pdf", opt=allow(A, B, D), sync_to_thread=True,
         media_type="application/pdf")
    def report_pdf(self, request: Request[Any, Any, Any], fy: FiscalYearName,
                   society: SocietyDep) -> Response[bytes]:
        """The auditor's one-page summary: surplus, appropriation, rate, pool, residue,
        totals and the chain head when printed."""
        state = app_state(request)

        def read(session: Session) -> bytes:
            declared = dividends.get_declaration(session, fy)
            book = queries.book(session)
            given = declared.resolution
            resolution = (f"{given.number} of {given.on.isoformat()}" if given and given.on
                          else given.number if given else "")
            return summary_pdf(declared.preview, society_name=society.name,
                               currency=society.currency, locale=society.locale,
                               status=declared.status, resolution=resolution,
                               chain_head=(book.head_seq, book.head_hash) if book else (0, ""))

        content = state.db.read(read)
        return Response(content, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="dividends-{fy}.pdf"'})

    @get("/{fy:int}/report.csv", opt=allow(A, B, D), sync_to_thread=True,
         media_type="text/csv")
    def report(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> Response[str]:
        """One row per member: member_code, basis_value, dividend, rebate, total."""
        state = app_state(request)
        text = state.db.read(lambda s: dividends.report_csv(s, fy))
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="dividends-{fy}.csv"'})
