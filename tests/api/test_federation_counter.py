"""The counter's pages of a society reached under its prefix (/s/north/counter/...): every
link, form and redirect stays under the prefix, the session cookie's Path is the society's
own, and one browser logged in to two societies holds two sessions that never meet."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from coop.clock import FixedClock
from tests.api.two_societies import (
    CLERK_PASSWORD,
    PASSWORDS,
    Reach,
    Society,
    balances,
    federation_of,
)

NORTH, SOUTH = "/s/north/counter", "/s/south/counter"
LINK = re.compile(r"""\s(?:href|src|action|formaction)\s*=\s*["']([^"']*)["']""")
HREF = re.compile(r'\shref="([^"]*)"')
NOT_PAGES = (".pdf", ".csv", ".xlsx", "/logout")


@pytest.fixture
def client(societies: dict[str, Society], clock: FixedClock) -> Iterator[TestClient[Any]]:
    with TestClient(app=federation_of(societies, clock)) as client:
        yield client


def links_outside(html: str, prefix: str) -> list[str]:
    """The page's root-relative addresses that are not under `prefix`."""
    return [link for link in LINK.findall(html)
            if link.startswith("/") and not link.startswith(f"{prefix}/")]


def log_in(client: TestClient[Any], counter: str, username: str,
           password: str) -> httpx.Response:
    form = client.get(f"{counter}/login")
    assert form.status_code == 200, form.text
    assert links_outside(form.text, counter.rsplit("/", 1)[0]) == []
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf, form.text
    return client.post(f"{counter}/login", data={"csrf": csrf.group(1), "username": username,
                                                 "password": password},
                       follow_redirects=False)


def fields(html: str, form_id: str) -> dict[str, str]:
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S)
    assert form, f"no form {form_id}"
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group()))


def session_cookies(client: TestClient[Any]) -> dict[str, str]:
    """The browser's session cookies by their Path."""
    return {cookie.path: cookie.value or "" for cookie in client.cookies.jar
            if cookie.name == "coop_session"}


