"""Authentication, deny-by-default authorization and security headers.

Every route handler declares who may call it with `opt=allow(...)` (or `opt=PUBLIC`). One
app-level guard reads that declaration: a handler without one is refused to everyone, and a
test walks the route table so none ships without it. A member token reaches only her own
member number: `own_member_or_404` answers 404 for any other (existence is not leaked).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

import anyio
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Message, Scope

from coop.auth import Principal, Role, authenticate, token_digest

PUBLIC: dict[str, Any] = {"public": True}
PUBLIC_PATH_PREFIXES = ("/schema",)


def allow(*roles: Role | Iterable[Role]) -> dict[str, Any]:
    """The `opt` of a route handler that these roles may call."""
    flat: set[Role] = set()
    for role in roles:
        flat.update([role] if isinstance(role, Role) else role)
    return {"roles": frozenset(flat)}


COUNTER_PATH = "/counter"
SESSION_COOKIE = "coop_session"


def is_counter(path: str) -> bool:
    return path == COUNTER_PATH or path.startswith(COUNTER_PATH + "/")


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The API's token is a bearer header; the counter pages' token is their session cookie
    (HttpOnly, SameSite=Strict), and each only where it belongs, so a cookie can never
    authorise an API call made from another site."""
    if is_counter(connection.scope["path"]):
        return connection.cookies.get(SESSION_COOKIE) or None
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def in_turn(*guards: Guard) -> Guard:
    """Several guards as one, each run after the one before has let the request through.
    Litestar hands every guard its own copy of the route handler (`copy(handler)`), which
    was 7% of a counter deposit's CPU for the app's four; as one guard, one copy."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any],
                    handler: BaseRouteHandler) -> None:
        for each in guards:
            await each(connection, handler)

    guard.__doc__ = " then ".join(g.__name__ for g in guards)
    return guard


class PrincipalCache:
    """Recently authenticated tokens, so that a burst of requests does not look the same token
    up again and again. An entry lives `ttl_seconds` and never past its token's expiry; logout,
    a password change and disabling a user clear the cache of this process at once. Another
    process (PostgreSQL deployments) sees such a change within `ttl_seconds`."""

    def __init__(self, ttl_seconds: int = 5) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, token: str, now: datetime) -> Principal | None:
        entry = self._entries.get(token_digest(token))
        if entry is None or entry[1] < time.monotonic():
            return None
        principal = entry[0]
        if principal.expires_at is not None and principal.expires_at <= now:
            return None
        return principal

    def put(self, token: str, principal: Principal) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[token_digest(token)] = (principal, time.monotonic() + self.ttl_seconds)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


async def authorize(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The one guard: authenticate the bearer token, then check the handler's roles."""
    if handler.opt.get("public") or connection.scope["path"].startswith(PUBLIC_PATH_PREFIXES):
        return
    if connection.scope.get("method") == "OPTIONS":  # Litestar's own Allow answer; no data
        return
    token = bearer_token(connection)
    if token is None:
        raise NotAuthorizedException(detail="a bearer token is required")
    state = connection.app.state.coop
    principal = state.principals.get(token, state.clock.now())
    if principal is None:
        principal = await anyio.to_thread.run_sync(
            lambda: state.db.read(lambda s: authenticate(s, token, clock=state.clock))
        )
        if principal is not None:
            state.principals.put(token, principal)
    if principal is None:
        raise NotAuthorizedException(detail="the token is unknown, expired or revoked")
    connection.state.principal = principal
    roles = handler.opt.get("roles")
    if not roles or principal.role not in roles:
        raise PermissionDeniedException(detail="your role may not do this")


def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = getattr(connection.state, "principal", None)
    if not isinstance(principal, Principal):
        raise NotAuthorizedException(detail="a bearer token is required")
    return principal


def own_member_or_404(principal: Principal, member_code: str) -> None:
    """A member (or board member acting as a member) reaches only her own records."""
    if principal.role is Role.MEMBER and principal.member_code != member_code:
        raise NotFoundException()


SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
API_ONLY_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)


DOCS_HEADERS = (
    # the API viewer's own script and stylesheet from this server, nothing else
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; "
                                 b"style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                 b"connect-src 'self'; frame-ancestors 'none'; "
                                 b"base-uri 'none'; form-action 'none'"),
)
COUNTER_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"same-origin"),
    # the pages' own stylesheet and forms, nothing else: no scripts, no other origin
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self'; "
                                 b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
)


HSTS = (b"strict-transport-security", b"max-age=31536000")


def secure_cookie(value: bytes) -> bytes:
    """A Set-Cookie value with the Secure attribute (added if it is missing)."""
    attributes = [part.strip().lower() for part in value.split(b";")[1:]]
    return value if b"secure" in attributes else value + b"; Secure"


async def security_headers(message: Message, scope: Scope) -> None:
    """A before-send hook: the security headers on every response, errors and 404s included.
    On a response over HTTPS (our own TLS, or a trusted proxy's forwarded scheme): HSTS, and
    every cookie `Secure`, whichever handler set it."""
    if message["type"] != "http.response.start":
        return
    if scope.get("scheme") == "https":
        message["headers"] = [
            (name, secure_cookie(value) if name.lower() == b"set-cookie" else value)
            for name, value in message.get("headers", [])]
        if not any(name.lower() == HSTS[0] for name, _ in message["headers"]):
            message["headers"] = [*message["headers"], HSTS]
    present = {name.lower() for name, _ in message.get("headers", [])}
    counter = is_counter(scope["path"])
    added: list[tuple[bytes, bytes]] = []
    if counter:  # first: its own Referrer-Policy lets its forms carry their origin
        added += [h for h in COUNTER_HEADERS if h[0] not in present]
        present |= {name for name, _ in added}
    added += [h for h in SECURITY_HEADERS if h[0] not in present]
    if not counter:
        extra = DOCS_HEADERS if scope["path"].startswith(PUBLIC_PATH_PREFIXES) \
            else API_ONLY_HEADERS
        added += [h for h in extra if h[0] not in present]
    message["headers"] = [*message.get("headers", []), *added]
