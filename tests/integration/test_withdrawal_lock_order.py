"""A withdrawal takes its row locks in the order a deposit takes them (PostgreSQL).

A withdrawal checks the balance under a lock and then posts. It used to lock the member's
savings account alone first, then, in `post`, cash and the control accounts (lower ids): a
deposit to the same member meanwhile held cash and waited for her savings, so the two
deadlocked. PostgreSQL broke the deadlock and `Database.write` ran the victim again, but with
ten clients on two `coop serve` processes the three runs ran out and clients got 500s
(tests/integration/test_serve_workers.py). Here the race is forced: the withdrawal pauses
with its locks held until the deposit waits on them, and neither may be rerun.

On SQLite writers never overlap (one writer; BEGIN IMMEDIATE), so this is PostgreSQL's test.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from coop import savings
from coop.clock import FixedClock
from coop.db import Database
from coop.members import Identity, register_member
from coop.members.vault import Vault
from tests.conftest import PG_URL, is_postgres

pytestmark = pytest.mark.skipif(not is_postgres(), reason="SQLite writers never overlap")


def _someone_waits_for_a_row_lock(seconds: float) -> bool:
    assert PG_URL
    watcher = create_engine(PG_URL)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with watcher.connect() as conn:
                waiting = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")).scalar()
            if waiting:
                return True
            time.sleep(0.05)
        return False
    finally:
        watcher.dispose()


def test_a_withdrawal_and_a_deposit_to_one_member_never_deadlock(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    code = db.write(lambda s: register_member(s, identity=Identity(), joined_on=date(2025, 1, 1),
                                              vault=Vault(b"k" * 32), clock=clock).code)
    today = clock.today()
    db.write(lambda s: savings.record_deposit(s, code, amount_minor=50_000, value_date=today,
                                              actor="clerk", clock=clock))
    locked, resume = threading.Event(), threading.Event()
    held = savings.held

    def held_after_a_pause(session: Any, member_id: int) -> int:
        if threading.current_thread().name == "withdrawal" and not locked.is_set():
            locked.set()  # the withdrawal's locks are taken: let the deposit run into them
            resume.wait(10)
        return held(session, member_id)

    monkeypatch.setattr(savings, "held", held_after_a_pause)
    outcomes: dict[str, Any] = {}

    def run(name: str, work: Any) -> None:
        try:
            outcomes[name] = db.write(work)
        except Exception as exc:
            outcomes[name] = exc

    withdrawal = threading.Thread(name="withdrawal", target=run, args=("withdrawal", (
        lambda s: savings.record_withdrawal(s, code, amount_minor=20_000, value_date=today,
                                            actor="clerk", clock=clock))))
    deposit = threading.Thread(name="deposit", target=run, args=("deposit", (
        lambda s: savings.record_deposit(s, code, amount_minor=5_000, value_date=today,
                                         actor="clerk", clock=clock))))
    caplog.set_level(logging.INFO, logger="coop.db")
    withdrawal.start()
    assert locked.wait(10)
    deposit.start()
    assert _someone_waits_for_a_row_lock(10), "the deposit never waited for the withdrawal"
    resume.set()
    withdrawal.join(60)
    deposit.join(60)
    assert not withdrawal.is_alive() and not deposit.is_alive()
    for name in ("withdrawal", "deposit"):
        assert not isinstance(outcomes[name], Exception), outcomes[name]
    reruns = [r.getMessage() for r in caplog.records if "write rerun" in r.getMessage()]
    assert reruns == []  # no deadlock broken by PostgreSQL, no write run twice
    assert db.read(lambda s: savings.balances(s, code)).balance_minor == 35_000
