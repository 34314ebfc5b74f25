"""Loans through the API: a weekly loan from application to closing, votes and who may cast
them, eligibility, refused payments, guarantors, reschedules, moratoria, write-offs, quotes
against Apache Fineract, privacy and idempotency, and the share cover of an open loan.

Expected money figures were worked out independently (exact fractions, HALF_EVEN per
period, daily accrual on the actual outstanding principal) and are asserted to the paisa.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import httpx

from tests.api.conftest import PASSWORD, Api
from tests.api.loan_helpers import (
    BASE,
    Board,
    balance,
    borrower,
    make_board,
    member_balance,
    product,
)
from tests.helpers import pdf_text

L = f"{BASE}/loans"
M = f"{BASE}/members"
TODAY = date(2025, 6, 30)  # the FixedClock's business date; a Monday
# The weekly 12 % declining schedule of 10000.00 over 10 weeks, disbursed on TODAY.
WEEKLY_10000 = [
    ("2025-07-07", "989.66", "23.08", "1012.74"),
    ("2025-07-14", "991.95", "20.79", "1012.74"),
    ("2025-07-21", "994.24", "18.50", "1012.74"),
    ("2025-07-28", "996.53", "16.21", "1012.74"),
    ("2025-08-04", "998.83", "13.91", "1012.74"),
    ("2025-08-11", "1001.14", "11.60", "1012.74"),
    ("2025-08-18", "1003.45", "9.29", "1012.74"),
    ("2025-08-25", "1005.76", "6.98", "1012.74"),
    ("2025-09-01", "1008.08", "4.66", "1012.74"),
    ("2025-09-08", "1010.36", "2.33", "1012.69"),
]


# --- helpers --------------------------------------------------------------------------------


def at(api: Api, day: date) -> None:
    """Move the business date; the token clock stays pinned so no token expires."""
    if api.clock.instant is None:
        api.clock.instant = api.clock.now()
    api.clock.business_date = day


def is_problem(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["type"] == f"urn:coop:problem:{code}", body


def settings(api: Api, **values: Any) -> None:
    response = api.client.patch(f"{BASE}/society", json={"settings": values},
                                headers=api.headers("admin"))
    assert response.status_code == 200, response.text


def apply(api: Api, code: str, principal: str = "10000.00", product_code: str = "WEEKLY",
          **extra: Any) -> int:
    response = api.post(L, {"member_code": code, "product": product_code,
                            "principal": principal, **extra}, role="clerk")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending" and body["principal"] == principal
    return int(body["id"])


def approve(board: Board, loan_id: int, path: str | None = None) -> None:
    path = path or f"{L}/{loan_id}/votes"
    voters = list(board.tokens)[:6]
    for n, voter in enumerate(voters, start=1):
        response = board.post(voter, path, {"decision": "approve"})
        assert response.status_code == 201, response.text
        assert response.json() == {"status": "approved" if n == 6 else "pending",
                                   "approvals": n, "rejections": 0, "required": 6}


def disburse(api: Api, loan_id: int, to: str = "savings", **extra: Any) -> int:
    response = api.post(f"{L}/{loan_id}/disbursement", {"to": to, **extra}, role="clerk")
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "active"
    return int(response.json()["entry_id"])


def seat(api: Api, board: Board, username: str, code: str | None = None) -> str:
    """A board user made through the API (for a new member unless `code` is given)."""
    if code is None:
        made = api.post(M, {"joined_on": "2020-01-01"}, role="admin")
        assert made.status_code == 201, made.text
        code = str(made.json()["code"])
    user = api.post(f"{BASE}/users", {"username": username, "password": PASSWORD,
                                      "role": "board", "member_code": code})
    assert user.status_code == 201, user.text
    token = api.client.post(f"{BASE}/auth/token",
                            json={"username": username, "password": PASSWORD})
    assert token.status_code == 200, token.text
    board.tokens[username] = token.json()["access_token"]
    board.codes[username] = code
    return code


def active_loan(api: Api, board: Board, code: str, principal: str = "10000.00",
                product_code: str = "WEEKLY", **extra: Any) -> int:
    loan_id = apply(api, code, principal, product_code, **extra)
    approve(board, loan_id)
    disburse(api, loan_id)
    return loan_id


def repay(api: Api, loan_id: int, amount: str, **extra: Any) -> dict[str, Any]:
    response = api.post(f"{L}/{loan_id}/repayments", {"amount": amount, **extra}, role="clerk")
    assert response.status_code == 201, response.text
    return dict(response.json())


def loan(api: Api, loan_id: int, **params: str) -> dict[str, Any]:
    response = api.get(f"{L}/{loan_id}", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def payoff(api: Api, loan_id: int, **params: str) -> dict[str, Any]:
    response = api.get(f"{L}/{loan_id}/payoff", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def entries(api: Api) -> int:
    """How many journal entries the book holds (and that the chain is sound)."""
    checked = api.get(f"{BASE}/ledger/verify").json()
    assert checked["ok"] is True, checked
    return int(checked["entries_checked"])


def savings_of(api: Api, code: str) -> dict[str, str]:
    response = api.get(f"{M}/{code}", role="clerk")
    assert response.status_code == 200, response.text
    return dict(response.json()["savings"])


def member_accounts(api: Api, code: str) -> dict[str, str]:
    response = api.get(f"{BASE}/ledger/accounts", params={"member": code})
    assert response.status_code == 200, response.text
    return {item["code"]: item["balance"] for item in response.json()["items"]}


def statuses(body: dict[str, Any]) -> list[str]:
    return [row["status"] for row in body["schedule"]]


def cents(amount: str) -> int:
    units, _, minor = amount.partition(".")
    return int(units) * 100 + (int(minor) if not units.startswith("-") else -int(minor))


def text(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class Book:
    """The balances a loan moves: cash, her savings and loan account, interest income."""

    def __init__(self, api: Api, code: str, loan_id: int) -> None:
        self.api, self.code, self.loan_id = api, code, loan_id
        self.last = self.read()

    def read(self) -> dict[str, int]:
        mine = member_accounts(self.api, self.code)
        return {"cash": cents(balance(self.api, "1000")),
                "interest": cents(balance(self.api, "4000")),
                "savings": cents(mine[f"2000:{self.code}"]),
                "loan": cents(mine.get(f"1100:{self.code}-L{self.loan_id}", "0.00"))}

    def moved(self, outstanding: str | None = None, **deltas: int) -> None:
        """Exactly these balances moved, by these amounts; her loan account (if given)
        equals the loan's outstanding principal."""
        now = self.read()
        assert {k: now[k] - self.last[k] for k in now} == {
            k: deltas.get(k, 0) for k in now}, (self.last, now)
        if outstanding is not None:
            assert text(now["loan"]) == outstanding
        self.last = now


# --- 1. lifecycle ---------------------------------------------------------------------------


