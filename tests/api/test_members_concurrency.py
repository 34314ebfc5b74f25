"""Eight clerks paying out from one member's savings at once, through a real HTTP server.

Every request is a separate HTTP call with its own Idempotency-Key. The outcome must be exact:
the final balance is what was deposited less the amounts of the 201 responses, never negative;
every refusal is a 422 insufficient-funds problem; nothing is a 5xx; the journal holds one
withdrawal entry per 201 and still verifies.
"""

from __future__ import annotations

import random
import threading
import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from coop.ledger import queries
from coop.ledger.orm import entry_table
from coop.ledger.verify import verify
from coop.members import savings_account
from tests.api.conftest import LiveServer

pytestmark = pytest.mark.slow  # concurrent clerks through the API

M = "/api/v1/members"
CLERKS = 8
WITHDRAWALS_PER_CLERK = 40
SEED = 20250630
DEADLINE_SECONDS = 180


def minor(text: str) -> int:
    return int(Decimal(text) * 100)


def test_concurrent_withdrawals_through_the_api(live: LiveServer) -> None:
    headers = live.api.headers("clerk")
    with httpx.Client(base_url=live.base_url, headers=headers, timeout=60) as client:
        made = client.post(M, json={"known_as": "Asha"}, headers={"Idempotency-Key": "reg-1"})
        assert made.status_code == 201, made.text
        code = made.json()["code"]
        plans = [[f"{rng.randint(100, 20_000) / 100:.2f}" for _ in range(WITHDRAWALS_PER_CLERK)]
                 for rng in (random.Random(SEED + t) for t in range(CLERKS))]
        asked = sum(minor(a) for plan in plans for a in plan)
        funded = asked * 55 // 100
        deposits = [funded // 2, funded - funded // 2]
        for number, amount in enumerate(deposits):
            paid_in = client.post(f"{M}/{code}/deposits",
                                  json={"amount": f"{amount / 100:.2f}"},
                                  headers={"Idempotency-Key": f"dep-{number}"})
            assert paid_in.status_code == 201, paid_in.text
        assert minor(paid_in.json()["balance"]) == funded
    entries_before = int(live.api.db.read(
        lambda s: s.execute(select(func.count()).select_from(entry_table)).scalar_one()))

    results: list[list[tuple[str, int, dict]]] = [[] for _ in range(CLERKS)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(CLERKS)

    def clerk(index: int) -> None:
        try:
            with httpx.Client(base_url=live.base_url, headers=headers, timeout=60) as client:
                barrier.wait()
                for amount in plans[index]:
                    response = client.post(
                        f"{M}/{code}/withdrawals", json={"amount": amount},
                        headers={"Idempotency-Key": uuid.uuid4().hex})
                    results[index].append((amount, response.status_code, response.json()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=clerk, args=(i,), daemon=True) for i in range(CLERKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS)
    assert not [t for t in threads if t.is_alive()], "a clerk is still waiting: a deadlock?"
    assert not errors, errors

    outcomes = [r for per_clerk in results for r in per_clerk]
    assert len(outcomes) == CLERKS * WITHDRAWALS_PER_CLERK
    assert not [r for r in outcomes if r[1] >= 500], "server errors"
    paid = [r for r in outcomes if r[1] == 201]
    refused = [r for r in outcomes if r[1] != 201]
    for _amount, status, body in refused:
        assert status == 422, body
        assert body["type"].endswith("insufficient-funds"), body
    for _amount, _status, body in paid:
        assert minor(body["balance"]) >= 0 and minor(body["available"]) >= 0, body
    assert paid and refused  # the plan asks for more than was deposited

    paid_total = sum(minor(amount) for amount, _status, _body in paid)
    final = live.api.db.read(lambda s: queries.balance(s, savings_account(code)))
    assert final == funded - paid_total
    assert final is not None and final >= 0
    assert final < max(minor(a) for a, _s, _b in refused)  # the largest refusal was right to be
    assert min(minor(b["balance"]) for _a, _s, b in paid) == final
    entries_after = int(live.api.db.read(
        lambda s: s.execute(select(func.count()).select_from(entry_table)).scalar_one()))
    assert entries_after == entries_before + len(paid)
    with httpx.Client(base_url=live.base_url, headers=headers, timeout=60) as client:
        summary = client.get(f"{M}/{code}").json()
    assert minor(summary["savings"]["balance"]) == final
    report = live.api.db.read(verify)
    assert report.ok, report.problems
