"""The ledger through HTTP: post, read back, reverse, trial balance, verify, export; bad
input refused with a problem naming the field, and nothing written."""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, LiveServer

E = "/api/v1/ledger/entries"


def grant(amount: str = "5000.00") -> dict[str, Any]:
    return {"narration": "Grant received",
            "postings": [{"account": "1010", "debit": amount},
                         {"account": "4200", "credit": amount}]}


def entry_count(api: Api) -> int:
    return len(api.get(E, params={"limit": 500}).json()["items"])


def test_post_read_reverse_and_verify(api: Api) -> None:
    created = api.post(E, grant("5000"), key="k-1")
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["id"] == entry["seq"] == 1
    assert entry["value_date"] == "2025-06-30"
    assert entry["postings"] == [{"account": "1010", "debit": "5000.00"},
                                 {"account": "4200", "credit": "5000.00"}]
    assert len(entry["hash"]) == 64
    assert api.get(f"{E}/1").json() == entry

    reversal = api.post(f"{E}/1/reversal", {"reason": "posted to the wrong year"})
    assert reversal.status_code == 201, reversal.text
    assert reversal.json()["reversal_of"] == 1
    again = api.post(f"{E}/1/reversal", {"reason": "again"})
    assert again.status_code == 409
    assert again.json()["type"].endswith("already-reversed")

    tb = api.get("/api/v1/ledger/trial-balance").json()
    assert tb["total_debit"] == tb["total_credit"] == "0.00"
    verify = api.get("/api/v1/ledger/verify").json()
    assert verify["ok"] is True and verify["entries_checked"] == 2
    assert verify["chain_head"] == {"seq": 2, "hash": reversal.json()["hash"]}

    export = api.get("/api/v1/ledger/export", params={"format": "beancount"})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/plain")
    assert "Assets:1010-Bank  5000.00 INR" in export.text


def test_accounts_show_balances_signed_by_normal_side(api: Api) -> None:
    api.post(E, grant("120.50"))
    items = {a["code"]: a for a in api.get("/api/v1/ledger/accounts").json()["items"]}
    assert items["1010"]["balance"] == "120.50" and items["1010"]["type"] == "asset"
    assert items["4200"]["balance"] == "120.50" and items["4200"]["type"] == "income"
    assert items["2000"]["balance"] == "0.00"
    created = api.post("/api/v1/ledger/accounts",
                       {"code": "5300", "name": "Training", "type": "expense"})
    assert created.status_code == 201, created.text
    assert created.json()["balance"] == "0.00"
    assert api.post("/api/v1/ledger/accounts",
                    {"code": "5300", "name": "Again", "type": "expense"}).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"narration": "x", "postings": [{"account": "1010", "debit": "10.00"},
                                         {"account": "4200", "credit": "9.99"}]}, "postings"),
        ({"narration": "x", "postings": [{"account": "1010", "debit": "10.00"}]}, "postings"),
        ({"narration": "x", "postings": [{"account": "1010", "debit": "10.00"},
                                         {"account": "9999", "credit": "10.00"}]}, "postings"),
        ({"narration": "x", "postings": [{"account": "1010", "debit": 12.5},
                                         {"account": "4200", "credit": "12.50"}]},
         "postings.0.debit"),
        ({"narration": "x", "postings": [{"account": "1010", "debit": "1.234"},
                                         {"account": "4200", "credit": "1.234"}]},
         "postings[0].debit"),
        ({"narration": "x", "postings": [{"account": "1010", "debit": "-5"},
                                         {"account": "4200", "credit": "-5"}]},
         "postings[0].debit"),
        ({"narration": "x", "postings": [{"account": "1010", "debit": "0"},
                                         {"account": "4200", "credit": "0"}]},
         "postings[0].debit"),
        ({"narration": "x", "postings": [{"account": "1010", "debit": "99999999999999999"},
                                         {"account": "4200", "credit": "99999999999999999"}]},
         "postings[0].debit"),
        ({"narration": "x", "value_date": "2025-07-01", **{"postings": grant()["postings"]}},
         "value_date"),
        ({"narration": "x", "postings": [{"account": "1010", "debit": "1", "credit": "1"},
                                         {"account": "4200", "credit": "1"}]}, "postings.0"),
        ({**grant(), "surprise": True}, "surprise"),
    ],
    ids=["unbalanced", "one-posting", "unknown-account", "json-number", "three-decimals",
         "negative", "zero", "huge", "future-date", "both-sides", "unknown-field"],
)
def test_bad_entries_are_422_naming_the_field_and_write_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    response = api.post(E, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    assert entry_count(api) == 0


def test_closed_period_is_422(api: Api) -> None:
    from datetime import date

    from coop.ledger import close_through

    api.db.write(lambda s: close_through(s, date(2025, 3, 31), clock=api.clock))
    response = api.post(E, {**grant(), "value_date": "2025-03-31"})
    assert response.status_code == 422
    assert response.json()["type"].endswith("period-closed")
    assert entry_count(api) == 0


def test_idempotency_replays_and_refuses_a_different_body(api: Api) -> None:
    first = api.post(E, grant("10.00"), key="abc")
    second = api.post(E, grant("10.00"), key="abc")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.content == first.content
    assert second.headers.get("idempotent-replayed") == "true"
    other = api.post(E, grant("11.00"), key="abc")
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert entry_count(api) == 1
    assert api.post(E, grant("10.00"), key="x" * 256).status_code == 422


def test_eight_concurrent_identical_requests_make_one_entry(live: LiveServer) -> None:
    headers = {**live.api.headers("admin"), "Idempotency-Key": "same-key-8"}
    barrier = threading.Barrier(8)

    def call(_: int) -> httpx.Response:
        with httpx.Client(base_url=live.base_url, timeout=30) as client:
            barrier.wait()
            return client.post(E, json=grant("77.00"), headers=headers)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(call, range(8)))
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert entry_count(live.api) == 1
