"""A full disk or a read-only database: the write is answered with a clear 503 problem,
nothing is posted (the books verify and the balances are those of the writes that were
acknowledged), reads keep working, and writes resume once the storage is back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from coop.db import StorageUnavailable, storage_problem
from coop.ledger.verify import verify
from tests.api.conftest import Api
from tests.conftest import is_postgres

M = "/api/v1/members"


def _problem(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith(  # type: ignore[attr-defined]
        "application/problem+json")
    assert body["type"] == "urn:coop:problem:storage-unavailable", body
    return dict(body)


@contextmanager
def _writer_pragma(api: Api, pragma: str, undo: str) -> Iterator[None]:
    """Set a pragma on the SQLite writer connection (the pool holds just that one)."""
    def run(statement: str) -> None:  # outside a transaction (no BEGIN IMMEDIATE)
        with api.db.writer.connect() as connection:
            connection.connection.driver_connection.execute(statement)  # type: ignore[union-attr]

    run(pragma)
    try:
        yield
    finally:
        run(undo)


def _summary(api: Api, code: str) -> str:
    """Her balance from her statement, a pure read (her summary also logs the read of her
    name, and a read that cannot be logged is refused, as it must be)."""
    response = api.get(f"{M}/{code}/savings/transactions", role="clerk")
    assert response.status_code == 200, response.text
    return str(response.json()["items"][-1]["balance"])


def _books_verify(api: Api) -> None:
    report = api.db.read(verify)
    assert report.ok, report.problems


@pytest.mark.slow
@pytest.mark.skipif(is_postgres(), reason="fills an SQLite file (max_page_count)")
def test_a_full_disk_refuses_the_deposit_and_keeps_the_books(
        api: Api, figure: Callable[[str], None]) -> None:
    code = api.member_codes["member"]
    pages = api.db.read(lambda s: s.execute(text("PRAGMA page_count")).scalar())
    acknowledged = 0
    refused = None
    roomy = "PRAGMA max_page_count = 1073741823"
    with _writer_pragma(api, f"PRAGMA max_page_count = {pages}", roomy):
        for n in range(500):  # the free space on the last pages runs out within a few
            response = api.post(f"{M}/{code}/deposits", {"amount": "10.00"}, role="clerk",
                                key=f"full-{n}")
            if response.status_code == 503:
                refused = _problem(response)
                break
            assert response.status_code == 201, response.text
            acknowledged += 1
        assert refused is not None, "the disk never filled"
        assert "disk is full" in str(refused["detail"])
        figure(f"disk full (sqlite): 503 storage-unavailable after {acknowledged} deposits; "
               "books verify; reads answered")
        assert _summary(api, code) == f"{acknowledged * 10}.00"  # reads keep working
        _books_verify(api)
    again = api.post(f"{M}/{code}/deposits", {"amount": "10.00"}, role="clerk",
                     key=f"full-{acknowledged}")
    assert again.status_code == 201, again.text  # the same key goes through once there is room
    assert _summary(api, code) == f"{(acknowledged + 1) * 10}.00"
    _books_verify(api)


def test_a_read_only_database_refuses_writes_and_answers_reads(
        api: Api, figure: Callable[[str], None]) -> None:
    code = api.member_codes["member"]
    assert api.post(f"{M}/{code}/deposits", {"amount": "100.00"}, role="clerk").status_code \
        == 201
    with _read_only(api):
        refused = _problem(api.post(f"{M}/{code}/deposits", {"amount": "50.00"}, role="clerk",
                                    key="ro-1"))
        assert "read-only" in str(refused["detail"])
        assert api.post(M, {}, role="clerk").status_code == 503  # registering too
        assert _summary(api, code) == "100.00"
        assert api.get("/api/v1/ledger/trial-balance").status_code == 200
    figure(f"read-only database ({'postgresql' if is_postgres() else 'sqlite'}): 503 on "
           "writes, reads answered, books verify")
    assert api.post(f"{M}/{code}/deposits", {"amount": "50.00"}, role="clerk",
                    key="ro-1").status_code == 201
    assert _summary(api, code) == "150.00"
    _books_verify(api)


@contextmanager
def _read_only(api: Api) -> Iterator[None]:
    if not is_postgres():
        with _writer_pragma(api, "PRAGMA query_only = 1", "PRAGMA query_only = 0"):
            yield
        return
    database = api.db.url.database
    with api.db.writer.connect() as connection:
        connection.exec_driver_sql(
            f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        connection.commit()
    api.db.writer.dispose()  # new connections start read-only
    try:
        yield
    finally:
        with api.db.writer.connect() as connection:
            connection.exec_driver_sql("SET default_transaction_read_only = off")
            connection.exec_driver_sql(
                f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
            connection.commit()
        api.db.writer.dispose()


class _Original(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def test_the_storage_errors_are_recognised() -> None:
    full = OperationalError("INSERT", {}, _Original("53100"))
    assert storage_problem(full) == "the database's disk is full"
    assert storage_problem(OperationalError("INSERT", {}, _Original("40P01"))) is None
    assert storage_problem(ValueError("no")) is None
    assert StorageUnavailable.kind == "unavailable"
