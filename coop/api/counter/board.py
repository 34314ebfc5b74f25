"""The board's and the auditor's counter pages.

Board: the loan applications and reschedule requests waiting for votes, each with what the
board weighs (her savings, shares, earlier loans, the quote: installment, interest, APR) and a
vote with a note (the year's dividend has its own pages, coop.api.counter.dividends).
Auditor: the trial balance as of a date, verify with the chain head, the portfolio at risk.
Numbers only: neither page shows a name.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from coop import loans, members, savings
from coop.api.counter.clerk import CounterController
from coop.api.counter.web import Form, LoanId, page, write
from coop.api.deps import AppState, app_state
from coop.api.security import allow
from coop.auth import Role
from coop.errors import CoopError
from coop.ledger import queries
from coop.ledger.verify import verify
from coop.loans.schedule import build
from coop.savings import shares

B, D, A = Role.BOARD, Role.AUDITOR, Role.ADMIN


def _applications(session: Session) -> list[dict[str, Any]]:
    applications, _ = loans.pending(session)
    result = []
    for loan in applications:
        schedule = build(loan.terms)
        earlier = [other for other in loans.loans_of(session, loan.member_code)
                   if other.id != loan.id]
        votes = loans.votes_of(session, loan.id)
        member = members.get_member(session, loan.member_code)
        result.append({
            "loan": loan, "member": member,
            # joined long before she was entered: from the paper register, worth a look
            "backdated": (member.created_at.date() - member.joined_on).days > 30,
            "savings": savings.balances(session, loan.member_code),
            "holding": shares.holding(session, loan.member_code),
            "earlier": earlier, "installment": schedule.installments[0].total,
            "interest": sum(i.interest for i in schedule.installments), "apr": schedule.apr,
            "approvals": sum(v.decision == "approve" for v in votes),
            "rejections": sum(v.decision == "reject" for v in votes)})
    return result


def _reschedules(session: Session, today: date) -> list[dict[str, Any]]:
    _, requests = loans.pending(session)
    result = []
    for request in requests:
        standing = loans.standing(session, request.loan_id, as_of=today)
        result.append({"request": request, "loan": standing.loan,
                       "position": standing.position})
    return result


def _board_view(state: AppState, session: Session) -> dict[str, Any]:
    return {"applications": _applications(session),
            "reschedules": _reschedules(session, state.clock.today())}


class BoardController(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/board", opt=allow(B, A), sync_to_thread=True)
    def board(self, request: Request[Any, Any, Any]) -> Template:
        view, state = page(request), app_state(request)
        view.notice = request.query_params.get("done")
        data = state.db.read(lambda s: _board_view(state, s))
        return Template("board.html", context=view.context(**data))

    @post("/loans/{loan_id:int}/vote", opt=allow(B), sync_to_thread=True, status_code=303)
    def vote(self, request: Request[Any, Any, Any], loan_id: LoanId,
             data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        principal = view.principal
        decision = "approve" if data.get("decision") == "approve" else "reject"
        note = str(data.get("note", "")).strip() or None
        reschedule = int(str(data.get("reschedule", "0")) or "0")
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
            view.errors = {f"vote_{loan_id}": error}
            data_view = state.db.read(lambda s: _board_view(state, s))
            return Template("board.html", status_code=409 if error.kind == "conflict" else 422,
                            context=view.context(**data_view))
        notice = view.tr("Loan {loan}: {approvals} of {required} approvals; {status}.",
                         loan=loan_id, approvals=tally.approvals, required=tally.required,
                         status=view.tr(tally.status))
        from urllib.parse import quote

        return Redirect(f"/counter/board?done={quote(notice)}", status_code=303)

    @get("/audit", opt=allow(D, A), sync_to_thread=True)
    def audit(self, request: Request[Any, Any, Any], as_of: FromQuery[str | None] = None,
              check: FromQuery[bool] = False) -> Template:
        view, state = page(request), app_state(request)
        try:
            day = date.fromisoformat(as_of) if as_of else state.clock.today()
        except ValueError:
            view.errors = {"as_of": view.tr("A date is written YYYY-MM-DD.")}
            day = state.clock.today()

        def read(session: Session) -> dict[str, Any]:
            return {"trial": queries.trial_balance(session, as_of=day),
                    "portfolio": loans.portfolio(session, as_of=day),
                    "report": verify(session) if check else None,
                    "book": queries.book(session)}

        return Template("audit.html", context=view.context(day=day, **state.db.read(read)))


BoardController.exception_handlers = CounterController.exception_handlers

__all__ = ["BoardController"]
