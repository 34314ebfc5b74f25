"""Issue 15, finding 2: stored requests gave phones and names back to anyone with a copy of
the database, and outlived a member's erasure."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from coop import auth
from coop.cli import app as cli
from tests.api.conftest import PASSWORD, Api

M = "/api/v1/members"


def _rows(api: Api) -> list[tuple[str, str | None, bytes | None]]:
    return api.db.read(lambda s: [tuple(r) for r in s.execute(select(
        auth.IdempotencyRow.request_hash, auth.IdempotencyRow.member_code,
        auth.IdempotencyRow.body))])


def _plain(method: str, path: str, body: dict[str, object]) -> str:
    """What the review hashed offline to recover a phone: the old, unkeyed digest."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_stored_requests_cannot_be_guessed_and_go_with_her_erasure(
        api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"known_as": "Asha", "phone": "+91 98450 12345"}
    made = api.post(M, body, role="clerk", key="reg-1")
    assert made.status_code == 201
    code = made.json()["code"]
    search = {"phone": "+91 98450 12345"}
    assert api.post(f"{M}/search", search, role="clerk", key="find-1").status_code == 200
    rows = _rows(api)
    assert len(rows) == 2 and {member for _, member, _ in rows} == {code}
    full = {**body, "legal_name": None, "nominee": None, "joined_on": None, "language": None,
            "known_as_on_passbook": False}
    guesses = {_plain("POST", M, full), _plain("POST", M, body),
               _plain("POST", f"{M}/search", search)}
    assert not guesses & {digest for digest, _, _ in rows}
    assert api.post(M, body, role="clerk", key="reg-1").json()["code"] == code  # replayed
    assert api.post(f"{M}/{code}/exit", {}, role="admin").status_code == 200
    monkeypatch.setenv("COOP_DATABASE_URL", str(api.db.url.render_as_string(
        hide_password=False)))
    erased = CliRunner().invoke(cli, ["member", "erase", code, "--yes"])
    assert erased.exit_code == 0, erased.output
    assert all(member != code for _, member, _ in _rows(api))


def test_stored_responses_are_forgotten_after_a_day(api: Api) -> None:
    code = api.member_codes["member"]
    first = api.post(f"{M}/{code}/deposits", {"amount": "10.00"}, role="clerk", key="d-1")
    assert first.status_code == 201
    other = api.post(f"{M}/{code}/deposits", {"amount": "20.00"}, role="clerk", key="d-1")
    assert other.status_code == 422  # within the window: the key is the first request's
    api.clock.instant = api.clock.now() + auth.IDEMPOTENCY_WINDOW + timedelta(minutes=1)
    token = api.client.post("/api/v1/auth/token",
                            json={"username": "clerk1", "password": PASSWORD})
    api.tokens["clerk1"] = token.json()["access_token"]  # hers of yesterday has expired
    later = api.post(f"{M}/{code}/deposits", {"amount": "20.00"}, role="clerk", key="d-1")
    assert later.status_code == 201, later.text  # a day later the key is free again
    removed = api.db.write(lambda s: auth.forget_old_requests(s, clock=api.clock))
    assert removed == 0  # the old row went when its key was used again
    api.clock.instant = api.clock.now() + auth.IDEMPOTENCY_WINDOW + timedelta(minutes=1)
    assert api.db.write(lambda s: auth.forget_old_requests(s, clock=api.clock)) == 1