def test_a_weekly_loan_from_application_to_closing(api: Api) -> None:
    board = make_board(api)
    code = borrower(api)  # 10000.00 savings, 10 shares
    made = product(api)  # weekly, 12 %, declining, 10 installments
    assert made["interest_method"] == "declining_balance" and made["installments"] == 10
    assert balance(api, "4000") == "0.00"

    applied = api.post(L, {"member_code": code, "product": "WEEKLY", "principal": "10000.00",
                           "purpose": "business"}, role="clerk")
    assert applied.status_code == 201, applied.text
    body = applied.json()
    loan_id = body["id"]
    assert body["status"] == "pending" and body["member_code"] == code
    assert body["apr"] == "12.00"
    assert [(r["due_on"], r["principal"], r["interest"], r["total"])
            for r in body["schedule"]] == WEEKLY_10000

    for n, voter in enumerate(list(board.tokens)[:6], start=1):
        cast = board.post(voter, f"{L}/{loan_id}/votes", {"decision": "approve"})
        assert cast.status_code == 201, cast.text
        assert cast.json()["approvals"] == n
        assert cast.json()["status"] == ("approved" if n == 6 else "pending")
        assert loan(api, loan_id)["status"] == ("approved" if n == 6 else "pending")
    late_vote = board.post("board7", f"{L}/{loan_id}/votes", {"decision": "approve"})
    is_problem(late_vote, 409, "loan-state-conflict")

    book = Book(api, code, loan_id)
    assert book.last == {"cash": 1_010_000, "interest": 0, "savings": 1_000_000, "loan": 0}
    disburse(api, loan_id, to="savings")
    book.moved(savings=1_000_000, loan=1_000_000)
    detail = loan(api, loan_id)
    assert detail["status"] == "active" and detail["disbursed_on"] == "2025-06-30"
    assert detail["outstanding_principal"] == "10000.00"
    assert detail["payoff_amount"] == "10000.00" and detail["days_past_due"] == 0
    assert statuses(detail) == ["upcoming"] * 10
    assert balance(api, "1100") == "10000.00"

    # Week 1, on the day: exactly the scheduled interest.
    at(api, date(2025, 7, 7))
    assert loan(api, loan_id)["schedule"][0]["status"] == "due"
    paid = repay(api, loan_id, "1012.74")
    assert paid["allocated"] == {"penalty": "0.00", "fees": "0.00", "interest": "23.08",
                                 "principal": "989.66"}
    assert paid["outstanding_principal"] == "9010.34" and paid["status"] == "active"
    book.moved(cash=101_274, interest=2308, loan=-98_966,
               outstanding=paid["outstanding_principal"])

    # Week 2 is missed: overdue, days past due counted from its due date.
    at(api, date(2025, 7, 16))
    late = loan(api, loan_id)
    assert statuses(late)[:3] == ["paid", "overdue", "upcoming"]
    assert late["days_past_due"] == 2 and late["overdue"] == "1012.74"
    assert late["schedule"][1]["paid"] == "0.00"
    # 20.79 for week 2 (on 9010.34) and two days of week 3 (5.94).
    assert late["interest_due"] == "26.73" and late["payoff_amount"] == "9037.07"
    assert payoff(api, loan_id) == {"as_of": "2025-07-16", "principal": "9010.34",
                                    "interest": "26.73", "penalty": "0.00", "fees": "0.00",
                                    "total": "9037.07"}

    # Paid three days late. The payment goes to what is overdue first (week 2's interest and
    # principal); the three late days cost interest on the unpaid principal, still owed.
    at(api, date(2025, 7, 17))
    paid = repay(api, loan_id, "1012.74")
    assert paid["allocated"] == {"penalty": "0.00", "fees": "0.00", "interest": "20.79",
                                 "principal": "991.95"}
    assert paid["outstanding_principal"] == "8018.39"
    assert paid["payoff_amount"] == "8027.30"  # 8.91: three days of week 3 on 9010.34
    book.moved(cash=101_274, interest=2079, loan=-99_195,
               outstanding=paid["outstanding_principal"])
    caught_up = loan(api, loan_id)
    assert caught_up["days_past_due"] == 0 and caught_up["overdue"] == "0.00"
    assert statuses(caught_up)[:3] == ["paid", "paid", "upcoming"]

    # Week 3 on the day: its interest is more than planned, because week 2 was paid late
    # (three days on 9010.34 and four on 8018.39 instead of seven on 8018.39).
    at(api, date(2025, 7, 21))
    paid = repay(api, loan_id, "1012.74")
    assert paid["allocated"]["interest"] == "19.49"
    assert cents(paid["allocated"]["interest"]) > cents(WEEKLY_10000[2][2])
    assert paid["allocated"]["principal"] == "993.25"
    assert paid["outstanding_principal"] == "7025.14"
    book.moved(cash=101_274, interest=1949, loan=-99_325,
               outstanding=paid["outstanding_principal"])

    # Week 4 three days early, from her savings: four days of interest only.
    at(api, date(2025, 7, 25))
    paid = repay(api, loan_id, "1012.74", source="savings")
    assert paid["allocated"]["interest"] == "9.26"
    assert cents(paid["allocated"]["interest"]) < cents(WEEKLY_10000[3][2])
    assert paid["allocated"]["principal"] == "1003.48"
    assert paid["outstanding_principal"] == "6021.66"
    book.moved(savings=-101_274, interest=926, loan=-100_348,
               outstanding=paid["outstanding_principal"])
    early = loan(api, loan_id)
    assert statuses(early) == ["paid"] * 4 + ["upcoming"] * 6
    assert early["days_past_due"] == 0
    assert early["outstanding_principal"] == member_balance(api, code, f"1100:{code}-L{loan_id}")

    # Paid off on 1 August: the rest of week 4's interest and four days of week 5's.
    at(api, date(2025, 8, 1))
    due = payoff(api, loan_id)
    assert due == {"as_of": "2025-08-01", "principal": "6021.66", "interest": "13.90",
                   "penalty": "0.00", "fees": "0.00", "total": "6035.56"}
    assert payoff(api, loan_id, as_of="2025-08-04")["interest"] == "19.86"  # 5.96 + 13.90
    paid = repay(api, loan_id, due["total"])
    assert paid["allocated"] == {"penalty": "0.00", "fees": "0.00", "interest": "13.90",
                                 "principal": "6021.66"}
    assert paid["status"] == "closed" and paid["outstanding_principal"] == "0.00"
    book.moved(cash=603_556, interest=1390, loan=-602_166,
               outstanding=paid["outstanding_principal"])

    at(api, date(2025, 8, 5))
    assert payoff(api, loan_id)["total"] == "0.00"
    closed = loan(api, loan_id)
    assert closed["status"] == "closed" and closed["closed_on"] == "2025-08-01"
    assert closed["payoff_amount"] == "0.00" and closed["days_past_due"] == 0
    assert statuses(closed) == ["paid"] * 10
    assert balance(api, "4000") == "86.52"  # 23.08 + 20.79 + 19.49 + 9.26 + 13.90
    assert balance(api, "1100") == "0.00"
    is_problem(api.post(f"{L}/{loan_id}/repayments", {"amount": "1.00"}, role="clerk"), 409,
               "loan-state-conflict")
    listed = api.get(f"{M}/{code}", role="clerk").json()["loans"]
    assert listed == [{"id": loan_id, "status": "closed", "outstanding_principal": "0.00"}]
    verified = api.get(f"{BASE}/ledger/verify", role="auditor").json()
    assert verified["ok"] is True and verified["problems"] == []


