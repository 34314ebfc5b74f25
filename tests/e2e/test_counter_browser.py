"""The counter in a real browser (headless Chromium through Playwright) against the real server:
keyboard first, as a clerk works. A clerk logs in, registers a member, finds her by number,
deposits, is refused a withdrawal that is too large (the words next to the field, nothing
posted), buys a share and prints her passbook; two board members, each in a browser session of
her own, approve a loan that needs two votes; the clerk pays it out from her page and takes a
repayment shown allocated before it is confirmed; a double-submitted deposit form posts once;
the auditor sees the trial balance balance and no names; the member page fits 1024x600 and a
phone. A full-page screenshot of every page visited is saved in test-artifacts/counter/."""

from __future__ import annotations

import contextlib
import re
import shutil
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from coop import savings
from coop.ledger.orm import EntryRow
from tests.api.conftest import Api, LiveServer
from tests.api.loan_helpers import BASE, borrower, make_board, product
from tests.e2e.conftest import OpenAs, Shot
from tests.helpers import pdf_text

C = "/counter"


# --- helpers --------------------------------------------------------------------------------


def has_focus(page: Page, selector: str) -> None:
    """Autofocus is applied when the page is first drawn: wait for it (briefly)."""
    expect(page.locator(selector)).to_be_focused(timeout=3000)


def enter(page: Page) -> Any:
    """Press Enter and wait for the page it leads to; the main response."""
    with page.expect_navigation() as navigation:
        page.keyboard.press("Enter")
    return navigation.value


def notice(page: Page) -> str:
    return page.locator("p.notice[role=status]").inner_text()


def balance(page: Page) -> str:
    return page.locator("#balance").inner_text()


def entries(api: Api) -> int:
    """Entries in the whole book."""
    return int(api.db.read(lambda s: s.scalar(select(func.count()).select_from(EntryRow))))


def savings_lines(api: Api, code: str) -> int:
    return len(api.db.read(lambda s: savings.statement(s, code)))


def find(page: Page, code: str, shot: Shot | None = None, name: str = "") -> None:
    """From any counter page: Find a member, type her number (the field has the focus), Enter."""
    if not page.url.endswith(f"{C}/"):
        with page.expect_navigation():
            page.get_by_role("link", name="Find a member").click()
    has_focus(page, "#code")
    page.keyboard.type(code.lower())  # as typed at the counter: normalised by the server
    if shot is not None:
        shot(page, name)
    enter(page)
    assert page.url.endswith(f"{C}/members/{code}"), page.url


def viewer_shown(tab: Page) -> None:
    """Chromium's PDF viewer is an extension frame in the tab: wait for it, then let it draw."""
    for _ in range(50):
        if any(frame.url.startswith("chrome-extension://") for frame in tab.frames):
            break
        tab.wait_for_timeout(100)
    tab.wait_for_timeout(1500)


def register(page: Page, known_as: str, shot: Shot | None = None, name: str = "") -> str:
    """Register a member through the register page; her drawn member number."""
    with page.expect_navigation():
        page.get_by_role("link", name="Register a member").click()
    has_focus(page, "#known_as")
    page.keyboard.type(known_as)
    page.select_option("#language", "kn")
    if shot is not None:
        shot(page, name)
    page.locator("#known_as").press("Enter")
    page.wait_for_url(re.compile(r"/counter/members/[^/?]+\?done="))
    drawn = re.search(r"Her member number is ([A-Z0-9-]+)\.", notice(page))
    assert drawn, notice(page)
    expect(page.locator("h1")).to_contain_text(f"{drawn.group(1)} · {known_as}")
    return drawn.group(1)


def loan_status(api: Api, loan_id: int) -> str:
    response = api.get(f"{BASE}/loans/{loan_id}", role="clerk")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def apply_for_loan(api: Api, code: str, principal: str = "10000.00") -> int:
    response = api.post(f"{BASE}/loans", {"member_code": code, "product": "WEEKLY",
                                          "principal": principal}, role="clerk")
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def approvals_required(api: Api, count: int) -> None:
    response = api.client.patch(f"{BASE}/society",
                                json={"settings": {"loan_approvals_required": count}},
                                headers=api.headers("admin"))
    assert response.status_code == 200, response.text


