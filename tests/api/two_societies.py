"""Two societies, North and South, each with its own database (a SQLite file each, or a
PostgreSQL database each beside the test database: <test db>_north, <test db>_south), its own
vault key file and its own users, served by one federation (coop.api.federation); and the
checks that one society's users, tokens, members and money never reach the other."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import httpx
from litestar.testing import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from coop import auth, members, migrate
from coop.api import create_app
from coop.api.federation import Federation, create_federation
from coop.clock import FixedClock
from coop.config import Settings
from coop.db import Database
from coop.members.vault import Vault, create_key_file
from coop.schema import metadata
from coop.societies import SocietyConfig
from coop.society import init_society
from tests.api.conftest import TEST_PASSWORDS
from tests.conftest import PG_URL, _worker_database, reset_postgres

NAMES = ("north", "south")
HOSTS = {"north": "north.coop.test", "south": "south.coop.test"}
PASSWORDS = {"north": "northern admin passphrase", "south": "southern admin passphrase"}
CLERK_PASSWORD = "a clerk's own passphrase"
_MIGRATED: set[str] = set()


def society_urls(template: str, tmp_path: Path) -> dict[str, str]:
    """An empty, migrated database for each society: a copy of the template file each, or a
    PostgreSQL database each (made and migrated once per test process, emptied per test)."""
    if not PG_URL:
        urls = {}
        for name in NAMES:
            shutil.copyfile(template, tmp_path / f"{name}.db")
            urls[name] = f"sqlite:///{tmp_path / f'{name}.db'}"
        return urls
    return {name: _postgres_database(f"{make_url(PG_URL).database}_{name}") for name in NAMES}


def _postgres_database(name: str) -> str:
    url = _worker_database(PG_URL, name.rsplit("_", 1)[1]) or ""
    if name not in _MIGRATED:
        reset_postgres(url)
        db = Database(url, pool_size=2)
        migrate.upgrade(db.writer)
        db.dispose()
        _MIGRATED.add(name)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)} "
                          "RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@dataclass
class Society:
    config: SocietyConfig
    db: Database
    member_code: str

    @property
    def name(self) -> str:
        return self.config.name


def set_up(name: str, url: str, keys: Path, clock: FixedClock) -> Society:
    """The society in its database: the chart, an admin and a clerk (passwords of its own),
    one member; its own vault key file."""
    key_file = keys / f"{name}.key"
    create_key_file(key_file)
    config = SocietyConfig(name=name, hosts=(HOSTS[name],), settings=Settings(
        database_url=url, data_key_file=key_file, backup_key_file=keys / f"{name}-b.key",
        pool_size=8))
    db = Database(url, pool_size=8)
    vault = Vault.from_file(key_file)

    def create(session: Any) -> str:
        init_society(session, name=f"{name.title()} Society", currency="INR",
                     locale="en_IN", clock=clock)
        for username, role, password in (("admin", "admin", PASSWORDS[name]),
                                         ("clerk1", "clerk", CLERK_PASSWORD)):
            auth.create_user(session, username=username, password=password, role=role,
                             member_code=None, passwords=TEST_PASSWORDS, clock=clock)
        return members.register_member(session, identity=members.Identity(known_as=name),
                                       joined_on=None, vault=vault, clock=clock).code

    return Society(config=config, db=db, member_code=db.write(create))


def two_societies(template: str, tmp_path: Path,
                  clock: FixedClock) -> Iterator[dict[str, Society]]:
    """North and South, set up in their own databases (the fixture `societies`)."""
    urls = society_urls(template, tmp_path)
    made = {name: set_up(name, urls[name], tmp_path / "keys", clock) for name in NAMES}
    yield made
    for society in made.values():
        society.db.dispose()


def federation_of(societies: dict[str, Society], clock: FixedClock, *,
                  database_of: Callable[[str], Database] | None = None) -> Federation:
    """The federation of these societies, each app on its own database, or on the one
    `database_of(name)` says (a broken dispatcher, for the negative control)."""
    def build(config: SocietyConfig) -> Any:
        db = database_of(config.name) if database_of else societies[config.name].db
        return create_app(config.settings, db=db, clock=clock, passwords=TEST_PASSWORDS)

    return create_federation([society.config for society in societies.values()], build=build)


@dataclass
class Reach:
    """How a client (the test client, or httpx against a real server) reaches a society: by
    its path prefix, or by its host name."""

    client: TestClient[Any] | httpx.Client
    by_host: bool = False

    def url(self, name: str, path: str) -> str:
        return path if self.by_host else f"/s/{name}{path}"

    def headers(self, name: str, token: str | None = None) -> dict[str, str]:
        headers = {"Host": HOSTS[name]} if self.by_host else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def get(self, name: str, path: str, token: str | None = None) -> httpx.Response:
        return self.client.get(self.url(name, f"/api/v1{path}"),
                               headers=self.headers(name, token))

    def post(self, name: str, path: str, body: Any, token: str | None = None) -> httpx.Response:
        return self.client.post(self.url(name, f"/api/v1{path}"), json=body,
                                headers=self.headers(name, token))

    def token(self, name: str, username: str, password: str) -> httpx.Response:
        return self.post(name, "/auth/token", {"username": username, "password": password})


def balances(reach: Reach, name: str, token: str) -> dict[str, str]:
    answer = reach.get(name, "/ledger/accounts", token)
    assert answer.status_code == 200, answer.text
    return {item["code"]: item["balance"] for item in answer.json()["items"]}


class Party(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def member_code(self) -> str: ...


def check_isolated(reach: Reach, north: Party, south: Party, *,
                   passwords: dict[str, str] = PASSWORDS) -> None:
    """What one society's admin password, token, member number and deposit reach in the
    other: nothing. Raises AssertionError naming the first thing that crossed over."""
    n, s = north.name, south.name
    logged = reach.token(n, "admin", passwords[n])
    assert logged.status_code == 200, logged.text
    token_n = logged.json()["access_token"]
    crossed = reach.token(s, "admin", passwords[n])
    assert crossed.status_code == 401, f"North's password logs in at South: {crossed.text}"
    logged = reach.token(s, "admin", passwords[s])
    assert logged.status_code == 200, f"South's admin cannot log in at South: {logged.text}"
    token_s = logged.json()["access_token"]
    assert reach.get(n, "/me", token_n).status_code == 200  # a token in use ...
    me = reach.get(s, "/me", token_n)  # ... copied to the other society
    assert me.status_code == 401, f"North's token is good at South: {me.text}"

    assert reach.get(n, f"/members/{north.member_code}", token_n).status_code == 200
    theirs = reach.get(s, f"/members/{north.member_code}", token_s)
    assert theirs.status_code == 404, f"North's member is found at South: {theirs.text}"

    def books() -> dict[str, Any]:
        """Each book's balances, its check, and its own member's savings lines."""
        return {name: (balances(reach, name, token),
                       reach.get(name, "/ledger/verify", token).json(),
                       reach.get(name, f"/members/{party.member_code}/savings/transactions",
                                 token).json())
                for name, token, party in ((n, token_n, north), (s, token_s, south))}

    before = books()
    deposit = reach.post(n, f"/members/{north.member_code}/deposits", {"amount": "123.45"},
                         token_n)
    assert deposit.status_code == 201, deposit.text
    after = books()
    assert after[s] == before[s], f"North's deposit shows at South: {before[s]} {after[s]}"
    grown = Decimal(after[n][0]["2000"]) - Decimal(before[n][0]["2000"])
    assert grown == Decimal("123.45"), (before[n], after[n])
    assert after[n][1]["entries_checked"] == before[n][1]["entries_checked"] + 1
    assert after[n][1]["ok"] and after[s][1]["ok"], after
    assert after[n][2]["items"][-1]["deposit"] == "123.45", after[n][2]
