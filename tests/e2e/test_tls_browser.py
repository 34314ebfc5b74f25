"""Issue 21: a clerk's Chromium that trusts the office's authority the way `coop tls init`
says (certutil into the NSS database in $HOME/.pki/nssdb) logs in at the counter over HTTPS;
one that does not trust it gets no page."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, TIMEOUT_MS
from tests.integration.office import ADMIN_PASSWORD, make_office, tls_args

pytestmark = pytest.mark.slow


def trusting_home(home: Path, ca: Path) -> None:
    """$HOME with an NSS database that trusts `ca`, as the printed instructions do it."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "coop", "-i",
                    str(ca)], check=True)


def test_a_counter_browser_logs_in_over_https(tmp_path: Path) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian package chromium)")
    if shutil.which("certutil") is None:
        pytest.skip("no certutil (Debian package libnss3-tools)")
    office = make_office(tmp_path / "office")
    trusting, stranger = tmp_path / "clerk", tmp_path / "stranger"
    trusting_home(trusting, office.ca)
    stranger.mkdir()
    args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    with office.serving(*tls_args(office)) as port, sync_playwright() as playwright:
        base = f"https://localhost:{port}"
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=args, env={"HOME": str(trusting)})
        try:
            context = browser.new_context()
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            answer = page.goto(f"{base}/counter/login")
            assert answer is not None and answer.status == 200
            assert answer.headers["strict-transport-security"] == "max-age=31536000"
            page.fill("#username", "admin")
            page.fill("#password", ADMIN_PASSWORD)
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert "/counter/login" not in page.url, page.content()
            assert page.url.startswith(base)
            cookies = {c["name"]: c for c in context.cookies(f"{base}/counter/")}
            assert cookies["coop_session"]["secure"] and cookies["coop_session"]["httpOnly"]
            expect(page.locator("body")).not_to_contain_text("Use the secure address")
        finally:
            browser.close()

        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=args, env={"HOME": str(stranger)})
        try:
            with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
                browser.new_page().goto(f"{base}/counter/login")
        finally:
            browser.close()