# --- 2, 3. votes ----------------------------------------------------------------------------


def test_the_sixth_rejection_of_eleven_seats_rejects_the_loan(api: Api) -> None:
    board = make_board(api)
    code = borrower(api)
    product(api)
    loan_id = apply(api, code)
    voters = list(board.tokens)
    approved = board.post(voters[0], f"{L}/{loan_id}/votes", {"decision": "approve"})
    assert approved.json() == {"status": "pending", "approvals": 1, "rejections": 0,
                               "required": 6}
    for n, voter in enumerate(voters[1:7], start=1):
        cast = board.post(voter, f"{L}/{loan_id}/votes",
                          {"decision": "reject", "note": "too large for her income"})
        assert cast.status_code == 201, cast.text
        # 11 seats - 5 rejections still leave 6 possible approvals; the sixth does not.
        assert cast.json() == {"status": "rejected" if n == 6 else "pending",
                               "approvals": 1, "rejections": n, "required": 6}
    assert loan(api, loan_id)["status"] == "rejected"
    is_problem(board.post("board1", f"{L}/{loan_id}/votes", {"decision": "approve"}), 409)
    seat(api, board, "board8")  # a board member who has not voted
    is_problem(board.post("board8", f"{L}/{loan_id}/votes", {"decision": "approve"}), 409,
               "loan-state-conflict")
    is_problem(api.post(f"{L}/{loan_id}/disbursement", {"to": "savings"}, role="clerk"), 409,
               "loan-state-conflict")
    is_problem(api.post(f"{L}/{loan_id}/repayments", {"amount": "10.00"}, role="clerk"), 409)
    # A rejected loan is not open: she may apply again.
    assert apply(api, code, "5000.00") != loan_id


def test_who_may_vote_and_what_a_pending_loan_refuses(api: Api) -> None:
    board = make_board(api)
    product(api)
    code = borrower(api)
    loan_id = apply(api, code)
    votes = f"{L}/{loan_id}/votes"

    assert board.post("board1", votes, {"decision": "approve"}).status_code == 201
    is_problem(board.post("board1", votes, {"decision": "reject"}), 409, "already-voted")
    is_problem(board.post("board1", votes, {"decision": "approve"}), 409, "already-voted")
    assert api.post(votes, {"decision": "approve"}, role="clerk").status_code == 403
    assert api.post(votes, {"decision": "approve"}, role="admin").status_code == 403
    assert board.post("board2", votes, {"decision": "maybe"}).status_code in (400, 422)
    is_problem(api.post(f"{L}/{loan_id}/disbursement", {"to": "savings"}, role="clerk"), 409,
               "loan-state-conflict")
    is_problem(api.post(f"{L}/{loan_id}/repayments", {"amount": "10.00"}, role="clerk"), 409,
               "loan-state-conflict")
    is_problem(api.get(f"{L}/{loan_id}/payoff"), 409)
    pending = loan(api, loan_id)
    assert pending["status"] == "pending" and pending["outstanding_principal"] == "0.00"
    assert statuses(pending) == ["upcoming"] * 10
    assert api.post(f"{L}/{loan_id}/write-off", {"reason": "x"},
                    role="clerk").status_code == 403
    is_problem(board.post("board2", f"{L}/{loan_id}/write-off", {"reason": "x"}), 409)
    is_problem(board.post("board2", f"{L}/999999/votes", {"decision": "approve"}), 404,
               "loan-not-found")


def test_a_board_member_never_votes_on_her_own_loan(api: Api) -> None:
    board = make_board(api)
    product(api)
    settings(api, loan_min_membership_days=0)
    own = board.codes["board1"]
    assert api.post(f"{M}/{own}/deposits", {"amount": "5000"}, role="clerk").status_code == 201
    loan_id = apply(api, own, "5000.00")
    is_problem(board.post("board1", f"{L}/{loan_id}/votes", {"decision": "approve"}), 403,
               "vote-not-allowed")
    # Her seat cannot vote, so with 10 voting seats the fifth rejection already decides it.
    for n, voter in enumerate(["board2", "board3", "board4", "board5", "board6"], start=1):
        cast = board.post(voter, f"{L}/{loan_id}/votes", {"decision": "reject"})
        assert cast.status_code == 201, cast.text
        assert cast.json()["status"] == ("rejected" if n == 5 else "pending"), (n, cast.json())
    listed = api.get(f"{BASE}/reports/board-loans", role="auditor").json()["items"]
    assert [(x["id"], x["member_code"], x["status"], x["approvals"]) for x in listed] == [
        (loan_id, own, "rejected", 0)]


def test_guarantors_and_the_board(api: Api) -> None:
    board = make_board(api)
    product(api)
    code = borrower(api, savings="1000.00", shares=10)  # cover 3 x 1100.00 = 3300.00
    guarantor = borrower(api, savings="5000.00", shares=1)
    refused = api.post(L, {"member_code": code, "product": "WEEKLY", "principal": "5000.00",
                           "guarantors": [{"member_code": board.codes["board2"],
                                           "amount": "2000.00"}]}, role="clerk")
    is_problem(refused, 422)
    assert refused.json()["errors"][0]["field"] == "guarantors"
    own = api.post(L, {"member_code": code, "product": "WEEKLY", "principal": "5000.00",
                       "guarantors": [{"member_code": code, "amount": "2000.00"}]},
                   role="clerk")
    is_problem(own, 422)

    loan_id = apply(api, code, "5000.00",
                    guarantors=[{"member_code": guarantor, "amount": "2000.00"}])
    # The guarantor is elected to the board afterwards: she still may not vote on it.
    seat(api, board, "gboard", guarantor)
    is_problem(board.post("gboard", f"{L}/{loan_id}/votes", {"decision": "approve"}), 403,
               "vote-not-allowed")
    assert loan(api, loan_id)["status"] == "pending"


# --- 4. eligibility -------------------------------------------------------------------------


