"""The operations that undo what the general reversal refuses, through the real app:

* an interest run, undone as a whole: POST /savings/interest-runs/{id}/reversal;
* a year close, undone by reopening the year: POST /years/{fy}/reopening;
* a write-off, undone by the board: POST /loans/{id}/write-off/reversal;
* a paid dividend's payment, undone by the admin: POST /dividends/{fy}/payment/reversal.

After each, GET /ledger/verify (the chain, the balances and every register) is clean; each
refusal is a 409 naming why, and changes nothing. Two reopenings (and two interest-run
reversals) at once give one 201 and one 409, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import httpx

from coop.dividends.reopening import reopen_year
from coop.savings import interest_run
from tests.api.conftest import Api, LiveServer
from tests.api.loan_helpers import BASE, borrower, make_board, product
from tests.api.test_dividends_api import (
    DIV,
    FIFTEEN,
    FY,
    Y,
    accounts,
    at,
    close,
    declare,
    expense,
    income,
    is_problem,
    meanwhile,
    pay,
    savings,
    shareholder,
    society,
)
from tests.api.test_loans_api import L, loan, repay, savings_of

RUNS = f"{BASE}/savings/interest-runs"


def clean(api: Api) -> int:
    """GET /ledger/verify is ok (chain, balances, every register); the entries checked."""
    checked = api.get(f"{BASE}/ledger/verify", role="auditor").json()
    assert checked["ok"] is True, checked
    return int(checked["entries_checked"])


def detail(response: httpx.Response) -> str:
    return str(response.json()["detail"])


# --- interest runs --------------------------------------------------------------------------


def june_interest(api: Api, figure: Callable[[str], None] | None = None) -> tuple[str, int]:
    """Asha has 36,500.00 all June; June's run at 4 % gives her 120.00. (member, run id)"""
    asha = shareholder(api, 1, "2025-05-01")
    made = api.post(f"{BASE}/members/{asha}/deposits",
                    {"amount": "36500.00", "value_date": "2025-05-31",
                     "confirm_large_amount": True}, role="clerk")
    assert made.status_code == 201, made.text
    at(api, date(2025, 7, 1))
    run = api.post(RUNS, {"from": "2025-06-01", "through": "2025-06-30"})
    assert run.status_code == 201, run.text
    assert (run.json()["status"], run.json()["total"]) == ("posted", "120.00")
    if figure:
        figure(f"interest run {run.json()['id']}: 36,500.00 x 4 % x 30/365 = "
               f"{run.json()['total']}")
    return asha, int(run.json()["id"])


def test_an_interest_run_is_reversed_whole_and_its_period_run_again(
        api: Api, figure: Callable[[str], None]) -> None:
    asha, run_id = june_interest(api, figure)
    assert savings(api, asha) == "36620.00"
    count = clean(api)
    assert api.post(f"{RUNS}/{run_id}/reversal", None, role="clerk").status_code == 403
    undone = api.post(f"{RUNS}/{run_id}/reversal", None)
    assert undone.status_code == 201, undone.text
    assert undone.json() == {"id": run_id, "status": "reversed", "entries_reversed": 1}
    assert savings(api, asha) == "36500.00" and accounts(api)["5000"] == "0.00"
    assert clean(api) == count + 1
    figure(f"run {run_id} reversed: savings back to {savings(api, asha)}, 5000 at 0.00")
    is_problem(api.post(f"{RUNS}/{run_id}/reversal", None), 409)
    is_problem(api.post(f"{RUNS}/999/reversal", None), 404)
    again = api.post(RUNS, {"from": "2025-06-01", "through": "2025-06-30"})
    assert again.status_code == 201, again.text
    assert again.json()["id"] != run_id and again.json()["total"] == "120.00"
    assert savings(api, asha) == "36620.00"
    listed = api.get(RUNS).json()["items"]
    assert [(r["id"], r["status"]) for r in listed] == [(again.json()["id"], "posted"),
                                                        (run_id, "reversed")]
    assert clean(api) == count + 2
    figure(f"June run again as run {again.json()['id']}: {again.json()['total']}")


