"""Who may call what: the route table against CONTRACT.md's role column, every (route, role)
pair through HTTP, and every way a bearer token can be bad (401, never 403 or 200).

The route table is read from the app itself, so a route added without a roles declaration, or
with roles other than the contract's, fails here before it ships.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler
from litestar.testing import TestClient

from coop.api import create_app
from coop.api.problems import EXCEPTION_HANDLERS
from coop.api.security import authorize
from coop.config import Settings
from coop.db import Database
from tests.api.conftest import PASSWORD, Api

ROLES = ("admin", "board", "clerk", "auditor", "member")
ANY = frozenset(ROLES)
STAFF = frozenset({"admin", "board", "clerk", "auditor"})
PUBLIC = "public"
BASE = "/api/v1"


def roles(*names: str) -> frozenset[str]:
    return frozenset(names)


# CONTRACT.md's role column, method + path under /api/v1 (path parameters written `{}`).
# "staff roles; member: own only" means every role may call the route (a member is answered
# 404 for anyone else's records, which the route itself decides).
EXPECTED: dict[tuple[str, str], frozenset[str] | str] = {
    # Authentication and users
    ("POST", "/auth/token"): PUBLIC,
    ("POST", "/auth/logout"): ANY,  # not in CONTRACT.md: any authenticated user
    ("POST", "/auth/password"): ANY,  # not in CONTRACT.md: any authenticated user
    ("POST", "/users"): roles("admin"),
    ("GET", "/users"): roles("admin"),  # not in CONTRACT.md: admin
    ("PATCH", "/users/{}"): roles("admin"),  # not in CONTRACT.md: admin
    ("GET", "/me"): ANY,
    # Society
    ("GET", "/society"): ANY,
    ("PATCH", "/society"): roles("admin"),
    # Ledger
    ("GET", "/ledger/accounts"): STAFF,
    ("POST", "/ledger/accounts"): roles("admin"),
    ("POST", "/ledger/entries"): roles("admin"),
    ("GET", "/ledger/entries"): roles("admin", "board", "auditor"),
    ("GET", "/ledger/entries/{}"): roles("admin", "board", "auditor"),
    ("POST", "/ledger/entries/{}/reversal"): roles("admin"),
    ("POST", "/corrections"): roles("admin", "clerk"),
    ("GET", "/corrections"): roles("admin", "board"),
    ("POST", "/corrections/{}/approval"): roles("admin", "board"),
    ("POST", "/corrections/{}/refusal"): roles("admin", "board"),
    ("GET", "/ledger/trial-balance"): roles("admin", "board", "auditor"),
    ("GET", "/ledger/verify"): roles("admin", "auditor"),
    ("POST", "/ledger/verify-jobs"): roles("admin", "auditor"),  # issue 20: verify as a job
    ("GET", "/ledger/verify-jobs/{}"): roles("admin", "auditor"),  # issue 20
    ("GET", "/ledger/export"): roles("admin", "auditor"),
    # Members, shares, savings
    ("POST", "/members"): roles("admin", "clerk"),
    ("GET", "/members"): STAFF,
    ("GET", "/members/{}"): ANY,
    ("POST", "/members/{}/shares"): roles("admin", "clerk"),
    ("POST", "/members/{}/share-redemptions"): roles("admin", "board"),
    ("POST", "/members/{}/deposits"): roles("admin", "clerk"),
    ("POST", "/members/{}/withdrawals"): roles("admin", "clerk"),
    ("GET", "/members/{}/savings/transactions"): ANY,
    ("GET", "/members/{}/passbook.pdf"): roles("admin", "clerk", "member"),
    ("GET", "/members/{}/passbook"): roles("admin", "clerk", "member"),
    ("POST", "/members/{}/passbook/printed"): roles("admin", "clerk"),
    ("POST", "/members/{}/passbook/duplicate"): roles("admin"),
    ("GET", "/members/{}/preferences"): roles("admin", "clerk", "member"),
    ("PUT", "/members/{}/preferences"): roles("admin", "clerk"),
    ("POST", "/passbook-checks"): roles("admin", "board", "auditor"),
    ("GET", "/members/{}/share-certificate.pdf"): roles("admin", "clerk", "member"),
    ("GET", "/members/{}/receipts/{}/slip.pdf"): roles("admin", "clerk", "member"),  # not in
    # CONTRACT.md: a receipt slip for one of her entries
    ("GET", "/members/{}/dividends/{}/statement.pdf"): roles("admin", "clerk", "member"),
    ("POST", "/members/{}/holds"): roles("admin"),
    ("POST", "/members/{}/holds/{}/release"): roles("admin"),
    ("POST", "/savings/interest-runs"): roles("admin"),
    ("GET", "/savings/interest-runs"): roles("admin", "board", "auditor"),  # issue 16: ids
    ("POST", "/savings/interest-runs/{}/reversal"): roles("admin"),  # issue 16: undo a run
    ("POST", "/members/search"): roles("admin", "clerk"),
    ("POST", "/members/find"): roles("admin", "clerk"),  # not in CONTRACT.md
    ("POST", "/members/{}/exit"): roles("admin", "board"),
    ("GET", "/shares/register"): roles("admin", "board", "auditor"),
    # Loans
    ("POST", "/loans/quote"): STAFF,
    ("POST", "/loan-products"): roles("admin"),
    ("GET", "/loan-products"): STAFF,
    ("POST", "/loans"): roles("admin", "clerk"),
    ("POST", "/loans/{}/votes"): roles("board"),
    ("POST", "/loans/{}/disbursement"): roles("admin", "clerk"),
    ("POST", "/loans/{}/repayments"): roles("admin", "clerk"),
    ("GET", "/loans/{}"): ANY,
    ("GET", "/loans/{}/payoff"): ANY,
    ("POST", "/loans/{}/reschedules"): roles("admin", "clerk"),
    ("POST", "/loans/{}/reschedules/{}/votes"): roles("board"),
    ("GET", "/loans/{}/card.pdf"): roles("admin", "clerk", "member"),
    ("GET", "/reports/portfolio"): roles("admin", "board", "auditor"),
    ("GET", "/loans"): ANY,  # not in CONTRACT.md: staff; a member her own
    ("GET", "/loans/{}/votes"): roles("admin", "board", "auditor"),  # not in CONTRACT.md
    ("POST", "/loans/{}/write-off"): roles("board"),  # not in CONTRACT.md: the board
    ("POST", "/loans/{}/write-off/reversal"): roles("board"),  # issue 16: as the write-off
    ("POST", "/moratoria"): roles("board"),  # not in CONTRACT.md: the board
    ("GET", "/reports/board-loans"): roles("admin", "board", "auditor"),  # not in CONTRACT.md
    ("GET", "/reports/board-pack.pdf"): roles("admin", "board"),  # issue 18
    # Annual accounts and reports (issue 19): each statement and schedule, and its files
    **{("GET", f"/reports/{name}{suffix}"): roles("admin", "board", "auditor")
       for name in ("balance-sheet", "income-expenditure", "receipts-payments",
                    "schedules/savings", "schedules/share-capital")
       for suffix in ("", ".csv", ".xlsx", ".pdf")},
    # issue 19: loan classification and provisioning
    ("GET", "/reports/loan-classification"): roles("admin", "board", "auditor"),
    ("POST", "/reports/provisioning-runs"): roles("admin"),
    ("GET", "/reports/provisioning-runs"): roles("admin", "board", "auditor"),
    ("GET", "/reports/schedules/loans"): roles("admin", "board", "auditor"),
    **{("GET", f"/reports/{name}.{fmt}"): roles("admin", "board", "auditor")
       for name in ("loan-classification", "schedules/loans") for fmt in ("csv", "xlsx", "pdf")},
    ("POST", "/loans/{}/loss-mark"): roles("admin", "board"),
    ("POST", "/loans/{}/loss-mark/reversal"): roles("admin", "board"),
    # Year-end and dividends
    ("POST", "/years/{}/close"): roles("admin"),
    ("POST", "/years/{}/reopening"): roles("admin"),  # issue 16
    ("POST", "/dividends/{}/preview"): roles("admin", "board", "auditor"),
    ("POST", "/dividends/{}/declaration"): roles("board"),
    ("POST", "/dividends/{}/payment"): roles("admin", "clerk"),
    ("POST", "/dividends/{}/payment/reversal"): roles("admin"),  # issue 16
    ("GET", "/dividends/{}"): roles("admin", "board", "auditor"),
    ("GET", "/dividends/{}/report.csv"): roles("admin", "board", "auditor"),
    ("GET", "/years/{}"): roles("admin", "board", "auditor"),  # not in CONTRACT.md
    ("GET", "/dividends/{}/report.pdf"): roles("admin", "board", "auditor"),  # not in CONTRACT
    # not in CONTRACT.md: the board, and the admin (issue 18: withdraws a pending one too)
    ("POST", "/dividends/{}/cancellation"): roles("admin", "board"),
    # issue 18: board votes on a declaration while dividend_approvals_required are not in
    ("POST", "/dividends/{}/declaration/votes"): roles("board"),
    ("GET", "/dividends/{}/declaration/votes"): roles("admin", "board", "auditor"),
    # Tills
    ("POST", "/tills"): roles("admin", "clerk"),
    ("GET", "/tills/{}"): roles("admin", "board", "clerk", "auditor"),  # a clerk: her own
    ("POST", "/tills/{}/close"): roles("admin", "clerk"),  # the till's user, or an admin
    ("POST", "/tills/{}/variance-approval"): roles("admin", "board"),
    ("GET", "/tills"): roles("admin", "board", "auditor"),  # not in CONTRACT.md: the day's
    # issue 19: the audit trail (an auditor's lines without their free text)
    ("GET", "/audit-events"): roles("admin", "auditor"),
    ("GET", "/reports/audit-pack.zip"): roles("admin", "auditor"),  # issue 19
}
# The sections this part of the app implements: each of their rows must be served.
REQUIRED_PREFIXES = ("/auth/", "/users", "/society", "/ledger/")
# POSTs that change nothing in the books: an auditor may call them (CONTRACT.md), and any role
# manages her own session.
NOT_WRITES = {("POST", "/loans/quote"), ("POST", "/dividends/{}/preview"),
              ("POST", "/passbook-checks"), ("POST", "/ledger/verify-jobs"),
              ("POST", "/auth/token"), ("POST", "/auth/logout"), ("POST", "/auth/password")}
OUTSIDE_API_PUBLIC = {("GET", "/health")}

# A body no handler accepts: an allowed role gets 422 (or 404 for a missing record), never a
# change; a refused role must get 403 before the body is looked at.
INVALID_BODY = {"__not_a_field__": True}
MISSING_ID = "999999"


Route = tuple[str, str, Any]


def normalized(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def is_automatic_options(handler: HTTPRouteHandler) -> bool:
    qualname = getattr(handler.fn, "__qualname__", "")
    return handler.http_methods == {"OPTIONS"} and qualname.endswith(
        "create_options_handler.<locals>.options_handler")


def handlers(app: Litestar) -> Iterator[Route]:
    """(method, normalized path, handler) for every route handler an API client can reach."""
    for route in app.routes:
        if route.path == "/schema" or route.path.startswith("/schema/"):
            continue
        found = getattr(route, "route_handlers", None) or [getattr(route, "route_handler")]
        for handler in found:
            if not isinstance(handler, HTTPRouteHandler):  # websocket, ASGI mount: audit too
                yield type(handler).__name__, normalized(route.path), handler
            elif not is_automatic_options(handler):
                for method in sorted(handler.http_methods):
                    yield method, normalized(route.path), handler


def api_key(path: str) -> str:
    assert path.startswith(BASE + "/"), path
    return path[len(BASE):]


def declaration(handler: Any) -> frozenset[str] | str | None:
    """What a handler's `opt` says: PUBLIC, a non-empty set of role names, or None."""
    if handler.opt.get("public") is True:
        return PUBLIC
    declared = handler.opt.get("roles")
    if not declared:
        return None
    return frozenset(str(getattr(r, "value", r)) for r in declared)


