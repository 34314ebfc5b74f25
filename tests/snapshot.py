"""A test database put back as it was: `Snapshot(db)` copies it (SQLite: the backup API;
PostgreSQL: CREATE DATABASE ... TEMPLATE), `restore()` puts the copy back, `drop()` removes it.

For runs whose examples must not see each other's writes: Hypothesis replays and extends the
choices of earlier examples and expects the same code under them to draw the same things, so a
stateful run against one database that keeps what every scenario wrote (a member registered
twice answering 409 the second time, the tenth open loan refusing an eleventh) makes its
generation depend on what ran before and fails as FlakyStrategyDefinition.

The Database's pools are emptied before each copy (no connection may be open on a database
that is copied or replaced); they fill again on the next use.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from coop.db import Database


class Snapshot:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.url: URL = db.url
        name = self.url.database or ""
        if db.is_sqlite:
            self.copy = f"{name}.snapshot"
        else:
            self.copy = f"{name}_snapshot"
            self._admin = create_engine(self.url.set(database="postgres"),
                                        isolation_level="AUTOCOMMIT")
        self._close_pools()
        if db.is_sqlite:
            _sqlite_copy(name, self.copy)
        else:
            self._pg(f'DROP DATABASE IF EXISTS "{self.copy}" WITH (FORCE)',
                     f'CREATE DATABASE "{self.copy}" TEMPLATE "{name}"')

    def _close_pools(self) -> None:
        self.db.writer.dispose()
        self.db.reader.dispose()

    def _pg(self, *statements: str) -> None:
        with self._admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))

    def restore(self) -> None:
        self._close_pools()
        name = self.url.database or ""
        if self.db.is_sqlite:
            _sqlite_copy(self.copy, name)
        else:
            self._pg(f'DROP DATABASE "{name}" WITH (FORCE)',
                     f'CREATE DATABASE "{name}" TEMPLATE "{self.copy}"')

    def drop(self) -> None:
        if self.db.is_sqlite:
            Path(self.copy).unlink(missing_ok=True)
        else:
            self._pg(f'DROP DATABASE IF EXISTS "{self.copy}" WITH (FORCE)')
            self._admin.dispose()


def _sqlite_copy(source: str, target: str) -> None:
    """Page by page through SQLite's backup API (the WAL's pages included), into `target`."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
