"""A loan from the counter to the board and back, in a real browser (headless Chromium), as a
clerk works (issue 17): from her page the clerk opens the application, is refused a principal
her savings do not cover (the words next to the principal, the cursor back in it, nothing
saved), asks for less with a guarantor, reads the quote (key facts, schedule, the
guarantor's hold) before anything is saved and confirms; two board members approve it, each
in her own session; the clerk pays it out into her savings and takes a repayment from her
savings, shown allocated first. An admin places a hold on her savings and releases it. The
pages fit 1024x600 and a 360 px phone. Screenshots in test-artifacts/counter/."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from coop.loans.orm import LoanRow
from tests.api.conftest import Api, LiveServer
from tests.api.loan_helpers import borrower, make_board, product
from tests.e2e.conftest import OpenAs, Shot
from tests.e2e.test_counter_browser import (
    approvals_required,
    balance,
    enter,
    find,
    has_focus,
    notice,
)

C = "/counter"
SMALL = {"width": 1024, "height": 600}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}


def loans_stored(api: Api) -> int:
    return int(api.db.read(lambda s: s.scalar(select(func.count()).select_from(LoanRow))))


def fits(page: Page, width: int) -> None:
    """Nothing sideways: the page is no wider than the screen."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_loan_applied_for_at_the_counter_approved_paid_out_and_repaid_from_savings(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    api = live.api
    approvals_required(api, 2)
    make_board(api, seats=2)
    product(api)
    code = borrower(api)  # 10,000.00 saved and 10 shares: 3 x covers 30,300.00
    guarantor = borrower(api, savings="3000.00", shares=1)

    clerk = open_as("clerk1", viewport=SMALL)
    find(clerk, code)
    with clerk.expect_navigation():
        clerk.locator("#apply-loan").click()
    has_focus(clerk, "#product")
    fits(clerk, 1024)
    shot(clerk, "30-loan-application")

    # Too much for her savings: refused next to the principal, nothing saved.
    clerk.locator("#principal").fill("40000")
    clerk.select_option("#purpose", "health")
    clerk.locator("#principal").press("Enter")
    expect(clerk.locator("#principal-error")).to_contain_text("times her savings and shares")
    has_focus(clerk, "#principal")
    expect(clerk.locator("#confirm-form")).to_have_count(0)
    assert loans_stored(api) == 0
    shot(clerk, "31-loan-refused-principal")

    # Less, with a guarantor: the quote, and still nothing saved.
    clerk.locator("#principal").fill("10000")
    clerk.locator("#guarantor_1_code").fill(guarantor.lower())
    clerk.locator("#guarantor_1_amount").fill("1000")
    clerk.locator("#principal").press("Enter")
    facts = clerk.locator("#key-facts")
    expect(facts).to_contain_text("₹10,000.00")
    expect(clerk.locator("#apr")).to_have_text(re.compile(r"^\d+\.\d\d%$"))
    expect(clerk.locator("#total-interest")).to_have_text(re.compile(r"^₹[\d,]+\.\d\d$"))
    expect(clerk.locator("#schedule tr")).to_have_count(11)  # the heading and 10 weeks
    expect(clerk.locator("#guarantor-holds")).to_contain_text(guarantor)
    expect(clerk.locator("#guarantor-holds")).to_contain_text("₹1,000.00")
    assert loans_stored(api) == 0
    has_focus(clerk, "#confirm-form button[type=submit]")
    shot(clerk, "32-loan-quote-1024x600")
    enter(clerk)
    applied = re.search(r"Loan (\d+) applied for", notice(clerk))
    assert applied, notice(clerk)
    loan_id = int(applied.group(1))
    assert loans_stored(api) == 1
    shot(clerk, "33-loan-applied")

    # The board's queue: two approvals, each in her own session.
    for n, username in enumerate(("board1", "board2")):
        board = open_as(username)
        application = board.locator(f"#application-{loan_id}")
        expect(application).to_contain_text("₹10,000.00")
        expect(application).to_contain_text(f"{n} approve, 0 reject, 2 needed")
        with board.expect_navigation():
            application.locator("button[value=approve]").click()
        shot(board, f"34-board-{username}-approved")

    # Paid out into her savings, from her page.
    clerk.reload()
    with clerk.expect_navigation():
        clerk.locator(f"#disburse-form-{loan_id} button[type=submit]").click()
    assert notice(clerk) == f"Loan {loan_id}: ₹10,000.00 paid into her savings."
    assert balance(clerk) == "₹20,000.00"

    # Repaid from her savings: the allocation first, then taken.
    clerk.locator(f"#repay-{loan_id}").fill("1000")
    clerk.select_option(f"#repay-source-{loan_id}", "savings")
    clerk.locator(f"#repay-{loan_id}").press("Enter")
    preview = clerk.locator("#repayment-preview")
    expect(preview).to_contain_text("Taken from her savings.")
    expect(preview).to_contain_text("principal ₹1,000.00")
    assert balance(clerk) == "₹20,000.00"
    shot(clerk, "35-repayment-from-savings-preview")
    has_focus(clerk, "#repayment-preview button[type=submit]")
    enter(clerk)
    assert notice(clerk) == (f"Loan {loan_id}: ₹1,000.00 taken from her savings; "
                             "₹9,000.00 left to repay.")
    assert balance(clerk) == "₹19,000.00"
    shot(clerk, "36-repaid-from-savings")


def test_a_hold_placed_and_released_and_the_pages_fit_a_phone(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    api = live.api
    product(api)
    code = borrower(api, savings="1000.00", shares=1)

    admin = open_as("admin", viewport=SMALL)
    admin.goto(f"{C}/members/{code}")
    with admin.expect_navigation():
        admin.locator("#member-requests").click()
    fits(admin, 1024)
    admin.locator("#hold-amount").fill("1500")
    admin.locator("#hold-reason").fill("court order")
    admin.locator("#hold-amount").press("Enter")
    expect(admin.locator("#hold_amount-error")).to_contain_text("available balance")
    has_focus(admin, "#hold-amount")
    shot(admin, "37-hold-refused")
    admin.locator("#hold-amount").fill("400")
    admin.locator("#hold-amount").press("Enter")
    expect(admin.locator("p.notice[role=status]")).to_contain_text("₹400.00 of her savings")
    expect(admin.locator("#available")).to_have_text("₹600.00")
    shot(admin, "38-hold-placed")
    row = admin.locator("#holds tr", has_text="court order")
    with admin.expect_navigation():
        row.get_by_role("button", name="Release").click()
    expect(admin.locator("p.notice[role=status]")).to_contain_text("available again")
    expect(admin.locator("#available")).to_have_text("₹1,000.00")
    shot(admin, "39-hold-released")

    phone = open_as("clerk1", **PHONE)
    phone.goto(f"{C}/members/{code}/loan-application")
    has_focus(phone, "#product")
    phone.locator("#principal").fill("2000")
    phone.select_option("#purpose", "business")
    phone.locator("#principal").press("Enter")
    expect(phone.locator("#confirm-form")).to_be_visible()
    fits(phone, 360)
    shot(phone, "40-loan-quote-phone-360")
    phone.goto(f"{C}/members/{code}/requests")
    fits(phone, 360)
    shot(phone, "41-requests-phone-360")
