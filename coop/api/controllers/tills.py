"""Tills (CONTRACT.md: Tills): open a till with a float, see it, count and close it, approve
its difference; and the day's tills with the cash that should be in the safe."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody, PathParameter, QueryParameter
from sqlalchemy.orm import Session

from coop import tills
from coop.api.deps import app_state, currency
from coop.api.idempotency import respond
from coop.api.schemas.common import money
from coop.api.schemas.tills import (
    TillClosedOut,
    TillCloseIn,
    TillDayOut,
    TillIn,
    TillOpenedOut,
    TillOut,
    VarianceApprovedOut,
    till_closed_out,
    till_opened_out,
    till_out,
)
from coop.api.security import allow, current_principal
from coop.auth import Principal, Role
from coop.errors import Forbidden
from coop.money import parse_minor

A, B, C, D = Role.ADMIN, Role.BOARD, Role.CLERK, Role.AUDITOR
TillId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]


class NotYourTill(Forbidden):
    code = "not_your_till"
    title = "Only the till's user or an admin closes it"


def _own_or_404(principal: Principal, till: tills.Till) -> None:
    """A clerk sees only her own tills (another's is as if it were not there)."""
    if principal.role is Role.CLERK and till.username != principal.username:
        raise NotFoundException()


class TillsController(Controller):
    path = "/tills"
    tags = ("tills",)

    @post("/", opt=allow(A, C), sync_to_thread=True)
    def open(self, request: Request[Any, Any, Any],
             data: JSONBody[TillIn]) -> Response[TillOpenedOut]:
        """Open my till with a float from the safe (409 while I have an open till)."""
        state = app_state(request)
        principal = current_principal(request)
        cur = currency(state)
        amount = parse_minor(data.opening_float, cur, field="opening_float", allow_zero=True)

        def work(session: Session) -> TillOpenedOut:
            return till_opened_out(tills.open_till(
                session, username=principal.username, opening_float_minor=amount,
                clock=state.clock), cur)

        return respond(request, principal, data, work)

    @get("/", opt=allow(A, B, D), sync_to_thread=True)
    def day(self, request: Request[Any, Any, Any],
            on: Annotated[date | None, QueryParameter(description="YYYY-MM-DD; default "
                                                      "the business date")] = None,
            ) -> TillDayOut:
        """The day's tills (and any still open or waiting for approval), and the cash that
        should be in the safe at the end of that day."""
        state = app_state(request)
        cur = currency(state)
        day = on or state.clock.today()

        def read(session: Session) -> TillDayOut:
            found = tills.day_tills(session, day)
            held = sum(t.expected_minor for t in found if t.status == "open")
            return TillDayOut(on=day, tills=[till_out(t, cur) for t in found],
                              safe=money(tills.safe_minor(session, as_of=day), cur),
                              tills_expected=money(held, cur))

        return state.db.read(read)

    @get("/{till_id:int}", opt=allow(A, B, C, D), sync_to_thread=True)
    def show(self, request: Request[Any, Any, Any], till_id: TillId) -> TillOut:
        """A till: its float, the cash taken in and paid out, what it should hold."""
        state = app_state(request)
        till = state.db.read(lambda s: tills.get_till(s, till_id))
        _own_or_404(current_principal(request), till)
        return till_out(till, currency(state))

    @post("/{till_id:int}/close", opt=allow(A, C), sync_to_thread=True)
    def close(self, request: Request[Any, Any, Any], till_id: TillId,
              data: JSONBody[TillCloseIn]) -> Response[TillClosedOut]:
        """Count and close: variance = counted - expected; a difference waits for approval."""
        state = app_state(request)
        principal = current_principal(request)
        cur = currency(state)
        counted = parse_minor(data.counted, cur, field="counted", allow_zero=True)

        def work(session: Session) -> TillClosedOut:
            till = tills.get_till(session, till_id)
            if principal.role is not Role.ADMIN and till.username != principal.username:
                raise NotYourTill("only the till's user or an admin closes it")
            return till_closed_out(tills.close_till(
                session, till_id, counted_minor=counted, actor=principal.username,
                clock=state.clock, counts=data.denominations), cur)

        return respond(request, principal, data, work)

    @post("/{till_id:int}/variance-approval", opt=allow(A, B), sync_to_thread=True)
    def approve(self, request: Request[Any, Any, Any],
                till_id: TillId) -> Response[VarianceApprovedOut]:
        """Post a counted till's difference (a shortage to 5400 Cash shortages, an overage to
        4400 Cash overages); never by the till's own user (403); once (409 after)."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> VarianceApprovedOut:
            _, entry_id = tills.approve_variance(session, till_id,
                                                 approver=principal.username,
                                                 clock=state.clock)
            return VarianceApprovedOut(status="closed", entry_id=entry_id)

        return respond(request, principal, None, work)
