"""The annual statements (CONTRACT.md, Annual accounts and reports; issue 19): admin, board
and auditor read the balance sheet, income and expenditure, and receipts and payments as
JSON, and each as `.csv`, `.xlsx` and `.pdf` on a path of its own; the member-wise
schedules of savings and share capital the same way, numbers only unless an admin or a
board member asks `names=true` (each name read is logged).

Defaults: `as_of` the business date; a period the current fiscal year to the business date.
A date that is not YYYY-MM-DD, after the business date, or a period that runs backwards is
422. Each path has its own handler (a sync handler registered on several paths answered 500).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter
from sqlalchemy.orm import Session

from coop import statements
from coop.api.deps import AppState, SocietyDep, app_state, currency
from coop.api.schemas.statements import (
    BalanceSheetOut,
    IncomeExpenditureOut,
    ReceiptsPaymentsOut,
    ScheduleOut,
    balance_sheet_out,
    income_expenditure_out,
    receipts_payments_out,
    schedule_out,
)
from coop.api.security import allow, current_principal
from coop.auth import Principal, Role
from coop.i18n import Translator
from coop.members import Reader
from coop.passbooks import accounts
from coop.passbooks.tables import TableDoc
from coop.society import Society

A, B, D = Role.ADMIN, Role.BOARD, Role.AUDITOR
READERS = allow(A, B, D)
AsOf = Annotated[date | None, QueryParameter(description="YYYY-MM-DD; the business date "
                                                         "when not given")]
From = Annotated[date | None, QueryParameter(name="from", description="YYYY-MM-DD; the "
                                             "fiscal year's first day when not given")]
To = Annotated[date | None, QueryParameter(name="to", description="YYYY-MM-DD; the "
                                           "business date when not given")]
WithNames = Annotated[bool, QueryParameter(description="members' known-as names (admin and "
                                           "board only; each read is logged)")]


def day_asked(state: AppState, as_of: date | None) -> date:
    today = state.clock.today()
    day = as_of or today
    statements.check_day(day, today=today)
    return day


def period_asked(state: AppState, society: Society, first: date | None,
                 last: date | None) -> tuple[date, date]:
    today = state.clock.today()
    end = last or today
    statements.check_day(end, today=today, field="to")  # before its fiscal year is sought
    start = first or statements.fiscal_year_of(end, society.fiscal_year_start)[0]
    statements.check_period(start, end, today=today)
    return start, end


def names_for(state: AppState, principal: Principal, names: bool) -> statements.Names | None:
    """Who reads names, when names were asked for (refused, 403, for an auditor)."""
    if not names:
        return None
    return statements.Names(Reader(principal.username, principal.role.value, "schedule"),
                            state.identity_vault(), state.clock)


def read_schedule(state: AppState, society: Society, name: str, day: date,
                  who: statements.Names | None) -> statements.Schedule:
    def work(session: Session) -> statements.Schedule:
        return statements.schedule(session, name, as_of=day,
                                   face_value_minor=society.share_face_value_minor, names=who)

    return state.db.write(work) if who is not None else state.db.read(work)


def file_response(state: AppState, society: Society, fmt: accounts.Format, filename: str,
                  make: Callable[[Translator], list[TableDoc]],
                  charts_through: date | None) -> Response[bytes]:
    """A statement as a file in `fmt`; the PDF with the charts page when `charts_through`."""
    def work(session: Session) -> bytes:
        ctx = accounts.document_context(session, society)
        found = (accounts.gather_charts(session, through=charts_through)
                 if fmt == "pdf" and charts_through is not None else None)
        return accounts.render(fmt, make(ctx.type.tr), ctx, printed_on=state.clock.today(),
                               found=found)

    content = state.db.read(work)
    disposition = "inline" if fmt == "pdf" else "attachment"
    return Response(content, media_type=accounts.MEDIA_TYPES[fmt], headers={
        "Content-Disposition": f'{disposition}; filename="{filename}.{fmt}"'})


# -- JSON -------------------------------------------------------------------------------------


@get("/reports/balance-sheet", opt=READERS, sync_to_thread=True, tags=["reports"])
def balance_sheet(request: Request[Any, Any, Any], society: SocietyDep,
                  as_of: AsOf = None) -> BalanceSheetOut:
    """Assets, liabilities and members' funds at the end of `as_of`, beside the previous
    fiscal year's closing figures; the two totals are always equal."""
    state = app_state(request)
    day = day_asked(state, as_of)
    sheet = state.db.read_report(lambda s: statements.balance_sheet(s, society, as_of=day))
    return balance_sheet_out(sheet, currency(state))


@get("/reports/income-expenditure", opt=READERS, sync_to_thread=True, tags=["reports"])
def income_expenditure(request: Request[Any, Any, Any], society: SocietyDep,
                       first: From = None, last: To = None) -> IncomeExpenditureOut:
    """Income and expenditure from `from` to `to`, beside the same days a year before; the
    year's closing entry is neither."""
    state = app_state(request)
    start, end = period_asked(state, society, first, last)
    account = state.db.read_report(
        lambda s: statements.income_expenditure(s, first=start, last=end))
    return income_expenditure_out(account, currency(state))


