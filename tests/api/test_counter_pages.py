"""The counter pages without JavaScript, through an HTTP client: the forms and values are in
the HTML; a form without its CSRF token is refused and changes nothing; a resubmitted form
posts once; a refusal is shown in words next to the field; a member sees only her own page;
the auditor's page has no names."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest
from litestar.testing import TestClient

from tests.api.conftest import PASSWORD, Api

C = "/counter"


def login(client: TestClient, username: str, password: str = PASSWORD) -> httpx.Response:
    form = client.get(f"{C}/login")
    assert form.status_code == 200
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf, form.text
    return client.post(f"{C}/login", data={"csrf": csrf.group(1), "username": username,
                                            "password": password}, follow_redirects=False)


def fields(html: str, form_id: str) -> dict[str, str]:
    """The hidden fields of one form on a page."""
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S)
    assert form, f"no form {form_id}"
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group()))


Counter = Callable[..., TestClient]


@pytest.fixture
def counter(api: Api) -> Iterator[Counter]:
    """Browsers of their own (each its cookies), logged in as `username`."""
    with ExitStack() as stack:
        def open_as(username: str = "clerk1") -> TestClient:
            client = stack.enter_context(TestClient(app=api.app))
            return _logged_in(client, username)
        yield open_as


def _logged_in(client: TestClient, username: str) -> TestClient:
    response = login(client, username)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/counter/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    return client


def balance(html: str) -> str:
    found = re.search(r'<strong id="balance">([^<]+)</strong>', html)
    assert found, html
    return found.group(1)


def test_a_clerks_counter_without_javascript(api: Api, counter: Counter) -> None:
    client = counter()
    home = client.get(f"{C}/")
    assert 'name="code"' in home.text and "autofocus" in home.text
    code = api.member_codes["member"]
    typed = code.lower().replace("0", "o")  # what a clerk might type
    found = client.get(f"{C}/find", params={"code": typed}, follow_redirects=False)
    assert found.status_code in (302, 303) and found.headers["location"].endswith(code)
    page = client.get(f"{C}/members/{code}")
    assert page.status_code == 200 and balance(page.text) == "₹0.00"

    deposit = fields(page.text, "deposit-form")
    posted = client.post(f"{C}/members/{code}/deposit", data={**deposit, "amount": "500"},
                         follow_redirects=False)
    assert posted.status_code == 303, posted.text
    again = client.post(f"{C}/members/{code}/deposit", data={**deposit, "amount": "500"},
                        follow_redirects=True)  # a double click: the same form again
    assert balance(again.text) == "₹500.00"
    assert "Deposited" in again.text

    page = client.get(f"{C}/members/{code}")
    too_much = client.post(f"{C}/members/{code}/withdrawal",
                           data={**fields(page.text, "withdrawal-form"), "amount": "900"})
    assert too_much.status_code == 422
    assert re.search(r'id="withdrawal-error"[^>]*>[^<]*available balance is ₹500.00',
                     too_much.text)
    assert balance(too_much.text) == "₹500.00"

    bought = client.post(f"{C}/members/{code}/shares",
                         data={**fields(page.text, "shares-form"), "count": "2",
                               "source": "savings"})
    assert bought.status_code == 200 and "She now has 2 shares" in bought.text
    assert balance(bought.text) == "₹480.00"


def test_a_form_without_its_csrf_token_is_refused(api: Api, counter: Counter) -> None:
    client = counter()
    code = api.member_codes["member"]
    page = client.get(f"{C}/members/{code}")
    deposit = fields(page.text, "deposit-form")
    for csrf in ("", "0" * 32):
        refused = client.post(f"{C}/members/{code}/deposit",
                              data={**deposit, "csrf": csrf, "amount": "100"})
        assert refused.status_code == 403
    assert balance(client.get(f"{C}/members/{code}").text) == "₹0.00"
    no_login_csrf = api.client.post(
        f"{C}/login", data={"username": "clerk1", "password": PASSWORD},
        follow_redirects=False)
    assert no_login_csrf.status_code == 403


def test_no_session_goes_to_the_login_page_and_logout_ends_it(api: Api,
                                                             counter: Counter) -> None:
    anonymous = api.client
    response = anonymous.get(f"{C}/members/{api.member_codes['member']}",
                             follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/counter/login"
    bad = login(anonymous, "clerk1", "wrong password")
    assert bad.status_code == 401 and "error" in bad.text
    client = counter()
    home = client.get(f"{C}/")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', home.text)
    assert csrf
    out = client.post(f"{C}/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get(f"{C}/", follow_redirects=False).status_code == 303


def test_a_member_sees_her_own_page_only(api: Api, counter: Counter) -> None:
    client = counter("member1")
    own = api.member_codes["member"]
    home = client.get(f"{C}/", follow_redirects=False)
    assert home.headers["location"] == f"/counter/members/{own}"
    page = client.get(f"{C}/members/{own}")
    assert page.status_code == 200 and 'id="deposit-form"' not in page.text
    other = api.member_codes["board-member"]
    assert client.get(f"{C}/members/{other}").status_code == 404
    assert client.get(f"{C}/register").status_code == 403


def test_the_auditor_sees_the_books_balance_and_no_names(api: Api, counter: Counter) -> None:
    clerk = counter()
    made = clerk.get(f"{C}/register")
    registered = clerk.post(f"{C}/register", data={
        "csrf": re.search(r'name="csrf" value="([0-9a-f]+)"', made.text).group(1),  # type: ignore[union-attr]
        "known_as": "Asha", "language": "kn"}, follow_redirects=True)
    assert registered.status_code == 200 and "Asha" in registered.text
    auditor = counter("auditor1")
    books = auditor.get(f"{C}/audit")
    assert books.status_code == 200
    assert "Debits equal credits." in books.text and 'id="verify"' in books.text
    assert "Asha" not in books.text
    assert auditor.get(f"{C}/members/{api.member_codes['member']}").status_code == 403


def test_a_loan_paid_out_and_repaid_at_the_counter(api: Api, counter: Counter) -> None:
    from tests.api.loan_helpers import BASE, borrower, make_board, product

    board = make_board(api)
    product(api)
    api.client.patch(f"{BASE}/society", json={"settings": {"loan_min_membership_days": 0}},
                     headers=api.headers("admin"))
    code = borrower(api)
    applied = api.post(f"{BASE}/loans", {"member_code": code, "product": "WEEKLY",
                                         "principal": "1000.00"}, role="clerk")
    loan_id = applied.json()["id"]
    for voter in list(board.tokens)[:6]:
        assert board.post(voter, f"{BASE}/loans/{loan_id}/votes",
                          {"decision": "approve"}).status_code == 201
    client = counter()
    page = client.get(f"{C}/members/{code}")
    paid_out = client.post(f"{C}/loans/{loan_id}/disbursement",
                           data={**fields(page.text, f"disburse-form-{loan_id}"),
                                 "to": "savings"})
    assert paid_out.status_code == 200 and "paid into her savings" in paid_out.text
    assert balance(paid_out.text) == "₹11,000.00"  # 10,000.00 saved and the 1,000.00 loan
    again = client.post(f"{C}/loans/{loan_id}/disbursement",
                        data={**fields(page.text, f"disburse-form-{loan_id}"), "to": "savings"})
    assert again.status_code == 409 and balance(again.text) == "₹11,000.00"

    repay = fields(paid_out.text, f"repayment-form-{loan_id}")
    preview = client.post(f"{C}/loans/{loan_id}/repayment", data={**repay, "amount": "150"})
    assert preview.status_code == 200 and 'id="repayment-preview"' in preview.text
    assert balance(preview.text) == "₹11,000.00"  # nothing taken yet
    confirm = fields(preview.text, "repayment-preview")
    done = client.post(f"{C}/loans/{loan_id}/repayment", data=confirm)
    assert done.status_code == 200 and "₹150.00 received" in done.text
    twice = client.post(f"{C}/loans/{loan_id}/repayment", data=confirm)  # resubmitted
    assert twice.status_code == 200
    loan = api.get(f"{BASE}/loans/{loan_id}").json()
    assert loan["outstanding_principal"] == "850.00"  # principal first on a new loan


def test_the_dividend_previewed_declared_and_downloaded(api: Api, counter: Counter) -> None:
    base = "/api/v1"
    api.clock.instant = api.clock.now()
    code = api.post(f"{base}/members", {"joined_on": "2024-04-01"}, role="admin").json()["code"]
    assert api.post(f"{base}/members/{code}/shares", {"count": 100, "value_date": "2024-04-01"},
                    role="clerk").status_code == 201
    assert api.post(f"{base}/ledger/entries", {
        "value_date": "2024-12-01", "narration": "Grant", "postings": [
            {"account": "1000", "debit": "100000.00"},
            {"account": "4200", "credit": "100000.00"}]}).status_code == 201
    assert api.post(f"{base}/years/2024/close", {}).status_code == 201

    board = counter("board1")
    form = board.get(f"{C}/dividends", params={"fy": "2024"})
    assert form.status_code == 200 and 'id="rate"' in form.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text).group(1)  # type: ignore[union-attr]
    wrong = board.post(f"{C}/dividends", data={"csrf": csrf, "fy": "2024", "rate": "ten"})
    assert wrong.status_code == 422 and 'class="error"' in wrong.text
    preview = board.post(f"{C}/dividends", data={"csrf": csrf, "fy": "2024", "rate": "10"})
    assert preview.status_code == 200 and 'id="preview"' in preview.text
    assert 'id="declare"' in preview.text  # the board may declare what it sees
    digest = fields(preview.text, "preview-form")["digest"]
    assert len(digest) == 64
    assert api.get(f"{base}/dividends/2024", role="board").status_code == 404  # not yet
    confirm = board.post(f"{C}/dividends", data={"csrf": csrf, "fy": "2024", "rate": "10",
                                                  "digest": digest, "step": "confirm"})
    assert confirm.status_code == 200 and 'id="confirm-form"' in confirm.text
    assert api.get(f"{base}/dividends/2024", role="board").status_code == 404  # still not
    declared = board.post(f"{C}/dividends", data={
        **fields(confirm.text, "confirm-form"), "step": "declare",
        "resolution_number": "AGM-2025/4", "resolution_date": "2025-06-28"},
        follow_redirects=True)
    assert declared.status_code == 200 and 'id="declared"' in declared.text
    assert api.get(f"{base}/dividends/2024", role="board").json()["status"] == "declared"

    auditor = counter("auditor1")
    page = auditor.get(f"{C}/dividends", params={"fy": "2024"})
    assert 'id="declare"' not in page.text  # an auditor previews, never declares
    csv = auditor.get(f"{C}/dividends/2024/members.csv")
    assert csv.status_code == 200 and csv.text.startswith("member_code,basis_value")
    assert code in csv.text
