"""The board's and the auditor's counter pages.

Board: the loan applications and reschedule requests waiting for votes, each with what the
board weighs (her savings, shares, the quote: installment, interest, APR, and her earlier
loans installment by installment: on time, late by how many days, overdue), the votes cast
so far (who voted how and, to the board only, their notes), her own vote once she has voted,
or the vote with a note; a refused vote is said at the top of the page, where she is when
the page opens again, and on the card.
(The year's dividend has its own pages, coop.api.counter.dividends.)
The books (auditor, admin, board): the trial balance as of a date, the portfolio at risk and
the arrears loan by loan with days past due. "Verify the books" (not the board: as in the API)
starts the API's background check (coop.api.verify_jobs; the one running, if one is) and opens
its small page, which shows how far it is and reloads itself every second (a meta refresh: the
counter runs no scripts) until it shows the result with the chain head. A dividend preview and
its CSV. Numbers only: no page shows a name.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery, PathParameter
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from coop import board, dividends, loans, members, savings
from coop.api.counter.clerk import CounterController
from coop.api.counter.web import Form, LoanId, Page, page, write
from coop.api.deps import AppState, app_state
from coop.api.security import allow
from coop.auth import Role
from coop.errors import CoopError
from coop.ledger import queries
from coop.loans.schedule import build
from coop.savings import shares

B, D, A = Role.BOARD, Role.AUDITOR, Role.ADMIN
JobId = Annotated[str, PathParameter(min_length=1, max_length=64)]


def _ballot(session: Session, voter: str | None, votes: list[board.VoteRow],
            borrower: str, guarantors: list[str]) -> dict[str, Any]:
    """The votes cast so far, hers among them, and why she may not vote ("own" loan, or one
    she "guarantees"), if she may not."""
    voter_id = members.get_member(session, voter).id if voter else None
    barred = "own" if voter == borrower else "guarantees" if voter in guarantors else None
    return {"votes": votes, "mine": next((v for v in votes if v.voter_member_id == voter_id),
                                         None), "barred": barred,
            "approvals": sum(v.decision == "approve" for v in votes),
            "rejections": sum(v.decision == "reject" for v in votes)}


def _applications(session: Session, voter: str | None, today: date) -> list[dict[str, Any]]:
    applications, _ = loans.pending(session)
    result = []
    for loan in applications:
        schedule = build(loan.terms)
        member = members.get_member(session, loan.member_code)
        guarantors = [code for code, _, _ in loans.guarantors_of(session, loan.id)]
        result.append({
            "loan": loan, "member": member,
            # joined long before she was entered: from the paper register, worth a look
            "backdated": (member.created_at.date() - member.joined_on).days > 30,
            "savings": savings.balances(session, loan.member_code),
            "holding": shares.holding(session, loan.member_code),
            "earlier": loans.repayment_records(session, loan.member_code, as_of=today,
                                               exclude=loan.id),
            "installment": schedule.installments[0].total,
            "interest": sum(i.interest for i in schedule.installments), "apr": schedule.apr,
            **_ballot(session, voter, loans.votes_of(session, loan.id), loan.member_code,
                      guarantors)})
    return result


def _reschedules(session: Session, voter: str | None, today: date) -> list[dict[str, Any]]:
    _, requests = loans.pending(session)
    result = []
    for request in requests:
        standing = loans.standing(session, request.loan_id, as_of=today)
        guarantors = [code for code, _, _ in loans.guarantors_of(session, request.loan_id)]
        result.append({"request": request, "loan": standing.loan,
                       "position": standing.position,
                       **_ballot(session, voter, loans.votes_of(
                           session, request.loan_id, request.id), standing.loan.member_code,
                           guarantors)})
    return result


def _board_view(state: AppState, session: Session, view: Page) -> dict[str, Any]:
    """What the board's page shows; the votes' notes only to the board (`notes`)."""
    voter = view.principal.member_code if view.principal else None
    today = state.clock.today()
    return {"applications": _applications(session, voter, today),
            "reschedules": _reschedules(session, voter, today),
            "notes": view.principal is not None and view.principal.role is B}


class BoardController(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/board", opt=allow(B, A), sync_to_thread=True)
    def board(self, request: Request[Any, Any, Any]) -> Template:
        view, state = page(request), app_state(request)
        view.notice = request.query_params.get("done")
        data = state.db.read(lambda s: _board_view(state, s, view))
        return Template("board.html", context=view.context(refusal=None, **data))

    @post("/loans/{loan_id:int}/vote", opt=allow(B), sync_to_thread=True, status_code=303)
    def vote(self, request: Request[Any, Any, Any], loan_id: LoanId,
             data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        principal = view.principal
        decision = "approve" if data.get("decision") == "approve" else "reject"
        note = str(data.get("note", "")).strip() or None
        sent = str(data.get("reschedule", "") or "")
        reschedule = int(sent) if sent.isdigit() and len(sent) < 10 else 0
        try:
            def work(session: Session) -> loans.Tally:
                if reschedule:
                    return loans.vote_reschedule(
                        session, loan_id, reschedule, voter_code=principal.member_code,
                        voter_username=principal.username, decision=decision, note=note,
                        society=view.society, actor=principal.username, clock=state.clock)
                return loans.vote(session, loan_id, voter_code=principal.member_code,
                                  voter_username=principal.username, decision=decision,
                                  note=note, society=view.society, clock=state.clock)
            tally = write(request, work)
        except CoopError as error:
            # said at the top of the page, where she is when it opens, and on the card
            card = f"reschedule-{reschedule}" if reschedule else f"application-{loan_id}"
            view.errors = {f"vote_{loan_id}": error}
            refusal = {"card": card, "text": view.tr(
                "Your vote on loan {loan} was not recorded: {reason}", loan=loan_id,
                reason=view.explain(error))}
            data_view = state.db.read(lambda s: _board_view(state, s, view))
            return Template("board.html", status_code=409 if error.kind == "conflict" else 422,
                            context=view.context(refusal=refusal, **data_view))
        notice = view.tr("Loan {loan}: {approvals} of {required} approvals; {status}.",
                         loan=loan_id, approvals=tally.approvals, required=tally.required,
                         status=view.tr(tally.status))
        from urllib.parse import quote

        return Redirect(f"/counter/board?done={quote(notice)}", status_code=303)

    @get("/audit", opt=allow(B, D, A), sync_to_thread=True)
    def audit(self, request: Request[Any, Any, Any],
              as_of: FromQuery[str | None] = None) -> Template:
        view, state = page(request), app_state(request)
        try:
            day = date.fromisoformat(as_of) if as_of else state.clock.today()
        except ValueError:
            view.errors = {"as_of": view.tr("A date is written YYYY-MM-DD.")}
            day = state.clock.today()

        def read(session: Session) -> dict[str, Any]:
            return {"trial": queries.trial_balance(session, as_of=day),
                    "portfolio": loans.portfolio(session, as_of=day),
                    "arrears": loans.arrears(session, as_of=day),
                    "book": queries.book(session),
                    "closed_years": dividends.closed_years(session)}

        return Template("audit.html", context=view.context(day=day, **state.db.read(read)))

    @post("/verify-jobs", opt=allow(D, A), sync_to_thread=True, status_code=303)
    def start_verify_job(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Verify the books in the background (written in the audit trail), or follow the
        check already running: its page."""
        state = app_state(request)
        job, _ = state.verify_jobs.start_or_join(
            state.db, state.clock, record=lambda: write(request, lambda session: None))
        return Redirect(f"/counter/verify-jobs/{job.id}", status_code=303)

    @get("/verify-jobs/{job_id:str}", opt=allow(D, A), sync_to_thread=True)
    def verify_job(self, request: Request[Any, Any, Any], job_id: JobId) -> Template:
        """How far the check is (the page reloads itself while it runs), then its result."""
        view, state = page(request), app_state(request)
        job = state.verify_jobs.get(job_id)
        if job is None:
            raise NotFoundException()
        return Template("verify_job.html", context=view.context(job=job.view()))


BoardController.exception_handlers = CounterController.exception_handlers

__all__ = ["BoardController"]