def shown(roles_or_public: frozenset[str] | str | None) -> str:
    if roles_or_public is None or isinstance(roles_or_public, str):
        return str(roles_or_public)
    return ", ".join(sorted(roles_or_public))


def undeclared(app: Litestar) -> list[str]:
    return [f"{m} {p}" for m, p, h in handlers(app) if declaration(h) is None]


def _route_table_app() -> Litestar:
    """The app built only to read its route table at collection time: no database behind it."""
    return create_app(Settings(database_url="sqlite:///unused-route-table.db"),
                      db=cast(Database, object()))


TABLE = sorted((m, api_key(p)) for m, p, _ in handlers(_route_table_app()) if p.startswith(BASE))


def problem_403(response: httpx.Response) -> None:
    assert response.status_code == 403, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 403
    assert body["type"] == "urn:coop:problem:forbidden"
    assert body["title"] and body["detail"]


def call(api: Api, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    url = BASE + path.replace("{}", MISSING_ID)
    body = INVALID_BODY if method in ("POST", "PATCH", "PUT") else None
    return api.client.request(method, url, headers=headers, json=body)


# --- the route table ---------------------------------------------------------------------------


# The counter pages (server-rendered, cookie sessions): who may open each.
COUNTER = {
    ("GET", "/counter/login"): PUBLIC, ("POST", "/counter/login"): PUBLIC,
    ("GET", "/counter/counter.css"): PUBLIC,
    ("POST", "/counter/logout"): ANY, ("GET", "/counter"): ANY,
    ("GET", "/counter/find"): roles("admin", "clerk"),
    ("POST", "/counter/find"): roles("admin", "clerk"),
    ("GET", "/counter/users"): roles("admin"), ("POST", "/counter/users"): roles("admin"),
    ("GET", "/counter/users/{}"): roles("admin"),
    ("GET", "/counter/members/{}/receipts/{}/slip.pdf"): roles("admin", "clerk", "member"),
    ("POST", "/counter/users/{}/password"): roles("admin"),
    ("POST", "/counter/users/{}/access"): roles("admin"),
    ("GET", "/counter/password"): ANY, ("POST", "/counter/password"): ANY,
    ("GET", "/counter/members/{}"): roles("admin", "clerk", "member"),
    ("POST", "/counter/members/{}/deposit"): roles("admin", "clerk"),
    ("POST", "/counter/members/{}/withdrawal"): roles("admin", "clerk"),
    ("POST", "/counter/members/{}/shares"): roles("admin", "clerk"),
    ("POST", "/counter/loans/{}/repayment"): roles("admin", "clerk"),
    ("POST", "/counter/loans/{}/disbursement"): roles("admin", "clerk"),
    ("GET", "/counter/register"): roles("admin", "clerk"),
    ("POST", "/counter/register"): roles("admin", "clerk"),
    ("GET", "/counter/members/{}/passbook.pdf"): roles("admin", "clerk", "member"),
    ("GET", "/counter/members/{}/share-certificate.pdf"): roles("admin", "clerk", "member"),
    ("GET", "/counter/members/{}/dividends/{}/statement.pdf"): roles("admin", "clerk",
                                                                      "member"),
    ("POST", "/counter/members/{}/passbook/printed"): roles("admin", "clerk"),
    ("GET", "/counter/loans/{}/card.pdf"): roles("admin", "clerk", "member"),
    ("GET", "/counter/board"): roles("admin", "board"),
    ("GET", "/counter/corrections/new"): roles("admin", "clerk"),
    ("POST", "/counter/corrections"): roles("admin", "clerk"),
    ("GET", "/counter/corrections"): roles("admin", "board"),
    ("POST", "/counter/corrections/{}/approval"): roles("admin", "board"),
    ("POST", "/counter/corrections/{}/refusal"): roles("admin", "board"),
    ("POST", "/counter/loans/{}/vote"): roles("board"),
    ("GET", "/counter/dividends"): roles("admin", "board", "auditor", "clerk"),
    ("POST", "/counter/dividends"): roles("admin", "board", "auditor"),
    ("GET", "/counter/dividends/{}/members.csv"): roles("admin", "board", "auditor"),
    ("POST", "/counter/dividends/{}/vote"): roles("board"),  # issue 18, as the API's
    ("POST", "/counter/dividends/{}/payment"): roles("admin", "clerk"),
    ("POST", "/counter/dividends/{}/cancellation"): roles("admin"),
    ("GET", "/counter/audit"): roles("admin", "board", "auditor"),  # issue 18: the board too
    ("GET", "/counter/accounts"): roles("admin", "board", "auditor"),  # issue 19
    ("GET", "/counter/accounts/files/{}"): roles("admin", "board", "auditor"),
    ("GET", "/counter/audit-trail"): roles("admin", "auditor"),  # issue 19, as the API's
    ("GET", "/counter/audit-pack.zip"): roles("admin", "auditor"),  # issue 19, as the API's
    ("GET", "/counter/tills"): roles("admin", "clerk"),
    ("POST", "/counter/tills/open"): roles("admin", "clerk"),
    ("POST", "/counter/tills/{}/count"): roles("admin", "clerk"),
    ("POST", "/counter/tills/{}/close"): roles("admin", "clerk"),
    ("GET", "/counter/tills/day"): roles("admin", "board", "auditor"),
    ("POST", "/counter/tills/{}/approve"): roles("admin", "board"),
    # issue 17: loan applications and a member's requests at the counter (the API's roles)
    ("GET", "/counter/members/{}/loan-application"): roles("admin", "clerk"),
    ("POST", "/counter/members/{}/loan-application"): roles("admin", "clerk"),
    ("GET", "/counter/requests"): roles("admin", "board", "clerk"),
    ("GET", "/counter/members/{}/requests"): roles("admin", "board", "clerk"),
    ("POST", "/counter/loans/{}/reschedule"): roles("admin", "clerk"),
    ("POST", "/counter/members/{}/share-redemption"): roles("admin", "board"),
    ("POST", "/counter/members/{}/holds"): roles("admin"),
    ("POST", "/counter/members/{}/holds/{}/release"): roles("admin"),
    ("POST", "/counter/members/{}/exit"): roles("admin", "board"),
    ("GET", "/counter/moratoria"): roles("board"),
    ("POST", "/counter/moratoria"): roles("board"),
    # issue 18: the board's meeting pack, as the API's
    ("GET", "/counter/board-pack"): roles("admin", "board"),
    ("GET", "/counter/board-pack.pdf"): roles("admin", "board"),
    ("GET", "/counter/loan-classification"): roles("admin", "board", "auditor"),
    ("POST", "/counter/provisioning-runs"): roles("admin"),
    ("POST", "/counter/verify-jobs"): roles("admin", "auditor"),  # issue 20, as the API's
    ("GET", "/counter/verify-jobs/{}"): roles("admin", "auditor"),
}


def test_every_handler_declares_who_may_call_it(api: Api) -> None:
    assert undeclared(api.app) == []
    public = {(m, p) for m, p, h in handlers(api.app) if declaration(h) == PUBLIC
              and not p.startswith("/counter")}
    assert public == {("POST", f"{BASE}/auth/token"), *OUTSIDE_API_PUBLIC}
    outside = {(m, p) for m, p, _ in handlers(api.app)
               if not p.startswith((BASE + "/", "/counter"))}
    assert outside == OUTSIDE_API_PUBLIC


def test_the_counter_pages_declare_their_roles(api: Api) -> None:
    declared = {(m, p): declaration(h) for m, p, h in handlers(api.app)
                if p.startswith("/counter")}
    assert declared == COUNTER
    assert sorted((m, api_key(p)) for m, p, _ in handlers(api.app) if p.startswith(BASE)) == TABLE


def test_declared_roles_are_exactly_the_contracts(api: Api) -> None:
    declared = {(m, api_key(p)): declaration(h)
                for m, p, h in handlers(api.app) if p.startswith(BASE)}
    unknown = sorted(set(declared) - set(EXPECTED))
    assert unknown == [], "routes CONTRACT.md does not list: add their roles to EXPECTED"
    wrong = {f"{m} {p}": (shown(declared[m, p]), shown(EXPECTED[m, p]))
             for m, p in declared if declared[m, p] != EXPECTED[m, p]}
    assert wrong == {}, "declared vs CONTRACT.md"
    missing = sorted(k for k in EXPECTED if (k[1] == "/me" or k[1].startswith(REQUIRED_PREFIXES))
                     and k not in declared)
    assert missing == []


def test_the_expected_table_never_lets_an_auditor_write() -> None:
    writes = [k for k in EXPECTED if k[0] in ("POST", "PATCH", "PUT", "DELETE")]
    assert len(writes) > 25
    granted = sorted(k for k in writes if k not in NOT_WRITES
                     and (EXPECTED[k] == PUBLIC or "auditor" in EXPECTED[k]))
    assert granted == []


def test_the_audit_catches_a_handler_without_a_declaration(api: Api) -> None:
    """Deny by default, twice: the audit names the handler, and the guard refuses it."""

    @get("/undeclared", sync_to_thread=False)
    def undeclared_handler() -> dict[str, str]:
        return {"leak": "yes"}

    @get("/empty-roles", opt={"roles": frozenset()}, sync_to_thread=False)
    def empty_roles_handler() -> dict[str, str]:
        return {"leak": "yes"}

    app = Litestar(route_handlers=[undeclared_handler, empty_roles_handler], guards=[authorize],
                   exception_handlers=EXCEPTION_HANDLERS,
                   state=State({"coop": api.app.state.coop}))
    assert sorted(undeclared(app)) == ["GET /empty-roles", "GET /undeclared"]
    with TestClient(app=app) as client:
        for path in ("/undeclared", "/empty-roles"):
            problem_403(client.get(path, headers=api.headers("admin")))


# --- every (route, role) pair through HTTP -----------------------------------------------------


def allowed(route: tuple[str, str], role: str) -> bool:
    expected = EXPECTED.get(route)
    assert expected is not None, f"{route} is not in EXPECTED (see the route-table audit)"
    return expected == PUBLIC or role in expected


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), TABLE, ids=[f"{m} {p}" for m, p in TABLE])
def test_route_answers_each_role_as_the_contract_says(api: Api, method: str, path: str) -> None:
    """Each role in turn on one book (the roles refused first, so a write an allowed role
    makes cannot change what a refused one is told; refusal is the guard's, before any
    handler runs): every refusal a 403 problem, every allowed role past the guard, no 5xx."""
    wrong: dict[str, str] = {}
    for role in sorted(ROLES, key=lambda role: allowed((method, path), role)):
        response = call(api, method, path, api.headers(role))
        if allowed((method, path), role):
            if response.status_code in (401, 403) or response.status_code >= 500:
                wrong[role] = f"{response.status_code} {response.text[:200]}"
        else:
            try:
                problem_403(response)
            except AssertionError:
                wrong[role] = f"{response.status_code} (403 expected) {response.text[:200]}"
    assert wrong == {}


