"""The loans room's tables (DESIGN.md §7): products, loans, board votes, guarantors, every
version of a loan's plan, its events, reschedule requests and moratoria."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from coop.db import Base

Status = Literal["pending", "approved", "rejected", "active", "closed", "written_off"]
OPEN_STATUSES = ("pending", "approved", "active")
PURPOSES = ("business", "education", "health", "housing", "emergency", "debts", "household",
            "other")
"""Purpose is a category, never free text: nothing that could identify a member's work."""
NOTE_LENGTH_MAX = 200


class ProductRow(Base):
    __tablename__ = "loan_product"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    terms_json: Mapped[str] = mapped_column(Text)
    max_principal_minor: Mapped[int | None]
    fee_percent: Mapped[str] = mapped_column(String(12))
    penalty_rate: Mapped[str] = mapped_column(String(12))
    allocation_order: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]


class LoanRow(Base):
    __tablename__ = "loan"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'active', 'closed', 'written_off')",
            name="status_known"),
        CheckConstraint("principal_minor > 0", name="principal_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("loan_product.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    principal_minor: Mapped[int]
    fee_minor: Mapped[int]
    terms_json: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str | None] = mapped_column(String(16))
    applied_on: Mapped[date]
    applied_by: Mapped[str] = mapped_column(String(32))
    decided_on: Mapped[date | None]
    disbursed_on: Mapped[date | None]
    closed_on: Mapped[date | None]
    account_code: Mapped[str | None] = mapped_column(String(64))
    plan_version: Mapped[int]
    outstanding_minor: Mapped[int]
    first_unpaid_due: Mapped[date | None]
    last_event_on: Mapped[date | None]
    written_off_minor: Mapped[int]
    recovered_minor: Mapped[int]


class GuarantorRow(Base):
    __tablename__ = "loan_guarantor"
    __table_args__ = (UniqueConstraint("loan_id", "member_id", name="uq_loan_guarantor_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    amount_minor: Mapped[int]
    hold_id: Mapped[int] = mapped_column(ForeignKey("savings_hold.id"))


class PlanRow(Base):
    """Every version of a loan's plan, with the day it took effect."""

    __tablename__ = "loan_plan"

    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    effective_on: Mapped[date]
    periods_json: Mapped[str] = mapped_column(Text)
    frozen_json: Mapped[str] = mapped_column(Text)


class EventRow(Base):
    """What happened to a loan, in order, with where it left the loan (for reports)."""

    __tablename__ = "loan_event"
    __table_args__ = (UniqueConstraint("loan_id", "seq", name="uq_loan_event_in_order"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    value_date: Mapped[date]
    amount_minor: Mapped[int]
    principal_minor: Mapped[int]
    interest_minor: Mapped[int]
    penalty_minor: Mapped[int]
    fees_minor: Mapped[int]
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    plan_version: Mapped[int]
    outstanding_after: Mapped[int]
    first_unpaid_due_after: Mapped[date | None]
    status_after: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(NOTE_LENGTH_MAX))
    """The board's reason (write-off, reschedule, moratorium): kept here, never in the
    ledger's narration, which is exported and printed."""
    actor: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class RescheduleRow(Base):
    __tablename__ = "loan_reschedule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    extra_installments: Mapped[int]
    annual_rate: Mapped[str | None] = mapped_column(String(12))
    holiday_until: Mapped[date | None]
    reason: Mapped[str] = mapped_column(String(NOTE_LENGTH_MAX))
    requested_by: Mapped[str] = mapped_column(String(32))
    requested_on: Mapped[date]
    decided_on: Mapped[date | None]
    plan_version: Mapped[int | None]


class MoratoriumRow(Base):
    __tablename__ = "loan_moratorium"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    from_on: Mapped[date]
    to_on: Mapped[date]
    accrue_interest: Mapped[bool] = mapped_column(Boolean)
    resolution: Mapped[str] = mapped_column(String(NOTE_LENGTH_MAX))
    declared_by: Mapped[str] = mapped_column(String(32))
    declared_at: Mapped[datetime]
    loans_affected: Mapped[int]


class LossMarkRow(Base):
    """The board marked a loan a loss (class `loss` whatever its days overdue) from
    `marked_on`; a reversal ends the mark from `reversed_on`. No money moves: the provision
    follows at the next provisioning run. A loan has at most one mark standing."""

    __tablename__ = "loan_loss_mark"
    __table_args__ = (
        CheckConstraint("reversed_on IS NULL OR reversed_on >= marked_on",
                        name="reversed_after_marked"),
        Index("uq_loan_loss_mark_standing", "loan_id", unique=True,
              sqlite_where=text("reversed_on IS NULL"),
              postgresql_where=text("reversed_on IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"), index=True)
    marked_on: Mapped[date]
    reason: Mapped[str] = mapped_column(String(NOTE_LENGTH_MAX))
    marked_by: Mapped[str] = mapped_column(String(32))
    marked_at: Mapped[datetime]
    reversed_on: Mapped[date | None]
    reversal_reason: Mapped[str | None] = mapped_column(String(NOTE_LENGTH_MAX))
    reversed_by: Mapped[str | None] = mapped_column(String(32))
    reversed_at: Mapped[datetime | None]


class ProvisioningRunRow(Base):
    """A provisioning run (coop.loans.provisioning): the provision the loans required on
    `as_of`, the provision standing before, and the entry that moved 1190 by the change (none
    when nothing changed). One run per day; runs only move forward in time."""

    __tablename__ = "loan_provisioning_run"
    __table_args__ = (
        CheckConstraint("required_minor >= 0 AND previous_minor >= 0", name="not_negative"),
        CheckConstraint("change_minor = required_minor - previous_minor", name="change_adds_up"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    as_of: Mapped[date] = mapped_column(unique=True)
    required_minor: Mapped[int] = mapped_column(BigInteger)
    previous_minor: Mapped[int] = mapped_column(BigInteger)
    change_minor: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("ledger_entry.id"))
    classes_json: Mapped[str] = mapped_column(Text)
    """The classification it posted: [[class, loans, outstanding, percent, provision], ...]."""
    posted_by: Mapped[str] = mapped_column(String(32))
    posted_at: Mapped[datetime]


__all__ = ["NOTE_LENGTH_MAX", "OPEN_STATUSES", "PURPOSES", "EventRow", "GuarantorRow",
           "LoanRow", "LossMarkRow", "MoratoriumRow", "PlanRow", "ProductRow",
           "ProvisioningRunRow", "RescheduleRow", "Status"]
