"""Database.write reruns a transaction after a deadlock or serialization failure, and only
then; anything else surfaces at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from coop.db import (
    WRITE_ATTEMPTS_MAX,
    Database,
    StorageUnavailable,
    is_retryable,
    storage_problem,
)


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


def test_a_deadlock_raised_by_the_drivers_own_cursor_is_rerun_too(db: Database) -> None:
    """The ledger runs its statements on the driver's cursor (psycopg's error, unwrapped):
    a deadlock there was not rerun, and a withdrawal racing a deposit answered 500."""
    calls = []

    def work(_: object) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise FakeDriverError("40P01")
        return "done"

    assert is_retryable(FakeDriverError("40001"))
    assert db.write(work) == "done" and len(calls) == 2
    calls.clear()

    def always(_: object) -> None:
        calls.append(1)
        raise FakeDriverError("40P01")

    with pytest.raises(FakeDriverError):
        db.write(always)
    assert len(calls) == WRITE_ATTEMPTS_MAX


def test_a_full_disk_raised_by_the_drivers_own_cursor_is_a_storage_refusal(
        db: Database) -> None:
    def work(_: object) -> None:
        raise FakeDriverError("53100")

    with pytest.raises(StorageUnavailable):
        db.write(work)
    assert storage_problem(FakeDriverError("53100")) == "the database's disk is full"
    assert storage_problem(ValueError("53100")) is None