def test_an_interest_run_refuses_when_she_withdrew_it_or_a_later_run_stands(
        api: Api) -> None:
    asha, run_id = june_interest(api)
    income(api, "1000.00", "2025-06-15")  # cash in the drawer to pay her out
    out = api.post(f"{BASE}/members/{asha}/withdrawals", {"amount": "36600.00",
                                                          "confirm_large_amount": True},
                   role="clerk")
    assert out.status_code == 201, out.text
    count = clean(api)
    refused = api.post(f"{RUNS}/{run_id}/reversal", None)
    is_problem(refused, 409)
    assert asha in detail(refused) and "20.00" in detail(refused) and "120.00" in detail(refused)
    assert clean(api) == count and savings(api, asha) == "20.00"
    api.post(f"{BASE}/members/{asha}/deposits", {"amount": "100.00"}, role="clerk")
    at(api, date(2025, 8, 1))
    july = api.post(RUNS, {"from": "2025-07-01", "through": "2025-07-31"})
    assert july.status_code == 201, july.text
    later = api.post(f"{RUNS}/{run_id}/reversal", None)
    is_problem(later, 409)
    assert "2025-07-01 to 2025-07-31" in detail(later) and "reverse it first" in detail(later)
    assert api.post(f"{RUNS}/{july.json()['id']}/reversal", None).status_code == 201
    assert api.post(f"{RUNS}/{run_id}/reversal", None).status_code == 201
    clean(api)


def test_an_interest_run_in_a_closed_year_asks_for_the_year_to_be_reopened(api: Api) -> None:
    asha = shareholder(api, 1, "2024-04-01")
    api.post(f"{BASE}/members/{asha}/deposits",
             {"amount": "36500.00", "value_date": "2025-02-28", "confirm_large_amount": True},
             role="clerk")
    run = api.post(RUNS, {"from": "2025-03-01", "through": "2025-03-31"})
    assert run.status_code == 201, run.text
    close(api)
    refused = api.post(f"{RUNS}/{run.json()['id']}/reversal", None)
    is_problem(refused, 409)
    assert "reopen the year first" in detail(refused)
    assert api.post(f"{Y}/{FY}/reopening", None).status_code == 201
    assert api.post(f"{RUNS}/{run.json()['id']}/reversal", None).status_code == 201
    clean(api)


