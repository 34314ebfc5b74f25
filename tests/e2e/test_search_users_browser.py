"""Finding members and managing logins in a real browser (headless Chromium), keyboard first:
a clerk finds a member by her known-as name (in Kannada) and by phone (two members sharing it
are both listed), and registering a third with that phone warns her first; an admin makes a
login and resets its password, and its user must change it before anything else; a member
logs in with her member number and a PIN. Screenshots at 1024x600 and 360 px wide in
test-artifacts/counter/."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.api.conftest import Api, LiveServer
from tests.e2e.conftest import OpenAs, Shot

BASE = "/api/v1"
KANNADA = "ಲಕ್ಷ್ಮಿ ದೇವಿ"
PHONE = "98450 12345"
SMALL = {"width": 1024, "height": 600}
PHONE_SCREEN = {"width": 360, "height": 740}


def register(api: Api, **identity: str) -> str:
    made = api.post(f"{BASE}/members", identity, role="clerk")
    assert made.status_code == 201, made.text
    return str(made.json()["code"])


def type_and_enter(page: Page, selector: str, text: str) -> None:
    page.locator(selector).fill(text)
    with page.expect_navigation():
        page.locator(selector).press("Enter")


def log_in_as(browser: Browser, live: LiveServer, username: str, secret: str,
              viewport: dict[str, int] = SMALL) -> Page:
    context = browser.new_context(base_url=live.base_url, viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/counter/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(secret)
    with page.expect_navigation():
        page.locator("#password").press("Enter")
    return page


def test_a_clerk_finds_a_member_by_her_known_as_name_and_by_phone(
        api: Api, open_as: OpenAs, shot: Shot) -> None:
    lakshmi = register(api, known_as=KANNADA, phone=PHONE)
    sharing = register(api, known_as="Asha", phone="+91 " + PHONE)
    page = open_as("clerk1", viewport=SMALL)
    expect(page.locator("#code")).to_be_focused()
    type_and_enter(page, "#code", "ದೇವಿ ಲಕ್ಷ್ಮಿ")  # her words, in any order
    expect(page.locator("#found")).to_contain_text(lakshmi)
    expect(page.locator("#found")).to_contain_text(KANNADA)
    assert sharing not in page.locator("#found").inner_text()
    assert "ಲಕ್ಷ್ಮಿ" not in page.url  # names never in a URL
    shot(page, "search-01-by-name-1024")
    with page.expect_navigation():
        page.get_by_role("link", name=lakshmi).click()
    expect(page.locator("h1")).to_contain_text(f"{lakshmi} · {KANNADA}")

    page.goto("/counter/")
    type_and_enter(page, "#code", PHONE)
    found = page.locator("#found").inner_text()
    assert lakshmi in found and sharing in found  # both who share the phone
    expect(page.locator("#found-heading")).to_have_text("Members with this phone")
    shot(page, "search-02-by-phone-1024")

    type_and_enter(page, "#code", "ಲಕ್ಷ್")  # the start of a word finds nobody: said so
    expect(page.locator("#code-error")).to_contain_text("whole words")
    shot(page, "search-03-nobody-1024")

    narrow = open_as("clerk1", viewport=PHONE_SCREEN, is_mobile=True)
    type_and_enter(narrow, "#code", "asha")
    expect(narrow.locator("#found")).to_contain_text(sharing)
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 360
    shot(narrow, "search-04-by-name-360")


def test_registering_a_phone_on_record_warns_and_buys_the_first_share(
        api: Api, open_as: OpenAs, shot: Shot) -> None:
    first = register(api, known_as="Asha", phone=PHONE)
    page = open_as("clerk1", viewport=SMALL)
    with page.expect_navigation():
        page.get_by_role("link", name="Register a member").click()
    page.locator("#known_as").fill("Bina")
    page.locator("#phone").fill(PHONE)
    assert page.locator("#shares").input_value() == "1"
    with page.expect_navigation():
        page.locator("#phone").press("Enter")
    expect(page.locator("#phone-on-record")).to_contain_text(first)
    expect(page.locator("#register-anyway")).to_be_focused()
    shot(page, "search-05-phone-on-record-1024")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/counter/members/[^/?]+\?done="))
    expect(page.locator("p.notice")).to_contain_text("She now has 1 shares.")
    expect(page.locator("#shares")).to_have_text("1 · ₹10.00")
    shot(page, "search-06-registered-with-share-1024")


def test_an_admin_makes_a_login_and_resets_its_password(
        api: Api, open_as: OpenAs, shot: Shot, browser: Browser, live: LiveServer) -> None:
    admin = open_as("admin", viewport=SMALL)
    with admin.expect_navigation():
        admin.get_by_role("link", name="Users").click()
    admin.locator("#role-clerk").check()
    admin.locator("#username").fill("meena")
    admin.locator("#password").fill("tamarind rain window")
    admin.locator("#password_again").fill("tamarind rain window")
    shot(admin, "users-01-new-login-1024")
    with admin.expect_navigation():
        admin.locator("#create-user").click()
    expect(admin.locator("p.notice")).to_contain_text("Login meena made")
    expect(admin.locator("#users")).to_contain_text("must change her password")
    shot(admin, "users-02-made-1024")

    with admin.expect_navigation():
        admin.get_by_role("link", name="meena").click()
    admin.locator("#password").fill("copper kettle morning")
    admin.locator("#password_again").fill("copper kettle morning")
    with admin.expect_navigation():
        admin.locator("#reset-password").click()
    expect(admin.locator("p.notice")).to_contain_text("Password reset")
    shot(admin, "users-03-reset-1024")

    meena = log_in_as(browser, live, "meena", "copper kettle morning")
    assert meena.url.endswith("/counter/password")  # before anything else
    expect(meena.locator("#must-change")).to_be_visible()
    meena.goto("/counter/register")
    assert meena.url.endswith("/counter/password")
    meena.locator("#current_password").fill("copper kettle morning")
    meena.locator("#new_password").fill("mango lantern seventeen")
    meena.locator("#new_password_again").fill("mango lantern seventeen")
    shot(meena, "users-04-forced-change-1024")
    with meena.expect_navigation():
        meena.locator("#change-password").click()
    expect(meena.locator("#code")).to_be_visible()  # the find page: her day begins
    me = api.client.post(f"{BASE}/auth/token", json={"username": "meena",
                                                     "password": "mango lantern seventeen"})
    assert me.status_code == 200 and me.json()["must_change_password"] is False

    narrow = open_as("admin", viewport=PHONE_SCREEN, is_mobile=True)
    narrow.goto("/counter/users")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 360
    shot(narrow, "users-05-list-360")


def test_a_member_logs_in_with_her_number_and_a_pin(
        api: Api, shot: Shot, browser: Browser, live: LiveServer) -> None:
    code = register(api, known_as="Kavya")
    made = api.post(f"{BASE}/users", {"username": code.lower(), "password": "739154",
                                      "role": "member", "member_code": code})
    assert made.status_code == 201, made.text
    page = log_in_as(browser, live, code, "739154", viewport=PHONE_SCREEN)
    assert page.url.endswith(f"/counter/members/{code}"), page.url  # POST /users: no reset
    expect(page.locator("h1")).to_contain_text(code)
    shot(page, "users-06-member-pin-360")
    wrong = log_in_as(browser, live, code, "739155", viewport=PHONE_SCREEN)
    assert "/counter/login" in wrong.url
