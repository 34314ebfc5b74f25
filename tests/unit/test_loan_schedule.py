"""The loan schedule engine and the replay of a loan's position, by example.

Fineract's test vectors V1 and V2 (shared/reference/fineract.md §4) row by row, the APR, the
amortization and grace rules of CONTRACT.md (Loans), due dates, daily interest periods,
refused terms; then the replay engine: on-time, late and early payments, refusals, arrears
ageing, frozen windows, penalties and the installment statuses.

Amounts are minor units; 10,000.00 is 1_000_000.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from coop.errors import InvalidInput
from coop.loans.engine import (
    Payment,
    PaymentOutOfOrder,
    PaymentTooLarge,
    Plan,
    allocate,
    installments,
    position,
)
from coop.loans.plans import plan_of
from coop.loans.schedule import (
    MAX_INSTALLMENTS,
    Amortization,
    DaysInYear,
    Frequency,
    InterestMethod,
    InterestPeriod,
    Schedule,
    Terms,
    TermsInvalid,
    build,
    with_terms,
)

FLAT = InterestMethod.FLAT
DECLINING = InterestMethod.DECLINING_BALANCE
TEN_THOUSAND = 1_000_000
TWELVE = Decimal(12)


def _minor(amount: str) -> int:
    """'4745.00' -> 474500."""
    return int(Decimal(amount) * 100)


def _plan(schedule: Schedule, **extra: object) -> Plan:
    terms = schedule.terms
    return Plan(terms.principal, terms.interest_method is FLAT, plan_of(schedule),
                **extra)  # type: ignore[arg-type]


def _rows(schedule: Schedule) -> list[tuple[date, int, int, int, int]]:
    return [(i.due_on, i.principal, i.interest, i.total, i.balance)
            for i in schedule.installments]


def _fineract(method: InterestMethod) -> Schedule:
    """5000 EUR, 12 % a year, 18 monthly, disbursed 2022-11-01, installment multiple 1 EUR."""
    return build(Terms(principal=500_000, annual_rate=TWELVE, installments=18,
                       disbursed_on=date(2022, 11, 1), interest_method=method,
                       installment_multiple=100))


def _monthly(**changes: object) -> Terms:
    """10,000.00 at 12 % declining, 12 monthly, disbursed 2025-01-15."""
    return with_terms(Terms(principal=TEN_THOUSAND, annual_rate=TWELVE, installments=12,
                            disbursed_on=date(2025, 1, 15)), **changes)


# --- Fineract vectors ----------------------------------------------------------------------


def test_fineract_v1_flat_reproduced_row_by_row() -> None:
    schedule = _fineract(FLAT)
    expected = []
    balance = 500_000
    for k in range(17):
        balance -= 27_800
        expected.append((date(2022 + (11 + k) // 12, (11 + k) % 12 + 1, 1),
                         27_800, 5_000, 32_800, balance))
    expected.append((date(2024, 5, 1), 27_400, 5_000, 32_400, 0))
    assert expected[0] == (date(2022, 12, 1), 27_800, 5_000, 32_800, 472_200)
    assert expected[16] == (date(2024, 4, 1), 27_800, 5_000, 32_800, 27_400)
    assert _rows(schedule) == expected
    assert [i.number for i in schedule.installments] == list(range(1, 19))
    assert schedule.total_principal == 500_000
    assert schedule.total_interest == 90_000


V2 = """
 1 | 2022-12-01 | 255.00 | 50.00 | 305    | 4745.00
 2 | 2023-01-01 | 257.55 | 47.45 | 305    | 4487.45
 3 | 2023-02-01 | 260.13 | 44.87 | 305    | 4227.32
 4 | 2023-03-01 | 262.73 | 42.27 | 305    | 3964.59
 5 | 2023-04-01 | 265.35 | 39.65 | 305    | 3699.24
 6 | 2023-05-01 | 268.01 | 36.99 | 305    | 3431.23
 7 | 2023-06-01 | 270.69 | 34.31 | 305    | 3160.54
 8 | 2023-07-01 | 273.39 | 31.61 | 305    | 2887.15
 9 | 2023-08-01 | 276.13 | 28.87 | 305    | 2611.02
