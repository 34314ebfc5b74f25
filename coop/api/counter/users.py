"""Users from the counter: an admin makes clerk, board, auditor and member logins, resets a
password, disables and enables a user; anyone changes her own password.

- A board login is tied to her member number (her votes count for her seat); a member's
  login is her member number itself (in lower case as its username) with a password or a PIN
  of 6 to 12 digits (coop.auth.pins), and she sees only her own papers.
- A password an admin sets (a new login, a reset) is known to two people, so its user must
  change it before anything else: the guard `password_first` sends every counter page of hers
  to the change-password page until she has (the API still answers her, and says so in the
  token response and in /me).
- Every change is one transaction with its line in the audit trail (coop.api.counter.web.write).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from coop import auth, board
from coop.api.counter.clerk import CounterController
from coop.api.counter.web import Form, Page, field_errors, page, write
from coop.api.deps import app_state, log_in
from coop.api.security import SESSION_COOKIE, allow, is_counter
from coop.auth import ANYONE, Role
from coop.errors import CoopError, InvalidInput
from coop.members.codes import normalise

A = Role.ADMIN
MADE_HERE = ("clerk", "board", "auditor", "member")
PASSWORD_PAGE = "/counter/password"  # noqa: S105 - a path
ALLOWED_FIRST = ("/counter/password", "/counter/logout")


class PasswordFirst(NotAuthorizedException):
    """Her password was set by an admin: the change-password page comes first."""


async def password_first(connection: ASGIConnection[Any, Any, Any, Any],
                         _: BaseRouteHandler) -> None:
    path = connection.scope["path"]
    principal = getattr(connection.state, "principal", None)
    if (isinstance(principal, auth.Principal) and principal.must_change_password
            and is_counter(path) and not path.endswith(ALLOWED_FIRST)):
        raise PasswordFirst(detail="change your password first")


def to_password_page(_: Any, __: Exception) -> Response[Any]:
    return Redirect(PASSWORD_PAGE, status_code=303)


def _users_page(request: Request[Any, Any, Any], *, form: dict[str, Any] | None = None,
                status: int = 200) -> Template:
    view, state = page(request), app_state(request)
    view.notice = request.query_params.get("done")
    users = state.db.read(auth.list_users)
    return Template("users.html", status_code=status, context=view.context(
        users=users, form=form or {"role": "clerk"}, roles=MADE_HERE))


def _user_page(request: Request[Any, Any, Any], username: str, *,
               status: int = 200) -> Template:
    view, state = page(request), app_state(request)
    view.notice = request.query_params.get("done")
    user = state.db.read(lambda s: auth.find_user(s, username))
    if user is None:
        from litestar.exceptions import NotFoundException

        raise NotFoundException()
    return Template("user.html", status_code=status, context=view.context(user=user))


def _typed_twice(view: Page, data: dict[str, Any], field: str) -> str:
    """The secret in `field`, refused unless `<field>_again` is the same."""
    secret = str(data.get(field, ""))
    if secret != str(data.get(f"{field}_again", "")):
        raise InvalidInput(view.tr("The two passwords differ: type them again."), field=field)
    return secret


def _done(path: str, notice: str) -> Redirect:
    return Redirect(f"{path}?done={quote(notice)}", status_code=303)


class UsersController(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/users", opt=allow(A), sync_to_thread=True)
    def users(self, request: Request[Any, Any, Any]) -> Template:
        return _users_page(request)

    @post("/users", opt=allow(A), sync_to_thread=True, status_code=303)
    def create(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        role = str(data.get("role", ""))
        code_text = str(data.get("member_code", "")).strip()
        code = normalise(code_text) if code_text else None
        # a member's login is her member number
        username = code.lower() if role == "member" and code else \
            str(data.get("username", "")).strip().lower()
        try:
            secret = _typed_twice(view, data, "password")
            if role not in MADE_HERE:
                raise InvalidInput(view.tr("Choose what she does here."), field="role")
            if role in ("member", "board") and not code:
                raise InvalidInput(view.tr("Type her member number."), field="member_code")

            def work(session: Session) -> auth.UserRow:
                user = auth.create_user(
                    session, username=username, password=secret, role=role,
                    member_code=code if role in ("member", "board") else None,
                    passwords=state.passwords, clock=state.clock, must_change_password=True)
                board.sync_seat(session, username=user.username, on=state.clock.today())
                return user

            user = write(request, work)
        except CoopError as error:
            view.errors = field_errors(error, "username")
            form = {k: v for k, v in data.items() if not k.startswith("password")}
            response = _users_page(request, form=form, status=422)
            response.context["page"].errors = view.errors
            return response
        return _done("/counter/users", view.tr(
            "Login {username} made. Hand her the password: she must change it when she "
            "first logs in.", username=user.username))

    @get("/users/{username:str}", opt=allow(A), sync_to_thread=True)
    def user(self, request: Request[Any, Any, Any], username: FromPath[str]) -> Template:
        return _user_page(request, username)

    @post("/users/{username:str}/password", opt=allow(A), sync_to_thread=True,
          status_code=303)
    def reset(self, request: Request[Any, Any, Any], username: FromPath[str],
              data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        try:
            secret = _typed_twice(view, data, "password")
            write(request, lambda s: auth.update_user(
                s, username, password=secret, passwords=state.passwords, clock=state.clock))
        except CoopError as error:
            response = _user_page(request, username, status=422)
            response.context["page"].errors = field_errors(error, "password")
            return response
        state.principals.clear()
        return _done(f"/counter/users/{username}", view.tr(
            "Password reset. Hand it to her: she must change it when she next logs in."))

    @post("/users/{username:str}/access", opt=allow(A), sync_to_thread=True,
          status_code=303)
    def access(self, request: Request[Any, Any, Any], username: FromPath[str],
               data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        disabled = data.get("disabled") == "true"

        def work(session: Session) -> auth.UserRow:
            user = auth.update_user(session, username, disabled=disabled,
                                    passwords=state.passwords, clock=state.clock)
            board.sync_seat(session, username=user.username, on=state.clock.today())
            return user

        try:
            write(request, work)
        except CoopError as error:
            response = _user_page(request, username, status=409)
            response.context["page"].errors = {"access": error}
            return response
        state.principals.clear()
        words = "{username} is disabled: she cannot log in." if disabled else \
            "{username} is enabled: she can log in again."
        return _done(f"/counter/users/{username}", view.tr(words, username=username))

    @get("/password", opt=allow(ANYONE), sync_to_thread=True)
    def password_form(self, request: Request[Any, Any, Any]) -> Template:
        view = page(request)
        return Template("password.html", context=view.context())

    @post("/password", opt=allow(ANYONE), sync_to_thread=True, status_code=303)
    def change_password(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        """Her own password: then a new session with it (the change revoked every token)."""
        view, state = page(request), app_state(request)
        principal = view.principal
        assert principal is not None
        try:
            new = _typed_twice(view, data, "new_password")
            write(request, lambda s: auth.change_password(
                s, principal, current=str(data.get("current_password", "")), new=new,
                passwords=state.passwords, clock=state.clock))
        except CoopError as error:
            view.errors = field_errors(error, "new_password")
            if "password" in view.errors:
                view.errors["new_password"] = view.errors.pop("password")
            return Template("password.html", context=view.context(), status_code=422)
        state.principals.clear()
        address = request.client.host if request.client else "unknown"
        token, _, expires_at = log_in(state, username=principal.username, password=new,
                                      address=address)
        response = Redirect("/counter/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, path="/counter", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https",
                            max_age=int((expires_at - state.clock.now()).total_seconds()))
        return response


UsersController.exception_handlers = CounterController.exception_handlers

__all__ = ["PasswordFirst", "UsersController", "password_first", "to_password_page"]
