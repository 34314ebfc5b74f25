"""The counter's loan application, repayment from savings and request forms (issue 17),
through the real app without JavaScript: the quote is shown and nothing is saved until the
confirm step; a changed figure shows the quote again; every refusal is in words next to its
field and changes nothing; the roles are the API's."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select

from coop import loans, savings
from coop.ledger.orm import EntryRow
from coop.loans.orm import LoanRow, RescheduleRow
from coop.money import format_minor
from tests.api.conftest import Api
from tests.api.loan_helpers import BASE, borrower, product
from tests.api.test_counter_pages import Counter, balance, counter, fields  # noqa: F401

C = "/counter"


def loan_count(api: Api) -> int:
    return int(api.db.read(lambda s: s.scalar(select(func.count()).select_from(LoanRow))))


def entry_count(api: Api) -> int:
    return int(api.db.read(lambda s: s.scalar(select(func.count()).select_from(EntryRow))))


def error_of(html: str, name: str) -> str:
    found = re.search(rf'<p class="error" id="{name}-error"[^>]*>([^<]*)</p>', html)
    assert found, f"no error next to {name}"
    return found.group(1)


def application(code: str, **values: str) -> dict[str, str]:
    return {"product": "WEEKLY", "principal": "5000", "installments": "", "purpose": "health",
            **values}


def test_the_quote_is_shown_before_anything_is_saved_then_confirmed(
        api: Api, counter: Counter) -> None:  # noqa: F811
    product(api)
    code = borrower(api)
    guarantor = borrower(api, savings="3000.00", shares=1)
    client = counter()
    form = client.get(f"{C}/members/{code}/loan-application")
    assert form.status_code == 200 and 'id="application-form"' in form.text
    csrf = fields(form.text, "application-form")
    before = loan_count(api)
    quoted = client.post(f"{C}/members/{code}/loan-application", data={
        **csrf, **application(code, guarantor_1_code=guarantor.lower(),
                              guarantor_1_amount="1000")})
    assert quoted.status_code == 200, quoted.text
    assert loan_count(api) == before  # a quote saves nothing
    assert 'id="apr"' in quoted.text and 'id="total-interest"' in quoted.text
    assert re.search(r'id="guarantor-holds".*?₹1,000\.00.*?₹3,000\.00.*?₹2,000\.00',
                     quoted.text, re.S)
    holds_before = api.db.read(lambda s: savings.balances(s, guarantor).held_minor)
    assert holds_before == 0
    confirm = fields(quoted.text, "confirm-form")
    assert confirm["confirm"] == "1" and confirm["guarantor_1_amount"] == "1000"
    done = client.post(f"{C}/members/{code}/loan-application", data=confirm,
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    assert loan_count(api) == before + 1
    assert api.db.read(lambda s: savings.balances(s, guarantor).held_minor) == 100000
    pending, _ = api.db.read(loans.pending)
    assert [loan.member_code for loan in pending] == [code]
    board = counter("board1").get(f"{C}/board")
    assert f'id="application-{pending[0].id}"' in board.text


def test_figures_changed_between_quote_and_confirm_show_the_new_quote(
        api: Api, counter: Counter) -> None:  # noqa: F811
    product(api)
    code = borrower(api)
    client = counter()
    quoted = client.post(f"{C}/members/{code}/loan-application", data={
        **fields(client.get(f"{C}/members/{code}/loan-application").text, "application-form"),
        **application(code)})
    confirm = fields(quoted.text, "confirm-form")
    again = client.post(f"{C}/members/{code}/loan-application",
                        data={**confirm, "figures": "0" * 20})
    assert again.status_code == 200
    assert "The figures changed" in again.text and 'id="confirm-form"' in again.text
    assert loan_count(api) == 0


def test_refusals_are_next_to_their_fields_and_save_nothing(api: Api, counter: Counter) -> None:  # noqa: F811
    product(api)
    code = borrower(api, savings="1000.00", shares=1)
    board_member = api.member_codes["board-member"]
    client = counter()
    csrf = fields(client.get(f"{C}/members/{code}/loan-application").text, "application-form")
    cases = [
        ({"principal": "abc"}, "principal", ""),
        ({"principal": "900000"}, "principal", "times her savings and shares"),
        ({"purpose": "gambling"}, "purpose", "Choose what the loan is for."),
        ({"installments": "0"}, "installments", "whole number"),
        ({"guarantor_1_code": code, "guarantor_1_amount": "10"}, "guarantor_1",
         "cannot guarantee her own loan"),
        ({"guarantor_2_code": board_member, "guarantor_2_amount": "10"}, "guarantor_2",
         "sits on the board"),
        ({"guarantor_1_code": "M-ZZZZZ", "guarantor_1_amount": "10"}, "guarantor_1", ""),
        ({"guarantor_1_code": "", "guarantor_1_amount": "10"}, "guarantor_1",
         "member number"),
    ]
    for values, name, words in cases:
        for confirm in ({}, {"confirm": "1", "figures": "x"}):
            response = client.post(f"{C}/members/{code}/loan-application",
                                   data={**csrf, **application(code, principal="2000"),
                                         **values, **confirm})
            assert response.status_code == 422, (values, response.text)
            assert words in error_of(response.text, name), values
            assert 'id="confirm-form"' not in response.text
            assert re.search(rf'id="{name}[^"]*"[^>]*autofocus', response.text), name
    assert loan_count(api) == 0


def test_a_new_member_is_refused_in_words_at_the_top(api: Api, counter: Counter) -> None:  # noqa: F811
    product(api)
    response = api.post(f"{BASE}/members", {}, role="clerk")
    code = response.json()["code"]
    client = counter()
    csrf = fields(client.get(f"{C}/members/{code}/loan-application").text, "application-form")
    refused = client.post(f"{C}/members/{code}/loan-application",
                          data={**csrf, **application(code, principal="10")})
    assert refused.status_code == 422
    assert "days of membership" in error_of(refused.text, "member")


def test_the_application_is_for_clerks_and_admins(api: Api, counter: Counter) -> None:  # noqa: F811
    code = borrower(api)
    for user in ("board1", "auditor1"):
        assert counter(user).get(f"{C}/members/{code}/loan-application").status_code == 403
    assert counter().get(f"{C}/members/M-ZZZZZ/loan-application").status_code == 404


def _active_loan(api: Api, code: str) -> int:
    """A loan approved (one vote needed) and paid out into her savings, through the API."""
    response = api.client.patch(f"{BASE}/society",
                                json={"settings": {"loan_approvals_required": 1}},
                                headers=api.headers("admin"))
    assert response.status_code == 200, response.text
    applied = api.post(f"{BASE}/loans", {"member_code": code, "product": "WEEKLY",
                                         "principal": "5000.00"}, role="clerk")
    loan_id = int(applied.json()["id"])
    assert api.post(f"{BASE}/loans/{loan_id}/votes", {"decision": "approve"},
                    role="board").status_code == 201
    assert api.post(f"{BASE}/loans/{loan_id}/disbursement", {"to": "savings"},
                    role="clerk").status_code == 201
    return loan_id


def test_a_repayment_from_her_savings_is_shown_then_taken(api: Api, counter: Counter) -> None:  # noqa: F811
    product(api)
    code = borrower(api)
    loan_id = _active_loan(api, code)
    client = counter()
    page = client.get(f"{C}/members/{code}")
    assert f'id="repay-source-{loan_id}"' in page.text
    form = fields(page.text, f"repayment-form-{loan_id}")
    shown = client.post(f"{C}/loans/{loan_id}/repayment",
                        data={**form, "amount": "500", "source": "savings"})
    assert "Taken from her savings." in shown.text
    before = balance(shown.text)
    confirm = fields(shown.text, "repayment-preview")
    assert confirm["source"] == "savings"
    taken = client.post(f"{C}/loans/{loan_id}/repayment", data=confirm)
    assert "taken from her savings" in taken.text
    assert (before, balance(taken.text)) == ("₹15,000.00", "₹14,500.00")
    too_much = client.post(f"{C}/loans/{loan_id}/repayment", data={
        **fields(taken.text, f"repayment-form-{loan_id}"), "amount": "4600",
        "source": "savings", "confirm": "1"})
    assert too_much.status_code == 422
    assert f'id="repay-error-{loan_id}"' in too_much.text
    assert balance(too_much.text) == "₹14,500.00"


def test_reschedule_and_holiday_requests_refused_in_words_then_taken(
        api: Api, counter: Counter) -> None:  # noqa: F811
    product(api)
    code = borrower(api)
    loan_id = _active_loan(api, code)
    client = counter()
    page = client.get(f"{C}/members/{code}/requests")
    assert page.status_code == 200
    form = fields(page.text, f"reschedule_{loan_id}-form")
    nothing = client.post(f"{C}/loans/{loan_id}/reschedule", data={**form, "reason": "ill"})
    assert nothing.status_code == 422
    assert "changes something" in error_of(nothing.text, f"reschedule_{loan_id}_extra_installments")
    no_reason = client.post(f"{C}/loans/{loan_id}/reschedule",
                            data={**form, "extra_installments": "4"})
    assert no_reason.status_code == 422 and error_of(no_reason.text,
                                                     f"reschedule_{loan_id}_reason")
    holiday = fields(page.text, f"holiday_{loan_id}-form")
    past = client.post(f"{C}/loans/{loan_id}/reschedule",
                       data={**holiday, "holiday_until": "2025-01-01", "reason": "ill"})
    assert "after the business date" in error_of(past.text, f"holiday_{loan_id}_holiday_until")
    bad_date = client.post(f"{C}/loans/{loan_id}/reschedule",
                           data={**holiday, "holiday_until": "31/12", "reason": "ill"})
    assert "YYYY-MM-DD" in error_of(bad_date.text, f"holiday_{loan_id}_holiday_until")
    count = api.db.read(lambda s: s.scalar(select(func.count()).select_from(RescheduleRow)))
    assert count == 0
    asked = client.post(f"{C}/loans/{loan_id}/reschedule",
                        data={**holiday, "holiday_until": "2025-09-30", "reason": "ill"})
    assert asked.status_code == 200 and "is with the board" in asked.text
    request_id = api.db.read(lambda s: s.scalar(select(RescheduleRow.id)))
    assert f'id="reschedule-request-{request_id}"' in asked.text
    assert f'id="reschedule-{request_id}"' in counter("board1").get(f"{C}/board").text


def test_share_redemption_keeps_the_minimum_and_the_loan_cover(
        api: Api, counter: Counter) -> None:  # noqa: F811
    product(api)
    code = borrower(api, savings="0.00", shares=3)
    admin = counter("admin")
    page = admin.get(f"{C}/members/{code}/requests")
    form = fields(page.text, "redeem-form")
    below = admin.post(f"{C}/members/{code}/share-redemption", data={**form, "count": "3"})
    assert below.status_code == 422 and "at least 1" in error_of(below.text, "redeem_count")
    zero = admin.post(f"{C}/members/{code}/share-redemption", data={**form, "count": "0"})
    assert zero.status_code == 422 and error_of(zero.text, "redeem_count")
    entries = entry_count(api)
    paid = admin.post(f"{C}/members/{code}/share-redemption",
                      data={**form, "count": "2", "to": "savings"})
    assert paid.status_code == 200 and "she keeps 1" in paid.text
    assert entry_count(api) == entries + 1
    assert counter().get(f"{C}/members/{code}/requests").text.count('id="redeem-form"') == 0
    clerk = counter()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"',
                     clerk.get(f"{C}/members/{code}/requests").text)
    assert csrf
    refused = clerk.post(f"{C}/members/{code}/share-redemption",
                         data={"csrf": csrf.group(1), "count": "1"})
    assert refused.status_code == 403


def test_a_hold_placed_refused_and_released_by_an_admin(api: Api, counter: Counter) -> None:  # noqa: F811
    code = borrower(api, savings="1000.00", shares=1)
    admin = counter("admin")
    form = fields(admin.get(f"{C}/members/{code}/requests").text, "hold-form")
    too_much = admin.post(f"{C}/members/{code}/holds",
                          data={**form, "amount": "1000.01", "reason": "court order"})
    assert too_much.status_code == 422 and "available" in error_of(too_much.text, "hold_amount")
    no_reason = admin.post(f"{C}/members/{code}/holds", data={**form, "amount": "100"})
    assert no_reason.status_code == 422 and error_of(no_reason.text, "hold_reason")
    placed = admin.post(f"{C}/members/{code}/holds",
                        data={**form, "amount": "400", "reason": "court order"})
    assert placed.status_code == 200 and "set aside" in placed.text
    assert re.search(r'<strong id="available">₹600.00', placed.text)
    hold = api.db.read(lambda s: savings.holds_of(s, code))[0]
    released = admin.post(f"{C}/members/{code}/holds/{hold.id}/release", data=form)
    assert released.status_code == 200 and "available again" in released.text
    again = admin.post(f"{C}/members/{code}/holds/{hold.id}/release", data=form)
    assert again.status_code == 409 and "released already" in again.text
    assert api.db.read(lambda s: savings.holds_of(s, code)) == []
    assert counter().post(f"{C}/members/{code}/holds",
                          data={**form, "amount": "1", "reason": "x"}).status_code == 403


def test_exit_asks_first_and_is_refused_while_she_has_savings(
        api: Api, counter: Counter) -> None:  # noqa: F811
    code = borrower(api, savings="100.00", shares=0)
    admin = counter("admin")
    form = fields(admin.get(f"{C}/members/{code}/requests").text, "exit-form")
    asked = admin.post(f"{C}/members/{code}/exit", data=form)
    assert asked.status_code == 200 and "cannot be undone" in asked.text
    refused = admin.post(f"{C}/members/{code}/exit", data=fields(asked.text, "exit-form"))
    assert refused.status_code == 409 and "pay it out first" in refused.text
    assert api.post(f"{BASE}/members/{code}/withdrawals", {"amount": "100.00"},
                    role="clerk").status_code == 201
    left = admin.post(f"{C}/members/{code}/exit", data=fields(asked.text, "exit-form"))
    assert left.status_code == 200 and "has left the society" in left.text
    assert "(exited)" in left.text


def test_the_amount_due_now_is_filled_in(api: Api, counter: Counter) -> None:  # noqa: F811
    product(api)
    code = borrower(api)
    loan_id = _active_loan(api, code)
    client = counter()
    pattern = rf'id="repay-{loan_id}"[^>]*value="([^"]*)"'
    found = re.search(pattern, client.get(f"{C}/members/{code}").text, re.S)
    assert found and found.group(1) == ""  # nothing due on the day it was paid out
    api.clock.business_date = date(2025, 7, 8)  # the first weekly installment fell due
    due = api.db.read(lambda s: loans.standing(s, loan_id, as_of=date(2025, 7, 8)))
    assert due.position is not None and due.position.due_now > 0
    later = counter()  # a new session: the first one expired with the days
    found = re.search(pattern, later.get(f"{C}/members/{code}").text, re.S)
    assert found and found.group(1) == format_minor(due.position.due_now, "INR")


def test_a_moratorium_read_back_then_declared_by_the_board(
        api: Api, counter: Counter) -> None:  # noqa: F811
    product(api)
    _active_loan(api, borrower(api))
    board = counter("board1")
    assert 'href="/counter/moratoria"' in board.get(f"{C}/board").text
    form = fields(board.get(f"{C}/moratoria").text, "moratorium-form")
    wanted = {**form, "from_on": "2025-07-01", "to_on": "2025-07-31", "accrue_interest": "0",
              "resolution": "floods"}
    for bad, name, words in (({"to_on": "2025-06-01"}, "to_on", "at most a year"),
                             ({"from_on": "July"}, "from_on", "YYYY-MM-DD"),
                             ({"resolution": ""}, "resolution", "")):
        refused = board.post(f"{C}/moratoria", data={**wanted, **bad, "confirm": "1"})
        assert refused.status_code == 422 and words in error_of(refused.text, name)
    read_back = board.post(f"{C}/moratoria", data=wanted)
    assert read_back.status_code == 200 and "No interest for those days." in read_back.text
    assert 'id="moratorium-confirm"' in read_back.text
    declared = board.post(f"{C}/moratoria", data=fields(read_back.text, "moratorium-confirm"))
    assert declared.status_code == 200
    assert "Moratorium declared: 1 loans have no installments due from 01-07-2025 to " \
        "31-07-2025." in declared.text
    assert counter().get(f"{C}/moratoria").status_code == 403


def test_the_board_opens_a_members_requests_by_her_number(
        api: Api, counter: Counter) -> None:  # noqa: F811
    code = borrower(api, savings="0.00", shares=2)
    board = counter("board1")
    assert 'id="requests-find"' in board.get(f"{C}/board").text
    found = board.get(f"{C}/requests", params={"code": code.lower()}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"].endswith(f"{code}/requests")
    page = board.get(found.headers["location"])
    assert 'id="redeem-form"' in page.text and 'id="exit-form"' in page.text
    assert 'id="hold-form"' not in page.text  # holds are the admin's
    missing = board.get(f"{C}/requests", params={"code": "M-ZZZZZZ"})
    assert missing.status_code == 404 and "No member has the number" in missing.text
    assert board.get(f"{C}/requests").status_code == 404
