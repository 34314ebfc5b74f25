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
    must_change_password: bool = False
    """Her password was set by an admin: change it (POST /auth/password) before anything
    else (the counter insists; the API says so here and in /me)."""


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
    must_change_password: bool = False


class UserPatchIn(In):
    disabled: bool | None = None
    role: RoleName | None = None
    password: str | None = Field(default=None, min_length=1, max_length=256)
    member_code: str | None = Field(default=None, max_length=16)


class PasswordChangeIn(In):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


def token_out(token: str, *, seconds: int, role: str,
              must_change_password: bool = False) -> TokenOut:
    return TokenOut(access_token=token, expires_in=seconds, role=role,
                    must_change_password=must_change_password)


def user_out(user: UserRow) -> UserOut:
    return UserOut(username=user.username, role=user.role,
                   member_code=user.member_code, disabled=user.disabled,
                   must_change_password=user.must_change_password)


def principal_out(principal: Principal) -> UserOut:
    return UserOut(username=principal.username, role=principal.role.value,
                   member_code=principal.member_code,
                   must_change_password=principal.must_change_password)
