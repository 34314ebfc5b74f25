"""Every POST under /counter refuses a form without its CSRF token, or with another, and
changes nothing: the route table is walked, so a counter POST added tomorrow is checked too.

The check lives in one place (the app-level guard `coop.api.counter.web.counter_csrf`); this
test does not trust that, it asks every route. Each is called by a logged-in user whose role
may call it (so a refusal for the role cannot pass for a CSRF refusal), and the refusal must
be the CSRF one, in words. The negative controls show the walk catches a route that lets a
form through: a throwaway counter route is walked too, and once the check is switched off for
it, the walk names it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from litestar import Litestar, Request, post
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.api.counter import web
from coop.api.security import allow
from coop.auth import Role
from coop.db import Base, Database
from tests.api.conftest import PASSWORD, Api, discard_shared_app

USERNAME_BY_ROLE = {Role.CLERK: "clerk1", Role.ADMIN: "admin", Role.BOARD: "board1",
                    Role.AUDITOR: "auditor1", Role.MEMBER: "member1"}
REFUSALS = ("did not come from this counter", "the login form has expired")
PARAM = re.compile(r"\{(\w+):(\w+)\}")
THROWAWAY = "/counter/throwaway"


def counter_posts(app: Litestar) -> list[tuple[str, HTTPRouteHandler]]:
    """(path, handler) of every POST route under /counter in the app's route table."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/counter"):
            continue
        if "POST" in route.route_handler_map:
            found.append((route.path, route.route_handler_map["POST"][0]))
    return sorted(found, key=lambda pair: pair[0])


def concrete(path: str, member_code: str) -> str:
    """A route path with its parameters filled: a real member number, 1 for the ids, a year."""
    def value(match: re.Match[str]) -> str:
        name, kind = match.groups()
        if kind == "str":
            return member_code
        return "2025" if name == "fy" else "1"

    return PARAM.sub(value, path)


def fingerprint(db: Database) -> str:
    """A digest of every row of every table: any write shows."""
    def read(session: Session) -> str:
        digest = hashlib.sha256()
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()

    return db.read(read)


def _login(client: TestClient[Litestar], username: str) -> TestClient[Litestar]:
    form = client.get("/counter/login")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf, form.text
    done = client.post("/counter/login", data={"csrf": csrf.group(1), "username": username,
                                               "password": PASSWORD}, follow_redirects=False)
    assert done.status_code == 303, done.text
    return client


Browser = Callable[[Role], TestClient[Litestar]]


@pytest.fixture
def browser(api: Api) -> Iterator[Browser]:
    """One logged-in browser (its own session cookie) per role, opened when first asked."""
    with ExitStack() as stack:
        opened: dict[Role, TestClient[Litestar]] = {}

        def open_as(role: Role) -> TestClient[Litestar]:
            if role not in opened:
                client = stack.enter_context(TestClient(app=api.app))
                opened[role] = _login(client, USERNAME_BY_ROLE[role])
            return opened[role]

        yield open_as


def unprotected(api: Api, browser: Browser) -> tuple[int, list[str]]:
    """Post to every counter POST route without a token and with a wrong one; returns how
    many routes were checked and what each one that did not refuse did instead."""
    code = api.member_codes["member"]
    wrong = web.csrf_for("the token of another session")
    failures = []
    routes = counter_posts(api.app)
    for path, handler in routes:
        roles = handler.opt.get("roles") or frozenset({Role.CLERK})
        role = next(r for r in USERNAME_BY_ROLE if r in roles)
        client = browser(role)
        url = concrete(path, code)
        form = {"amount": "100", "count": "1", "key": "k-" + url, "decision": "approve",
                "rate": "5", "through": "1", "book": code + "-1", "confirm": "1",
                "username": USERNAME_BY_ROLE[role], "password": PASSWORD}
        for sent in ({}, {"csrf": wrong}):
            before = fingerprint(api.db)
            response = client.post(url, data={**form, **sent}, follow_redirects=False)
            changed = fingerprint(api.db) != before
            refused = response.status_code == 403 and any(
                words in response.text for words in REFUSALS)
            if not refused or changed:
                failures.append(f"POST {path} with csrf={sent.get('csrf', '(none)')}: "
                                f"{response.status_code}, state changed: {changed}")
    return len(routes), failures


def _throwaway(calls: list[str]) -> HTTPRouteHandler:
    @post(THROWAWAY, opt=allow(Role.CLERK), sync_to_thread=False, status_code=200)
    def throwaway(request: Request[Any, Any, Any], data: web.Form) -> str:
        calls.append(request.url.path)
        return "done"

    return throwaway


def test_every_counter_post_refuses_a_missing_or_wrong_csrf_token(
    api: Api, browser: Browser, figure: Callable[[str], None]
) -> None:
    checked, failures = unprotected(api, browser)
    assert failures == []
    assert checked >= 10  # login, logout, cash, shares, loans, passbook, register, board
    figure(f"counter CSRF: {checked} POST routes refuse a missing and a wrong token")


def test_a_new_counter_route_is_checked_and_one_that_skips_the_check_is_caught(
    api: Api, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    discard_shared_app()  # the route registered here must not reach later tests
    api.app.register(_throwaway(calls))
    assert THROWAWAY in [path for path, _ in counter_posts(api.app)]
    _, failures = unprotected(api, browser)
    assert failures == [] and calls == []  # the guard covers a route nobody told it about

    checking = web.check_csrf

    def skipping_the_throwaway(request: Request[Any, Any, Any], form: dict[str, Any]) -> None:
        if request.url.path != THROWAWAY:
            checking(request, form)

    monkeypatch.setattr(web, "check_csrf", skipping_the_throwaway)
    _, failures = unprotected(api, browser)
    assert len(failures) == 2 and all(THROWAWAY in failure for failure in failures)
    assert calls == [THROWAWAY, THROWAWAY]
