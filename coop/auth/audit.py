"""The audit trail: one row per state-changing request that took effect (who, with what
role, which method and path, the answer's status), written in the request's own
transaction, and read back newest first with filters (the counter's "Audit trail" page and
GET /audit-events). Members appear by number in the paths, never by name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import Integer, SmallInteger, String, Table, Text, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from coop.clock import Clock
from coop.db import Base
from coop.db_statements import Prepared
from coop.errors import InvalidInput

if TYPE_CHECKING:
    from coop.auth import Principal


class AuditRow(Base):
    """Who did what: one row per state-changing request that took effect."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(120))
    status: Mapped[int] = mapped_column(SmallInteger)
    detail: Mapped[str | None] = mapped_column(Text)


_INSERT_AUDIT = Prepared(insert(cast(Table, AuditRow.__table__)))


def record_audit(
    session: Session, principal: Principal, *, action: str, status: int, clock: Clock,
    detail: str | None = None,
) -> None:
    _INSERT_AUDIT.defer(session, {
        "at": clock.now(), "username": principal.username, "role": str(principal.role),
        "action": action[:120], "status": status, "detail": detail})


AUDIT_PAGE_MAX = 500


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the audit trail. `detail` is free text a writer may add (none does yet);
    whoever shows the trail to an auditor leaves it out (coop.api.controllers.audit)."""

    id: int
    at: datetime
    username: str
    role: str
    action: str
    status: int
    detail: str | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which lines: one user's (exact username), actions starting with `action` (a method
    and a path prefix such as "POST /api/v1/members"), and recorded from `since` (an
    instant, included) to `until` (excluded)."""

    username: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_audit_events(session: Session, wanted: AuditFilter, *, before_id: int | None = None,
                      limit: int = 50) -> list[AuditEvent]:
    """The trail newest first (by the order the lines were written), `limit` at a time;
    the next page starts below the last id of this one (`before_id`)."""
    if not 1 <= limit <= AUDIT_PAGE_MAX:
        raise InvalidInput.said("limit is 1 to {limit_max}", limit_max=AUDIT_PAGE_MAX,
                                field="limit")
    query = select(AuditRow.id, AuditRow.at, AuditRow.username, AuditRow.role,
                   AuditRow.action, AuditRow.status, AuditRow.detail)
    if wanted.username is not None:
        query = query.where(AuditRow.username == wanted.username)
    if wanted.action:
        query = query.where(AuditRow.action.startswith(wanted.action, autoescape=True))
    if wanted.since is not None:
        query = query.where(AuditRow.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditRow.at < wanted.until)
    if before_id is not None:
        query = query.where(AuditRow.id < before_id)
    rows = session.execute(query.order_by(AuditRow.id.desc()).limit(limit))
    return [AuditEvent(*row) for row in rows]


__all__ = ["AUDIT_PAGE_MAX", "AuditEvent", "AuditFilter", "AuditRow", "list_audit_events",
           "record_audit"]
