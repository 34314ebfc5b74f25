"""The annual statements through the real app (issue 19): each route as JSON, CSV, XLSX and
PDF, the roles that may read them, names in the schedules for admin and board only (and
logged), and bad dates as 422 problems."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from sqlalchemy import func, select

from coop.members import AccessLogRow
from tests.api.conftest import Api
from tests.helpers import pdf_text

BASE = "/api/v1/reports"
STATEMENTS = ("balance-sheet", "income-expenditure", "receipts-payments")
SCHEDULES = ("schedules/savings", "schedules/share-capital")
GRANT = {"narration": "Grant received", "postings": [{"account": "1010", "debit": "5000.00"},
                                                    {"account": "4200", "credit": "5000.00"}]}
COSTS = {"narration": "Rent", "postings": [{"account": "5100", "debit": "1200.00"},
                                          {"account": "1000", "credit": "1200.00"}]}


@pytest.fixture
def books(api: Api) -> Api:
    return seed(api)


def seed(api: Api) -> Api:
    """The business date is 30 June 2025 (fiscal year 2025 began 1 April): a member saves
    100000.00 and buys 5 shares; a grant of 5000.00 to the bank; 1200.00 of rent in cash."""
    code = api.member_codes["member"]
    assert api.post(f"/api/v1/members/{code}/deposits",
                    {"amount": "100000.00", "confirm_large_amount": True},
                    role="clerk").status_code == 201
    assert api.post(f"/api/v1/members/{code}/shares", {"count": 5, "source": "cash"},
                    role="clerk").status_code == 201
    for body in (GRANT, COSTS):
        assert api.post("/api/v1/ledger/entries", body).status_code == 201
    return api


def test_the_balance_sheet_balances_with_the_year_so_far_as_one_line(books: Api) -> None:
    body = books.get(f"{BASE}/balance-sheet", role="auditor").json()
    assert body["as_of"] == "2025-06-30" and body["previous_as_of"] == "2025-03-31"
    assets = {line["account"]: line["amount"] for line in body["assets"]}
    # cash 100,000.00 + 50.00 - 1,200.00 = 98,850.00; bank 5,000.00
    assert assets == {"1000": "98850.00", "1010": "5000.00"}
    equity = {line["account"]: line["amount"] for line in body["equity"]}
    assert equity == {"3000": "50.00", "current-year-surplus": "3800.00"}
    assert body["total_assets"] == body["total_liabilities_and_equity"] == "103850.00"
    assert body["previous_total_assets"] == "0.00"
    assert all(line["previous_amount"] == "0.00" for line in body["assets"])


def test_income_expenditure_and_receipts_payments_default_to_the_year_so_far(
        books: Api) -> None:
    body = books.get(f"{BASE}/income-expenditure", role="board").json()
    assert (body["from"], body["to"]) == ("2025-04-01", "2025-06-30")
    assert (body["previous_from"], body["previous_to"]) == ("2024-04-01", "2024-06-30")
    assert body["income"] == [{"account": "4200", "name": "Grants and other income",
                               "amount": "5000.00", "previous_amount": "0.00", "less": None}]
    assert (body["total_income"], body["total_expenditure"], body["net_surplus"]) == (
        "5000.00", "1200.00", "3800.00")
    cash = books.get(f"{BASE}/receipts-payments", params={"from": "2025-06-01"}).json()
    assert (cash["from"], cash["opening_cash"], cash["closing_cash"]) == (
        "2025-06-01", "0.00", "103850.00")
    assert {line["account"]: line["amount"] for line in cash["receipts"]} == {
        "2000": "100000.00", "3000": "50.00", "4200": "5000.00"}
    assert {line["account"]: line["amount"] for line in cash["payments"]} == {
        "5100": "1200.00"}


@pytest.mark.parametrize("name", STATEMENTS + SCHEDULES)
def test_every_statement_as_csv_xlsx_and_pdf(books: Api, name: str) -> None:
    csv_answer = books.get(f"{BASE}/{name}.csv", role="auditor")
    assert csv_answer.status_code == 200, csv_answer.text
    assert csv_answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_answer.text)))
    assert len(rows) >= 2
    xlsx = books.get(f"{BASE}/{name}.xlsx", role="auditor")
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
        assert "xl/worksheets/sheet1.xml" in book.namelist()
        strings = book.read("xl/sharedStrings.xml").decode()
        assert rows[0][0] in strings or "Member" in strings
    pdf = books.get(f"{BASE}/{name}.pdf", role="auditor")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    assert "Test Society" in text
    assert re.search(r"Page 1 of \d", text)


def test_the_balance_sheet_files_say_what_the_json_says(books: Api) -> None:
    rows = list(csv.reader(io.StringIO(books.get(f"{BASE}/balance-sheet.csv").text)))
    assert rows[0] == ["Particulars", "As at 30-06-2025", "As at 31-03-2025"]
    assert ["1000 Cash on hand", "98,850.00", "0.00"] in rows  # the society's format (en_IN)
    assert ["Total liabilities and members' funds", "1,03,850.00", "0.00"] in rows
    text = pdf_text(books.get(f"{BASE}/balance-sheet.pdf").content)
    assert "Balance sheet" in text and "As at 30-06-2025" in text
    assert "1,03,850.00" in text
    assert "Income and expenditure by month" in text  # the charts page
    with zipfile.ZipFile(io.BytesIO(books.get(f"{BASE}/balance-sheet.xlsx").content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<v>103850.00</v>" in sheet  # a number an auditor can add up, not text


def test_schedules_by_member_number_and_names_only_for_admin_and_board(books: Api) -> None:
    code = books.member_codes["member"]
    body = books.get(f"{BASE}/schedules/savings", role="auditor").json()
    assert body["lines"] == [{"member_code": code, "amount": "100000.00", "shares": None,
                              "name": None}]
    assert body["total"] == "100000.00" and body["members"] == 1
    shares = books.get(f"{BASE}/schedules/share-capital", role="board").json()
    assert shares["lines"][0]["shares"] == 5 and shares["total"] == "50.00"

    def logged() -> int:
        return books.db.read(lambda s: s.execute(select(func.count()).select_from(
            AccessLogRow)).scalar_one())

    before = logged()
    refused = books.get(f"{BASE}/schedules/savings", role="auditor", params={"names": "true"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert logged() == before
    named = books.get(f"{BASE}/schedules/savings", params={"names": "true"})
    assert named.status_code == 200, named.text
    # the member user has no known-as name: nothing to read, nothing logged
    assert named.json()["lines"][0]["name"] is None


@pytest.mark.parametrize("path", [f"{name}{suffix}" for name in STATEMENTS + SCHEDULES
                                  for suffix in ("", ".csv", ".xlsx", ".pdf")])
def test_member_and_clerk_are_refused(books: Api, path: str) -> None:
    for role in ("member", "clerk"):
        assert books.get(f"{BASE}/{path}", role=role).status_code == 403


@pytest.mark.parametrize(("path", "params", "field"), [
    ("balance-sheet", {"as_of": "2025-13-01"}, None),
    ("balance-sheet", {"as_of": "yesterday"}, None),
    ("balance-sheet.pdf", {"as_of": "2025-07-01"}, "as_of"),  # after the business date
    ("income-expenditure", {"from": "2025-06-01", "to": "2025-05-01"}, "from"),
    ("receipts-payments.csv", {"from": "1899-12-31", "to": "2025-05-01"}, "from"),
    ("receipts-payments", {"to": "2026-01-01"}, "to"),
    ("schedules/savings.xlsx", {"as_of": "2025-02-30"}, None),
])
def test_bad_dates_are_422_problems(books: Api, path: str, params: dict[str, str],
                                    field: str | None) -> None:
    response = books.get(f"{BASE}/{path}", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if field is not None:
        assert field in response.text
