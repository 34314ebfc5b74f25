"""The board's meeting pack as a counter page (admin, board; issue 18): the month asked for
(the business date's month unless another is chosen), its figures as `board_figures` reads
them, PAR30 over twelve months as an inline SVG chart drawn from the same geometry as the
PDF's (no script: the strict CSP stands; the SVG uses presentation attributes, never a style
attribute) with the figures in a table under it, and the PDF to print for the meeting."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery
from litestar.response import Template

from coop.api.counter.clerk import CounterController
from coop.api.counter.web import field_errors, page
from coop.api.deps import app_state
from coop.api.security import allow
from coop.auth import Role
from coop.errors import CoopError
from coop.passbooks import charts
from coop.passbooks.board_figures import gather, parse_month
from coop.passbooks.board_pack import board_pack_pdf

A, B = Role.ADMIN, Role.BOARD
CHART_WIDTH, CHART_HEIGHT, CHART_TEXT = 480, 260, 17


class BoardPackPages(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/board-pack", opt=allow(A, B), sync_to_thread=True)
    def board_pack(self, request: Request[Any, Any, Any],
                   month: FromQuery[str | None] = None) -> Template:
        view, state = page(request), app_state(request)
        today = state.clock.today()
        asked = month if month else f"{today.year:04d}-{today.month:02d}"
        try:
            wanted = parse_month(asked, today=today)
        except CoopError as error:
            view.errors = field_errors(error, "month")
            return Template("board_pack.html", status_code=422,
                            context=view.context(asked=asked, pack=None, chart=None))
        pack = state.db.read(lambda s: gather(s, wanted, today=today))
        chart = charts.bar_chart([(m.month, m.par30) for m in pack.par], width=CHART_WIDTH,
                                 height=CHART_HEIGHT, text=CHART_TEXT)
        return Template("board_pack.html", context=view.context(
            asked=wanted.name, pack=pack, chart=chart))

    @get("/board-pack.pdf", opt=allow(A, B), sync_to_thread=True)
    def board_pack_pdf(self, request: Request[Any, Any, Any],
                       month: FromQuery[str | None] = None) -> Response[bytes]:
        """The pack to print (a bad month is a page in words, as every counter refusal)."""
        view, state = page(request), app_state(request)
        today = state.clock.today()
        wanted = parse_month(month, today=today)
        pack = state.db.read(lambda s: gather(s, wanted, today=today))
        return Response(board_pack_pdf(pack, view.society), media_type="application/pdf",
                        headers={"Content-Disposition":
                                 f'inline; filename="board-pack-{wanted.name}.pdf"'})


BoardPackPages.exception_handlers = CounterController.exception_handlers

__all__ = ["BoardPackPages"]
