"""Issue 18: the board declares what it previewed, on the general body's resolution, with as
many board approvals as the society asks for.

* The preview's `preview_digest` is the same for the same figures and changes when any
  figure does; a declaration naming a digest its body's figures do not give is 409 and
  writes nothing, so a rate changed after the preview cannot be declared.
* The resolution is a number and a date, returned by GET and refused in words when wrong.
* With `dividend_approvals_required` 3 the declaration is pending (nothing posted, nothing
  to pay) until two more board members approve; the last approval posts the appropriation;
  a declaration that can no longer reach its approvals is rejected and may be made afresh;
  the admin withdraws a pending one.
* Two last votes at once declare once (SQLite and PostgreSQL).

The year is fiscal 2024 with 1,00,000.00 of surplus (see tests/api/test_dividends_api.py).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from tests.api.conftest import Api, LiveServer
from tests.api.loan_helpers import BASE, make_board
from tests.api.test_dividends_api import (
    DIV,
    FIFTEEN,
    FY,
    accounts,
    close,
    declare,
    entries,
    income,
    is_problem,
    pay,
    preview,
    settings,
    shareholder,
)
from tests.helpers import pdf_text

TWELVE = {"dividend_rate": "12"}
AGM = {"number": "AGM-2025/4", "date": "2025-06-28"}


def closed_year(api: Api) -> None:
    shareholder(api, 10_000)
    income(api, "100000.00")
    close(api)


def test_the_digest_names_the_figures(api: Api) -> None:
    closed_year(api)
    twelve = preview(api, TWELVE).json()["preview_digest"]
    assert len(twelve) == 64 and set(twelve) <= set("0123456789abcdef")
    assert preview(api, TWELVE, role="auditor").json()["preview_digest"] == twelve
    assert preview(api, {"dividend_rate": "12.00"}).json()["preview_digest"] == twelve
    others = {preview(api, body).json()["preview_digest"] for body in (
        FIFTEEN, {"dividend_rate": "12", "basis": "closing_register"},
        {"dividend_rate": "11.99"})}
    assert len(others) == 3 and twelve not in others


def test_a_changed_rate_is_refused_until_previewed_again(api: Api) -> None:
    closed_year(api)
    seen = preview(api, TWELVE).json()["preview_digest"]
    count = entries(api)
    changed = declare(api, {**FIFTEEN, "preview_digest": seen, "resolution": AGM})
    is_problem(changed, 409, "preview-changed")
    assert "preview again" in changed.json()["detail"]
    assert entries(api) == count
    is_problem(api.get(f"{DIV}/{FY}", role="board"), 404)
    again = preview(api, FIFTEEN).json()["preview_digest"]
    made = declare(api, {**FIFTEEN, "preview_digest": again, "resolution": AGM})
    assert made.status_code == 201, made.text
    assert made.json()["dividend"]["rate"] == "15" and made.json()["preview_digest"] == again
    assert entries(api) == count + 1


def test_the_resolution_is_a_number_and_a_date(api: Api) -> None:
    closed_year(api)
    count = entries(api)
    for resolution, field in (({"number": "", "date": "2025-06-28"}, "number"),
                              ({"number": "AGM", "date": "28-06-2025"}, "date"),
                              ({"number": "AGM", "date": "2025-07-01"}, "resolution_date"),
                              ({"number": "x" * 41, "date": "2025-06-28"}, "number"),
                              ({"number": "AGM\u202e1", "date": "2025-06-28"},
                               "resolution_number"),
                              ("AGM 2025, item 4", "resolution")):
        refused = declare(api, {**FIFTEEN, "resolution": resolution})
        is_problem(refused, 422)
        assert field in refused.text, refused.text
    assert entries(api) == count
    assert declare(api, {**FIFTEEN, "resolution": AGM}).status_code == 201
    shown = api.get(f"{DIV}/{FY}", role="auditor").json()
    assert shown["resolution"] == AGM


def _board_of_three(api: Api, required: int = 3) -> Any:
    board = make_board(api, seats=3)
    made = settings(api, board_seats=3, dividend_approvals_required=required)
    assert made.status_code == 200, made.text
    return board


def test_more_approvals_keep_it_pending_and_the_last_one_declares(api: Api) -> None:
    closed_year(api)
    board = _board_of_three(api)
    count, before = entries(api), accounts(api)
    body = {**FIFTEEN, "preview_digest": preview(api, FIFTEEN).json()["preview_digest"],
            "resolution": AGM}
    put = declare(api, body)
    assert put.status_code == 201, put.text
    assert (put.json()["status"], put.json()["approvals"], put.json()["approvals_required"]
            ) == ("pending", 1, 3)
    assert put.json()["appropriation_entry_id"] is None
    assert entries(api) == count and accounts(api) == before  # nothing posted
    verified = api.get(f"{BASE}/ledger/verify", role="auditor").json()
    assert verified["ok"], verified  # a pending declaration has nothing to reconcile yet
    is_problem(pay(api), 409, "dividend-state-conflict")
    is_problem(declare(api, body), 409, "dividend-state-conflict")  # one live declaration
    is_problem(board.post("board1", f"{DIV}/{FY}/declaration/votes",
                          {"decision": "approve"}), 409, "already-voted")

    second = board.post("board2", f"{DIV}/{FY}/declaration/votes",
                        {"decision": "approve", "note": "as the AGM resolved"})
    assert second.status_code == 201, second.text
    assert second.json() == {"fiscal_year": FY, "status": "pending", "approvals": 2,
                             "rejections": 0, "required": 3}
    assert entries(api) == count
    last = board.post("board3", f"{DIV}/{FY}/declaration/votes", {"decision": "approve"})
    assert last.status_code == 201, last.text
    assert last.json()["status"] == "declared"
    assert entries(api) == count + 1
    assert accounts(api)["2100"] == "15000.00" and accounts(api)["3900"] == "0.00"
    shown = api.get(f"{DIV}/{FY}", role="auditor").json()
    assert (shown["status"], shown["approvals"], shown["resolution"]) == ("declared", 3, AGM)
    votes = api.get(f"{DIV}/{FY}/declaration/votes", role="auditor").json()["items"]
    assert [(v["voter"], v["decision"]) for v in votes] == [
        ("board1", "approve"), ("board2", "approve"), ("board3", "approve")]
    is_problem(board.post("board2", f"{DIV}/{FY}/declaration/votes",
                          {"decision": "approve"}), 409, "dividend-state-conflict")
    assert pay(api).status_code == 201


def test_a_rejected_declaration_may_be_made_afresh(api: Api) -> None:
    closed_year(api)
    board = _board_of_three(api)
    count = entries(api)
    assert declare(api, FIFTEEN).json()["status"] == "pending"
    refused = board.post("board2", f"{DIV}/{FY}/declaration/votes", {"decision": "reject"})
    assert refused.status_code == 201, refused.text
    assert refused.json()["status"] == "rejected"  # 3 seats, 1 rejection: 3 can't be reached
    assert api.get(f"{DIV}/{FY}", role="board").json()["status"] == "rejected"
    assert entries(api) == count
    again = declare(api, TWELVE)
    assert again.status_code == 201 and again.json()["status"] == "pending"
    assert again.json()["approvals"] == 1  # the votes on the rejected one do not count


def test_the_admin_withdraws_a_pending_declaration(api: Api) -> None:
    closed_year(api)
    _board_of_three(api)
    count = entries(api)
    assert declare(api, FIFTEEN).json()["status"] == "pending"
    for role in ("clerk", "auditor", "member"):
        is_problem(api.post(f"{DIV}/{FY}/cancellation", None, role=role), 403)
    withdrawn = api.post(f"{DIV}/{FY}/cancellation", None, role="admin")
    assert withdrawn.status_code == 201, withdrawn.text
    assert withdrawn.json() == {"fiscal_year": FY, "status": "cancelled",
                                "cancellation_entry_id": None}
    assert entries(api) == count
    assert declare(api, FIFTEEN).status_code == 201


def test_a_declared_dividend_needs_a_seat_to_vote_on(api: Api) -> None:
    closed_year(api)
    _board_of_three(api, required=2)
    assert declare(api, FIFTEEN).status_code == 201
    for role in ("admin", "clerk", "auditor", "member"):
        is_problem(api.post(f"{DIV}/{FY}/declaration/votes", {"decision": "approve"},
                            role=role), 403)
    is_problem(api.post(f"{DIV}/{FY}/declaration/votes", {"decision": "maybe"},
                        role="board"), 422)


def test_two_last_votes_at_once_declare_once(live: LiveServer) -> None:
    """board1 puts it forward (1 of 2); board2 and board3 approve at the same moment: one
    of them declares it, the other is told it is declared already; one entry is posted."""
    api = live.api
    closed_year(api)
    board = _board_of_three(api, required=2)
    assert declare(api, FIFTEEN).json()["status"] == "pending"
    count = entries(api)
    start = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def vote(username: str) -> None:
        headers = {"Authorization": f"Bearer {board.tokens[username]}"}
        with httpx.Client(base_url=live.base_url, headers=headers, timeout=60) as client:
            start.wait()
            answers[username] = client.post(f"{DIV}/{FY}/declaration/votes",
                                            json={"decision": "approve"})

    threads = [threading.Thread(target=vote, args=(name,)) for name in ("board2", "board3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    codes = sorted(answer.status_code for answer in answers.values())
    assert codes == [201, 409], {name: a.text for name, a in answers.items()}
    won = next(a for a in answers.values() if a.status_code == 201)
    assert won.json()["status"] == "declared" and won.json()["approvals"] == 2
    lost = next(a for a in answers.values() if a.status_code == 409)
    assert lost.json()["type"] == "urn:coop:problem:dividend-state-conflict"
    assert entries(api) == count + 1
    assert accounts(api)["2100"] == "15000.00"
    shown = api.get(f"{DIV}/{FY}", role="board").json()
    assert (shown["status"], shown["approvals"]) == ("declared", 2)


def test_the_statement_prints_the_resolution_and_the_dates_in_words(api: Api) -> None:
    """pdftotext of her statement: the year by its dates, the general body's resolution by
    number and date, when it was declared and paid; nothing while it waits for the board."""
    asha = shareholder(api, 10_000)
    income(api, "100000.00")
    close(api)
    board = _board_of_three(api, required=2)
    assert declare(api, {**FIFTEEN, "resolution": AGM}).json()["status"] == "pending"
    statement = f"{BASE}/members/{asha}/dividends/{FY}/statement.pdf"
    is_problem(api.get(statement, role="clerk"), 404)  # nothing declared yet
    assert board.post("board2", f"{DIV}/{FY}/declaration/votes",
                      {"decision": "approve"}).json()["status"] == "declared"
    assert pay(api).status_code == 201
    text = " ".join(pdf_text(api.get(statement, role="clerk").content).split())  # any wrapping
    for words in ("1 April 2024 to 31 March 2025", "AGM-2025/4 of 28 June 2025",
                  "declared on 30 June 2025, paid into savings on 30 June 2025",
                  "15,000.00 INR at 15 % a year", "1,00,000.00 INR on average over the year"):
        assert words in text, (words, text)
    spanish = pdf_text(api.get(statement, role="clerk", params={"language": "es"}).content)
    for words in ("Del 1 de abril de 2024 al 31 de marzo de 2025",
                  "AGM-2025/4 del 28 de junio de 2025", "abonado al ahorro el 30 de junio"):
        assert words in " ".join(spanish.split()), (words, spanish)


def test_the_auditors_summary_names_the_funds_and_the_resolution(api: Api) -> None:
    closed_year(api)
    made = declare(api, {**FIFTEEN, "resolution": AGM})
    text = pdf_text(api.get(f"{DIV}/{FY}/report.pdf", role="auditor").content)
    for words in ("Statutory reserve fund (25 %, 3100)", "Education fund (1 %, 3110)",
                  "Reserve for unforeseen losses (10 %, 3120)",
                  "General body resolution: AGM-2025/4 of 2025-06-28",
                  made.json()["preview_digest"][:40]):
        assert words in " ".join(text.split()), (words, text)
