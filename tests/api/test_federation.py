"""Many societies on one server (coop.api.federation), with two societies on their own
databases: requests find their society by host name or by /s/<name>; an unknown one is a
404 problem naming no society; one society's users, tokens, cookies, members and money never
reach the other (and a dispatcher that shared one database would be caught); the counter
works under a prefix, its links, redirects and cookies staying under it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from litestar.testing import TestClient

from coop.api.federation import Federation
from coop.clock import FixedClock
from tests.api.two_societies import (
    CLERK_PASSWORD,
    HOSTS,
    NAMES,
    PASSWORDS,
    Reach,
    Society,
    check_isolated,
    federation_of,
)


@pytest.fixture
def federation(societies: dict[str, Society], clock: FixedClock) -> Federation:
    return federation_of(societies, clock)


@pytest.fixture
def client(federation: Federation) -> Iterator[TestClient[Any]]:
    with TestClient(app=federation) as client:
        yield client


def society_name(client: TestClient[Any], name: str, *, by_host: bool = False,
                 host: str | None = None) -> str:
    """The society's printed name as its admin sees it (the name is in its own database)."""
    reach = Reach(client, by_host=by_host)
    token = reach.token(name, "admin", PASSWORDS[name]).json()["access_token"]
    headers = {**reach.headers(name, token), **({"Host": host} if host else {})}
    answer = client.get(reach.url(name, "/api/v1/society"), headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["name"])


def test_a_request_finds_its_society_by_prefix_or_by_host(client: TestClient[Any]) -> None:
    assert society_name(client, "north") == "North Society"
    assert society_name(client, "south") == "South Society"
    assert society_name(client, "north", by_host=True) == "North Society"
    # the Host header's case, port and trailing dot do not matter
    assert society_name(client, "south", by_host=True, host="SOUTH.coop.test.:8443") \
        == "South Society"
    # on its own host name a society answers for itself alone: no way through to another
    other = client.get("/s/south/api/v1/society", headers={"Host": HOSTS["north"]})
    assert other.status_code == 404
    # the health probe, for monitoring, answers on the server's own name and in a society
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/s/north/health").json() == {"status": "ok"}


UNKNOWN = ("/s/east/api/v1/society", "/api/v1/society", "/s/", "/s/northern/api/v1/society",
           "/counter/login", "/", "/s/North/api/v1/society", "/schema/openapi.json")


def test_an_unknown_society_is_a_404_problem_that_names_none(client: TestClient[Any]) -> None:
    for path in UNKNOWN:
        for headers in ({}, {"Host": "east.coop.test"}, {"Host": "[::1]:8000"}):
            answer = client.get(path, headers=headers)
            assert answer.status_code == 404, (path, headers, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            problem = answer.json()
            assert problem["type"] == "urn:coop:problem:not-found" and problem["status"] == 404
            assert not any(name in answer.text.lower() for name in NAMES)
            assert answer.headers["x-content-type-options"] == "nosniff"
    assert client.post("/s/east/api/v1/auth/token", json={}).status_code == 404


@pytest.mark.parametrize("by_host", [False, True], ids=["by-prefix", "by-host"])
def test_one_societys_users_tokens_members_and_money_stay_its_own(
        client: TestClient[Any], societies: dict[str, Society], by_host: bool) -> None:
    reach = Reach(client, by_host=by_host)
    check_isolated(reach, societies["north"], societies["south"])
    # the same username and password in both: each token is good in its own society only
    token_s = reach.token("south", "clerk1", CLERK_PASSWORD).json()["access_token"]
    token_n = reach.token("north", "clerk1", CLERK_PASSWORD).json()["access_token"]
    assert reach.get("north", "/me", token_n).status_code == 200
    assert reach.get("south", "/me", token_s).status_code == 200
    assert reach.get("north", "/me", token_s).status_code == 401
    assert reach.get("south", "/me", token_n).status_code == 401


def test_a_dispatcher_that_shared_one_database_is_caught(
        societies: dict[str, Society], clock: FixedClock) -> None:
    """The negative control: South's app given North's database (the mistake a federation
    must not make) fails the isolation check."""
    north = societies["north"]
    broken = federation_of(societies, clock, database_of=lambda name: north.db)
    with TestClient(app=broken) as client, \
            pytest.raises(AssertionError, match="North's password logs in at South"):
        check_isolated(Reach(client), north, societies["south"])


def test_apps_that_shared_their_token_cache_are_caught(
        societies: dict[str, Society], clock: FixedClock) -> None:
    """A second negative control, past the login: apps on their own databases that shared
    what they keep in memory (here the cache of authenticated tokens) let a token of North
    in at South, and the check says so."""
    broken = federation_of(societies, clock)
    north_app, south_app = (member.app for member in broken.members)
    south_app.state.coop.principals = north_app.state.coop.principals
    with TestClient(app=broken) as client, \
            pytest.raises(AssertionError, match="North's token is good at South"):
        check_isolated(Reach(client), societies["north"], societies["south"])


def test_every_societys_app_starts_and_stops_with_the_server(
        societies: dict[str, Society], clock: FixedClock) -> None:
    federation = federation_of(societies, clock)
    events: list[str] = []

    def hook(event: str) -> Callable[[], None]:
        return lambda: events.append(event)

    for member in federation.members:
        member.app.on_startup.append(hook(f"start {member.config.name}"))
        member.app.on_shutdown.append(hook(f"stop {member.config.name}"))
    with TestClient(app=federation):
        assert sorted(events) == ["start north", "start south"]
    assert sorted(events) == ["start north", "start south", "stop north", "stop south"]


def test_a_society_that_cannot_start_stops_the_others_and_fails_the_start(
        societies: dict[str, Society], clock: FixedClock) -> None:
    federation = federation_of(societies, clock)
    events: list[str] = []
    north, south = federation.members
    north.app.on_shutdown.append(lambda: events.append("stop north"))

    def broken() -> None:
        raise RuntimeError("south's database is unreachable")

    south.app.on_startup.append(broken)
    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "lifespan.startup"}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(federation, {"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert [message["type"] for message in sent] == ["lifespan.startup.failed"]
    assert "unreachable" in sent[0]["message"] and events == ["stop north"]


def test_each_society_sweeps_its_own_old_idempotency_keys(
        client: TestClient[Any], federation: Federation) -> None:
    """Old idempotency keys are swept at most every ten minutes: per society (a clock for the
    whole process would let a busy society's sweep stand in for a quiet one's)."""
    reach = Reach(client)
    for member in federation.members:
        name = member.config.name
        token = reach.token(name, "admin", PASSWORDS[name]).json()["access_token"]
        made = client.post(reach.url(name, "/api/v1/members"), json={"known_as": "Asha"},
                           headers={**reach.headers(name, token), "Idempotency-Key": "k-1"})
        assert made.status_code == 201, made.text
    assert all(member.app.state.coop.swept_at > 0 for member in federation.members)
