"""The board's room in a real browser (headless Chromium), issue 18: a board member opens the
books from her menu and sees the portfolio at risk (PAR30) and the arrears loan by loan; she
opens the meeting pack, whose PAR30 chart is inline SVG (drawn under the strict CSP, no
script, no inline style: the browser reports no violation), and its PDF, whose chart is
measured bar by bar; she votes from the bottom of a long queue and, voting again from a page
she kept open, is told the refusal where she is looking. Each page fits 1024x600 and a 360 px
phone. Screenshots in test-artifacts/counter/ (50-...).

The loans are the twenty of tests/integration/test_loans_service.py, worked out by hand there
(PAR30 57.88 % on 30 June 2025).
"""

from __future__ import annotations

import io
import subprocess
from decimal import Decimal

from PIL import Image
from playwright.sync_api import ConsoleMessage, Page, expect

from coop.loans import par30_by_month
from tests.api.conftest import LiveServer
from tests.api.loan_helpers import make_board
from tests.api.test_board_room import (
    MONTH_ENDS,
    application_with_a_record,
    bars_of,
    portfolio_of_twenty,
)
from tests.e2e.conftest import OpenAs, Shot
from tests.e2e.test_counter_loans_browser import PHONE, SMALL, fits

C = "/counter"
NOTE = "Late in April: ask her why"


def watch_csp(page: Page) -> list[str]:
    """Every message the browser logs about the content security policy, from now on."""
    refused: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(message.text)

    page.on("console", seen)
    return refused


def in_view(page: Page, selector: str) -> bool:
    """The element is on the screen as the page is now scrolled."""
    box = page.locator(selector).bounding_box()
    height = page.viewport_size["height"] if page.viewport_size else 0
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_the_board_sees_par30_and_the_arrears(live: LiveServer, open_as: OpenAs,
                                              shot: Shot) -> None:
    loans = portfolio_of_twenty(live.api)
    board = open_as("board1", viewport=SMALL)
    refused = watch_csp(board)
    with board.expect_navigation():
        board.get_by_role("link", name="The books").click()
    expect(board.locator("#par30")).to_have_text("57.88 %")
    arrears = board.locator("#arrears-list tr")
    expect(arrears).to_have_count(14)  # the heading and thirteen loans past due
    expect(arrears.nth(1)).to_contain_text(str(loans["past maturity"]))
    expect(arrears.nth(1)).to_contain_text("777")
    expect(arrears.nth(1)).to_contain_text("more than 365")
    expect(board.locator("#verify")).to_have_count(0)  # verifying is the auditor's
    fits(board, 1024)
    shot(board, "50-board-books-1024x600")
    board.locator("#arrears").scroll_into_view_if_needed()
    shot(board, "51-board-arrears-1024x600")

    phone = open_as("board1", **PHONE)
    phone.goto(f"{C}/audit#arrears")
    expect(phone.locator("#par30")).to_have_text("57.88 %")
    expect(phone.locator("#arrears-list")).to_contain_text("15-05-2023")
    fits(phone, 360)
    shot(phone, "52-board-arrears-phone-360")
    assert refused == []