def test_an_auditor_is_refused_every_write(api: Api) -> None:
    writes = [(m, p) for m, p in TABLE if m in ("POST", "PATCH", "PUT", "DELETE")
              and (m, p) not in NOT_WRITES]
    assert len(writes) >= 6
    statuses = {f"{m} {p}": call(api, m, p, api.headers("auditor")).status_code
                for m, p in writes}
    assert statuses == {route: 403 for route in statuses}


def test_public_routes_need_no_token(api: Api) -> None:
    assert api.client.get("/health").status_code == 200
    response = api.client.post(f"{BASE}/auth/token", json=INVALID_BODY)
    assert response.status_code == 422, response.text


# --- bad tokens: 401 with WWW-Authenticate: Bearer ---------------------------------------------

E = f"{BASE}/ledger/entries"
GRANT = {"narration": "Grant received", "postings": [{"account": "1010", "debit": "10.00"},
                                                    {"account": "4200", "credit": "10.00"}]}
# (method, path, body, status for a good admin token)
REPRESENTATIVE = [
    ("GET", f"{BASE}/me", None, 200),
    ("GET", f"{BASE}/ledger/trial-balance", None, 200),
    ("POST", E, GRANT, 201),
    ("PATCH", f"{BASE}/society", {"name": "Renamed Society"}, 200),
]


