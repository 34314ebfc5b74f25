"""The ledger rows a transaction has locked are held for its later posts (coop.ledger.rows).

A group commit runs several requests in one transaction (coop.db.Database.write_batch): the
second deposit needs no lock of the book, the till's cash account or the savings control
account, which the first one locked; on PostgreSQL it sends the lock of the member's own
account ahead, with its first read, and takes one round trip. What is held must always be what
the database holds: a savepoint rolled back (the group's refused request, a `begin_nested`)
forgets it, and a close of the book makes the next post read the book again. Each test has a
negative control that removes the forgetting and shows the books then go wrong."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text
from sqlalchemy.orm import Session

import coop.db
import coop.db_pg
import coop.ledger.service
from coop.clock import FixedClock
from coop.db import Database
from coop.db_statements import forget_memos
from coop.errors import InvalidInput
from coop.ledger import close_through, credit, debit, post, queries
from coop.ledger.model import InsufficientFunds, PeriodClosed
from coop.ledger.rows import _HELD, _Held
from coop.ledger.verify import verify
from coop.members import savings_account
from coop.savings import read_deposit_ahead, record_deposit
from tests.conftest import BUSINESS_DATE
from tests.helpers import QueriesSent
from tests.integration.test_deferred_writes import _draft, _member, post_undo_post


def _deposit(code: str, amount: int, clock: FixedClock):  # type: ignore[no-untyped-def]
    def work(session: Session) -> int:
        read_deposit_ahead(session, code, "clerk")
        _, balances = record_deposit(session, code, amount_minor=amount,
                                     value_date=clock.today(), actor="clerk", clock=clock)
        return balances.balance_minor
    return work


def _refused_after(work):  # type: ignore[no-untyped-def]
    """`work`, then a refusal: its savepoint is rolled back, with what it posted."""
    def refused(session: Session) -> None:
        work(session)
        raise InvalidInput("refused after posting")
    return refused


def _balance(db: Database, code: str) -> int:
    return db.read(lambda s: queries.balance(s, savings_account(code))) or 0


def test_a_group_s_deposits_each_answer_the_balance_after_it(
        db: Database, clock: FixedClock) -> None:
    """Three deposits to one member and one to another in one group: each answers her
    balance after it, from the rows held (the control account's counters carried across)."""
    first, second = _member(db, clock), _member(db, clock)
    outcomes = db.write_batch([_deposit(first, 100_00, clock), _deposit(second, 7_00, clock),
                               _deposit(first, 50_00, clock), _deposit(first, 1_00, clock)])
    assert outcomes == [(True, 100_00), (True, 7_00), (True, 150_00), (True, 151_00)]
    assert _balance(db, first) == 151_00
    assert db.read(lambda s: queries.balance(s, "2000")) == 158_00
    assert db.read(verify).ok


def test_a_refused_request_s_savepoint_takes_the_held_rows_with_it(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The group's second request posts, then is refused: its entry, its counters and the
    chain head it moved go back, and the third request posts after the first, as if the second
    had never run."""
    code = _member(db, clock)
    outcomes = db.write_batch([_deposit(code, 10_00, clock),
                               _refused_after(_deposit(code, 20_00, clock)),
                               _deposit(code, 40_00, clock)])
    assert [ok for ok, _ in outcomes] == [True, False, True]
    assert outcomes[2][1] == 50_00
    assert _balance(db, code) == 50_00
    report = db.read(verify)
    assert report.ok and report.entries_checked == 2

    # Negative control: the same group with the forgetting taken out of the rollback. The
    # third request chains after the entry that went back and counts its 20.00.
    monkeypatch.setattr(coop.db, "forget_memos", lambda session: None)
    outcomes = db.write_batch([_deposit(code, 10_00, clock),
                               _refused_after(_deposit(code, 20_00, clock)),
                               _deposit(code, 40_00, clock)])
    assert outcomes[2] == (True, 120_00)  # not her balance: 100.00 is
    assert _balance(db, code) == 100_00
    assert not db.read(verify).ok


def test_a_nested_rollback_forgets_the_held_rows(
        db: Database, clock: FixedClock) -> None:
    """A `begin_nested` rolled back (a correction's, a vote's) forgets them too."""
    code = _member(db, clock)

    db.write(lambda s: post_undo_post(s, code, clock))
    assert _balance(db, code) == 5_00
    assert db.read(verify).ok

    # Negative control: the session no longer forgets on a soft rollback.
    event.remove(db._write_sessions, "after_soft_rollback", forget_memos)
    db.write(lambda s: post_undo_post(s, code, clock))
    assert not db.read(verify).ok


def test_a_close_is_seen_by_the_next_post_of_the_transaction(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The book's `closed_through` moved by this transaction: the next post reads the book
    again and is refused a day now closed."""
    code = _member(db, clock)
    yesterday = BUSINESS_DATE - timedelta(days=1)
    back_dated = replace(_draft(code, 3_00), value_date=yesterday)

    def post_close_post(session: Session) -> None:
        post(session, _draft(code, 1_00), clock=clock)  # holds the book
        close_through(session, yesterday, clock=clock)
        post(session, back_dated, clock=clock)

    with pytest.raises(PeriodClosed):
        db.write(post_close_post)

    # Negative control: without forgetting the book, the post goes into the closed day.
    monkeypatch.setattr(coop.ledger.service, "forget_book", lambda session: None)
    db.write(post_close_post)
    assert db.read(lambda s: queries.book(s)).closed_through == yesterday  # type: ignore[union-attr]
    assert _balance(db, code) == 4_00


def _held_matches_the_database(session: Session) -> None:
    held = session.info.get(_HELD)
    if not isinstance(held, _Held):
        return
    for account_id, row in held.rows.items():
        found = session.execute(text(
            "SELECT debits_posted, credits_posted FROM ledger_account WHERE id = :id"),
            {"id": account_id}).one()
        assert (row[6], row[7]) == tuple(found), row[1]
    if held.book is not None:
        head = session.execute(text(
            "SELECT head_seq, head_hash, closed_through FROM ledger_book")).one()
        assert (held.book.head_seq, held.book.head_hash) == (head[0], head[1])


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 50_000_00),
                                st.sampled_from(["post", "nested", "refused"])),
                      min_size=1, max_size=8))
