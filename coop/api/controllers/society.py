"""The society: its name, currency, locale, fiscal year, business date and settings."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, patch
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from coop.api.deps import AppState, app_state, money
from coop.api.idempotency import respond
from coop.api.schemas import SocietyOut, SocietyPatchIn
from coop.api.security import allow, current_principal
from coop.auth import ANYONE, Role
from coop.errors import InvalidInput
from coop.society import get_society, rename, settings_document, update_settings


def _society_payload(state: AppState, session: Session) -> dict[str, Any]:
    society = get_society(session)
    if society is None:
        raise InvalidInput("the society has not been set up: run `coop init`")
    return {
        "name": society.name, "currency": society.currency, "locale": society.locale,
        "fiscal_year_start": society.fiscal_year_start,
        "share_face_value": money(state, society.share_face_value_minor),
        "business_date": state.clock.today().isoformat(),
        "settings": settings_document(society.settings),
    }


class SocietyController(Controller):
    path = "/society"
    tags = ("society",)

    @get("/", opt=allow(ANYONE), sync_to_thread=True)
    def society(self, request: Request[Any, Any, Any]) -> SocietyOut:
        state = app_state(request)
        return SocietyOut(**state.db.read(lambda s: _society_payload(state, s)))

    @patch("/", opt=allow(Role.ADMIN), sync_to_thread=True)
    def update(
        self, request: Request[Any, Any, Any], data: JSONBody[SocietyPatchIn]
    ) -> Response[SocietyOut]:
        """Change settings (a partial update; the result must be valid as a whole)."""
        state = app_state(request)

        def work(session: Session) -> dict[str, Any]:
            if data.settings:
                update_settings(session, data.settings)
            rename(session, name=data.name, locale=data.locale)
            return _society_payload(state, session)

        return respond(request, current_principal(request), data, work, status=200)