def test_eligibility(api: Api) -> None:
    product(api)
    product(api, "SMALL", max_principal="5000.00")
    newcomer = borrower(api, joined_on=TODAY)
    is_problem(api.post(L, {"member_code": newcomer, "product": "WEEKLY",
                            "principal": "100.00"}, role="clerk"), 422, "loan-not-eligible")
    almost = borrower(api, joined_on=TODAY - timedelta(days=89))
    is_problem(api.post(L, {"member_code": almost, "product": "WEEKLY",
                            "principal": "100.00"}, role="clerk"), 422, "loan-not-eligible")
    shorter = apply(api, borrower(api, joined_on=TODAY - timedelta(days=90)), "100.00",
                    installments=4)
    assert [r["due_on"] for r in loan(api, shorter)["schedule"]] == [
        "2025-07-07", "2025-07-14", "2025-07-21", "2025-07-28"]

    code = borrower(api)  # 10000.00 savings + 10 shares of 10.00: at most 30300.00
    above = api.post(L, {"member_code": code, "product": "WEEKLY", "principal": "30300.01"},
                     role="clerk")
    is_problem(above, 422, "loan-limit-exceeded")
    assert above.json()["errors"][0]["field"] == "principal"
    is_problem(api.post(L, {"member_code": code, "product": "SMALL", "principal": "5000.01"},
                        role="clerk"), 422, "loan-limit-exceeded")
    is_problem(api.post(L, {"member_code": code, "product": "NOPE", "principal": "100.00"},
                        role="clerk"), 404)
    is_problem(api.post(L, {"member_code": "M-ZZZZZZ", "product": "WEEKLY",
                            "principal": "100.00"}, role="clerk"), 404)
    free_text = api.post(L, {"member_code": code, "product": "WEEKLY", "principal": "100.00",
                             "purpose": "to open a tailoring shop on MG Road"}, role="clerk")
    is_problem(free_text, 422)
    for bad in ("0", "0.00", "-5.00", "100.001", "abc", 100):
        is_problem(api.post(L, {"member_code": code, "product": "WEEKLY", "principal": bad},
                            role="clerk"), 422)
    assert api.post(L, {"member_code": code, "product": "WEEKLY", "principal": "100.00"},
                    role="auditor").status_code == 403

    first = apply(api, code, "30300.00", purpose="housing")
    assert loan(api, first)["purpose"] == "housing"
    second = api.post(L, {"member_code": code, "product": "SMALL", "principal": "100.00"},
                      role="clerk")
    is_problem(second, 422, "loan-not-eligible")
    settings(api, loan_max_open_loans=2)
    apply(api, code, "100.00", "SMALL")


# --- 5. refused payments --------------------------------------------------------------------


def test_refused_payments_post_nothing(api: Api) -> None:
    board = make_board(api)
    product(api)
    code = borrower(api, savings="2000.00", shares=10)  # cover 6300.00
    loan_id = active_loan(api, board, code, "5000.00")  # to savings: 7000.00, all available
    at(api, date(2025, 7, 7))
    first = repay(api, loan_id, "300.00")
    count = entries(api)

    due = payoff(api, loan_id)
    above = api.post(f"{L}/{loan_id}/repayments",
                     {"amount": text(cents(due["total"]) + 1)}, role="clerk")
    is_problem(above, 422, "payment-above-payoff")
    assert above.json()["errors"][0]["field"] == "amount"
    for amount in ("0", "0.00", "-1.00", "10.001", "1e3", "ten"):
        is_problem(api.post(f"{L}/{loan_id}/repayments", {"amount": amount}, role="clerk"),
                   422)
    is_problem(api.post(f"{L}/{loan_id}/repayments", {"amount": 10}, role="clerk"), 422)
    before = api.post(f"{L}/{loan_id}/repayments",
                      {"amount": "10.00", "value_date": "2025-07-06"}, role="clerk")
    is_problem(before, 422)
    assert before.json()["errors"][0]["field"] == "value_date"
    future = api.post(f"{L}/{loan_id}/repayments",
                      {"amount": "10.00", "value_date": "2025-07-08"}, role="clerk")
    is_problem(future, 422)
    is_problem(api.post(f"{L}/{loan_id}/repayments", {"amount": "10.00", "source": "bank"},
                        role="clerk"), 422)
    assert savings_of(api, code) == {"balance": "7000.00", "available": "7000.00"}
    hold = api.post(f"{M}/{code}/holds", {"amount": "6990.00", "reason": "court order"})
    assert hold.status_code == 201, hold.text
    assert savings_of(api, code) == {"balance": "7000.00", "available": "10.00"}
    short = api.post(f"{L}/{loan_id}/repayments", {"amount": "10.01", "source": "savings"},
                     role="clerk")
    is_problem(short, 422, "insufficient-funds")
    is_problem(api.post(f"{L}/999999/repayments", {"amount": "10.00"}, role="clerk"), 404)
    is_problem(api.get(f"{L}/{loan_id}", params={"as_of": "2025-07-06"}), 422)
    is_problem(api.get(f"{L}/{loan_id}/payoff", params={"as_of": "2025-07-06"}), 422)
    assert api.post(f"{L}/{loan_id}/repayments", {"amount": "10.00"},
                    role="board").status_code == 403
    assert entries(api) == count
    after = loan(api, loan_id)
    assert after["outstanding_principal"] == first["outstanding_principal"]
    # The exact payoff is still accepted, on the same day as the last payment.
    assert repay(api, loan_id, payoff(api, loan_id)["total"])["status"] == "closed"


# --- 6. guarantors --------------------------------------------------------------------------


def test_a_guarantee_holds_her_savings_until_the_loan_is_repaid(api: Api) -> None:
    board = make_board(api)
    product(api)
    code = borrower(api, savings="2000.00", shares=10)  # cover 3 x 2100.00 = 6300.00
    guarantor = borrower(api, savings="5000.00", shares=1)
    is_problem(api.post(L, {"member_code": code, "product": "WEEKLY", "principal": "10000.00"},
                        role="clerk"), 422, "loan-limit-exceeded")
    short = api.post(L, {"member_code": code, "product": "WEEKLY", "principal": "10000.00",
                         "guarantors": [{"member_code": guarantor, "amount": "3699.99"}]},
                     role="clerk")
    is_problem(short, 422, "loan-limit-exceeded")
    assert savings_of(api, guarantor) == {"balance": "5000.00", "available": "5000.00"}
    beyond = api.post(L, {"member_code": code, "product": "WEEKLY", "principal": "10000.00",
                          "guarantors": [{"member_code": guarantor, "amount": "5000.01"}]},
                      role="clerk")
    is_problem(beyond, 422, "insufficient-funds")  # a guarantee is held from her savings

    loan_id = apply(api, code, "10000.00",
                    guarantors=[{"member_code": guarantor, "amount": "4000.00"}])
    assert savings_of(api, guarantor) == {"balance": "5000.00", "available": "1000.00"}
    assert loan(api, loan_id)["guarantors"] == [
        {"member_code": guarantor, "amount": "4000.00", "held": "4000.00"}]
    is_problem(api.post(f"{M}/{guarantor}/withdrawals", {"amount": "1000.01"}, role="clerk"),
               422, "insufficient-funds")
    approve(board, loan_id)
    for day in ("2025-06-29", "2025-07-01"):  # before the application; in the future
        early = api.post(f"{L}/{loan_id}/disbursement", {"to": "savings", "value_date": day},
                         role="clerk")
        is_problem(early, 422)
        assert early.json()["errors"][0]["field"] == "value_date"
    disburse(api, loan_id, value_date="2025-06-30")

    # 5000.01 paid on the day of disbursement is all principal: 4999.99 left, so the hold is
    # 4000.00 x 4999.99 / 10000.00 = 1999.996, rounded up.
    paid = repay(api, loan_id, "5000.01")
    assert paid["allocated"]["principal"] == "5000.01"
    assert paid["outstanding_principal"] == "4999.99"
    assert savings_of(api, guarantor) == {"balance": "5000.00", "available": "3000.00"}
    assert loan(api, loan_id)["guarantors"][0]["held"] == "2000.00"
    ahead = loan(api, loan_id)["schedule"]  # 5000.01 covers four installments and 949.05
    assert [(r["status"], r["paid"]) for r in ahead[:6]] == [
        *[("paid", "1012.74")] * 4, ("partly_paid", "949.05"), ("upcoming", "0.00")]

    at(api, date(2025, 7, 10))
    due = payoff(api, loan_id)
    assert due["principal"] == "4999.99"
    assert repay(api, loan_id, due["total"])["status"] == "closed"
    assert savings_of(api, guarantor) == {"balance": "5000.00", "available": "5000.00"}
    assert loan(api, loan_id)["guarantors"][0]["held"] == "0.00"
    assert api.post(f"{M}/{guarantor}/withdrawals", {"amount": "5000.00"},
                    role="clerk").status_code == 201


