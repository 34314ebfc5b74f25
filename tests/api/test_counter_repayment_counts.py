"""A repayment at the counter, counted: the preview (her page with the payment allocated),
then the confirmation (and her page after it, where the redirect lands) take at most four
database transactions and replay the loan at most twice.

A replay is a run of the pure engine over the loan's whole history: `engine.position`,
`engine.allocate`, `engine.settle` or `engine.installments` (a call made from inside another
counts once). Transactions are `Database.read` and `Database.write` calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from coop.db import Database
from coop.loans import engine, records
from tests.api.conftest import Api
from tests.api.loan_helpers import BASE, borrower, make_board, product
from tests.api.test_counter_pages import C, fields, login

TRANSACTIONS_MAX = 4
REPLAYS_MAX = 2


class Counts:
    def __init__(self) -> None:
        self.transactions = 0
        self.replays = 0
        self.depth = 0


def counting(monkeypatch: pytest.MonkeyPatch, found: Counts) -> None:
    """From now on, count every transaction and every replay into `found`."""
    def transaction(method: Callable[..., Any]) -> Callable[..., Any]:
        def counted(self: Database, work: Callable[..., Any]) -> Any:
            found.transactions += 1
            return method(self, work)
        return counted

    def replay(function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            found.replays += found.depth == 0
            found.depth += 1
            try:
                return function(*args, **kwargs)
            finally:
                found.depth -= 1
        return counted

    for name in ("read", "write"):
        monkeypatch.setattr(Database, name, transaction(getattr(Database, name)))
    for name in ("position", "allocate", "settle", "installments"):
        monkeypatch.setattr(engine, name, replay(getattr(engine, name)))


def test_a_counter_repayment_is_four_transactions_and_two_replays(
        api: Api, monkeypatch: pytest.MonkeyPatch, figure: Callable[[str], None]) -> None:
    board = make_board(api)
    product(api)
    api.client.patch(f"{BASE}/society", json={"settings": {"loan_min_membership_days": 0}},
                     headers=api.headers("admin"))
    code = borrower(api)
    loan_id = api.post(f"{BASE}/loans", {"member_code": code, "product": "WEEKLY",
                                         "principal": "1000.00"}, role="clerk").json()["id"]
    for voter in list(board.tokens)[:6]:
        assert board.post(voter, f"{BASE}/loans/{loan_id}/votes",
                          {"decision": "approve"}).status_code == 201
    assert api.post(f"{BASE}/loans/{loan_id}/disbursement", {"to": "savings"},
                    role="clerk").status_code == 201
    start = api.clock.today()
    api.clock.instant = api.clock.now()  # tokens keep their clock while the date moves
    for weeks in (1, 2, 4):  # a loan with a history: paid, then paid late
        api.clock.business_date = start + timedelta(weeks=weeks)
        assert api.post(f"{BASE}/loans/{loan_id}/repayments", {"amount": "100.00"},
                        role="clerk").status_code == 201
    api.clock.business_date = start + timedelta(weeks=6)

    client = api.client.__class__(app=api.app)
    with client:
        assert login(client, "clerk1").status_code == 303
        page = client.get(f"{C}/members/{code}")
        repay = fields(page.text, f"repayment-form-{loan_id}")
        api.app.state.coop.principals.ttl_seconds = 3600  # her session is not read again
        records.forget()  # nothing remembered from before: every replay is counted
        found = Counts()
        counting(monkeypatch, found)

        preview = client.post(f"{C}/loans/{loan_id}/repayment",
                              data={**repay, "amount": "150"})
        assert preview.status_code == 200 and 'id="repayment-preview"' in preview.text
        previewed = (found.transactions, found.replays)
        done = client.post(f"{C}/loans/{loan_id}/repayment",
                           data=fields(preview.text, "repayment-preview"))
        assert done.status_code == 200 and "₹150.00 received" in done.text

    figure(f"counter repayment (preview, confirmation, her page): {found.transactions} "
           f"transactions, {found.replays} replays of the loan (the preview alone: "
           f"{previewed[0]} and {previewed[1]})")
    assert found.transactions <= TRANSACTIONS_MAX
    assert found.replays <= REPLAYS_MAX
    loan = api.get(f"{BASE}/loans/{loan_id}").json()
    assert loan["status"] == "active" and date.fromisoformat(loan["applied_on"]) == start
