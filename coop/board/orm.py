"""The board's tables: who sits on the board and when (`board_seat`), and every vote cast on
any subject the board decides (`board_vote`).

A seat belongs to a board user (her username) and the member she is (`member_id`): it is held
from `from_on` until `to_on` (exclusive; None while she sits). Votes name their subject by kind
and id only, so the board never needs to know what a loan or a dividend is.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from coop.db import Base

SUBJECT_KINDS = ("loan", "reschedule", "dividend_declaration", "correction", "write_off",
                 "share_redemption")
"""What the board votes on. All are allowed by the table's CHECK now, so a package that comes to
need board approval (dividends, corrections, write-offs, share redemptions) needs no
migration of this table; 'loan' and 'reschedule' are in use today."""
DECISIONS = ("approve", "reject")
NOTE_LENGTH_MAX = 200
USERNAME_LENGTH_MAX = 32


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class SeatRow(Base):
    """A board user's seat: she sits from `from_on` until `to_on` (None: she sits now)."""

    __tablename__ = "board_seat"
    __table_args__ = (
        CheckConstraint("to_on IS NULL OR to_on >= from_on", name="seat_ends_after_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    username: Mapped[str] = mapped_column(String(USERNAME_LENGTH_MAX), index=True)
    from_on: Mapped[date]
    to_on: Mapped[date | None]


class VoteRow(Base):
    """A board member's vote on one subject; every vote is kept, one per member and subject."""

    __tablename__ = "board_vote"
    __table_args__ = (
        UniqueConstraint("subject_kind", "subject_id", "voter_member_id",
                         name="uq_board_vote_once"),
        CheckConstraint(_in("decision", DECISIONS), name="decision_known"),
        CheckConstraint(_in("subject_kind", SUBJECT_KINDS), name="subject_kind_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_kind: Mapped[str] = mapped_column(String(24))
    subject_id: Mapped[int]
    voter_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    voter_username: Mapped[str] = mapped_column(String(USERNAME_LENGTH_MAX))
    decision: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(String(NOTE_LENGTH_MAX))
    voted_at: Mapped[datetime]
