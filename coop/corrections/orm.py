"""The corrections room's one table: a request to undo a journal entry, and its decision.

The staff's reason is kept here (and in the audit trail), never in the journal: the
reversal's narration says only what was corrected, because members' passbooks print it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from coop.db import Base

STATUSES = ("pending", "applied", "refused")
REASON_LENGTH_MAX = 150


class CorrectionRow(Base):
    __tablename__ = "correction"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'applied', 'refused')", name="status_known"),
        CheckConstraint("status = 'pending' OR decided_by IS NOT NULL", name="decided_by_whom"),
        # one open request per entry, whoever asks and however fast
        Index("uq_correction_pending_entry", "entry_id", unique=True,
              sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
        Index("ix_correction_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), index=True)
    reason: Mapped[str] = mapped_column(String(REASON_LENGTH_MAX))
    status: Mapped[str] = mapped_column(String(8))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    reversal_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))


__all__ = ["REASON_LENGTH_MAX", "STATUSES", "CorrectionRow"]
