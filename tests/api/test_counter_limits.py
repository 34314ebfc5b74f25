"""Issue 16: limits on amounts at the counter (CONTRACT.md, General; Society settings).

Counter money requests above `counter_confirm_above` need `"confirm_large_amount": true`, else
422 naming that field and nothing posted; above `counter_max_amount` they are 422 whatever
the body says. Admin journal entries are not limited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from coop.society.limits import (
    AboveCounterMaximum,
    LargeAmountNotConfirmed,
    check_counter_amount,
)
from tests.api.conftest import Api
from tests.api.loan_helpers import BASE, borrower, make_board, product
from tests.api.test_counter_pages import C, balance, fields, login
from tests.api.test_loans_api import active_loan, entries, settings

M = f"{BASE}/members"


def member(api: Api) -> str:
    response = api.post(M, {"joined_on": "2024-01-01"}, role="admin")
    assert response.status_code == 201, response.text
    return str(response.json()["code"])


def refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field], response.text


def cash(api: Api, code: str, kind: str, amount: str, **extra: Any) -> httpx.Response:
    return api.post(f"{M}/{code}/{kind}", {"amount": amount, **extra}, role="clerk")


def test_the_rule_is_one_pure_function() -> None:
    limits = {"confirm_above_minor": 5_000_000, "max_minor": 100_000_000}
    check_counter_amount(5_000_000, confirmed=False, **limits)
    check_counter_amount(5_000_001, confirmed=True, **limits)
    check_counter_amount(100_000_000, confirmed=True, **limits)
    with pytest.raises(LargeAmountNotConfirmed) as unconfirmed:
        check_counter_amount(5_000_001, confirmed=False, **limits)
    assert unconfirmed.value.field == "confirm_large_amount"
    with pytest.raises(AboveCounterMaximum) as above:
        check_counter_amount(100_000_001, confirmed=True, field="count", **limits)
    assert above.value.field == "count"


def test_settings_have_defaults_and_are_validated(api: Api) -> None:
    society = api.get(f"{BASE}/society", role="member").json()
    assert society["settings"]["counter_confirm_above"] == "50000.00"
    assert society["settings"]["counter_max_amount"] == "1000000.00"
    for bad in ({"counter_max_amount": "0"}, {"counter_confirm_above": "12.345"},
                {"counter_max_amount": "-5"}, {"counter_max_amount": 100},
                {"counter_confirm_above": "2000000.00"}):
        response = api.client.patch(f"{BASE}/society", json={"settings": bad},
                                    headers=api.headers("admin"))
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["errors"][0]["field"].startswith("settings."), response.text


@pytest.mark.parametrize("kind", ["deposits", "withdrawals"])
def test_cash_above_the_threshold_needs_confirmation(api: Api, kind: str) -> None:
    code = member(api)
    if kind == "withdrawals":
        assert cash(api, code, "deposits", "900000.00",
                    confirm_large_amount=True).status_code == 201
    assert cash(api, code, kind, "50000.00").status_code == 201
    before = entries(api)
    refused(cash(api, code, kind, "50000.01"), "confirm_large_amount")
    refused(cash(api, code, kind, "50000.01", confirm_large_amount=False),
            "confirm_large_amount")
    assert entries(api) == before
    assert cash(api, code, kind, "50000.01", confirm_large_amount=True).status_code == 201
    refused(cash(api, code, kind, "1000000.01", confirm_large_amount=True), "amount")
    refused(cash(api, code, kind, "1000000000000", confirm_large_amount=True), "amount")
    assert entries(api) == before + 1


def test_an_admin_journal_entry_is_not_limited(api: Api) -> None:
    response = api.post(f"{BASE}/ledger/entries", {
        "narration": "Grant received",
        "postings": [{"account": "1010", "debit": "2000000.00"},
                     {"account": "4200", "credit": "2000000.00"}]})
    assert response.status_code == 201, response.text


def test_share_purchases_are_limited_by_their_value(api: Api) -> None:
    code = member(api)  # face value 10.00: 5,000 shares are 50,000.00
    assert api.post(f"{M}/{code}/shares", {"count": 5000}, role="clerk").status_code == 201
    before = entries(api)
    refused(api.post(f"{M}/{code}/shares", {"count": 5001}, role="clerk"),
            "confirm_large_amount")
    assert entries(api) == before
    assert api.post(f"{M}/{code}/shares", {"count": 5001, "confirm_large_amount": True},
                    role="clerk").status_code == 201
    settings(api, counter_max_amount="100010.00")  # 100,000 shares are at most 10,00,000.00
    refused(api.post(f"{M}/{code}/shares", {"count": 10_002, "confirm_large_amount": True},
                     role="clerk"), "count")
    bought = api.post(f"{M}/{code}/shares", {"count": 10_001, "confirm_large_amount": True},
                      role="clerk")
    assert bought.status_code == 201, bought.text
    assert bought.json()["shares"] == {"count": 20_002, "value": "200020.00"}


def test_repayments_are_limited_and_settings_take_effect(api: Api) -> None:
    board = make_board(api)
    code = borrower(api)
    product(api)
    loan_id = active_loan(api, board, code)
    settings(api, counter_confirm_above="500.00", counter_max_amount="5000")
    assert api.get(f"{BASE}/society").json()["settings"]["counter_max_amount"] == "5000"
    path = f"{BASE}/loans/{loan_id}/repayments"
    assert api.post(path, {"amount": "500.00"}, role="clerk").status_code == 201
    before = entries(api)
    refused(api.post(path, {"amount": "500.01"}, role="clerk"), "confirm_large_amount")
    refused(api.post(path, {"amount": "5000.01", "confirm_large_amount": True}, role="clerk"),
            "amount")
    assert entries(api) == before
    assert api.post(path, {"amount": "600.00", "confirm_large_amount": True},
                    role="clerk").status_code == 201
    refused(cash(api, code, "deposits", "600.00"), "confirm_large_amount")
    refused(api.post(f"{M}/{code}/shares", {"count": 501, "confirm_large_amount": True},
                     role="clerk"), "count")


# --- the counter pages -------------------------------------------------------------------


@pytest.fixture
def clerk(api: Api) -> Iterator[TestClient]:
    """A browser of its own, logged in at the counter as clerk1."""
    with TestClient(app=api.app) as client:
        assert login(client, "clerk1").status_code == 303
        yield client


def test_the_counter_refuses_extra_zeros_and_confirms_a_large_deposit(
        api: Api, clerk: TestClient) -> None:
    client = clerk
    code = member(api)
    page = client.get(f"{C}/members/{code}")
    deposit = fields(page.text, "deposit-form")
    zeros = client.post(f"{C}/members/{code}/deposit",
                        data={**deposit, "amount": "1000000000000"})
    assert zeros.status_code == 422
    error = re.search(r'<p class="error" id="deposit-error"[^>]*>([^<]+)</p>', zeros.text)
    assert error and "₹10,00,000.00" in error.group(1) and "ten lakh" in error.group(1)
    assert balance(zeros.text) == "₹0.00"

    large = client.post(f"{C}/members/{code}/deposit", data={**deposit, "amount": "75000"})
    assert large.status_code == 200 and 'id="large-amount"' in large.text
    assert re.search(r'id="large-digits">₹75,000.00<', large.text)
    assert re.search(r'id="large-words">seventy-five thousand<', large.text)
    assert f'href="/counter/members/{code}">' in large.text  # Cancel
    assert balance(large.text) == "₹0.00"  # nothing posted yet
    confirm = fields(large.text, "large-amount")
    assert confirm["confirm_large_amount"] == "1" and confirm["key"] == deposit["key"]
    done = client.post(f"{C}/members/{code}/deposit", data=confirm)
    assert done.status_code == 200 and balance(done.text) == "₹75,000.00"
    twice = client.post(f"{C}/members/{code}/deposit", data=confirm)  # resubmitted
    assert balance(twice.text) == "₹75,000.00"


def test_the_counter_confirms_large_shares_and_repayments(api: Api, clerk: TestClient) -> None:
    board = make_board(api)
    code = borrower(api)
    product(api)
    loan_id = active_loan(api, board, code)
    settings(api, counter_confirm_above="100.00", counter_max_amount="1000.00")
    client = clerk
    page = client.get(f"{C}/members/{code}")
    shares = fields(page.text, "shares-form")
    large = client.post(f"{C}/members/{code}/shares",
                        data={**shares, "count": "20", "source": "cash"})
    assert 'id="large-amount"' in large.text and "two hundred" in large.text
    done = client.post(f"{C}/members/{code}/shares", data=fields(large.text, "large-amount"))
    assert done.status_code == 200 and "She now has 30 shares." in done.text
    above = client.post(f"{C}/members/{code}/shares", data={**shares, "count": "101"})
    assert above.status_code == 422 and "one thousand" in above.text

    repay = fields(page.text, f"repayment-form-{loan_id}")
    refused = client.post(f"{C}/loans/{loan_id}/repayment", data={**repay, "amount": "1000.01"})
    assert refused.status_code == 422 and "one thousand" in refused.text
    preview = client.post(f"{C}/loans/{loan_id}/repayment", data={**repay, "amount": "150"})
    assert preview.status_code == 200 and "one hundred and fifty" in preview.text
    confirm = fields(preview.text, "repayment-preview")
    assert confirm["confirm_large_amount"] == "1"
    paid = client.post(f"{C}/loans/{loan_id}/repayment", data=confirm)
    assert paid.status_code == 200 and "₹150.00 received" in paid.text
    unconfirmed = {k: v for k, v in confirm.items() if k != "confirm_large_amount"}
    unconfirmed["key"] = repay["key"] + "0"
    assert client.post(f"{C}/loans/{loan_id}/repayment",
                       data=unconfirmed).status_code == 422  # a forged form is still refused
