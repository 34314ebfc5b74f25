"""Issue 21: plain HTTP only for the machine itself; over HTTPS, HSTS and `Secure` cookies.

The app is served by uvicorn on loopback with 127.0.0.1 as its trusted proxy, so a test plays
a counter PC on the network by sending X-Forwarded-For (its address) and X-Forwarded-Proto
(how it reached the proxy), exactly what uvicorn puts into the ASGI scope behind a proxy.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from coop.api import create_app
from coop.api.security import secure_cookie
from coop.config import Settings
from coop.i18n import LANGUAGE_CODES, catalogue
from tests.api.conftest import TEST_PASSWORDS, TEST_VAULT, Api
from tests.api.test_security_proxies import serving

PC = "192.168.1.20"


@pytest.fixture
def base(api: Api) -> Iterator[str]:
    settings = Settings(database_url=str(api.db.url), https_only=True,
                        trusted_proxies=("127.0.0.1",))
    app = create_app(settings, db=api.db, clock=api.clock, passwords=TEST_PASSWORDS,
                     vault=TEST_VAULT)
    original = api.app
    api.app = app
    try:
        with serving(api, settings) as url:
            yield url
    finally:
        api.app = original


def _from(client: str, scheme: str) -> dict[str, str]:
    return {"X-Forwarded-For": client, "X-Forwarded-Proto": scheme}


def test_plain_http_from_another_machine_is_told_to_use_https(base: str, api: Api) -> None:
    with httpx.Client(base_url=base, headers={"Host": "coop.office.lan:8000"}) as client:
        page = client.get("/counter/login", headers=_from(PC, "http"))
        assert page.status_code == 403
        assert page.headers["content-type"].startswith("text/html")
        assert "Use the secure address" in page.text
        assert "https://coop.office.lan/counter/login" in page.text
        assert "set-cookie" not in page.headers  # no login form, no cookie in the clear
        assert 'name="password"' not in page.text

        login = client.post("/counter/login", data={"username": "clerk1", "password": "x"},
                            headers=_from(PC, "http"))
        assert login.status_code == 403 and "Use the secure address" in login.text

        token = f"Bearer {api.tokens['admin']}"
        refused = client.get("/api/v1/society", headers={**_from(PC, "http"),
                                                        "Authorization": token})
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["type"] == "urn:coop:problem:https-required"
        assert "https://coop.office.lan/api/v1/society" in problem["detail"]
        assert client.post("/api/v1/auth/token", json={"username": "admin", "password": "x"},
                           headers=_from(PC, "http")).status_code == 403

        assert client.get("/health", headers=_from(PC, "http")).status_code == 200

        # the same machine over a proxy that terminated TLS: served, cookies Secure, HSTS
        page = client.get("/counter/login", headers=_from(PC, "https"))
        assert page.status_code == 200 and 'name="password"' in page.text
        assert "; secure" in page.headers["set-cookie"].lower()
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        api_answer = client.get("/api/v1/society", headers={**_from(PC, "https"),
                                                           "Authorization": token})
        assert api_answer.status_code == 200
        assert api_answer.headers["strict-transport-security"] == "max-age=31536000"


def test_the_machine_itself_may_use_plain_http(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        page = client.get("/counter/login")
        assert page.status_code == 200 and 'name="password"' in page.text
        assert "secure" not in page.headers["set-cookie"].lower()
        assert "strict-transport-security" not in page.headers
        forwarded_local = client.get("/counter/login", headers=_from("::1", "http"))
        assert forwarded_local.status_code == 200


def test_a_server_that_does_not_ask_for_it_answers_plain_http(api: Api) -> None:
    with serving(api, Settings(trusted_proxies=("127.0.0.1",))) as url, \
            httpx.Client(base_url=url) as client:
        assert client.get("/counter/login", headers=_from(PC, "http")).status_code == 200


def test_the_refusal_is_said_in_every_language() -> None:
    for language in LANGUAGE_CODES:
        if language == "en":
            continue
        words = catalogue(language)
        assert words.get("Use the secure address")
        message = next(text for msgid, text in words.items()
                       if msgid.startswith("This counter works only over a secure"))
        assert "{address}" in message


@pytest.mark.parametrize(("cookie", "expected"), [
    (b"a=1; Path=/counter; HttpOnly", b"a=1; Path=/counter; HttpOnly; Secure"),
    (b"a=1; Path=/; Secure; HttpOnly", b"a=1; Path=/; Secure; HttpOnly"),
    (b"a=1; secure", b"a=1; secure"),
    (b"secure=1", b"secure=1; Secure"),
])
def test_secure_cookie(cookie: bytes, expected: bytes) -> None:
    assert secure_cookie(cookie) == expected
