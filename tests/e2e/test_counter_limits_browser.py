"""Issue 16 in a real browser (headless Chromium): the clerk who types extra zeros into the
deposit box is refused with the ceiling in words and nothing posted; 75,000 stops at a second
step repeating the amount in digits and words, and posts only when she confirms (Enter on the
focused Confirm button); Cancel leaves it unposted."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.api.conftest import LiveServer
from tests.e2e.conftest import OpenAs, Shot
from tests.e2e.test_counter_browser import balance, enter, entries, find, has_focus, notice

BASE = "/api/v1"


def _member(live: LiveServer) -> str:
    response = live.api.post(f"{BASE}/members", {"joined_on": "2024-01-01"}, role="admin")
    assert response.status_code == 201, response.text
    return str(response.json()["code"])


def _deposit(page: Page, amount: str) -> int:
    page.locator("#deposit-amount").fill(amount)
    with page.expect_navigation() as navigation:
        page.locator("#deposit-amount").press("Enter")
    return int(navigation.value.status)


def test_a_large_deposit_is_refused_or_confirmed(live: LiveServer, open_as: OpenAs,
                                                  shot: Shot) -> None:
    api = live.api
    code = _member(live)
    page = open_as("clerk1")
    find(page, code)
    before = entries(api)

    assert _deposit(page, "1000000000000") == 422
    expect(page.locator("#deposit-error")).to_contain_text("₹10,00,000.00 (ten lakh)")
    assert balance(page) == "₹0.00" and entries(api) == before
    shot(page, "limits-01-above-the-ceiling")

    assert _deposit(page, "75000") == 200
    expect(page.locator("#large-digits")).to_have_text("₹75,000.00")
    expect(page.locator("#large-words")).to_have_text("seventy-five thousand")
    shot(page, "limits-02-confirm")
    with page.expect_navigation():
        page.get_by_role("link", name="Cancel").click()
    assert balance(page) == "₹0.00" and entries(api) == before

    assert _deposit(page, "75000") == 200
    has_focus(page, "#large-amount button")
    assert enter(page).status == 200
    assert notice(page) == "Deposited ₹75,000.00. Balance ₹75,000.00."
    assert balance(page) == "₹75,000.00" and entries(api) == before + 1
    shot(page, "limits-03-confirmed")
