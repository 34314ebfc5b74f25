"""The tills at the counter: a clerk opens her till with a float, sees what it should hold
(cash in, cash out, expected), counts it by notes and coins at day-end, sees expected against
counted, then closes it. An admin or a board member approves a difference (never her own);
the day's screen lists every till of the day and the cash that should be in the safe. Plain
forms, no JavaScript; every word through tr()."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, PathParameter
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from coop import tills
from coop.api.counter.web import Form, Page, page, write
from coop.api.deps import app_state
from coop.api.security import allow
from coop.auth import Role
from coop.errors import CoopError, Forbidden, InvalidInput
from coop.ledger.model import InsufficientFunds
from coop.money import InvalidAmount, parse_minor

A, B, C, D = Role.ADMIN, Role.BOARD, Role.CLERK, Role.AUDITOR
TillId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
BACK = re.compile(r"^/counter/members/[A-Za-z0-9-]{1,16}")
COUNT_MAX = 100_000


def _counts(view: Page, form: dict[str, Any]) -> tuple[int, dict[str, int], str]:
    """The counted cash from the count form: how many of each note and coin, and any other
    amount (loose coins the grid does not list). Returns (total, counts, other as typed)."""
    total, counts = 0, {}
    for text, minor in tills.denominations(view.society.currency):
        typed = str(form.get(f"n_{text}", "")).strip() or "0"
        if not typed.isdigit() or int(typed) > COUNT_MAX:
            raise InvalidInput(view.tr("Type how many, in digits (0 if none)."),
                               field=f"n_{text}")
        if int(typed):
            counts[text] = int(typed)
            total += minor * int(typed)
    other = str(form.get("other", "")).strip()
    if other:
        total += parse_minor(other, view.society.currency, field="other", allow_zero=True)
    return total, counts, other


def _mine(view: Page, session: Session) -> dict[str, Any]:
    assert view.principal is not None
    row = tills.open_till_of(session, view.principal.username)
    return {"till": tills.get_till(session, row.id) if row else None,
            "safe": tills.safe_minor(session),
            "waiting": [t for t in tills.pending(session)
                        if t.username == view.principal.username]}


def _mine_page(request: Request[Any, Any, Any], view: Page, *, status: int = 200,
               **extra: Any) -> Template:
    state = app_state(request)
    data = state.db.read(lambda s: _mine(view, s))
    view.notice = view.notice or request.query_params.get("done")
    return Template("till.html", status_code=status, context=view.context(
        **data, denominations=tills.denominations(view.society.currency), **extra))


def _day(view: Page, session: Session, on: date) -> dict[str, Any]:
    found = tills.day_tills(session, on)
    return {"tills": found, "safe": tills.safe_minor(session, as_of=on), "on": on,
            "pending": [t for t in found if t.status == "variance_pending"],
            "in_tills": sum(t.expected_minor for t in found if t.status == "open")}


def _day_page(request: Request[Any, Any, Any], view: Page, on: date, *,
              status: int = 200) -> Template:
    state = app_state(request)
    data = state.db.read(lambda s: _day(view, s, on))
    view.notice = view.notice or request.query_params.get("done")
    return Template("tills_day.html", status_code=status, context=view.context(**data))


class TillsPages(Controller):
    path = "/counter/tills"
    include_in_schema = False

    @get("/", opt=allow(A, C), sync_to_thread=True)
    def mine(self, request: Request[Any, Any, Any]) -> Template:
        """My till: open it, or see what it should hold and count it."""
        return _mine_page(request, page(request))

    @post("/open", opt=allow(A, C), sync_to_thread=True, status_code=303)
    def open(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        username = view.principal.username
        back = BACK.match(str(data.get("back", "")))
        try:
            amount = parse_minor(str(data.get("opening_float", "")).strip() or "0",
                                 view.society.currency, field="opening_float",
                                 allow_zero=True)
            till = write(request, lambda s: tills.open_till(
                s, username=username, opening_float_minor=amount, clock=state.clock))
        except CoopError as error:
            if isinstance(error, tills.TillAlreadyOpen) and back:
                return Redirect(back.group(0), status_code=303)
            view.errors = {"opening_float": _refusal(view, error)}
            return _mine_page(request, view, status=409 if error.kind == "conflict" else 422)
        notice = view.tr("Your till {till} is open with {amount}.", till=till.id,
                         amount=view.money(till.opening_float_minor))
        return Redirect(f"{back.group(0) if back else '/counter/tills/'}?done={quote(notice)}",
                        status_code=303)

    @post("/{till_id:int}/count", opt=allow(A, C), sync_to_thread=True, status_code=200)
    def count(self, request: Request[Any, Any, Any], till_id: TillId,
              data: Form) -> Template:
        """Expected against counted, before anything is closed."""
        view = page(request)
        try:
            counted, counts, other = _counts(view, data)
        except CoopError as error:
            view.errors = {error.field or "other": _refusal(view, error)}
            return _mine_page(request, view, status=422, form=data)
        till = app_state(request).db.read(lambda s: tills.get_till(s, till_id))
        if till.status != "open" or not _may_close(view, till):
            view.errors = {"state": view.tr("This till is not open.")}
            return _mine_page(request, view, status=409)
        return _mine_page(request, view, form=data, check={
            "till": till, "counted": counted, "counts": counts, "other": other,
            "variance": counted - till.expected_minor})

    @post("/{till_id:int}/close", opt=allow(A, C), sync_to_thread=True, status_code=303)
    def close(self, request: Request[Any, Any, Any], till_id: TillId,
              data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        actor = view.principal.username
        try:
            counted, counts, _ = _counts(view, data)

            def work(session: Session) -> tills.Till:
                till = tills.get_till(session, till_id)
                if not _may_close(view, till):
                    raise Forbidden(view.tr("Only the till's user or an admin closes it."))
                whole = counts if not str(data.get("other", "")).strip() else None
                return tills.close_till(session, till_id, counted_minor=counted, actor=actor,
                                        clock=state.clock, counts=whole)

            till = write(request, work)
        except CoopError as error:
            view.errors = {"other" if error.kind == "invalid" else "state":
                           _refusal(view, error)}
            return _mine_page(request, view, form=data, status={
                "conflict": 409, "forbidden": 403}.get(error.kind, 422))
        if till.status == "closed":
            notice = view.tr("Till {till} is closed: counted {amount}, as expected.",
                             till=till.id, amount=view.money(till.counted_minor or 0))
        elif (till.variance_minor or 0) < 0:
            notice = view.tr("Till {till} is closed, {amount} short: an admin or a board "
                             "member approves the difference.", till=till.id,
                             amount=view.money(-(till.variance_minor or 0)))
        else:
            notice = view.tr("Till {till} is closed, {amount} over: an admin or a board "
                             "member approves the difference.", till=till.id,
                             amount=view.money(till.variance_minor or 0))
        return Redirect(f"/counter/tills/?done={quote(notice)}", status_code=303)

    @get("/day", opt=allow(A, B, D), sync_to_thread=True)
    def day(self, request: Request[Any, Any, Any], on: FromQuery[str] = "") -> Template:
        """Every till of the day, the differences waiting, and the cash for the safe."""
        view, state = page(request), app_state(request)
        try:
            day = date.fromisoformat(on) if on else state.clock.today()
        except ValueError:
            view.errors = {"on": view.tr("Type the date as YYYY-MM-DD.")}
            day = state.clock.today()
        return _day_page(request, view, day)

    @post("/{till_id:int}/approve", opt=allow(A, B), sync_to_thread=True, status_code=303)
    def approve(self, request: Request[Any, Any, Any], till_id: TillId,
                data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        approver = view.principal.username
        try:
            till, _ = write(request, lambda s: tills.approve_variance(
                s, till_id, approver=approver, clock=state.clock))
        except CoopError as error:
            view.errors = {"approve": view.tr("Till {till}:", till=till_id) + " " +
                           _refusal(view, error)}
            return _day_page(request, view, state.clock.today(),
                             status=403 if error.kind == "forbidden" else 409)
        variance = till.variance_minor or 0
        if variance < 0:
            notice = view.tr("Till {till}: {amount} short, posted to cash shortages.",
                             till=till.id, amount=view.money(-variance))
        else:
            notice = view.tr("Till {till}: {amount} over, posted to cash overages.",
                             till=till.id, amount=view.money(variance))
        return Redirect(f"/counter/tills/day?done={quote(notice)}", status_code=303)


def _may_close(view: Page, till: tills.Till) -> bool:
    assert view.principal is not None
    return view.principal.role is Role.ADMIN or till.username == view.principal.username


def _refusal(view: Page, error: CoopError) -> str:
    """A till's refusal in the counter's words (the others as the service says them)."""
    if isinstance(error, tills.TillAlreadyOpen):
        return view.tr("You already have an open till.")
    if isinstance(error, tills.OwnTill):
        return view.tr("Someone else approves the difference of your own till.")
    if isinstance(error, tills.VarianceNotPending):
        return view.tr("This difference is already approved.")
    if isinstance(error, tills.TillClosed):
        return view.tr("This till is not open.")
    if isinstance(error, InsufficientFunds):
        return view.tr("The float is more than the safe holds.")
    if isinstance(error, InvalidAmount):
        return view.tr("Type an amount in digits, such as 1000.00.")
    return view.explain(error)
