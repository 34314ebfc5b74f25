"""Many societies on one server (a federation): one ASGI app in front of one coop app each.

`coop serve --societies societies.toml` (or COOP_SOCIETIES) serves every society of the file
(coop.societies) from one process. Each society has an app of its own, built by
`create_app` with its own settings: its own database, its own vault key, its own caches
(tokens, currency, verify jobs). Nothing is shared between them but the code and the
server's worker threads. A request is given to one society:

- by its host name, when the Host header (lower-cased, port and trailing dot dropped) is one
  the file gives the society: the society is then at / (https://north.coop.example/counter/);
  on its own host a society answers only for itself, /s/other/... included (404);
- otherwise by the path prefix /s/<name> (CONTRACT.md): /s/north/api/v1/..., /s/north/counter/.

Anything else is a 404 problem that names no society; /health (not under a prefix, on a host
that is no society's) is answered here, for monitoring, and says nothing about the societies.

Under a prefix the society's app is mounted as ASGI says: the scope's `root_path` is the
prefix and `path` keeps it (Litestar routes on what follows the root path, and the app's URLs
include it). The counter's pages write their own addresses as /counter/..., so what leaves a
prefixed app is put under its prefix on the way out: a root-relative Location header, every
cookie's Path (/counter becomes /s/north/counter, so a browser sends a society's session
cookie to that society alone, and logging in to another society neither replaces nor reveals
it), and in HTML the root-relative href, src, action and formaction attributes (our
templates' own markup; text that people typed is escaped by Jinja, so it cannot look like
an attribute). The API's JSON is left as it is.

The apps' lifespans (their start-up and shut-down hooks) all run within the server's.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from litestar import Litestar

from coop.config import Settings
from coop.societies import PREFIX, SocietyConfig, load_societies

PROBLEM_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
NOT_FOUND = json.dumps({
    "type": "urn:coop:problem:not-found", "title": "Not found", "status": 404,
    "detail": "no society is served at this address"}, separators=(",", ":")).encode()
HEALTH = b'{"status":"ok"}'
HTML_TARGET = re.compile(rb"""(\s(?:href|src|action|formaction)\s*=\s*)(["'])/(?!/)""",
                         re.IGNORECASE)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Member:
    """A society in the federation: its configuration and its app."""

    config: SocietyConfig
    app: Litestar

    @property
    def asgi(self) -> ASGIApp:
        return cast(ASGIApp, self.app)


class Federation:
    """The ASGI app of a federation: routes each request to one society's app."""

    def __init__(self, members: Sequence[Member]) -> None:
        self.members = tuple(members)
        self._by_name = {member.config.name: member for member in self.members}
        self._by_host = {host: member for member in self.members
                         for host in member.config.hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] not in ("http", "websocket"):  # pragma: no cover - ASGI has no other
            return
        member = self._by_host.get(request_host(scope))
        if member is not None:
            await member.asgi(scope, receive, send)
            return
        root = scope.get("root_path", "")
        path = scope["path"]
        rest = path[len(root):] if root and path.startswith(root) else path
        member = self._by_name.get(society_named(rest) or "")
        if member is None:
            await _refuse(scope, send, health=rest == "/health")
            return
        mount = f"{root}{member.config.prefix}"
        inner = {**scope, "root_path": mount}
        if not path.startswith(root):  # a server that leaves the root path out of `path`
            inner["path"] = f"{root}{path}"
        await member.asgi(inner, receive,
                         prefixed(send, mount, html=scope.get("method") != "HEAD"))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Start every society's app, then stop them all when the server stops."""
        await receive()  # lifespan.startup
        stack = AsyncExitStack()
        try:
            for member in self.members:
                await stack.enter_async_context(member.app.lifespan())
        except Exception as exc:
            await stack.aclose()
            await send({"type": "lifespan.startup.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await stack.aclose()
        except Exception as exc:
            await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})


def request_host(scope: Scope) -> str:
    """The Host header's name: lower-case, without its port or a trailing dot."""
    raw = next((value for name, value in scope.get("headers", []) if name == b"host"), b"")
    host = raw.decode("latin-1").strip().lower()
    if host.startswith("["):  # an IPv6 address: never a society's name
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0].rstrip(".") if ":" in host else host.rstrip(".")


def society_named(path: str) -> str | None:
    """The society a path is under (/s/north or /s/north/...), or None."""
    if not path.startswith(PREFIX):
        return None
    name, _, _ = path[len(PREFIX):].partition("/")
    return name or None


