"""Tills through the real app (CONTRACT.md: Tills), on SQLite and on PostgreSQL.

A clerk opens her till with a float from the safe, takes a deposit (it counts in her till),
counts it short and closes; she cannot approve her own difference, an admin does, once. Two
clerks closing at once both close; two approvers of one difference at once post it once.
`require_open_till` refuses cash from a clerk with no open till (422 till-not-open).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from coop import auth, registers
from coop.ledger import queries
from coop.ledger.orm import entry_table
from coop.ledger.verify import verify
from tests.api.conftest import PASSWORD, TEST_PASSWORDS, Api, LiveServer

BASE = "/api/v1"
T = f"{BASE}/tills"


def _member(api: Api) -> str:
    made = api.post(f"{BASE}/members", {"known_as": "Asha"}, role="clerk")
    assert made.status_code == 201, made.text
    return str(made.json()["code"])


def _fund_safe(api: Api, code: str, amount: str = "5000.00") -> None:
    """Cash into the safe: a deposit taken by the admin, who has no till open."""
    paid = api.post(f"{BASE}/members/{code}/deposits", {"amount": amount}, role="admin")
    assert paid.status_code == 201, paid.text


def _clean(api: Api) -> None:
    assert api.db.read(lambda s: verify(s)).ok
    assert api.db.read(registers.reconcile_registers) == []


def _token(api: Api, username: str, role: str = "clerk") -> dict[str, str]:
    api.db.write(lambda s: auth.create_user(s, username=username, password=PASSWORD, role=role,
                                            member_code=None, passwords=TEST_PASSWORDS,
                                            clock=api.clock))
    got = api.client.post(f"{BASE}/auth/token",
                          json={"username": username, "password": PASSWORD})
    assert got.status_code == 200, got.text
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


def test_a_till_from_float_to_approved_shortage(api: Api) -> None:
    code = _member(api)
    _fund_safe(api, code)
    opened = api.post(T, {"opening_float": "1000.00"}, role="clerk")
    assert opened.status_code == 201, opened.text
    till = opened.json()
    assert till == {"id": till["id"], "status": "open", "user": "clerk1",
                    "opening_float": "1000.00"}
    again = api.post(T, {"opening_float": "0"}, role="clerk")
    assert again.status_code == 409 and again.json()["type"].endswith("till-already-open")
    assert api.post(f"{BASE}/members/{code}/deposits", {"amount": "750.00"},
                    role="clerk").status_code == 201
    assert api.post(f"{BASE}/members/{code}/withdrawals", {"amount": "100.00"},
                    role="clerk").status_code == 201
    seen = api.get(f"{T}/{till['id']}", role="clerk").json()
    assert (seen["cash_in"], seen["cash_out"], seen["expected"]) == ("750.00", "100.00",
                                                                     "1650.00")
    assert api.get(f"{T}/{till['id']}", role="auditor").status_code == 200
    assert api.get(f"{T}/{till['id']}", role="member").status_code == 403
    day = api.get(T, role="board", params={"on": "2025-06-30"}).json()
    assert (day["safe"], day["tills_expected"]) == ("4000.00", "1650.00")
    assert api.get(T, role="clerk").status_code == 403
    closed = api.post(f"{T}/{till['id']}/close",
                      {"counted": "1630.00", "denominations": {"500": 3, "100": 1, "20": 1,
                                                               "10": 1}}, role="clerk")
    assert closed.status_code == 201, closed.text
    assert closed.json() == {"expected": "1650.00", "counted": "1630.00",
                             "variance": "-20.00", "status": "variance_pending"}
    assert api.post(f"{T}/{till['id']}/close", {"counted": "1"},
                    role="clerk").status_code == 409
    assert api.post(f"{T}/{till['id']}/variance-approval", None,
                    role="clerk").status_code == 403
    approved = api.post(f"{T}/{till['id']}/variance-approval", None, role="board")
    assert approved.status_code == 201, approved.text
    assert approved.json()["status"] == "closed"
    twice = api.post(f"{T}/{till['id']}/variance-approval", None, role="admin")
    assert twice.status_code == 409 and twice.json()["type"].endswith("variance-not-pending")
    assert api.db.read(lambda s: queries.balance(s, "5400")) == 2_000
    assert api.db.read(lambda s: queries.balance(s, "1000")) == 563_000
    assert api.get(f"{BASE}/ledger/trial-balance").status_code == 200
    _clean(api)


def test_no_one_approves_her_own_difference(api: Api) -> None:
    _fund_safe(api, _member(api))
    till = api.post(T, {"opening_float": "100.00"}).json()  # the admin's own till
    assert api.post(f"{T}/{till['id']}/close", {"counted": "99.00"}).status_code == 201
    own = api.post(f"{T}/{till['id']}/variance-approval", None)
    assert own.status_code == 403 and own.json()["type"].endswith("own-till")
    assert api.post(f"{T}/{till['id']}/variance-approval", None,
                    role="board").status_code == 201


def test_bad_input_is_a_problem_not_a_500(api: Api) -> None:
    _fund_safe(api, _member(api), "10.00")
    assert api.post(T, {"opening_float": "11.00"}, role="clerk").status_code == 422
    assert api.post(T, {"opening_float": 5}, role="clerk").status_code == 422
    assert api.post(T, {"opening_float": "-1"}, role="clerk").status_code == 422
    till = api.post(T, {"opening_float": "10.00"}, role="clerk").json()
    wrong = api.post(f"{T}/{till['id']}/close", {"counted": "10.00",
                                                 "denominations": {"3": 1}}, role="clerk")
    assert wrong.status_code == 422, wrong.text
    assert api.get(f"{T}/999", role="admin").status_code == 404
    assert api.post(f"{T}/999/close", {"counted": "1"}).status_code == 404


def test_require_open_till_refuses_cash_without_a_till(api: Api) -> None:
    code = _member(api)
    changed = api.client.patch(f"{BASE}/society", json={"settings": {"require_open_till": True}},
                               headers=api.headers("admin"))
    assert changed.status_code == 200, changed.text
    refused = api.post(f"{BASE}/members/{code}/deposits", {"amount": "10.00"}, role="clerk")
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "urn:coop:problem:till-not-open"
    assert api.post(f"{BASE}/members/{code}/shares", {"count": 1, "source": "cash"},
                    role="clerk").status_code == 422
    assert api.post(T, {"opening_float": "0.00"}, role="clerk").status_code == 201
    assert api.post(f"{BASE}/members/{code}/deposits", {"amount": "10.00"},
                    role="clerk").status_code == 201


def _run_at_once(calls: list[Any]) -> list[httpx.Response]:
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # reported by the assertion below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(isinstance(r, httpx.Response) for r in results), results
    return results


@pytest.mark.slow
def test_two_clerks_close_at_once_and_two_approvers_post_once(live: LiveServer) -> None:
    api = live.api
    code = _member(api)
    _fund_safe(api, code)
    second = _token(api, "clerk2")
    clerks = [api.headers("clerk"), second]
    ids = []
    for headers in clerks:
        made = api.client.post(T, json={"opening_float": "500.00"}, headers=headers)
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
        assert api.client.post(f"{BASE}/members/{code}/deposits", json={"amount": "50.00"},
                               headers=headers).status_code == 201
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        other = client.post(f"{T}/{ids[0]}/close", json={"counted": "1.00"}, headers=second)
        assert other.status_code == 403 and other.json()["type"].endswith("not-your-till")
        assert client.get(f"{T}/{ids[0]}", headers=second).status_code == 404
        closes = _run_at_once([
            lambda i=i, h=h: client.post(f"{T}/{i}/close", json={"counted": "540.00"},
                                         headers=h) for i, h in zip(ids, clerks, strict=True)])
        assert [r.status_code for r in closes] == [201, 201], [r.text for r in closes]
        assert [r.json()["variance"] for r in closes] == ["-10.00", "-10.00"]
        approvals = _run_at_once([
            lambda h=h: client.post(f"{T}/{ids[0]}/variance-approval", headers=h)
            for h in (api.headers("admin"), api.headers("board"))])
    assert sorted(r.status_code for r in approvals) == [201, 409], [r.text for r in approvals]
    posted = api.db.read(lambda s: s.execute(
        select(func.count()).select_from(entry_table)
        .where(entry_table.c.kind == "till_variance")).scalar_one())
    assert posted == 1
    assert api.db.read(lambda s: queries.balance(s, "5400")) == 1_000
    _clean(api)