def test_a_rejected_loan_releases_its_guarantee(api: Api) -> None:
    board = make_board(api)
    product(api)
    code = borrower(api, savings="1000.00", shares=1)
    guarantor = borrower(api, savings="5000.00", shares=1)
    loan_id = apply(api, code, "4000.00",
                    guarantors=[{"member_code": guarantor, "amount": "1000.00"}])
    assert savings_of(api, guarantor)["available"] == "4000.00"
    assert board.vote_all(loan_id, ["reject"] * 6)[-1].json()["status"] == "rejected"
    assert savings_of(api, guarantor)["available"] == "5000.00"



# --- 7. reschedules -------------------------------------------------------------------------


def test_a_payment_holiday_approved_by_the_board(api: Api) -> None:
    board = make_board(api)
    product(api)
    code = borrower(api)
    loan_id = apply(api, code)
    is_problem(api.post(f"{L}/{loan_id}/reschedules", {"holiday_until": "2025-07-29",
                                                      "reason": "flood"}, role="clerk"), 409)
    approve(board, loan_id)
    disburse(api, loan_id)
    at(api, date(2025, 7, 7))
    repay(api, loan_id, "1012.74")
    at(api, date(2025, 7, 9))
    asks = f"{L}/{loan_id}/reschedules"
    is_problem(api.post(asks, {"reason": "nothing changes"}, role="clerk"), 422)
    is_problem(api.post(asks, {"holiday_until": "2025-07-09", "reason": "flood"},
                        role="clerk"), 422)
    assert api.post(asks, {"holiday_until": "2025-07-29", "reason": "flood"},
                    role="board").status_code == 403
    asked = api.post(asks, {"holiday_until": "2025-07-29", "reason": "flood"}, role="clerk")
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "pending"
    rid = asked.json()["id"]
    assert len(loan(api, loan_id)["schedule"]) == 10  # nothing changes until approved
    votes = f"{asks}/{rid}/votes"
    approve(board, loan_id, votes)
    is_problem(board.post("board7", votes, {"decision": "approve"}), 409)
    is_problem(board.post("board7", f"{asks}/{rid + 1}/votes", {"decision": "approve"}), 404)

    # The three installments due before 29 July are a holiday: nothing to pay. Their interest
    # (4 x 20.79 on 9010.34) is collected with the first installment after it, and the loan
    # runs three weeks longer.
    rows = loan(api, loan_id)["schedule"]
    assert [(r["due_on"], r["principal"], r["interest"], r["total"]) for r in rows] == [
        WEEKLY_10000[0],
        ("2025-07-14", "0.00", "0.00", "0.00"),
        ("2025-07-21", "0.00", "0.00", "0.00"),
        ("2025-07-28", "0.00", "0.00", "0.00"),
        ("2025-08-04", "991.95", "83.16", "1075.11"),
        *[(str(date.fromisoformat(due) + timedelta(weeks=3)), p, i, t)
          for due, p, i, t in WEEKLY_10000[2:]],
    ]
    assert [r["number"] for r in rows] == list(range(1, 14))
    assert all(r["total"] == "0.00" for r in rows
               if "2025-07-09" < r["due_on"] < "2025-07-29")
    for day in ("2025-07-14", "2025-07-21", "2025-07-28"):
        during = loan(api, loan_id, as_of=day)
        assert during["days_past_due"] == 0 and during["overdue"] == "0.00", day
    assert loan(api, loan_id, as_of="2025-08-05")["days_past_due"] == 1

    at(api, date(2025, 8, 4))
    paid = repay(api, loan_id, "1075.11")
    assert paid["allocated"]["interest"] == "83.16"
    assert paid["allocated"]["principal"] == "991.95"
    at(api, date(2025, 8, 20))
    late = loan(api, loan_id)
    assert late["days_past_due"] == 9 and late["overdue"] == "2025.48"
    assert statuses(late)[4:8] == ["paid", "overdue", "overdue", "upcoming"]
    due = payoff(api, loan_id)
    assert due["principal"] == "8018.39" and due["interest"] == "42.29"  # 18.50+18.50+5.29
    closed = repay(api, loan_id, due["total"])
    assert closed["status"] == "closed"
    assert balance(api, "4000") == "148.53"  # 23.08 + 83.16 + 42.29
    assert member_balance(api, code, f"1100:{code}-L{loan_id}") == "0.00"
    assert entries(api) > 0  # /ledger/verify: ok


def test_a_reschedule_to_more_installments_at_a_lower_rate(api: Api) -> None:
    board = make_board(api)
    product(api)
    code = borrower(api)
    loan_id = active_loan(api, board, code)
    at(api, date(2025, 7, 7))
    repay(api, loan_id, "1012.74")
    asked = api.post(f"{L}/{loan_id}/reschedules",
                     {"extra_installments": 2, "annual_rate": "6", "reason": "lost her job"},
                     role="clerk")
    assert asked.status_code == 201, asked.text
    approve(board, loan_id, f"{L}/{loan_id}/reschedules/{asked.json()['id']}/votes")

    # 9010.34 spread again over the 9 installments left plus 2, at 6 %: PMT 824.80.
    rows = loan(api, loan_id)["schedule"]
    assert len(rows) == 12
    assert rows[0]["status"] == "paid" and rows[0]["total"] == "1012.74"
    assert [(r["number"], r["due_on"], r["principal"], r["interest"], r["total"])
            for r in rows[1:4]] == [(2, "2025-07-14", "814.40", "10.40", "824.80"),
                                    (3, "2025-07-21", "815.34", "9.46", "824.80"),
                                    (4, "2025-07-28", "816.28", "8.52", "824.80")]
    assert [(r["due_on"], r["principal"], r["interest"], r["total"]) for r in rows[-1:]] == [
        ("2025-09-22", "823.90", "0.95", "824.85")]
    quoted = api.post(f"{L}/quote", {"principal": "9010.34", "annual_rate": "6",
                                     "installments": 11, "frequency": "weekly",
                                     "disbursed_on": "2025-07-07"}, role="clerk").json()
    assert [(q["due_on"], q["total"]) for q in quoted["installments"]] == [
        (r["due_on"], r["total"]) for r in rows[1:]]

    at(api, date(2025, 7, 14))
    paid = repay(api, loan_id, "824.80")
    assert paid["allocated"]["interest"] == "10.40"  # a week at 6 %, not 20.79 at 12 %
    assert paid["outstanding_principal"] == "8195.94"
    due = payoff(api, loan_id)
    assert due["total"] == "8195.94"
    assert repay(api, loan_id, due["total"])["status"] == "closed"
    assert balance(api, "4000") == "33.48"  # 23.08 + 10.40



