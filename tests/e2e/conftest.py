"""Browser fixtures for the counter's end-to-end tests: one headless Chromium (Debian's, at
/usr/bin/chromium, no `playwright install`) per module, and per test a browser context for
each user, logged in through the login page (each context is its own cookie jar: two board
members are two contexts). The app is the `live` server of tests/api (uvicorn on a loopback
port, the same database as `api`). Screenshots go to test-artifacts/counter/."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.api.conftest import PASSWORD, LiveServer, api, live  # noqa: F401  (fixtures)

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "counter"
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/counter/ (each run overwrites the screenshots by name)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian package chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


Shot = Callable[[Page, str], Path]


@pytest.fixture
def shot(artifacts: Path) -> Shot:
    """A full-page PNG of the page as it is now, named by its step (e.g. "01-login")."""
    def take(page: Page, name: str) -> Path:
        path = artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take


OpenAs = Callable[..., Page]


@pytest.fixture
def open_as(browser: Browser, live: LiveServer, shot: Shot) -> Iterator[OpenAs]:  # noqa: F811
    """`open_as("clerk1")`: a new context (its own cookies) logged in as that user through
    the login page, on the page the login leads to; `login_shot` names a screenshot of the
    filled login form; other keywords (viewport, is_mobile...) go to the context."""
    contexts: list[BrowserContext] = []

    def open_context(username: str = "clerk1", *, viewport: dict[str, int] | None = None,
                     login_shot: str | None = None, **options: object) -> Page:
        context = browser.new_context(base_url=live.base_url,
                                      viewport=viewport or {"width": 1280, "height": 800},  # type: ignore[typeddict-item]
                                      **options)  # type: ignore[arg-type]
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        log_in(page, username, shot=shot, name=login_shot)
        return page

    yield open_context
    for context in contexts:
        context.close()


def log_in(page: Page, username: str, *, shot: Shot | None = None,
           name: str | None = None) -> None:
    """Type the user name (the field has autofocus), Tab, the password, Enter."""
    page.goto("/counter/login")
    expect(page.locator("#username")).to_be_focused(timeout=3000)
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    if shot is not None and name is not None:
        shot(page, name)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/counter/login" not in page.url, page.content()
