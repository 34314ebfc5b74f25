"""The Accounts page in a real browser (headless Chromium), issue 19: a board member opens it
from her menu at a desk and an auditor on a 360 px phone; the three statements and the five
charts (inline SVG under the strict CSP: the browser reports no violation) fit the screen,
and the balance sheet's PDF opens from its link. Screenshots in test-artifacts/counter/
(70-accounts-desk.png, 71-accounts-phone.png)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.api.conftest import LiveServer
from tests.api.test_statements_api import seed
from tests.e2e.conftest import OpenAs, Shot
from tests.e2e.test_board_room_browser import watch_csp
from tests.e2e.test_counter_loans_browser import PHONE, fits


def test_the_accounts_at_a_desk_and_on_a_phone(live: LiveServer, open_as: OpenAs,
                                               shot: Shot) -> None:
    seed(live.api)
    desk = open_as("board1")
    refused = watch_csp(desk)
    desk.get_by_role("link", name="Accounts").click()
    expect(desk.locator("h1")).to_have_text("Accounts")
    expect(desk.locator("#total-liabilities-and-equity")).to_have_text("₹1,03,850.00")
    expect(desk.locator("#net-surplus")).to_have_text("₹3,800.00")
    expect(desk.locator("svg.chart")).to_have_count(5)
    assert desk.locator("#income-chart rect.bar").count() == 24  # twelve months, two bars
    fits(desk, 1280)
    shot(desk, "70-accounts-desk")
    with desk.expect_response(lambda r: "balance-sheet.pdf" in r.url) as answer:
        desk.evaluate("document.getElementById('balance-sheet-pdf').removeAttribute('target')")
        desk.goto(desk.locator("#balance-sheet-pdf").get_attribute("href") or "")
    assert answer.value.status == 200
    assert answer.value.headers["content-type"] == "application/pdf"
    assert refused == []

    phone = open_as("auditor1", **PHONE)
    phone.goto("/counter/accounts/?as_of=2025-06-30")
    expect(phone.locator("#closing-cash")).to_have_text("₹1,03,850.00")
    fits(phone, 360)
    shot(phone, "71-accounts-phone")
