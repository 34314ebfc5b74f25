"""The audit trail's lines (GET /audit-events). An auditor's lines carry no `detail`: it is
free text a writer may add, and an auditor sees member numbers only (DESIGN.md §5)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from coop.api.schemas.common import Out, Page, utc_text
from coop.auth import AuditEvent


class AuditEventOut(Out):
    id: int
    at: str
    username: str
    role: str
    action: str
    status: int
    detail: str | None = Field(default=None, description="Free text; absent for an auditor.")


def audit_page(events: list[AuditEvent], *, with_detail: bool,
               next_cursor: str | None) -> Any:
    """The page as the reader may see it, JSON-ready: `detail` for an admin, and for anyone
    else no such key at all (a line built without it leaves it unset, so it is not dumped)."""
    items = [AuditEventOut(id=e.id, at=utc_text(e.at), username=e.username, role=e.role,
                           action=e.action, status=e.status,
                           **({"detail": e.detail} if with_detail else {}))
             for e in events]
    page = Page[AuditEventOut](items=items, next_cursor=next_cursor)
    return page.model_dump(mode="json", exclude_unset=True)
