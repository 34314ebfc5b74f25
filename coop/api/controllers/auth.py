"""Login, logout, password change, the current user, and user administration."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody
from sqlalchemy.orm import Session

from coop import auth, board
from coop.api.deps import app_state, log_in
from coop.api.idempotency import respond
from coop.api.schemas.auth import (
    PasswordChangeIn,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPatchIn,
    principal_out,
    token_out,
    user_out,
)
from coop.api.security import PUBLIC, allow, current_principal
from coop.auth import ANYONE, Role


def _client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class AuthController(Controller):
    path = "/auth"
    tags = ("auth",)

    @post("/token", opt=PUBLIC, sync_to_thread=True, status_code=200)
    def token(self, request: Request[Any, Any, Any], data: JSONBody[TokenIn]) -> TokenOut:
        """Exchange a username and password for a bearer token."""
        state = app_state(request)
        address = _client_address(request)
        token, user, expires_at = log_in(state, username=data.username,
                                         password=data.password, address=address)
        seconds = int((expires_at - state.clock.now()).total_seconds())
        return token_out(token, seconds=seconds, role=user.role,
                         must_change_password=user.must_change_password)

    @post("/logout", opt=allow(ANYONE), sync_to_thread=True, status_code=204)
    def logout(self, request: Request[Any, Any, Any]) -> None:
        """Revoke the token this request carries."""
        state = app_state(request)
        principal = current_principal(request)
        token_id = principal.token_id

        def work(session: Session) -> None:
            if token_id is not None:
                auth.revoke_token(session, token_id, clock=state.clock)
            auth.record_audit(session, principal, action="POST /api/v1/auth/logout",
                              status=204, clock=state.clock)

        state.db.write(work)
        state.principals.clear()

    @post("/password", opt=allow(ANYONE), sync_to_thread=True, status_code=204)
    def change_password(
        self, request: Request[Any, Any, Any], data: JSONBody[PasswordChangeIn]
    ) -> None:
        """Change your own password; every token you hold is revoked."""
        state = app_state(request)
        principal = current_principal(request)
        def work(session: Session) -> None:
            auth.change_password(session, principal, current=data.current_password,
                                 new=data.new_password, passwords=state.passwords,
                                 clock=state.clock)
            auth.record_audit(session, principal, action="POST /api/v1/auth/password",
                              status=204, clock=state.clock)

        state.db.write(work)
        state.principals.clear()


class UserController(Controller):
    tags = ("users",)

    @get("/me", opt=allow(ANYONE), sync_to_thread=False)
    def me(self, request: Request[Any, Any, Any]) -> UserOut:
        return principal_out(current_principal(request))

    @post("/users", opt=allow(Role.ADMIN), sync_to_thread=True)
    def create_user(
        self, request: Request[Any, Any, Any], data: JSONBody[UserIn]
    ) -> Response[UserOut]:
        """Create a user. `member` and `board` users name their member_code."""
        state = app_state(request)

        def work(session: Session) -> UserOut:
            user = auth.create_user(session, username=data.username, password=data.password,
                                    role=data.role, member_code=data.member_code,
                                    passwords=state.passwords, clock=state.clock)
            board.sync_seat(session, username=user.username, on=state.clock.today())
            return user_out(user)

        return respond(request, current_principal(request), data, work)

    @get("/users", opt=allow(Role.ADMIN), sync_to_thread=True)
    def list_users(self, request: Request[Any, Any, Any]) -> list[UserOut]:
        state = app_state(request)
        return state.db.read(lambda s: [user_out(u) for u in auth.list_users(s)])

    @patch("/users/{username:str}", opt=allow(Role.ADMIN), sync_to_thread=True)
    def update_user(
        self, request: Request[Any, Any, Any], username: FromPath[str],
        data: JSONBody[UserPatchIn],
    ) -> Response[UserOut]:
        """Disable or enable a user, change her role or reset her password (every token she
        holds is revoked; a board user's seat is vacated or taken again with it). The last
        active admin cannot be disabled or demoted (409)."""
        state = app_state(request)

        def work(session: Session) -> UserOut:
            user = auth.update_user(session, username, disabled=data.disabled, role=data.role,
                                    password=data.password, member_code=data.member_code,
                                    passwords=state.passwords, clock=state.clock)
            board.sync_seat(session, username=user.username, on=state.clock.today())
            return user_out(user)

        response = respond(request, current_principal(request), data, work, status=200)
        state.principals.clear()
        return response
