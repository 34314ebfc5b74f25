"""The Accounts page (issue 19; admin, board and auditor): the balance sheet at a chosen day
beside the previous year's close, income and expenditure and receipts and payments for a
chosen period beside the same days a year before, links to each as CSV, XLSX and PDF and to
the schedules of savings and share capital, and the charts of the twelve months to the day
as inline SVG (no script: the strict CSP stands), drawn from the same geometry as the PDF's.

The files are served under the counter (its session cookie, not a bearer token) by one
handler, `/counter/accounts/files/{file}` ("balance-sheet.pdf", "schedule-savings.csv"...).
A bad day or period is the page again with the refusal beside its field (422).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery, PathParameter, QueryParameter
from litestar.response import Template

from coop import statements
from coop.api.controllers.statements import (
    day_asked,
    file_response,
    names_for,
    period_asked,
    read_schedule,
)
from coop.api.counter.clerk import CounterController
from coop.api.counter.web import Page, field_errors, page
from coop.api.deps import AppState, app_state
from coop.api.security import allow, current_principal
from coop.auth import Role
from coop.errors import CoopError, InvalidInput
from coop.passbooks import accounts

A, B, D = Role.ADMIN, Role.BOARD, Role.AUDITOR
CHART_WIDTH, CHART_HEIGHT, CHART_TEXT = 480, 260, 15
FileName = Annotated[str, PathParameter(max_length=64)]
DayFrom = Annotated[str | None, QueryParameter(name="from", max_length=32)]
DayTo = Annotated[str | None, QueryParameter(name="to", max_length=32)]
STATEMENT_FILES = ("balance-sheet", "income-expenditure", "receipts-payments")
SCHEDULE_FILES = ("schedule-savings", "schedule-share-capital")


def parse_day(text: str | None, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput.said(
            "{text} is not a date: write the year, month and day, as 2025-03-31", text=text,
            field=field) from None


@dataclass(frozen=True)
class Asked:
    as_of: date
    first: date
    last: date

    def query(self) -> str:
        return f"as_of={self.as_of}&from={self.first}&to={self.last}"


def asked(state: AppState, view: Page, as_of: str | None, first: str | None,
          last: str | None) -> Asked:
    day = day_asked(state, parse_day(as_of, "as_of"))
    start, end = period_asked(state, view.society, parse_day(first, "from"),
                              parse_day(last, "to"))
    return Asked(day, start, end)


class AccountsPages(Controller):
    path = "/counter/accounts"
    include_in_schema = False

    @get("/", opt=allow(A, B, D), sync_to_thread=True)
    def accounts_page(self, request: Request[Any, Any, Any],
                      as_of: FromQuery[str | None] = None,
                      first: DayFrom = None, last: DayTo = None) -> Template:
        view, state = page(request), app_state(request)
        shown = {"as_of": as_of or "", "from": first or "", "to": last or ""}
        try:
            wanted = asked(state, view, as_of, first, last)
        except CoopError as error:
            view.errors = field_errors(error, "as_of")
            return Template("accounts.html", status_code=422,
                            context=view.context(shown=shown, wanted=None))
        society = view.society

        def read(session: Any) -> dict[str, Any]:
            found = accounts.gather_charts(session, through=wanted.as_of)
            return {
                "sheet": statements.balance_sheet(session, society, as_of=wanted.as_of),
                "income": statements.income_expenditure(session, first=wanted.first,
                                                        last=wanted.last),
                "cash": statements.receipts_payments(session, first=wanted.first,
                                                     last=wanted.last),
                "charts": accounts.chart_views(found, view.tr, society.currency,
                                               width=CHART_WIDTH, height=CHART_HEIGHT,
                                               text=CHART_TEXT)}

        figures = state.db.read(read)
        shown = {"as_of": str(wanted.as_of), "from": str(wanted.first),
                 "to": str(wanted.last)}
        return Template("accounts.html", context=view.context(
            shown=shown, wanted=wanted, names=current_principal(request).role in (A, B),
            account=lambda code, name: accounts.account_words(view.tr, code, name),
            files=STATEMENT_FILES, schedules=SCHEDULE_FILES, **figures))

    @get("/files/{file:str}", opt=allow(A, B, D), sync_to_thread=True)
    def accounts_file(self, request: Request[Any, Any, Any], file: FileName,
                      as_of: FromQuery[str | None] = None, first: DayFrom = None,
                      last: DayTo = None, names: FromQuery[bool] = False) -> Response[bytes]:
        """A statement or schedule as CSV, XLSX or PDF (a refusal is a page in words)."""
        view, state = page(request), app_state(request)
        stem, _, fmt = file.rpartition(".")
        if fmt not in accounts.FORMATS or stem not in STATEMENT_FILES + SCHEDULE_FILES:
            raise NotFoundException()
        kind: accounts.Format = fmt  # one of FORMATS: checked just above
        wanted = asked(state, view, as_of, first, last)
        society = view.society
        if stem in SCHEDULE_FILES:
            name = stem.removeprefix("schedule-")
            who = names_for(state, current_principal(request), names)
            found = read_schedule(state, society, name, wanted.as_of, who)
            return file_response(state, society, kind, f"{stem}-{wanted.as_of}",
                                 lambda tr: [accounts.schedule_doc(found, tr, society)], None)

        first_day, last_day = wanted.first, wanted.last
        if stem == "balance-sheet":
            sheet = state.db.read(lambda s: statements.balance_sheet(s, society,
                                                                     as_of=wanted.as_of))
            return file_response(state, society, kind, f"{stem}-{wanted.as_of}",
                                 lambda tr: [accounts.balance_sheet_doc(sheet, tr, society)],
                                 wanted.as_of)
        if stem == "income-expenditure":
            account = state.db.read(lambda s: statements.income_expenditure(
                s, first=first_day, last=last_day))
            return file_response(state, society, kind, f"{stem}-{first_day}-{last_day}",
                                 lambda tr: [accounts.income_expenditure_doc(account, tr,
                                                                             society)],
                                 last_day)
        cash = state.db.read(lambda s: statements.receipts_payments(s, first=first_day,
                                                                    last=last_day))
        return file_response(state, society, kind, f"{stem}-{first_day}-{last_day}",
                             lambda tr: [accounts.receipts_payments_doc(cash, tr, society)],
                             last_day)


AccountsPages.exception_handlers = CounterController.exception_handlers

__all__ = ["AccountsPages"]
