"""Finding members and managing users, through the real app: POST /members/find (by name,
Kannada too, and by phone: all who share it; each one listed a logged read, the answer never
stored); the counter's one find box and its registration (a phone on record warned about,
the first shares bought in the same transaction); users made, reset, disabled and enabled at
the counter; a reset password changed first; a member logging in with her number and a PIN."""

from __future__ import annotations

import re
from contextlib import ExitStack

from litestar.testing import TestClient
from sqlalchemy import func, select

from coop.auth import AuditRow, IdempotencyRow
from coop.members import AccessLogRow
from coop.members.blind import SearchIndexRow
from tests.api.conftest import PASSWORD, Api
from tests.api.test_counter_pages import fields, login

BASE = "/api/v1"
C = "/counter"
KANNADA = "ಲಕ್ಷ್ಮಿ ದೇವಿ"
PIN = "739154"


def register(api: Api, **identity: str) -> str:
    made = api.post(f"{BASE}/members", identity, role="clerk")
    assert made.status_code == 201, made.text
    return str(made.json()["code"])


def find(api: Api, q: str, role: str = "clerk") -> dict[str, object]:
    found = api.post(f"{BASE}/members/find", {"q": q}, role=role)
    assert found.status_code == 200, found.text
    return dict(found.json())


def test_find_by_name_and_by_phone_lists_everyone_and_logs_each(api: Api) -> None:
    lakshmi = register(api, known_as=KANNADA, phone="98450 12345")
    asha = register(api, known_as="Asha Devi", phone="+91 98450 12345")
    assert find(api, "ಲಕ್ಷ್ಮಿ") == {"found_by": "name", "more": False, "items": [
        {"code": lakshmi, "status": "active", "known_as": KANNADA}]}
    by_phone = find(api, "098450 12345", role="admin")
    assert by_phone["found_by"] == "phone"
    assert sorted(m["code"] for m in by_phone["items"]) == sorted([lakshmi, asha])  # type: ignore[attr-defined,index]
    assert find(api, "devi asha")["items"] == [
        {"code": asha, "status": "active", "known_as": "Asha Devi"}]
    assert find(api, "ash")["items"] == []
    assert find(api, asha)["found_by"] == "number"
    logged = api.db.read(lambda s: s.scalar(select(func.count()).select_from(AccessLogRow)))
    assert logged == 1 + 2 + 1 + 1
    audited = api.db.read(lambda s: s.scalar(select(func.count()).select_from(AuditRow).where(
        AuditRow.action == "POST /api/v1/members/find")))
    assert audited == 5
    # names never stored for a retry, even with a key
    api.post(f"{BASE}/members/find", {"q": "asha"}, role="clerk", key="k-find-1")
    assert api.db.read(lambda s: s.scalar(select(func.count()).select_from(IdempotencyRow))) == 0
    for who in ("auditor", "member", "board"):
        assert api.post(f"{BASE}/members/find", {"q": "asha"}, role=who).status_code == 403
    assert api.post(f"{BASE}/members/find", {"q": ""}, role="clerk").status_code == 422
    bad_phone = api.post(f"{BASE}/members/find", {"q": "+1"}, role="clerk")
    assert bad_phone.status_code == 422 and bad_phone.json()["errors"][0]["field"] == "phone"


def _counter(stack: ExitStack, api: Api, username: str, password: str = PASSWORD) -> TestClient:
    client = stack.enter_context(TestClient(app=api.app))
    response = login(client, username, password)
    assert response.status_code == 303, response.text
    return client


def test_the_counter_finds_by_name_and_phone_and_registration_warns(api: Api) -> None:
    with ExitStack() as stack:
        clerk = _counter(stack, api, "clerk1")
        home = clerk.get(f"{C}/")
        csrf = fields(home.text, "find-form")["csrf"]
        first = register(api, known_as="Asha Devi", phone="98450 12345")
        found = clerk.post(f"{C}/find", data={"csrf": csrf, "code": "asha"})
        assert found.status_code == 200 and first in found.text and "Asha Devi" in found.text
        by_phone = clerk.post(f"{C}/find", data={"csrf": csrf, "code": "+91 98450 12345"})
        assert by_phone.status_code == 200 and first in by_phone.text
        nobody = clerk.post(f"{C}/find", data={"csrf": csrf, "code": "ash"})
        assert nobody.status_code == 404 and "whole words" in nobody.text
        number = clerk.post(f"{C}/find", data={"csrf": csrf, "code": first.lower()},
                            follow_redirects=False)
        assert number.status_code == 303 and number.headers["location"].endswith(first)

        form = clerk.get(f"{C}/register")
        assert 'id="shares" name="shares" value="1"' in form.text
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text).group(1)  # type: ignore[union-attr]
        posted = {"csrf": token, "known_as": "Bina", "phone": "9845012345", "shares": "2"}
        warned = clerk.post(f"{C}/register", data=posted)
        assert warned.status_code == 409 and first in warned.text
        assert 'id="phone-on-record"' in warned.text
        confirm = fields(warned.text, "register-form") if 'id="register-form"' in warned.text \
            else dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                                 warned.text))
        done = clerk.post(f"{C}/register", data={**posted, **confirm},
                          follow_redirects=False)
        assert done.status_code == 303, done.text
        second = re.search(r"/counter/members/([^?]+)\?", done.headers["location"]).group(1)  # type: ignore[union-attr]
        assert api.get(f"{BASE}/members/{second}", role="clerk").json()["shares"] == {
            "count": 2, "value": "20.00"}
        assert sorted(m["code"] for m in find(api, "98450 12345")["items"]) == sorted(  # type: ignore[attr-defined,index]
            [first, second])
        too_few = clerk.post(f"{C}/register", data={**posted, **confirm, "shares": "0"})
        assert too_few.status_code == 422 and 'id="shares-error"' in too_few.text


