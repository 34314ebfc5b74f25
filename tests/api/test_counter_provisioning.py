"""The "Loans by class" page of the counter (admin, board, auditor): every class in words with
its loans, principal and provision on a chosen day, and the admin's button that books the
provision of that day (once: the same day again books nothing); a refusal in words.

The loan of tests/api/test_provisioning_api.py: 5000.00, 92 days overdue on 7 October 2025,
sub_standard, provision 500.00.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import unquote

from coop.ledger import queries
from tests.api.conftest import Api
from tests.api.loan_helpers import product
from tests.api.test_counter_pages import Counter, counter, fields  # noqa: F401
from tests.api.test_loans_api import at
from tests.api.test_provisioning_api import paid_out_loan

C = "/counter"


def test_loans_by_class_and_the_admins_button(api: Api, counter: Counter) -> None:  # noqa: F811
    product(api)
    paid_out_loan(api)
    at(api, date(2025, 10, 8))
    admin = counter("admin")
    shown = admin.get(f"{C}/loan-classification", params={"as_of": "2025-10-07"})
    assert shown.status_code == 200, shown.text
    html = shown.text
    assert "Loans by class on 7 October 2025" in html
    row = html[html.index('id="class-sub_standard"'):]
    row = row[:row.index("</tr>")]
    assert "Sub-standard" in row and "91 to 455 days overdue" in row
    assert "₹5,000.00" in row and "10&nbsp;%" in row and "₹500.00" in row
    assert 'id="total-provision">₹500.00<' in html
    assert "No provisioning run yet." in html
    assert 'href="/counter/loan-classification"' in html  # in the menu

    form = fields(html, "run-form")
    assert form["as_of"] == "2025-10-07"
    booked = admin.post(f"{C}/provisioning-runs", data=form, follow_redirects=False)
    assert booked.status_code == 303, booked.text
    assert "raised by ₹500.00" in unquote(booked.headers["location"])
    page = admin.get(booked.headers["location"])
    assert "The provision as of 7 October 2025 is ₹500.00: raised by ₹500.00." in page.text
    assert 'id="runs"' in page.text and "No provisioning run yet." not in page.text
    assert api.db.read(lambda s: queries.balance(s, "1190")) == -50_000

    again = admin.post(f"{C}/provisioning-runs", data=form, follow_redirects=False)
    assert "was booked already" in unquote(again.headers["location"])
    assert api.db.read(lambda s: queries.balance(s, "1190")) == -50_000

    earlier = admin.post(f"{C}/provisioning-runs", data={**form, "as_of": "2025-10-06"})
    assert earlier.status_code == 409
    assert "a provisioning run on 7 Oct 2025 stands already" in earlier.text
    later = admin.post(f"{C}/provisioning-runs", data={**form, "as_of": "2025-10-09"})
    assert later.status_code == 422 and "That day has not come yet." in later.text


def test_the_board_and_the_auditor_read_it_and_have_no_button(
        api: Api, counter: Counter) -> None:  # noqa: F811
    for username in ("board1", "auditor1"):
        page = counter(username).get(f"{C}/loan-classification")
        assert page.status_code == 200
        assert 'id="classes"' in page.text and 'id="run-form"' not in page.text
    clerk = counter("clerk1")
    assert clerk.get(f"{C}/loan-classification").status_code == 403
    board = counter("board1")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"',
                      board.get(f"{C}/loan-classification").text)
    assert token is not None  # the log-out form's: the board's session is good
    refused = board.post(f"{C}/provisioning-runs", data={"csrf": token.group(1),
                                                         "as_of": "2025-06-30"})
    assert refused.status_code == 403 and api.db.read(
        lambda s: queries.balance(s, "1190")) == 0
    bad = board.get(f"{C}/loan-classification", params={"as_of": "30-06-2025"})
    assert bad.status_code == 422 and "A date is written YYYY-MM-DD." in bad.text


def test_the_page_in_kannada(api: Api, counter: Counter) -> None:  # noqa: F811
    assert api.client.patch("/api/v1/society", json={"settings": {"language": "kn"}},
                            headers=api.headers("admin")).status_code == 200
    page = counter("auditor1").get(f"{C}/loan-classification")
    assert "ವರ್ಗವಾರು ಸಾಲಗಳು" in page.text and "ಸಂಶಯಾಸ್ಪದ 1" in page.text