def second_admin(api: Api) -> tuple[str, str]:
    """Another admin (username, token), so the fixture's admin can disable or log it out."""
    created = api.post(f"{BASE}/users", {"username": "admin2", "password": PASSWORD,
                                         "role": "admin"})
    assert created.status_code == 201, created.text
    token = api.client.post(f"{BASE}/auth/token",
                            json={"username": "admin2", "password": PASSWORD})
    assert token.status_code == 200, token.text
    return "admin2", token.json()["access_token"]


def no_header(api: Api) -> dict[str, str]:
    return {}


def basic_scheme(api: Api) -> dict[str, str]:
    return {"Authorization": "Basic YWRtaW46Y29ycmVjdCBob3JzZSBiYXR0ZXJ5"}


def bearer_without_token(api: Api) -> dict[str, str]:
    return {"Authorization": "Bearer "}


def token_without_scheme(api: Api) -> dict[str, str]:
    return {"Authorization": api.tokens["admin"]}


def other_scheme_with_a_good_token(api: Api) -> dict[str, str]:
    return {"Authorization": f"Token {api.tokens['admin']}"}


def random_token(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}


def expired_token(api: Api) -> dict[str, str]:
    api.clock.instant = datetime(2025, 6, 30, 8, 0, 1, tzinfo=UTC)  # issued at 00:00 UTC
    return api.headers("admin")


