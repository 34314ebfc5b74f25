"""The board's meeting pack (CONTRACT.md: GET /reports/board-pack.pdf?month=YYYY-MM, admin
and board): the month's members, money, loans, arrears, PAR30 over twelve months as a chart,
cash and bank, and the votes taken, as a PDF in the society's language."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter

from coop.api.deps import SocietyDep, app_state
from coop.api.security import allow
from coop.auth import Role
from coop.passbooks.board_figures import gather, parse_month
from coop.passbooks.board_pack import board_pack_pdf

A, B = Role.ADMIN, Role.BOARD
MonthText = Annotated[str | None, QueryParameter(max_length=16, description="YYYY-MM")]


class BoardPackController(Controller):
    path = "/reports"
    tags = ("reports",)

    @get("/board-pack.pdf", opt=allow(A, B), sync_to_thread=True, media_type="application/pdf")
    def board_pack(self, request: Request[Any, Any, Any], society: SocietyDep,
                   month: MonthText = None) -> Response[bytes]:
        """The month's pack; a month not over yet is shown to the business date. A month
        that is not YYYY-MM, or has not begun, is 422 naming `month`."""
        state = app_state(request)
        today = state.clock.today()
        wanted = parse_month(month, today=today)
        pack = state.db.read(lambda s: gather(s, wanted, today=today))
        return Response(board_pack_pdf(pack, society), media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="board-pack-{wanted.name}.pdf"'})


__all__ = ["BoardPackController"]
