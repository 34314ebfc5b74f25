"""Year-end and dividends (CONTRACT.md: Year-end and dividends).

The dividends package works in minor units; `preview_body` and `_declaration` shape its
figures as the contract shows them, money as decimal strings with the currency's digits.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody, PathParameter
from pydantic import Field
from sqlalchemy.orm import Session

from coop import dividends
from coop.api.deps import AppState, app_state, currency, money, parse_money
from coop.api.idempotency import respond
from coop.api.loan_schemas import Rate
from coop.api.schemas import In, MoneyText
from coop.api.security import allow, current_principal
from coop.auth import Role
from coop.dividends.calc import Basis
from coop.ledger import queries
from coop.money import format_minor
from coop.passbooks.dividend_report import summary_pdf
from coop.society import require_society

A, B, C, D = Role.ADMIN, Role.BOARD, Role.CLERK, Role.AUDITOR
FiscalYearName = Annotated[int, PathParameter(ge=1900, le=9998)]


class DividendIn(In):
    dividend_rate: Rate | None = None
    dividend_amount: MoneyText | None = None
    patronage_rebate_percent: Rate | None = None
    basis: Literal["share_days", "months_held", "closing_register"] | None = None


class DeclarationIn(DividendIn):
    resolution: str | None = Field(default=None, min_length=1, max_length=200)


def _request(state: AppState, data: DividendIn) -> dividends.Request:
    return dividends.Request(
        dividend_rate=Decimal(data.dividend_rate) if data.dividend_rate is not None else None,
        dividend_amount=(parse_money(state, data.dividend_amount, field="dividend_amount")
                         if data.dividend_amount is not None else None),
        patronage_rebate_percent=(Decimal(data.patronage_rebate_percent)
                                  if data.patronage_rebate_percent is not None else None),
        basis=Basis(data.basis) if data.basis else None)


def preview_body(preview: dividends.Preview, currency: str) -> dict[str, Any]:
    """The preview as CONTRACT.md shapes it: money as decimal strings."""
    def m(amount: int) -> str:
        return format_minor(amount, currency)

    return {
        "fiscal_year": preview.fiscal_year,
        "net_surplus": m(preview.net_surplus),
        "appropriations": [{"fund": a.fund, "account": a.account, "percent": str(a.percent),
                            "amount": m(a.amount)} for a in preview.appropriations],
        "distributable": m(preview.distributable),
        "dividend": {"rate": str(preview.rate), "basis": preview.basis.value,
                     "pool": m(preview.pool), "allocated": m(preview.allocated),
                     "residue": m(preview.residue)},
        "rebate": {"percent": str(preview.rebate_percent), "pool": m(preview.rebate_pool),
                   "allocated": m(preview.rebate_allocated),
                   "residue": m(preview.rebate_residue)},
        "undistributed": m(preview.undistributed),
        "allocations": [{"member_code": s.member_code, "basis_value": m(s.basis_value),
                         "dividend": m(s.dividend), "rebate": m(s.rebate), "total": m(s.total)}
                        for s in preview.members],
    }


def _keys_sorted(value: Any) -> Any:
    """A declaration has always been answered with its preview's keys sorted (the preview
    used to be stored that way): keep its bytes as they were."""
    if isinstance(value, dict):
        return {key: _keys_sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_keys_sorted(item) for item in value]
    return value


def _declaration(declared: dividends.Declaration, currency: str) -> dict[str, Any]:
    return {**_keys_sorted(preview_body(declared.preview, currency)),
            "status": declared.status, "resolution": declared.resolution,
            "appropriation_entry_id": declared.appropriation_entry_id,
            "cancellation_entry_id": declared.cancellation_entry_id,
            "payment_entries": declared.payment_entries,
            "declared_at": declared.declared_at.isoformat().replace("+00:00", "Z"),
            "paid_at": (declared.paid_at.isoformat().replace("+00:00", "Z")
                        if declared.paid_at else None)}


def _year(state: AppState, closed: dividends.YearClose) -> dict[str, Any]:
    return {"fiscal_year": closed.fiscal_year, "start": closed.start.isoformat(),
            "end": closed.end.isoformat(), "net_surplus": money(state, closed.net_surplus_minor),
            "closing_entry_id": closed.closing_entry_id,
            "chain_head": {"seq": closed.chain_head_seq, "hash": closed.chain_head_hash}}


class YearsController(Controller):
    path = "/years"
    tags = ("year-end",)

    @post("/{fy:int}/close", opt=allow(A), sync_to_thread=True)
    def close(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> Response[Any]:
        """Close the fiscal year: income and expense to 3900 on its last day; lock it."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> dict[str, Any]:
            closed = dividends.close_year(session, fy, society=require_society(session),
                                          actor=principal.username, clock=state.clock)
            return _year(state, closed)

        return respond(request, principal, None, work)

    @get("/{fy:int}", opt=allow(A, B, D), sync_to_thread=True)
    def detail(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> dict[str, Any]:
        """A closed year: its net surplus, closing entry and the chain head at closing."""
        state = app_state(request)
        return _year(state, state.db.read(lambda s: dividends.get_close(s, fy)))


class DividendsController(Controller):
    path = "/dividends"
    tags = ("year-end",)

    @post("/{fy:int}/preview", opt=allow(A, B, D), sync_to_thread=True, status_code=200)
    def preview(self, request: Request[Any, Any, Any], fy: FiscalYearName,
                data: JSONBody[DividendIn]) -> dict[str, Any]:
        """The appropriation, the pool and every member's share: nothing is written, and the
        same request always gives the same answer."""
        state = app_state(request)
        wanted = _request(state, data)

        def read(session: Session) -> dict[str, Any]:
            result = dividends.preview(session, fy, wanted, society=require_society(session))
            return preview_body(result, currency(state))

        return state.db.read(read)

    @post("/{fy:int}/declaration", opt=allow(B), sync_to_thread=True)
    def declare(self, request: Request[Any, Any, Any], fy: FiscalYearName,
                data: JSONBody[DeclarationIn]) -> Response[Any]:
        """The board declares the dividend: the appropriation is posted (2100 payable)."""
        state = app_state(request)
        principal = current_principal(request)
        wanted = _request(state, data)

        def work(session: Session) -> dict[str, Any]:
            declared = dividends.declare_dividend(
                session, fy, wanted, society=require_society(session),
                resolution=data.resolution, actor=principal.username, clock=state.clock)
            return _declaration(declared, currency(state))

        return respond(request, principal, data, work)

    @post("/{fy:int}/payment", opt=allow(A, C), sync_to_thread=True)
    def pay(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> Response[Any]:
        """Credit every active member's dividend and rebate to her savings."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> dict[str, Any]:
            paid = dividends.pay_dividend(session, fy, actor=principal.username,
                                          clock=state.clock)
            return {"fiscal_year": fy, "status": paid.status, "entries": paid.payment_entries}

        return respond(request, principal, None, work)

    @post("/{fy:int}/cancellation", opt=allow(B), sync_to_thread=True)
    def cancel(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> Response[Any]:
        """Cancel a declared, unpaid dividend (one entry undoes the appropriation)."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> dict[str, Any]:
            cancelled = dividends.cancel_dividend(session, fy, actor=principal.username,
                                                  clock=state.clock)
            return {"fiscal_year": fy, "status": cancelled.status,
                    "cancellation_entry_id": cancelled.cancellation_entry_id}

        return respond(request, principal, None, work)

    @get("/{fy:int}", opt=allow(A, B, D), sync_to_thread=True)
    def detail(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> dict[str, Any]:
        """The declaration with its status (declared, paid or cancelled)."""
        state = app_state(request)
        return state.db.read(lambda s: _declaration(dividends.get_declaration(s, fy),
                                                    currency(state)))

    @get("/{fy:int}/report.pdf", opt=allow(A, B, D), sync_to_thread=True,
         media_type="application/pdf")
    def report_pdf(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> Response[bytes]:
        """The auditor's one-page summary: surplus, appropriation, rate, pool, residue,
        totals and the chain head when printed."""
        state = app_state(request)

        def read(session: Session) -> bytes:
            society = require_society(session)
            declared = dividends.get_declaration(session, fy)
            book = queries.book(session)
            return summary_pdf(declared.preview, society_name=society.name,
                               currency=society.currency, locale=society.locale,
                               status=declared.status,
                               chain_head=(book.head_seq, book.head_hash) if book else (0, ""))

        content = state.db.read(read)
        return Response(content, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="dividends-{fy}.pdf"'})

    @get("/{fy:int}/report.csv", opt=allow(A, B, D), sync_to_thread=True,
         media_type="text/csv")
    def report(self, request: Request[Any, Any, Any], fy: FiscalYearName) -> Response[str]:
        """One row per member: member_code, basis_value, dividend, rebate, total."""
        state = app_state(request)
        text = state.db.read(lambda s: dividends.report_csv(s, fy))
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="dividends-{fy}.csv"'})
