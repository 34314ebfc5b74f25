"""Properties of portfolio at risk and of a borrower's punctuality, over generated loans.

PAR30 (coop.loans.risk.summarize): the buckets add up to the portfolio; PAR30 is between 0 and
100; it is 0 when no loan is more than 30 days past due and 100 when every loan with principal
outstanding is; a later day with no new events never lowers it (arrears only age, moratoria
only pause them); and it is the at-risk share of the outstanding principal, rounded.

Punctuality (coop.loans.punctuality.record): every installment is in exactly one state; a paid
installment was paid on or after the repayment that paid it; later repayments that pay more
never make an installment later; with every repayment made on the first due date covering the
whole plan, nothing is late.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from coop.loans.punctuality import record
from coop.loans.risk import AT_RISK, BUCKETS, Snapshot, days_past_due, summarize

START = date(2024, 1, 1)
days = st.integers(min_value=0, max_value=900)


@st.composite
def snapshot(draw: st.DrawFn, loan_id: int) -> Snapshot:
    first = draw(st.none() | days.map(lambda d: START + timedelta(days=d)))
    windows = draw(st.lists(st.tuples(days, st.integers(0, 60)), max_size=2))
    frozen = tuple((START + timedelta(days=a), START + timedelta(days=a + n)) for a, n in windows)
    return Snapshot(loan_id, draw(st.integers(0, 10**9)), first, frozen)


@st.composite
def portfolios(draw: st.DrawFn) -> list[Snapshot]:
    count = draw(st.integers(0, 12))
    return [draw(snapshot(k + 1)) for k in range(count)]


as_of = days.map(lambda d: START + timedelta(days=d))


@given(portfolios(), as_of)
def test_par30_is_a_percent_and_the_buckets_add_up(loans: list[Snapshot], on: date) -> None:
    report = summarize(loans, on)
    assert Decimal(0) <= report.par30 <= Decimal(100)
    assert sum(report.buckets.values()) == report.outstanding_minor == sum(
        loan.outstanding_minor for loan in loans)
    assert sum(report.counts.values()) == report.loans_active == len(loans)
    assert set(report.buckets) == set(BUCKETS)
    at_risk = sum(loan.outstanding_minor for loan in loans if days_past_due(loan, on) > 30)
    assert report.at_risk_minor == at_risk == sum(report.buckets[b] for b in AT_RISK)
    if report.outstanding_minor:
        exact = Decimal(at_risk) * 100 / Decimal(report.outstanding_minor)
        assert abs(report.par30 - exact) <= Decimal("0.005")


@given(portfolios(), as_of)
def test_par30_is_zero_without_arrears_over_thirty_days(loans: list[Snapshot],
                                                        on: date) -> None:
    if all(days_past_due(loan, on) <= 30 for loan in loans):
        assert summarize(loans, on).par30 == Decimal("0.00")
    owing = [loan for loan in loans if loan.outstanding_minor]
    if owing and all(days_past_due(loan, on) > 30 for loan in owing):
        assert summarize(loans, on).par30 == Decimal("100.00")


@given(portfolios(), as_of, st.integers(1, 400))
def test_arrears_only_age(loans: list[Snapshot], on: date, later: int) -> None:
    after = on + timedelta(days=later)
    for loan in loans:
        assert days_past_due(loan, after) >= days_past_due(loan, on)
    assert summarize(loans, after).par30 >= summarize(loans, on).par30


@st.composite
def repaid_loan(draw: st.DrawFn) -> tuple[list[date], list[tuple[date, date | None]], date]:
    """A plan of monthly-ish due dates and repayments, each leaving the oldest unpaid due
    date no earlier than the last (or nothing owed)."""
    count = draw(st.integers(1, 12))
    gaps = draw(st.lists(st.integers(1, 40), min_size=count, max_size=count))
    due, day = [], START
    for gap in gaps:
        day += timedelta(days=gap)
        due.append(day)
    repayments, paid_through, on = [], 0, START
    for _ in range(draw(st.integers(0, 15))):
        on += timedelta(days=draw(st.integers(0, 60)))
        paid_through = min(count, paid_through + draw(st.integers(0, 3)))
        repayments.append((on, due[paid_through] if paid_through < count else None))
    return due, repayments, on + timedelta(days=draw(st.integers(0, 90)))


@given(repaid_loan())
def test_every_installment_is_in_one_state(loan: tuple[list[date], list[tuple[date, date | None]],
                                                       date]) -> None:
    due, repayments, on = loan
    seen = record(due, repayments, as_of=on)
    assert seen.on_time + seen.late + seen.overdue + seen.upcoming == len(due)
    made = {day for day, _ in repayments}
    for row in seen.installments:
        assert row.days_late >= 0
        if row.paid_on is not None:
            assert row.paid_on in made
            assert row.days_late == max(0, (row.paid_on - row.due_on).days)
        elif row.due_on < on:
            assert row.state == "overdue" and row.days_late == (on - row.due_on).days
        else:
            assert row.state == "upcoming"
    assert seen.worst_days_late == max([r.days_late for r in seen.installments], default=0)


@given(repaid_loan(), st.integers(0, 60))
def test_a_repayment_made_later_is_never_more_punctual(
        loan: tuple[list[date], list[tuple[date, date | None]], date], delay: int) -> None:
    due, repayments, on = loan
    shifted = [(day + timedelta(days=delay), first) for day, first in repayments]
    late_on = on + timedelta(days=delay)
    before = record(due, repayments, as_of=late_on)
    after = record(due, shifted, as_of=late_on)
    for earlier, later in zip(before.installments, after.installments, strict=True):
        assert later.days_late >= earlier.days_late


@given(repaid_loan())
def test_paid_off_on_the_first_due_date_nothing_is_late(
        loan: tuple[list[date], list[tuple[date, date | None]], date]) -> None:
    due, _, on = loan
    seen = record(due, [(due[0], None)], as_of=max(on, due[0]))
    assert seen.late == seen.overdue == 0 and seen.worst_days_late == 0
