"""Year-end and dividends through the API: closing fiscal year 2024 (2024-04-01..2025-03-31),
the statutory appropriation, preview, declaration, payment and cancellation, the auditor's
CSV, refusals that write nothing, who may do what, a loss year, members who left during the
year, the patronage rebate on loan interest, years closed in order, Idempotency-Key replays,
and a second close, declaration, payment or cancellation arriving while the first is being
written (it must be a 409 that changes nothing, on SQLite and on PostgreSQL).

The business date is 2025-06-30 (the FixedClock), so fiscal year 2024 is over and 2025 is not.
Expected figures were worked out by hand (exact fractions; a pool is rounded down to the
paisa, statutory transfers up; members share a pool by largest remainder):

* net surplus 1,00,000.00: reserve 25 % = 25,000.00, education 1 % = 1,000.00, unforeseen
  losses 10 % = 10,000.00, distributable 64,000.00;
* 2,00,000.00 of shares held all year, 15 % on the closing register: pool 30,000.00;
* 1,000.00 of shares bought on 2024-08-20: 7 whole months held (September..March), 15 %:
  1000 x 7 / 12 x 15 % = 87.50; 224 days held: 1000 x 224 / 365 x 15 % = 92.0547 -> 92.05.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.orm import Session

from coop import dividends
from coop.society import Society, get_society
from tests.api.conftest import Api, LiveServer
from tests.api.loan_helpers import BASE, borrower, make_board, product
from tests.helpers import pdf_text

M = f"{BASE}/members"
Y = f"{BASE}/years"
DIV = f"{BASE}/dividends"
FY = 2024
YEAR_END = "2025-03-31"
TODAY = date(2025, 6, 30)
FIFTEEN = {"dividend_rate": "15"}


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


def settings(api: Api, **values: Any) -> httpx.Response:
    return api.client.patch(f"{BASE}/society", json={"settings": values},
                            headers=api.headers("admin"))


def member(api: Api, joined_on: str = "2024-04-01") -> str:
    response = api.post(M, {"joined_on": joined_on}, role="admin")
    assert response.status_code == 201, response.text
    return str(response.json()["code"])


def buy(api: Api, code: str, count: int, value_date: str) -> None:
    response = api.post(f"{M}/{code}/shares", {"count": count, "value_date": value_date,
                                                "confirm_large_amount": True}, role="clerk")
    assert response.status_code == 201, response.text


def shareholder(api: Api, count: int, value_date: str = "2024-04-01") -> str:
    code = member(api)
    buy(api, code, count, value_date)
    return code


def journal(api: Api, narration: str, postings: list[dict[str, str]],
            value_date: str = "2024-12-01") -> httpx.Response:
    return api.post(f"{BASE}/ledger/entries", {"value_date": value_date, "narration": narration,
                                               "postings": postings})


def income(api: Api, amount: str, value_date: str = "2024-12-01") -> None:
    made = journal(api, "Grant", [{"account": "1000", "debit": amount},
                                  {"account": "4200", "credit": amount}], value_date)
    assert made.status_code == 201, made.text


def expense(api: Api, amount: str, value_date: str = "2025-01-15") -> None:
    made = journal(api, "Rent", [{"account": "5100", "debit": amount},
                                 {"account": "1000", "credit": amount}], value_date)
    assert made.status_code == 201, made.text


def close(api: Api, fy: int = FY) -> dict[str, Any]:
    response = api.post(f"{Y}/{fy}/close", None)
    assert response.status_code == 201, response.text
    return dict(response.json())


def accounts(api: Api) -> dict[str, str]:
    response = api.get(f"{BASE}/ledger/accounts")
    assert response.status_code == 200, response.text
    return {item["code"]: item["balance"] for item in response.json()["items"]}


def trial(api: Api, as_of: str | None = None) -> dict[str, tuple[str, str]]:
    """The trial balance (which must balance) as {account: (debit, credit)}."""
    response = api.get(f"{BASE}/ledger/trial-balance",
                       params={"as_of": as_of} if as_of else None, role="auditor")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_debit"] == body["total_credit"], body
    return {row["account"]: (row["debit"], row["credit"]) for row in body["rows"]}


def entries(api: Api) -> int:
    """How many journal entries the book holds (and that the chain is sound)."""
    checked = api.get(f"{BASE}/ledger/verify", role="auditor").json()
    assert checked["ok"] is True, checked
    return int(checked["entries_checked"])


def preview(api: Api, body: dict[str, Any], role: str = "board") -> httpx.Response:
    return api.post(f"{DIV}/{FY}/preview", body, role=role)


def declare(api: Api, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return api.post(f"{DIV}/{FY}/declaration", body, role="board", key=key)


def pay(api: Api, role: str = "clerk", key: str | None = None) -> httpx.Response:
    return api.post(f"{DIV}/{FY}/payment", None, role=role, key=key)


def savings(api: Api, code: str) -> str:
    response = api.get(f"{M}/{code}", role="clerk")
    assert response.status_code == 200, response.text
    return str(response.json()["savings"]["balance"])


def report_rows(api: Api) -> list[dict[str, str]]:
    response = api.get(f"{DIV}/{FY}/report.csv", role="auditor")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def by_member(body: dict[str, Any]) -> dict[str, tuple[str, str, str, str]]:
    return {a["member_code"]: (a["basis_value"], a["dividend"], a["rebate"], a["total"])
            for a in body["allocations"]}


STATUTORY = [
    {"fund": "statutory_reserve", "account": "3100", "percent": "25", "amount": "25000.00"},
    {"fund": "education_fund", "account": "3110", "percent": "1", "amount": "1000.00"},
    {"fund": "unforeseen_loss_reserve", "account": "3120", "percent": "10",
     "amount": "10000.00"},
]


# --- 1. the whole year-end --------------------------------------------------------------------


def test_close_preview_declare_pay_report(api: Api) -> None:
    asha = shareholder(api, 10_000)  # 1,00,000.00 all year
    bina = shareholder(api, 10_000)  # 1,00,000.00 all year
    chitra = shareholder(api, 100, "2024-08-20")  # 1,000.00 for 224 days
    income(api, "120000.00")
    expense(api, "20000.00")
    before = trial(api, YEAR_END)
    assert before["4200"] == ("0.00", "120000.00") and before["5100"] == ("20000.00", "0.00")
    count = entries(api)

    closed = close(api)
    assert closed["fiscal_year"] == FY and closed["net_surplus"] == "100000.00"
    assert (closed["start"], closed["end"]) == ("2024-04-01", YEAR_END)
    verified = api.get(f"{BASE}/ledger/verify").json()
    assert verified["entries_checked"] == count + 1
    assert closed["chain_head"] == verified["chain_head"]
    closing = api.get(f"{BASE}/ledger/entries/{closed['closing_entry_id']}").json()
    assert closing["value_date"] == YEAR_END
    assert sorted((p["account"], p.get("debit"), p.get("credit"))
                  for p in closing["postings"]) == [
        ("3900", None, "100000.00"), ("4200", "120000.00", None), ("5100", None, "20000.00")]
    assert api.get(f"{Y}/{FY}", role="auditor").json() == closed
    after = trial(api, YEAR_END)
    for account, row in after.items():
        if account.startswith(("4", "5")):
            assert row == ("0.00", "0.00"), (account, row)
    assert after["3900"] == ("0.00", "100000.00")
    assert accounts(api)["3900"] == "100000.00"
    # The year is locked: nothing more may be dated in it.
    late = journal(api, "Late grant", [{"account": "1000", "debit": "1.00"},
                                       {"account": "4200", "credit": "1.00"}], YEAR_END)
    is_problem(late, 422)
    assert entries(api) == count + 1

    # Preview: every reader gets the same bytes, and nothing is written.
    first = preview(api, FIFTEEN, role="auditor")
    assert first.status_code == 200, first.text
    for role in ("auditor", "board", "admin"):
        again = preview(api, FIFTEEN, role=role)
        assert (again.status_code, again.content) == (200, first.content)
    body = first.json()
    assert body["fiscal_year"] == FY and body["net_surplus"] == "100000.00"
    assert body["appropriations"] == STATUTORY
    assert body["distributable"] == "64000.00"
    # share_days (the default): 15 % of (2 x 100000.00 x 365 + 1000.00 x 224) / 365 day-values
    # = 30092.0547 -> 30092.05; the exact shares 14999.9976, 14999.9976, 92.0548 round to
    # 15000.00, 15000.00, 92.05 by largest remainder.
    assert body["dividend"] == {"rate": "15", "basis": "share_days", "pool": "30092.05",
                                "allocated": "30092.05", "residue": "0.00"}
    assert body["undistributed"] == "33907.95"
    assert by_member(body) == {
        asha: ("36500000.00", "15000.00", "0.00", "15000.00"),
        bina: ("36500000.00", "15000.00", "0.00", "15000.00"),
        chitra: ("224000.00", "92.05", "0.00", "92.05")}
    assert [a["member_code"] for a in body["allocations"]] == sorted([asha, bina, chitra])
    assert entries(api) == count + 1
    is_problem(api.get(f"{DIV}/{FY}", role="auditor"), 404)

    # Declaration by the board: the preview, stored, and the appropriation posted.
    declared = declare(api, {**FIFTEEN, "preview_digest": body["preview_digest"],
                             "resolution": {"number": "AGM-2025/4", "date": "2025-06-28"}})
    assert declared.status_code == 201, declared.text
    stored = declared.json()
    assert stored["status"] == "declared" and stored["fiscal_year"] == FY
    assert stored["resolution"] == {"number": "AGM-2025/4", "date": "2025-06-28"}
    assert stored["preview_digest"] == body["preview_digest"]
    assert (stored["approvals"], stored["rejections"], stored["approvals_required"]) == (1, 0, 1)
    assert stored["declared_at"] == "2025-06-30T00:00:00Z" and stored["paid_at"] is None
    assert stored["payment_entries"] == 0 and stored["cancellation_entry_id"] is None
    for field in ("net_surplus", "appropriations", "distributable", "dividend", "rebate",
                  "undistributed", "allocations"):
        assert stored[field] == body[field], field
    assert entries(api) == count + 2
    appropriation = api.get(
        f"{BASE}/ledger/entries/{stored['appropriation_entry_id']}").json()
    assert appropriation["value_date"] == TODAY.isoformat()
    assert sorted((p["account"], p.get("debit"), p.get("credit"))
                  for p in appropriation["postings"]) == [
        ("2100", None, "30092.05"), ("3100", None, "25000.00"), ("3110", None, "1000.00"),
        ("3120", None, "10000.00"), ("3200", None, "33907.95"), ("3900", "100000.00", None)]
    book = accounts(api)
    assert (book["3900"], book["3100"], book["3110"], book["3120"], book["2100"],
            book["3200"]) == ("0.00", "25000.00", "1000.00", "10000.00", "30092.05",
                              "33907.95")
    trial(api)
    assert api.get(f"{DIV}/{FY}", role="board").json()["status"] == "declared"

    # Payment: one entry per member, each savings account credited exactly her total.
    assert {c: savings(api, c) for c in (asha, bina, chitra)} == dict.fromkeys(
        (asha, bina, chitra), "0.00")
    paid = pay(api)
    assert paid.status_code == 201, paid.text
    assert paid.json() == {"fiscal_year": FY, "status": "paid", "entries": 3}
    assert entries(api) == count + 5
    expected = {asha: "15000.00", bina: "15000.00", chitra: "92.05"}
    assert {c: savings(api, c) for c in expected} == expected
    for code, amount in expected.items():
        lines = api.get(f"{M}/{code}/savings/transactions", role="clerk").json()["items"]
        assert [(x["value_date"], x["deposit"], x["withdrawal"], x["balance"])
                for x in lines] == [(TODAY.isoformat(), amount, "0.00", amount)]
        assert "2024" in lines[0]["narration"]
    book = accounts(api)
    assert book["2100"] == "0.00" and book["2000"] == "30092.05"
    trial(api)

    detail = api.get(f"{DIV}/{FY}", role="auditor").json()
    assert detail["status"] == "paid" and detail["payment_entries"] == 3
    assert detail["paid_at"] == "2025-06-30T00:00:00Z"
    assert detail["appropriation_entry_id"] == stored["appropriation_entry_id"]
    assert detail["allocations"] == body["allocations"]
    assert report_rows(api) == [
        {k: a[k] for k in ("member_code", "basis_value", "dividend", "rebate", "total")}
        for a in body["allocations"]]
    verified = api.get(f"{BASE}/ledger/verify", role="auditor").json()
    assert verified["ok"] is True and verified["problems"] == []


# --- 2. the worked example --------------------------------------------------------------------


def test_the_worked_example(api: Api) -> None:
    asha = shareholder(api, 10_000)
    bina = shareholder(api, 10_000)  # 2,00,000.00 of paid-up capital, all year
    income(api, "100000.00")
    assert close(api)["net_surplus"] == "100000.00"

    register = preview(api, {**FIFTEEN, "basis": "closing_register"})
    assert register.status_code == 200, register.text
    body = register.json()
    assert body["appropriations"] == STATUTORY and body["distributable"] == "64000.00"
    assert body["dividend"] == {"rate": "15", "basis": "closing_register", "pool": "30000.00",
                                "allocated": "30000.00", "residue": "0.00"}
    assert body["undistributed"] == "34000.00"
    assert by_member(body) == {asha: ("100000.00", "15000.00", "0.00", "15000.00"),
                               bina: ("100000.00", "15000.00", "0.00", "15000.00")}
    # Held all year, every basis gives the same pool.
    for basis in ("share_days", "months_held"):
        same = preview(api, {**FIFTEEN, "basis": basis}).json()["dividend"]
        assert (same["pool"], same["allocated"]) == ("30000.00", "30000.00"), basis
    # A declared amount instead of a rate: the rate it amounts to is reported.
    amount = preview(api, {"dividend_amount": "20000.00", "basis": "closing_register"})
    assert amount.status_code == 200, amount.text
    assert amount.json()["dividend"]["rate"] == "10.0000"
    assert amount.json()["dividend"]["pool"] == "20000.00"


def test_months_and_days_held(api: Api) -> None:
    chitra = shareholder(api, 100, "2024-08-20")  # 1,000.00 from 20 August
    income(api, "1000.00")  # distributable 640.00
    close(api)

    months = preview(api, {**FIFTEEN, "basis": "months_held"})
    assert months.status_code == 200, months.text
    assert months.json()["dividend"] == {"rate": "15", "basis": "months_held", "pool": "87.50",
                                         "allocated": "87.50", "residue": "0.00"}
    assert by_member(months.json()) == {chitra: ("7000.00", "87.50", "0.00", "87.50")}

    days = preview(api, FIFTEEN).json()
    assert days["dividend"]["basis"] == "share_days" and days["dividend"]["pool"] == "92.05"
    assert by_member(days) == {chitra: ("224000.00", "92.05", "0.00", "92.05")}
    assert days["undistributed"] == "547.95"  # 640.00 - 92.05

    # Paid in whole rupees: what is less than a rupee is the residue, left undistributed.
    assert settings(api, dividend_rounding="1").status_code == 200
    whole = preview(api, FIFTEEN).json()
    assert whole["dividend"] == {"rate": "15", "basis": "share_days", "pool": "92.05",
                                 "allocated": "92.00", "residue": "0.05"}
    assert whole["undistributed"] == "548.00"

    # The society's default basis is a setting.
    assert settings(api, dividend_basis="months_held").status_code == 200
    assert preview(api, FIFTEEN).json()["dividend"]["basis"] == "months_held"


# --- 3. refusals write nothing ----------------------------------------------------------------


def test_refusals_write_nothing(api: Api) -> None:
    asha = shareholder(api, 1_000)  # 10,000.00 all year
    income(api, "1000.00")  # distributable 640.00; 15 % of 10,000.00 would be 1,500.00
    count = entries(api)

    is_problem(preview(api, FIFTEEN), 409, "year-not-closed")
    is_problem(declare(api, FIFTEEN), 409, "year-not-closed")
    is_problem(pay(api), 409)
    is_problem(api.post(f"{Y}/2025/close", None), 422)  # ends 2026-03-31
    assert entries(api) == count
    assert api.get(f"{Y}/{FY}", role="auditor").status_code in (404, 409)
    at(api, date(2025, 3, 31))  # the year's last day: not over yet
    is_problem(api.post(f"{Y}/{FY}/close", None), 422)
    at(api, TODAY)
    assert entries(api) == count

    assert close(api)["net_surplus"] == "1000.00"
    count = entries(api)
    is_problem(api.post(f"{Y}/{FY}/close", None), 409, "year-closed-already")
    is_problem(api.post(f"{Y}/2025/close", None), 422)
    is_problem(pay(api), 409, "dividend-state-conflict")  # nothing declared

    for body in ({"dividend_rate": "16"}, {"dividend_rate": "15.0001"}):  # above the cap
        for attempt in (preview(api, body), declare(api, body)):
            is_problem(attempt, 422, "dividend-above-cap")
    for body in (FIFTEEN, {"dividend_rate": "6.41"}, {"dividend_amount": "640.01"}):
        for attempt in (preview(api, body), declare(api, body)):  # above 640.00
            is_problem(attempt, 422, "dividend-above-cap")
    for body in ({"dividend_rate": "10", "dividend_amount": "100.00"}, {},
                 {"basis": "closing_register"}):  # both, or neither
        for attempt in (preview(api, body), declare(api, body)):
            is_problem(attempt, 422)
    for body in ({"dividend_rate": "-1"}, {"dividend_rate": "ten"},
                 {"dividend_amount": "1.001"}, {"dividend_rate": "5", "basis": "vibes"},
                 {"dividend_rate": "5", "patronage_rebate_percent": "101"}):
        for attempt in (preview(api, body), declare(api, body)):
            is_problem(attempt, 422)
    assert entries(api) == count
    is_problem(api.get(f"{DIV}/{FY}", role="auditor"), 404)
    is_problem(api.get(f"{DIV}/{FY}/report.csv", role="auditor"), 404)

    # Exactly the distributable balance is allowed.
    exact = preview(api, {"dividend_rate": "6.4"})
    assert exact.status_code == 200, exact.text
    assert exact.json()["dividend"]["pool"] == "640.00"
    assert exact.json()["undistributed"] == "0.00"

    # The statutory minimums hold under the mscs_2002 preset; "custom" lifts them.
    is_problem(settings(api, reserve_fund_percent="20"), 422)
    is_problem(settings(api, education_fund_percent="0.5"), 422)
    is_problem(settings(api, unforeseen_loss_reserve_percent="9"), 422)
    society = api.get(f"{BASE}/society").json()["settings"]
    assert society["reserve_fund_percent"] == "25"
    assert society["appropriation_preset"] == "mscs_2002"
    custom = settings(api, appropriation_preset="custom", reserve_fund_percent="20")
    assert custom.status_code == 200, custom.text
    assert custom.json()["settings"]["reserve_fund_percent"] == "20"
    lower = preview(api, {"dividend_rate": "6.9"}).json()  # 1000 - 200 - 10 - 100 = 690.00
    assert [a["amount"] for a in lower["appropriations"]] == ["200.00", "10.00", "100.00"]
    assert lower["distributable"] == "690.00" and lower["dividend"]["pool"] == "690.00"
    # Back to the preset with 20 % is refused as a whole.
    is_problem(settings(api, appropriation_preset="mscs_2002"), 422)
    assert entries(api) == count

    first = declare(api, {"dividend_rate": "6"})
    assert first.status_code == 201, first.text
    assert entries(api) == count + 1
    is_problem(declare(api, {"dividend_rate": "6"}), 409, "dividend-state-conflict")
    is_problem(declare(api, {"dividend_rate": "5"}), 409, "dividend-state-conflict")
    assert entries(api) == count + 1
    assert pay(api).status_code == 201
    assert savings(api, asha) == "600.00"
    count = entries(api)
    is_problem(pay(api), 409, "dividend-state-conflict")
    is_problem(pay(api, role="admin"), 409, "dividend-state-conflict")
    is_problem(declare(api, {"dividend_rate": "6"}), 409, "dividend-state-conflict")
    assert entries(api) == count
    assert savings(api, asha) == "600.00"


# --- 4. roles ---------------------------------------------------------------------------------


def test_who_may_close_declare_and_pay(api: Api) -> None:
    shareholder(api, 1_000)
    income(api, "10000.00")
    count = entries(api)
    for role in ("board", "clerk", "auditor", "member"):
        is_problem(api.post(f"{Y}/{FY}/close", None, role=role), 403)
    assert entries(api) == count
    close(api)
    count = entries(api)

    for role in ("clerk", "member"):
        is_problem(preview(api, FIFTEEN, role=role), 403)
    for role in ("admin", "clerk", "auditor", "member"):
        is_problem(api.post(f"{DIV}/{FY}/declaration", FIFTEEN, role=role), 403)
    assert entries(api) == count
    assert declare(api, FIFTEEN).status_code == 201
    for role in ("clerk", "auditor", "member"):  # the admin and the board may cancel
        is_problem(api.post(f"{DIV}/{FY}/cancellation", None, role=role), 403)
    for role in ("board", "auditor", "member"):
        is_problem(pay(api, role=role), 403)
    for role in ("clerk", "member"):
        for path in (f"{DIV}/{FY}", f"{DIV}/{FY}/report.csv", f"{Y}/{FY}"):
            is_problem(api.get(path, role=role), 403)
    assert entries(api) == count + 1
    assert api.get(f"{DIV}/{FY}", role="auditor").json()["status"] == "declared"
    assert pay(api, role="admin").status_code == 201


# --- 5. cancellation --------------------------------------------------------------------------


def test_a_declared_dividend_may_be_cancelled_until_it_is_paid(api: Api) -> None:
    asha = shareholder(api, 10_000)
    shareholder(api, 10_000)
    income(api, "100000.00")
    close(api)
    is_problem(api.post(f"{DIV}/{FY}/cancellation", None, role="board"), 409,
               "dividend-state-conflict")  # nothing declared yet

    declared = declare(api, FIFTEEN)
    assert declared.status_code == 201, declared.text
    assert accounts(api)["2100"] == "30000.00"
    count = entries(api)
    cancelled = api.post(f"{DIV}/{FY}/cancellation", None, role="board")
    assert cancelled.status_code == 201, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert entries(api) == count + 1
    book = accounts(api)
    assert book["3900"] == "100000.00"
    for account in ("2100", "3100", "3110", "3120", "3200"):
        assert book[account] == "0.00", account
    trial(api)
    detail = api.get(f"{DIV}/{FY}", role="auditor").json()
    assert detail["status"] == "cancelled"
    assert detail["cancellation_entry_id"] == cancelled.json()["cancellation_entry_id"]
    is_problem(api.post(f"{DIV}/{FY}/cancellation", None, role="board"), 409,
               "dividend-state-conflict")
    is_problem(pay(api), 409, "dividend-state-conflict")
    assert entries(api) == count + 1

    # The board may declare again, at another rate.
    again = declare(api, {"dividend_rate": "10"})
    assert again.status_code == 201, again.text
    assert again.json()["dividend"]["pool"] == "20000.00"
    assert again.json()["appropriation_entry_id"] != declared.json()["appropriation_entry_id"]
    book = accounts(api)
    assert (book["3900"], book["2100"], book["3100"], book["3200"]) == (
        "0.00", "20000.00", "25000.00", "44000.00")
    assert api.get(f"{DIV}/{FY}", role="auditor").json()["status"] == "declared"
    assert pay(api).status_code == 201
    assert savings(api, asha) == "10000.00"
    count = entries(api)
    is_problem(api.post(f"{DIV}/{FY}/cancellation", None, role="board"), 409,
               "dividend-state-conflict")
    assert entries(api) == count
    assert api.get(f"{DIV}/{FY}", role="auditor").json()["status"] == "paid"
    assert accounts(api)["2100"] == "0.00"
    trial(api)


# --- 6. a loss year ---------------------------------------------------------------------------


def test_a_loss_is_carried_and_nothing_is_declared(api: Api) -> None:
    shareholder(api, 1_000)  # 10,000.00 in the till
    income(api, "1000.00")
    expense(api, "5000.00")
    closed = close(api)
    assert closed["net_surplus"] == "-4000.00"
    assert trial(api, YEAR_END)["3900"] == ("4000.00", "0.00")  # a debit, carried
    assert accounts(api)["3900"] == "-4000.00"
    closing = api.get(f"{BASE}/ledger/entries/{closed['closing_entry_id']}").json()
    assert ("3900", "4000.00") in [(p["account"], p.get("debit")) for p in closing["postings"]]
    count = entries(api)

    nothing = preview(api, {"dividend_rate": "0"})
    assert nothing.status_code == 200, nothing.text
    body = nothing.json()
    assert body["net_surplus"] == "-4000.00" and body["distributable"] == "0.00"
    assert [a["amount"] for a in body["appropriations"]] == ["0.00", "0.00", "0.00"]
    is_problem(preview(api, FIFTEEN), 422, "dividend-above-cap")
    for attempt in ({"dividend_rate": "0"}, FIFTEEN, {"dividend_rate": "1"}):
        is_problem(declare(api, attempt), 422)
    assert entries(api) == count
    is_problem(api.get(f"{DIV}/{FY}", role="auditor"), 404)
    assert accounts(api)["3900"] == "-4000.00"


# --- 7. members who left during the year ------------------------------------------------------


def test_a_member_who_left_is_paid_for_the_time_held(api: Api) -> None:
    assert settings(api, min_shares=0).status_code == 200
    at(api, date(2024, 4, 1))
    stays = shareholder(api, 100)  # 1,000.00 all year
    leaves = shareholder(api, 100)  # 1,000.00 from 1 April ...
    deposit = api.post(f"{M}/{leaves}/deposits", {"amount": "500.00"}, role="clerk")
    assert deposit.status_code == 201, deposit.text

    at(api, date(2024, 9, 30))  # ... to 30 September: 182 days
    is_problem(api.post(f"{M}/{leaves}/exit", None), 409)  # savings and shares first
    redeemed = api.post(f"{M}/{leaves}/share-redemptions", {"count": 100})
    assert redeemed.status_code == 201, redeemed.text
    withdrawn = api.post(f"{M}/{leaves}/withdrawals", {"amount": "500.00"}, role="clerk")
    assert withdrawn.status_code == 201, withdrawn.text
    gone = api.post(f"{M}/{leaves}/exit", None)
    assert gone.status_code == 200, gone.text
    assert gone.json()["status"] == "exited"

    at(api, TODAY)
    income(api, "10000.00")
    close(api)

    # time_held (the default): 1000.00 x 365 and 1000.00 x 182 day-values at 15 %:
    # 150.00 and 74.7945, pool 224.7945 -> 224.79; 150.00 and 74.79.
    assert api.get(f"{BASE}/society").json()["settings"]["dividend_exited_members"] == \
        "time_held"
    held = preview(api, FIFTEEN)
    assert held.status_code == 200, held.text
    assert held.json()["dividend"]["pool"] == "224.79"
    assert by_member(held.json()) == {stays: ("365000.00", "150.00", "0.00", "150.00"),
                                      leaves: ("182000.00", "74.79", "0.00", "74.79")}

    # Whole months: April to August (in September she held none on the 30th): 5 months.
    months = preview(api, {**FIFTEEN, "basis": "months_held"}).json()
    assert by_member(months) == {stays: ("12000.00", "150.00", "0.00", "150.00"),
                                 leaves: ("5000.00", "62.50", "0.00", "62.50")}
    # Not on the register at the year's end: nothing on the closing register.
    register = preview(api, {**FIFTEEN, "basis": "closing_register"}).json()
    assert by_member(register) == {stays: ("1000.00", "150.00", "0.00", "150.00")}

    assert settings(api, dividend_exited_members="none").status_code == 200
    none = preview(api, FIFTEEN)
    assert none.json()["dividend"]["pool"] == "150.00"
    assert by_member(none.json()) == {stays: ("365000.00", "150.00", "0.00", "150.00")}

    # Declared under time_held: her share waits in 2100, the active member is paid.
    assert settings(api, dividend_exited_members="time_held").status_code == 200
    assert declare(api, FIFTEEN).status_code == 201
    assert accounts(api)["2100"] == "224.79"
    paid = pay(api)
    assert paid.status_code == 201, paid.text
    assert paid.json()["entries"] == 1
    assert savings(api, stays) == "150.00"
    assert savings(api, leaves) == "0.00"
    assert accounts(api)["2100"] == "74.79"
    assert {r["member_code"]: r["total"] for r in report_rows(api)} == {
        stays: "150.00", leaves: "74.79"}
    trial(api)
    entries(api)


def test_a_member_who_left_gets_nothing_under_none(api: Api) -> None:
    assert settings(api, min_shares=0, dividend_exited_members="none").status_code == 200
    stays = shareholder(api, 100)
    leaves = shareholder(api, 100)
    at(api, date(2024, 12, 31))
    assert api.post(f"{M}/{leaves}/share-redemptions", {"count": 100}).status_code == 201
    assert api.post(f"{M}/{leaves}/exit", None).status_code == 200
    at(api, TODAY)
    income(api, "10000.00")
    close(api)
    for basis in ("share_days", "months_held", "closing_register"):
        body = preview(api, {**FIFTEEN, "basis": basis}).json()
        assert list(by_member(body)) == [stays], basis
        assert body["dividend"]["pool"] == "150.00", basis
    assert declare(api, FIFTEEN).status_code == 201
    assert pay(api).json()["entries"] == 1
    assert savings(api, stays) == "150.00" and savings(api, leaves) == "0.00"
    assert accounts(api)["2100"] == "0.00"


# --- the patronage rebate ---------------------------------------------------------------------


def rebate_year(api: Api) -> tuple[str, str]:
    """Fiscal year 2024 closed with 10,023.08 of surplus: a borrower who paid 23.08 of loan
    interest (10 shares from 3 June 2024) and a saver with 100 shares from 20 August 2024.
    The business date is left at TODAY. Returns (debtor, saver)."""
    at(api, date(2024, 6, 3))
    board = make_board(api)
    product(api)  # weekly, 12 %, 10 installments
    debtor = borrower(api)  # 10,000.00 savings and 10 shares, from 3 June 2024
    applied = api.post(f"{BASE}/loans", {"member_code": debtor, "product": "WEEKLY",
                                         "principal": "10000.00"}, role="clerk")
    assert applied.status_code == 201, applied.text
    loan_id = applied.json()["id"]
    for voter in list(board.tokens)[:6]:
        assert board.post(voter, f"{BASE}/loans/{loan_id}/votes",
                          {"decision": "approve"}).status_code == 201
    assert api.post(f"{BASE}/loans/{loan_id}/disbursement", {"to": "savings"},
                    role="clerk").status_code == 201
    at(api, date(2024, 6, 10))
    repaid = api.post(f"{BASE}/loans/{loan_id}/repayments", {"amount": "1012.74"},
                      role="clerk")
    assert repaid.status_code == 201, repaid.text
    assert repaid.json()["allocated"]["interest"] == "23.08"
    at(api, TODAY)
    saver = shareholder(api, 100, "2024-08-20")  # no loan: no rebate
    income(api, "10000.00")
    assert close(api)["net_surplus"] == "10023.08"
    return debtor, saver


def test_the_patronage_rebate_follows_interest_paid_in_the_year(api: Api) -> None:
    debtor, saver = rebate_year(api)

    # Appropriation of 10023.08 (each rounded up): 2505.77, 100.24, 1002.31 -> 6414.76.
    body = {"dividend_rate": "10", "patronage_rebate_percent": "50"}
    shown = preview(api, body)
    assert shown.status_code == 200, shown.text
    result = shown.json()
    assert [a["amount"] for a in result["appropriations"]] == ["2505.77", "100.24", "1002.31"]
    assert result["distributable"] == "6414.76"
    # Dividend 10 % on share-days: 100.00 x 302 and 1000.00 x 224 day-values, over 365:
    # pool 69.6438 -> 69.64, shared 8.2737 and 61.3663 -> 8.27 and 61.37 (largest
    # remainder); rebate 50 % of the 23.08 of interest she paid = 11.54.
    assert result["dividend"]["pool"] == "69.64"
    assert result["rebate"] == {"percent": "50", "pool": "11.54", "allocated": "11.54",
                                "residue": "0.00"}
    assert by_member(result) == {debtor: ("30200.00", "8.27", "11.54", "19.81"),
                                 saver: ("224000.00", "61.37", "0.00", "61.37")}
    assert result["undistributed"] == "6333.58"  # 6414.76 - 69.64 - 11.54

    assert savings(api, debtor) == "20000.00"  # her deposit and the loan paid to savings
    assert declare(api, body).status_code == 201
    assert accounts(api)["2100"] == "81.18"
    assert pay(api).json()["entries"] == 2
    assert savings(api, debtor) == "20019.81"
    assert savings(api, saver) == "61.37"
    assert accounts(api)["2100"] == "0.00"
    trial(api)
    entries(api)


# --- 8. Idempotency-Key -----------------------------------------------------------------------


def test_declaration_and_payment_replay_under_an_idempotency_key(api: Api) -> None:
    asha = shareholder(api, 10_000)
    income(api, "100000.00")
    close(api)
    count = entries(api)

    first = declare(api, FIFTEEN, key="declare-2024")
    assert first.status_code == 201, first.text
    again = declare(api, FIFTEEN, key="declare-2024")
    assert (again.status_code, again.content) == (201, first.content)
    assert entries(api) == count + 1
    is_problem(declare(api, {"dividend_rate": "10"}, key="declare-2024"), 422,
               "idempotency-key-reused")
    is_problem(declare(api, FIFTEEN, key="another"), 409, "dividend-state-conflict")
    assert entries(api) == count + 1
    assert accounts(api)["2100"] == "15000.00"

    paid = pay(api, key="pay-2024")
    assert paid.status_code == 201, paid.text
    replay = pay(api, key="pay-2024")
    assert (replay.status_code, replay.content) == (201, paid.content)
    assert entries(api) == count + 2
    assert savings(api, asha) == "15000.00"
    is_problem(pay(api, key="pay-again"), 409, "dividend-state-conflict")
    assert entries(api) == count + 2
    assert savings(api, asha) == "15000.00"
    assert accounts(api)["2100"] == "0.00"
    trial(api)


# --- years in order ---------------------------------------------------------------------------


def test_years_close_in_order_and_shares_held_from_before_count(api: Api) -> None:
    early = member(api, "2023-06-01")
    buy(api, early, 1_000, "2024-01-15")  # 10,000.00, bought in fiscal year 2023
    income(api, "5000.00", "2024-02-01")  # fiscal year 2023
    income(api, "100000.00")  # fiscal year 2024
    income(api, "777.00", "2025-05-01")  # fiscal year 2025: not in 2024's surplus
    count = entries(api)
    is_problem(api.post(f"{Y}/{FY}/close", None), 409, "year-not-closed")  # 2023 first
    assert entries(api) == count

    assert close(api, 2023)["net_surplus"] == "5000.00"
    assert close(api, 2024)["net_surplus"] == "100000.00"
    book = accounts(api)
    assert book["3900"] == "105000.00" and book["4200"] == "777.00"
    assert trial(api, YEAR_END)["4200"] == ("0.00", "0.00")

    # 2023 (a leap year of 366 days): 77 days held (15 January to 31 March 2024).
    old = api.post(f"{DIV}/2023/preview", FIFTEEN, role="board").json()
    assert old["net_surplus"] == "5000.00"
    assert by_member(old) == {early: ("770000.00", "315.57", "0.00", "315.57")}  # 10000 x 77
    # 2024: held all year from the opening register.
    body = preview(api, FIFTEEN).json()
    assert by_member(body) == {early: ("3650000.00", "1500.00", "0.00", "1500.00")}
    assert declare(api, FIFTEEN).status_code == 201
    assert accounts(api)["3900"] == "5000.00"  # 2023's surplus, not yet appropriated
    assert api.post(f"{DIV}/2023/declaration", FIFTEEN, role="board").status_code == 201
    assert accounts(api)["3900"] == "0.00"
    assert accounts(api)["2100"] == "1815.57"
    trial(api)


def test_a_nil_year_closes_without_an_entry(api: Api) -> None:
    shareholder(api, 100)
    count = entries(api)
    closed = close(api)
    assert closed["net_surplus"] == "0.00" and closed["closing_entry_id"] is None
    assert entries(api) == count
    is_problem(declare(api, {"dividend_rate": "0"}), 422)
    is_problem(declare(api, FIFTEEN), 422, "dividend-above-cap")
    assert entries(api) == count


# --- a second request while the first is being written ---------------------------------------


def meanwhile(live: LiveServer, path: str, role: str, first: Callable[[Session], object],
              body: dict[str, Any] | None = None) -> httpx.Response:
    """Run `first` in a write transaction, send the same request over HTTP while that
    transaction is still open, commit a moment later, and return the second answer. The
    second request must see what the first did: on SQLite it waits for the writer; on
    PostgreSQL it must wait on a lock that the first holds."""
    answer: list[httpx.Response] = []

    def second() -> None:
        with httpx.Client(base_url=live.base_url, headers=live.api.headers(role),
                          timeout=60) as client:
            answer.append(client.post(path, json=body))

    thread = threading.Thread(target=second, daemon=True)
    with live.api.db.writing() as session:
        first(session)
        session.flush()
        thread.start()
        time.sleep(0.8)  # the second request is now waiting (or, if unguarded, under way)
    thread.join(60)
    assert answer, "the second request did not finish"
    return answer[0]


def two_years_declared(api: Api) -> str:
    """Fiscal years 2023 and 2024 closed and declared, unpaid: 2100 holds 15,000.00 of each."""
    asha = member(api, "2023-04-01")
    buy(api, asha, 10_000, "2023-04-01")
    income(api, "100000.00", "2023-12-01")
    income(api, "100000.00")
    close(api, 2023)
    close(api, 2024)
    for fy in (2023, 2024):
        made = api.post(f"{DIV}/{fy}/declaration", FIFTEEN, role="board")
        assert made.status_code == 201, made.text
    book = accounts(api)
    assert (book["2100"], book["3100"], book["3900"]) == ("30000.00", "50000.00", "0.00")
    return asha


def society(session: Session) -> Society:
    found = get_society(session)
    assert found is not None
    return found


def test_a_close_while_another_is_being_written_is_409(live: LiveServer) -> None:
    api = live.api
    shareholder(api, 100)
    income(api, "1000.00")
    count = entries(api)
    second = meanwhile(live, f"{Y}/{FY}/close", "admin", lambda s: dividends.close_year(
        s, FY, society=society(s), actor="admin", clock=api.clock))
    assert entries(api) == count + 1
    assert accounts(api)["3900"] == "1000.00"
    is_problem(second, 409, "year-closed-already")


def test_a_declaration_while_another_is_being_written_is_409(live: LiveServer) -> None:
    api = live.api
    shareholder(api, 10_000)
    income(api, "100000.00")
    close(api)
    count = entries(api)
    second = meanwhile(
        live, f"{DIV}/{FY}/declaration", "board", lambda s: dividends.declare_dividend(
            s, FY, dividends.Request(Decimal("15")), society=society(s), resolution=None,
            actor="board1", clock=api.clock), FIFTEEN)
    book = accounts(api)
    assert (book["3900"], book["2100"], book["3100"]) == ("0.00", "15000.00", "25000.00")
    assert entries(api) == count + 1
    is_problem(second, 409, "dividend-state-conflict")


def test_a_payment_while_another_is_being_written_is_409(live: LiveServer) -> None:
    api = live.api
    asha = two_years_declared(api)
    count = entries(api)
    second = meanwhile(live, f"{DIV}/{FY}/payment", "clerk", lambda s: dividends.pay_dividend(
        s, FY, actor="clerk1", clock=api.clock))
    assert savings(api, asha) == "15000.00"
    assert accounts(api)["2100"] == "15000.00"  # 2023's, still to pay
    assert entries(api) == count + 1
    is_problem(second, 409, "dividend-state-conflict")


def test_a_cancellation_while_another_is_being_written_is_409(live: LiveServer) -> None:
    api = live.api
    two_years_declared(api)
    count = entries(api)
    second = meanwhile(
        live, f"{DIV}/{FY}/cancellation", "board", lambda s: dividends.cancel_dividend(
            s, FY, actor="board1", clock=api.clock))
    book = accounts(api)
    assert (book["3900"], book["2100"], book["3100"]) == ("100000.00", "15000.00", "25000.00")
    assert entries(api) == count + 1
    is_problem(second, 409, "dividend-state-conflict")


def test_her_dividend_statement_and_share_certificate_are_hers_alone(api: Api) -> None:
    """A member reads her own dividend statement and share certificate as PDFs; anyone
    else's is 404 to her; staff print them at the counter."""
    from coop import auth
    from tests.api.conftest import PASSWORD, TEST_PASSWORDS

    api.clock.instant = api.clock.now()
    mine, other = (api.post(f"{BASE}/members", {"joined_on": "2024-04-01"},
                            role="admin").json()["code"] for _ in range(2))
    for code in (mine, other):
        assert api.post(f"{BASE}/members/{code}/shares",
                        {"count": 100, "value_date": "2024-04-01"},
                        role="clerk").status_code == 201
    assert api.post(f"{BASE}/ledger/entries", {
        "value_date": "2024-12-01", "narration": "Grant", "postings": [
            {"account": "1000", "debit": "100000.00"},
            {"account": "4200", "credit": "100000.00"}]}).status_code == 201
    assert api.post(f"{BASE}/years/2024/close", {}).status_code == 201
    assert api.post(f"{BASE}/dividends/2024/declaration", {
        "dividend_rate": "10", "resolution": {"number": "AGM-2025/4", "date": "2025-06-28"}},
        role="board").status_code == 201
    api.db.write(lambda s: auth.create_user(
        s, username="her", password=PASSWORD, role="member", member_code=mine,
        passwords=TEST_PASSWORDS, clock=api.clock))
    token = api.client.post(f"{BASE}/auth/token",
                            json={"username": "her", "password": PASSWORD}).json()
    her = {"Authorization": f"Bearer {token['access_token']}"}
    for path in ("dividends/2024/statement.pdf", "share-certificate.pdf"):
        own = api.client.get(f"{BASE}/members/{mine}/{path}", headers=her)
        assert own.status_code == 200 and own.content.startswith(b"%PDF"), own.text
        assert api.client.get(f"{BASE}/members/{other}/{path}", headers=her).status_code == 404
        assert api.get(f"{BASE}/members/{other}/{path}", role="clerk").status_code == 200
    assert api.get(f"{BASE}/members/{mine}/dividends/2023/statement.pdf",
                   role="clerk").status_code == 404
    statement = pdf_text(api.get(f"{BASE}/members/{mine}/dividends/2024/statement.pdf",
                                 role="clerk").content)
    mine_line = next(line for line in api.get(f"{DIV}/2024", role="board").json()[
        "allocations"] if line["member_code"] == mine)
    for words in ("Dividend statement, year 2024", mine, "10 % a year",
                  f"{mine_line['total']} INR", "1 April 2024 to 31 March 2025",
                  "AGM-2025/4 of 28 June 2025", "declared on 30 June 2025, to be paid",
                  # 100 shares of 10.00 held all year, in plain words, not "x days"
                  "1,000.00 INR on average over the year, counted day by day"):
        assert words in statement, words
    assert "x days" not in statement
    certificate = pdf_text(api.get(f"{BASE}/members/{mine}/share-certificate.pdf",
                                   role="clerk").content)
    for words in ("Share certificate", mine, "Shares held on", "Worth 1,000.00 INR"):
        assert words in certificate, words
    assert re.search(r"Shares held on \d\d-\d\d-\d{4}\s+100\s", certificate), certificate
