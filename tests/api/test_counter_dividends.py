"""The dividend pages without JavaScript (issue 18), through an HTTP client.

* A year not closed, and a year closed with a loss, say so and why nothing can be declared,
  and offer no preview.
* The confirmation is refused without the general body's resolution (in words, next to the
  box, nothing written); declaring names the digest, so a form whose hidden rate was altered
  after the confirmation is refused too.
* Who sees what: the auditor previews but never declares; the clerk sees the declared
  figures and pays; only the admin cancels; the board votes on a pending declaration.
"""

from __future__ import annotations

import re

from tests.api.conftest import Api
from tests.api.test_counter_pages import Counter, counter, fields  # noqa: F401 (fixture)
from tests.api.test_dividends_api import (
    DIV,
    FY,
    close,
    entries,
    expense,
    income,
    settings,
    shareholder,
)

C = "/counter/dividends"


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def test_a_year_not_closed_and_a_loss_year_say_why(api: Api, counter: Counter) -> None:  # noqa: F811
    shareholder(api, 100)
    expense(api, "500.00")
    board = counter("board1")
    page = board.get(C, params={"fy": str(FY)})
    assert page.status_code == 200 and 'id="not-closed"' in page.text
    assert 'id="rate"' not in page.text
    close(api)
    page = board.get(C, params={"fy": str(FY)})
    assert 'id="loss"' in page.text and 'id="rate"' not in page.text
    assert "The year closed with a loss of ₹500.00." in page.text
    assert "nothing can be declared for this year" in page.text
    assert f'<option value="{FY}" selected>{FY}-{(FY + 1) % 100:02d}</option>' in page.text


def _preview_and_confirm(board: object, rate: str = "10") -> str:
    form = board.get(C, params={"fy": str(FY)})  # type: ignore[attr-defined]
    token = csrf(form.text)
    shown = board.post(C, data={"csrf": token, "fy": str(FY), "rate": rate})  # type: ignore[attr-defined]
    digest = fields(shown.text, "preview-form")["digest"]
    confirm = board.post(C, data={"csrf": token, "fy": str(FY), "rate": rate,  # type: ignore[attr-defined]
                                  "digest": digest, "step": "confirm"})
    assert confirm.status_code == 200 and 'id="confirm-form"' in confirm.text
    return str(confirm.text)


def test_the_confirmation_needs_the_resolution_and_the_previewed_figures(
        api: Api, counter: Counter) -> None:  # noqa: F811
    shareholder(api, 10_000)
    income(api, "100000.00")
    close(api)
    board = counter("board1")
    confirm = fields(_preview_and_confirm(board), "confirm-form")
    count = entries(api)
    bare = board.post(C, data={**confirm, "step": "declare"})
    assert bare.status_code == 422 and 'id="resolution_number-error"' in bare.text
    assert "Write the number of the general body&#39;s resolution." in bare.text
    assert 'id="confirm-form"' in bare.text  # asked again, the totals repeated
    bad_day = board.post(C, data={**confirm, "step": "declare", "resolution_number": "GB-7",
                                  "resolution_date": "2025-07-01"})
    assert bad_day.status_code == 422 and "That day has not come yet." in bad_day.text
    altered = board.post(C, data={**confirm, "rate": "15", "step": "declare",
                                  "resolution_number": "GB-7",
                                  "resolution_date": "2025-06-28"})
    assert altered.status_code == 409 and 'id="digest-error"' in altered.text
    assert entries(api) == count
    assert api.get(f"{DIV}/{FY}", role="board").status_code == 404
    done = board.post(C, data={**confirm, "step": "declare", "resolution_number": "GB-7",
                               "resolution_date": "2025-06-28"}, follow_redirects=False)
    assert done.status_code == 303
    assert api.get(f"{DIV}/{FY}", role="board").json()["resolution"] == {
        "number": "GB-7", "date": "2025-06-28"}
    again = board.post(C, data={**confirm, "step": "declare", "resolution_number": "GB-7",
                                "resolution_date": "2025-06-28"})
    assert again.status_code == 409 and "declared already" in again.text
    assert entries(api) == count + 1


