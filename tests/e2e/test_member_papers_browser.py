"""A member's own page in a real browser (headless Chromium), in Kannada, her language (issue
18): at 360 px wide nothing scrolls sideways and her balance, every figure of her loan and of
her last entries is inside the screen, not behind a sideways scroll; at 1024x600 the same page
is a table. Her papers open as PDFs in Kannada. Screenshots go to test-artifacts/counter/."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.api.conftest import PASSWORD, LiveServer
from tests.api.loan_helpers import BASE
from tests.e2e.conftest import OpenAs, Shot
from tests.e2e.test_counter_browser import member_with_a_loan, within_width

C = "/counter"
NARROW = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
          "device_scale_factor": 2}


def _kannada_member(live: LiveServer) -> tuple[str, int]:
    """A borrower who reads Kannada, with a login "meena1" and a few entries."""
    api = live.api
    code, loan_id = member_with_a_loan(api)
    for amount in ("125.50", "987654.00"):
        assert api.post(f"{BASE}/members/{code}/deposits",
                        {"amount": amount, "confirm_large_amount": True},
                        role="clerk").status_code == 201
    chosen = api.client.put(f"{BASE}/members/{code}/preferences", json={"language": "kn"},
                            headers=api.headers("clerk"))
    assert chosen.status_code == 200, chosen.text
    made = api.post(f"{BASE}/users", {"username": "meena1", "password": PASSWORD,
                                      "role": "member", "member_code": code})
    assert made.status_code == 201, made.text
    return code, loan_id


def _inside(page: Page, width: int) -> None:
    """Her balance, her loan's figures and every figure of her entries are on the screen."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    within_width(page, "#balance", width)
    for cells in ("#entries td.n", "table.stack td.n"):
        for index in range(page.locator(cells).count()):
            cell = page.locator(cells).nth(index)
            if cell.inner_text().strip():
                box = cell.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (
                    cells, index, box)


def test_her_page_in_kannada_fits_360_px_and_her_papers_open(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    code, loan_id = _kannada_member(live)

    phone = open_as("meena1", **NARROW)
    assert phone.url.endswith(f"{C}/members/{code}")
    assert phone.evaluate("document.documentElement.lang") == "kn"
    expect(phone.locator("#balance-today")).to_contain_text("ಇಂದಿನ ಉಳಿತಾಯ")
    expect(phone.locator("h2").first).to_have_text("ಸಾಲಗಳು")
    # more than ten lakh, grouped the Indian way: ₹10,07,xxx.50
    assert re.fullmatch(r"₹\d{1,2},\d\d,\d{3}\.50", phone.locator("#balance").inner_text())
    _inside(phone, 360)
    big = phone.locator("#balance").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert big >= 36  # the figure she came for is the largest on the page
    shot(phone, "30-member-kannada-360")

    for link in ("#my-passbook", "#share-certificate", f"#card-{loan_id}"):
        href = phone.locator(link).get_attribute("href")
        assert href is not None
        response = phone.request.get(href)
        assert response.status == 200 and response.body().startswith(b"%PDF"), link
        assert response.headers["content-type"].startswith("application/pdf")

    desk = open_as("meena1", viewport={"width": 1024, "height": 600})
    assert desk.evaluate("document.documentElement.lang") == "kn"
    _inside(desk, 1024)
    expect(desk.locator("#entries th").first).to_be_visible()  # a table again, with headings
    shot(desk, "31-member-kannada-1024x600")
