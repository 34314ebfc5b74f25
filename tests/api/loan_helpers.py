"""Shared set-up for the loan API tests: a board of seven voters, a borrower, products."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from coop import auth, members
from coop.board import sync_seat
from tests.api.conftest import PASSWORD, TEST_PASSWORDS, TEST_VAULT, Api

BASE = "/api/v1"


@dataclass
class Board:
    api: Api
    tokens: dict[str, str] = field(default_factory=dict)  # username -> token
    codes: dict[str, str] = field(default_factory=dict)  # username -> member code

    def post(self, username: str, path: str, json: Any, key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[username]}"}
        if key:
            headers["Idempotency-Key"] = key
        return self.api.client.post(path, json=json, headers=headers)

    def vote_all(self, loan_id: int, decisions: list[str], *,
                 skip: tuple[str, ...] = ()) -> list[Any]:
        voters = [u for u in self.tokens if u not in skip]
        return [self.post(voter, f"{BASE}/loans/{loan_id}/votes", {"decision": decision})
                for voter, decision in zip(voters, decisions, strict=False)]


def make_board(api: Api, seats: int = 7) -> Board:
    """`seats` more board users (board2...), each a registered member; plus board1."""
    board = Board(api)
    board.tokens["board1"] = api.tokens["board1"]
    board.codes["board1"] = api.member_codes["board-member"]

    def create(session: Any) -> None:
        for n in range(2, seats + 1):
            code = members.register_member(session, identity=members.Identity(),
                                           joined_on=None, vault=TEST_VAULT,
                                           clock=api.clock).code
            auth.create_user(session, username=f"board{n}", password=PASSWORD, role="board",
                             member_code=code, passwords=TEST_PASSWORDS, clock=api.clock)
            sync_seat(session, username=f"board{n}", on=api.clock.today())
            board.codes[f"board{n}"] = code

    api.db.write(create)
    for n in range(2, seats + 1):
        response = api.client.post(f"{BASE}/auth/token",
                                   json={"username": f"board{n}", "password": PASSWORD})
        assert response.status_code == 200, response.text
        board.tokens[f"board{n}"] = response.json()["access_token"]
    return board


def borrower(api: Api, *, savings: str = "10000.00", shares: int = 10,
             joined_on: date = date(2024, 1, 1)) -> str:
    """A member of long standing with savings and shares."""
    response = api.post(f"{BASE}/members", {"joined_on": joined_on.isoformat()}, role="admin")
    assert response.status_code == 201, response.text
    code = str(response.json()["code"])
    if savings != "0.00":
        assert api.post(f"{BASE}/members/{code}/deposits", {"amount": savings},
                        role="clerk").status_code == 201
    if shares:
        assert api.post(f"{BASE}/members/{code}/shares", {"count": shares},
                        role="clerk").status_code == 201
    return code


def product(api: Api, code: str = "WEEKLY", **terms: Any) -> dict[str, Any]:
    body = {"code": code, "name": f"{code} loan", "annual_rate": "12", "installments": 10,
            "frequency": "weekly", **terms}
    response = api.post(f"{BASE}/loan-products", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def balance(api: Api, account: str) -> str:
    response = api.get(f"{BASE}/ledger/accounts")
    assert response.status_code == 200
    for item in response.json()["items"]:
        if item["code"] == account:
            return str(item["balance"])
    raise AssertionError(f"no account {account}")


def member_balance(api: Api, code: str, account: str) -> str:
    response = api.get(f"{BASE}/ledger/accounts", params={"member": code})
    assert response.status_code == 200
    for item in response.json()["items"]:
        if item["code"] == account:
            return str(item["balance"])
    raise AssertionError(f"no account {account}")