async def _refuse(scope: Scope, send: Send, *, health: bool) -> None:
    """/health, or a 404 problem that does not say which societies there are."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    status, body, kind = ((200, HEALTH, b"application/json") if health
                          else (404, NOT_FOUND, b"application/problem+json"))
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", kind), (b"content-length", str(len(body)).encode()),
        *PROBLEM_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def under(mount: str, target: str) -> str:
    """A root-relative address put under `mount` (left alone when it is under it already,
    absolute, protocol-relative or relative)."""
    if not target.startswith("/") or target.startswith("//") or target == mount \
            or target.startswith(f"{mount}/"):
        return target
    return f"{mount}{target}"


def cookie_under(mount: str, value: str) -> str:
    """A Set-Cookie value whose Path is under `mount` (Path=/counter -> Path=/s/x/counter;
    a cookie without a Path gets the mount's)."""
    parts = value.split(";")
    found = False
    for index, part in enumerate(parts[1:], start=1):
        name, equals, path = part.strip().partition("=")
        if equals and name.lower() == "path":
            parts[index] = f" Path={under(mount, path.strip() or '/').rstrip('/') or '/'}"
            found = True
    return ";".join(parts) if found else f"{value}; Path={mount}"


def html_under(mount: str, body: bytes) -> bytes:
    """HTML whose root-relative link, image, form and button addresses are under `mount`."""
    own = re.escape(mount[1:].encode())
    pattern = re.compile(HTML_TARGET.pattern + rb"(?!" + own + rb"(?:[/\"'?#]))",
                         re.IGNORECASE)
    return pattern.sub(lambda found: found.group(1) + found.group(2) + mount.encode() + b"/",
                       body)


def prefixed(send: Send, mount: str, *, html: bool = True) -> Send:
    """`send` for an app mounted at `mount`: its Location headers, cookie paths and (unless
    `html` is False: a HEAD request's answer has no body) HTML links put under the mount
    (see the module's docstring)."""
    held: list[Message] = []
    chunks: list[bytes] = []

    async def send_under(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [_header_under(mount, name, value)
                       for name, value in message.get("headers", [])]
            message = {**message, "headers": headers}
            if html and _is_html(headers):
                held.append(message)
                return
        elif message["type"] == "http.response.body" and held:
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            start = held.pop()
            body = html_under(mount, b"".join(chunks))
            chunks.clear()
            await send({**start, "headers": [
                (name, str(len(body)).encode() if name.lower() == b"content-length" else value)
                for name, value in start["headers"]]})
            message = {"type": "http.response.body", "body": body, "more_body": False}
        await send(message)

    return send_under


def _header_under(mount: str, name: bytes, value: bytes) -> tuple[bytes, bytes]:
    lowered = name.lower()
    if lowered == b"location":
        return name, under(mount, value.decode("latin-1")).encode("latin-1")
    if lowered == b"set-cookie":
        return name, cookie_under(mount, value.decode("latin-1")).encode("latin-1")
    return name, value


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    kinds = {name.lower(): value.lower() for name, value in headers
             if name.lower() in (b"content-type", b"content-encoding")}
    return kinds.get(b"content-type", b"").startswith(b"text/html") \
        and b"content-encoding" not in kinds


AppBuilder = Callable[[SocietyConfig], Litestar]


def _create(config: SocietyConfig) -> Litestar:
    from coop.api.app import create_app

    return create_app(config.settings)


def create_federation(societies: Sequence[SocietyConfig], *,
                      build: AppBuilder = _create) -> Federation:
    """The federation of these societies, each app built by `build` (tests hand in their own
    password hashing and clock; the default is `create_app(settings)`)."""
    return Federation([Member(config=society, app=build(society)) for society in societies])


def federation_from_file(path: Path, base: Settings) -> Federation:
    return create_federation(load_societies(path, base))


def app_from_env() -> Federation:
    """The federation for each of uvicorn's worker processes (`--workers N`): the societies
    file from COOP_SOCIETIES, everything else from the environment."""
    from coop.api.server import die_with_parent

    die_with_parent()
    return federation_from_file(Path(os.environ["COOP_SOCIETIES"]), Settings.from_env())


__all__ = ["Federation", "Member", "app_from_env", "cookie_under", "create_federation",
           "federation_from_file", "html_under", "prefixed", "request_host", "society_named",
           "under"]
