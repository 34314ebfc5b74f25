"""coop.api.security.in_turn: the app's guards as one guard (one copy of the route handler per
request instead of one per guard), run in their order, the first refusal ending the run."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, get
from litestar.exceptions import PermissionDeniedException
from litestar.testing import TestClient

from coop.api.security import in_turn


def recording(name: str, calls: list[str], *, refuse: bool = False) -> Any:
    async def guard(connection: Any, handler: Any) -> None:
        calls.append(name)
        if refuse and connection.headers.get("x-refuse") == name:
            raise PermissionDeniedException(detail=f"{name} refused")
    guard.__name__ = name
    return guard


@get("/")
async def hello() -> str:
    return "hello"


@pytest.mark.parametrize(("refused_by", "status", "ran"), [
    (None, 200, ["first", "second", "third"]),
    ("second", 403, ["first", "second"]),  # the third never runs
    ("first", 403, ["first"]),
])
def test_guards_run_in_their_order_and_stop_at_the_first_refusal(
        refused_by: str | None, status: int, ran: list[str]) -> None:
    calls: list[str] = []
    guard = in_turn(recording("first", calls, refuse=True), recording("second", calls, refuse=True),
                    recording("third", calls))
    assert guard.__doc__ == "first then second then third"
    app = Litestar(route_handlers=[hello], guards=[guard])
    with TestClient(app=app) as client:
        headers = {"x-refuse": refused_by} if refused_by else {}
        assert client.get("/", headers=headers).status_code == status
    assert calls == ran


def test_the_app_has_one_guard_of_all_four() -> None:
    from typing import cast

    from coop.api import create_app
    from coop.config import Settings
    from coop.db import Database

    app = create_app(Settings(database_url="sqlite:///unused-guards.db"),
                     db=cast(Database, object()))
    assert len(app.guards) == 1
    assert app.guards[0].__doc__ == ("https_only then authorize then counter_csrf then "
                                     "password_first")
