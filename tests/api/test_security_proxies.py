"""Issue 15, finding 11: forwarded headers are believed only from configured proxies."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from coop.api.server import server_options
from coop.config import Settings
from tests.api.conftest import Api, _free_port


@contextmanager
def serving(api: Api, settings: Settings) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=port,
                                           **server_options(settings)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _rotating_guesses(base: str, count: int) -> list[int]:
    with httpx.Client(base_url=base) as client:
        return [client.post("/api/v1/auth/token",
                            json={"username": f"guess{n}", "password": "not it at all"},
                            headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(count)]


def test_a_local_client_cannot_choose_its_address(api: Api) -> None:
    with serving(api, Settings()) as base:
        codes = _rotating_guesses(base, 21)
        assert codes[:20] == [401] * 20 and codes[20] == 429  # all counted as 127.0.0.1
        with httpx.Client(base_url=base) as client:
            form = client.get("/counter/login", headers={"X-Forwarded-Proto": "https"})
        assert "secure" not in form.headers["set-cookie"].lower()


def test_a_configured_proxy_is_believed(api: Api) -> None:
    with serving(api, Settings(trusted_proxies=("127.0.0.1",))) as base:
        assert _rotating_guesses(base, 21) == [401] * 21  # one address each, as forwarded
        with httpx.Client(base_url=base) as client:
            form = client.get("/counter/login", headers={"X-Forwarded-Proto": "https"})
        assert "secure" in form.headers["set-cookie"].lower()