def disburse(api: Api, loan_id: int) -> None:
    """Paid out through the API (the counter's own form is tested in the loan test)."""
    response = api.post(f"{BASE}/loans/{loan_id}/disbursement", {"to": "savings"},
                        role="clerk")
    assert response.status_code == 201, response.text


# --- the tests ------------------------------------------------------------------------------


def test_a_clerk_registers_deposits_is_refused_buys_a_share_and_prints_the_passbook(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    api = live.api
    page = open_as("clerk1", login_shot="01-login")
    assert page.url.endswith(f"{C}/")
    expect(page.locator("h1")).to_have_text("Find a member")
    shot(page, "02-find")

    code = register(page, "Asha", shot, "03-register")
    shot(page, "04-registered")
    find(page, code, shot, "05-find-typed")
    assert balance(page) == "₹0.00"
    shot(page, "06-member")

    # Deposit: the amount field has the focus; type, Enter.
    has_focus(page, "#deposit-amount")
    page.keyboard.type("500")
    assert enter(page).status == 200
    assert notice(page) == "Deposited ₹500.00. Balance ₹500.00."
    assert balance(page) == "₹500.00" and savings_lines(api, code) == 1
    expect(page.locator("#entries")).to_contain_text("₹500.00")
    shot(page, "07-deposited")

    # A withdrawal larger than what is available: refused in words, nothing posted.
    before = entries(api)
    page.locator("#withdrawal-amount").fill("900")
    with page.expect_navigation() as refused:
        page.locator("#withdrawal-amount").press("Enter")
    assert refused.value.status == 422
    expect(page.locator("#withdrawal-error")).to_contain_text("available balance is ₹500.00")
    assert page.locator("#withdrawal-amount").input_value() == "900"  # kept for correction
    # the cursor is back in the refused box: the next Enter must not deposit
    expect(page.locator("#withdrawal-amount")).to_be_focused()
    assert balance(page) == "₹500.00"
    assert entries(api) == before and savings_lines(api, code) == 1
    shot(page, "08-withdrawal-refused")

    # One more share (the minimum one was bought at registration), in cash (the form's
    # defaults): Enter in the count field.
    assert page.locator("#shares-count").input_value() == "1"
    page.locator("#shares-count").press("Enter")
    page.wait_for_url(re.compile(r"\?done="))
    assert notice(page) == "She now has 2 shares."
    assert page.locator("#shares").inner_text() == "2 · ₹20.00"
    assert balance(page) == "₹500.00"
    shot(page, "09-share-bought")

    # Her passbook: the new lines open as a PDF in a new tab; then "It printed right", which
    # is offered only once a print was produced.
    expect(page.locator("#confirm-printed")).to_have_count(0)
    waiting = page.locator("#passbook-state").inner_text()
    assert re.search(r": 0 lines printed, [1-9]\d* waiting\.", waiting), waiting
    href = page.locator("#print-passbook").get_attribute("href")
    assert href == f"{C}/members/{code}/passbook.pdf"
    with page.context.expect_page() as opened:
        page.locator("#print-passbook").click()
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url.endswith(href)
    viewer_shown(tab)
    shot(tab, "10-passbook-pdf")
    tab.close()
    pdf = page.request.get(href)  # the same session cookie as the tab
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        assert "500.00" in pdf_text(pdf.body())
    page.locator("#printed-check").click()
    expect(page.locator("#printed-check")).to_have_count(0)
    with page.expect_navigation():
        page.locator("#confirm-printed").click()
    assert notice(page).startswith("Passbook printed: next on page 1, line ")
    printed = page.locator("#passbook-state").inner_text()
    assert printed != waiting and re.search(r": [1-9]\d* lines printed, 0 waiting\.", printed)
    expect(page.locator("#print-passbook")).to_have_count(0)
    shot(page, "11-passbook-printed")


def test_a_loan_approved_in_two_board_sessions_paid_out_and_repaid_at_the_counter(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    api = live.api
    approvals_required(api, 2)
    make_board(api, seats=2)  # board2, a second board user and member
    product(api)
    code = borrower(api)
    loan_id = apply_for_loan(api, code)

    # The first board member, in her own browser: the application and the votes so far.
    first = open_as("board1")
    assert first.url.endswith(f"{C}/board")
    application = first.locator(f"#application-{loan_id}")
    expect(application).to_contain_text("₹10,000.00")
    expect(application).to_contain_text("0 approve, 0 reject, 2 needed")
    shot(first, "12-board-waiting")
    first.locator(f"#application-{loan_id}-note").fill("Savings and shares cover it")
    first.locator(f"#application-{loan_id}-note").press("Enter")  # the form's first button: Approve
    first.wait_for_url(re.compile(r"/counter/board\?done="))
    expect(first.locator(f"#application-{loan_id}")).to_contain_text(
        "1 approve, 0 reject, 2 needed")
    assert loan_status(api, loan_id) == "pending"
    shot(first, "13-board-first-approval")

    # The second, in another session (other cookies): the second approval decides it.
    second = open_as("board2")
    expect(second.locator(f"#application-{loan_id}")).to_contain_text("1 approve, 0 reject")
    with second.expect_navigation():
        second.locator(f"#application-{loan_id} button[value=approve]").click()
    expect(second.locator(f"#application-{loan_id}")).to_have_count(0)
    assert loan_status(api, loan_id) == "approved"
    shot(second, "14-board-second-approval")
    first.reload()
    expect(first.locator(f"#application-{loan_id}")).to_have_count(0)

    # The clerk pays it out from her page, into her savings.
    clerk = open_as("clerk1")
    find(clerk, code)
    pay_out = clerk.locator(f"#disburse-form-{loan_id}")
    expect(pay_out).to_contain_text(f"Loan {loan_id} approved: ₹10,000.00")
    assert clerk.locator(f"#disburse-to-{loan_id}").input_value() == "savings"
    savings_before, before = balance(clerk), entries(api)
    stale = clerk.evaluate("id => Object.fromEntries(new FormData(document.getElementById("
                           "`disburse-form-${id}`)))", loan_id)
    shot(clerk, "15-loan-approved")
    with clerk.expect_navigation():
        pay_out.get_by_role("button", name="Pay out the loan").click()
    assert notice(clerk) == f"Loan {loan_id}: ₹10,000.00 paid into her savings."
    assert (savings_before, balance(clerk)) == ("₹10,000.00", "₹20,000.00")
    expect(clerk.locator(f"#disburse-form-{loan_id}")).to_have_count(0)
    row = clerk.locator(f"#loan-{loan_id}")
    expect(row).to_contain_text("₹10,000.00")
    assert loan_status(api, loan_id) == "active" and entries(api) == before + 1
    # The same form sent again (a second press on a stale page): refused, paid out once.
    again = clerk.request.post(f"{C}/loans/{loan_id}/disbursement", form=stale,
                               max_redirects=0)
    assert again.status == 409, again.status
    assert entries(api) == before + 1 and balance(clerk) == "₹20,000.00"
    shot(clerk, "16-loan-paid-out")

    # The repayment: amount, Enter; the allocation is shown and nothing is taken yet.
    savings_before, before = balance(clerk), entries(api)
    clerk.locator(f"#repay-{loan_id}").fill("1012.74")
    clerk.locator(f"#repay-{loan_id}").press("Enter")
    preview = clerk.locator("#repayment-preview")
    expect(preview).to_contain_text(f"Loan {loan_id}: ₹1,012.74 will go to")
    expect(preview).to_contain_text("interest ₹0.00")  # repaid on the day it was paid out
    expect(preview).to_contain_text("principal ₹1,012.74")
    expect(preview).to_contain_text("Principal left: ₹8,987.26.")
    expect(row).to_contain_text("₹10,000.00")
    assert entries(api) == before
    shot(clerk, "17-repayment-preview")
    # The confirm button has the focus: Enter takes it.
    has_focus(clerk, "#repayment-preview button[type=submit]")
    enter(clerk)
    assert notice(clerk) == (f"Loan {loan_id}: ₹1,012.74 received; ₹8,987.26 left to "
                             "repay.")
    expect(clerk.locator(f"#loan-{loan_id}")).to_contain_text("₹8,987.26")
    expect(clerk.locator("#repayment-preview")).to_have_count(0)
    assert balance(clerk) == savings_before  # paid in cash: her savings are untouched
    assert entries(api) == before + 1
    shot(clerk, "18-repayment-taken")


def test_a_board_member_is_told_the_tally_after_her_vote(
        live: LiveServer, open_as: OpenAs) -> None:
    api = live.api
    approvals_required(api, 2)
    product(api)
    loan_id = apply_for_loan(api, borrower(api))
    page = open_as("board1")
    with page.expect_navigation():
        page.locator(f"#application-{loan_id} button[value=approve]").click()
    assert "?done=" in page.url
    expect(page.locator("p.notice[role=status]")).to_have_text(
        f"Loan {loan_id}: 1 of 2 approvals; pending.", timeout=2000)


def test_a_second_pay_out_of_the_same_loan_is_refused_in_words(
        live: LiveServer, open_as: OpenAs) -> None:
    api = live.api
    approvals_required(api, 1)
    product(api)
    code = borrower(api)
    loan_id = apply_for_loan(api, code)
    vote = api.post(f"{BASE}/loans/{loan_id}/votes", {"decision": "approve"}, role="board")
    assert vote.status_code == 201, vote.text
    page = open_as("clerk1")
    find(page, code)
    stale = page.evaluate("id => Object.fromEntries(new FormData(document.getElementById("
                          "`disburse-form-${id}`)))", loan_id)
    with page.expect_navigation():
        page.get_by_role("button", name="Pay out the loan").click()
    before = entries(api)
    again = page.request.post(f"{C}/loans/{loan_id}/disbursement", form=stale,
                              max_redirects=0)
    assert again.status == 409 and entries(api) == before
    page.set_content(again.text())  # what the browser shows after the second press
    expect(page.locator("p.error")).to_have_count(1, timeout=2000)


def test_double_submitting_the_deposit_form_posts_once(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    api = live.api
    code = api.member_codes["member"]
    # The counter's CSP allows no script to fetch(); this context lifts it only so that the
    # test can send the stale form several times at once from the page (as a browser retrying
    # would). The two presses are ordinary form submissions.
    page = open_as("clerk1", bypass_csp=True)
    find(page, code)
    before = entries(api)
    has_focus(page, "#deposit-amount")
    page.keyboard.type("250")
    form = page.evaluate("Object.fromEntries(new FormData(document.querySelector("
                         "'#deposit-form')))")
    assert form["amount"] == "250" and len(form["key"]) == 32

    # A slow line: the first Enter reaches the server, but its answer is held back, so the
    # clerk, seeing nothing happen, presses Enter again on the same page (the same form).
    held: list[Any] = []
    posts: list[str] = []

    def slow_line(route: Any) -> None:
        posts.append(route.request.post_data or "")
        if not held:
            held.append((route, route.fetch(max_redirects=0)))  # served; answer not delivered
        else:
            route.continue_()

    page.route("**/deposit", slow_line)
    page.keyboard.press("Enter")
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(25)
    assert held and held[0][1].status == 303
    page.keyboard.press("Enter")  # still the same page: the browser drops the first navigation
    page.wait_for_url(re.compile(r"\?done="))
    first, answer = held[0]
    with contextlib.suppress(PlaywrightError):  # the browser has given up the first press
        first.fulfill(response=answer)
    page.unroute("**/deposit")
    assert len(posts) == 2 and posts[0] == posts[1], posts  # the same form, twice
    assert notice(page) == "Deposited ₹250.00. Balance ₹250.00."
    assert entries(api) == before + 1

    # And the same form sent again, three times at once, as a browser retrying might.
    statuses = page.evaluate("""async ([action, form]) => {
        const sent = [1, 2, 3].map(() => fetch(action, {method: "POST", redirect: "manual",
            body: new URLSearchParams(form)}));
        return (await Promise.all(sent)).map(r => r.type === "opaqueredirect" ? 303 : r.status);
    }""", [f"{C}/members/{code}/deposit", form])
    assert statuses == [303, 303, 303]

    page.goto(f"{C}/members/{code}")
    assert balance(page) == "₹250.00"
    assert savings_lines(api, code) == 1 and entries(api) == before + 1
    shot(page, "19-double-submit-posted-once")


def test_the_auditor_sees_the_trial_balance_balance_and_no_names(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    clerk = open_as("clerk1")
    code = register(clerk, "Asha")
    has_focus(clerk, "#deposit-amount")  # her page after registering
    clerk.keyboard.type("300")
    enter(clerk)
    assert balance(clerk) == "₹300.00"

    auditor = open_as("auditor1")
    assert auditor.url.endswith(f"{C}/audit")
    expect(auditor.locator("#balanced")).to_have_text("Debits equal credits.")
    debit = auditor.locator("#total-debit").inner_text()
    assert debit == auditor.locator("#total-credit").inner_text() and debit != "₹0.00"
    assert auditor.locator("#trial-balance tr").count() > 2
    assert "Asha" not in auditor.content()
    shot(auditor, "20-audit")

    with auditor.expect_navigation():
        auditor.locator("#verify").click()  # a background check, on a page of its own
    expect(auditor.locator("#verify-result")).to_contain_text(
        "Verified: the chain and every balance recompute exactly.")
    assert "Asha" not in auditor.content()
    shot(auditor, "21-audit-verified")
    with auditor.expect_navigation():
        auditor.get_by_role("link", name="The books").last.click()
    expect(auditor.locator("#balanced")).to_have_text("Debits equal credits.")

    refused = auditor.goto(f"{C}/members/{code}")  # her page is not the auditor's to see
    assert refused is not None and refused.status == 403
    assert "Asha" not in auditor.content()


def member_with_a_loan(api: Api) -> tuple[str, int]:
    """Her page at its widest: an open loan adds the loans table and a repayment form."""
    approvals_required(api, 1)
    product(api)
    code = borrower(api)
    loan_id = apply_for_loan(api, code)
    vote = api.post(f"{BASE}/loans/{loan_id}/votes", {"decision": "approve"}, role="board")
    assert vote.status_code == 201, vote.text
    disburse(api, loan_id)
    return code, loan_id


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}


def within_width(page: Page, selector: str, width: int) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None and page.locator(selector).is_visible(), selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)


def test_the_member_page_fits_1024x600_and_its_deposit_form_fits_a_phone(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    code, loan_id = member_with_a_loan(live.api)

    small = open_as("clerk1", viewport={"width": 1024, "height": 600})
    small.goto(f"{C}/members/{code}")
    expect(small.locator(f"#loan-{loan_id}")).to_be_visible()
    assert small.evaluate("document.documentElement.scrollWidth") <= 1024
    for selector in ("#deposit-amount", "#deposit-form button[type=submit]"):
        within_width(small, selector, 1024)
    shot(small, "22-member-1024x600")

    phone = open_as("clerk1", **PHONE)
    phone.goto(f"{C}/members/{code}")
    has_focus(phone, "#deposit-amount")
    for selector in ("#deposit-amount", "#deposit-form button[type=submit]"):
        within_width(phone, selector, 390)
    shot(phone, "23-member-phone-390x844")


def test_the_member_page_does_not_scroll_sideways_on_a_phone(
        live: LiveServer, open_as: OpenAs) -> None:
    code, _ = member_with_a_loan(live.api)
    phone = open_as("clerk1", **PHONE)
    phone.goto(f"{C}/members/{code}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
