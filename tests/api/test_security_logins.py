"""Security review findings on logins and users (issue 15, findings 3, 5, 6, 8, 13): each
test reproduces what the review did and shows it is refused now."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from coop import auth
from coop.cli import app as cli
from coop.db import Database
from coop.errors import InvalidInput
from tests.api.conftest import PASSWORD, TEST_PASSWORDS, TEST_VAULT, Api
from tests.conftest import PG_URL, reset_postgres


def login(api: Api, username: str, password: str) -> int:
    return api.client.post("/api/v1/auth/token",
                           json={"username": username, "password": password}).status_code


# --- finding 5: weak passwords --------------------------------------------------------------

def test_the_thousand_most_common_passwords_are_refused(figure: Callable[[str], None]) -> None:
    common = FREQUENCY_LISTS["passwords"][:1000]
    refused = 0
    for candidate in common:
        try:
            auth.check_password_rules(candidate, username="clerk9")
        except InvalidInput as error:
            assert error.field == "password"
            refused += 1
    figure(f"passwords refused: {refused} of the 1,000 most common")
    assert refused == 1000
    for weak in ("        ", "password", "12345678", "clerk9clerk9", "aaaaaaaaaaaa", "qwertyuiop"):
        with pytest.raises(InvalidInput):
            auth.check_password_rules(weak, username="clerk9")
    auth.check_password_rules(PASSWORD, username="clerk9")  # a phrase of words passes


def test_the_current_password_is_not_a_new_one(api: Api) -> None:
    headers = api.headers("clerk")
    same = api.client.post("/api/v1/auth/password", headers=headers, json={
        "current_password": PASSWORD, "new_password": PASSWORD})
    assert same.status_code == 422 and same.json()["errors"][0]["field"] == "password"
    weak = api.client.post("/api/v1/auth/password", headers=headers, json={
        "current_password": PASSWORD, "new_password": "password"})
    assert weak.status_code == 422
    assert login(api, "clerk1", PASSWORD) == 200  # nothing changed
    made = api.post("/api/v1/users", {"username": "clerk7", "password": "12345678",
                                      "role": "clerk"})
    assert made.status_code == 422


# --- finding 6: the last admin --------------------------------------------------------------

def test_the_only_admin_cannot_disable_or_demote_herself(api: Api) -> None:
    assert api.client.patch("/api/v1/users/admin", headers=api.headers("admin"),
                            json={"disabled": True}).status_code == 409
    demoted = api.client.patch("/api/v1/users/admin", headers=api.headers("admin"),
                               json={"role": "clerk"})
    assert demoted.status_code == 409 and demoted.json()["type"].endswith("last-admin")
    assert login(api, "admin", PASSWORD) == 200
    made = api.post("/api/v1/users", {"username": "admin2", "password": "second admin phrase",
                                      "role": "admin"})
    assert made.status_code == 201, made.text
    assert api.client.patch("/api/v1/users/admin", headers=api.headers("admin"),
                            json={"disabled": True}).status_code == 200
    assert login(api, "admin", PASSWORD) == 401
    assert login(api, "admin2", "second admin phrase") == 200


def test_an_admin_resets_a_password_and_changes_a_role(api: Api) -> None:
    reset = api.client.patch("/api/v1/users/clerk1", headers=api.headers("admin"),
                             json={"password": "a fresh counter phrase"})
    assert reset.status_code == 200, reset.text
    assert api.get("/api/v1/me", role="clerk").status_code == 401  # her tokens are revoked
    assert login(api, "clerk1", "a fresh counter phrase") == 200
    role = api.client.patch("/api/v1/users/clerk1", headers=api.headers("admin"),
                            json={"role": "auditor"})
    assert role.status_code == 200 and role.json()["role"] == "auditor"


# --- findings 3, 8 and 13: the throttle and the password check ------------------------------

def test_a_hundred_guesses_at_once_get_at_most_five_checks(
        api: Api, monkeypatch: pytest.MonkeyPatch, figure: Callable[[str], None]) -> None:
    checks = []
    real = auth.check_attempt

    def counted(attempt: auth.LoginAttempt, password: str, passwords: auth.Passwords) -> bool:
        checks.append(attempt.slot_id)
        return real(attempt, password, passwords)

    monkeypatch.setattr(auth, "check_attempt", counted)
    gate = threading.Barrier(40)
    codes: list[int] = []

    def guess(n: int) -> None:
        gate.wait()
        for _ in range(3):
            try:
                auth.log_in(api.db, username="clerk1", password=f"guess {n} {_}",
                            address=f"10.0.0.{n}", passwords=TEST_PASSWORDS, clock=api.clock,
                            digest=lambda text: TEST_VAULT.keyed_digest("login-username", text))
                codes.append(200)
            except auth.TooManyLogins:
                codes.append(429)
            except auth.LoginFailed:
                codes.append(401)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figure(f"login throttle: 120 concurrent guesses, {len(checks)} password checks "
           f"(limit {auth.LOGIN_FAILURES_MAX_PER_USER})")
    assert len(checks) <= auth.LOGIN_FAILURES_MAX_PER_USER
    assert codes.count(401) == len(checks) and codes.count(429) == 120 - len(checks)


def test_unknown_usernames_are_kept_only_as_a_keyed_digest(
        api: Api, caplog: pytest.LogCaptureFixture) -> None:
    typed = "my-secret-passphrase-typed-here"
    assert login(api, typed, PASSWORD) == 401
    assert login(api, "clerk1", "wrong guess here") == 401

    def stored(session: auth.Session) -> list[str]:
        return list(session.scalars(select(auth.LoginFailureRow.username)))

    names = api.db.read(stored)
    assert "clerk1" in names  # a real username is kept as it is
    assert typed not in " ".join(names) and typed not in caplog.text
    digest = "?" + TEST_VAULT.keyed_digest("login-username", typed)[:40]
    assert digest in names  # the same typing counts against itself


def test_a_password_check_never_holds_the_writer(api: Api,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """While a login's password is being checked, other writes go through at once."""
    checking, release = threading.Event(), threading.Event()
    real = auth.check_attempt

    def slow(attempt: auth.LoginAttempt, password: str, passwords: auth.Passwords) -> bool:
        checking.set()
        release.wait(10)
        return real(attempt, password, passwords)

    monkeypatch.setattr(auth, "check_attempt", slow)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(login(api, "clerk1", PASSWORD)))
    thread.start()
    assert checking.wait(10)
    started = time.monotonic()
    api.db.write(lambda s: auth.record_audit(s, auth.Principal(0, "t", auth.Role.ADMIN, None),
                                             action="probe", status=200, clock=api.clock))
    waited = time.monotonic() - started
    release.set()
    thread.join()
    assert waited < 1.0 and result == [200]


