"""What every counter page shares: the session cookie, CSRF tokens, the words of the page (in
the society's language; a member's own pages in hers, as her documents are), money and counts
for people, and turning a refusal into words next to a field.

- The session is the same bearer token the API issues (same users, roles, expiry and
  revocation), kept in an HttpOnly, SameSite=Strict cookie that only /counter paths read.
- Every form carries a CSRF token derived from the session token (sha256), which another site
  can neither read nor compute; a post without it, or with another, is refused (403) before
  anything is looked at. The login form, before there is a session, uses a random cookie and
  the same value in the form (double submit). Both are checked in one place, the app-level
  guard `counter_csrf`, for every POST under /counter: a handler does not (and cannot forget
  to) check it; a login handler says `opt=LOGIN_FORM` to be held to the login rule.
- Every form that moves money carries an idempotency key drawn when the page was rendered: a
  double click or a resubmitted form posts once (the services are exactly-once per key).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from babel.dates import format_date
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body, PathParameter
from sqlalchemy.orm import Session

from coop import auth, members
from coop.api.deps import app_state, provide_society
from coop.api.security import SESSION_COOKIE, current_principal, is_counter
from coop.auth import Principal, Role
from coop.errors import CoopError
from coop.i18n import LANGUAGES, Translator
from coop.money import Amount, count_formatter, display, minor_digits
from coop.society import Society

LOGIN_CSRF_COOKIE = "coop_login_csrf"
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
"""A counter form's fields (its CSRF token already checked by `counter_csrf`)."""
T = TypeVar("T")


def csrf_for(token: str) -> str:
    return hashlib.sha256(f"coop-counter-csrf:{token}".encode()).hexdigest()[:32]


def check_csrf(request: Request[Any, Any, Any], form: dict[str, Any]) -> None:
    token = request.cookies.get(SESSION_COOKIE, "")
    sent = str(form.get("csrf", ""))
    if not token or not hmac.compare_digest(sent, csrf_for(token)):
        raise PermissionDeniedException(detail="this form has expired or did not come from "
                                               "this counter: open the page again")


def check_origin(request: Request[Any, Any, Any]) -> None:
    """Besides the token: a browser says where a form was sent from (the counter's pages ask
    for `Referrer-Policy: same-origin`, so its own forms carry its origin). A POST from any
    other origin, or from an origin hidden as "null", is refused; a client that sends neither
    header (not a browser) still needs the token."""
    own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    if origin.lower() != own:
        raise PermissionDeniedException(detail="this form did not come from this counter's "
                                               "own pages: open the page again")


def check_login_csrf(request: Request[Any, Any, Any], form: dict[str, Any]) -> None:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(str(form.get("csrf", "")), cookie):
        raise PermissionDeniedException(detail="the login form has expired: open it again")


LOGIN_FORM: dict[str, Any] = {"public": True, "csrf": "login"}
"""The `opt` of the login form's POST: public, and held to the login (double submit) rule."""


