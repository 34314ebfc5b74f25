"""Corrections with a second pair of eyes (CONTRACT.md: Ledger): a clerk or an admin asks,
another admin or board member approves or refuses. Handlers parse, authorize, call one
service function and shape the response."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from coop import corrections
from coop.api.deps import app_state, currency
from coop.api.idempotency import respond
from coop.api.schemas.common import Page
from coop.api.schemas.corrections import (
    CorrectionIn,
    CorrectionItemOut,
    CorrectionOut,
    correction_item_out,
    correction_out,
)
from coop.api.security import allow, current_principal
from coop.auth import Role

A, B, C = Role.ADMIN, Role.BOARD, Role.CLERK
CorrectionId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]


class CorrectionsController(Controller):
    path = "/corrections"
    tags = ("ledger",)

    @post("/", opt=allow(A, C), sync_to_thread=True)
    def ask(self, request: Request[Any, Any, Any],
            data: JSONBody[CorrectionIn]) -> Response[CorrectionOut]:
        """Ask for an entry to be corrected; another user approves it."""
        state = app_state(request)
        principal = current_principal(request)
        return respond(request, principal, data, lambda s: correction_out(
            corrections.request_correction(s, data.entry_id, reason=data.reason,
                                           actor=principal.username, clock=state.clock)))

    @get("/", opt=allow(A, B), sync_to_thread=True)
    def queue(
        self, request: Request[Any, Any, Any],
        status: Annotated[Literal["pending", "applied", "refused"] | None,
                          QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=corrections.LIST_MAX)] = 50,
    ) -> Page[CorrectionItemOut]:
        """The corrections, newest first (`?status=pending`: the approvers' queue)."""
        state = app_state(request)
        found = state.db.read(lambda s: corrections.list_corrections(s, status=status,
                                                                     limit=limit))
        cur = currency(state)
        return Page[CorrectionItemOut](items=[correction_item_out(i, cur) for i in found])

    @post("/{correction_id:int}/approval", opt=allow(A, B), sync_to_thread=True)
    def approve(self, request: Request[Any, Any, Any],
                correction_id: CorrectionId) -> Response[CorrectionOut]:
        """Apply it: the entry is undone the way its room undoes it."""
        state = app_state(request)
        principal = current_principal(request)
        return respond(request, principal, None, lambda s: correction_out(
            corrections.approve_correction(s, correction_id, actor=principal.username,
                                           clock=state.clock)))

    @post("/{correction_id:int}/refusal", opt=allow(A, B), sync_to_thread=True)
    def refuse(self, request: Request[Any, Any, Any],
               correction_id: CorrectionId) -> Response[CorrectionOut]:
        """Decline it: nothing is posted."""
        state = app_state(request)
        principal = current_principal(request)
        return respond(request, principal, None, lambda s: correction_out(
            corrections.refuse_correction(s, correction_id, actor=principal.username,
                                          clock=state.clock)))
