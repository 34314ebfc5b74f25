"""tests/snapshot.py: a database put back as it was, on SQLite and PostgreSQL (the stateful
Schemathesis run relies on it for scenarios that cannot see each other's writes)."""

from __future__ import annotations

from sqlalchemy import func, select

from coop import auth
from coop.auth import UserRow as User
from coop.clock import FixedClock
from coop.db import Database
from tests.api.conftest import PASSWORD, TEST_PASSWORDS
from tests.snapshot import Snapshot


def users(db: Database) -> int:
    return int(db.read(lambda s: s.scalar(select(func.count()).select_from(User))))


def add_user(db: Database, clock: FixedClock, name: str) -> None:
    db.write(lambda s: auth.create_user(s, username=name, password=PASSWORD, role="clerk",
                                        member_code=None, passwords=TEST_PASSWORDS,
                                        clock=clock))


def test_restore_puts_back_what_the_copy_held_and_drop_removes_it(
    db: Database, clock: FixedClock
) -> None:
    add_user(db, clock, "before")
    snapshot = Snapshot(db)
    try:
        add_user(db, clock, "after1")
        add_user(db, clock, "after2")
        assert users(db) == 3  # negative control: the writes are there until the restore
        snapshot.restore()
        assert users(db) == 1
        add_user(db, clock, "again")  # the restored database takes writes (pools refilled)
        assert users(db) == 2
        snapshot.restore()
        assert users(db) == 1
    finally:
        snapshot.drop()
    add_user(db, clock, "last")
    assert users(db) == 2
