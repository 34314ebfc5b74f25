"""The ledger's tables. Only coop.ledger.service writes to them (and triggers refuse UPDATE
and DELETE on entries and postings, so even it can only append).

- `ledger_account`: the chart, with cumulative `debits_posted` / `credits_posted`. A control
  account's counters include its sub-accounts' postings, so every balance is O(1).
- `ledger_entry`: one row per journal entry; `id` is the gapless sequence number, assigned
  under the book lock; `hash` chains it to the entry before.
- `ledger_posting`: the legs, keyed (entry_id, line); `value_date` is copied from the entry so
  the (account, value date) index answers balance-as-of questions.
- `ledger_book`: a single row: currency, chain head, and `closed_through`. Every posting locks
  it, which gives the chain its order.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from coop.db import Base

_SIDES = "side IN ('debit', 'credit')"
ID = BigInteger().with_variant(Integer, "sqlite")


class AccountRow(Base):
    __tablename__ = "ledger_account"
    __table_args__ = (
        CheckConstraint(
            "type IN ('asset', 'liability', 'equity', 'income', 'expense')", name="type_valid"
        ),
        CheckConstraint("normal_side IN ('debit', 'credit')", name="normal_side_valid"),
        CheckConstraint("debits_posted >= 0 AND credits_posted >= 0", name="counters_positive"),
        CheckConstraint(
            "may_go_negative"
            " OR (normal_side = 'debit' AND debits_posted >= credits_posted)"
            " OR (normal_side = 'credit' AND credits_posted >= debits_posted)",
            name="no_overdraft",
        ),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(9))
    normal_side: Mapped[str] = mapped_column(String(6))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_account.id"), index=True)
    owner: Mapped[str | None] = mapped_column(String(32), index=True)
    may_go_negative: Mapped[bool] = mapped_column(Boolean)
    is_control: Mapped[bool] = mapped_column(Boolean, default=False)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    opened_at: Mapped[datetime]


class EntryRow(Base):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        # Only reversals are indexed: a commit writes one B-tree page fewer for the others.
        Index(
            "uq_ledger_entry_reversal_of", "reversal_of", unique=True,
            sqlite_where=text("reversal_of IS NOT NULL"),
            postgresql_where=text("reversal_of IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=False)
    value_date: Mapped[date] = mapped_column(Date)
    posted_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    narration: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    reversal_of: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    hash_version: Mapped[int] = mapped_column(SmallInteger, default=1)


class PostingRow(Base):
    __tablename__ = "ledger_posting"
    __table_args__ = (
        CheckConstraint(_SIDES, name="side_valid"),
        CheckConstraint(
            "amount_minor > 0 AND amount_minor <= 100000000000000", name="amount_in_range"
        ),
        Index("ix_ledger_posting_account_date", "account_id", "value_date", "entry_id"),
        Index("ix_ledger_posting_value_date", "value_date"),
        # On SQLite the primary key is the table itself: one B-tree fewer to write per entry.
        {"sqlite_with_rowid": False},
    )

    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), primary_key=True)
    line: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id"))
    side: Mapped[str] = mapped_column(String(6))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    value_date: Mapped[date] = mapped_column(Date)


class BookRow(Base):
    __tablename__ = "ledger_book"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    currency: Mapped[str] = mapped_column(String(3))
    head_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))
    closed_through: Mapped[date | None] = mapped_column(Date)


account_table = cast(Table, AccountRow.__table__)
entry_table = cast(Table, EntryRow.__table__)
posting_table = cast(Table, PostingRow.__table__)
book_table = cast(Table, BookRow.__table__)
