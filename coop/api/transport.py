"""Plain HTTP is for the machine itself only.

A counter on the office network that speaks plain HTTP sends the clerk's password and the
session cookie in the clear to anyone on the network. So, when `coop serve` runs (it sets
COOP_HTTPS_ONLY unless told 0), a request that came over plain HTTP from any client but
loopback is refused before anything else looks at it: the counter pages answer a page in the
society's language saying which https:// address to use, the API a 403 problem
(`urn:coop:problem:https-required`). /health stays open (monitoring probes).

"Came over HTTPS" is the ASGI scope's scheme: uvicorn's own TLS (`--tls-cert`), or behind a
proxy in COOP_TRUSTED_PROXIES its X-Forwarded-Proto, which uvicorn puts into the scope (and
its X-Forwarded-For into the client address). A proxy that forwards plain HTTP from another
machine is refused like that machine.

We refuse rather than redirect: the server does not know where its HTTPS lives (its own TLS
port, or a proxy's 443), and a redirect of a form's POST would have sent the password already.
The page names https://<the host the browser used>/, the usual proxy address.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Template

from coop.api.counter.web import page
from coop.api.deps import AppState
from coop.api.problems import problem
from coop.api.security import is_counter
from coop.api.server import is_loopback

OPEN_PATHS = frozenset({"/health"})


class HttpsRequired(PermissionDeniedException):
    """Plain HTTP from another machine."""


def https_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """https:// with the host the browser asked for (without its plain-HTTP port) and the
    page's path (under the app's root path: a society's /s/<name> in a federation)."""
    host = connection.headers.get("host", "") or "this-server"
    if host.startswith("["):
        name = host[:host.index("]") + 1] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0]
    scope = connection.scope
    return f"https://{name}{scope.get('root_path', '')}{scope['path']}"


async def https_only(connection: ASGIConnection[Any, Any, Any, Any],
                     _: BaseRouteHandler) -> None:
    """An app-level guard, first of all: refuse plain HTTP from anything but loopback."""
    state: AppState = connection.app.state.coop
    scope = connection.scope
    if not state.settings.https_only or scope["path"] in OPEN_PATHS:
        return
    if scope.get("scheme") in ("https", "wss"):
        return
    client = scope.get("client")
    if is_loopback(client[0] if client else None):
        return
    raise HttpsRequired(detail=https_address(connection))


def https_required(request: Request[Any, Any, Any], error: HttpsRequired) -> Response[Any]:
    address = str(error.detail)
    if is_counter(request.scope["path"]):
        view = page(request, anonymous=True)
        message = view.tr("This counter works only over a secure connection, so that "
                          "passwords and members' details cannot be read on the network. "
                          "Open {address} instead. If that does not open, ask whoever looks "
                          "after the server.").format(address=address)
        return Template("message.html", status_code=403, context=view.context(
            title=view.tr("Use the secure address"), message=message))
    return problem(403, "https_required", title="HTTPS required",
                   detail=f"this server answers plain HTTP only from the machine itself: use "
                          f"{address}")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {HttpsRequired: https_required}
