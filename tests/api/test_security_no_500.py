"""Issue 15, finding 4: inputs that gave a 500. Each gets a 4xx problem (or, on the counter,
a page in words), and a small fuzzer sends odd values to every counter form field."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from litestar.testing import TestClient

from coop.api.counter.web import csrf_for
from coop.api.security import SESSION_COOKIE
from tests.api.conftest import Api
from tests.api.loan_helpers import BASE, borrower, make_board, product
from tests.api.test_counter_pages import Counter, counter  # noqa: F401 - the fixture
from tests.api.test_loans_api import active_loan as _active_loan

ODD = ("NaN", "nan", "Infinity", "-inf", "1e999", "abc", "", " ", "-1", "0",
       "99999999999999999999", "1,2,3", "१२३", "\u202e1", "1" * 400, "0x10", "1_000")


def active_loan(api: Api) -> int:
    product(api)
    return _active_loan(api, make_board(api), borrower(api))


def _post(client: TestClient, path: str, form: dict[str, str]) -> int:
    token = client.cookies.get(SESSION_COOKIE) or ""
    return client.post(path, data={"csrf": csrf_for(token), **form},
                       follow_redirects=False).status_code


def test_the_reported_inputs_are_4xx(api: Api) -> None:
    code = api.member_codes["member"]
    own = api.get(f"{BASE}/members/{code}/savings/transactions?from=0001-01-01",
                  role="member")
    assert own.status_code in (200, 422), own.text
    loan = active_loan(api)
    for path in (f"{BASE}/loans/{loan}?as_of=9999-12-31",
                 f"{BASE}/loans/{loan}/payoff?as_of=9999-12-31",
                 f"{BASE}/loans/{loan}?as_of=0001-01-01"):
        response = api.get(path)
        assert 400 <= response.status_code < 500, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    deep = "[" * 1000 + "]" * 1000
    nested = api.client.post(f"{BASE}/auth/token",
                             content='{"username": "x", "password": "y", "z": ' + deep + "}",
                             headers={"content-type": "application/json"})
    assert nested.status_code in (400, 422), nested.text
    raw = api.client.post(f"{BASE}/auth/token", content='{"a":' * 5000 + "1" + "}" * 5000,
                          headers={"content-type": "application/json"})
    assert 400 <= raw.status_code < 500, raw.text


def test_counter_forms_and_paths_answer_in_words(api: Api, counter: Counter,  # noqa: F811
                                                 figure: Callable[[str], None]) -> None:
    board, clerk = counter("board1"), counter("clerk1")
    loan = active_loan(api)
    code = api.member_codes["member"]
    cases = [(board, "/counter/board/dividends", {"year": "2025", "rate": "NaN"}),
             (board, "/counter/board/dividends", {"year": "2025", "rate": "10",
                                                  "rebate": "NaN"}),
             (board, f"/counter/board/loans/{loan}/vote", {"decision": "approve",
                                                          "reschedule": "abc"})]
    for client, path, form in cases:
        status = _post(client, path, form)
        assert 300 <= status < 500, (path, form, status)
    for path in ("/counter/loans/99999999999999999999/card.pdf",
                 "/counter/board/dividends/99999999999999999999/members.csv"):
        status = board.get(path).status_code if "dividends" in path else clerk.get(
            path).status_code
        assert 400 <= status < 500, (path, status)
    assert 400 <= _post(clerk, "/counter/loans/99999999999999999999/repayment",
                        {"amount": "1"}) < 500
    rng, sent = random.Random(15), 0
    forms = [(clerk, f"/counter/members/{code}/deposit", ("amount", "narration", "key")),
             (clerk, f"/counter/members/{code}/withdrawal", ("amount", "narration", "key")),
             (clerk, f"/counter/members/{code}/shares", ("count", "source", "key")),
             (clerk, f"/counter/loans/{loan}/repayment", ("amount", "confirm", "key")),
             (clerk, "/counter/register", ("known_as", "phone", "language")),
             (board, "/counter/board/dividends", ("year", "rate", "rebate", "declare")),
             (board, f"/counter/board/loans/{loan}/vote", ("decision", "note", "reschedule"))]
    for client, path, names in forms:
        for _ in range(12):
            form = {name: rng.choice(ODD) for name in names}
            status = _post(client, path, form)
            sent += 1
            assert status < 500, (path, form, status)
    figure(f"no 500s: the review's {len(cases) + 3} counter cases and {sent} fuzzed counter "
           "forms answered in words")


def test_every_date_in_a_query_at_the_calendars_ends_is_4xx_or_answered(
        api: Api, figure: Callable[[str], None]) -> None:
    """Every GET whose OpenAPI parameters include a date, sent the first and the last day a
    date can be (path parameters filled with existing ids)."""
    loan = active_loan(api)
    fill = {"code": api.member_codes["member"], "id": str(loan), "loan_id": str(loan),
            "fy": "2025", "username": "clerk1", "name": "balance-sheet"}
    document = api.get("/schema/openapi.json").json()
    probed = 0
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if not get:
            continue
        dates = [p["name"] for p in get.get("parameters", [])
                 if p.get("in") == "query" and "date" in json.dumps(p.get("schema", {}))]
        if not dates:
            continue
        url = path
        for key, value in fill.items():
            url = url.replace("{" + key + "}", value)
        for day in ("0001-01-01", "9999-12-31"):
            response = api.client.get(url, params=dict.fromkeys(dates, day),
                                      headers=api.headers("admin"))
            probed += 1
            assert response.status_code < 500, (url, day, response.text)
    figure(f"no 500s: {probed} GETs with dates at the calendar's ends")
    assert probed >= 6


def test_a_nul_character_in_a_query_is_not_a_500(api: Api) -> None:
    """Found by the stateful fuzzer on PostgreSQL, whose text cannot hold NUL."""
    for path in (f"{BASE}/ledger/accounts?member=h%00i", f"{BASE}/members/M-%00"):
        response = api.get(path)
        assert response.status_code < 500, (path, response.text)
