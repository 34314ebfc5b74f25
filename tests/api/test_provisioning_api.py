"""Loan classification and provisioning through the API (CONTRACT.md Loans): the report by
class, the provisioning runs (201, the same day again 200, an earlier day 409, a closed year
or the future 422), the board's loss marks, the loans schedule with names only for those who
may read them (each read logged), and the run's entry refusing the general reversal.

One weekly loan of 5000.00 at 12 % is paid out on 30 June 2025 (first due 7 July) and never
repaid. On 7 October 2025 it is 92 days overdue: sub_standard, 5000.00 x 10 % = 500.00.
Marked a loss by the board it asks 5000.00 x 100 % = 5000.00.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from typing import Any

from sqlalchemy import func, select

from coop.auth import AuditRow
from coop.members import AccessLogRow
from tests.api.conftest import Api
from tests.api.loan_helpers import BASE, product
from tests.api.test_loans_api import at, is_problem
from tests.helpers import pdf_text

R = f"{BASE}/reports"
OVERDUE_ON = date(2025, 10, 7)
CLASSES = ["standard", "sub_standard", "doubtful_1", "doubtful_2", "doubtful_3", "loss"]


def paid_out_loan(api: Api, known_as: str | None = None) -> tuple[int, str]:
    """A member of long standing with 5000.00 saved and 10 shares, and her loan of 5000.00
    (one board approval needed) paid out into her savings."""
    body: dict[str, Any] = {"joined_on": "2024-01-01"}
    if known_as:
        body["known_as"] = known_as
    code = api.post(f"{BASE}/members", body).json()["code"]
    assert api.post(f"{BASE}/members/{code}/deposits", {"amount": "5000.00"},
                    role="clerk").status_code == 201
    assert api.post(f"{BASE}/members/{code}/shares", {"count": 10},
                    role="clerk").status_code == 201
    assert api.client.patch(f"{BASE}/society", json={"settings": {
        "loan_approvals_required": 1}}, headers=api.headers("admin")).status_code == 200
    loan_id = int(api.post(f"{BASE}/loans", {"member_code": code, "product": "WEEKLY",
                                             "principal": "5000.00"}, role="clerk").json()["id"])
    assert api.post(f"{BASE}/loans/{loan_id}/votes", {"decision": "approve"},
                    role="board").status_code == 201
    assert api.post(f"{BASE}/loans/{loan_id}/disbursement", {"to": "savings"},
                    role="clerk").status_code == 201
    return loan_id, code


def line(body: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(x for x in body["classes"] if x["class"] == name)
    return found


def test_the_classification_report(api: Api) -> None:
    product(api)
    paid_out_loan(api)
    at(api, date(2025, 10, 8))
    response = api.get(f"{R}/loan-classification", params={"as_of": OVERDUE_ON.isoformat()})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["as_of"] == "2025-10-07"
    assert [x["class"] for x in body["classes"]] == CLASSES
    assert line(body, "sub_standard") == {
        "class": "sub_standard", "loans": 1, "outstanding_principal": "5000.00",
        "provision_percent": "10", "provision": "500.00"}
    assert line(body, "standard") == {"class": "standard", "loans": 0,
                                      "outstanding_principal": "0.00",
                                      "provision_percent": "0.40", "provision": "0.00"}
    assert body["total_provision"] == "500.00"
    # 90 days on 5 October: standard, 0.40 % = 20.00
    early = api.get(f"{R}/loan-classification", params={"as_of": "2025-10-05"}).json()
    assert (line(early, "standard")["loans"], early["total_provision"]) == (1, "20.00")
    for role in ("board", "auditor"):
        assert api.get(f"{R}/loan-classification", role=role).status_code == 200
    for role in ("clerk", "member"):
        is_problem(api.get(f"{R}/loan-classification", role=role), 403)
    is_problem(api.get(f"{R}/loan-classification", params={"as_of": "2025-10-09"}), 422)
    is_problem(api.get(f"{R}/loan-classification", params={"as_of": "2025-13-01"}), 422)


def test_a_society_sets_the_percents(api: Api) -> None:
    response = api.client.patch(f"{BASE}/society", json={"settings": {
        "provision_sub_standard_percent": "12.5"}}, headers=api.headers("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["settings"]["provision_sub_standard_percent"] == "12.5"
    assert response.json()["settings"]["provision_standard_percent"] == "0.40"
    for bad in ("100.01", "0.125", "-1", "x"):
        refused = api.client.patch(f"{BASE}/society", json={"settings": {
            "provision_loss_percent": bad}}, headers=api.headers("admin"))
        is_problem(refused, 422)
    body = api.get(f"{R}/loan-classification").json()
    assert line(body, "sub_standard")["provision_percent"] == "12.5"


def test_provisioning_runs(api: Api) -> None:
    product(api)
    loan_id, _ = paid_out_loan(api)
    at(api, date(2025, 10, 8))
    day = {"as_of": OVERDUE_ON.isoformat()}
    is_problem(api.post(f"{R}/provisioning-runs", day, role="board"), 403)
    first = api.post(f"{R}/provisioning-runs", day)
    assert first.status_code == 201, first.text
    body = first.json()
    assert {k: body[k] for k in ("as_of", "required", "previous", "change")} == {
        "as_of": "2025-10-07", "required": "500.00", "previous": "0.00", "change": "500.00"}
    entry = api.get(f"{BASE}/ledger/entries/{body['entry_id']}").json()
    assert {(p["account"], p.get("debit"), p.get("credit")) for p in entry["postings"]} >= {
        ("5210", "500.00", None), ("1190", None, "500.00")}

    again = api.post(f"{R}/provisioning-runs", day)
    assert (again.status_code, again.json()) == (200, body)
    keyed = api.post(f"{R}/provisioning-runs", day, key="run-2025-10-07")
    assert (keyed.status_code, keyed.json()) == (200, body)
    replayed = api.post(f"{R}/provisioning-runs", day, key="run-2025-10-07")
    assert replayed.status_code == 200 and replayed.headers.get("Idempotent-Replayed") == "true"
    is_problem(api.post(f"{R}/provisioning-runs", {"as_of": "2025-10-08"},
                        key="run-2025-10-07"), 422)  # the same key with another body

    is_problem(api.post(f"{R}/provisioning-runs", {"as_of": "2025-10-06"}), 409)
    is_problem(api.post(f"{R}/provisioning-runs", {"as_of": "2025-10-09"}), 422)
    is_problem(api.post(f"{R}/provisioning-runs", {"as_of": "07/10/2025"}), 422)
    is_problem(api.post(f"{R}/provisioning-runs", {}), 422)

    # the provision falls once she has paid the loan off
    payoff = api.get(f"{BASE}/loans/{loan_id}/payoff").json()["total"]
    assert api.post(f"{BASE}/loans/{loan_id}/repayments",
                    {"amount": payoff, "source": "savings"}, role="clerk").status_code == 201
    later = api.post(f"{R}/provisioning-runs", {"as_of": "2025-10-08"})
    assert later.status_code == 201, later.text
    assert {k: later.json()[k] for k in ("required", "previous", "change")} == {
        "required": "0.00", "previous": "500.00", "change": "-500.00"}

    runs = api.get(f"{R}/provisioning-runs", role="auditor")
    assert runs.status_code == 200
    assert [r["as_of"] for r in runs.json()["items"]] == ["2025-10-08", "2025-10-07"]
    is_problem(api.get(f"{R}/provisioning-runs", role="clerk"), 403)
    accounts = {a["code"]: a for a in api.get(f"{BASE}/ledger/accounts").json()["items"]}
    assert accounts["1190"]["type"] == "asset" and accounts["1190"]["balance"] == "0.00"
    assert accounts["5210"]["type"] == "expense"
    assert api.get(f"{BASE}/ledger/verify").json()["ok"] is True


def test_a_closed_year_takes_no_run_and_the_entry_refuses_the_general_reversal(
        api: Api) -> None:
    product(api)
    paid_out_loan(api)
    at(api, date(2025, 10, 8))
    assert api.post(f"{BASE}/years/2024/close", None).status_code == 201
    is_problem(api.post(f"{R}/provisioning-runs", {"as_of": "2025-03-31"}), 422)
    entry_id = api.post(f"{R}/provisioning-runs", {"as_of": "2025-10-07"}).json()["entry_id"]
    refused = api.post(f"{BASE}/ledger/entries/{entry_id}/reversal", {"reason": "wrong"})
    is_problem(refused, 409)
    assert "provisioning run" in refused.json()["detail"]
    is_problem(api.post(f"{BASE}/corrections", {"entry_id": entry_id, "reason": "wrong"},
                        role="clerk"), 409)


def test_the_board_marks_a_loan_a_loss_and_reverses_it(api: Api) -> None:
    product(api)
    loan_id, _ = paid_out_loan(api)
    at(api, date(2025, 7, 10))
    path = f"{BASE}/loans/{loan_id}/loss-mark"
    for role in ("clerk", "auditor", "member"):
        is_problem(api.post(path, {"reason": "gone"}, role=role), 403)
    is_problem(api.post(path, {}, role="board"), 422)
    is_problem(api.post(path, {"reason": "gone", "on": "2025-07-11"}, role="board"), 422)
    is_problem(api.post(f"{BASE}/loans/999/loss-mark", {"reason": "gone"}, role="board"), 404)
    marked = api.post(path, {"reason": "Left the town", "on": "2025-07-08"}, role="board")
    assert marked.status_code == 201, marked.text
    assert marked.json() == {"loan_id": loan_id, "status": "marked", "marked_on": "2025-07-08",
                             "marked_by": "board1", "reversed_on": None, "reversed_by": None}
    is_problem(api.post(path, {"reason": "again"}, role="board"), 409)
    body = api.get(f"{R}/loan-classification").json()
    assert line(body, "loss") == {"class": "loss", "loans": 1, "outstanding_principal":
                                  "5000.00", "provision_percent": "100", "provision": "5000.00"}
    before = api.get(f"{R}/loan-classification", params={"as_of": "2025-07-07"}).json()
    assert line(before, "loss")["loans"] == 0

    reversed_ = api.post(f"{path}/reversal", {"reason": "She is back"}, role="admin")
    assert reversed_.status_code == 201, reversed_.text
    assert (reversed_.json()["status"], reversed_.json()["reversed_on"]) == (
        "reversed", "2025-07-10")
    is_problem(api.post(f"{path}/reversal", {"reason": "again"}, role="board"), 409)
    is_problem(api.post(f"{path}/reversal", {"reason": "x"}, role="clerk"), 403)
    assert line(api.get(f"{R}/loan-classification").json(), "loss")["loans"] == 0
    audit = api.db.read(lambda s: s.execute(select(func.count()).select_from(AuditRow).where(
        AuditRow.action.like(f"POST %/loans/{loan_id}/loss-mark%"))).scalar_one())
    assert audit == 2


def test_the_loans_schedule_by_member_number_and_names_only_for_some(api: Api) -> None:
    product(api)
    loan_id, code = paid_out_loan(api, known_as="Asha")
    at(api, date(2025, 10, 8))
    path = f"{R}/schedules/loans"
    response = api.get(path, role="auditor", params={"as_of": OVERDUE_ON.isoformat()})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "as_of": "2025-10-07",
        "items": [{"member_code": code, "known_as": None, "loan_id": loan_id,
                   "product": "WEEKLY", "disbursed_on": "2025-06-30",
                   "outstanding_principal": "5000.00", "days_overdue": 92,
                   "class": "sub_standard", "provision": "500.00"}],
        "total_outstanding_principal": "5000.00", "total_provision": "500.00"}

    def reads() -> int:
        return int(api.db.read(lambda s: s.execute(select(func.count()).select_from(
            AccessLogRow).where(AccessLogRow.reason == "loans schedule")).scalar_one()))

    assert reads() == 0
    named = api.get(path, role="board", params={"names": "true"})
    assert named.status_code == 200
    assert named.json()["items"][0]["known_as"] == "Asha"
    assert reads() == 1
    assert api.get(path, role="admin", params={"names": "true"}).status_code == 200
    assert reads() == 2
    assert api.get(path, role="admin").json()["items"][0]["known_as"] is None
    assert reads() == 2
    is_problem(api.get(path, role="auditor", params={"names": "true"}), 403)
    for role in ("clerk", "member"):
        is_problem(api.get(path, role=role), 403)
    is_problem(api.get(path, params={"as_of": "2025-10-09"}), 422)


def test_the_classification_and_the_loans_schedule_as_files(api: Api) -> None:
    """The same figures as the JSON, as CSV (the society's format), XLSX (numbers an
    auditor can add up) and PDF; names in the file only for admin and board, each read
    logged; an auditor asking for names is refused."""
    product(api)
    loan_id, code = paid_out_loan(api, known_as="Asha")
    at(api, date(2025, 10, 8))
    day = {"as_of": OVERDUE_ON.isoformat()}
    rows = list(csv.reader(io.StringIO(
        api.get(f"{R}/loan-classification.csv", role="auditor", params=day).text)))
    assert rows[0] == ["Class", "Loans", "Outstanding principal", "Provision percent",
                       "Provision"]
    assert ["Sub-standard", "1", "5,000.00", "10 %", "500.00"] in rows
    assert rows[-1] == ["Total", "1", "5,000.00", "", "500.00"]
    schedule = list(csv.reader(io.StringIO(
        api.get(f"{R}/schedules/loans.csv", role="auditor", params=day).text)))
    assert schedule[1] == [code, str(loan_id), "WEEKLY", "30-06-2025", "5,000.00", "92",
                           "Sub-standard", "500.00"]
    assert schedule[-1][0] == "Total, 1 loans" and schedule[-1][-1] == "500.00"
    with zipfile.ZipFile(io.BytesIO(api.get(f"{R}/schedules/loans.xlsx", role="auditor",
                                            params=day).content)) as book:
        assert "<v>5000.00</v>" in book.read("xl/worksheets/sheet1.xml").decode()
    text = pdf_text(api.get(f"{R}/loan-classification.pdf", params=day).content)
    assert "Loans by class" in text and "500.00" in text
    named = api.get(f"{R}/schedules/loans.pdf", role="board",
                    params={**day, "names": "true"})
    assert named.status_code == 200 and "Asha" in pdf_text(named.content)
    assert "Asha" not in pdf_text(api.get(f"{R}/schedules/loans.pdf", params=day).content)
    is_problem(api.get(f"{R}/schedules/loans.csv", role="auditor",
                       params={"names": "true"}), 403)
    for role in ("clerk", "member"):
        is_problem(api.get(f"{R}/loan-classification.xlsx", role=role), 403)
    is_problem(api.get(f"{R}/loan-classification.pdf", params={"as_of": "2025-10-09"}), 422)
