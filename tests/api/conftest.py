"""API fixtures: the real app on the test database, a user and a token for every role."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import TestClient

from coop import auth, board, members
from coop.api import create_app
from coop.api.deps import AppState
from coop.clock import FixedClock
from coop.config import Settings
from coop.db import Database
from coop.members.vault import Vault

TEST_PASSWORDS = auth.Passwords(memory_kib=1024, time_cost=1, parallelism=1)
TEST_VAULT = Vault(bytes(range(32)))
PASSWORD = "correct horse battery"
USERS = {
    "admin": ("admin", None),
    "board1": ("board", "board-member"),
    "clerk1": ("clerk", None),
    "auditor1": ("auditor", None),
    "member1": ("member", "member"),
}


@dataclass
class Api:
    app: Litestar
    client: TestClient[Litestar]
    db: Database
    clock: FixedClock
    tokens: dict[str, str]
    member_codes: dict[str, str]

    def headers(self, role: str, **extra: str) -> dict[str, str]:
        username = {"admin": "admin", "board": "board1", "clerk": "clerk1",
                    "auditor": "auditor1", "member": "member1"}[role]
        return {"Authorization": f"Bearer {self.tokens[username]}", **extra}

    def get(self, path: str, role: str = "admin", **kw: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers(role), **kw)

    def post(self, path: str, json: Any, role: str = "admin", key: str | None = None,
             **kw: Any) -> httpx.Response:
        headers = self.headers(role, **({"Idempotency-Key": key} if key else {}))
        return self.client.post(path, json=json, headers=headers, **kw)


def make_users(db: Database, clock: FixedClock) -> dict[str, str]:
    """The users of every role; the board and member users are registered members.
    Returns the member numbers drawn for them ("board-member", "member")."""
    codes: dict[str, str] = {}

    def create(session: Any) -> None:
        for username, (role, who) in USERS.items():
            if who is not None:
                codes[who] = members.register_member(
                    session, identity=members.Identity(), joined_on=None, vault=TEST_VAULT,
                    clock=clock).code
            auth.create_user(session, username=username, password=PASSWORD, role=role,
                             member_code=codes.get(who or ""), passwords=TEST_PASSWORDS,
                             clock=clock)
            board.sync_seat(session, username=username, on=clock.today())  # as POST /users
    db.write(create)
    return codes


_SHARED: dict[str, Litestar] = {}


def shared_app(db: Database, clock: FixedClock) -> Litestar:
    """The app, built once per test process, with this test's state (database, clock, caches)
    put in: building one (its routes, their signatures and the OpenAPI document) takes about
    0.35 s, and every API test needs one with the same routes."""
    settings = Settings(database_url=str(db.url))
    app = _SHARED.get("app")
    if app is None:
        app = create_app(settings, db=db, clock=clock, passwords=TEST_PASSWORDS,
                         vault=TEST_VAULT)
        _SHARED["app"] = app
    else:
        app.state.coop = AppState(settings=settings, db=db, clock=clock,
                                  passwords=TEST_PASSWORDS, vault=TEST_VAULT)
    return app


def discard_shared_app() -> None:
    """For a test that changes the app itself (registers a route): the test keeps its app,
    and the next test builds a fresh one."""
    _SHARED.pop("app", None)


@pytest.fixture
def api(db: Database, clock: FixedClock) -> Iterator[Api]:
    member_codes = make_users(db, clock)
    app = shared_app(db, clock)
    with TestClient(app=app) as client:
        tokens = {}
        for username in USERS:
            response = client.post("/api/v1/auth/token",
                                   json={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            tokens[username] = response.json()["access_token"]
        yield Api(app=app, client=client, db=db, clock=clock, tokens=tokens,
                  member_codes=member_codes)


@dataclass
class LiveServer:
    base_url: str
    api: Api


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live(api: Api) -> Iterator[LiveServer]:
    """The same app served by uvicorn on a loopback port, for real concurrent clients."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the test server did not start"
    yield LiveServer(base_url=f"http://127.0.0.1:{port}", api=api)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def societies(template: str, tmp_path: Path, clock: FixedClock) -> Iterator[Any]:
    """Two societies, North and South, each in its own database (tests.api.two_societies)."""
    from tests.api.two_societies import two_societies

    yield from two_societies(template, tmp_path, clock)
