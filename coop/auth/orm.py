"""The tables of coop.auth (users, their tokens, failed logins, the API's idempotency
records) and the roles a user holds; `coop.auth` re-exports them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from coop.db import Base

ID = Integer


class Role(StrEnum):
    ADMIN = "admin"
    BOARD = "board"
    CLERK = "clerk"
    AUDITOR = "auditor"
    MEMBER = "member"


STAFF = frozenset({Role.ADMIN, Role.BOARD, Role.CLERK, Role.AUDITOR})
ANYONE = frozenset(Role)


class UserRow(Base):
    __tablename__ = "auth_user"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(8))
    member_code: Mapped[str | None] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=false())


class TokenRow(Base):
    __tablename__ = "auth_token"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id"), index=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginFailureRow(Base):
    __tablename__ = "auth_login_failure"
    __table_args__ = (
        Index("ix_auth_login_failure_username_at", "username", "at"),
        Index("ix_auth_login_failure_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class IdempotencyRow(Base):
    """The first response to a state-changing request made with an Idempotency-Key."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_api_idempotency_user_key"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))  # HMAC keyed from the data key
    member_code: Mapped[str | None] = mapped_column(String(16), index=True)
    """The member the request was about, so that erasing her removes it too."""
    status: Mapped[int | None] = mapped_column(SmallInteger)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    media_type: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
