"""A member's requests at the counter (issue 17), each a form whose refusal is shown in words
next to its field, each calling the service the API calls, with the API's roles:

- a reschedule (more installments, a new rate) or a payment holiday (a moratorium on her
  loan until a date) asked of the board: admin, clerk (`loans.request_reschedule`; the board
  votes on it on /counter/board);
- shares paid back, to cash or her savings: admin, board, at once as the API does (no vote),
  never below the minimum shares nor leaving a loan without its cover
  (`shares.redeem_shares` then `loans.check_share_cover`, one transaction);
- holds on her savings placed and released: admin (`savings.place_hold`, `release_hold`);
- her exit, once her savings and shares are paid out: admin, board, after a second step
  (`members.exit_member`);
- and, for everyone's loans at once, a moratorium the board declares (a resolution: no
  installments fall due in a window, interest accruing or not): board, after a second step
  that says how many loans it touches (`loans.declare_moratorium`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from coop import loans, members, savings
from coop.api.counter.clerk import CounterController
from coop.api.counter.web import Form, LoanId, Page, field_errors, page, write
from coop.api.deps import AppState, app_state
from coop.api.security import allow
from coop.auth import Role
from coop.errors import CoopError, InvalidInput
from coop.members.codes import normalise
from coop.money import parse_minor
from coop.savings import shares

A, B, C = Role.ADMIN, Role.BOARD, Role.CLERK
Code = FromPath[str]
HoldId = FromPath[int]


def _view(state: AppState, session: Session, code: str) -> dict[str, Any]:
    """What the requests page shows: numbers only, no name is read."""
    member = members.get_member(session, code)
    today = state.clock.today()
    _, pending = loans.pending(session)
    active = []
    for loan in loans.loans_of(session, code):
        if loan.status != "active":
            continue
        position = loans.position_of(session, loan, as_of=today)
        active.append({"id": loan.id, "product": loan.product.name,
                       "outstanding": position.outstanding_principal if position else 0,
                       "requests": [r for r in pending if r.loan_id == loan.id]})
    return {"member": member, "loans": active, "balance": savings.balances(session, code),
            "holding": shares.holding(session, code), "holds": savings.holds_of(session, code)}


def _page(request: Request[Any, Any, Any], code: str, *, errors: dict[str, Any] | None = None,
          form: dict[str, Any] | None = None, status: int = 200, **extra: Any) -> Template:
    view, state = page(request), app_state(request)
    view.errors = errors or {}
    view.notice = request.query_params.get("done")
    try:
        data = state.db.read(lambda s: _view(state, s, code))
    except members.MemberNotFound as error:
        raise NotFoundException() from error  # "Not found", in words
    return Template("requests.html", status_code=status, context=view.context(
        **data, form=form or {}, today=state.clock.today(), **extra))


def _done(code: str, notice: str) -> Redirect:
    """After a post, the requests page again (a reload does not post twice)."""
    return Redirect(f"/counter/members/{code}/requests?done={quote(notice)}", status_code=303)


def _refused(request: Request[Any, Any, Any], code: str, error: CoopError, *, prefix: str,
             default: str, form: dict[str, Any]) -> Template:
    errors = {f"{prefix}_{name}": detail for name, detail in field_errors(error, default).items()}
    return _page(request, code, errors=errors, form={prefix: form},
                 status=409 if error.kind == "conflict" else 422)


def _whole(view: Page, form: dict[str, Any], name: str, *, most: int) -> int:
    text = str(form.get(name, "")).strip() or "0"
    if not text.isdigit() or int(text) > most:
        raise InvalidInput(view.tr("A whole number from 0 to {most}.", most=most), field=name)
    return int(text)


def _reschedule_wanted(view: Page, form: dict[str, Any]) -> dict[str, Any]:
    """The fields of a reschedule or a payment holiday, read (refused in words)."""
    holiday = form.get("kind") == "holiday"
    rate_text = str(form.get("annual_rate", "")).strip()
    rate = None
    if rate_text and not holiday:
        try:
            rate = Decimal(rate_text)
        except InvalidOperation as error:
            raise InvalidInput(view.tr("A rate is a number such as 12 or 9.5."),
                               field="annual_rate") from error
    until = None
    if holiday:
        text = str(form.get("holiday_until", "")).strip()
        try:
            until = date.fromisoformat(text)
        except ValueError as error:
            raise InvalidInput(view.tr("A date is written YYYY-MM-DD."),
                               field="holiday_until") from error
    return {"extra_installments": 0 if holiday else _whole(view, form, "extra_installments",
                                                           most=120),
            "annual_rate": rate, "holiday_until": until,
            "reason": str(form.get("reason", "")).strip()}


class RequestsController(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/requests", opt=allow(A, B, C), sync_to_thread=True)
    def find_requests(self, request: Request[Any, Any, Any],
                      code: FromQuery[str] = "") -> Response[Any]:
        """A member's requests by her number (the board has no member page to start from)."""
        view, state = page(request), app_state(request)
        wanted = normalise(code) if code.strip() else ""
        message = view.tr("Type her member number.")
        if wanted:
            try:
                state.db.read(lambda s: members.get_member(s, wanted))
                return Redirect(f"/counter/members/{wanted}/requests", status_code=303)
            except members.MemberNotFound:
                message = view.tr("No member has the number {code}.", code=wanted)
        return Template("message.html", status_code=404, context=view.context(
            title=view.tr("Not found"), message=message))

    @get("/members/{code:str}/requests", opt=allow(A, B, C), sync_to_thread=True)
    def requests(self, request: Request[Any, Any, Any], code: Code) -> Template:
        return _page(request, code)

    @post("/loans/{loan_id:int}/reschedule", opt=allow(A, C), sync_to_thread=True,
          status_code=303)
    def reschedule(self, request: Request[Any, Any, Any], loan_id: LoanId,
                   data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        actor = view.principal.username
        code = state.db.read(lambda s: loans.member_code_of(s, loan_id))
        prefix = f"{'holiday' if data.get('kind') == 'holiday' else 'reschedule'}_{loan_id}"
        try:
            wanted = _reschedule_wanted(view, data)
            asked = write(request, lambda s: loans.request_reschedule(
                s, loan_id, **wanted, actor=actor, clock=state.clock))
        except CoopError as error:
            return _refused(request, code, error, prefix=prefix, default="reason", form=data)
        return _done(code, view.tr("Loan {loan}: request {request} is with the board.",
                                   loan=loan_id, request=asked.id))

    @post("/members/{code:str}/share-redemption", opt=allow(A, B), sync_to_thread=True,
          status_code=303)
    def redeem(self, request: Request[Any, Any, Any], code: Code,
               data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        actor, society = view.principal.username, view.society
        to: Literal["cash", "savings"] = "savings" if data.get("to") == "savings" else "cash"

        def work(session: Session) -> shares.Holding:
            _, holding = shares.redeem_shares(
                session, code, count=count, to=to, face_value_minor=society.share_face_value_minor,
                min_shares=society.settings.min_shares, value_date=state.clock.today(),
                actor=actor, clock=state.clock)
            loans.check_share_cover(session, code, society)  # refused: all rolls back
            return holding

        try:
            count = _whole(view, data, "count", most=10**6)
            if count < 1:
                raise InvalidInput(view.tr("Pay back at least one share."), field="count")
            holding = write(request, work)
        except CoopError as error:
            return _refused(request, code, error, prefix="redeem", default="count", form=data)
        words = ("{count} shares paid back into her savings; she keeps {left}."
                 if to == "savings" else "{count} shares paid back in cash; she keeps {left}.")
        return _done(code, view.tr(words, count=count, left=holding.count))

    @post("/members/{code:str}/holds", opt=allow(A), sync_to_thread=True, status_code=303)
    def place_hold(self, request: Request[Any, Any, Any], code: Code,
                   data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        actor = view.principal.username
        try:
            amount = parse_minor(str(data.get("amount", "")).strip(), view.society.currency)
            reason = str(data.get("reason", "")).strip()
            if not reason:
                raise InvalidInput(view.tr("Say why, in a few words (no names)."),
                                   field="reason")
            hold = write(request, lambda s: savings.place_hold(
                s, code, amount_minor=amount, reason=reason, actor=actor, clock=state.clock))
        except CoopError as error:
            return _refused(request, code, error, prefix="hold", default="amount", form=data)
        return _done(code, view.tr("Hold {hold} placed: {amount} of her savings set aside.",
                                   hold=hold.id, amount=view.money(amount)))

    @post("/members/{code:str}/holds/{hold_id:int}/release", opt=allow(A),
          sync_to_thread=True, status_code=303)
    def release_hold(self, request: Request[Any, Any, Any], code: Code, hold_id: HoldId,
                     data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        try:
            hold = write(request, lambda s: savings.release_hold(s, code, hold_id,
                                                                 clock=state.clock))
        except CoopError as error:
            return _refused(request, code, error, prefix=f"release_{hold_id}", default="hold",
                            form=data)
        return _done(code, view.tr("Hold {hold} released: {amount} is available again.",
                                   hold=hold_id, amount=view.money(hold.amount_minor)))

    @post("/members/{code:str}/exit", opt=allow(A, B), sync_to_thread=True, status_code=303)
    def exit(self, request: Request[Any, Any, Any], code: Code, data: Form) -> Response[Any]:
        """First the question, then (with `confirm`) her exit."""
        view, state = page(request), app_state(request)
        if not data.get("confirm"):
            return _page(request, code, confirm_exit=True)
        try:
            write(request, lambda s: members.exit_member(s, code, clock=state.clock))
        except CoopError as error:
            return _refused(request, code, error, prefix="exit", default="member", form=data)
        return _done(code, view.tr("{code} has left the society.", code=code))


def _moratorium_page(request: Request[Any, Any, Any], *, form: dict[str, Any],
                     errors: dict[str, Any] | None = None, confirm: bool = False,
                     status: int = 200) -> Template:
    view, state = page(request), app_state(request)
    view.errors = errors or {}
    view.notice = request.query_params.get("done")
    return Template("moratorium.html", status_code=status, context=view.context(
        form=form, confirm=confirm, today=state.clock.today()))


def _moratorium_wanted(view: Page, form: dict[str, Any]) -> dict[str, Any]:
    days: dict[str, date] = {}
    for name in ("from_on", "to_on"):
        try:
            days[name] = date.fromisoformat(str(form.get(name, "")).strip())
        except ValueError as error:
            raise InvalidInput(view.tr("A date is written YYYY-MM-DD."), field=name) from error
    return {**days, "accrue_interest": form.get("accrue_interest") == "1",
            "resolution": str(form.get("resolution", "")).strip()}


class MoratoriumController(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/moratoria", opt=allow(B), sync_to_thread=True)
    def moratorium_form(self, request: Request[Any, Any, Any]) -> Template:
        return _moratorium_page(request, form={})

    @post("/moratoria", opt=allow(B), sync_to_thread=True, status_code=303)
    def moratorium(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        """First the resolution read back, then (with `confirm`) declared."""
        view, state = page(request), app_state(request)
        assert view.principal is not None
        actor = view.principal.username
        try:
            wanted = _moratorium_wanted(view, data)
            if not data.get("confirm"):
                return _moratorium_page(request, form=data, confirm=True, status=200)
            declared = write(request, lambda s: loans.declare_moratorium(
                s, **wanted, actor=actor, clock=state.clock))
        except CoopError as error:
            return _moratorium_page(request, form=data, errors=field_errors(
                error, "resolution"), status=422)
        notice = view.tr("Moratorium declared: {count} loans have no installments due from "
                         "{start} to {end}.", count=declared.loans_affected,
                         start=declared.from_on.strftime("%d-%m-%Y"),
                         end=declared.to_on.strftime("%d-%m-%Y"))
        return Redirect(f"/counter/moratoria?done={quote(notice)}", status_code=303)


MoratoriumController.exception_handlers = CounterController.exception_handlers
RequestsController.exception_handlers = CounterController.exception_handlers

__all__ = ["MoratoriumController", "RequestsController"]
