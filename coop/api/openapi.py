"""Finishing the OpenAPI document so it says what the app does.

Litestar documents only the success response (and a 400 the app never sends: malformed and
invalid input are 422 here). This adds the problem+json responses each operation can give,
and `additionalProperties: false` to request bodies, which refuse unknown fields.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Reference, Schema

from coop.api.schemas import In

PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "instance": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={"field": Schema(type=OpenAPIType.STRING),
                            "message": Schema(type=OpenAPIType.STRING)},
            ),
        ),
    },
)
DESCRIPTIONS = {
    401: "Not authenticated: no, unknown, expired or revoked token",
    403: "Your role may not do this",
    404: "Not found, or not yours",
    409: "Conflict with the current state",
    422: "Invalid input or a business rule said no",
    429: "Too many failed logins",
    500: "Internal error (nothing was changed)",
    503: "The database cannot take the request now (nothing was changed)",
}
LOGIN = ("/api/v1/auth/token", "post")


def _statuses(path: str, method: str) -> list[int]:
    if (path, method) == LOGIN:
        return [401, 422, 429, 500, 503]
    return [401, 403, 404, 409, 422, 500, 503]


def document_problems(app: Litestar) -> None:
    """Add the error responses and closed request bodies to the app's OpenAPI document."""
    schema = app.openapi_schema
    components = schema.components
    if components.schemas is None:
        components.schemas = {}
    components.schemas["Problem"] = PROBLEM_SCHEMA
    problem = Reference(ref="#/components/schemas/Problem")
    for path, item in (schema.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation: Any = getattr(item, method, None)
            if operation is None or not path.startswith("/api/"):
                continue
            responses = operation.responses or {}
            responses.pop("400", None)
            for status in _statuses(path, method):
                responses.setdefault(str(status), OpenAPIResponse(
                    description=DESCRIPTIONS[status],
                    content={"application/problem+json": OpenAPIMediaType(schema=problem)},
                ))
            operation.responses = responses
    closed = {cls.__name__ for cls in _subclasses(In)}
    for name, component in components.schemas.items():
        if name in closed and isinstance(component, Schema):
            component.additional_properties = False


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    sub: type
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found
