"""The year-end arithmetic of coop.dividends.calc, by example.

The worked examples of shared/reference/domain.md §1.3 (months held: ₹1,000 of shares allotted
on 20 August at 15 % earn ₹87.50) and §1.4 (the MSCS appropriation of a ₹1,00,000 surplus on
₹2,00,000 of paid-up capital), then the edges of each basis: share-days count every day from
the purchase day to the year's end (or to an exit day), whole months only for months-held,
the holding at the end of the last day for the closing register; the rounding of the
statutory transfers (always up) and of the dividend pool (always down); and the exact split.
Then each rounding rule by name (the rebate pool truncated, ROUND_DOWN; the rate a declared
amount comes to, ROUND_HALF_EVEN at four places) and `distribution` as a whole: the worked
figures of tests/integration/test_dividends_service.py, a tie, a rebate with residues in whole
rupees, a loss, and every refusal.

Amounts are minor units (paise): ₹1,00,000 is 10_000_000; face values are minor units per share.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import pytest

from coop.dividends.calc import (
    Appropriation,
    Basis,
    Distribution,
    FiscalYear,
    Movement,
    Split,
    appropriate,
    basis_value,
    ceil_percent,
    closing_register,
    distribution,
    months_held,
    periods_in_year,
    pool_at,
    rate_of,
    rate_pool,
    rebate_pool_of,
    share_days,
    split,
    to_whole,
)
from coop.dividends.errors import AboveCap
from coop.errors import CoopError, InvalidInput, InvariantViolation

MSCS = [
    ("statutory_reserve", "3100", Decimal(25)),
    ("education_fund", "3110", Decimal(1)),
    ("unforeseen_loss_reserve", "3120", Decimal(10)),
]
FY = FiscalYear.of(2024, "04-01")  # 2024-04-01 .. 2025-03-31, 365 days
LEAP_FY = FiscalYear.of(2023, "04-01")  # 2023-04-01 .. 2024-03-31, 366 days
FACE = 1000  # 10.00 a share
BEFORE = date(2023, 6, 1)  # bought before FY: part of the opening holding


def rupees(amount: int) -> int:
    return amount * 100


# -- the fiscal year --------------------------------------------------------------------------


def test_a_fiscal_year_runs_from_its_start_day_to_the_day_before_the_next() -> None:
    assert (FY.name, FY.start, FY.end, FY.days) == (2024, date(2024, 4, 1), date(2025, 3, 31), 365)
    assert (LEAP_FY.start, LEAP_FY.end, LEAP_FY.days) == (date(2023, 4, 1), date(2024, 3, 31), 366)
    calendar = FiscalYear.of(2024, "01-01")
    assert (calendar.start, calendar.end, calendar.days) == (date(2024, 1, 1),
                                                              date(2024, 12, 31), 366)


@pytest.mark.parametrize("name", [1899, 9999, 25])
def test_a_fiscal_year_outside_the_calendar_is_refused(name: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        FiscalYear.of(name, "04-01")
    assert refused.value.field == "fy"


# -- the appropriation (domain.md §1.4) --------------------------------------------------------


def test_worked_appropriation_of_a_lakh_surplus() -> None:
    rows, distributable = appropriate(rupees(1_00_000), MSCS)
    assert rows == [
        Appropriation("statutory_reserve", "3100", Decimal(25), rupees(25_000)),
        Appropriation("education_fund", "3110", Decimal(1), rupees(1_000)),
        Appropriation("unforeseen_loss_reserve", "3120", Decimal(10), rupees(10_000)),
    ]
    assert distributable == rupees(64_000)
    assert sum(row.amount for row in rows) + distributable == rupees(1_00_000)


def test_worked_dividend_cap_on_two_lakh_of_capital_held_all_year() -> None:
    register = [Movement(BEFORE, 200)]  # 200 shares of 1,000.00 = 2,00,000
    capital = closing_register(register, FY, rupees(1_000))
    assert capital == rupees(2_00_000)
    pool = rate_pool(capital, Decimal(15), Basis.CLOSING_REGISTER, FY)
    assert pool <= rupees(30_000)
    assert pool == rupees(30_000)
    _, distributable = appropriate(rupees(1_00_000), MSCS)
    assert pool <= distributable


@pytest.mark.parametrize("net", [0, -1, -rupees(50_000)])
def test_a_loss_or_a_nil_surplus_appropriates_nothing(net: int) -> None:
    rows, distributable = appropriate(net, MSCS)
    assert [(row.fund, row.account, row.percent, row.amount) for row in rows] == [
        (fund, account, percent, 0) for fund, account, percent in MSCS]
    assert distributable == 0


def test_transfers_round_up_so_a_statutory_minimum_is_never_undershot() -> None:
    # 25 % of 3 paise is 0.75, 1 % is 0.03, 10 % is 0.3: each rounds up to a whole paisa.
    rows, distributable = appropriate(3, MSCS)
    assert [row.amount for row in rows] == [1, 1, 1]
    assert distributable == 0
    rows, distributable = appropriate(rupees(1_00_000) + 1, MSCS)
    assert [row.amount for row in rows] == [2_500_001, 100_001, 1_000_001]
    for row in rows:
        assert row.amount >= Fraction(rupees(1_00_000) + 1) * Fraction(row.percent) / 100
    assert distributable == rupees(1_00_000) + 1 - 3_600_003


def test_ceil_percent_rounds_up_to_the_minor_unit() -> None:
    assert ceil_percent(1, Decimal(25)) == 1
    assert ceil_percent(4, Decimal(25)) == 1
    assert ceil_percent(5, Decimal(25)) == 2
    assert ceil_percent(rupees(1_00_000), Decimal(25)) == rupees(25_000)
    assert ceil_percent(10_000, Decimal("33.33")) == 3_333
    assert ceil_percent(10_001, Decimal("33.33")) == 3_334  # 3333.3333
    assert ceil_percent(0, Decimal(25)) == 0


def test_percentages_adding_to_more_than_100_are_refused() -> None:
    funds = [("statutory_reserve", "3100", Decimal(60)), ("education_fund", "3110",
                                                           Decimal("40.01"))]
    with pytest.raises(InvalidInput) as refused:
        appropriate(rupees(1_00_000), funds)
    assert refused.value.field == "settings"


def test_a_one_paisa_surplus_under_the_mscs_preset_is_not_refused() -> None:
    """BUG: the MSCS preset's 36 % is refused as "more than 100" for a surplus of 1 or 2 paise.

    Each transfer rounds up on its own (1 + 1 + 1 paise out of 1), the sum overshoots the
    surplus and appropriate() raises "the appropriation percentages add up to more than 100",
    so a year closed with a 0.01 surplus cannot be previewed or declared."""
    for net in (1, 2):
        rows, distributable = appropriate(net, MSCS)
        assert distributable >= 0
        assert sum(row.amount for row in rows) + distributable == net


def test_percentages_adding_to_exactly_100_are_not_refused() -> None:
    """BUG: 50 % + 50 % of 1.01 (101 paise) is refused as "more than 100": 51 + 51 > 101."""
    funds = [("statutory_reserve", "3100", Decimal(50)), ("unforeseen_loss_reserve", "3120",
                                                          Decimal(50))]
    rows, distributable = appropriate(101, funds)
    assert distributable >= 0
    assert sum(row.amount for row in rows) + distributable == 101


# -- months held (domain.md §1.3) ---------------------------------------------------------------


def months_dividend(movements: list[Movement], rate: Decimal, face: int = FACE,
                    *, until: date | None = None) -> Fraction:
    return months_held(movements, FY, face, until=until) * Fraction(rate) / 100 / 12


def test_worked_months_held_example_20_august_earns_87_50() -> None:
    shares = [Movement(date(2024, 8, 20), 100)]  # 100 x 10.00 = 1,000.00
    assert months_held(shares, FY, FACE) == 7 * rupees(1_000)  # September to March
    assert months_dividend(shares, Decimal(15)) == Fraction(8_750)  # 87.50
    pool = rate_pool(months_held(shares, FY, FACE), Decimal(15), Basis.MONTHS_HELD, FY)
    assert pool == 8_750
    one_share = [Movement(date(2024, 8, 20), 1)]
    assert months_dividend(one_share, Decimal(15), face=rupees(1_000)) == Fraction(8_750)


def test_shares_paid_on_the_first_count_that_month() -> None:
    shares = [Movement(date(2024, 8, 1), 100)]
    assert months_held(shares, FY, FACE) == 8 * rupees(1_000)  # August to March
    assert months_dividend(shares, Decimal(15)) == Fraction(10_000)  # 100.00
    assert months_held([Movement(FY.start, 1)], FY, FACE) == 12 * FACE
    assert months_held([Movement(date(2025, 3, 1), 1)], FY, FACE) == FACE
    assert months_held([Movement(date(2025, 3, 2), 1)], FY, FACE) == 0
    assert months_held([Movement(FY.end, 1)], FY, FACE) == 0


def test_shares_held_at_the_start_of_the_year_count_from_april() -> None:
    shares = [Movement(BEFORE, 100)]
    assert months_held(shares, FY, FACE) == 12 * rupees(1_000)
    assert months_dividend(shares, Decimal(15)) == Fraction(rupees(150))
    assert months_held([Movement(FY.start - timedelta(days=1), 1)], FY, FACE) == 12 * FACE


def test_shares_redeemed_mid_month_lose_that_month() -> None:
    held = Movement(BEFORE, 10)
    assert months_held([held, Movement(date(2025, 1, 15), -10)], FY, FACE) == 9 * 10 * FACE
    # A redemption on the 1st or the last day of a month also loses the month: the shares
    # were not held on every day of it.
    assert months_held([held, Movement(date(2025, 1, 1), -10)], FY, FACE) == 9 * 10 * FACE
    assert months_held([held, Movement(date(2025, 1, 31), -10)], FY, FACE) == 9 * 10 * FACE
    # A part redemption keeps the month for what stayed: Apr-Dec 10 shares, Jan-Mar 6.
    assert months_held([held, Movement(date(2025, 1, 15), -4)], FY, FACE) == (9 * 10 + 3 * 6
                                                                               ) * FACE


def test_shares_bought_and_redeemed_within_one_month_count_nothing() -> None:
    shares = [Movement(date(2024, 9, 2), 5), Movement(date(2024, 9, 28), -5)]
    assert months_held(shares, FY, FACE) == 0


def test_months_held_stops_at_an_exit_and_ignores_other_years() -> None:
    held = [Movement(BEFORE, 10)]
    assert months_held(held, FY, FACE, until=date(2025, 1, 15)) == 9 * 10 * FACE
    assert months_held(held, FY, FACE, until=date(2025, 1, 31)) == 10 * 10 * FACE
    assert months_held(held, FY, FACE, until=FY.end) == 12 * 10 * FACE
    assert months_held(held, FY, FACE, until=date(2026, 1, 1)) == 12 * 10 * FACE
    assert months_held(held, FY, FACE, until=FY.start - timedelta(days=30)) == 0
    assert months_held([Movement(date(2025, 4, 1), 10)], FY, FACE) == 0
    assert months_held([*held, Movement(date(2025, 4, 1), -10)], FY, FACE) == 12 * 10 * FACE


def test_months_held_in_a_leap_fiscal_year_counts_february_whole() -> None:
    assert months_held([Movement(date(2024, 2, 1), 1)], LEAP_FY, FACE) == 2 * FACE
    assert months_held([Movement(date(2024, 2, 29), 1)], LEAP_FY, FACE) == FACE  # March only


# -- share-days ------------------------------------------------------------------------------


def test_a_purchase_counts_from_its_own_day_to_the_years_end() -> None:
    assert share_days([Movement(FY.start, 1)], FY, FACE) == 365 * FACE
    assert share_days([Movement(LEAP_FY.start, 1)], LEAP_FY, FACE) == 366 * FACE
    assert share_days([Movement(FY.end, 1)], FY, FACE) == FACE
    assert share_days([Movement(LEAP_FY.end, 3)], LEAP_FY, FACE) == 3 * FACE
    assert share_days([Movement(date(2024, 11, 6), 1)], FY, FACE) == 146 * FACE
    assert share_days([Movement(date(2024, 2, 29), 1)], LEAP_FY, FACE) == 32 * FACE


def test_movements_before_the_year_are_the_opening_holding_and_after_it_are_ignored() -> None:
    shares = [Movement(BEFORE, 7), Movement(FY.start - timedelta(days=1), 3),
              Movement(FY.end + timedelta(days=1), 100), Movement(date(2026, 1, 1), -10)]
    assert share_days(shares, FY, FACE) == 10 * 365 * FACE
    # In 2023-24 the same movements are within the year: 7 shares from 1 June (366 - 30 - 31
    # days) and 3 more on the last day.
    assert share_days(shares, LEAP_FY, FACE) == (7 * 305 + 3 * 1) * FACE


def test_a_redemption_stops_counting_from_its_day() -> None:
    shares = [Movement(BEFORE, 10), Movement(date(2024, 4, 11), -4)]
    # 10 shares on 1-10 April, 6 from 11 April to the end.
    assert share_days(shares, FY, FACE) == (10 * 10 + 6 * 355) * FACE
    same_day = [Movement(date(2024, 5, 1), 5), Movement(date(2024, 5, 1), -5)]
    assert share_days(same_day, FY, FACE) == 0


def test_an_exit_day_is_the_last_day_counted() -> None:
    shares = [Movement(BEFORE, 10)]
    assert share_days(shares, FY, FACE, until=FY.start) == 10 * FACE
    assert share_days(shares, FY, FACE, until=date(2024, 4, 30)) == 10 * 30 * FACE
    assert share_days(shares, FY, FACE, until=FY.end) == 10 * 365 * FACE
    assert share_days(shares, FY, FACE, until=date(2027, 1, 1)) == 10 * 365 * FACE
    bought_later = [*shares, Movement(date(2024, 5, 1), 5)]
    assert share_days(bought_later, FY, FACE, until=date(2024, 4, 30)) == 10 * 30 * FACE
    assert share_days(bought_later, FY, FACE, until=date(2024, 5, 1)) == (10 * 30 + 15) * FACE


def test_an_exit_before_the_year_gives_no_share_days() -> None:
    """BUG: an exit day before the year's first day makes share_days() negative.

    `last` becomes the exit day, before `cursor` (the year's start), and the opening holding is
    multiplied by a negative day count: 10 shares of 10.00 from 2023-05-01 with an exit on
    2024-01-01 give -900000 for FY 2024-25. The service passes `until` for every member whose
    exit is on or before the year's end, including exits in earlier years."""
    shares = [Movement(date(2023, 5, 1), 10)]
    assert share_days(shares, FY, FACE, until=date(2024, 1, 1)) == 0
    assert share_days(shares, FY, FACE, until=FY.start - timedelta(days=1)) == 0
    assert basis_value(Basis.SHARE_DAYS, shares, FY, FACE, until=date(2024, 1, 1)) == 0


# -- the closing register ----------------------------------------------------------------------


def test_the_closing_register_is_the_holding_at_the_end_of_the_last_day() -> None:
    shares = [Movement(BEFORE, 10), Movement(date(2024, 9, 9), 5), Movement(FY.end, -3),
              Movement(FY.end + timedelta(days=1), 50)]
    assert closing_register(shares, FY, FACE) == 12 * FACE
    assert closing_register([Movement(FY.end, 4)], FY, FACE) == 4 * FACE
    assert closing_register([Movement(BEFORE, 4), Movement(date(2025, 1, 1), -4)], FY,
                            FACE) == 0


def test_the_closing_register_pays_nobody_who_left_within_the_year() -> None:
    shares = [Movement(BEFORE, 10)]
    kind = Basis.CLOSING_REGISTER
    assert basis_value(kind, shares, FY, FACE) == 10 * FACE
    assert basis_value(kind, shares, FY, FACE, until=date(2024, 10, 1)) == 0
    assert basis_value(kind, shares, FY, FACE, until=FY.end) == 0
    assert basis_value(kind, shares, FY, FACE, until=FY.start) == 0
    assert basis_value(kind, shares, FY, FACE, until=FY.end + timedelta(days=1)) == 10 * FACE


def test_basis_value_dispatches_on_the_basis() -> None:
    shares = [Movement(BEFORE, 10), Movement(date(2024, 8, 20), 10)]
    until = date(2025, 2, 10)
    assert basis_value(Basis.SHARE_DAYS, shares, FY, FACE, until=until) == share_days(
        shares, FY, FACE, until=until)
    assert basis_value(Basis.MONTHS_HELD, shares, FY, FACE, until=until) == months_held(
        shares, FY, FACE, until=until)
    assert basis_value(Basis.CLOSING_REGISTER, shares, FY, FACE) == 20 * FACE


def test_periods_in_year() -> None:
    assert periods_in_year(Basis.SHARE_DAYS, FY) == 365
    assert periods_in_year(Basis.SHARE_DAYS, LEAP_FY) == 366
    assert periods_in_year(Basis.MONTHS_HELD, LEAP_FY) == 12
    assert periods_in_year(Basis.CLOSING_REGISTER, FY) == 1


def test_a_share_held_all_year_earns_the_rate_on_every_basis() -> None:
    for year in (FY, LEAP_FY):
        shares = [Movement(year.start - timedelta(days=1), 100)]
        for kind in Basis:
            value = basis_value(kind, shares, year, FACE)
            assert rate_pool(value, Decimal(15), kind, year) == rupees(150)


def test_the_rate_pool_rounds_down_to_the_minor_unit() -> None:
    # 1 share-day of 10.00 at 15 % over 365 days is 0.0041 paise.
    assert rate_pool(FACE, Decimal(15), Basis.SHARE_DAYS, FY) == 0
    assert rate_pool(1_000_001, Decimal("12.5"), Basis.CLOSING_REGISTER, FY) == 125_000
    assert rate_pool(999, Decimal("0.01"), Basis.CLOSING_REGISTER, FY) == 0
    assert rate_pool(rupees(1_00_000), Decimal(0), Basis.MONTHS_HELD, FY) == 0


# -- share-days, twice the holding, twice the dividend ----------------------------------------


def test_twice_the_share_days_earn_twice_the_dividend_within_one_paisa() -> None:
    a = [Movement(date(2024, 11, 6), 20)]  # 20 shares x 146 days
    b = [Movement(BEFORE, 4)]  # 4 shares x 365 days
    bases = [share_days(a, FY, FACE), share_days(b, FY, FACE)]
    assert bases == [2_920_000, 1_460_000]
    for rate in (Decimal(15), Decimal("13.37"), Decimal("0.07"), Decimal("7.77")):
        pool = rate_pool(sum(bases), rate, Basis.SHARE_DAYS, FY)
        result = split(pool, bases)
        assert result.allocated == pool and result.residue == 0
        assert abs(result.amounts[0] - 2 * result.amounts[1]) <= 1, (rate, result)
    pool = rate_pool(sum(bases), Decimal("13.37"), Basis.SHARE_DAYS, FY)
    assert (pool, split(pool, bases).amounts) == (1_604, [1_069, 535])


# -- split ---------------------------------------------------------------------------------


def test_split_sums_exactly_to_the_pool() -> None:
    result = split(100, [1, 1, 1])
    assert result.amounts == [34, 33, 33]  # the extra paisa goes to the earlier row
    assert (result.allocated, result.residue) == (100, 0)


def test_split_in_whole_units_leaves_a_residue_smaller_than_the_unit() -> None:
    result = split(1_050, [1, 1, 1], unit=100)
    assert result.amounts == [400, 300, 300]
    assert (result.allocated, result.residue) == (1_000, 50)
    result = split(99, [5, 7], unit=100)
    assert (result.amounts, result.allocated, result.residue) == ([0, 0], 0, 99)
    result = split(12_345, [3, 0, 1], unit=1_000)
    assert all(amount % 1_000 == 0 for amount in result.amounts)
    assert result.amounts[1] == 0
    assert result.allocated == sum(result.amounts) == 12_000
    assert result.allocated + result.residue == 12_345 and result.residue < 1_000


def test_split_gives_a_zero_weight_nothing() -> None:
    result = split(1_001, [0, 3, 0, 1, 0])
    assert result.amounts == [0, 751, 0, 250, 0]
    assert (result.allocated, result.residue) == (1_001, 0)


def test_split_without_weights_leaves_the_whole_pool_as_residue() -> None:
    assert split(500, []) == split(500, []) and split(500, []).amounts == []
    assert (split(500, []).allocated, split(500, []).residue) == (0, 500)
    result = split(500, [0, 0, 0])
    assert (result.amounts, result.allocated, result.residue) == ([0, 0, 0], 0, 500)
    result = split(0, [1, 2])
    assert (result.amounts, result.allocated, result.residue) == ([0, 0], 0, 0)


# -- the named rounding rules -------------------------------------------------------------------


@pytest.mark.parametrize(("exact", "floor", "ceiling", "down", "half_even"), [
    (Fraction(7, 2), 3, 4, 3, 4),
    (Fraction(5, 2), 2, 3, 2, 2),
    (Fraction(-5, 2), -3, -2, -2, -2),
    (Fraction(-7, 3), -3, -2, -2, -2),
    (Fraction(9, 1), 9, 9, 9, 9),
])
def test_each_rounding_rule_by_name(exact: Fraction, floor: int, ceiling: int, down: int,
                                    half_even: int) -> None:
    assert [to_whole(exact, rule) for rule in (ROUND_FLOOR, ROUND_CEILING, ROUND_DOWN,
                                               ROUND_HALF_EVEN)] == [floor, ceiling, down,
                                                                     half_even]


def test_an_unnamed_rounding_rule_is_a_programming_error() -> None:
    with pytest.raises(InvariantViolation):
        to_whole(Fraction(1, 2), ROUND_HALF_UP)


def test_the_rebate_pool_is_truncated_never_rounded_up() -> None:
    # 50 % of 23.11 is 11.555: truncated to 11.55, where half-even or half-up give 11.56.
    assert rebate_pool_of(2_311, Decimal(50)) == 1_155
    assert rebate_pool_of(2_308, Decimal(50)) == 1_154  # exact: 11.54
    assert rebate_pool_of(1, Decimal("99.99")) == 0
    assert rebate_pool_of(0, Decimal(100)) == 0


def test_the_rate_a_declared_amount_comes_to_rounds_half_to_even_at_four_places() -> None:
    assert rate_of(rupees(20_000), rupees(2_00_000), 1) == Decimal("10.0000")
    assert rate_of(1, 2_000_000, 1) == Decimal("0.0000")  # 0.00005: the even neighbour
    assert rate_of(3, 2_000_000, 1) == Decimal("0.0002")  # 0.00015
    assert rate_of(1, 3, 1) == Decimal("33.3333")
    assert rate_of(rupees(1), 0, 365) == Decimal(0)


def test_the_pool_at_a_rate_is_rounded_down() -> None:
    assert pool_at(7_322_400_000, Decimal(15), 365) == 3_009_205  # 3_009_205.47
    assert pool_at(7_322_400_000, Decimal(10), 365) == 2_006_136  # 2_006_136.98


# -- the whole distribution -----------------------------------------------------------------


REGISTER = [3_650_000_000, 3_650_000_000, 22_400_000]  # tests/integration/test_dividends_service


def distribute(net: int = rupees(1_00_000), *, weights: list[int] | None = None,
               paid: list[int] | None = None, rate: str | None = "15",
               amount: int | None = None, rebate: str | None = None, unit: int = 1,
               periods: int = 365, cap: str = "15") -> Distribution:
    weights = REGISTER if weights is None else weights
    return distribution(
        net_surplus=net, funds=MSCS, dividend_weights=weights,
        rebate_weights=[0] * len(weights) if paid is None else paid, periods=periods,
        cap=Decimal(cap), rate=Decimal(rate) if rate is not None else None, amount=amount,
        rebate_percent=Decimal(rebate) if rebate is not None else None, unit=unit,
        currency="INR")


def test_the_worked_distribution_of_a_lakh_surplus() -> None:
    result = distribute()
    assert [row.amount for row in result.appropriations] == [2_500_000, 100_000, 1_000_000]
    assert (result.distributable, result.rate, result.pool) == (6_400_000, Decimal(15),
                                                                3_009_205)
    assert result.dividends == Split([1_500_000, 1_500_000, 9_205], 3_009_205, 0)
    assert (result.rebate_pool, result.rebates) == (0, Split([0, 0, 0], 0, 0))
    assert result.undistributed == 6_400_000 - 3_009_205


def test_the_largest_remainder_tie_goes_to_the_earlier_row() -> None:
    result = distribute(rate="10")
    assert result.pool == 2_006_136
    assert result.dividends.amounts == [1_000_000, 999_999, 6_137]


def test_a_rebate_is_shared_by_interest_paid_and_the_residues_stay_undistributed() -> None:
    # Dividend 15 % in whole rupees: 30_092.05 shares as 15_000, 15_000 and 92 rupees, 0.05
    # left. Rebate 50 % of 23.11 + 0.00 + 10.00 = 16.555 -> 16.55, in whole rupees 11 and 5,
    # 0.55 left. Both residues go to 3200 with the rest.
    result = distribute(paid=[2_311, 0, 1_000], rebate="50", unit=100)
    assert result.dividends == Split([1_500_000, 1_500_000, 9_200], 3_009_200, 5)
    assert (result.rebate_pool, result.rebates) == (1_655, Split([1_100, 0, 500], 1_600, 55))
    assert result.undistributed == 6_400_000 - 3_009_200 - 1_600
    assert sum(row.amount for row in result.appropriations) + result.dividends.allocated + \
        result.rebates.allocated + result.undistributed == rupees(1_00_000)


def test_a_declared_amount_gives_the_rate_it_comes_to() -> None:
    result = distribute(net=rupees(1_00_000), weights=[rupees(1_00_000)] * 2, periods=1,
                        rate=None, amount=rupees(20_000))
    assert (result.pool, result.rate, result.dividends.amounts) == (
        rupees(20_000), Decimal("10.0000"), [rupees(10_000), rupees(10_000)])


def test_a_loss_appropriates_nothing_and_pays_nothing() -> None:
    result = distribute(net=-rupees(500), rate="0")
    assert [row.amount for row in result.appropriations] == [0, 0, 0]
    assert (result.distributable, result.pool, result.undistributed) == (0, 0, 0)
    with pytest.raises(AboveCap):
        distribute(net=-rupees(500), rate="1")


@pytest.mark.parametrize(("kwargs", "error", "field"), [
    ({"rate": None}, InvalidInput, "dividend_rate"),
    ({"amount": 5}, InvalidInput, "dividend_rate"),
    ({"rate": "15.01"}, AboveCap, "dividend_rate"),
    ({"rate": "-1"}, AboveCap, "dividend_rate"),
    ({"rate": None, "amount": 3_009_206}, AboveCap, "dividend_amount"),
    ({"rate": None, "amount": -1}, AboveCap, "dividend_amount"),
    ({"rebate": "100.01", "paid": [1, 1, 1]}, InvalidInput, "patronage_rebate_percent"),
    ({"net": rupees(10_000)}, AboveCap, "dividend_rate"),
])
def test_refusals(kwargs: dict[str, Any], error: type[CoopError], field: str) -> None:
    with pytest.raises(error) as refused:
        distribute(**kwargs)
    assert type(refused.value) is error and refused.value.field == field


def test_more_than_the_distributable_balance_is_refused_in_money() -> None:
    with pytest.raises(AboveCap) as refused:
        distribute(net=rupees(10_000))  # distributable 6,400.00, the pool 30,092.05
    assert refused.value.detail == ("the dividend and rebate (30092.05) are more than the "
                                    "distributable balance (6400.00)")
    assert distribute(net=rupees(10_000), amount=640_000, rate=None).undistributed == 0
