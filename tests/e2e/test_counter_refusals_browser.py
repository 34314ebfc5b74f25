"""Issue 17 in a real browser (headless Chromium): a counter in Kannada. A withdrawal larger
than her savings is refused in Kannada with the amount as people write it (₹ and lakh
grouping), the typed amount is kept, and the cursor is back in the withdrawal box (Enter
again must not deposit); at 360 px the refusal and the box fit the screen."""

from __future__ import annotations

from playwright.sync_api import expect

from coop.i18n import Translator
from tests.api.conftest import LiveServer
from tests.e2e.conftest import OpenAs, Shot
from tests.e2e.test_counter_browser import balance, entries

BASE = "/api/v1"


def test_a_refusal_in_kannada_with_grouped_money_and_the_focus_on_it(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    api = live.api
    changed = api.client.patch(f"{BASE}/society", json={"settings": {"language": "kn"}},
                               headers=api.headers("admin"))
    assert changed.status_code == 200, changed.text
    made = api.post(f"{BASE}/members", {"joined_on": "2024-01-01"}, role="admin")
    assert made.status_code == 201, made.text
    code = str(made.json()["code"])
    paid = api.post(f"{BASE}/members/{code}/deposits", {"amount": "11814.52"}, role="clerk")
    assert paid.status_code == 201, paid.text

    for width, height in ((1024, 600), (360, 740)):
        page = open_as("clerk1", viewport={"width": width, "height": height})
        page.goto(f"/counter/members/{code}")
        expect(page.locator("#deposit-amount")).to_be_focused()
        before = entries(api)
        page.locator("#withdrawal-amount").fill("20,000")
        with page.expect_navigation() as refused:
            page.locator("#withdrawal-amount").press("Enter")
        assert refused.value.status == 422
        words = Translator("kn")("the available balance is {amount}").format(
            amount="₹11,814.52")
        expect(page.locator("#withdrawal-error")).to_have_text(words)
        assert page.locator("#withdrawal-amount").input_value() == "20,000"
        expect(page.locator("#withdrawal-amount")).to_be_focused()
        assert balance(page) == "₹11,814.52" and entries(api) == before
        # no sideways scrolling at 360 px
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"refusal-kannada-{width}")
        # Enter again in the focused box is the withdrawal again, refused again: no deposit
        with page.expect_navigation() as again:
            page.keyboard.press("Enter")
        assert again.value.status == 422 and entries(api) == before
