"""One exception-to-problem mapper: every error leaves as RFC 9457 application/problem+json.

`type` is `urn:coop:problem:<code>` with a stable code per domain error (e.g.
`urn:coop:problem:insufficient-funds`); `errors` lists field problems. Nothing internal ever
leaves: no stack trace, SQL, table or class name. Unexpected exceptions are logged with a
correlation id, which the 500 response carries as `instance`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    ValidationException,
)
from sqlalchemy.exc import DataError, OperationalError

from coop.errors import CoopError

log = logging.getLogger("coop.api")

PROBLEM_JSON = "application/problem+json"
STATUS_BY_KIND = {
    "invalid": 422,
    "conflict": 409,
    "not_found": 404,
    "forbidden": 403,
    "unauthorized": 401,
    "too_many": 429,
    "unavailable": 503,
}
TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict with the current state",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status: int,
    code: str,
    *,
    title: str | None = None,
    detail: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"urn:coop:problem:{code.replace('_', '-')}",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail or title or TITLES.get(status, "Error"),
    }
    if errors:
        body["errors"] = errors
    if instance:
        body["instance"] = instance
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON,
                    headers=headers or {})


def coop_error(_: Request[Any, Any, Any], exc: CoopError) -> Response[dict[str, Any]]:
    status = STATUS_BY_KIND[exc.kind]
    errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:  # a lost database (coop.db_failover): when to send it again
        headers = {"Retry-After": str(retry_after)}
    return problem(status, exc.code, title=exc.title, detail=exc.detail, errors=errors,
                   headers=headers)


def _field_of(item: dict[str, Any]) -> str:
    key = str(item.get("key") or "")
    return key or str(item.get("source") or "body")


def validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        {"field": _field_of(item), "message": str(item.get("message", "invalid"))}
        for item in extra if isinstance(item, dict)
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or str(exc.detail)
    return problem(422, "validation_failed", title="Invalid input", detail=detail[:500],
                   errors=errors or [{"field": "body", "message": str(exc.detail)[:200]}])


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status == 400:  # malformed JSON and the like: invalid input, as the contract says
        return problem(422, "malformed_request", title="Invalid input",
                       detail="the request body is not valid JSON of the expected shape")
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException) or status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    code = {401: "not_authenticated", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed", 429: "too_many_requests"}.get(status, f"http_{status}")
    detail = exc.detail if status in (401, 403) and exc.detail else TITLES.get(status)
    return problem(status, code, detail=detail, headers=headers)


def database_unavailable(_: Request[Any, Any, Any], exc: OperationalError) -> Response[Any]:
    reference = uuid.uuid4().hex[:12]
    log.error("database unavailable [%s]: %s", reference, exc.orig)
    return problem(503, "database_unavailable", title="The books are unavailable",
                   detail="the database cannot take this request now; nothing was changed",
                   instance=f"urn:coop:incident:{reference}", headers={"Retry-After": "5"})


def unstorable(_: Request[Any, Any, Any], exc: DataError) -> Response[Any]:
    """A value the database refuses as data (PostgreSQL: a NUL byte in text, a number out of
    range): the request's doing, refused as input; the transaction rolled back whole."""
    log.info("refused a value the database cannot hold: %s", type(exc.orig).__name__)
    return problem(422, "invalid_input", title="Invalid input",
                   detail="a value in this request cannot be stored or searched for "
                          "(a NUL character, or a number out of range)")


def too_deep(_: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    """JSON nested so deeply that decoding it runs out of stack (the review sent 1,000
    levels to the login): refused as input, never a 500. Nothing in the services recurses,
    so this is the request's doing."""
    return problem(422, "malformed_request", title="Invalid input",
                   detail="the request body is nested too deeply")


def require_json(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """A before-request hook on the JSON API: a body that is not `application/json` (text,
    a form, XML) is 415 before anything reads it, whatever it looks like inside."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    headers = request.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return None
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or (
            media_type.startswith("application/") and media_type.endswith("+json")):
        return None
    return problem(415, "unsupported_media_type", title="Unsupported media type",
                   detail="send the body as JSON with Content-Type: application/json")


def internal_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    reference = uuid.uuid4().hex[:12]
    log.exception("unexpected error [%s]", reference, exc_info=exc)
    return problem(500, "internal_error", title="Internal error",
                   detail="something went wrong on our side; nothing was changed",
                   instance=f"urn:coop:incident:{reference}")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    CoopError: coop_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    OperationalError: database_unavailable,
    DataError: unstorable,
    RecursionError: too_deep,
    Exception: internal_error,
}