@get("/reports/receipts-payments", opt=READERS, sync_to_thread=True, tags=["reports"])
def receipts_payments(request: Request[Any, Any, Any], society: SocietyDep,
                      first: From = None, last: To = None) -> ReceiptsPaymentsOut:
    """Cash (1000 with the tills, and 1010) at the start, receipts and payments by the
    account on the other side, cash at the end."""
    state = app_state(request)
    start, end = period_asked(state, society, first, last)
    account = state.db.read_report(
        lambda s: statements.receipts_payments(s, first=start, last=end))
    return receipts_payments_out(account, currency(state))


def _schedule_json(name: str) -> HTTPRouteHandler:
    def schedule(request: Request[Any, Any, Any], society: SocietyDep, as_of: AsOf = None,
                 names: WithNames = False) -> ScheduleOut:
        state = app_state(request)
        day = day_asked(state, as_of)
        who = names_for(state, current_principal(request), names)
        return schedule_out(read_schedule(state, society, name, day, who), currency(state))

    schedule.__doc__ = (f"Member-wise {name.replace('-', ' ')} at the end of `as_of`, by "
                        "member number; the total is the balance sheet's line.")
    return get(f"/reports/schedules/{name}", opt=READERS, sync_to_thread=True,
               tags=["reports"], name=f"schedule-{name}")(schedule)


# -- files ------------------------------------------------------------------------------------


def _sheet_file(fmt: accounts.Format) -> HTTPRouteHandler:
    def sheet_file(request: Request[Any, Any, Any], society: SocietyDep,
                   as_of: AsOf = None) -> Response[bytes]:
        state = app_state(request)
        day = day_asked(state, as_of)
        sheet = state.db.read(lambda s: statements.balance_sheet(s, society, as_of=day))
        return file_response(state, society, fmt, f"balance-sheet-{day}",
                             lambda tr: [accounts.balance_sheet_doc(sheet, tr, society)], day)

    sheet_file.__doc__ = f"The balance sheet as {fmt.upper()}."
    return get(f"/reports/balance-sheet.{fmt}", opt=READERS, sync_to_thread=True,
               tags=["reports"], media_type=accounts.MEDIA_TYPES[fmt],
               name=f"balance-sheet-{fmt}")(sheet_file)


def _period_file(fmt: accounts.Format, name: str) -> HTTPRouteHandler:
    def period_file(request: Request[Any, Any, Any], society: SocietyDep, first: From = None,
                    last: To = None) -> Response[bytes]:
        state = app_state(request)
        start, end = period_asked(state, society, first, last)
        if name == "income-expenditure":
            found: Any = state.db.read(
                lambda s: statements.income_expenditure(s, first=start, last=end))
            build: Any = accounts.income_expenditure_doc
        else:
            found = state.db.read(lambda s: statements.receipts_payments(s, first=start,
                                                                         last=end))
            build = accounts.receipts_payments_doc
        return file_response(state, society, fmt, f"{name}-{start}-{end}",
                             lambda tr: [build(found, tr, society)], end)

    period_file.__doc__ = f"The {name.replace('-', ' and ')} account as {fmt.upper()}."
    return get(f"/reports/{name}.{fmt}", opt=READERS, sync_to_thread=True, tags=["reports"],
               media_type=accounts.MEDIA_TYPES[fmt], name=f"{name}-{fmt}")(period_file)


def _schedule_file(fmt: accounts.Format, name: str) -> HTTPRouteHandler:
    def schedule_file(request: Request[Any, Any, Any], society: SocietyDep,
                      as_of: AsOf = None, names: WithNames = False) -> Response[bytes]:
        state = app_state(request)
        day = day_asked(state, as_of)
        who = names_for(state, current_principal(request), names)
        found = read_schedule(state, society, name, day, who)
        return file_response(state, society, fmt, f"schedule-{name}-{day}",
                             lambda tr: [accounts.schedule_doc(found, tr, society)], None)

    schedule_file.__doc__ = f"The schedule of {name.replace('-', ' ')} as {fmt.upper()}."
    return get(f"/reports/schedules/{name}.{fmt}", opt=READERS, sync_to_thread=True,
               tags=["reports"], media_type=accounts.MEDIA_TYPES[fmt],
               name=f"schedule-{name}-{fmt}")(schedule_file)


STATEMENT_HANDLERS: list[HTTPRouteHandler] = [
    balance_sheet, income_expenditure, receipts_payments,
    *(_schedule_json(name) for name in statements.SCHEDULES),
    *(_sheet_file(fmt) for fmt in accounts.FORMATS),
    *(_period_file(fmt, name) for fmt in accounts.FORMATS
      for name in ("income-expenditure", "receipts-payments")),
    *(_schedule_file(fmt, name) for fmt in accounts.FORMATS for name in statements.SCHEDULES),
]

__all__ = ["STATEMENT_HANDLERS", "day_asked", "names_for", "period_asked", "read_schedule"]