def test_who_sees_which_button(api: Api, counter: Counter) -> None:  # noqa: F811
    shareholder(api, 10_000)
    income(api, "100000.00")
    close(api)
    auditor = counter("auditor1")
    shown = auditor.post(C, data={"csrf": csrf(auditor.get(C).text), "fy": str(FY),
                                  "rate": "10"})
    assert 'id="preview"' in shown.text and 'id="declare"' not in shown.text
    sneaky = auditor.post(C, data={"csrf": csrf(shown.text), "fy": str(FY), "rate": "10",
                                   "step": "declare", "digest": "0" * 64})
    assert sneaky.status_code == 200 and 'id="confirm-form"' not in sneaky.text
    assert api.get(f"{DIV}/{FY}", role="board").status_code == 404  # previews, never declares

    assert settings(api, board_seats=3, dividend_approvals_required=2).status_code == 200
    board = counter("board1")
    confirm = fields(_preview_and_confirm(board), "confirm-form")
    board.post(C, data={**confirm, "step": "declare", "resolution_number": "GB-7",
                        "resolution_date": "2025-06-28"})
    pending = board.get(C, params={"fy": str(FY)}).text
    assert "Waiting for the board: 1 of 2 approvals." in pending
    assert 'id="vote-form"' in pending and 'id="pay"' not in pending
    again = board.post(f"{C}/{FY}/vote", data={"csrf": csrf(pending), "decision": "approve"})
    assert again.status_code == 409 and "has voted on this already" in again.text

    clerk = counter("clerk1")
    seen = clerk.get(C, params={"fy": str(FY)})
    assert seen.status_code == 200 and 'id="rate"' not in seen.text
    assert 'id="pay"' not in seen.text and 'id="cancel"' not in seen.text  # pending
    admin = counter("admin")
    page = admin.get(C, params={"fy": str(FY)}).text
    assert 'id="cancel"' in page and 'id="vote-form"' not in page
    withdrawn = admin.post(f"{C}/{FY}/cancellation", data={"csrf": csrf(page)},
                           follow_redirects=True)
    assert f"Dividend for {FY} cancelled." in withdrawn.text
    assert 'id="earlier"' in withdrawn.text and 'id="rate"' in withdrawn.text  # afresh

    assert settings(api, dividend_approvals_required=1).status_code == 200
    confirm = fields(_preview_and_confirm(board), "confirm-form")
    board.post(C, data={**confirm, "step": "declare", "resolution_number": "GB-8",
                        "resolution_date": "2025-06-29"})
    page = clerk.get(C, params={"fy": str(FY)}).text
    assert 'id="pay"' in page and 'id="cancel"' not in page
    assert clerk.post(f"{C}/{FY}/cancellation",
                      data={"csrf": csrf(page)}).status_code == 403
    paid = clerk.post(f"{C}/{FY}/payment", data={"csrf": csrf(page)}, follow_redirects=True)
    assert f"Dividend for {FY} paid into members&#39; savings: 1 payments." in paid.text
    assert api.get(f"{DIV}/{FY}", role="board").json()["status"] == "paid"
    twice = clerk.post(f"{C}/{FY}/payment", data={"csrf": csrf(page)})
    assert twice.status_code == 409 and 'id="pay-error"' in twice.text


def test_refusals_are_in_the_societys_language(api: Api, counter: Counter) -> None:  # noqa: F811
    """A rate above the cap, and a pool above the distributable surplus, refused in Spanish
    with the amounts as the locale writes them."""
    shareholder(api, 100_000)  # 10,00,000.00 of shares
    income(api, "1000.00")
    close(api)  # distributable 640.00
    assert settings(api, language="es").status_code == 200
    board = counter("board1")
    token = csrf(board.get(C, params={"fy": str(FY)}).text)
    high = board.post(C, data={"csrf": token, "fy": str(FY), "rate": "16"})
    assert high.status_code == 422
    assert "la tasa no puede superar el tope de dividendo, 15 %" in high.text
    big = board.post(C, data={"csrf": token, "fy": str(FY), "rate": "1"})
    assert big.status_code == 422
    assert ("el dividendo y la devolución (₹10,000.00) superan el excedente repartible "
            "(₹640.00)") in big.text
