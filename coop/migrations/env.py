"""Alembic environment: the URL comes from COOP_DATABASE_URL (or a connection handed in by
coop.migrate), and the metadata is every coop table."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from coop.config import Settings
from coop.schema import metadata

config = context.config


def run_offline() -> None:
    context.configure(url=Settings.from_env().database_url, target_metadata=metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(Settings.from_env().database_url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
