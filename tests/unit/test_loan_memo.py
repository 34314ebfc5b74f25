"""The remembered replays (coop.loans.records) stay within their bounds however long the
loans' histories grow.

The memo was bounded by its count alone (512 entries), but an entry holds its loan's plan and
every event, so its size grew with the loans: the soak's server memory crept up with each
repayment, and 512 entries of a daily loan of a year could hold tens of MiB. Now the plan
periods and events held by all entries together are bounded too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from coop.loans import engine, records
from coop.loans.engine import Payment, Plan
from coop.loans.plans import plan_of
from coop.loans.records import History
from coop.loans.schedule import Frequency, ProductTerms, build

DISBURSED = date(2026, 1, 5)


@pytest.fixture(autouse=True)
def empty_memo() -> Iterator[None]:
    records.forget()
    yield
    records.forget()


def _plan(installments: int, frequency: Frequency, principal: int = 5_000_000) -> Plan:
    terms = ProductTerms(Decimal(12), installments, frequency).terms(
        principal=principal, disbursed_on=DISBURSED)
    return Plan(terms.principal, False, plan_of(build(terms)))


def _paid(count: int) -> list[engine.Event]:
    return [Payment(DISBURSED + timedelta(days=1 + day), 10_000) for day in range(count)]


def test_the_memo_holds_no_more_than_its_weight_however_long_the_histories() -> None:
    weekly = _plan(52, Frequency.WEEKLY)
    for paid in range(150):  # one loan, a payment at a time: each history a new question
        hist = History(weekly, _paid(paid))
        records.settle(hist, Payment(DISBURSED + timedelta(days=1 + paid), 10_000))
        entries, weight = records.remembered()
        assert entries <= records.REMEMBERED_MAX
        assert weight <= records.REMEMBERED_WEIGHT_MAX
    entries, weight = records.remembered()
    assert weight > records.REMEMBERED_WEIGHT_MAX // 2  # full, not emptied
    assert entries < 3 * 150  # the oldest histories were let go


def test_a_remembered_replay_is_answered_again_without_replaying() -> None:
    hist = History(_plan(52, Frequency.WEEKLY), _paid(10))
    first = records.position(hist, date(2026, 6, 1))
    again = records.position(History(hist.plan, list(hist.events)), date(2026, 6, 1))
    assert again is first
    assert records.remembered() == (1, 52 + 10)


def test_a_settlement_remembers_the_positions_before_and_after() -> None:
    hist = History(_plan(52, Frequency.WEEKLY), _paid(3))
    payment = Payment(DISBURSED + timedelta(days=10), 25_000)
    settled = records.settle(hist, payment)
    assert records.position(hist, payment.on) is settled.before
    assert records.position(History(hist.plan, [*hist.events, payment]),
                            payment.on) is settled.after
    assert records.remembered() == (3, (52 + 4) + (52 + 3) + (52 + 4))


def test_a_loan_heavier_than_the_whole_memo_is_replayed_but_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(records, "REMEMBERED_WEIGHT_MAX", 300)
    daily = _plan(365, Frequency.DAILY)
    hist = History(daily, _paid(20))
    found = records.position(hist, date(2026, 3, 1))
    assert found == engine.position(daily, hist.events, date(2026, 3, 1))
    assert records.remembered() == (0, 0)
    records.position(History(_plan(52, Frequency.WEEKLY), _paid(2)), date(2026, 3, 1))
    assert records.remembered() == (1, 54)
