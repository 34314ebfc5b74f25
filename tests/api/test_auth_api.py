"""Logging in, throttling, revocation, users, the society, headers and error hygiene."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from coop.auth import AuditRow
from tests.api.conftest import PASSWORD, Api

TOKEN = "/api/v1/auth/token"


def login(api: Api, username: str, password: str, **kw: Any) -> Any:
    return api.client.post(TOKEN, json={"username": username, "password": password}, **kw)


def test_login_returns_a_bearer_token_with_role_and_expiry(api: Api) -> None:
    body = login(api, "clerk1", PASSWORD).json()
    assert body["token_type"] == "bearer" and body["role"] == "clerk"
    assert body["expires_in"] == 8 * 3600
    me = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"username": "clerk1", "role": "clerk", "member_code": None,
                         "disabled": False, "must_change_password": False}


def test_wrong_password_is_401_and_the_sixth_attempt_is_429(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(5):
        wrong = login(api, "clerk1", "not-the-password")
        assert wrong.status_code == 401
        assert wrong.headers["content-type"].startswith("application/problem+json")
    blocked = login(api, "clerk1", PASSWORD)  # even the right password, until the window ends
    assert blocked.status_code == 429
    assert blocked.json()["type"].endswith("too-many-attempts")
    assert login(api, "auditor1", PASSWORD).status_code == 200  # another user is unaffected
    assert "not-the-password" not in caplog.text
    api.clock.instant = None
    from datetime import timedelta

    api.clock.business_date += timedelta(days=1)  # the window has passed
    assert login(api, "clerk1", PASSWORD).status_code == 200


def test_unknown_user_is_the_same_401(api: Api) -> None:
    response = login(api, "nobody", PASSWORD)
    assert response.status_code == 401
    assert response.json()["detail"] == login(api, "clerk1", "wrong-one").json()["detail"]


def test_password_change_revokes_every_token(api: Api) -> None:
    old = api.headers("clerk")
    changed = api.client.post("/api/v1/auth/password", headers=old,
                              json={"current_password": PASSWORD,
                                    "new_password": "a much longer secret"})
    assert changed.status_code == 204
    assert api.client.get("/api/v1/me", headers=old).status_code == 401
    assert login(api, "clerk1", "a much longer secret").status_code == 200


def test_users_are_created_by_admin_with_member_codes_where_needed(api: Api) -> None:
    made = api.post("/api/v1/users", {"username": "clerk2", "password": "long enough pw",
                                      "role": "clerk"})
    assert made.status_code == 201, made.text
    assert made.json() == {"username": "clerk2", "role": "clerk", "member_code": None,
                           "disabled": False, "must_change_password": False}
    no_code = api.post("/api/v1/users", {"username": "mem2", "password": "long enough pw",
                                         "role": "member"})
    assert no_code.status_code == 422
    assert no_code.json()["errors"][0]["field"] == "member_code"
    assert api.post("/api/v1/users", {"username": "clerk2", "password": "long enough pw",
                                      "role": "clerk"}).status_code == 409
    short = api.post("/api/v1/users", {"username": "clerk3", "password": "short",
                                       "role": "clerk"})
    assert short.status_code == 422


def test_society_settings_are_read_by_all_and_changed_by_admin(api: Api) -> None:
    society = api.get("/api/v1/society", role="member").json()
    assert society["currency"] == "INR" and society["fiscal_year_start"] == "04-01"
    assert society["share_face_value"] == "10.00"
    assert society["business_date"] == "2025-06-30"
    assert society["settings"]["loan_approvals_required"] == 6
    assert society["settings"]["dividend_basis"] == "share_days"
    changed = api.client.patch("/api/v1/society", headers=api.headers("admin"),
                               json={"settings": {"loan_approvals_required": 7}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["settings"]["loan_approvals_required"] == 7
    assert changed.json()["settings"]["board_seats"] == 11
    bad = api.client.patch("/api/v1/society", headers=api.headers("admin"),
                           json={"settings": {"dividend_basis": "vibes"}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "settings.dividend_basis"
    assert api.client.patch("/api/v1/society", headers=api.headers("clerk"),
                            json={"settings": {}}).status_code == 403


def test_state_changes_are_attributed_in_the_audit_trail(api: Api) -> None:
    api.post("/api/v1/ledger/entries", {
        "narration": "Grant", "postings": [{"account": "1010", "debit": "1.00"},
                                           {"account": "4200", "credit": "1.00"}]})
    rows = api.db.read(lambda s: s.execute(select(AuditRow.username, AuditRow.action,
                                                  AuditRow.status)).all())
    assert [tuple(r) for r in rows] == [("admin", "POST /api/v1/ledger/entries", 201)]
    entry = api.get("/api/v1/ledger/entries/1").json()
    assert entry["actor"] == "admin"


@pytest.mark.parametrize("path", ["/api/v1/society", "/api/v1/nowhere", "/health"])
def test_security_headers_on_every_response(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in response.headers


def test_errors_are_problems_without_internals(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from coop.ledger import queries

    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("SELECT secret FROM ledger_account -- Traceback")

    monkeypatch.setattr(queries, "trial_balance", explode)
    response = api.get("/api/v1/ledger/trial-balance")
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    for leak in ("SELECT", "Traceback", "ledger_account", "RuntimeError", "sqlalchemy"):
        assert leak not in response.text
    not_allowed = api.client.delete("/api/v1/society", headers=api.headers("admin"))
    assert not_allowed.status_code == 405
    assert not_allowed.headers["content-type"].startswith("application/problem+json")
    missing = api.get("/api/v1/ledger/entries/999")
    assert missing.status_code == 404 and missing.json()["status"] == 404
    malformed = api.client.post("/api/v1/ledger/entries", content=b"{not json",
                                headers={**api.headers("admin"),
                                         "content-type": "application/json"})
    assert malformed.status_code == 422


def test_twenty_failures_from_one_address_block_that_address(api: Api) -> None:
    for n in range(20):
        assert login(api, f"guess{n}", "wrong password").status_code == 401
    assert login(api, "auditor1", PASSWORD).status_code == 429


def test_a_member_reaches_only_her_own_member_number() -> None:
    from litestar.exceptions import NotFoundException

    from coop.api.security import own_member_or_404
    from coop.auth import Principal, Role

    asha = Principal(1, "asha", Role.MEMBER, "M-MEM01")
    own_member_or_404(asha, "M-MEM01")
    with pytest.raises(NotFoundException):
        own_member_or_404(asha, "M-OTHER")
    clerk = Principal(2, "clerk1", Role.CLERK, None)
    own_member_or_404(clerk, "M-OTHER")  # staff see every member