def revoked_token(api: Api) -> dict[str, str]:
    _, token = second_admin(api)
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.post(f"{BASE}/auth/logout", headers=headers).status_code == 204
    return headers


def tampered_token(api: Api) -> dict[str, str]:
    token = api.tokens["admin"]
    i = len(token) // 2
    changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
    return {"Authorization": f"Bearer {changed}"}


def disabled_user(api: Api) -> dict[str, str]:
    username, token = second_admin(api)
    response = api.client.patch(f"{BASE}/users/{username}", json={"disabled": True},
                                headers=api.headers("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["disabled"] is True
    return {"Authorization": f"Bearer {token}"}


BAD: list[Callable[[Api], dict[str, str]]] = [
    no_header, basic_scheme, bearer_without_token, token_without_scheme,
    other_scheme_with_a_good_token, random_token, expired_token, revoked_token, tampered_token,
    disabled_user,
]


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.headers.get("www-authenticate") == "Bearer"
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 401
    assert body["type"] == "urn:coop:problem:not-authenticated"
    assert body["title"] and body["detail"]
    assert api_token_not_echoed(response)


def api_token_not_echoed(response: httpx.Response) -> bool:
    sent = response.request.headers.get("authorization", "")
    token = sent.partition(" ")[2] or sent
    return len(token) < 20 or token not in response.text


def entry_count(api: Api) -> int:
    response = api.get(E, params={"limit": 500})
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


@pytest.mark.parametrize("bad", BAD, ids=[f.__name__ for f in BAD])
@pytest.mark.parametrize(("method", "path", "body", "ok"), REPRESENTATIVE,
                         ids=[f"{m} {p}" for m, p, _, _ in REPRESENTATIVE])
def test_bad_credentials_are_401(
    api: Api, bad: Callable[[Api], dict[str, str]], method: str, path: str,
    body: dict[str, Any] | None, ok: int,
) -> None:
    headers = bad(api)
    assert_401(api.client.request(method, path, headers=headers, json=body))
    api.clock.instant = None
    assert entry_count(api) == 0
    assert api.get(f"{BASE}/society").json()["name"] == "Test Society"
    # the same request with a good token goes through (so the 401 was the token's doing)
    good = api.client.request(method, path, headers=api.headers("admin"), json=body)
    assert good.status_code == ok, good.text


def test_bad_credentials_beat_the_role_check(api: Api) -> None:
    """A disallowed role with a bad token is told 401, not 403 (nothing about roles leaks)."""
    headers = {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}
    for method, path in TABLE:
        if EXPECTED.get((method, path)) == PUBLIC:
            continue
        assert_401(call(api, method, path, headers))


def test_token_lives_eight_hours(api: Api) -> None:
    login = api.client.post(f"{BASE}/auth/token",
                            json={"username": "auditor1", "password": PASSWORD})
    assert login.status_code == 200, login.text
    assert login.json()["expires_in"] == 8 * 3600
    assert login.json()["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    issued = datetime(2025, 6, 30, tzinfo=UTC)
    api.clock.instant = issued + timedelta(hours=8) - timedelta(seconds=1)
    assert api.client.get(f"{BASE}/me", headers=headers).status_code == 200
    api.clock.instant = issued + timedelta(hours=8)
    assert_401(api.client.get(f"{BASE}/me", headers=headers))
    # moving the business date on a day expires it too
    api.clock.instant = None
    api.clock.business_date = issued.date() + timedelta(days=1)
    assert_401(api.client.get(f"{BASE}/me", headers=api.headers("board")))


def test_logout_revokes_only_that_token(api: Api) -> None:
    _, token = second_admin(api)
    other = api.client.post(f"{BASE}/auth/token",
                            json={"username": "admin2", "password": PASSWORD}).json()
    first = {"Authorization": f"Bearer {token}"}
    second = {"Authorization": f"Bearer {other['access_token']}"}
    assert api.client.post(f"{BASE}/auth/logout", headers=first).status_code == 204
    assert_401(api.client.get(f"{BASE}/me", headers=first))
    assert_401(api.client.post(f"{BASE}/auth/logout", headers=first))
    assert api.client.get(f"{BASE}/me", headers=second).json()["username"] == "admin2"


def test_disabling_a_user_revokes_her_tokens_and_login_until_enabled(api: Api) -> None:
    username, token = second_admin(api)
    headers = {"Authorization": f"Bearer {token}"}
    patch = api.client.patch(f"{BASE}/users/{username}", json={"disabled": True},
                             headers=api.headers("admin"))
    assert patch.status_code == 200, patch.text
    assert_401(api.client.get(f"{BASE}/me", headers=headers))
    login = api.client.post(f"{BASE}/auth/token",
                            json={"username": username, "password": PASSWORD})
    assert login.status_code == 401
    assert login.headers["content-type"].startswith("application/problem+json")
    enable = api.client.patch(f"{BASE}/users/{username}", json={"disabled": False},
                              headers=api.headers("admin"))
    assert enable.status_code == 200 and enable.json()["disabled"] is False
    assert_401(api.client.get(f"{BASE}/me", headers=headers))  # stays revoked
    again = api.client.post(f"{BASE}/auth/token",
                            json={"username": username, "password": PASSWORD})
    assert again.status_code == 200, again.text
    fresh = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert api.client.get(f"{BASE}/me", headers=fresh).json()["role"] == "admin"
