"""Responses are typed output models: the OpenAPI document describes every JSON body an API
route answers with, a state-changing request stores exactly the bytes it answered (a replay
gets them back), and a work function that hands back anything but a validated output model
is refused before anything is sent or stored."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from coop.api.schemas.common import Out, dump
from coop.api.schemas.members import CashOut
from coop.auth import IdempotencyRow
from coop.errors import InvariantViolation
from tests.api.conftest import Api

BASE = "/api/v1"


def _json_bodies(document: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.startswith("2") and "application/json" in content:
                    found.append((method.upper(), path, status,
                                  content["application/json"].get("schema", {})))
    return found


def test_every_json_answer_of_the_api_has_a_named_schema(api: Api) -> None:
    document = api.client.get("/schema/openapi.json").json()
    bodies = _json_bodies(document)
    assert len(bodies) > 40
    untyped = []
    for method, path, status, schema in bodies:
        named = schema.get("$ref") or schema.get("items", {}).get("$ref")
        if not named or not named.startswith("#/components/schemas/"):
            untyped.append(f"{method} {path} {status}: {schema}")
    assert untyped == []


def test_the_stored_answer_is_the_answer(api: Api) -> None:
    code = api.member_codes["member"]
    first = api.post(f"{BASE}/members/{code}/deposits", {"amount": "125.50"}, role="clerk",
                     key="same-bytes")
    assert first.status_code == 201, first.text
    assert first.json() == {"entry_id": first.json()["entry_id"], "balance": "125.50",
                            "available": "125.50"}
    again = api.post(f"{BASE}/members/{code}/deposits", {"amount": "125.50"}, role="clerk",
                     key="same-bytes")
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.content == first.content


def test_a_work_function_must_hand_back_an_output_model(api: Api,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A presenter left out (a bare dict) is a programming error: refused, nothing stored."""
    from coop.api.controllers import members as controller

    monkeypatch.setattr(controller, "cash_out", lambda entry_id, balance, currency: {
        "entry_id": entry_id, "balance": "1", "available": "1"})
    code = api.member_codes["member"]
    with pytest.raises(InvariantViolation):
        dump({"entry_id": 1})  # type: ignore[arg-type]
    refused = api.post(f"{BASE}/members/{code}/deposits", {"amount": "10"}, role="clerk",
                       key="no-model")
    assert refused.status_code == 500
    stored = api.db.read(lambda s: s.scalar(select(func.count()).select_from(IdempotencyRow)))
    assert stored == 0
    balance = api.get(f"{BASE}/members/{code}", role="clerk").json()["savings"]["balance"]
    assert balance == "0.00"


def test_an_output_model_refuses_what_its_contract_does_not_say() -> None:
    with pytest.raises(ValidationError):
        CashOut(entry_id=1, balance="1.00", available="1.00", extra="no")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        CashOut(entry_id="one", balance="1.00", available="1.00")  # type: ignore[arg-type]
    assert issubclass(CashOut, Out)
