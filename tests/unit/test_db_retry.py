"""Database.write reruns a transaction after a deadlock or serialization failure, and only
then; anything else surfaces at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from coop.db import WRITE_ATTEMPTS_MAX, Database, is_retryable


class FakeDriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def failure(sqlstate: str) -> DBAPIError:
    return DBAPIError("UPDATE ...", {}, FakeDriverError(sqlstate))


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path}/retry.db", pool_size=1)
    yield database  # type: ignore[misc]
    database.dispose()


def test_a_deadlock_is_rerun_and_then_succeeds(db: Database) -> None:
    calls = []

    def work(_: object) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise failure("40P01" if len(calls) == 1 else "40001")
        return "done"

    assert db.write(work) == "done"
    assert len(calls) == 3


def test_a_persistent_deadlock_gives_up_after_the_last_attempt(db: Database) -> None:
    calls = []

    def work(_: object) -> None:
        calls.append(1)
        raise failure("40P01")

    with pytest.raises(DBAPIError):
        db.write(work)
    assert len(calls) == WRITE_ATTEMPTS_MAX


def test_other_database_errors_are_not_rerun(db: Database) -> None:
    calls = []

    def work(_: object) -> None:
        calls.append(1)
        raise IntegrityError("INSERT ...", {}, FakeDriverError("23505"))

    with pytest.raises(IntegrityError):
        db.write(work)
    assert len(calls) == 1
    assert not is_retryable(ValueError("40P01"))


def test_a_deadlock_raised_straight_by_the_driver_is_rerun(db: Database) -> None:
    """The hot path's statements run on the driver's own cursor (coop.ledger.service._Raw):
    on PostgreSQL its deadlock is psycopg's exception, not SQLAlchemy's. It was not rerun."""
    calls = []

    def work(_: object) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise FakeDriverError("40P01")
        return "done"

    assert db.write(work) == "done"
    assert len(calls) == 2
    assert is_retryable(FakeDriverError("40001")) and not is_retryable(FakeDriverError("23505"))
