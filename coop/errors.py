"""Errors: operating errors a user can cause, and programmer errors that must never happen.

An *operating error* is a `CoopError` subclass with a stable snake_case `code`. The API turns it
into an RFC 9457 problem whose `type` ends with that code; its `kind` picks the status
(``invalid`` 422, ``conflict`` 409, ``not_found`` 404, ``forbidden`` 403, ``unauthorized`` 401,
``too_many`` 429, ``unavailable`` 503).

A *programmer error* is a failed `require()`: an `InvariantViolation`, rolled back, logged, 500.
`require` is used instead of `assert` because `python -O` strips asserts.
"""

from __future__ import annotations

from typing import ClassVar, Literal

ErrorKind = Literal[
    "invalid", "conflict", "not_found", "forbidden", "unauthorized", "too_many", "unavailable"
]


class CoopError(Exception):
    """An operating error: bad input or a business rule said no. Nothing was changed."""

    code: ClassVar[str] = "coop_error"
    kind: ClassVar[ErrorKind] = "invalid"
    title: ClassVar[str] = "Request refused"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(CoopError):
    code = "invalid_input"
    title = "Invalid input"


class NotFound(CoopError):
    code = "not_found"
    kind = "not_found"
    title = "Not found"


class Conflict(CoopError):
    code = "conflict"
    kind = "conflict"
    title = "Conflict with the current state"


class Forbidden(CoopError):
    code = "forbidden"
    kind = "forbidden"
    title = "Not allowed"


class InvariantViolation(RuntimeError):
    """A condition the code guarantees did not hold: a bug, never a user's mistake."""


def require(condition: bool, why: str) -> None:
    """Check a pre- or postcondition; raise `InvariantViolation` when it does not hold."""
    if not condition:
        raise InvariantViolation(why)
