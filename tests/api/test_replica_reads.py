"""COOP_REPLICA_URL (issue 21): the reads that may lag a moment (reports, the trial balance, the
export, GET /ledger/verify) go to the replica; writes, and the reads a counter acts on, never do.

The replica is a stand-in: on SQLite a copy of the books taken at one moment and opened
read-only, so a report shows the books as they were when it was copied while the counter sees
today's; on PostgreSQL the same database under another connection (a hot standby is
tests/crash/test_failover.py's), read-only as a standby is. On both, each engine's pool counts
the connections it hands out, which says where each request read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from coop.clock import FixedClock
from coop.config import Settings
from coop.db import Database
from coop.errors import CoopError
from coop.society import init_society
from tests.api.conftest import Api
from tests.conftest import is_postgres

M = "/api/v1/members"
REPORTS = ("/api/v1/ledger/trial-balance", "/api/v1/ledger/verify",
           "/api/v1/reports/balance-sheet", "/api/v1/reports/income-expenditure",
           "/api/v1/reports/receipts-payments", "/api/v1/reports/portfolio",
           "/api/v1/ledger/export")


@pytest.fixture
def replica_path(tmp_path: Path) -> Path:
    return tmp_path / "replica.db"


@pytest.fixture
def db(database_url: str, replica_path: Path, clock: FixedClock) -> Iterator[Database]:
    """The test's books with a replica (overrides the conftest's `db` for `api`)."""
    if is_postgres():
        replica = make_url(database_url).update_query_dict(
            {"application_name": "coop-replica"}).render_as_string(hide_password=False)
    else:
        replica = f"sqlite:///file:{replica_path}?mode=ro&uri=true"
    database = Database(database_url, pool_size=12, replica_url=replica)
    database.write(lambda s: init_society(s, name="Test Society", currency="INR",
                                          locale="en_IN", clock=clock))
    yield database
    database.dispose()


def _copy_books(api: Api, replica_path: Path) -> None:
    """SQLite: the replica becomes a copy of the books as they are now."""
    if is_postgres():
        return
    source = sqlite3.connect(str(api.db.url.database))
    target = sqlite3.connect(str(replica_path))
    with target:
        source.backup(target)
    source.close()
    target.close()


class Handed:
    """Connections each pool hands out."""

    def __init__(self, api: Api) -> None:
        self.counts = {"primary": 0, "replica": 0}
        pools = {"primary": (api.db.writer.pool, api.db.reader.pool),
                 "replica": (api.db.replica.pool,)}
        for name, found in pools.items():
            for pool in set(found):
                event.listen(pool, "checkout", lambda *_, n=name: self._count(n))

    def _count(self, name: str) -> None:
        self.counts[name] += 1

    def take(self) -> dict[str, int]:
        counts, self.counts = self.counts, {"primary": 0, "replica": 0}
        return counts


def test_reports_read_the_replica_and_the_counter_the_primary(
        api: Api, replica_path: Path) -> None:
    code = api.member_codes["member"]
    _copy_books(api, replica_path)
    assert api.db.replica is not api.db.reader
    handed = Handed(api)

    deposit = api.post(f"{M}/{code}/deposits", {"amount": "400.00"}, role="clerk", key="r-1")
    assert deposit.status_code == 201, deposit.text
    statement = api.get(f"{M}/{code}/savings/transactions", role="clerk")
    assert statement.json()["items"][-1]["balance"] == "400.00"
    assert handed.take()["replica"] == 0  # the counter's write and reads: the primary only

    for path in REPORTS:
        response = api.get(path, role="auditor" if "verify" in path else "admin")
        assert response.status_code == 200, (path, response.text)
        assert handed.take()["replica"] >= 1, path
    verified = api.get("/api/v1/ledger/verify", role="auditor").json()
    assert verified["ok"] is True, verified

    cash = {row["account"]: row for row in
            api.get("/api/v1/ledger/trial-balance").json()["rows"]}["1000"]
    if is_postgres():  # the same books under another connection
        assert cash["debit"] == "400.00"
    else:  # the copy is the books as they were before the deposit
        assert cash["debit"] == "0.00"
        assert verified["entries_checked"] == 0


def test_a_write_on_the_replica_is_refused(api: Api, replica_path: Path) -> None:
    """The replica's engine is read-only: were a write ever routed there, it would fail."""
    _copy_books(api, replica_path)
    with pytest.raises(DBAPIError, match=r"read-only|readonly"):
        api.db.read_report(lambda s: s.execute(text(
            "UPDATE society SET name = 'changed' WHERE id = 1")))


def test_a_replica_of_another_engine_is_refused(database_url: str, tmp_path: Path) -> None:
    other = "postgresql+psycopg://postgres@127.0.0.1/x" if not is_postgres() \
        else f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(CoopError, match="COOP_REPLICA_URL"):
        Database(database_url, replica_url=other)


def test_the_replica_url_comes_from_the_environment() -> None:
    settings = Settings.from_env({"COOP_REPLICA_URL": "postgresql+psycopg://r@/coop",
                                  "COOP_FAILOVER_WAIT_S": "2.5"})
    assert (settings.replica_url, settings.failover_wait_s) == \
        ("postgresql+psycopg://r@/coop", 2.5)
    assert Settings.from_env({}).replica_url is None
    with pytest.raises(CoopError, match="COOP_FAILOVER_WAIT_S"):
        Settings.from_env({"COOP_FAILOVER_WAIT_S": "soon"})
