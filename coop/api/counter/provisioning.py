"""Loans by class at the counter (admin, board, auditor): on a chosen day (the business date
unless another is asked for), every class with its days overdue in words, its loans, the
principal outstanding, the society's percent and the provision, the total, and the
provisioning runs so far. The admin books the provision of the day shown with one button
(one entry of the change between 5210 and 1190; the same day again books nothing); a
refusal (a closed year, a day after today, a day before the latest run) is said in words on
the page. Numbers only: no page shows a name."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from coop.api.counter.clerk import CounterController
from coop.api.counter.web import Form, Page, field_errors, page, write
from coop.api.deps import AppState, app_state
from coop.api.security import allow
from coop.auth import Role
from coop.errors import CoopError, InvalidInput
from coop.i18n.words import date_words
from coop.loans import provisioning

A, B, D = Role.ADMIN, Role.BOARD, Role.AUDITOR
HOME = "/counter/loan-classification"


def _day(text: str | None, state: AppState) -> date:
    today = state.clock.today()
    if not text:
        return today
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as error:
        raise InvalidInput("A date is written YYYY-MM-DD.", field="as_of") from error
    if day > today:
        raise InvalidInput("That day has not come yet.", field="as_of")
    return day


def _context(view: Page, state: AppState, day: date) -> dict[str, Any]:
    society = view.society

    def words(on: date) -> str:
        return date_words(on, language=society.settings.language, locale=society.locale)

    def read(session: Session) -> dict[str, Any]:
        return {"found": provisioning.classification_on(session, day),
                "runs": provisioning.provisioning_runs(session)}

    return view.context(day=day, day_words=words(day), words=words, **state.db.read(read))


class ProvisioningPages(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/loan-classification", opt=allow(A, B, D), sync_to_thread=True)
    def show(self, request: Request[Any, Any, Any], as_of: FromQuery[str | None] = None,
             done: FromQuery[str | None] = None) -> Template:
        view, state = page(request), app_state(request)
        view.notice = done
        try:
            day = _day(as_of, state)
        except CoopError as error:
            view.errors = field_errors(error, "as_of")
            return Template("loan_classification.html", status_code=422,
                            context=_context(view, state, state.clock.today()))
        return Template("loan_classification.html", context=_context(view, state, day))

    @post("/provisioning-runs", opt=allow(A), sync_to_thread=True, status_code=303)
    def run(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        """Book the provision of the day on the page."""
        view, state = page(request), app_state(request)
        assert view.principal is not None
        actor = view.principal.username
        try:
            day = _day(str(data.get("as_of", "")), state)
            done = write(request, lambda s: provisioning.run_provisioning(
                s, as_of=day, actor=actor, clock=state.clock))
        except CoopError as error:
            view.errors = field_errors(error, "run")
            status = 409 if error.kind == "conflict" else 422
            return Template("loan_classification.html", status_code=status,
                            context=_context(view, state, state.clock.today()))
        on = date_words(done.as_of, language=view.society.settings.language,
                        locale=view.society.locale)
        if done.replayed:
            notice = view.tr("The provision as of {date} was booked already: {required}.",
                             date=on, required=view.money(done.required_minor))
        elif done.change_minor > 0:
            notice = view.tr("The provision as of {date} is {required}: raised by {change}.",
                             date=on, required=view.money(done.required_minor),
                             change=view.money(done.change_minor))
        elif done.change_minor < 0:
            notice = view.tr("The provision as of {date} is {required}: lowered by {change}.",
                             date=on, required=view.money(done.required_minor),
                             change=view.money(-done.change_minor))
        else:
            notice = view.tr("The provision as of {date} is {required}, as before: nothing to "
                             "book.", date=on, required=view.money(done.required_minor))
        return Redirect(f"{HOME}?as_of={done.as_of.isoformat()}&done={quote(notice)}",
                        status_code=303)


ProvisioningPages.exception_handlers = CounterController.exception_handlers

__all__ = ["ProvisioningPages"]