def test_an_admin_makes_logins_resets_disables_and_a_member_uses_a_pin(api: Api) -> None:
    code = register(api, known_as="Kavya")
    with ExitStack() as stack:
        admin = _counter(stack, api, "admin")
        page = admin.get(f"{C}/users")
        assert page.status_code == 200 and "votes count for her seat" in page.text
        csrf = fields(page.text, "new-user")["csrf"]
        trivial = admin.post(f"{C}/users", data={
            "csrf": csrf, "role": "member", "member_code": code, "password": "123456",
            "password_again": "123456"})
        assert trivial.status_code == 422 and "too easy" in trivial.text
        made = admin.post(f"{C}/users", data={
            "csrf": csrf, "role": "member", "member_code": code.lower(), "password": PIN,
            "password_again": PIN}, follow_redirects=False)
        assert made.status_code == 303, made.text
        clerk = admin.post(f"{C}/users", data={
            "csrf": csrf, "role": "clerk", "username": "clerk9", "password": PASSWORD,
            "password_again": PASSWORD}, follow_redirects=False)
        assert clerk.status_code == 303

        # her login is her member number, typed in any case, and her PIN; she must change it
        token = api.client.post(f"{BASE}/auth/token", json={"username": code, "password": PIN})
        assert token.status_code == 200 and token.json()["must_change_password"] is True
        me = api.client.get(f"{BASE}/me", headers={
            "Authorization": f"Bearer {token.json()['access_token']}"})
        assert me.json()["must_change_password"] is True and me.json()["member_code"] == code

        member = _counter(stack, api, code, PIN)
        forced = member.get(f"{C}/", follow_redirects=False)
        assert forced.status_code == 303 and forced.headers["location"] == "/counter/password"
        own = member.get(f"{C}/members/{code}", follow_redirects=False)
        assert own.headers["location"] == "/counter/password"
        change = member.get(f"{C}/password")
        new_pin = "5830291"
        changed = member.post(f"{C}/password", data={
            **fields(change.text, "password-form"), "current_password": PIN,
            "new_password": new_pin, "new_password_again": new_pin}, follow_redirects=False)
        assert changed.status_code == 303, changed.text
        assert member.get(f"{C}/", follow_redirects=False).headers["location"] == \
            f"/counter/members/{code}"

        # reset by the admin: forced change again; disable and enable
        user = admin.get(f"{C}/users/{code.lower()}")
        reset = admin.post(f"{C}/users/{code.lower()}/password", data={
            **fields(user.text, "reset-form"), "password": "4820617",
            "password_again": "4820617"}, follow_redirects=False)
        assert reset.status_code == 303
        assert _counter(stack, api, code, "4820617").get(
            f"{C}/", follow_redirects=False).headers["location"] == "/counter/password"
        off = admin.post(f"{C}/users/{code.lower()}/access", data={
            **fields(user.text, "access-form")}, follow_redirects=False)
        assert off.status_code == 303
        assert login(TestClient(app=api.app), code, "4820617").status_code == 401
        again = admin.get(f"{C}/users/{code.lower()}")
        on = admin.post(f"{C}/users/{code.lower()}/access",
                        data=fields(again.text, "access-form"), follow_redirects=False)
        assert on.status_code == 303
        assert api.client.post(f"{BASE}/auth/token", json={
            "username": code.lower(), "password": "4820617"}).status_code == 200
        # the last admin cannot disable herself: a page in words
        me_page = admin.get(f"{C}/users/admin")
        last = admin.post(f"{C}/users/admin/access", data=fields(me_page.text, "access-form"))
        assert last.status_code == 409 and 'id="access-error"' in last.text
        assert api.db.read(lambda s: s.scalar(select(func.count()).select_from(AuditRow).where(
            AuditRow.action.like("POST /counter/users%")))) >= 5


def test_pins_only_for_members_and_the_index_rows_follow_registration(api: Api) -> None:
    made = api.post(f"{BASE}/users", {"username": "clerk7", "password": PIN,
                                      "role": "clerk"})
    assert made.status_code == 422  # a six-digit PIN is only a member's
    register(api, known_as="Asha Devi", phone="98450 12345")
    kinds = api.db.read(lambda s: sorted(s.scalars(select(SearchIndexRow.kind))))
    assert kinds == ["name", "name", "phone"]
    patched = api.client.patch(f"{BASE}/users/clerk1", json={"password": "a new long phrase"},
                               headers=api.headers("admin"))
    assert patched.status_code == 200 and patched.json()["must_change_password"] is True


def test_a_members_pin_login_is_throttled_like_every_login(api: Api) -> None:
    code = register(api)
    made = api.post(f"{BASE}/users", {"username": code.lower(), "password": PIN,
                                      "role": "member", "member_code": code})
    assert made.status_code == 201, made.text
    typed = [code, code.lower(), code.replace("-", ""), code, code]  # one name however typed
    for username in typed:
        wrong = api.client.post(f"{BASE}/auth/token", json={"username": username,
                                                            "password": "583920"})
        assert wrong.status_code == 401
    right = api.client.post(f"{BASE}/auth/token", json={"username": code, "password": PIN})
    assert right.status_code == 429


def test_odd_queries_are_refused_in_words(api: Api) -> None:
    for q in ("\\ud800", "asha\\u0000", "a" * 121, "   ", "\\u202easha"):
        found = api.client.post(f"{BASE}/members/find", content=f'{{"q": "{q}"}}',
                                headers=api.headers("clerk", **{
                                    "content-type": "application/json"}))
        assert found.status_code == 422, (q, found.text)
