"""What a counter client is told when the database connection is lost under a deposit
(issue 21, coop.db_failover), and that sending it again with the same Idempotency-Key records
it exactly once.

- Lost during the COMMIT: 503 `outcome-unknown`, an RFC 9457 problem with Retry-After, no
  trace of SQL or code. Whether the deposit committed is unknown to the server; the same key
  then either records it (it had not) or replays its first answer (it had). Both branches run
  on both engines, the loss stood in by the transaction's context (committing or not, then
  raising what `Database.writing` raises); on PostgreSQL the loss is also real (the backend
  ended right before the COMMIT).
- Lost before the COMMIT (PostgreSQL, real): the client never hears of it; the deposit runs
  again on a fresh connection and is answered 201, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session

from coop.db_failover import outcome_unknown
from coop.ledger.verify import verify
from tests.api.conftest import Api
from tests.conftest import PG_URL, is_postgres

M = "/api/v1/members"
postgres_only = pytest.mark.skipif(
    not is_postgres(), reason="a lost connection is PostgreSQL's: SQLite has no server to lose")


class _Undo(Exception):
    pass


def lose_next_commit(api: Api, monkeypatch: pytest.MonkeyPatch, *, committed: bool) -> None:
    """The next write transaction ends as one whose connection failed at its COMMIT:
    committed (only the answer was lost) or rolled back, and `OutcomeUnknown` either way."""
    original = api.db.writing
    armed = [True]

    @contextmanager
    def writing() -> Iterator[Session]:
        if not armed[0]:
            with original() as session:
                yield session
            return
        armed[0] = False
        try:
            with original() as session:
                yield session
                if not committed:
                    raise _Undo
        except _Undo:
            pass
        raise outcome_unknown()

    monkeypatch.setattr(api.db, "writing", writing)


def _balance(api: Api, code: str) -> str:
    items = api.get(f"{M}/{code}/savings/transactions", role="clerk").json()["items"]
    return str(items[-1]["balance"]) if items else "0.00"


def _unknown(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "2"
    body: dict[str, Any] = response.json()
    assert body["type"] == "urn:coop:problem:outcome-unknown"
    assert body["title"] == "The books did not confirm this request"
    assert body["status"] == 503
    assert "same Idempotency-Key" in body["detail"]
    assert not any(word in response.text for word in ("Traceback", "psycopg", "SELECT",
                                                      "INSERT", "sqlalchemy"))
    return body


@pytest.mark.parametrize("committed", [False, True], ids=["not-committed", "committed"])
def test_a_commit_without_an_answer_is_503_and_the_same_key_records_it_once(
        api: Api, monkeypatch: pytest.MonkeyPatch, committed: bool) -> None:
    code = api.member_codes["member"]
    deposit = {"amount": "250.00"}
    lose_next_commit(api, monkeypatch, committed=committed)
    _unknown(api.post(f"{M}/{code}/deposits", deposit, role="clerk", key="lost-1"))
    assert _balance(api, code) == ("250.00" if committed else "0.00")

    again = api.post(f"{M}/{code}/deposits", deposit, role="clerk", key="lost-1")
    assert again.status_code == 201, again.text
    assert (again.headers.get("idempotent-replayed") == "true") is committed
    third = api.post(f"{M}/{code}/deposits", deposit, role="clerk", key="lost-1")
    assert third.status_code == 201
    assert third.headers["idempotent-replayed"] == "true"
    assert third.json()["entry_id"] == again.json()["entry_id"]
    assert _balance(api, code) == "250.00"  # once, whichever way the COMMIT went
    assert api.db.read(verify).ok


@contextmanager
def _ending_backends(moment: str) -> Iterator[list[int]]:
    """While open, the next write transaction's backend is ended (and gone) at `moment`:
    `after_begin` (before its first statement) or `before_commit` (after its last)."""
    admin = create_engine(PG_URL or "", isolation_level="AUTOCOMMIT")
    ended: list[int] = []

    def end(session: Session, *began: Any) -> None:
        if ended or session.info.get("coop.readonly"):
            return
        connection = began[-1] if began else session.connection()  # after_begin's, or now
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        ended.append(pid)
        with admin.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"),
                                 {"pid": pid}).scalar_one()

    listener: Callable[..., None] = end
    event.listen(Session, moment, listener)
    try:
        yield ended
    finally:
        event.remove(Session, moment, listener)
        admin.dispose()


def _writes_only(api: Api) -> None:
    """Mark read sessions, so that the listener above leaves them alone."""
    for maker in (api.db._read_sessions, api.db._report_sessions):
        maker.kw["info"] = {"coop.readonly": True}


@postgres_only
def test_a_real_loss_at_the_commit_is_503_and_the_retry_records_it_once(api: Api) -> None:
    code = api.member_codes["member"]
    _writes_only(api)
    with _ending_backends("before_commit") as ended:
        _unknown(api.post(f"{M}/{code}/deposits", {"amount": "75.00"}, role="clerk",
                          key="real-commit"))
    assert ended
    assert _balance(api, code) == "0.00"  # the backend was gone before the COMMIT arrived
    again = api.post(f"{M}/{code}/deposits", {"amount": "75.00"}, role="clerk",
                     key="real-commit")
    assert again.status_code == 201, again.text
    assert _balance(api, code) == "75.00"


@postgres_only
def test_a_real_loss_before_the_commit_is_run_again_unseen(api: Api) -> None:
    code = api.member_codes["member"]
    _writes_only(api)
    with _ending_backends("after_begin") as ended:
        response = api.post(f"{M}/{code}/deposits", {"amount": "60.00"}, role="clerk",
                            key="real-before")
    assert ended  # the first try's connection was ended under it
    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    assert _balance(api, code) == "60.00"
    assert api.db.read(verify).ok
