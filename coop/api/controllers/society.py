"""The society: its name, currency, locale, fiscal year, business date and settings."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, patch
from litestar.params import JSONBody
from sqlalchemy.orm import Session

from coop.api.deps import SocietyDep, app_state
from coop.api.idempotency import respond
from coop.api.schemas.society import SocietyOut, SocietyPatchIn, society_out
from coop.api.security import allow, current_principal
from coop.auth import ANYONE, Role
from coop.society import rename, require_society, update_settings


class SocietyController(Controller):
    path = "/society"
    tags = ("society",)

    @get("/", opt=allow(ANYONE), sync_to_thread=True)
    def society(self, request: Request[Any, Any, Any], society: SocietyDep) -> SocietyOut:
        return society_out(society, business_date=app_state(request).clock.today())

    @patch("/", opt=allow(Role.ADMIN), sync_to_thread=True)
    def update(
        self, request: Request[Any, Any, Any], data: JSONBody[SocietyPatchIn]
    ) -> Response[SocietyOut]:
        """Change settings (a partial update; the result must be valid as a whole)."""
        state = app_state(request)

        def work(session: Session) -> SocietyOut:
            if data.settings:
                update_settings(session, data.settings)
            rename(session, name=data.name, locale=data.locale)
            return society_out(require_society(session), business_date=state.clock.today())

        return respond(request, current_principal(request), data, work, status=200)
