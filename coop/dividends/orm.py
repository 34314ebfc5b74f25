"""The dividends package's tables: a closed fiscal year and a dividend declaration.

`dividend_declaration.preview_json` holds the declared distribution in minor units (see
`coop.dividends.previews.stored_preview`): money is an int under a `*_minor` key, rates and
percents are decimal strings. Display strings are built where they are shown, never stored.

A declaration is `pending` while it waits for the board's votes (the society setting
`dividend_approvals_required`): it has no appropriation entry until the last approval it
needs lands. `rejected` when approval can no longer be reached; `declared`, `paid`,
`cancelled` as before. The general body's resolution is a number and a date; a declaration
stored before they were separate keeps its free text as the number, with no date.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coop.db import Base


class YearCloseRow(Base):
    __tablename__ = "fiscal_year_close"

    fiscal_year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start_on: Mapped[date]
    end_on: Mapped[date]
    net_surplus_minor: Mapped[int]
    closing_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    chain_head_seq: Mapped[int]
    chain_head_hash: Mapped[str] = mapped_column(String(64))
    closed_by: Mapped[str] = mapped_column(String(32))
    closed_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), server_default="closed")
    """closed, or reopened (each reopening is kept in `fiscal_year_reopening`)."""


class YearReopeningRow(Base):
    """A year reopened by the admin: the close it undid (its figures, entry and who closed
    it) and the reversal of the closing entry. The year's row is then reopened, and a close
    again writes the new close over it: this table is the audit trail of every earlier one."""

    __tablename__ = "fiscal_year_reopening"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fiscal_year: Mapped[int] = mapped_column(ForeignKey("fiscal_year_close.fiscal_year"),
                                             index=True)
    net_surplus_minor: Mapped[int]
    closing_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    reversal_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    closed_by: Mapped[str] = mapped_column(String(32))
    closed_at: Mapped[datetime]
    reopened_by: Mapped[str] = mapped_column(String(32))
    reopened_at: Mapped[datetime]


class DeclarationRow(Base):
    __tablename__ = "dividend_declaration"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fiscal_year: Mapped[int] = mapped_column(ForeignKey("fiscal_year_close.fiscal_year"),
                                             index=True)
    status: Mapped[str] = mapped_column(String(12))
    """pending, declared, paid, cancelled or rejected (see the module docstring)."""
    request_json: Mapped[str] = mapped_column(Text)
    preview_json: Mapped[str] = mapped_column(Text)  # minor units: see the module docstring
    resolution_number: Mapped[str | None] = mapped_column(String(200))
    resolution_on: Mapped[date | None]
    appropriation_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    cancellation_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    payment_entries: Mapped[int]
    declared_by: Mapped[str] = mapped_column(String(32))  # who put it forward
    declared_at: Mapped[datetime]  # when it was declared (while pending: put forward)
    paid_at: Mapped[datetime | None]
