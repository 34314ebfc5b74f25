"""Login, tokens and users: bodies and presenters."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from coop.api.schemas.common import In, Out, RoleName
from coop.auth import Principal, UserRow


class TokenIn(In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int
    role: RoleName


class UserIn(In):
    username: str = Field(min_length=2, max_length=32)
    password: str = Field(min_length=1, max_length=256)
    role: RoleName
    member_code: str | None = Field(default=None, max_length=16)


class UserOut(Out):
    username: str
    role: RoleName
    member_code: str | None
    disabled: bool = False


class UserPatchIn(In):
    disabled: bool | None = None
    role: RoleName | None = None
    password: str | None = Field(default=None, min_length=1, max_length=256)
    member_code: str | None = Field(default=None, max_length=16)


class PasswordChangeIn(In):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


def token_out(token: str, *, seconds: int, role: str) -> TokenOut:
    return TokenOut(access_token=token, expires_in=seconds, role=role)


def user_out(user: UserRow) -> UserOut:
    return UserOut(username=user.username, role=user.role,
                   member_code=user.member_code, disabled=user.disabled)


def principal_out(principal: Principal) -> UserOut:
    return UserOut(username=principal.username, role=principal.role.value,
                   member_code=principal.member_code)
