"""The auditor's pack through the real app: GET /api/v1/reports/audit-pack.zip?fy= for the
admin and the auditor (the board, clerks and members are refused), the same zip as the
service builds, the download in the audit trail, and a year not begun or before the book
refused in words; the counter's button gives the same zip, and a page in words when refused.
The business date is 30 June 2025: fiscal year 2024 has ended, 2025 is under way."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

import pytest

from coop import dividends
from coop.society import require_society
from tests.api.conftest import Api
from tests.api.test_counter_pages import Counter, counter  # noqa: F401 (fixture)

URL = "/api/v1/reports/audit-pack.zip"


def _year(api: Api) -> None:
    """A grant in fiscal year 2024, closed."""
    made = api.post("/api/v1/ledger/entries", {
        "value_date": "2024-12-01", "narration": "Grant",
        "postings": [{"account": "1010", "debit": "500.00"},
                     {"account": "4200", "credit": "500.00"}]})
    assert made.status_code == 201, made.text
    api.db.write(lambda s: dividends.close_year(s, 2024, society=require_society(s),
                                                actor="admin", clock=api.clock))


def _checked(content: bytes) -> zipfile.ZipFile:
    pack = zipfile.ZipFile(io.BytesIO(content))
    for line in pack.read("MANIFEST.txt").decode().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256(pack.read(name)).hexdigest() == digest, name
    return pack


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_the_admin_and_the_auditor_download_the_pack(api: Api, role: str) -> None:
    _year(api)
    response = api.get(URL, role=role, params={"fy": "2024"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert 'filename="audit-pack-2024.zip"' in response.headers["content-disposition"]
    pack = _checked(response.content)
    rows = pack.read("trial-balance.csv").decode().splitlines()
    assert "1010,Bank,asset,500.00,0.00" in rows and "3900,Current year surplus,equity," \
        "0.00,500.00" in rows
    again = api.get(URL, role=role, params={"fy": "2024"})
    assert again.content == response.content  # the same book, the same bytes
    trail = api.get("/api/v1/audit-events", params={"action": "GET "}).json()["items"]
    assert [i["action"] for i in trail] == [f"GET {URL}?fy=2024"] * 2
    assert {i["username"] for i in trail} == {"admin" if role == "admin" else "auditor1"}


@pytest.mark.parametrize("role", ["board", "clerk", "member"])
def test_other_roles_are_refused(api: Api, role: str) -> None:
    _year(api)
    assert api.get(URL, role=role, params={"fy": "2024"}).status_code == 403
    assert api.client.get(URL, params={"fy": "2024"}).status_code == 401


@pytest.mark.parametrize("fy, status, words", [
    ("2026", 422, "fiscal year 2026 has not begun"),
    ("2019", 404, "no entries in or before fiscal year 2019"),
    ("1800", 422, "fy"),
    ("twenty", 422, "fy"),
    (None, 422, "fy"),
])
def test_bad_years_are_problems_in_words(api: Api, fy: str | None, status: int,
                                         words: str) -> None:
    _year(api)
    response = api.get(URL, role="auditor", params={"fy": fy} if fy else {})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert words in response.text


def test_the_counter_button_downloads_the_same_pack(api: Api, counter: Counter) -> None:  # noqa: F811
    _year(api)
    auditor = counter("auditor1")
    books = auditor.get("/counter/audit")
    form = re.search(r'<form method="get" action="([^"]+)" id="audit-pack">.*?'
                     r'name="fy"[^>]*value="(\d+)"', books.text, re.S)
    assert form is not None and form.groups() == ("/counter/audit-pack.zip", "2024")
    download = auditor.get(form.group(1), params={"fy": form.group(2)})
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert download.content == api.get(URL, params={"fy": "2024"}).content
    refused = auditor.get("/counter/audit-pack.zip", params={"fy": "2026"})
    assert refused.status_code == 422 and "has not begun" in refused.text
    assert "<html" in refused.text
    assert 'id="audit-pack"' not in counter("board1").get("/counter/audit").text
    assert counter("board1").get("/counter/audit-pack.zip",
                                 params={"fy": "2024"}).status_code == 403
