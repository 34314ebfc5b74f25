"""Issue 17, tills, in a real browser (headless Chromium, no JavaScript needed): with
`require_open_till` on, the clerk's first deposit is refused with an offer to open her till in
one step; she opens it with a float of 1,000.00, takes a deposit of 500.00, counts her till by
notes and coins (1,480.00: 20.00 short), sees expected against counted and closes; a board
member approves the shortage from the day's screen and it is posted to 5400 Cash shortages.
Screenshots at 1024x600 and 360 px wide in test-artifacts/counter/."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from coop.ledger import queries
from tests.api.conftest import LiveServer
from tests.e2e.conftest import OpenAs, Shot
from tests.e2e.test_counter_browser import find, notice, within_width

BASE = "/api/v1"
DESK = {"width": 1024, "height": 600}
PHONE = {"width": 360, "height": 740}


def _setup(live: LiveServer) -> str:
    api = live.api
    made = api.post(f"{BASE}/members", {"joined_on": "2024-01-01"}, role="admin")
    assert made.status_code == 201, made.text
    code = str(made.json()["code"])
    # cash into the safe (the admin has no till), then tills become required
    assert api.post(f"{BASE}/members/{code}/deposits", {"amount": "5000.00"}).status_code == 201
    changed = api.client.patch(f"{BASE}/society", json={"settings": {"require_open_till": True}},
                               headers=api.headers("admin"))
    assert changed.status_code == 200, changed.text
    return code


def _submit(page: Page, selector: str) -> int:
    with page.expect_navigation() as navigation:
        page.locator(selector).click()
    return int(navigation.value.status)


def test_a_till_opened_used_counted_short_and_approved(live: LiveServer, open_as: OpenAs,
                                                        shot: Shot) -> None:
    code = _setup(live)
    clerk = open_as("clerk1", viewport=DESK)
    find(clerk, code)
    clerk.locator("#deposit-amount").fill("500")
    with clerk.expect_navigation() as refused:
        clerk.locator("#deposit-amount").press("Enter")
    assert refused.value.status == 422
    expect(clerk.locator("#till-offer")).to_contain_text(
        "Nothing was taken: you have no open till.")
    expect(clerk.locator("#offer_float")).to_be_focused()
    shot(clerk, "tills-01-refused-offer-1024")
    clerk.keyboard.type("1000")
    with clerk.expect_navigation():
        clerk.keyboard.press("Enter")
    assert notice(clerk) == "Your till 1 is open with ₹1,000.00."
    assert f"/counter/members/{code}" in clerk.url
    clerk.locator("#deposit-amount").fill("500")
    with clerk.expect_navigation():
        clerk.locator("#deposit-amount").press("Enter")
    assert notice(clerk).startswith("Deposited ₹500.00.")

    with clerk.expect_navigation():
        clerk.get_by_role("link", name="My till").click()
    expect(clerk.locator("#till-in")).to_have_text("₹500.00")
    expect(clerk.locator("#till-expected")).to_have_text("₹1,500.00")
    expect(clerk.locator("#n_500")).to_be_focused()
    shot(clerk, "tills-02-my-till-1024")
    phone = open_as("clerk1", viewport=PHONE, is_mobile=True)
    phone.goto("/counter/tills/")
    within_width(phone, "#count", PHONE["width"])
    shot(phone, "tills-03-count-360")
    for note, count in (("500", "2"), ("200", "2"), ("50", "1"), ("20", "1"), ("10", "1")):
        clerk.locator(f"#n_{note}").fill(count)
    assert _submit(clerk, "#count button") == 200
    expect(clerk.locator("#check-expected")).to_have_text("₹1,500.00")
    expect(clerk.locator("#check-counted")).to_have_text("₹1,480.00")
    expect(clerk.locator("#check-variance")).to_have_text("₹20.00")
    expect(clerk.locator("#close-check")).to_contain_text("Short")
    shot(clerk, "tills-04-expected-vs-counted-1024")
    assert _submit(clerk, "#close-check button") == 200
    assert notice(clerk) == ("Till 1 is closed, ₹20.00 short: an admin or a board member "
                             "approves the difference.")

    board = open_as("board1", viewport=DESK)
    with board.expect_navigation():
        board.get_by_role("link", name="Tills of the day").click()
    expect(board.locator("#pending-1")).to_contain_text("₹20.00")
    expect(board.locator("#safe")).to_have_text("₹5,480.00")
    shot(board, "tills-05-day-pending-1024")
    assert _submit(board, "#pending-1 button") == 200
    assert notice(board) == "Till 1: ₹20.00 short, posted to cash shortages."
    expect(board.locator("#pending-1")).to_have_count(0)
    shot(board, "tills-06-day-approved-1024")
    board_phone = open_as("board1", viewport=PHONE, is_mobile=True)
    board_phone.goto("/counter/tills/day")
    shot(board_phone, "tills-07-day-360")
    assert live.api.db.read(lambda s: queries.balance(s, "5400")) == 2_000
