"""Test fixtures: a fresh, migrated database per test, on SQLite or on PostgreSQL.

COOP_TEST_DATABASE_URL chooses the engine (unset: SQLite files under pytest's tmp dir). On
SQLite each test gets a copy of a template file migrated once per run. On PostgreSQL the schema
is migrated once per run and each test starts from emptied tables (the immutability triggers
are bypassed for that cleanup only, with session_replication_role = replica).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from coop import migrate
from coop.clock import FixedClock
from coop.db import Database
from coop.schema import metadata
from coop.society import init_society

settings.register_profile(
    "ci", max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "dev", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

def _worker_database(url: str | None, worker: str | None) -> str | None:
    """With pytest-xdist each worker gets a database of its own beside the one named
    (`test_gw0`, `test_gw1`, created when missing), so PostgreSQL runs on several workers."""
    if not url or not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                        {"n": name}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


PG_URL = _worker_database(os.environ.get("COOP_TEST_DATABASE_URL"),
                          os.environ.get("PYTEST_XDIST_WORKER"))
BUSINESS_DATE = date(2025, 6, 30)


def is_postgres() -> bool:
    return bool(PG_URL)


def reset_postgres(url: str) -> None:
    """Drop everything in the public schema (tables, functions, alembic's version)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database to copy (SQLite) or to empty (PostgreSQL) for each test."""
    if PG_URL:
        reset_postgres(PG_URL)
        db = Database(PG_URL, pool_size=2)
        migrate.upgrade(db.writer)
        db.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}", pool_size=1)
    migrate.upgrade(db.writer)
    db.dispose()
    return str(path)


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        # A connection an earlier test left behind (a request's thread still reading when its
        # test ended) would hold locks the TRUNCATE waits for, or deadlock with it.
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE gives each of some
        # forty tables a new file (80 ms a test against 20). The triggers (immutable rows)
        # do not fire for this session; every sequence starts again at 1.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(";".join(f"DELETE FROM {t.name}" for t in metadata.sorted_tables)))
        conn.execute(text("SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'"))
    engine.dispose()


@pytest.fixture
def database_url(template: str, tmp_path: Path) -> str:
    if PG_URL:
        _empty_postgres(PG_URL)
        return PG_URL
    target = tmp_path / "coop.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(BUSINESS_DATE)


@pytest.fixture
def empty_db(database_url: str) -> Iterator[Database]:
    """A migrated database with nothing in it."""
    db = Database(database_url, pool_size=12)
    yield db
    db.dispose()


@pytest.fixture
def db(empty_db: Database, clock: FixedClock) -> Database:
    """A migrated database with the society and its default chart set up."""
    empty_db.write(
        lambda s: init_society(s, name="Test Society", currency="INR", locale="en_IN",
                               clock=clock)
    )
    return empty_db


FIGURES_FILE = Path(__file__).resolve().parent.parent / "test-artifacts" / "figures.txt"


def pytest_configure(config: pytest.Config) -> None:
    """A fresh figures file for the run (by the controller when pytest-xdist runs workers)."""
    if not hasattr(config, "workerinput"):
        FIGURES_FILE.parent.mkdir(exist_ok=True)
        FIGURES_FILE.write_text("")


@pytest.fixture
def figure() -> Callable[[str], None]:
    """Report a figure a test measured (the restore drill's times, the disk-full answer): it
    is printed and collected in a file that the terminal summary shows as "figures", so a
    passing CI run shows it too, with or without worker processes."""
    def report(line: str) -> None:
        print(line, flush=True)
        with FIGURES_FILE.open("a") as handle:
            handle.write(line + "\n")

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    lines = FIGURES_FILE.read_text().splitlines() if FIGURES_FILE.exists() else []
    if lines and not hasattr(config, "workerinput"):
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)