# --- 8. moratoria ---------------------------------------------------------------------------


def overdue_loan_under_moratorium(api: Api, *, accrue: bool) -> tuple[int, dict[str, Any]]:
    """A 10000.00 weekly loan whose first installment (7 July) is unpaid on 10 July, when the
    board declares a moratorium for 10-20 July."""
    board = make_board(api)
    product(api)
    loan_id = active_loan(api, board, borrower(api))
    at(api, date(2025, 7, 10))
    before = loan(api, loan_id)
    assert before["days_past_due"] == 3 and before["overdue"] == "1012.74"
    assert before["payoff_amount"] == "10032.97"  # 23.08 + three days of week 2 (9.89)
    body = {"from_on": "2025-07-10", "to_on": "2025-07-20", "accrue_interest": accrue,
            "resolution": "floods in the district"}
    assert api.post(f"{BASE}/moratoria", body, role="clerk").status_code == 403
    is_problem(board.post("board1", f"{BASE}/moratoria",
                          {**body, "from_on": "2025-07-21"}), 422)
    declared = board.post("board1", f"{BASE}/moratoria", body)
    assert declared.status_code == 201, declared.text
    assert declared.json() == {"id": declared.json()["id"], "from_on": "2025-07-10",
                               "to_on": "2025-07-20", "accrue_interest": accrue,
                               "loans_affected": 1}
    return loan_id, before


def test_a_moratorium_stops_arrears_ageing(api: Api) -> None:
    loan_id, _ = overdue_loan_under_moratorium(api, accrue=True)
    rows = loan(api, loan_id)["schedule"]
    # The installment due inside the window (14 July) is pushed out; the term grows by one.
    assert [(r["due_on"], r["total"]) for r in rows[:3]] == [
        ("2025-07-07", "1012.74"), ("2025-07-14", "0.00"), ("2025-07-21", "1033.53")]
    assert len(rows) == 11 and rows[-1]["due_on"] == "2025-09-15"
    assert rows[0]["status"] == "overdue"
    ages = {day: loan(api, loan_id, as_of=day)["days_past_due"]
            for day in ("2025-07-12", "2025-07-16", "2025-07-20", "2025-07-21", "2025-07-22",
                        "2025-07-25")}
    assert ages == {"2025-07-12": 3, "2025-07-16": 3, "2025-07-20": 3, "2025-07-21": 3,
                    "2025-07-22": 4, "2025-07-25": 7}
    # Interest goes on accruing in the window, as resolved (3.30 a day on 10000.00).
    inside = payoff(api, loan_id, as_of="2025-07-20")
    assert inside["interest"] == "65.94" and inside["total"] == "10065.94"
    report = api.get(f"{BASE}/reports/portfolio", params={"as_of": "2025-07-20"},
                     role="auditor").json()
    assert report["buckets"]["1-30"] == "10000.00" and report["par30"] == "0.00"
    # It still closes with the payoff amount.
    at(api, date(2025, 7, 22))
    assert repay(api, loan_id, payoff(api, loan_id)["total"])["status"] == "closed"


def test_a_moratorium_without_interest_stops_the_payoff_growing(api: Api) -> None:
    loan_id, before = overdue_loan_under_moratorium(api, accrue=False)
    ages = {day: loan(api, loan_id, as_of=day)["days_past_due"]
            for day in ("2025-07-12", "2025-07-16", "2025-07-20", "2025-07-22")}
    assert ages == {"2025-07-12": 3, "2025-07-16": 3, "2025-07-20": 3, "2025-07-22": 4}
    payoffs = {day: payoff(api, loan_id, as_of=day)["total"]
               for day in ("2025-07-10", "2025-07-12", "2025-07-14", "2025-07-16",
                           "2025-07-20")}
    # BUG: interest is waived only for the periods whose due date falls in the window
    # (7-14 July), not for the window's days: from 15 July it accrues again (10052.75 on
    # 20 July).
    assert payoffs == dict.fromkeys(payoffs, before["payoff_amount"]), payoffs



def test_a_moratorium_declared_ahead_leaves_today_alone(api: Api) -> None:
    board = make_board(api)
    product(api)
    loan_id = active_loan(api, board, borrower(api))
    at(api, date(2025, 7, 7))
    declared = board.post("board1", f"{BASE}/moratoria",
                          {"from_on": "2025-07-12", "to_on": "2025-07-16",
                           "accrue_interest": True, "resolution": "festival week"})
    assert declared.status_code == 201, declared.text
    # Before the window nothing has changed: the loan takes today's installment and reads.
    # BUG: the moratorium is recorded on each loan as a movement dated from_on (12 July), so
    # until then every payment is refused (422 "value_date is before the loan's last
    # movement") and GET /loans/{id} is 422 too.
    assert repay(api, loan_id, "1012.74")["outstanding_principal"] == "9010.34"
    assert loan(api, loan_id)["schedule"][0]["status"] == "paid"
    rows = loan(api, loan_id, as_of="2025-07-12")["schedule"]
    assert [(r["due_on"], r["total"]) for r in rows[:3]] == [
        ("2025-07-07", "1012.74"), ("2025-07-14", "0.00"), ("2025-07-21", "1033.53")]


# --- 9. write-off ---------------------------------------------------------------------------


def test_write_off_and_recovery(api: Api) -> None:
    board = make_board(api)
    product(api)
    code = borrower(api)
    loan_id = active_loan(api, board, code)
    at(api, date(2025, 7, 7))
    repay(api, loan_id, "1012.74")
    at(api, date(2025, 9, 30))
    assert loan(api, loan_id)["days_past_due"] == 78
    assert api.post(f"{L}/{loan_id}/write-off", {"reason": "left the district"},
                    role="admin").status_code == 403
    assert balance(api, "5200") == "0.00"
    cash = cents(balance(api, "1000"))

    done = board.post("board1", f"{L}/{loan_id}/write-off", {"reason": "left the district"})
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "written_off" and done.json()["written_off"] == "9010.34"
    assert balance(api, "5200") == "9010.34"
    assert member_balance(api, code, f"1100:{code}-L{loan_id}") == "0.00"
    assert balance(api, "1100") == "0.00"
    gone = loan(api, loan_id)
    assert gone["status"] == "written_off" and gone["closed_on"] == "2025-09-30"
    assert gone["outstanding_principal"] == "0.00" and gone["payoff_amount"] == "0.00"
    assert gone["days_past_due"] == 0
    is_problem(board.post("board2", f"{L}/{loan_id}/write-off", {"reason": "again"}), 409)
    assert balance(api, "4000") == "23.08"  # unpaid interest was never income

    # Money that comes in later is a recovery (4300), never interest or a loan balance.
    recovered = repay(api, loan_id, "5000.00")
    assert recovered["status"] == "written_off"
    assert balance(api, "4300") == "5000.00"
    assert cents(balance(api, "1000")) == cash + 500_000
    assert member_balance(api, code, f"1100:{code}-L{loan_id}") == "0.00"
    assert balance(api, "4000") == "23.08"
    count = entries(api)
    is_problem(api.post(f"{L}/{loan_id}/repayments", {"amount": "4010.35"}, role="clerk"), 422,
               "payment-above-payoff")
    assert entries(api) == count
    repay(api, loan_id, "4010.34", source="savings")
    assert balance(api, "4300") == "9010.34"
    is_problem(api.post(f"{L}/{loan_id}/repayments", {"amount": "0.01"}, role="clerk"), 422,
               "payment-above-payoff")
    assert entries(api) == count + 1
    assert balance(api, "5200") == "9010.34"


