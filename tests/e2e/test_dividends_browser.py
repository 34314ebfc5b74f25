"""Issue 18 in a real browser (headless Chromium): the board's dividend page.

A year with a surplus of 10,023.08, a borrower who paid 23.08 of loan interest and a saver
(tests/api/test_dividends_api.py `rebate_year`). The society asks for two board approvals.

board1 previews 10 % with a 50 % patronage rebate: every statutory fund by its name, the
dividend pool (69.64) and the rebate pool (11.54) both shown, where all of the 6,414.76 goes.
She then changes the rate box to 15 and presses Declare: refused, in words asking her to
preview again, and nothing is declared. She previews 15 %, declares, the confirmation repeats
the totals and asks for the general body's resolution; it is put forward, waiting for one
more approval. board2 approves it on the same page: declared. The admin sees the declared
figures, the resolution, and the pay and cancel buttons, and pays. The preview at 360 px.
Screenshots in test-artifacts/counter/dividends-*.png.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.api.conftest import LiveServer
from tests.api.test_dividends_api import DIV, FY, entries, rebate_year, settings
from tests.e2e.conftest import OpenAs, Shot
from tests.e2e.test_counter_browser import notice


def preview(page: Page, rate: str, rebate: str) -> None:
    page.locator("#rate").fill(rate)
    page.locator("#rebate").fill(rebate)
    with page.expect_navigation():
        page.get_by_role("button", name="Preview", exact=True).click()


def test_the_board_declares_what_it_previewed(live: LiveServer, open_as: OpenAs,
                                              shot: Shot) -> None:
    api = live.api
    debtor, _ = rebate_year(api)
    assert settings(api, dividend_approvals_required=2).status_code == 200
    before = entries(api)

    board = open_as("board1")
    with board.expect_navigation():
        board.get_by_role("link", name="Dividend", exact=True).click()
    expect(board.locator("#fy")).to_have_value(str(FY))
    expect(board.locator("h1")).to_have_text(f"Dividend, fiscal year {FY}")
    expect(board.locator("main")).to_contain_text("From 1 April 2024 to 31 March 2025.")
    preview(board, "10", "50")
    figures = board.locator("#preview")
    for words in ("Statutory reserve fund (25 %)", "Education fund (1 %)",
                  "Reserve for unforeseen losses (10 %)"):
        expect(figures).to_contain_text(words)
    expect(figures).not_to_contain_text("statutory_reserve")
    expect(board.locator("#distributable")).to_have_text("₹6,414.76")
    expect(board.locator("#dividend-pool")).to_have_text("₹69.64")
    expect(board.locator("#rebate-pool")).to_have_text("₹11.54")  # the rebate is shown
    expect(board.locator("#left-over")).to_have_text("₹6,333.58")
    expect(board.locator("#in-words")).to_have_text(
        "Of the distributable surplus of ₹6,414.76, the members get ₹81.18 (₹69.64 as "
        "dividend and ₹11.54 as patronage rebate) and the society keeps ₹6,333.58 as "
        "undistributed surplus.")
    shot(board, "dividends-01-preview")

    board.locator("#rate").fill("15")  # changed after the preview
    with board.expect_navigation() as refused:
        board.get_by_role("button", name="Declare this dividend").click()
    assert refused.value is not None and refused.value.status == 409
    expect(board.locator("#digest-error")).to_contain_text("Preview again, then declare.")
    expect(board.locator("#confirm-form")).to_have_count(0)
    expect(board.locator("#declare")).to_have_count(0)  # no declaring until previewed
    assert api.get(f"{DIV}/{FY}", role="board").status_code == 404
    shot(board, "dividends-02-refused")

    preview(board, "15", "50")
    expect(board.locator("#dividend-pool")).to_have_text("₹104.46")
    with board.expect_navigation():
        board.get_by_role("button", name="Declare this dividend").click()
    confirm = board.locator("#confirm-form")
    expect(confirm).to_contain_text("Declare this dividend?")
    expect(board.locator("#confirm-to-members")).to_have_text("₹116.00")  # 104.46 + 11.54
    expect(confirm).to_contain_text("The society asks for 2 board approvals")
    expect(board.locator("#resolution_number")).to_be_focused()
    board.locator("#resolution_number").fill("AGM-2025/4")
    board.locator("#resolution_date").fill("2025-06-28")
    shot(board, "dividends-03-confirm")
    with board.expect_navigation():
        board.get_by_role("button", name="Yes, declare it").click()
    assert notice(board).endswith("Board approvals so far: 1 of 2.")
    expect(board.locator("#declared h2")).to_have_text("Waiting for the board: 1 of 2 approvals.")
    assert entries(api) == before  # nothing posted while pending

    second = open_as("board2")
    second.goto(f"/counter/dividends?fy={FY}")
    expect(second.locator("#resolution")).to_have_text(
        "General body resolution AGM-2025/4 of 28 June 2025.")
    with second.expect_navigation():
        second.get_by_role("button", name="Approve").click()
    assert notice(second) == f"Dividend for {FY}: 2 of 2 approvals; declared."
    expect(second.locator("#declared h2")).to_have_text("Declared, not paid yet.")
    assert entries(api) == before + 1
    shot(second, "dividends-04-declared")

    admin = open_as("admin")
    admin.goto(f"/counter/dividends?fy={FY}")
    expect(admin.locator("#declared-to-members")).to_have_text("₹116.00")
    expect(admin.locator("#cancel")).to_be_visible()
    with admin.expect_navigation():
        admin.locator("#pay").click()
    assert notice(admin) == f"Dividend for {FY} paid into members' savings: 2 payments."
    expect(admin.locator("#declared h2")).to_contain_text("Paid into the members' savings")
    expect(admin.locator("#pay")).to_have_count(0)
    expect(admin.locator("#cancel")).to_have_count(0)
    shot(admin, "dividends-05-paid")
    body = api.get(f"{DIV}/{FY}", role="board").json()
    assert (body["status"], body["dividend"]["rate"], body["rebate"]["pool"]) == (
        "paid", "15", "11.54")
    assert debtor in {line["member_code"] for line in body["allocations"]}


def test_the_preview_at_360_px(live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    rebate_year(live.api)
    phone = open_as("board1", viewport={"width": 360, "height": 740})
    phone.goto(f"/counter/dividends?fy={FY}")
    preview(phone, "10", "50")
    expect(phone.locator("#rebate-pool")).to_be_visible()
    wide = phone.evaluate("document.documentElement.scrollWidth")
    assert wide <= 360, wide  # the page never scrolls sideways
    shot(phone, "dividends-06-phone")