10 | 2023-09-01 | 278.89 | 26.11 | 305    | 2332.13
11 | 2023-10-01 | 281.68 | 23.32 | 305    | 2050.45
12 | 2023-11-01 | 284.50 | 20.50 | 305    | 1765.95
13 | 2023-12-01 | 287.34 | 17.66 | 305    | 1478.61
14 | 2024-01-01 | 290.21 | 14.79 | 305    | 1188.40
15 | 2024-02-01 | 293.12 | 11.88 | 305    | 895.28
16 | 2024-03-01 | 296.05 | 8.95  | 305    | 599.23
17 | 2024-04-01 | 299.01 | 5.99  | 305    | 300.22
18 | 2024-05-01 | 300.22 | 3.00  | 303.22 | 0
"""


def test_fineract_v2_declining_reproduced_row_by_row() -> None:
    expected = []
    for line in V2.strip().splitlines():
        _, due, principal, interest, total, balance = (cell.strip() for cell in line.split("|"))
        expected.append((date.fromisoformat(due), _minor(principal), _minor(interest),
                         _minor(total), _minor(balance)))
    schedule = _fineract(DECLINING)
    assert len(expected) == 18
    assert _rows(schedule) == expected
    assert schedule.total_principal == 500_000
    assert schedule.total_interest == _minor("488.22")


# --- APR -------------------------------------------------------------------------------------


def test_apr_of_a_flat_loan_is_its_true_cost() -> None:
    assert build(_monthly(interest_method=FLAT)).apr == Decimal("21.46")


def test_apr_of_a_declining_loan_is_its_nominal_rate() -> None:
    assert build(_monthly()).apr == Decimal("12.00")


@pytest.mark.parametrize("method", [DECLINING, FLAT])
def test_a_fee_raises_the_apr(method: InterestMethod) -> None:
    without = build(_monthly(interest_method=method))
    with_fee = build(_monthly(interest_method=method, fee=10_000))
    assert with_fee.installments == without.installments  # the fee is not in the installments
    assert with_fee.apr > without.apr


def test_apr_of_a_zero_rate_loan_without_fee_is_zero() -> None:
    assert build(_monthly(annual_rate=Decimal(0))).apr == Decimal("0.00")


# --- amortization and grace ------------------------------------------------------------------


def test_equal_principal_parts_are_rounded_shares_and_the_last_takes_the_rest() -> None:
    schedule = build(_monthly(installments=7, amortization=Amortization.EQUAL_PRINCIPAL,
                              installment_multiple=100))
    principals = [i.principal for i in schedule.installments]
    assert principals == [142_857] * 6 + [142_858]  # 1_000_000 / 7, not to a multiple of 100
    balance = TEN_THOUSAND
    for row in schedule.installments:  # interest on the declining balance
        assert row.interest == round(Fraction(balance, 100))
        balance -= row.principal
        assert row.balance == balance


@pytest.mark.parametrize(("principal", "share", "last"), [(10, 2, 4), (14, 4, 2)])
def test_equal_principal_share_rounds_half_even(principal: int, share: int, last: int) -> None:
    schedule = build(_monthly(principal=principal, installments=4, annual_rate=Decimal(0),
                              amortization=Amortization.EQUAL_PRINCIPAL))
    assert [i.principal for i in schedule.installments] == [share] * 3 + [last]


def test_grace_on_principal_gives_interest_only_first_periods() -> None:
    schedule = build(_monthly(grace_on_principal=3))
    rows = schedule.installments
    for row in rows[:3]:
        assert (row.principal, row.interest, row.balance) == (0, 10_000, TEN_THOUSAND)
    # The rest amortizes like a 9-installment loan disbursed at the end of the grace.
    nine = build(_monthly(installments=9, disbursed_on=date(2025, 4, 15)))
    assert [(r.principal, r.interest) for r in rows[3:]] == [
        (r.principal, r.interest) for r in nine.installments]
    assert schedule.total_principal == TEN_THOUSAND


def test_grace_on_interest_payment_collects_the_deferred_interest_after_the_grace() -> None:
    plain = build(_monthly())
    graced = build(_monthly(grace_on_interest_payment=2))
    assert [r.interest for r in graced.installments[:2]] == [0, 0]
    assert graced.installments[2].interest == sum(r.interest for r in plain.installments[:3])
    assert [r.interest for r in graced.installments[3:]] == [
        r.interest for r in plain.installments[3:]]
    # The principal path is unchanged, so the interest charged is what it would have been.
    assert [r.principal for r in graced.installments] == [
        r.principal for r in plain.installments]
    assert graced.total_interest == plain.total_interest


def test_grace_on_interest_charged_waives_those_periods_interest() -> None:
    plain = build(_monthly())
    graced = build(_monthly(grace_on_interest_charged=2))
    rows = graced.installments
    assert [r.interest for r in rows[:2]] == [0, 0]
    assert [r.year_fraction for r in rows[:2]] == [0, 0]
    assert rows[2].interest == round(Fraction(rows[1].balance, 100))
    assert graced.total_interest < plain.total_interest
    assert graced.total_principal == TEN_THOUSAND


def test_grace_on_interest_charged_on_a_flat_loan() -> None:
    rows = build(_monthly(interest_method=FLAT, grace_on_interest_charged=2)).installments
    assert [r.interest for r in rows] == [0, 0] + [10_000] * 10


# --- dates -----------------------------------------------------------------------------------


def test_monthly_due_dates_keep_the_day_of_month_clamped_to_month_end() -> None:
    schedule = build(_monthly(disbursed_on=date(2025, 1, 31), installments=13))
    assert [i.due_on for i in schedule.installments] == [
        date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31),
        date(2025, 6, 30), date(2025, 7, 31), date(2025, 8, 31), date(2025, 9, 30),
        date(2025, 10, 31), date(2025, 11, 30), date(2025, 12, 31), date(2026, 1, 31),
        date(2026, 2, 28)]
    leap = build(_monthly(disbursed_on=date(2024, 1, 31), installments=1))
    assert leap.installments[0].due_on == date(2024, 2, 29)


@pytest.mark.parametrize(("frequency", "dues"), [
    (Frequency.DAILY, [date(2025, 2, 1), date(2025, 2, 2), date(2025, 2, 3)]),
    (Frequency.WEEKLY, [date(2025, 2, 7), date(2025, 2, 14), date(2025, 2, 21)]),
    (Frequency.FORTNIGHTLY, [date(2025, 2, 14), date(2025, 2, 28), date(2025, 3, 14)]),
])
def test_daily_weekly_and_fortnightly_steps(frequency: Frequency, dues: list[date]) -> None:
    schedule = build(_monthly(disbursed_on=date(2025, 1, 31), installments=3,
                              frequency=frequency))
    assert [i.due_on for i in schedule.installments] == dues
    assert [i.start_on for i in schedule.installments] == [date(2025, 1, 31), *dues[:-1]]


def test_a_custom_first_due_date_sets_the_dates_and_a_pro_rata_first_period() -> None:
    schedule = build(_monthly(first_due_on=date(2025, 2, 10)))
    rows = schedule.installments
    assert [r.due_on for r in rows[:3]] == [date(2025, 2, 10), date(2025, 3, 10),
                                            date(2025, 4, 10)]
    assert rows[-1].due_on == date(2026, 1, 10)
    # 26 days of a period that would have run 2025-01-10 .. 2025-02-10 (31 days).
    assert rows[0].year_fraction == Fraction(1, 12) * Fraction(26, 31)
    assert rows[0].interest == round(TEN_THOUSAND * Fraction(12, 100) / 12 * Fraction(26, 31))
    assert rows[1].interest == round(Fraction(rows[0].balance, 100))


# --- daily interest periods ------------------------------------------------------------------


@pytest.mark.parametrize(("days_in_year", "basis"), [
    (DaysInYear.DAYS_360, 360), (DaysInYear.DAYS_365, 365), (DaysInYear.ACTUAL, 365)])
def test_daily_interest_is_balance_rate_days_over_days_in_year(
        days_in_year: DaysInYear, basis: int) -> None:
    # 2025-03-15 .. 2025-04-15 is 31 days, in a common year.
    schedule = build(_monthly(disbursed_on=date(2025, 2, 15), installments=3,
                              interest_period=InterestPeriod.DAILY, days_in_year=days_in_year))
    first, second, _ = schedule.installments
    assert first.interest == round(Fraction(TEN_THOUSAND * 12 * 28, 100 * basis))
    assert second.interest == round(Fraction(first.balance * 12 * 31, 100 * basis))
    assert second.year_fraction == Fraction(31, basis)


def test_daily_interest_with_actual_days_uses_366_in_a_leap_year() -> None:
    schedule = build(_monthly(disbursed_on=date(2024, 1, 15), installments=3,
                              interest_period=InterestPeriod.DAILY))
    first, february, _ = schedule.installments
    assert first.interest == round(Fraction(TEN_THOUSAND * 12 * 31, 100 * 366)) == 10_164
    assert february.year_fraction == Fraction(29, 366)
    assert february.interest == round(Fraction(first.balance * 12 * 29, 100 * 366))


def test_daily_interest_with_actual_days_splits_a_period_across_new_year() -> None:
    schedule = build(_monthly(disbursed_on=date(2023, 12, 15), installments=3,
                              interest_period=InterestPeriod.DAILY))
    first = schedule.installments[0]
    assert first.year_fraction == Fraction(17, 365) + Fraction(14, 366)
    assert first.interest == round(TEN_THOUSAND * Fraction(12, 100) * first.year_fraction)


@pytest.mark.parametrize(("principal", "interest"), [(250, 2), (350, 4)])
def test_daily_interest_rounds_half_even(principal: int, interest: int) -> None:
    # 30 days on a 360-day year: principal x 1 %, exactly x.5.
    schedule = build(_monthly(principal=principal, installments=1, disbursed_on=date(2025, 4, 1),
                              interest_period=InterestPeriod.DAILY,
                              days_in_year=DaysInYear.DAYS_360))
    assert schedule.installments[0].interest == interest


# --- refused terms ---------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "field"), [
    ({"principal": 0}, "principal"),
    ({"principal": -5}, "principal"),
    ({"installments": MAX_INSTALLMENTS + 1}, "installments"),
    ({"installments": 0}, "installments"),
    ({"annual_rate": Decimal(-1)}, "annual_rate"),
    ({"grace_on_principal": 12}, "grace_on_principal"),
    ({"grace_on_interest_payment": 12}, "grace_on_interest_payment"),
    ({"grace_on_interest_charged": 13}, "grace_on_interest_charged"),
    ({"first_due_on": date(2025, 1, 14)}, "first_due_on"),
    ({"first_due_on": date(2025, 1, 15)}, "first_due_on"),
    ({"first_due_on": date(2025, 3, 16)}, "first_due_on"),
    ({"fee": TEN_THOUSAND}, "fee"),
    ({"principal": 1000, "installment_multiple": 1000}, "installment_multiple"),
    ({"principal": 1000, "installment_multiple": 1000, "interest_method": FLAT},
     "installment_multiple"),
    ({"installment_multiple": 0}, "installment_multiple"),
])
def test_impossible_terms_are_refused_naming_the_field(changes: dict[str, object],
                                                       field: str) -> None:
    with pytest.raises(TermsInvalid) as raised:
        build(_monthly(**changes))
    assert isinstance(raised.value, InvalidInput)
    assert raised.value.field == field


def test_an_installment_rounding_to_zero_is_refused() -> None:
    # 10.00 over 12 months is 0.89 a month: rounded to a multiple of 10.00 that is nothing.
    with pytest.raises(TermsInvalid, match="zero") as raised:
        build(_monthly(principal=1000, installment_multiple=1000))
    assert raised.value.field == "installment_multiple"


def test_terms_invalid_is_an_invalid_input() -> None:
    assert issubclass(TermsInvalid, InvalidInput)


# --- the replay engine -----------------------------------------------------------------------


def _on_schedule(schedule: Schedule) -> list[Payment]:
    return [Payment(i.due_on, i.total) for i in schedule.installments]


def _interest_paid_to_close(schedule: Schedule, payments: list[Payment]) -> int:
    """Interest paid by `payments` then the payoff on the maturity date."""
    plan = _plan(schedule)
    maturity = schedule.installments[-1].due_on
    before = position(plan, payments, maturity)
    after = position(plan, [*payments, Payment(maturity, before.payoff)], maturity)
    assert after.closed
    return sum(a.interest for a in after.allocations)


def test_paying_every_installment_on_its_due_date_pays_exactly_the_schedule() -> None:
    schedule = build(_monthly())
    plan = _plan(schedule)
    rows = schedule.installments
    after = position(plan, _on_schedule(schedule), rows[-1].due_on)
    assert [(a.interest, a.principal) for a in after.allocations] == [
        (i.interest, i.principal) for i in rows]
    assert all(a.penalty == 0 and a.fees == 0 for a in after.allocations)
    assert after.closed
    assert after.outstanding_principal == 0 and after.days_past_due == 0
    assert {v.status for v in installments(plan, _on_schedule(schedule), rows[-1].due_on)} == {
        "paid"}


def test_the_fineract_v2_loan_paid_on_schedule_closes() -> None:
    schedule = _fineract(DECLINING)
    after = position(_plan(schedule), _on_schedule(schedule), date(2024, 5, 1))
    assert after.closed
    assert sum(a.interest for a in after.allocations) == _minor("488.22")


def test_paying_an_installment_ten_days_late_costs_about_ten_days_of_interest() -> None:
    schedule = build(_monthly())
    rows = schedule.installments
    on_time = _interest_paid_to_close(schedule, _on_schedule(schedule)[:-1])
    assert on_time == schedule.total_interest
    late = [Payment(date(2025, 2, 25), rows[0].total), *_on_schedule(schedule)[1:-1]]
    extra = _interest_paid_to_close(schedule, late) - on_time
    # Ten days of the second period (28 days, 2025-02-15 .. 03-15) on the first principal,
    # plus a little interest on the principal the late payment left unpaid.
    ten_days = rows[0].principal * Fraction(12, 100) / 12 * Fraction(10, 28)
    assert ten_days <= extra <= ten_days * Fraction(115, 100)


def test_a_late_payment_goes_to_overdue_interest_and_principal_first() -> None:
    schedule = build(_monthly())
    first = schedule.installments[0]
    allocation, after = allocate(_plan(schedule), [], Payment(date(2025, 2, 25), first.total))
    assert (allocation.interest, allocation.principal) == (first.interest, first.principal)
    assert after.interest_due == round(Fraction(TEN_THOUSAND, 100) * Fraction(10, 28))


def test_paying_early_costs_less_interest() -> None:
    schedule = build(_monthly())
    rows = schedule.installments
    early = [Payment(date(2025, 2, 5), rows[0].total), *_on_schedule(schedule)[1:-1]]
    assert _interest_paid_to_close(schedule, early) < schedule.total_interest
    everything_early = [Payment(i.due_on.replace(day=5), i.total) for i in rows[:-1]]
    assert _interest_paid_to_close(schedule, everything_early) < _interest_paid_to_close(
        schedule, early)


def test_a_payment_above_the_payoff_is_refused_with_the_payoff() -> None:
    schedule = build(_monthly())
    plan = _plan(schedule)
    day = date(2025, 2, 1)
    payoff = position(plan, [], day).payoff
    assert payoff == TEN_THOUSAND + round(Fraction(TEN_THOUSAND, 100) * Fraction(17, 31))
    with pytest.raises(PaymentTooLarge) as raised:
        allocate(plan, [], Payment(day, payoff + 1))
    assert raised.value.payoff == payoff
    allocation, after = allocate(plan, [], Payment(day, payoff))
    assert allocation.total == payoff and after.closed


def test_a_payment_dated_before_the_previous_one_is_refused() -> None:
    schedule = build(_monthly())
    plan = _plan(schedule)
    earlier = [Payment(date(2025, 2, 15), 50_000)]
    with pytest.raises(PaymentOutOfOrder):
        allocate(plan, earlier, Payment(date(2025, 2, 14), 1_000))
    with pytest.raises(PaymentOutOfOrder):
        position(plan, [*earlier, Payment(date(2025, 2, 14), 1_000)], date(2025, 3, 1))
    allocate(plan, earlier, Payment(date(2025, 2, 15), 1_000))  # the same day is fine


def test_days_past_due_count_from_the_first_uncovered_installment() -> None:
    schedule = build(_monthly())
    plan = _plan(schedule)
    rows = schedule.installments
    nothing = position(plan, [], date(2025, 3, 1))
    assert nothing.first_unpaid_due == date(2025, 2, 15)
    assert nothing.days_past_due == 14
    assert nothing.overdue == rows[0].total
    assert position(plan, [], date(2025, 2, 15)).days_past_due == 0
    assert position(plan, [], date(2025, 2, 16)).days_past_due == 1
    first_paid = [Payment(rows[0].due_on, rows[0].total)]
    after = position(plan, first_paid, date(2025, 4, 1))
    assert (after.first_unpaid_due, after.days_past_due) == (date(2025, 3, 15), 17)
    short = [Payment(rows[0].due_on, rows[0].total - 1)]
    after = position(plan, short, date(2025, 4, 1))
    assert (after.first_unpaid_due, after.days_past_due) == (date(2025, 2, 15), 45)


def test_a_frozen_window_does_not_age_arrears() -> None:
    schedule = build(_monthly())
    frozen = _plan(schedule, frozen=((date(2025, 2, 20), date(2025, 2, 24)),))
    assert position(frozen, [], date(2025, 3, 1)).days_past_due == 14 - 5
    before = _plan(schedule, frozen=((date(2025, 1, 20), date(2025, 2, 10)),))
    assert position(before, [], date(2025, 3, 1)).days_past_due == 14
    ongoing = _plan(schedule, frozen=((date(2025, 2, 20), date(2025, 6, 30)),))
    assert position(ongoing, [], date(2025, 3, 1)).days_past_due == 5


def test_a_penalty_accrues_only_on_what_is_overdue() -> None:
    schedule = build(_monthly())
    rows = schedule.installments
    plan = _plan(schedule, penalty_rate=Fraction(24, 100))
    on_time = [Payment(i.due_on, i.total) for i in rows[:3]]
    assert position(plan, on_time, date(2025, 5, 14)).penalty_due == 0
    assert position(plan, [], date(2025, 2, 15)).penalty_due == 0
    overdue = position(plan, [], date(2025, 3, 1))
    assert overdue.penalty_due == round(rows[0].total * Fraction(24, 100) * Fraction(14, 365))
    assert overdue.payoff == (TEN_THOUSAND + overdue.interest_due + overdue.penalty_due)
    # The penalty is paid first (default order).
    allocation, after = allocate(plan, [], Payment(date(2025, 3, 1), 1_000))
    assert (allocation.penalty, allocation.interest) == (overdue.penalty_due,
                                                         1_000 - overdue.penalty_due)
    assert after.penalty_due == 0


def test_installment_statuses_overdue_due_and_upcoming() -> None:
    schedule = build(_monthly())
    rows = schedule.installments
    plan = _plan(schedule)
    views = installments(plan, [Payment(rows[0].due_on, rows[0].total)], rows[2].due_on)
    assert [v.status for v in views[:4]] == ["paid", "overdue", "due", "upcoming"]
    assert [v.paid for v in views[:4]] == [rows[0].total, 0, 0, 0]
    assert [(v.principal, v.interest, v.total) for v in views[:11]] == [
        (r.principal, r.interest, r.total) for r in rows[:11]]
    assert views[-1].total > rows[-1].total  # a late installment costs more at the end


def test_installment_statuses_partly_paid() -> None:
    schedule = build(_monthly())
    rows = schedule.installments
    payments = [Payment(rows[0].due_on, rows[0].total),
                Payment(rows[1].due_on, rows[1].total + 40_000)]
    views = installments(_plan(schedule), payments, date(2025, 3, 20))
    assert [v.status for v in views[:4]] == ["paid", "paid", "partly_paid", "upcoming"]
    assert views[2].paid == 40_000
    assert views[-1].total < rows[-1].total  # paying ahead shrinks the last installment


# --- regressions: the engine honours every kind of schedule ---------------------------------
# Each loan below is paid exactly its scheduled installments on their due dates: the engine
# promises that "a member who pays exactly on schedule pays exactly the scheduled interest",
# and the loan is then closed. Each of these once failed (see the test report).


def _replay_schedule(terms: Terms) -> tuple[Schedule, list[tuple[int, int]], int]:
    """(schedule, [(interest, principal) allocated], payoff left) for on-schedule payments."""
    schedule = build(terms)
    plan = _plan(schedule)
    payments: list[Payment] = []
    allocated: list[tuple[int, int]] = []
    for row in schedule.installments:
        try:
            allocation, after = allocate(plan, payments, Payment(row.due_on, row.total))
        except PaymentTooLarge as refused:
            pytest.fail(f"installment {row.number} ({row.total}) refused: the payoff is "
                        f"{refused.payoff}; allocated so far {allocated}")
        payments.append(Payment(row.due_on, row.total))
        allocated.append((allocation.interest, allocation.principal))
    return schedule, allocated, after.payoff


def test_grace_on_interest_payment_is_not_collected_during_the_grace() -> None:
    schedule, allocated, left = _replay_schedule(_monthly(installments=2,
                                                          grace_on_interest_payment=1))
    # 4975.12 principal and no interest on 2025-02-15, then 5024.88 + 150.25 (once the engine
    # took 100.00 of the first installment as interest and left 1.00 owed at the end).
    assert [(r.interest, r.principal) for r in schedule.installments] == [
        (0, 497_512), (15_025, 502_488)]
    assert allocated == [(0, 497_512), (15_025, 502_488)]
    assert left == 0


def test_grace_on_interest_payment_over_several_periods_replays_exactly() -> None:
    schedule, allocated, left = _replay_schedule(_monthly(grace_on_interest_payment=3))
    assert allocated == [(r.interest, r.principal) for r in schedule.installments]
    assert left == 0


def test_paying_off_during_an_interest_payment_grace_pays_the_deferred_interest() -> None:
    schedule = build(_monthly(grace_on_interest_payment=3))
    plan = _plan(schedule)
    day = date(2025, 3, 1)
    accrued = round(Fraction(TEN_THOUSAND, 100)) + round(Fraction(TEN_THOUSAND, 100)
                                                         * Fraction(14, 28))
    payoff = position(plan, [], day).payoff
    assert payoff == TEN_THOUSAND + accrued
    allocation, after = allocate(plan, [], Payment(day, payoff))
    assert (allocation.interest, allocation.principal) == (accrued, TEN_THOUSAND)
    assert after.closed


def test_flat_loan_with_a_broken_first_period_replays_exactly() -> None:
    # The schedule charges a whole month of flat interest (100.00) for 2025-01-15 .. 02-01
    # (the engine once accrued 17/31 of it and refused the last installment as too large).
    schedule, allocated, left = _replay_schedule(_monthly(
        installments=2, interest_method=FLAT, first_due_on=date(2025, 2, 1)))
    assert [r.interest for r in schedule.installments] == [10_000, 10_000]
    assert allocated == [(r.interest, r.principal) for r in schedule.installments]
    assert left == 0


def test_flat_loan_with_daily_interest_period_replays_exactly() -> None:
    # The schedule charges principal x rate / 12 = 100.00 flat (the engine once accrued
    # principal x rate x 31 / 365 = 101.92 and left 1.92 owed).
    schedule, allocated, left = _replay_schedule(_monthly(
        installments=1, interest_method=FLAT, interest_period=InterestPeriod.DAILY))
    assert schedule.installments[0].interest == 10_000
    assert allocated == [(10_000, TEN_THOUSAND)]
    assert left == 0


def test_a_moratorium_window_stops_the_penalty_and_interest_free_windows_stop_interest() -> None:
    """Nothing paid on a 12-month loan: by 1 June the penalty has run on the overdue amount
    since 15 February; a frozen window in April and May stops it for those days, and an
    interest-free window stops the interest for them too, while ageing skips them."""
    schedule = build(_monthly())
    window = (date(2025, 4, 1), date(2025, 5, 31))
    as_of = date(2025, 6, 1)
    plain = position(_plan(schedule, penalty_rate=Fraction(24, 100)), [], as_of)
    frozen = position(_plan(schedule, penalty_rate=Fraction(24, 100), frozen=(window,)), [],
                      as_of)
    free = position(_plan(schedule, penalty_rate=Fraction(24, 100), frozen=(window,),
                          interest_free=(window,)), [], as_of)
    assert plain.penalty_due > frozen.penalty_due > 0
    assert frozen.interest_due == plain.interest_due > free.interest_due > 0
    assert plain.days_past_due - frozen.days_past_due == 61 == plain.days_past_due - (
        free.days_past_due)


def test_the_principal_left_after_each_installment_follows_her_payments() -> None:
    """A worked example. Asha borrows 3,000.00 at 12 % a year over three months from
    15-01-2025: three installments of 1,020.07, 1,020.07 and 1,020.06, whose principal is
    990.07, 999.97 and 1,009.96. With the first, on 15-02, she pays 1,500.00 more (2,520.07):
    interest 30.00, principal 2,490.07, leaving 509.93. March asks nothing (she paid ahead);
    interest runs on 509.93 at 1 % a month: 5.10 in March and 5.10 in April. On 15-04 she
    pays 509.93 + 10.20 = 520.13 and the loan is closed.

    Her card once took the plan's principal off row by row and capped the last row at its
    total: 3,000.00 - 990.07 - 999.97 - 1,000.06 = 9.90 "still owed" after a closed loan's
    last installment. The principal left after an installment is instead what her payments
    left at the moment they reached it (interest first within a payment): after the first,
    3,000.00 - 990.07 = 2,009.93; after the second (1,020.07 more, all principal, inside the
    same payment) 989.86; after the last nothing, the last being 989.86 principal and
    10.20 interest."""
    schedule = build(Terms(principal=300_000, annual_rate=TWELVE, installments=3,
                           disbursed_on=date(2025, 1, 15)))
    assert _rows(schedule) == [
        (date(2025, 2, 15), 99_007, 3_000, 102_007, 200_993),
        (date(2025, 3, 15), 99_997, 2_010, 102_007, 100_996),
        (date(2025, 4, 15), 100_996, 1_010, 102_006, 0)]
    plan = _plan(schedule)
    ahead = [Payment(date(2025, 2, 15), 252_007)]
    allocation, after = allocate(plan, [], ahead[0])
    assert (allocation.interest, allocation.principal, after.outstanding_principal) == (
        3_000, 249_007, 50_993)
    closing = position(plan, ahead, date(2025, 4, 15))
    assert (closing.interest_due, closing.payoff) == (1_020, 52_013)
    payments = [*ahead, Payment(date(2025, 4, 15), 52_013)]
    assert position(plan, payments, date(2025, 4, 15)).closed

    views = installments(plan, payments, date(2025, 4, 15))
    assert [(v.principal, v.interest, v.total, v.balance_after) for v in views] == [
        (99_007, 3_000, 102_007, 200_993),
        (99_997, 2_010, 102_007, 98_986),
        (98_986, 1_020, 100_006, 0)]
    assert [v.status for v in views] == ["paid"] * 3
    old_card = 300_000 - sum(r.principal for r in schedule.installments[:2]) - min(
        views[-1].total, schedule.installments[-1].principal)
    assert old_card == 990

    # Before April she sees the same, the last installment still to come.
    march = installments(plan, ahead, date(2025, 3, 20))
    assert [(v.balance_after, v.status) for v in march] == [
        (200_993, "paid"), (98_986, "paid"), (0, "partly_paid")]
    assert (march[-1].principal, march[-1].interest, march[-1].paid) == (98_986, 1_020, 47_993)