# --- finding 6: users on the machine ---------------------------------------------------------

def test_coop_users_recovers_a_locked_out_society(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  template: str) -> None:
    url = PG_URL or f"sqlite:///{tmp_path}/users.db"
    if PG_URL:
        reset_postgres(PG_URL)
    monkeypatch.setenv("COOP_DATABASE_URL", url)
    monkeypatch.setenv("COOP_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.setenv("COOP_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("COOP_ADMIN_PASSWORD", "first admin phrase here")
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    added = runner.invoke(cli, ["users", "add", "clerk2", "--role", "clerk"])
    assert added.exit_code == 0 and "Password:" in added.output, added.output
    weak = runner.invoke(cli, ["users", "reset-password", "admin", "--password", "password"])
    assert weak.exit_code != 0 and "too easy to guess" in str(weak.exception)
    last = runner.invoke(cli, ["users", "disable", "admin"])
    assert last.exit_code != 0 and "only active admin" in str(last.exception)
    reset = runner.invoke(cli, ["users", "reset-password", "admin"],
                          env={"COOP_NEW_PASSWORD": "recovered admin phrase"})
    assert reset.exit_code == 0, reset.output
    listed = runner.invoke(cli, ["users", "list"])
    assert "clerk2" in listed.output and "admin" in listed.output
    db = Database(url)
    try:
        user = db.read(lambda s: auth.get_user(s, "admin"))
        assert TEST_PASSWORDS.hasher().verify(user.password_hash, "recovered admin phrase")
    finally:
        db.dispose()



