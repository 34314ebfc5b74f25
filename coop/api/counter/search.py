"""The counter's find box and registration.

- One box finds a member by number, by the name she is known by (whole words, all of them) or
  by phone (see coop.members.search). The form is a POST, so names and phones never sit in a
  URL, the browser's history or an access log; a member number still opens with
  GET /counter/find?code=. Each member listed is an identity read, logged.
- Registering a member is one step and one transaction: her identity, her accounts and her
  first shares (the society's minimum, paid in cash). A phone already on record is shown with
  the member numbers that have it, and she is registered only once the clerk confirms.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from coop import members
from coop.api.counter import limits
from coop.api.counter.clerk import CounterController
from coop.api.counter.web import Form, Page, field_errors, page, write
from coop.api.deps import app_state
from coop.api.security import allow
from coop.auth import Role
from coop.errors import CoopError, InvalidInput
from coop.members import search
from coop.members.codes import normalise
from coop.savings import shares

A, C = Role.ADMIN, Role.CLERK
SHARE_FIELDS = ("count", "amount", "confirm_large_amount")


def find_results(request: Request[Any, Any, Any], text: str) -> Response[Any]:
    """Her page when the box held her number; otherwise the members found, or why none."""
    view, state = page(request), app_state(request)
    assert view.principal is not None
    text = text.strip()[:120]
    if not text:
        view.errors = {"code": view.tr("Type her member number, her name or her phone.")}
        return Template("find.html", context=view.context(code=""), status_code=422)
    reader = members.Reader(view.principal.username, view.principal.role.value,
                            "counter: find a member")
    try:
        found = write(request, lambda s: search.find_members(  # audited, as every read
            s, text, vault=state.identity_vault(), reader=reader, clock=state.clock))
    except CoopError as error:
        view.errors = {"code": error}
        return Template("find.html", context=view.context(code=text), status_code=422)
    if found.by == "number" and found.matches:
        return Redirect(f"/counter/members/{found.matches[0].code}", status_code=303)
    if not found.matches:
        view.errors = {"code": _nobody(view, found.by, text)}
        return Template("find.html", context=view.context(code=text), status_code=404)
    return Template("find.html", context=view.context(code=text, found=found))


def _nobody(view: Page, by: str, text: str) -> str:
    if by == "number":
        return view.tr("No member has the number {code}.", code=normalise(text))
    if by == "phone":
        return view.tr("No member has this phone number.")
    return view.tr("No member is known by all of these words. Names are found by whole "
                   "words only: type her whole name, not the start of it.")


def _share_count(view: Page, form: dict[str, Any]) -> int:
    minimum = view.society.settings.min_shares
    text = str(form.get("shares", minimum)).strip()
    if not text.isdigit() or int(text) < minimum or int(text) > 100_000:
        raise InvalidInput(view.tr("At least {count} shares: the society's minimum to be a "
                                   "member.", count=minimum), field="shares")
    return int(text)


class SearchController(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/find", opt=allow(A, C), sync_to_thread=True)
    def find_number(self, request: Request[Any, Any, Any],
                    code: FromQuery[str] = "") -> Response[Any]:
        """A member number in the URL opens her page (names and phones come by POST)."""
        return find_results(request, code)

    @post("/find", opt=allow(A, C), sync_to_thread=True, status_code=200)
    def find(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        return find_results(request, str(data.get("code", "")))

    @get("/register", opt=allow(A, C), sync_to_thread=True)
    def register_form(self, request: Request[Any, Any, Any]) -> Template:
        view = page(request)
        return Template("register.html", context=view.context(
            form={"shares": view.society.settings.min_shares}))

    @post("/register", opt=allow(A, C), sync_to_thread=True, status_code=303)
    def register(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        phone = str(data.get("phone", "")).strip() or None
        identity = members.Identity(known_as=str(data.get("known_as", "")).strip() or None,
                                    phone=phone)
        language = str(data.get("language", "")) or None
        reader = members.Reader(view.principal.username, view.principal.role.value,
                                "counter: registration, phone on record")
        try:
            count = _share_count(view, data)
            if phone and str(data.get("phone_confirmed", "")) != phone:
                others = state.db.write(lambda s: search.codes_with_phone(
                    s, phone, vault=state.identity_vault(), reader=reader, clock=state.clock))
                if others:
                    return Template("register.html", status_code=409, context=view.context(
                        form=data, phone_on_record=others, confirm_phone=phone))

            def work(session: Session) -> members.MemberRow:
                member = members.register_member(
                    session, identity=identity, joined_on=None, vault=state.identity_vault(),
                    clock=state.clock, language=language, may_backdate=False)
                if count:
                    shares.buy_shares(
                        session, member.code, count=count, source="cash",
                        face_value_minor=view.society.share_face_value_minor,
                        value_date=state.clock.today(),
                        actor=view.principal.username,  # type: ignore[union-attr]
                        clock=state.clock, confirmed=limits.confirmed(data))
                return member

            member = write(request, work)
        except CoopError as error:
            view.errors = field_errors(error, "known_as")
            for name in SHARE_FIELDS:
                if name in view.errors:
                    view.errors["shares"] = view.errors.pop(name)
            return Template("register.html", context=view.context(form=data),
                            status_code=422)
        notice = view.tr("Registered. Her member number is {code}.", code=member.code)
        if count:
            notice += " " + view.tr("She now has {count} shares.", count=count)
        return Redirect(f"/counter/members/{member.code}?done={quote(notice)}",
                        status_code=303)


SearchController.exception_handlers = CounterController.exception_handlers

__all__ = ["SearchController", "find_results"]
