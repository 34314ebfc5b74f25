"""The year's dividend at the counter: preview, confirm, declare; then pay, cancel or vote.

* **Preview** (board, auditor, admin): the rate and the rebate boxes give the whole
  distribution in words: the surplus, each statutory fund by name, the distributable
  surplus, the dividend and rebate pools, their residues, and where every rupee of the
  distributable surplus goes. The form then carries the preview's digest in a hidden field.
* **Declare** (the board) is two steps. "Declare..." recomputes the figures from the boxes
  as they are now: if they are not the previewed ones (a box was changed after the
  preview) it is refused, in words asking to preview again; else a confirmation repeats the
  totals and asks for the general body's resolution (number and date). Only then is the
  dividend declared, naming the digest again, so figures that changed in between are
  refused too (409).
* **After**: the declared figures, the resolution, the board's approvals while it is pending
  (with the vote buttons for the board), pay (admin, clerk) and cancel (admin).
* A year not closed, or closed with a loss, says so and why nothing can be declared.

A year picker lists the closed years. Every page works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from coop import dividends
from coop.api.counter.clerk import CounterController
from coop.api.counter.web import FiscalYearName, Form, Page, field_errors, page, write
from coop.api.deps import AppState, SocietyDep, app_state
from coop.api.security import allow
from coop.auth import Role
from coop.clock import Clock
from coop.dividends.year_end import fiscal_year
from coop.errors import CoopError, InvalidInput
from coop.i18n.words import date_words

A, B, C, D = Role.ADMIN, Role.BOARD, Role.CLERK, Role.AUDITOR
HOME = "/counter/dividends"


def _year(text: str | None, view: Page, state: AppState) -> int:
    """The year asked for, else the latest fiscal year that has ended."""
    if text and text.isdigit() and len(text) == 4:
        return int(text)
    today = state.clock.today()
    start = int(view.society.fiscal_year_start[:2])
    return today.year - 1 if today.month >= start else today.year - 2


def dividend_request(form: dict[str, Any]) -> dividends.Request:
    """The rate and rebate boxes as a request; words next to the box when they are wrong."""
    rate_text = str(form.get("rate", "")).strip()
    rebate_text = str(form.get("rebate", "")).strip()
    try:
        rate = Decimal(rate_text)
    except InvalidOperation as error:
        raise InvalidInput("A rate is a number such as 10 or 7.5.", field="rate") from error
    try:
        rebate = Decimal(rebate_text) if rebate_text else None
    except InvalidOperation as error:
        raise InvalidInput("A rebate is a number such as 5, or nothing.",
                           field="rebate") from error
    if not rate.is_finite() or not Decimal(0) < rate <= 100:
        raise InvalidInput("The rate is more than 0 and at most 100.", field="rate")
    if rebate is not None and (not rebate.is_finite() or not Decimal(0) <= rebate <= 100):
        raise InvalidInput("The rebate is between 0 and 100.", field="rebate")
    return dividends.Request(dividend_rate=rate, patronage_rebate_percent=rebate)


def _resolution(form: dict[str, Any], today: date) -> dividends.Resolution:
    text = str(form.get("resolution_number", "")).strip()
    if not text:
        raise InvalidInput("Write the number of the general body's resolution.",
                           field="resolution_number")
    try:
        passed = date.fromisoformat(str(form.get("resolution_date", "")).strip())
    except ValueError as error:
        raise InvalidInput("Write the day the general body passed it, as YYYY-MM-DD.",
                           field="resolution_date") from error
    if passed > today:
        raise InvalidInput("That day has not come yet.", field="resolution_date")
    return dividends.check_resolution(text, passed, today=today)


def _standing(session: Session, year: int) -> dict[str, Any]:
    """Where the year stands: its close (None while open), the live or latest declaration,
    and the closed years for the picker."""
    try:
        closed: dividends.YearClose | None = dividends.get_close(session, year)
    except CoopError:
        closed = None
    try:
        declared: dividends.Declaration | None = dividends.get_declaration(session, year)
    except CoopError:
        declared = None
    return {"closed": closed, "declared": declared,
            "years": dividends.closed_years(session)}


def _context(view: Page, state: AppState, year: int, **values: Any) -> dict[str, Any]:
    society = view.society
    span = fiscal_year(society, year)
    language = society.settings.language

    def day(on: date) -> str:
        return date_words(on, language=language, locale=society.locale)

    standing = state.db.read(lambda s: _standing(s, year))
    years = sorted({*standing.pop("years"), year, _year(None, view, state)}, reverse=True)
    shown: dict[str, Any] = {"preview": None, "digest": "", "confirm": False, "form": {},
                             **standing, **values}
    return view.context(year=year, start=day(span.start), end=day(span.end), day=day,
                        years=years, **shown)


def _done(year: int, notice: str) -> Redirect:
    return Redirect(f"{HOME}?fy={year}&done={quote(notice)}", status_code=303)


def _act(request: Request[Any, Any, Any], year: int, name: str,
         work: Callable[[Session, str, Clock], dividends.Declaration],
         notice: Callable[[Page, dividends.Declaration], str]) -> Response[Any]:
    """Pay or cancel, in one transaction: back to the year's page with a notice, or the
    refusal in words on it."""
    view, state = page(request), app_state(request)
    principal = view.principal
    assert principal is not None
    try:
        done = write(request, lambda s: work(s, principal.username, state.clock))
    except CoopError as error:
        view.errors = {name: error}
        return Template("dividends.html", status_code=409,
                        context=_context(view, state, year))
    return _done(year, notice(view, done))


class DividendPages(Controller):
    path = HOME
    include_in_schema = False

    @get("", opt=allow(B, D, A, C), sync_to_thread=True)
    def show(self, request: Request[Any, Any, Any], fy: FromQuery[str | None] = None,
             done: FromQuery[str | None] = None) -> Template:
        """The year's dividend as it stands, and the preview form while none is live."""
        view, state = page(request), app_state(request)
        view.notice = done
        return Template("dividends.html", context=_context(view, state, _year(fy, view, state)))

    @post("", opt=allow(B, D, A), sync_to_thread=True, status_code=200)
    def preview(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        """Preview (step "preview"), or the board's confirmation of what was previewed (step
        "confirm"), or the declaration itself (step "declare")."""
        view, state = page(request), app_state(request)
        assert view.principal is not None
        year = _year(str(data.get("fy", "")), view, state)
        step = str(data.get("step", "preview"))
        board = view.principal.role is B
        try:
            wanted = dividend_request(data)
            result = state.db.read(lambda s: dividends.preview(s, year, wanted,
                                                               society=view.society))
        except CoopError as error:
            view.errors = field_errors(error, "rate")
            return Template("dividends.html", status_code=422,
                            context=_context(view, state, year, form=data))
        digest = dividends.preview_digest(result)
        if step in ("confirm", "declare") and board:
            if str(data.get("digest", "")) != digest:
                view.errors = {"digest": view.tr(
                    "These are not the figures you previewed: a box was changed after the "
                    "preview, or the books changed since. Preview again, then declare.")}
                return Template("dividends.html", status_code=409,
                                context=_context(view, state, year, form=data))
            if step == "declare":
                return self._declare(request, view, state, year, wanted, result, data)
            return Template("dividends.html", context=_context(
                view, state, year, preview=result, digest=digest, confirm=True, form=data))
        return Template("dividends.html", context=_context(
            view, state, year, preview=result, digest=digest, form=data))

    @staticmethod
    def _declare(request: Request[Any, Any, Any], view: Page, state: AppState, year: int,
                 wanted: dividends.Request, result: dividends.Preview,
                 data: dict[str, Any]) -> Response[Any]:
        principal = view.principal
        assert principal is not None
        voter = dividends.Voter(code=principal.member_code, username=principal.username)
        try:
            resolution = _resolution(data, state.clock.today())
            declared = write(request, lambda s: dividends.declare_dividend(
                s, year, wanted, society=view.society, resolution=resolution,
                preview_digest=str(data.get("digest", "")), voter=voter,
                actor=principal.username, clock=state.clock))
        except CoopError as error:
            view.errors = field_errors(error, "declare")
            confirm = error.field in ("resolution_number", "resolution_date")
            return Template("dividends.html", status_code=409 if error.kind == "conflict"
                            else 422, context=_context(
                                view, state, year, preview=result if confirm else None,
                                digest=dividends.preview_digest(result), confirm=confirm,
                                form=data))
        members = view.money(declared.preview.to_members)
        if declared.status == "pending":
            notice = view.tr(
                "Dividend for {year} put forward: {amount} to members. Board approvals so "
                "far: {approvals} of {required}.", year=year, amount=members,
                approvals=declared.approvals, required=declared.approvals_required)
        else:
            notice = view.tr("Dividend for {year} declared: {amount} to members.",
                             year=year, amount=members)
        return _done(year, notice)

    @post("/{fy:int}/vote", opt=allow(B), sync_to_thread=True, status_code=303)
    def vote(self, request: Request[Any, Any, Any], fy: FiscalYearName,
             data: Form) -> Response[Any]:
        """A board member's vote on the year's pending declaration."""
        view, state = page(request), app_state(request)
        principal = view.principal
        assert principal is not None
        decision = "approve" if data.get("decision") == "approve" else "reject"
        note = str(data.get("note", "")).strip() or None
        voter = dividends.Voter(code=principal.member_code, username=principal.username)
        try:
            declared = write(request, lambda s: dividends.vote_on_declaration(
                s, fy, voter=voter, decision=decision, note=note, society=view.society,
                clock=state.clock))
        except CoopError as error:
            view.errors = {"vote": error}
            return Template("dividends.html", status_code=409 if error.kind == "conflict"
                            else 422, context=_context(view, state, fy))
        return _done(fy, view.tr(
            "Dividend for {year}: {approvals} of {required} approvals; {status}.", year=fy,
            approvals=declared.approvals, required=declared.approvals_required,
            status=view.tr(declared.status)))

    @post("/{fy:int}/payment", opt=allow(A, C), sync_to_thread=True, status_code=303)
    def pay(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> Response[Any]:
        """Every member's dividend and rebate into her savings."""
        return _act(request, fy, "pay", lambda s, actor, clock: dividends.pay_dividend(
            s, fy, actor=actor, clock=clock), lambda view, paid: view.tr(
                "Dividend for {year} paid into members' savings: {count} payments.",
                year=fy, count=paid.payment_entries))

    @post("/{fy:int}/cancellation", opt=allow(A), sync_to_thread=True, status_code=303)
    def cancel(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> Response[Any]:
        """Cancel a declared, unpaid dividend, or withdraw a pending one."""
        return _act(request, fy, "cancel", lambda s, actor, clock: dividends.cancel_dividend(
            s, fy, actor=actor, clock=clock), lambda view, _: view.tr(
                "Dividend for {year} cancelled.", year=fy))

    @get("/{fy:int}/members.csv", opt=allow(B, D, A), sync_to_thread=True)
    def members_csv(self, request: Request[Any, Any, Any], fy: FiscalYearName,
                    society: SocietyDep, rate: FromQuery[str] = "",
                    rebate: FromQuery[str] = "") -> Response[str]:
        """The previewed (or, without a rate, the declared) dividend, member by member."""
        state = app_state(request)

        def read(session: Session) -> str:
            if not rate:
                return dividends.report_csv(session, fy)
            wanted = dividend_request({"rate": rate, "rebate": rebate})
            result = dividends.preview(session, fy, wanted, society=society)
            return dividends.preview_csv(result, society.currency)

        return Response(state.db.read(read), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="dividend-{fy}.csv"'})


DividendPages.exception_handlers = CounterController.exception_handlers

__all__ = ["DividendPages", "dividend_request"]
