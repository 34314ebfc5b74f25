"""The ways a year-end or dividend request can be refused (CONTRACT.md: Year-end and
dividends). Each is a coded `CoopError`: 409 for the state of the year, 422 for the input."""

from __future__ import annotations

from coop.errors import Conflict, InvalidInput


class YearNotClosed(Conflict):
    code = "year_not_closed"
    title = "The fiscal year has not been closed"


class YearClosedAlready(Conflict):
    code = "year_closed_already"
    title = "The fiscal year is closed already"


class DividendStateConflict(Conflict):
    code = "dividend_state_conflict"
    title = "The dividend is not in a state that allows this"


class AboveCap(InvalidInput):
    code = "dividend_above_cap"
    title = "The dividend is above what may be paid"


class PreviewChanged(Conflict):
    code = "preview_changed"
    title = "The figures are not those of the preview"
