"""Two clerks confirm the same loan application at the same moment, through a real HTTP
server (SQLite and PostgreSQL): one loan is stored, with one hold on the guarantor's savings;
the other clerk is told in words why not (the society allows her one open loan); nothing
is a 5xx."""

from __future__ import annotations

import re
import threading

import httpx
from sqlalchemy import func, select

from coop import savings
from coop.loans.orm import LoanRow
from tests.api.conftest import PASSWORD, LiveServer
from tests.api.loan_helpers import borrower, product

C = "/counter"
CLERKS = 2


def logged_in(base_url: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=60)
    form = client.get(f"{C}/login")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf
    done = client.post(f"{C}/login", data={"csrf": csrf.group(1), "username": "clerk1",
                                            "password": PASSWORD})
    assert done.status_code == 303, done.text
    return client


def confirm_form(client: httpx.Client, code: str, guarantor: str) -> dict[str, str]:
    """The quote for the same application, and the hidden fields of its confirm step."""
    page = client.get(f"{C}/members/{code}/loan-application")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf
    quoted = client.post(f"{C}/members/{code}/loan-application", data={
        "csrf": csrf.group(1), "product": "WEEKLY", "principal": "5000", "purpose": "health",
        "guarantor_1_code": guarantor, "guarantor_1_amount": "1000"})
    assert quoted.status_code == 200, quoted.text
    form = re.search(r'<form[^>]*id="confirm-form".*?</form>', quoted.text, re.S)
    assert form
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group()))


def test_two_clerks_confirming_at_once_store_one_loan(live: LiveServer) -> None:
    api = live.api
    product(api)
    code = borrower(api)
    guarantor = borrower(api, savings="3000.00", shares=1)
    clients = [logged_in(live.base_url) for _ in range(CLERKS)]
    forms = [confirm_form(client, code, guarantor) for client in clients]
    start = threading.Barrier(CLERKS)
    responses: list[httpx.Response] = []

    def confirm(client: httpx.Client, form: dict[str, str]) -> None:
        start.wait()
        responses.append(client.post(f"{C}/members/{code}/loan-application", data=form))

    threads = [threading.Thread(target=confirm, args=pair) for pair in zip(clients, forms,
                                                                          strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for client in clients:
        client.close()
    assert sorted(r.status_code for r in responses) == [303, 422], [r.text for r in responses]
    refused = next(r for r in responses if r.status_code == 422)
    assert re.search(r'id="member-error"[^>]*>[^<]*open loan', refused.text), refused.text
    stored = api.db.read(lambda s: s.scalar(select(func.count()).select_from(LoanRow)))
    assert stored == 1
    assert api.db.read(lambda s: savings.balances(s, guarantor).held_minor) == 100_000