def test_the_board_pack_page_and_its_pdf_have_the_par30_chart(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    api = live.api
    portfolio_of_twenty(api)
    board = open_as("board1", viewport=SMALL)
    refused = watch_csp(board)
    with board.expect_navigation():
        board.get_by_role("link", name="Board pack").click()
    expect(board.locator("#month")).to_have_value("2025-06")
    chart = board.locator("#par30-chart")
    expect(chart).to_be_visible()
    bars = chart.locator("rect.bar")
    expect(bars).to_have_count(12)
    # drawn as tall as their figures: the browser's own layout of the SVG
    heights = [bars.nth(k).bounding_box()["height"] for k in range(12)]  # type: ignore[index]
    months = api.db.read(lambda s: par30_by_month(s, MONTH_ENDS))
    tallest = max(heights)
    for height, month in zip(heights, months, strict=True):
        assert abs(height / tallest - float(month.par30 / Decimal(100))) < 0.02, (heights,
                                                                                  months)
    fits(board, 1024)
    chart.scroll_into_view_if_needed()
    shot(board, "53-board-pack-chart-1024x600")
    board.locator("summary").click()
    expect(board.locator("#par30-months tr")).to_have_count(13)
    expect(board.locator("#par30-months")).to_contain_text("57.88 %")

    # The PDF behind the link, with this session's cookie, has the chart.
    href = board.locator("#pack-pdf").get_attribute("href")
    assert href == "/counter/board-pack.pdf?month=2025-06"
    pdf = board.request.get(href)
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    page_of_chart = 2  # the title, the money and the loans fill the first page
    png = subprocess.run(["pdftoppm", "-r", "72", "-f", str(page_of_chart), "-l",
                          str(page_of_chart), "-png", "-"], input=pdf.body(),
                         capture_output=True, check=True).stdout
    plot = 62 / 25.4 * 72 - 30 - 16
    expected = [round(float(m.par30) / 100 * plot) for m in months if m.par30 > 3]
    found = bars_of(Image.open(io.BytesIO(png)), wider_than=15)
    assert len(found) == len(expected) == 12
    assert all(abs(a - b) <= 2 for a, b in zip(found, expected, strict=True)), (found,
                                                                                expected)

    phone = open_as("board1", **PHONE)
    phone.goto(f"{C}/board-pack?month=2025-06")
    expect(phone.locator("#par30-chart rect.bar")).to_have_count(12)
    box = phone.locator("#par30-chart").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
    fits(phone, 360)
    shot(phone, "54-board-pack-phone-360")
    phone.locator("#par30-chart").scroll_into_view_if_needed()
    shot(phone, "55-board-pack-chart-phone-360")
    assert refused == []


def test_a_refused_vote_is_shown_where_she_is_looking(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    api = live.api
    desk, _, _, first = application_with_a_record(api)
    # more applications, so the first one's card is far down the page
    others = [desk.apply(desk.register(), 30_000) for _ in range(3)]
    make_board(api, seats=2)

    board2 = open_as("board2", viewport=SMALL)
    card = board2.locator(f"#application-{first}")
    expect(card.locator(f"#application-{first}-record")).to_contain_text("₹12,000.00")
    card.locator(f"#application-{first}-note").fill(NOTE)
    with board2.expect_navigation():
        card.locator("button[value=approve]").click()
    expect(board2.locator(f"#application-{first}-mine")).to_contain_text("You approved this.")
    expect(board2.locator(f"#application-{first}-mine")).to_contain_text(NOTE)
    fits(board2, 1024)
    shot(board2, "56-board-voted")

    # board1 had the page open before; she votes on the last card, then again from the
    # copy of the page she kept (the back button), far down the queue
    board1 = open_as("board1", viewport=SMALL)
    last = others[-1]
    stale = board1.context.new_page()
    stale.goto(f"{C}/board")
    expect(board1.locator(f"#application-{first}-votes")).to_contain_text(NOTE)
    board1.locator(f"#application-{last}").scroll_into_view_if_needed()
    with board1.expect_navigation():
        board1.locator(f"#application-{last} button[value=reject]").click()
    stale.set_viewport_size(SMALL)
    stale.locator(f"#application-{last}").scroll_into_view_if_needed()
    assert not in_view(stale, "h1")  # she is at the bottom of the queue
    with stale.expect_navigation():
        stale.locator(f"#application-{last} button[value=approve]").click()
    refusal = stale.locator("#refusal")
    expect(refusal).to_contain_text(f"Your vote on loan {last} was not recorded")
    assert in_view(stale, "#refusal"), "the refusal is where she is looking"
    shot(stale, "57-board-refused-1024x600")
    refusal.get_by_role("link").click()  # to the card, on the same page
    expect(stale.locator(f"#application-{last} .error")).to_contain_text("voted")
    stale.wait_for_function(f"location.hash === '#application-{last}'")

    phone = open_as("board2", **PHONE)
    phone.goto(f"{C}/board")
    expect(phone.locator(f"#application-{first}-record")).to_be_visible()
    fits(phone, 360)
    shot(phone, "58-board-queue-phone-360")
