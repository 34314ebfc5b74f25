"""Issue 16 in a real browser (headless Chromium): a clerk takes a deposit with an extra
zero, asks for it to be corrected from the member's last entries ("Wrong?"), with a reason;
she cannot approve her own request; the board member sees it in the queue and approves; the
member's page then shows "Correction of <date> deposit" and never the clerk's reason. The
queue at 360 px too."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.api.conftest import LiveServer
from tests.e2e.conftest import OpenAs, Shot
from tests.e2e.test_counter_browser import balance, entries, find, notice
from tests.helpers import qr_codes

BASE = "/api/v1"
REASON = "clerk typed an extra zero"


def test_a_clerk_asks_the_board_approves(live: LiveServer, open_as: OpenAs,
                                         shot: Shot) -> None:
    api = live.api
    code = api.post(f"{BASE}/members", {"joined_on": "2024-01-01"}, role="admin").json()["code"]
    api.post(f"{BASE}/members/{code}/deposits", {"amount": "100.00"}, role="clerk")
    wrong = api.post(f"{BASE}/members/{code}/deposits", {"amount": "1000.00"},
                     role="clerk").json()
    clerk = open_as("clerk1")
    find(clerk, code)
    assert balance(clerk) == "₹1,100.00"
    with clerk.expect_navigation():
        clerk.locator(f"#correct-{wrong['entry_id']}").click()
    expect(clerk.locator(f"#entry-{wrong['entry_id']}")).to_contain_text("₹1,000.00")
    clerk.locator("#reason").fill("   ")  # only spaces: the browser lets it through
    with clerk.expect_navigation() as empty:
        clerk.get_by_role("button", name="Ask for the correction").click()
    assert empty.value.status == 422
    expect(clerk.locator("#reason-error")).to_have_text("Say why it is wrong.")
    expect(clerk.locator("#reason")).to_be_focused()
    clerk.locator("#reason").fill(REASON)
    shot(clerk, "corrections-01-ask")
    before = entries(api)
    with clerk.expect_navigation():
        clerk.get_by_role("button", name="Ask for the correction").click()
    assert "Another user approves it." in notice(clerk)
    assert entries(api) == before and balance(clerk) == "₹1,100.00"

    board = open_as("board1")
    with board.expect_navigation():
        board.get_by_role("link", name="Corrections").click()
    card = board.locator("section.card").first
    expect(card).to_contain_text("₹1,000.00")
    expect(card).to_contain_text(REASON)
    shot(board, "corrections-02-queue")
    with board.expect_navigation():
        card.get_by_role("button", name="Approve: undo the entry").click()
    assert notice(board).startswith("Correction ") and notice(board).endswith(" applied.")
    expect(board.locator("section.card")).to_have_count(0)
    assert entries(api) == before + 1

    find(clerk, code)
    assert balance(clerk) == "₹100.00"
    table = clerk.locator("#entries")
    expect(table).to_contain_text("Correction of 30-06-2025 deposit")
    expect(table).not_to_contain_text(REASON)
    expect(table.get_by_role("link", name="Wrong?")).to_have_count(1)  # the first deposit only
    shot(clerk, "corrections-03-her-page")

    member_view = api.get(f"{BASE}/ledger/verify").json()
    assert member_view["ok"] is True, member_view


def test_the_queue_at_360_px_and_no_self_approval(live: LiveServer, open_as: OpenAs,
                                                  shot: Shot) -> None:
    api = live.api
    code = api.post(f"{BASE}/members", {"joined_on": "2024-01-01"}, role="admin").json()["code"]
    made = api.post(f"{BASE}/members/{code}/deposits", {"amount": "50.00"}, role="clerk").json()
    asked = api.post(f"{BASE}/corrections", {"entry_id": made["entry_id"], "reason": "wrong"},
                     role="admin")
    assert asked.status_code == 201, asked.text
    admin = open_as("admin", viewport={"width": 360, "height": 740}, is_mobile=True)
    admin.goto("/counter/corrections")
    card = admin.locator(f"#correction-{asked.json()['id']}")
    expect(card).to_contain_text("You asked for this one: another user decides.")
    expect(card.get_by_role("button")).to_have_count(0)
    width = admin.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the queue scrolls sideways at 360 px ({width} px)"
    shot(admin, "corrections-04-queue-360")


def test_a_receipt_is_offered_after_a_deposit(live: LiveServer, open_as: OpenAs,
                                              shot: Shot) -> None:
    api = live.api
    code = api.post(f"{BASE}/members", {"joined_on": "2024-01-01"}, role="admin").json()["code"]
    clerk = open_as("clerk1")
    find(clerk, code)
    clerk.locator("#deposit-amount").fill("1,234.50")
    with clerk.expect_navigation():
        clerk.locator("#deposit-amount").press("Enter")
    link = clerk.get_by_role("link", name="print on the roll")
    expect(link).to_be_visible()
    shot(clerk, "receipts-01-offered")
    slip = clerk.request.get(str(link.get_attribute("href")))
    assert slip.status == 200 and slip.headers["content-type"] == "application/pdf"
    assert slip.body().startswith(b"%PDF")
    # the code in the slip's QR, read as a scanner would, is one the society's check confirms
    codes = qr_codes(slip.body())
    assert len(codes) == 1 and codes[0].startswith(f"COOP-PB1|{code}|receipt-"), codes
    checked = api.post(f"{BASE}/passbook-checks", {"code": codes[0]}, role="board")
    assert checked.status_code == 200 and checked.json()["genuine"] is True, checked.text