# --- 10. quotes -----------------------------------------------------------------------------


FINERACT_V2 = [  # (due_on, principal, interest, total, balance)
    ("2022-12-01", "255.00", "50.00", "305.00", "4745.00"),
    ("2023-01-01", "257.55", "47.45", "305.00", "4487.45"),
    ("2023-02-01", "260.13", "44.87", "305.00", "4227.32"),
    ("2023-03-01", "262.73", "42.27", "305.00", "3964.59"),
    ("2023-04-01", "265.35", "39.65", "305.00", "3699.24"),
    ("2023-05-01", "268.01", "36.99", "305.00", "3431.23"),
    ("2023-06-01", "270.69", "34.31", "305.00", "3160.54"),
    ("2023-07-01", "273.39", "31.61", "305.00", "2887.15"),
    ("2023-08-01", "276.13", "28.87", "305.00", "2611.02"),
    ("2023-09-01", "278.89", "26.11", "305.00", "2332.13"),
    ("2023-10-01", "281.68", "23.32", "305.00", "2050.45"),
    ("2023-11-01", "284.50", "20.50", "305.00", "1765.95"),
    ("2023-12-01", "287.34", "17.66", "305.00", "1478.61"),
    ("2024-01-01", "290.21", "14.79", "305.00", "1188.40"),
    ("2024-02-01", "293.12", "11.88", "305.00", "895.28"),
    ("2024-03-01", "296.05", "8.95", "305.00", "599.23"),
    ("2024-04-01", "299.01", "5.99", "305.00", "300.22"),
    ("2024-05-01", "300.22", "3.00", "303.22", "0.00"),
]


def quote(api: Api, role: str = "clerk", **terms: Any) -> httpx.Response:
    body = {"principal": "5000.00", "annual_rate": "12", "installments": 18,
            "frequency": "monthly", "disbursed_on": "2022-11-01",
            "installment_multiple": "1.00", **terms}
    return api.post(f"{L}/quote", body, role=role)


