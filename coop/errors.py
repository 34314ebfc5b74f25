"""Errors: operating errors a user can cause, and programmer errors that must never happen.

An *operating error* is a `CoopError` subclass with a stable snake_case `code`. The API turns it
into an RFC 9457 problem whose `type` ends with that code; its `kind` picks the status
(``invalid`` 422, ``conflict`` 409, ``not_found`` 404, ``forbidden`` 403, ``unauthorized`` 401,
``too_many`` 429, ``unavailable`` 503).

A *programmer error* is a failed `require()`: an `InvariantViolation`, rolled back, logged, 500.
`require` is used instead of `assert` because `python -O` strips asserts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal, Self

ErrorKind = Literal[
    "invalid", "conflict", "not_found", "forbidden", "unauthorized", "too_many", "unavailable"
]


class CoopError(Exception):
    """An operating error: bad input or a business rule said no. Nothing was changed."""

    code: ClassVar[str] = "coop_error"
    kind: ClassVar[ErrorKind] = "invalid"
    title: ClassVar[str] = "Request refused"

    template: str | None = None
    figures: Mapping[str, object] = {}

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field

    @classmethod
    def said(cls, template: str, *, field: str | None = None, **figures: object) -> Self:
        """A refusal whose words can be translated: `template` is the English sentence with
        `{name}` places (it is the msgid in the catalogue), `figures` fill them. The API's
        `detail` is the English sentence with each figure as `str()` gives it (an `Amount`
        as "250.00"); the counter translates the template and shows each figure for people
        (an `Amount` with the currency symbol and the locale's grouping, a date as the locale
        writes it). A plain `CoopError("...")` with no figures is translated by its detail."""
        detail = template.format(**{k: str(v) for k, v in figures.items()})
        error = cls(detail) if field is None else cls(detail, field=field)
        error.template, error.figures = template, dict(figures)
        return error

    @property
    def msgid(self) -> str:
        """The catalogue key of these words: the template, or the detail itself."""
        return self.template if self.template is not None else self.detail


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
