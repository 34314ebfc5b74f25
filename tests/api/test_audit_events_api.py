"""The audit trail through the real app (GET /api/v1/audit-events): filters, pages newest
first, who may read it, no free-text detail for an auditor, and bad input as 422."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from coop import auth
from coop.clock import FixedClock
from tests.api.conftest import Api

URL = "/api/v1/audit-events"


def _record(api: Api, at: datetime, username: str, role: str, action: str,
            status: int = 201, detail: str | None = None) -> None:
    who = auth.Principal(0, username, auth.Role(role), None)
    clock = FixedClock(at.date(), instant=at)
    api.db.write(lambda s: auth.record_audit(s, who, action=action, status=status,
                                             clock=clock, detail=detail))


def _trail(api: Api) -> None:
    """Five lines over two days; the society's days are India's (UTC+05:30), so 20:00 UTC
    on 1 May is already 2 May at the counter."""
    _record(api, datetime(2025, 5, 1, 9, 0, tzinfo=UTC), "clerk1", "clerk",
            "POST /api/v1/members/M-AAAAA/deposits")
    _record(api, datetime(2025, 5, 1, 10, 0, tzinfo=UTC), "clerk1", "clerk",
            "POST /api/v1/members/M-AAAAA/withdrawals")
    _record(api, datetime(2025, 5, 1, 20, 0, tzinfo=UTC), "admin", "admin",
            "POST /api/v1/ledger/entries", detail="Lakshmi Devi, 98450 12345")
    _record(api, datetime(2025, 5, 2, 8, 0, tzinfo=UTC), "clerk1", "clerk",
            "POST /counter/members/M-BBBBB/deposit", status=200)
    _record(api, datetime(2025, 5, 2, 9, 0, tzinfo=UTC), "admin", "admin",
            "POST /api/v1/members/M-BBBBB/shares")


def _actions(body: dict[str, Any]) -> list[str]:
    return [item["action"] for item in body["items"]]


def test_the_trail_newest_first_with_who_when_and_what(api: Api) -> None:
    _trail(api)
    body = api.get(URL).json()
    assert _actions(body) == [
        "POST /api/v1/members/M-BBBBB/shares", "POST /counter/members/M-BBBBB/deposit",
        "POST /api/v1/ledger/entries", "POST /api/v1/members/M-AAAAA/withdrawals",
        "POST /api/v1/members/M-AAAAA/deposits"]
    first = body["items"][0]
    assert first["at"] == "2025-05-02T09:00:00Z"
    assert (first["username"], first["role"], first["status"]) == ("admin", "admin", 201)
    assert body["next_cursor"] is None


def test_filters_by_user_action_prefix_and_the_societys_days(api: Api) -> None:
    _trail(api)
    assert len(api.get(URL, params={"user": "clerk1"}).json()["items"]) == 3
    assert _actions(api.get(URL, params={"action": "POST /api/v1/members/M-AAAAA"}).json()) == [
        "POST /api/v1/members/M-AAAAA/withdrawals", "POST /api/v1/members/M-AAAAA/deposits"]
    # 20:00 UTC on 1 May is 01:30 on 2 May in India: a line of 2 May
    may_1 = api.get(URL, params={"from": "2025-05-01", "to": "2025-05-01"}).json()
    assert len(may_1["items"]) == 2
    may_2 = api.get(URL, params={"from": "2025-05-02"}).json()
    assert _actions(may_2)[-1] == "POST /api/v1/ledger/entries"
    assert len(may_2["items"]) == 3
    both = api.get(URL, params={"user": "admin", "from": "2025-05-02", "to": "2025-05-02",
                                "action": "POST /api/v1/"}).json()
    assert _actions(both) == ["POST /api/v1/members/M-BBBBB/shares",
                              "POST /api/v1/ledger/entries"]
    # a prefix is a prefix: "_" and "%" are letters, not wildcards
    assert api.get(URL, params={"action": "POST /api/v1/%"}).json()["items"] == []
    assert api.get(URL, params={"user": "nobody"}).json()["items"] == []


def test_pages_follow_the_cursor_without_repeats_or_gaps(api: Api) -> None:
    for n in range(7):
        _record(api, datetime(2025, 5, 1, 9, n, tzinfo=UTC), "clerk1", "clerk",
                f"POST /api/v1/members/M-{n:05d}/deposits")
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    pages = 0
    while True:
        body = api.get(URL, params=params).json()
        pages += 1
        seen += _actions(body)
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert pages == 3
    assert seen == [f"POST /api/v1/members/M-{n:05d}/deposits" for n in reversed(range(7))]
    assert len(api.get(URL).json()["items"]) == 7  # 50 to a page by default


def test_the_auditor_reads_the_trail_without_its_free_text(api: Api) -> None:
    _trail(api)
    admins = api.get(URL, params={"action": "POST /api/v1/ledger"}).json()["items"]
    assert admins[0]["detail"] == "Lakshmi Devi, 98450 12345"
    response = api.get(URL, role="auditor")
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 5
    assert all(set(item) == {"id", "at", "username", "role", "action", "status"}
               for item in items)
    assert "Lakshmi" not in response.text and "98450" not in response.text


@pytest.mark.parametrize("role", ["board", "clerk", "member"])
def test_other_roles_are_refused(api: Api, role: str) -> None:
    assert api.get(URL, role=role).status_code == 403
    assert api.client.get(URL).status_code == 401


@pytest.mark.parametrize("params, field", [
    ({"from": "2025-13-01"}, "from"),
    ({"to": "yesterday"}, "to"),
    ({"from": "2025-05-02", "to": "2025-05-01"}, "to"),
    ({"limit": "0"}, "limit"),
    ({"limit": "501"}, "limit"),
    ({"cursor": "abc"}, "cursor"),
    ({"user": "u" * 33}, "user"),
    ({"action": "x" * 121}, "action"),
])
def test_bad_input_is_a_422_problem(api: Api, params: dict[str, str], field: str) -> None:
    response = api.get(URL, params=params, role="auditor")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text
