"""The tills' one table. A till's cash is in the ledger (its sub-account of 1000 Cash on
hand); this row says whose till it is, what was counted at the close, and who approved a
difference. `coop verify` recomputes every figure here from the journal (coop.tills.reconcile).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from coop.db import Base

STATUSES = ("open", "variance_pending", "closed")


class TillRow(Base):
    __tablename__ = "till"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'variance_pending', 'closed')",
                        name="status_valid"),
        CheckConstraint("opening_float_minor >= 0", name="float_not_negative"),
        CheckConstraint("counted_minor IS NULL OR counted_minor >= 0",
                        name="counted_not_negative"),
        # one open till a user: the database says so too, whatever the service checks
        Index("uq_till_open_user", "username", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_till_opened_on", "opened_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    opened_on: Mapped[date]
    opened_at: Mapped[datetime]
    opening_float_minor: Mapped[int] = mapped_column(BigInteger)
    account_code: Mapped[str] = mapped_column(String(64), unique=True)
    open_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    counted_minor: Mapped[int | None] = mapped_column(BigInteger)
    counted_json: Mapped[str | None] = mapped_column(Text)
    expected_at_close_minor: Mapped[int | None] = mapped_column(BigInteger)
    variance_minor: Mapped[int | None] = mapped_column(BigInteger)
    close_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    closed_by: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[datetime | None]
    variance_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    approved_by: Mapped[str | None] = mapped_column(String(32))
    approved_at: Mapped[datetime | None]


till_table = cast(Table, TillRow.__table__)