def test_what_is_held_is_what_the_database_holds(
        db: Database, clock: FixedClock, steps: list[tuple[int, int, str]]) -> None:
    """Property: after any run of posts in one transaction, some inside savepoints rolled
    back, and withdrawals refused for want of funds, every row held has the counters the
    database has and the book its chain head; the books verify after the commit."""
    codes = [_member(db, clock) for _ in range(3)]

    def run(session: Session) -> None:
        for who, amount, how in steps:
            draft = _draft(codes[who], amount)
            if how == "post":
                post(session, draft, clock=clock)
            elif how == "nested":
                nested = session.begin_nested()
                session.execute(text("SELECT 1"))
                post(session, draft, clock=clock)
                nested.rollback()
            else:  # a withdrawal of more than she has: refused, nothing written
                over = replace(draft, postings=(
                    debit(savings_account(codes[who]), 10**12), credit("1000", 10**12)))
                with pytest.raises(InsufficientFunds):
                    post(session, over, clock=clock)
            _held_matches_the_database(session)

    db.write(run)
    assert db.read(verify).ok


@pytest.mark.skipif("not __import__('tests.conftest').conftest.is_postgres()",
                    reason="PostgreSQL: locks sent ahead")
def test_a_group_s_later_deposit_takes_one_round_trip(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a group the first deposit takes two round trips (its reads, then its locks); each
    later one takes one: its member's read, with the till's read and the lock of her account
    sent ahead, and nothing else (the book and the control and cash accounts held)."""
    codes = [_member(db, clock) for _ in range(4)]
    sent = QueriesSent(monkeypatch)

    def measured(work):  # type: ignore[no-untyped-def]
        def run(session: Session) -> tuple[int, object]:
            before = sent.n
            result = work(session)
            return sent.n - before, result
        return run

    # one connection, its statements prepared by a first group (PREPARE is a round trip once)
    db.writer.pool.dispose()
    db.write_batch([_deposit(code, 1_00, clock) for code in codes[:2]])
    with sent.counting():
        outcomes = db.write_batch([measured(_deposit(code, 5_00, clock)) for code in codes])
    trips = [value[0] for _, value in outcomes]
    assert trips[1:] == [1, 1, 1], trips
    assert trips[0] >= 2
    assert [value[1] for _, value in outcomes] == [6_00, 6_00, 5_00, 5_00]
    assert db.read(verify).ok

    # Negative control: a deposit for a clerk no earlier request of the group served has no
    # cash account seen, so no lock goes ahead: a round trip more.
    def other_clerk(session: Session) -> int:
        read_deposit_ahead(session, codes[0], "another-clerk")
        _, balances = record_deposit(session, codes[0], amount_minor=1_00,
                                     value_date=clock.today(), actor="another-clerk",
                                     clock=clock)
        return balances.balance_minor

    with sent.counting():
        outcomes = db.write_batch([measured(_deposit(codes[1], 5_00, clock)),
                                   measured(other_clerk)])
    assert outcomes[1][1][0] == 2
    assert db.read(verify).ok


def test_an_earlier_request_s_queued_write_failing_is_not_taken_for_the_next_one_s(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a request's writes (and its savepoint's release) go to the server with
    the next request's first statement. If one of them fails there, the error shows in the
    next request, but rolling "its" savepoint back would undo the earlier request, already
    counted done: the group is undone and each request runs alone instead. The first is then
    refused on its own, the second books; nothing counted done is missing. On SQLite the
    write fails in the first request itself, with the same outcome. Negative control: with
    the check taken out, the first request is counted done and its deposit is not there."""
    code = _member(db, clock)

    def bad_write_after_deposit(session: Session) -> int:
        balance = _deposit(code, 10_00, clock)(session)
        # a write whose answer nobody reads, refused by a CHECK when it reaches the server
        coop.db_pg.defer(session, "UPDATE ledger_account SET debits_posted = -1 WHERE code = '1000'"
                    .replace("'1000'", "?" if db.is_sqlite else "%s"), [("1000",)])
        return int(balance)

    outcomes = db.write_batch([bad_write_after_deposit, _deposit(code, 20_00, clock)])
    assert outcomes[0][0] is False
    assert outcomes[1] == (True, 20_00)
    assert _balance(db, code) == 20_00
    assert db.read(verify).ok
    if db.is_sqlite:
        return

    # Negative control: the check sees every query as having come back.
    real = coop.db_pg.queue_state
    calls = iter(range(10**6))
    monkeypatch.setattr(coop.db_pg, "queue_state",
                        lambda session: (real(session)[0], next(calls)))
    outcomes = db.write_batch([bad_write_after_deposit, _deposit(code, 40_00, clock)])
    assert outcomes[0] == (True, 30_00)  # told done...
    assert outcomes[1][0] is False  # ...the failure taken for the second request's own...
    assert _balance(db, code) == 20_00  # ...and the first's deposit is not there