def test_the_counter_under_a_prefix_keeps_links_redirects_and_cookie_there(
        client: TestClient[Any], societies: dict[str, Society]) -> None:
    form = client.get(f"{NORTH}/login")
    assert "Path=/s/north/counter" in form.headers["set-cookie"]
    done = log_in(client, NORTH, "clerk1", CLERK_PASSWORD)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{NORTH}/"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("coop_session=") and "Path=/s/north/counter;" in f"{cookie};"
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()

    home = client.get(done.headers["location"])
    assert home.status_code == 200 and 'name="code"' in home.text
    assert "form-action 'self'" in home.headers["content-security-policy"]  # the counter's
    assert links_outside(home.text, "/s/north") == []
    code = societies["north"].member_code
    found = client.get(f"{NORTH}/find", params={"code": code}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"{NORTH}/members/{code}"
    page = client.get(found.headers["location"])
    assert page.status_code == 200 and links_outside(page.text, "/s/north") == []
    assert f'action="{NORTH}/members/{code}/deposit"' in page.text

    posted = client.post(f"{NORTH}/members/{code}/deposit",
                         data={**fields(page.text, "deposit-form"), "amount": "250"},
                         follow_redirects=False)
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"].startswith(f"{NORTH}/members/{code}?done=")
    after = client.get(posted.headers["location"])
    assert '<strong id="balance">₹250.00</strong>' in after.text
    reach = Reach(client)
    token = reach.token("south", "admin", PASSWORDS["south"]).json()["access_token"]
    assert balances(reach, "south", token)["2000"] == "0.00"  # North's deposit, not South's


def test_every_page_the_admin_reaches_links_under_its_prefix(client: TestClient[Any]) -> None:
    """A walk through the pages linked from the admin's home, two clicks deep: each answers
    and writes every address of its own under /s/north (a link left at /counter/... would
    leave the society)."""
    assert log_in(client, NORTH, "admin", PASSWORDS["north"]).status_code == 303
    seen: set[str] = set()
    todo = [f"{NORTH}/"]
    for _ in range(2):
        found: list[str] = []
        for url in todo:
            page = client.get(url)
            assert page.status_code == 200, (url, page.status_code)
            assert links_outside(page.text, "/s/north") == [], url
            found += [link.split("#")[0] for link in HREF.findall(page.text)
                      if link.startswith(f"{NORTH}/") and not link.endswith(NOT_PAGES)]
        seen.update(todo)
        todo = sorted({link for link in found if link and link not in seen})[:30]
    assert len(seen) >= 6, seen


def test_one_browser_holds_two_societies_sessions_apart(
        client: TestClient[Any], societies: dict[str, Society]) -> None:
    north, south = societies["north"], societies["south"]
    assert log_in(client, NORTH, "clerk1", CLERK_PASSWORD).status_code == 303
    assert log_in(client, SOUTH, "clerk1", CLERK_PASSWORD).status_code == 303
    sessions = session_cookies(client)
    assert set(sessions) == {NORTH, SOUTH}, sessions  # the second login replaced nothing
    assert sessions[NORTH] != sessions[SOUTH]

    assert client.get(f"{NORTH}/members/{north.member_code}").status_code == 200
    assert client.get(f"{SOUTH}/members/{south.member_code}").status_code == 200
    # North's member at South's counter: as a number South never drew
    theirs = client.get(f"{SOUTH}/members/{north.member_code}")
    assert theirs.status_code == client.get(f"{SOUTH}/members/M-ZZZZZZ").status_code != 200
    assert "there is no member" in theirs.text

    # North's session cookie carried to South by hand: South does not know it
    with TestClient(app=client.app) as other:
        other.cookies.set("coop_session", sessions[NORTH], path=SOUTH)
        refused = other.get(f"{SOUTH}/", follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"] == f"{SOUTH}/login"

    # logging out of South leaves North's session as it was
    home = client.get(f"{SOUTH}/")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', home.text)
    assert csrf
    out = client.post(f"{SOUTH}/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == f"{SOUTH}/login"
    assert client.get(f"{SOUTH}/", follow_redirects=False).status_code == 303
    assert client.get(f"{NORTH}/", follow_redirects=False).status_code == 200


def test_the_api_document_and_viewer_under_a_prefix(client: TestClient[Any]) -> None:
    viewer = client.get("/s/south/schema/swagger")
    assert viewer.status_code == 200
    assert links_outside(viewer.text, "/s/south") == []
    assets = re.findall(r"""(?:href|src)='([^']+)'""", viewer.text)
    assert assets and all(client.get(asset).status_code == 200 for asset in assets)
    assert client.get("/s/south/schema/openapi.json").json()["info"]["title"] == "coop"


def test_plain_http_from_afar_is_told_the_societys_own_https_address(
        societies: dict[str, Society], clock: FixedClock) -> None:
    for society in societies.values():
        society.config = replace(society.config,
                                 settings=replace(society.config.settings, https_only=True))
    with TestClient(app=federation_of(societies, clock)) as afar:  # not loopback
        page = afar.get(f"{NORTH}/login")
        assert page.status_code == 403
        assert "https://testserver.local/s/north/counter/login" in page.text
        problem = afar.get("/s/south/api/v1/me").json()
        assert problem["detail"].endswith("use https://testserver.local/s/south/api/v1/me")


def test_a_refused_deposit_under_a_prefix_comes_back_to_her_page(
        client: TestClient[Any], societies: dict[str, Society]) -> None:
    """The till offered on a refused deposit sends the clerk back to the member's page, under
    the prefix (the form's `back` is the page's path within the society)."""
    from coop.society import update_settings

    north = societies["north"]
    north.db.write(lambda s: update_settings(s, {"require_open_till": True}))
    assert log_in(client, NORTH, "clerk1", CLERK_PASSWORD).status_code == 303
    code = north.member_code
    page = client.get(f"{NORTH}/members/{code}")
    refused = client.post(f"{NORTH}/members/{code}/deposit",
                          data={**fields(page.text, "deposit-form"), "amount": "50"})
    assert refused.status_code == 422 and 'id="till-offer"' in refused.text
    offer = fields(refused.text, "till-offer")
    assert offer["back"] == f"/counter/members/{code}/deposit"
    opened = client.post(f"{NORTH}/tills/open", data={**offer, "opening_float": "0"},
                         follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"].startswith(f"{NORTH}/members/{code}?done=")
