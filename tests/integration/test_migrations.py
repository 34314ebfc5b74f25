"""Migrations: empty to head and back on the test engine, and no drift from the models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    String,
    column,
    func,
    insert,
    inspect,
    select,
    table,
    text,
)

from coop import board, migrate
from coop.db import Database, UTCDateTime
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


def _typed(name: str, *columns: tuple[str, object]) -> Any:
    return table(name, *(column(col, kind) for col, kind in columns))  # type: ignore[arg-type]


def test_0009_moves_loan_votes_to_the_board_and_seats_the_board_users(
    tmp_path: object, template: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Votes keep their ids, voters, decisions, notes and times; the application's become
    subject ('loan', id), a reschedule's ('reschedule', id); enabled board users with a member
    number get a seat from the day (in the society's time zone) they were created."""
    monkeypatch.setenv("COOP_TIMEZONE", "Asia/Kolkata")
    db = Database(_fresh_url(tmp_path), pool_size=1)
    at = datetime(2025, 3, 10, 20, 0, tzinfo=UTC)  # 11 March, 01:30 in Kolkata
    member = _typed("member", ("id", Integer()), ("code", String()), ("status", String()),
                    ("joined_on", Date()), ("created_at", UTCDateTime()))
    user = _typed("auth_user", ("username", String()), ("password_hash", String()),
                  ("role", String()), ("member_code", String()), ("disabled", Boolean()),
                  ("created_at", UTCDateTime()))
    vote = _typed("loan_vote", ("id", Integer()), ("loan_id", Integer()),
                  ("reschedule_id", Integer()), ("voter_member_id", Integer()),
                  ("voter_username", String()), ("decision", String()), ("note", String()),
                  ("voted_at", UTCDateTime()))
    try:
        migrate.upgrade(db.writer, "0007")
        with db.writer.begin() as conn:
            conn.execute(insert(member), [
                {"id": n, "code": f"M-TEST{n}", "status": "active",
                 "joined_on": date(2024, 1, 1), "created_at": at} for n in (1, 2, 3)])
            conn.execute(text(
                "INSERT INTO loan_product (id, code, name, terms_json, fee_percent, penalty_rate,"
                " allocation_order, created_at) VALUES (1, 'P', 'P', '{}', '0', '0', 'x', :at)"),
                {"at": at.replace(tzinfo=None)})
            conn.execute(text(
                "INSERT INTO loan (id, member_id, product_id, status, principal_minor, fee_minor,"
                " terms_json, applied_on, applied_by, plan_version, outstanding_minor,"
                " written_off_minor, recovered_minor) VALUES (5, 3, 1, 'active', 100000, 0,"
                " '{}', '2025-03-01', 'clerk', 1, 100000, 0, 0)"))
            conn.execute(text(
                "INSERT INTO loan_reschedule (id, loan_id, status, extra_installments, reason,"
                " requested_by, requested_on) VALUES (9, 5, 'pending', 2, 'late rains',"
                " 'clerk', '2025-04-01')"))
            conn.execute(insert(vote), [
                {"id": 1, "loan_id": 5, "reschedule_id": 0, "voter_member_id": 1,
                 "voter_username": "asha", "decision": "approve", "note": "steady",
                 "voted_at": at},
                {"id": 2, "loan_id": 5, "reschedule_id": 0, "voter_member_id": 2,
                 "voter_username": "bina", "decision": "reject", "note": None,
                 "voted_at": at},
                {"id": 3, "loan_id": 5, "reschedule_id": 9, "voter_member_id": 1,
                 "voter_username": "asha", "decision": "approve", "note": None,
                 "voted_at": at}])
            conn.execute(insert(user), [
                {"username": "asha", "password_hash": "x", "role": "board",
                 "member_code": "M-TEST1", "disabled": False, "created_at": at},
                {"username": "bina", "password_hash": "x", "role": "board",
                 "member_code": "M-TEST2", "disabled": True, "created_at": at},
                {"username": "clerk1", "password_hash": "x", "role": "clerk",
                 "member_code": None, "disabled": False, "created_at": at},
                {"username": "mala", "password_hash": "x", "role": "member",
                 "member_code": "M-TEST3", "disabled": False, "created_at": at}])
        migrate.upgrade(db.writer)

        assert "loan_vote" not in inspect(db.writer).get_table_names()
        votes = db.read(lambda s: [
            (v.id, v.subject_kind, v.subject_id, v.voter_member_id, v.voter_username,
             v.decision, v.note, v.voted_at)
            for v in s.scalars(select(board.VoteRow).order_by(board.VoteRow.id))])
        seats = db.read(lambda s: [(seat.member_id, seat.username, seat.from_on, seat.to_on)
                                   for seat in s.scalars(select(board.SeatRow))])
        assert votes == [(1, "loan", 5, 1, "asha", "approve", "steady", at),
                         (2, "loan", 5, 2, "bina", "reject", None, at),
                         (3, "reschedule", 9, 1, "asha", "approve", None, at)]
        assert seats == [(1, "asha", date(2025, 3, 11), None)]
        with db.writer.begin() as conn:  # new votes continue after the copied ids
            conn.execute(insert(board.VoteRow), {
                "subject_kind": "loan", "subject_id": 5, "voter_member_id": 3,
                "voter_username": "asha", "decision": "approve", "note": None,
                "voted_at": at})
            assert conn.execute(select(func.max(board.VoteRow.id))).scalar() == 4

        migrate.downgrade(db.writer, "0007")
        with db.writer.begin() as conn:
            back = conn.execute(text(
                "SELECT id, loan_id, reschedule_id, voter_member_id, decision FROM loan_vote"
                " ORDER BY id")).all()
        assert [tuple(row) for row in back] == [
            (1, 5, 0, 1, "approve"), (2, 5, 0, 2, "reject"), (3, 5, 9, 1, "approve"),
            (4, 5, 0, 3, "approve")]
    finally:
        db.dispose()
        if PG_URL:  # leave the shared test database migrated for the other tests
            reset_postgres(PG_URL)
            engine = Database(PG_URL, pool_size=1)
            migrate.upgrade(engine.writer)
            engine.dispose()