def both_at_once(live: LiveServer, path: str, role: str = "admin") -> list[int]:
    """The same request twice from two threads released together: their statuses, sorted."""
    statuses: list[int] = []
    start = threading.Barrier(2)

    def send() -> None:
        with httpx.Client(base_url=live.base_url, headers=live.api.headers(role),
                          timeout=60) as client:
            start.wait()
            statuses.append(client.post(path, json=None).status_code)

    threads = [threading.Thread(target=send, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return sorted(statuses)


def test_two_interest_run_reversals_at_once_one_201_one_409(live: LiveServer) -> None:
    api = live.api
    asha, run_id = june_interest(api)
    count = clean(api)
    assert both_at_once(live, f"{RUNS}/{run_id}/reversal") == [201, 409]
    assert savings(api, asha) == "36500.00" and clean(api) == count + 1
    again = api.post(RUNS, {"from": "2025-06-01", "through": "2025-06-30"})
    second = meanwhile(live, f"{RUNS}/{again.json()['id']}/reversal", "admin",
                       lambda s: interest_run.reverse_interest_run(
                           s, int(again.json()["id"]), actor="admin", clock=api.clock))
    is_problem(second, 409)
    assert savings(api, asha) == "36500.00" and clean(api) == count + 3


# --- reopening a year -----------------------------------------------------------------------


def a_closed_year(api: Api) -> str:
    asha = shareholder(api, 10_000)
    income(api, "120000.00")
    expense(api, "20000.00")
    return asha


def test_a_year_is_reopened_and_closed_again_to_the_same_surplus(
        api: Api, figure: Callable[[str], None]) -> None:
    a_closed_year(api)
    first = close(api)
    count = clean(api)
    assert api.post(f"{Y}/{FY}/reopening", None, role="board").status_code == 403
    reopened = api.post(f"{Y}/{FY}/reopening", None)
    assert reopened.status_code == 201, reopened.text
    body = reopened.json()
    assert (body["fiscal_year"], body["status"]) == (FY, "open")
    reversal = api.get(f"{BASE}/ledger/entries/{body['reversal_entry_id']}").json()
    assert reversal["reversal_of"] == first["closing_entry_id"]
    assert reversal["value_date"] == "2025-03-31"
    book = accounts(api)
    assert (book["3900"], book["4200"], book["5100"]) == ("0.00", "120000.00", "20000.00")
    assert clean(api) == count + 1
    is_problem(api.get(f"{Y}/{FY}"), 409)
    is_problem(api.post(f"{Y}/{FY}/reopening", None), 409)
    late = api.post(f"{BASE}/ledger/entries", {"value_date": "2025-03-30", "narration": "Late",
                                               "postings": [{"account": "5100", "debit": "0.50"},
                                                            {"account": "1000", "credit": "0.50"}]})
    assert late.status_code == 201, late.text  # the year takes entries again
    again = close(api)
    assert again["net_surplus"] == "99999.50"
    figure(f"fiscal year {FY}: closed {first['net_surplus']}, reopened (entry "
           f"{body['reversal_entry_id']}), a late 0.50 expense, closed again "
           f"{again['net_surplus']}")
    assert api.post(f"{Y}/{FY}/reopening", None).status_code == 201
    late_back = api.post(f"{BASE}/ledger/entries/{late.json()['id']}/reversal", {"reason": "x"})
    assert late_back.status_code == 201, late_back.text
    assert close(api)["net_surplus"] == first["net_surplus"]
    clean(api)


def test_a_year_reopens_only_after_its_successor_and_its_dividend(api: Api) -> None:
    a_closed_year(api)
    close(api)
    assert declare(api, FIFTEEN).status_code == 201
    refused = api.post(f"{Y}/{FY}/reopening", None)
    is_problem(refused, 409)
    assert "cancel it first" in detail(refused)
    assert pay(api).status_code == 201
    is_problem(api.post(f"{Y}/{FY}/reopening", None), 409)
    at(api, date(2026, 4, 2))
    close(api, FY + 1)
    later = api.post(f"{Y}/{FY}/reopening", None)
    is_problem(later, 409, "later-year-closed")
    assert f"reopen {FY + 1} first" in detail(later)
    count = clean(api)
    assert api.post(f"{Y}/{FY + 1}/reopening", None).status_code == 201
    assert api.post(f"{DIV}/{FY}/payment/reversal", None).status_code == 201
    assert api.post(f"{DIV}/{FY}/cancellation", None, role="board").status_code == 201
    assert api.post(f"{Y}/{FY}/reopening", None).status_code == 201
    assert accounts(api)["3900"] == "0.00" and clean(api) == count + 3  # 2025 closed nil


def test_two_reopenings_at_once_one_201_one_409(live: LiveServer) -> None:
    api = live.api
    a_closed_year(api)
    close(api)
    count = clean(api)
    assert both_at_once(live, f"{Y}/{FY}/reopening") == [201, 409]
    assert clean(api) == count + 1 and accounts(api)["3900"] == "0.00"
    close(api)
    second = meanwhile(live, f"{Y}/{FY}/reopening", "admin", lambda s: reopen_year(
        s, FY, society=society(s), actor="admin", clock=api.clock))
    is_problem(second, 409)
    assert clean(api) == count + 3 and accounts(api)["3900"] == "0.00"


# --- a paid dividend ------------------------------------------------------------------------


def test_a_paid_dividend_is_reversed_back_to_declared(
        api: Api, figure: Callable[[str], None]) -> None:
    asha = a_closed_year(api)
    bina = shareholder(api, 10_000)
    close(api)
    assert declare(api, FIFTEEN).status_code == 201
    assert pay(api).status_code == 201
    assert savings(api, asha) == "15000.00" and accounts(api)["2100"] == "0.00"
    count = clean(api)
    assert api.post(f"{DIV}/{FY}/payment/reversal", None, role="clerk").status_code == 403
    undone = api.post(f"{DIV}/{FY}/payment/reversal", None)
    assert undone.status_code == 201, undone.text
    assert undone.json() == {"fiscal_year": FY, "status": "declared", "entries_reversed": 2}
    assert (savings(api, asha), savings(api, bina)) == ("0.00", "0.00")
    assert accounts(api)["2100"] == "30000.00"
    assert api.get(f"{DIV}/{FY}").json()["status"] == "declared"
    assert clean(api) == count + 2
    figure(f"dividend {FY}: 2 payments of 15,000.00 reversed; 2100 holds "
           f"{accounts(api)['2100']} again")
    is_problem(api.post(f"{DIV}/{FY}/payment/reversal", None), 409)
    assert pay(api).status_code == 201  # paid again: the register still matches
    assert savings(api, asha) == "15000.00" and clean(api) == count + 4
    out = api.post(f"{BASE}/members/{asha}/withdrawals", {"amount": "14000.00"}, role="clerk")
    assert out.status_code == 201, out.text
    refused = api.post(f"{DIV}/{FY}/payment/reversal", None)
    is_problem(refused, 409)
    assert asha in detail(refused) and "1000.00" in detail(refused)
    assert clean(api) == count + 5 and savings(api, bina) == "15000.00"


# --- a write-off ----------------------------------------------------------------------------


def written_off(api: Api) -> tuple[int, str, str]:
    """A 10,000.00 loan guaranteed 4,000.00 by Gita, 1,500.00 repaid, then written off."""
    board = make_board(api)
    product(api)
    code = borrower(api, savings="2000.00", shares=10)
    gita = borrower(api, savings="5000.00", shares=1)
    made = api.post(L, {"member_code": code, "product": "WEEKLY", "principal": "10000.00",
                        "guarantors": [{"member_code": gita, "amount": "4000.00"}]},
                    role="clerk")
    assert made.status_code == 201, made.text
    loan_id = int(made.json()["id"])
    from tests.api.test_loans_api import approve, disburse

    approve(board, loan_id)
    disburse(api, loan_id)
    at(api, date(2025, 7, 7))
    repay(api, loan_id, "1500.00")
    at(api, date(2025, 9, 1))
    off = api.post(f"{L}/{loan_id}/write-off", {"reason": "moved away"}, role="board")
    assert off.status_code == 201, off.text
    assert savings_of(api, gita)["available"] == "5000.00"
    return loan_id, code, gita


def test_a_write_off_is_undone_with_the_guarantee_held_again(
        api: Api, figure: Callable[[str], None]) -> None:
    loan_id, _code, gita = written_off(api)
    before = loan(api, loan_id)
    assert before["status"] == "written_off"
    count = clean(api)
    path = f"{L}/{loan_id}/write-off/reversal"
    assert api.post(path, {"reason": "she came back"}, role="admin").status_code == 403
    undone = api.post(path, {"reason": "she came back"}, role="board")
    assert undone.status_code == 201, undone.text
    after = loan(api, loan_id)
    outstanding = after["outstanding_principal"]
    assert undone.json() == {"entry_id": undone.json()["entry_id"], "status": "active",
                             "outstanding_principal": outstanding}
    assert after["status"] == "active" and accounts(api)["5200"] == "0.00"
    held = after["guarantors"][0]["held"]
    # 4,000.00 x outstanding / 10,000.00, rounded up to the paisa
    out_minor = int(outstanding.replace(".", ""))
    assert int(held.replace(".", "")) == -(-400_000 * out_minor // 1_000_000)
    left = 500_000 - int(held.replace(".", ""))
    assert savings_of(api, gita)["available"] == f"{left // 100}.{left % 100:02d}"
    assert clean(api) == count + 1
    figure(f"loan {loan_id}: write-off undone, {outstanding} outstanding again, "
           f"guarantor holds {held} of 4,000.00")
    is_problem(api.post(path, {"reason": "again"}, role="board"), 409)
    assert repay(api, loan_id, "100.00")["status"] == "active"  # she pays again
    clean(api)


def test_a_write_off_stands_once_recovered_from_or_without_the_guarantee(api: Api) -> None:
    loan_id, _code, gita = written_off(api)
    out = api.post(f"{BASE}/members/{gita}/withdrawals", {"amount": "4000.00"}, role="clerk")
    assert out.status_code == 201, out.text
    count = clean(api)
    path = f"{L}/{loan_id}/write-off/reversal"
    short = api.post(path, {"reason": "she came back"}, role="board")
    is_problem(short, 409)
    assert gita in detail(short) and "1000.00" in detail(short)
    assert loan(api, loan_id)["status"] == "written_off" and clean(api) == count
    repay(api, loan_id, "10.00")  # a recovery
    recovered = api.post(path, {"reason": "she came back"}, role="board")
    is_problem(recovered, 409)
    assert "10.00 has been recovered" in detail(recovered)
    clean(api)
