"""A member's papers from the counter: her share certificate and her dividend statement of a
year, as PDFs in her language, for her own login (her own only) and for the clerk who prints
them for her. Her passbook, receipts and loan cards are in coop.api.counter.clerk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from sqlalchemy.orm import Session

from coop.api.counter.clerk import CounterController
from coop.api.counter.web import FiscalYearName, page
from coop.api.deps import app_state
from coop.api.security import allow, own_member_or_404
from coop.auth import Role
from coop.errors import NotFound
from coop.passbooks.dividend_statement import dividend_statement
from coop.passbooks.documents import share_certificate

A, C, M = Role.ADMIN, Role.CLERK, Role.MEMBER
Code = FromPath[str]


class PapersPages(Controller):
    path = "/counter/members"
    include_in_schema = False
    exception_handlers = CounterController.exception_handlers

    @get("/{code:str}/share-certificate.pdf", opt=allow(A, C, M), sync_to_thread=True)
    def share_certificate(self, request: Request[Any, Any, Any],
                          code: Code) -> Response[bytes]:
        """Her share certificate as of today."""
        return _pdf(request, code, f"shares-{code}.pdf",
                    lambda s, today: share_certificate(s, code, printed_on=today))

    @get("/{code:str}/dividends/{fy:int}/statement.pdf", opt=allow(A, C, M),
         sync_to_thread=True)
    def dividend_statement(self, request: Request[Any, Any, Any], code: Code,
                           fy: FiscalYearName) -> Response[bytes]:
        """Her dividend and rebate of fiscal year `fy` (404 if she had none)."""
        return _pdf(request, code, f"dividend-{fy}-{code}.pdf",
                    lambda s, today: dividend_statement(s, fy, code, printed_on=today))


def _pdf(request: Request[Any, Any, Any], code: str, filename: str,
         make: Callable[[Session, date], bytes]) -> Response[bytes]:
    view, state = page(request), app_state(request)
    assert view.principal is not None
    own_member_or_404(view.principal, code)
    try:
        content = state.db.read(lambda s: make(s, state.clock.today()))
    except NotFound as error:
        raise NotFoundException() from error
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"})


__all__ = ["PapersPages"]