def test_quotes_reproduce_fineract(api: Api) -> None:
    count = entries(api)
    flat = quote(api, interest_method="flat")
    assert flat.status_code == 200, flat.text
    rows = [(r["due_on"], r["principal"], r["interest"], r["total"], r["balance"])
            for r in flat.json()["installments"]]
    expected = []
    for n in range(1, 19):
        due = date(2022 + (10 + n) // 12, (10 + n) % 12 + 1, 1).isoformat()
        principal = "278.00" if n < 18 else "274.00"
        expected.append((due, principal, "50.00", "328.00" if n < 18 else "324.00",
                         text(500_000 - 27_800 * n) if n < 18 else "0.00"))
    assert rows == expected
    assert (flat.json()["total_principal"], flat.json()["total_interest"]) == (
        "5000.00", "900.00")

    declining = quote(api, interest_method="declining_balance", role="auditor")
    assert declining.status_code == 200, declining.text
    assert [(r["due_on"], r["principal"], r["interest"], r["total"], r["balance"])
            for r in declining.json()["installments"]] == FINERACT_V2
    assert [r["number"] for r in declining.json()["installments"]] == list(range(1, 19))
    assert declining.json()["total_interest"] == "488.22"

    apr_terms = {"principal": "10000.00", "installments": 12, "installment_multiple": None}
    assert quote(api, **apr_terms).json()["apr"] == "12.00"
    assert quote(api, interest_method="flat", **apr_terms).json()["apr"] == "21.46"
    assert quote(api, role="member").status_code == 403
    is_problem(quote(api, installment_multiple="0.001"), 422)
    is_problem(quote(api, annual_rate="12.5%"), 422)
    is_problem(quote(api, principal="0.00"), 422)
    assert entries(api) == count  # a quote posts nothing
    assert api.get(f"{L}/1").status_code == 404


# --- 11. privacy, roles, idempotency --------------------------------------------------------


def test_members_see_only_their_own_loans(api: Api) -> None:
    board = make_board(api)
    product(api)
    settings(api, loan_min_membership_days=0)  # member1 joined today
    mine = api.member_codes["member"]
    assert api.post(f"{M}/{mine}/deposits", {"amount": "1000.00"},
                    role="clerk").status_code == 201
    own_id = active_loan(api, board, mine, "2000.00")
    other = borrower(api)
    other_id = active_loan(api, board, other, "3000.00")

    seen = api.get(f"{L}/{own_id}", role="member")
    assert seen.status_code == 200 and seen.json()["member_code"] == mine
    assert seen.json()["outstanding_principal"] == "2000.00"
    assert api.get(f"{L}/{own_id}/payoff", role="member").json()["total"] == "2000.00"
    listed = api.get(L, role="member").json()["items"]
    assert [(x["id"], x["status"]) for x in listed] == [(own_id, "active")]
    for path in (f"{L}/{other_id}", f"{L}/{other_id}/payoff", f"{L}/999999"):
        is_problem(api.get(path, role="member"), 404)
    is_problem(api.get(L, params={"member": other}, role="member"), 404)
    assert api.post(f"{L}/{own_id}/repayments", {"amount": "10.00"},
                    role="member").status_code == 403
    assert api.post(f"{L}/{own_id}/reschedules", {"extra_installments": 1, "reason": "x"},
                    role="member").status_code == 403
    assert api.get(f"{BASE}/reports/portfolio", role="member").status_code == 403
    assert api.get(f"{BASE}/reports/portfolio", role="clerk").status_code == 403
    assert api.client.get(f"{L}/{own_id}").status_code == 401

    report = api.get(f"{BASE}/reports/portfolio", role="auditor")
    assert report.status_code == 200, report.text
    assert report.json() == {
        "as_of": "2025-06-30", "loans_active": 2, "outstanding_principal": "5000.00",
        "buckets": {"current": "5000.00", "1-30": "0.00", "31-90": "0.00", "91-180": "0.00",
                    "181-365": "0.00", ">365": "0.00"},
        "loans_by_bucket": {"current": 2, "1-30": 0, "31-90": 0, "91-180": 0, "181-365": 0,
                            ">365": 0},
        "par30": "0.00"}
    at(api, date(2025, 8, 10))  # both loans 34 days past due (first due 7 July)
    aged = api.get(f"{BASE}/reports/portfolio", role="auditor").json()
    assert aged["buckets"]["31-90"] == "5000.00" and aged["par30"] == "100.00"


def test_idempotent_repayments_and_votes(api: Api) -> None:
    board = make_board(api)
    product(api)
    code = borrower(api)
    loan_id = apply(api, code)
    first_vote = board.post("board1", f"{L}/{loan_id}/votes", {"decision": "approve"},
                            key="vote-1")
    again = board.post("board1", f"{L}/{loan_id}/votes", {"decision": "approve"}, key="vote-1")
    assert (again.status_code, again.content) == (201, first_vote.content)
    assert again.json()["approvals"] == 1
    is_problem(board.post("board1", f"{L}/{loan_id}/votes", {"decision": "reject"},
                          key="vote-1"), 422, "idempotency-key-reused")
    for voter in ("board2", "board3", "board4", "board5", "board6"):
        board.post(voter, f"{L}/{loan_id}/votes", {"decision": "approve"})
    paid_out = api.post(f"{L}/{loan_id}/disbursement", {"to": "savings"}, role="clerk",
                        key="disburse")
    assert paid_out.status_code == 201, paid_out.text
    again = api.post(f"{L}/{loan_id}/disbursement", {"to": "savings"}, role="clerk",
                     key="disburse")
    assert (again.status_code, again.content) == (201, paid_out.content)
    assert savings_of(api, code)["balance"] == "20000.00"  # paid out once
    at(api, date(2025, 7, 7))
    count = entries(api)

    body = {"amount": "500.00"}
    first = api.post(f"{L}/{loan_id}/repayments", body, role="clerk", key="pay-7-july")
    assert first.status_code == 201, first.text
    assert first.json()["outstanding_principal"] == "9523.08"
    again = api.post(f"{L}/{loan_id}/repayments", body, role="clerk", key="pay-7-july")
    assert (again.status_code, again.content) == (201, first.content)
    assert entries(api) == count + 1
    part = loan(api, loan_id)
    assert part["outstanding_principal"] == "9523.08"
    assert (part["schedule"][0]["status"], part["schedule"][0]["paid"]) == ("due", "500.00")
    changed = api.post(f"{L}/{loan_id}/repayments", {"amount": "600.00"}, role="clerk",
                       key="pay-7-july")
    is_problem(changed, 422, "idempotency-key-reused")
    assert entries(api) == count + 1
    # A refused payment stores no key: the corrected retry may use it.
    above = api.post(f"{L}/{loan_id}/repayments", {"amount": "99999.00"}, role="clerk",
                     key="pay-later")
    is_problem(above, 422, "payment-above-payoff")
    assert api.post(f"{L}/{loan_id}/repayments", {"amount": "512.74"}, role="clerk",
                    key="pay-later").status_code == 201
    assert loan(api, loan_id)["schedule"][0]["status"] == "paid"
    assert entries(api) == count + 2


# --- 12. share cover ------------------------------------------------------------------------


def test_shares_securing_a_loan_are_not_redeemed(api: Api) -> None:
    board = make_board(api)
    product(api)
    code = borrower(api, savings="1000.00", shares=10)  # cover 3 x 1100.00 = 3300.00
    loan_id = apply(api, code, "3300.00")
    approve(board, loan_id)
    assert balance(api, "1000") == "1100.00"
    short = api.post(f"{L}/{loan_id}/disbursement", {"to": "cash"}, role="clerk")
    assert short.status_code == 422, short.text  # the till cannot pay out 3300.00
    assert loan(api, loan_id)["status"] == "approved"
    borrower(api, savings="10000.00", shares=0)  # someone's cash in the till
    disburse(api, loan_id, to="cash")
    assert balance(api, "1000") == "7800.00"
    count = entries(api)

    refused = api.post(f"{M}/{code}/share-redemptions", {"count": 1})
    is_problem(refused, 422, "loan-limit-exceeded")
    assert refused.json()["errors"][0]["field"] == "count"
    summary = api.get(f"{M}/{code}", role="clerk").json()
    assert summary["shares"] == {"count": 10, "value": "100.00"}
    assert summary["loans"] == [{"id": loan_id, "status": "active",
                                 "outstanding_principal": "3300.00"}]
    assert entries(api) == count
    assert balance(api, "3000") == "100.00"

    # Once 30.00 of principal is repaid, 3270.00 = 3 x 1090.00 is covered without one share.
    assert repay(api, loan_id, "30.00")["outstanding_principal"] == "3270.00"
    redeemed = api.post(f"{M}/{code}/share-redemptions", {"count": 1})
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["shares"] == {"count": 9, "value": "90.00"}
    is_problem(api.post(f"{M}/{code}/share-redemptions", {"count": 1}), 422,
               "loan-limit-exceeded")


def test_the_loan_card_is_a_pdf(api: Api) -> None:
    board = make_board(api)
    product(api)
    settings(api, loan_min_membership_days=0)
    mine = api.member_codes["member"]
    api.post(f"{M}/{mine}/deposits", {"amount": "1000.00"}, role="clerk")
    own_id = active_loan(api, board, mine, "2000.00")
    other_id = active_loan(api, board, borrower(api), "3000.00")
    card = api.get(f"{L}/{own_id}/card.pdf", role="clerk")
    assert card.status_code == 200, card.text
    assert card.headers["content-type"].startswith("application/pdf")
    assert card.content.startswith(b"%PDF")
    assert api.get(f"{L}/{own_id}/card.pdf", role="member").status_code == 200
    assert api.get(f"{L}/{other_id}/card.pdf", role="member").status_code == 404
    assert api.get(f"{L}/{own_id}/card.pdf", role="auditor").status_code == 403
    text = pdf_text(card.content)
    assert re.search(r"APR \d+\.\d\d %", text), text
    for words in ("Loan card", f"{own_id} (", mine, "2,000.00 INR", "every week", "Schedule",
                  "Repayments received",
                  "None yet.", "Questions or complaints"):
        assert words in text, words
    assert "Discharge" not in text

    repay(api, own_id, "100.00")
    text = pdf_text(api.get(f"{L}/{own_id}/card.pdf", role="clerk").content)
    assert "None yet." not in text
    assert re.search(r"\d\d-\d\d-\d{4} 100\.00 ", text), text  # the receipt, acknowledged
    repay(api, own_id, payoff(api, own_id)["total"])
    text = pdf_text(api.get(f"{L}/{own_id}/card.pdf", role="clerk").content)
    assert "Discharge" in text and "Nothing more is owed on it." in text
    assert mine in text and "Asha" not in text
    deny = api.get(f"{L}/{own_id}/card.pdf", role="clerk", params={"language": "xx"})
    assert deny.status_code in (400, 422), deny.text
