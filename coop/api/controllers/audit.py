"""The audit trail (GET /audit-events, admin and auditor): who did what and when, newest
first, filtered by user, action (a prefix: "POST /api/v1/members" finds every write under
it) and days. Days are the society's days (COOP_TIMEZONE), as its clerks count them: `from`
is the first day shown, `to` the last. Pages of `limit` lines (50 unless asked, at most 500)
follow `next_cursor`, the id below which the next page starts.

An auditor gets each line without its free-text `detail` (DESIGN.md §5: auditors see member
numbers only); the line itself holds a username, a role, a method and path (member numbers,
never names) and a status."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter

from coop.api.deps import app_state
from coop.api.schemas.audit import AuditEventOut, audit_page
from coop.api.schemas.common import Page
from coop.api.security import allow, current_principal
from coop.auth import AUDIT_PAGE_MAX, AuditFilter, Role, list_audit_events
from coop.errors import InvalidInput
from coop.statements.periods import EARLIEST

A, D = Role.ADMIN, Role.AUDITOR
CURSOR_DIGITS_MAX = 18


def audit_filter(*, user: str | None, action: str | None, from_on: date | None,
                 to_on: date | None, timezone: str) -> AuditFilter:
    """The filter for days `from_on` to `to_on` (both included) in the society's zone."""
    if from_on is not None and to_on is not None and to_on < from_on:
        raise InvalidInput.said("the last day {to_on} is before the first day {from_on}",
                                to_on=to_on, from_on=from_on, field="to")
    for day, field in ((from_on, "from"), (to_on, "to")):
        if day is not None and day < EARLIEST:  # nothing was recorded before; and year 1 in
            raise InvalidInput.said(  # India is year 0 in UTC, which no calendar holds
                "a date before {earliest} is not in the books", earliest=EARLIEST, field=field)
    zone = ZoneInfo(timezone)

    def start_of(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)

    return AuditFilter(
        username=user or None, action=action or None,
        since=start_of(from_on) if from_on is not None else None,
        until=start_of(to_on + timedelta(days=1)) if to_on is not None and to_on < date.max
        else None)


def audit_cursor(text: str | None) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > CURSOR_DIGITS_MAX:
        raise InvalidInput("cursor is the next_cursor of a previous page", field="cursor")
    return int(text)


class AuditController(Controller):
    path = "/audit-events"
    tags = ("audit",)

    @get("/", opt=allow(A, D), sync_to_thread=True)
    def events(
        self, request: Request[Any, Any, Any],
        user: Annotated[str | None, QueryParameter(max_length=32)] = None,
        action: Annotated[str | None, QueryParameter(max_length=120)] = None,
        from_on: Annotated[date | None, QueryParameter(name="from")] = None,
        to_on: Annotated[date | None, QueryParameter(name="to")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=AUDIT_PAGE_MAX)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Response[Page[AuditEventOut]]:
        """The audit trail, newest first; an auditor's lines without `detail`."""
        state = app_state(request)
        wanted = audit_filter(user=user, action=action, from_on=from_on, to_on=to_on,
                              timezone=state.settings.timezone)
        before = audit_cursor(cursor)
        found = state.db.read(lambda s: list_audit_events(s, wanted, before_id=before,
                                                          limit=limit))
        next_cursor = str(found[-1].id) if len(found) == limit else None
        return Response(audit_page(found, with_detail=current_principal(request).role is A,
                                   next_cursor=next_cursor))


__all__ = ["AuditController", "audit_cursor", "audit_filter"]
