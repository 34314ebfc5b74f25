"""Year-end: closing the fiscal year, appropriating the surplus, and the dividend on shares
with an optional patronage rebate, from preview to payment (DESIGN.md §8, CONTRACT.md
Year-end and dividends).

* `calc`: the pure arithmetic (fiscal years, bases, `distribution` with every rounding).
* `year_end`: closing a year (`close_year`, `get_close`).
* `previews`: the distribution for a request, and its stored form in minor units.
* `declarations`: `declare_dividend`, `vote_on_declaration`, `pay_dividend`,
  `cancel_dividend`, `get_declaration`.
* `report`: the auditor's CSV.
* `orm`, `errors`: the package's tables and refusals.

This module only re-exports.
"""

from coop.dividends.calc import Basis, FiscalYear
from coop.dividends.declarations import (
    Declaration,
    Resolution,
    Voter,
    cancel_dividend,
    check_resolution,
    declaration_votes,
    declare_dividend,
    get_declaration,
    pay_dividend,
    vote_on_declaration,
)
from coop.dividends.errors import (
    AboveCap,
    DividendStateConflict,
    PreviewChanged,
    YearClosedAlready,
    YearNotClosed,
)
from coop.dividends.orm import DeclarationRow, YearCloseRow
from coop.dividends.previews import MemberShare, Preview, Request, preview, preview_digest
from coop.dividends.report import preview_csv, report_csv
from coop.dividends.year_end import YearClose, close_year, closed_years, get_close

__all__ = [
    "AboveCap",
    "Basis",
    "Declaration",
    "DeclarationRow",
    "DividendStateConflict",
    "FiscalYear",
    "MemberShare",
    "Preview",
    "PreviewChanged",
    "Request",
    "Resolution",
    "Voter",
    "YearClose",
    "YearCloseRow",
    "YearClosedAlready",
    "YearNotClosed",
    "cancel_dividend",
    "check_resolution",
    "close_year",
    "closed_years",
    "declaration_votes",
    "declare_dividend",
    "get_close",
    "get_declaration",
    "pay_dividend",
    "preview",
    "preview_csv",
    "preview_digest",
    "report_csv",
    "vote_on_declaration",
]