async def counter_csrf(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The one CSRF check of the counter: every POST under /counter, whatever its handler,
    reads the form once (the handler's `data` is parsed from the same, cached form) and is
    refused (403) without the token of its session, or of the login form."""
    if connection.scope.get("method") != "POST" or not is_counter(connection.scope["path"]):
        return
    if not isinstance(connection, Request):  # an HTTP route always has a Request here
        raise PermissionDeniedException(detail="a form is required")
    check_origin(connection)
    form = dict(await connection.form())
    if handler.opt.get("csrf") == "login":
        check_login_csrf(connection, form)
    else:
        check_csrf(connection, form)


def new_login_csrf() -> str:
    return secrets.token_hex(16)


@lru_cache(maxsize=8)
def _translator(language: str) -> Translator:
    return Translator(language)


LoanId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]  # loan ids are 32-bit
FiscalYearName = Annotated[int, PathParameter(ge=1900, le=9998)]


class Errors(dict[str, Any]):
    """A page's refusals by field. Handlers put in a `CoopError` (or words already in the
    page's language); reading one gives words in the page's language (`Page.explain`)."""

    def __init__(self, view: Page, raw: dict[str, Any]) -> None:
        super().__init__(raw)
        self._view = view

    def __getitem__(self, name: str) -> str:
        return self._view.explain(super().__getitem__(name))

    def get(self, name: str, default: Any = None) -> Any:
        raw = dict.get(self, name)
        return default if raw is None else self._view.explain(raw)

    def items(self) -> Any:
        return [(name, self[name]) for name in self]

    def values(self) -> Any:
        return [self[name] for name in self]


@dataclass
class Page:
    """The context every template gets."""

    request: Request[Any, Any, Any]
    society: Society
    principal: Principal | None
    notice: str | None = None
    receipt: int | None = None
    language: str | None = None
    """The member's own language on her pages; None: the society's."""
    _errors: Errors = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._errors = Errors(self, {})

    @property
    def errors(self) -> Errors:
        return self._errors

    @errors.setter
    def errors(self, raw: dict[str, Any]) -> None:
        self._errors = Errors(self, dict(raw))

    @property
    def lang(self) -> str:
        return self.language or self.society.settings.language

    @property
    def tr(self) -> Translator:
        return _translator(self.lang)

    def explain(self, refusal: object) -> str:
        """A refusal in the page's language with its figures as people write them: amounts
        with the currency symbol and the locale's grouping, days as the locale writes them.
        Words not in the catalogue stay as they are."""
        if not isinstance(refusal, CoopError):
            return self.tr(str(refusal))
        if refusal.template is None:
            return self.tr(refusal.detail)
        locale = self.society.locale
        shown = {name: (value.shown(locale) if isinstance(value, Amount)
                        else format_date(value, format="medium", locale=locale)
                        if isinstance(value, date) else value)
                 for name, value in refusal.figures.items()}
        return self.tr(refusal.template).format(**shown)

    @property
    def csrf(self) -> str:
        token = self.request.cookies.get(SESSION_COOKIE, "")
        return csrf_for(token) if token else ""

    @staticmethod
    def key() -> str:
        """A fresh idempotency key for one rendering of a form."""
        return uuid.uuid4().hex

    def money(self, minor: int) -> str:
        return display(minor, self.society.currency, self.society.locale)

    def count(self, number: int) -> str:
        """A count (of shares) with the society's digit grouping: 1,00,000 in en_IN."""
        return _counter(self.society.locale)(number)

    def amount(self, text: str) -> str:
        """A decimal string from the API's services, shown for people."""
        minor = int(Decimal(text).scaleb(minor_digits(self.society.currency)))
        return self.money(minor)

    def context(self, **values: Any) -> dict[str, Any]:
        return {"page": self, "tr": self.tr, "money": self.money, "count": self.count,
                "languages": LANGUAGES, **values}


@lru_cache(maxsize=8)
def _counter(locale: str) -> Callable[[int], str]:
    return count_formatter(locale)


def page(request: Request[Any, Any, Any], *, anonymous: bool = False) -> Page:
    """The page's context. A member signed in reads her pages in her own language (the
    society's if she has none), even a refusal; everyone else in the society's."""
    principal = None if anonymous else current_principal(request)
    signed_in = principal or getattr(request.state, "principal", None)
    language = member_language(request, signed_in) if isinstance(signed_in, Principal) \
        else None
    return Page(request, provide_society(request), principal, language=language)


def member_language(request: Request[Any, Any, Any], principal: Principal) -> str | None:
    """Her chosen language if `principal` is a member (read once per request)."""
    if principal.role is not Role.MEMBER or principal.member_code is None:
        return None
    if "member_language" not in request.state:
        code = principal.member_code
        try:
            request.state.member_language = app_state(request).db.read(
                lambda s: members.get_member(s, code).language)
        except members.MemberNotFound:
            request.state.member_language = None
    language: str | None = request.state.member_language
    return language


def write(request: Request[Any, Any, Any], work: Callable[[Session], T]) -> T:
    """A counter action as one transaction, with its line in the audit trail (as the API's
    writes have)."""
    state = app_state(request)
    principal = current_principal(request)

    def run(session: Session) -> T:
        result = work(session)
        auth.record_audit(session, principal, action=f"{request.method} {request.url.path}",
                          status=200, clock=state.clock)
        return result

    return state.db.write(run)


def field_errors(error: CoopError, default: str) -> dict[str, Any]:
    """A refusal next to the field it is about (put into words by `Page.explain`)."""
    return {error.field or default: error}


__all__ = ["LOGIN_CSRF_COOKIE", "LOGIN_FORM", "Errors", "FiscalYearName", "Form", "LoanId", "Page",
           "check_csrf", "check_login_csrf", "counter_csrf", "csrf_for", "field_errors",
           "member_language", "new_login_csrf", "page", "write"]
