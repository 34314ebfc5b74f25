"""Migrations: empty to head and back on the test engine, and no drift from the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from coop import migrate
from coop.db import Database
from coop.schema import metadata
from tests.conftest import PG_URL, reset_postgres


def _fresh_url(tmp_path: object) -> str:
    if PG_URL:
        reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path}/migrate.db"


def test_upgrade_from_empty_to_head_then_down_to_base_and_up_again(
    tmp_path: object, template: str
) -> None:
    db = Database(_fresh_url(tmp_path), pool_size=1)
    try:
        migrate.upgrade(db.writer)
        tables = set(inspect(db.writer).get_table_names())
        assert {"ledger_account", "ledger_entry", "ledger_posting", "ledger_book",
                "society"} <= tables
        with db.writer.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        migrate.downgrade(db.writer, "base")
        assert set(inspect(db.writer).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(db.writer)
        with db.writer.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version is not None
    finally:
        db.dispose()
        if PG_URL:  # leave the shared test database migrated for the other tests
            reset_postgres(PG_URL)
            engine = Database(PG_URL, pool_size=1)
            migrate.upgrade(engine.writer)
            engine.dispose()
