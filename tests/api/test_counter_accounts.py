"""The Accounts page on the counter (issue 19): admin, board and auditor see the three
statements, links to their files and the schedules, and the charts as inline SVG; a clerk is
refused; a bad day is the page again with the refusal beside its field."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_counter_pages import Counter, counter  # noqa: F401 (fixture)
from tests.api.test_statements_api import books  # noqa: F401 (fixture)


def test_the_accounts_page_shows_the_statements_and_charts(
        books: Api, counter: Counter) -> None:  # noqa: F811
    auditor = counter("auditor1")
    page = auditor.get("/counter/accounts/")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="total-liabilities-and-equity">₹1,03,850.00<' in html
    assert 'id="net-surplus">₹3,800.00<' in html  # 5,000.00 grant - 1,200.00 rent
    assert 'id="closing-cash">₹1,03,850.00<' in html
    for chart in ("savings", "shares", "income", "loans", "par30"):
        assert f'<svg class="chart" id="{chart}-chart"' in html
    assert "style=" not in html.split("<main>")[1]  # the CSP allows no inline style
    assert "names=true" not in html  # an auditor reads numbers only
    pdf = auditor.get("/counter/accounts/files/balance-sheet.pdf?as_of=2025-06-30")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    schedule = auditor.get("/counter/accounts/files/schedule-savings.csv")
    assert schedule.status_code == 200 and "1,00,000.00" in schedule.text
    assert auditor.get("/counter/accounts/files/schedule-savings.pdf?names=true"
                       ).status_code == 403
    assert auditor.get("/counter/accounts/files/nothing.pdf").status_code == 404
    assert "names=true" in counter("board1").get("/counter/accounts/").text


def test_a_bad_day_is_said_beside_its_field_and_a_clerk_is_refused(
        books: Api, counter: Counter) -> None:  # noqa: F811
    admin = counter("admin")
    page = admin.get("/counter/accounts/", params={"as_of": "2025-07-01"})
    assert page.status_code == 422
    assert 'id="as_of-error"' in page.text and "after the business date" in page.text
    backwards = admin.get("/counter/accounts/", params={"from": "2025-06-01",
                                                        "to": "2025-05-01"})
    assert backwards.status_code == 422 and 'id="from-error"' in backwards.text
    assert admin.get("/counter/accounts/", params={"as_of": "soon"}).status_code == 422
    assert counter("clerk1").get("/counter/accounts/").status_code == 403
