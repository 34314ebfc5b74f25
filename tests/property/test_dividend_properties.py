"""Properties of the year-end arithmetic over generated share registers.

A register is a few members (codes M0001...), each with buys and redemptions on random days from
about a year before the fiscal year to two months after it, never taking the holding below zero,
and sometimes an exit day within (or just after) the year. Fiscal years start on the first of
January, April or July of 2020-2030, so leap years come up.

Each basis agrees with a day-by-day model: share-days sum the end-of-day holding over the days
up to the year's end or the exit; months-held sums, over the months wholly up to that day, the
lowest end-of-day holding in the month; the closing register is the holding at the end of the
last day. No basis is negative, share-days are at most days x highest holding x face and
months-held at most 12 x highest holding x face; the order of a member's movements does not
matter.

The dividend (split of the rate pool over the basis values, rates 0-15 % with two decimals,
rounding units 0.01, 1.00 and 10.00): the amounts add up to what is allocated and allocated +
residue is the pool (exactly the pool in paise), none is negative, a larger basis never gets
less, listing the members in another order and re-sorting by code (as the service does) gives
every member the same amount, and computing twice gives the same output.

The appropriation: each transfer is at least its exact percentage, the transfers and the
distributable balance add up to the surplus, and percentages over 100 are refused.

The whole distribution (`calc.distribution`), for any surplus, fund percentages, rates or
amounts, rebate percents, rounding units and weights: it is refused only when a pool is above
what the cap gives or above the distributable balance; otherwise each split adds up to its
pool, the pools are the floor of their exact values, and appropriations + what members get +
the undistributed rest (which holds both residues) add up to the surplus (nothing for a loss).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor
from random import Random
from typing import Any

import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from coop.dividends.calc import (
    Basis,
    FiscalYear,
    Movement,
    appropriate,
    basis_value,
    closing_register,
    distribution,
    months_held,
    rate_pool,
    share_days,
    split,
)
from coop.dividends.errors import AboveCap
from coop.errors import InvalidInput

FACES = [100, 1000, 10_000, 100_000]
MSCS = [
    ("statutory_reserve", "3100", Decimal(25)),
    ("education_fund", "3110", Decimal(1)),
    ("unforeseen_loss_reserve", "3120", Decimal(10)),
]


@dataclass(frozen=True)
class Member:
    code: str
    movements: tuple[Movement, ...]
    until: date | None


years = st.builds(FiscalYear.of, st.integers(2020, 2030), st.sampled_from(["04-01", "01-01",
                                                                             "07-01"]))
rates = st.decimals(min_value=0, max_value=15, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def movement_lists(draw: st.DrawFn, year: FiscalYear) -> tuple[Movement, ...]:
    """Buys and redemptions in date order that never take the holding below zero."""
    offsets = sorted(draw(st.lists(st.integers(-400, year.days + 60), max_size=8)))
    held = 0
    movements = []
    for offset in offsets:
        count = draw(st.integers(-40, 40).filter(bool))
        if held + count < 0:
            count = -held
        if count == 0:
            continue
        held += count
        movements.append(Movement(year.start + timedelta(days=offset), count))
    return tuple(movements)


@st.composite
def exits(draw: st.DrawFn, year: FiscalYear) -> date | None:
    """No exit, or one from the year's first day to a month after its end. (An exit before
    the year makes share_days() negative: see tests/unit/test_dividend_calc.py.)"""
    offset = draw(st.none() | st.integers(0, year.days + 30))
    return None if offset is None else year.start + timedelta(days=offset)


@st.composite
def registers(draw: st.DrawFn, year: FiscalYear) -> list[Member]:
    size = draw(st.integers(1, 6))
    return [Member(f"M{number:04d}", draw(movement_lists(year)), draw(exits(year)))
            for number in range(1, size + 1)]


@st.composite
def cases(draw: st.DrawFn) -> tuple[FiscalYear, list[Member], int]:
    year = draw(years)
    return year, draw(registers(year)), draw(st.sampled_from(FACES))


# -- a day-by-day model of the holding -----------------------------------------------------------


def end_of_day(movements: tuple[Movement, ...] | list[Movement], day: date) -> int:
    return sum(m.count for m in movements if m.on <= day)


def days_of(year: FiscalYear, last: date) -> list[date]:
    return [year.start + timedelta(days=n) for n in range((last - year.start).days + 1)]


def last_day(year: FiscalYear, until: date | None) -> date:
    return year.end if until is None else min(year.end, until)


def model_share_days(movements: tuple[Movement, ...], year: FiscalYear, face: int,
                     until: date | None) -> int:
    return sum(end_of_day(movements, d) for d in days_of(year, last_day(year, until))) * face


def model_months_held(movements: tuple[Movement, ...], year: FiscalYear, face: int,
                      until: date | None) -> int:
    by_month: dict[tuple[int, int], list[int]] = {}
    last = last_day(year, until)
    for day in days_of(year, year.end):
        by_month.setdefault((day.year, day.month), []).append(end_of_day(movements, day))
    total = 0
    for (y, m), holdings in by_month.items():
        month_end = date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
        if month_end <= last:
            total += min(holdings)
    return total * face


def highest_holding(movements: tuple[Movement, ...], year: FiscalYear) -> int:
    return max([end_of_day(movements, year.start)]
               + [end_of_day(movements, m.on) for m in movements
                  if year.start <= m.on <= year.end])


# -- the bases ---------------------------------------------------------------------------------


@given(cases())
def test_share_days_are_the_end_of_day_holdings_summed(case: tuple[FiscalYear, list[Member],
                                                                   int]) -> None:
    year, register, face = case
    for member in register:
        value = share_days(member.movements, year, face, until=member.until)
        assert value == model_share_days(member.movements, year, face, member.until)
        assert 0 <= value <= year.days * highest_holding(member.movements, year) * face


@given(cases())
def test_months_held_are_the_lowest_holding_of_each_whole_month(
        case: tuple[FiscalYear, list[Member], int]) -> None:
    year, register, face = case
    for member in register:
        value = months_held(member.movements, year, face, until=member.until)
        assert value == model_months_held(member.movements, year, face, member.until)
        assert 0 <= value <= 12 * highest_holding(member.movements, year) * face
        assert value <= 12 * share_days(member.movements, year, face, until=member.until)


@given(cases())
def test_the_closing_register_is_the_holding_at_the_years_end(
        case: tuple[FiscalYear, list[Member], int]) -> None:
    year, register, face = case
    for member in register:
        value = closing_register(member.movements, year, face)
        assert value == end_of_day(member.movements, year.end) * face >= 0
        expected = 0 if member.until is not None and member.until <= year.end else value
        assert basis_value(Basis.CLOSING_REGISTER, member.movements, year, face,
                           until=member.until) == expected


@given(cases(), st.sampled_from(Basis), st.randoms(use_true_random=False))
def test_the_order_of_a_members_movements_does_not_matter(
        case: tuple[FiscalYear, list[Member], int], kind: Basis,
        random: Random) -> None:
    year, register, face = case
    for member in register:
        shuffled = list(member.movements)
        random.shuffle(shuffled)
        assert basis_value(kind, shuffled, year, face, until=member.until) == basis_value(
            kind, member.movements, year, face, until=member.until)


# -- the dividend ------------------------------------------------------------------------------


def dividends(register: list[Member], year: FiscalYear, face: int, kind: Basis, rate: Decimal,
              unit: int) -> tuple[int, list[int], dict[str, int], int, int]:
    """What the service does: members by code, a basis each, the pool, the split."""
    ordered = sorted(register, key=lambda member: member.code)
    bases = [basis_value(kind, list(m.movements), year, face, until=m.until) for m in ordered]
    pool = rate_pool(sum(bases), rate, kind, year)
    result = split(pool, bases, unit)
    assert sum(result.amounts) == result.allocated
    by_code = dict(zip((m.code for m in ordered), result.amounts, strict=True))
    return pool, bases, by_code, result.allocated, result.residue


units = st.sampled_from([1, 100, 1000])


@given(cases(), st.sampled_from(Basis), rates, units)
def test_the_dividends_add_up_to_the_pool(case: tuple[FiscalYear, list[Member], int],
                                          kind: Basis, rate: Decimal, unit: int) -> None:
    year, register, face = case
    pool, bases, by_code, allocated, residue = dividends(register, year, face, kind, rate, unit)
    note(f"pool={pool} bases={bases} amounts={by_code}")
    assert pool >= 0
    periods = {Basis.SHARE_DAYS: year.days, Basis.MONTHS_HELD: 12}.get(kind, 1)
    assert pool == floor(sum(bases) * Fraction(rate) / 100 / periods)
    assert allocated + residue == pool
    assert all(amount >= 0 and amount % unit == 0 for amount in by_code.values())
    if any(bases):
        assert 0 <= residue < unit
        if unit == 1:
            assert sum(by_code.values()) == pool
    else:
        assert set(by_code.values()) <= {0}
        assert residue == pool
    for (_, amount), basis in zip(sorted(by_code.items()), bases, strict=True):
        if basis == 0:
            assert amount == 0


@given(cases(), st.sampled_from(Basis), rates, units)
def test_a_larger_basis_never_gets_less(case: tuple[FiscalYear, list[Member], int],
                                        kind: Basis, rate: Decimal, unit: int) -> None:
    year, register, face = case
    _, bases, by_code, _, _ = dividends(register, year, face, kind, rate, unit)
    amounts = [by_code[code] for code in sorted(by_code)]
    for basis_a, amount_a in zip(bases, amounts, strict=True):
        for basis_b, amount_b in zip(bases, amounts, strict=True):
            if basis_a > basis_b:
                assert amount_a >= amount_b


@given(cases(), st.sampled_from(Basis), rates, units, st.data())
def test_listing_the_members_in_another_order_changes_nothing(
        case: tuple[FiscalYear, list[Member], int], kind: Basis, rate: Decimal, unit: int,
        data: st.DataObject) -> None:
    year, register, face = case
    first = dividends(register, year, face, kind, rate, unit)
    again = dividends(register, year, face, kind, rate, unit)
    assert first == again
    shuffled = data.draw(st.permutations(register))
    assert dividends(shuffled, year, face, kind, rate, unit) == first


# -- split -------------------------------------------------------------------------------------


@given(st.integers(0, 10**12), st.lists(st.integers(0, 10**9), max_size=10), units)
@example(10, [0, 0], 1)
@example(10, [], 100)
@example(1, [1, 1], 1)
def test_split_is_exact_and_in_whole_units(pool: int, weights: list[int], unit: int) -> None:
    result = split(pool, weights, unit)
    assert len(result.amounts) == len(weights)
    assert sum(result.amounts) == result.allocated
    assert result.allocated + result.residue == pool
    assert all(a >= 0 and a % unit == 0 for a in result.amounts)
    assert all(a == 0 for a, w in zip(result.amounts, weights, strict=True) if w == 0)
    if any(weights):
        assert 0 <= result.residue < unit
        total = sum(weights)
        for amount, weight in zip(result.amounts, weights, strict=True):
            assert abs(amount - Fraction(pool // unit * weight, total) * unit) < unit
    else:
        assert result.residue == pool and result.allocated == 0


# -- the appropriation -------------------------------------------------------------------------

percents = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False,
                       allow_infinity=False)


def fund_rows(chosen: list[Decimal]) -> list[tuple[str, str, Decimal]]:
    return [(f"fund{n}", f"31{n:02d}", percent) for n, percent in enumerate(chosen)]


@given(st.lists(percents, min_size=1, max_size=4).filter(lambda ps: sum(ps) <= 90),
       st.integers(40, 10**13) | st.integers(-(10**13), 0))
@example([Decimal(25), Decimal(1), Decimal(10)], 10_000_000)
def test_transfers_are_never_below_their_percentage_and_add_up(chosen: list[Decimal],
                                                               net: int) -> None:
    """With at most 90 % to funds and a surplus of at least 40 paise (at most 4 funds, each
    rounding up by under a paisa) the ceilings always fit: the small surpluses are below."""
    rows, distributable = appropriate(net, fund_rows(chosen))
    assert [row.percent for row in rows] == chosen
    if net <= 0:
        assert distributable == 0 and all(row.amount == 0 for row in rows)
        return
    for row in rows:
        exact = net * Fraction(row.percent) / 100
        assert exact <= row.amount < exact + 1
    assert sum(row.amount for row in rows) + distributable == net
    assert distributable >= 0


@given(st.lists(percents, min_size=1, max_size=4).filter(lambda ps: sum(ps) > 100),
       st.integers(1, 10**13))
def test_percentages_over_100_are_refused(chosen: list[Decimal], net: int) -> None:
    with pytest.raises(InvalidInput):
        appropriate(net, fund_rows(chosen))


@given(st.lists(percents, min_size=1, max_size=4).filter(lambda ps: sum(ps) <= 100),
       st.integers(1, 10**6))
@example([Decimal(25), Decimal(1), Decimal(10)], 1)
def test_percentages_within_100_are_never_refused(chosen: list[Decimal], net: int) -> None:
    """BUG: fails. Rounding each transfer up can overshoot a small surplus (or any surplus
    when the percentages add up to 100), and appropriate() then refuses settings whose
    percentages add up to 100 or less as "more than 100"."""
    rows, distributable = appropriate(net, fund_rows(chosen))
    assert distributable >= 0
    assert sum(row.amount for row in rows) + distributable == net


# -- the whole distribution -----------------------------------------------------------------

surpluses = st.integers(-(10**12), 10**13) | st.integers(10**9, 10**13)


@st.composite
def distributions(draw: st.DrawFn) -> dict[str, Any]:
    """Any surplus and fund percentages within 100, a register of basis values and of
    interest paid (one of each per member), a rate up to the cap or an amount, a rebate."""
    size = draw(st.integers(0, 8))
    basis_values = st.lists(st.integers(0, 10**11), min_size=size, max_size=size)
    interest = st.lists(st.integers(0, 10**8), min_size=size, max_size=size)
    by_amount = draw(st.booleans())
    return {
        "net_surplus": draw(surpluses),
        "funds": fund_rows(draw(st.lists(percents, max_size=4).filter(lambda ps: sum(ps)
                                                                                <= 100))),
        "dividend_weights": draw(basis_values), "rebate_weights": draw(interest),
        "periods": draw(st.sampled_from([1, 12, 365, 366])),
        "cap": draw(st.sampled_from([Decimal(15), Decimal(100)])),
        "rate": None if by_amount else draw(rates),
        "amount": draw(st.integers(0, 10**11)) if by_amount else None,
        "rebate_percent": draw(st.none() | percents),
        "unit": draw(units), "currency": "INR",
    }


@given(distributions())
@example({"net_surplus": 10_000_000, "funds": MSCS,
          "dividend_weights": [3_650_000_000, 3_650_000_000, 22_400_000],
          "rebate_weights": [2_311, 0, 1_000], "periods": 365, "cap": Decimal(15),
          "rate": Decimal(10), "amount": None, "rebate_percent": Decimal(50), "unit": 1,
          "currency": "INR"})
def test_the_distribution_adds_up_to_its_pools_and_the_surplus(case: dict[str, Any]) -> None:
    """Whatever the surplus, rates and weights: refused only for a pool above what the cap
    gives or above the distributable balance; otherwise each split adds up to its pool, and
    the appropriations, what members get and the undistributed rest add up to the surplus."""
    total_basis, total_paid = sum(case["dividend_weights"]), sum(case["rebate_weights"])
    cap_pool = floor(total_basis * Fraction(case["cap"]) / 100 / case["periods"])
    try:
        result = distribution(**case)
    except AboveCap:
        _, distributable = appropriate(case["net_surplus"], case["funds"])
        pool = case["amount"] if case["rate"] is None else floor(
            total_basis * Fraction(case["rate"]) / 100 / case["periods"])
        rebate = floor(total_paid * Fraction(case["rebate_percent"] or 0) / 100)
        assert pool > cap_pool or pool + rebate > distributable
        return
    note(f"{result}")
    net = max(case["net_surplus"], 0)
    appropriated = sum(row.amount for row in result.appropriations)
    assert appropriated + result.distributable == net
    for pool, parts, weights in ((result.pool, result.dividends, case["dividend_weights"]),
                                 (result.rebate_pool, result.rebates, case["rebate_weights"])):
        assert len(parts.amounts) == len(weights)
        assert sum(parts.amounts) == parts.allocated
        assert parts.allocated + parts.residue == pool
        assert all(a >= 0 and a % case["unit"] == 0 for a in parts.amounts)
        assert all(a == 0 for a, w in zip(parts.amounts, weights, strict=True) if w == 0)
    assert result.rebate_pool == floor(total_paid * Fraction(result.rebate_percent) / 100)
    assert result.pool + result.rebate_pool <= result.distributable
    assert result.undistributed >= result.dividends.residue + result.rebates.residue
    assert (appropriated + result.dividends.allocated + result.rebates.allocated
            + result.undistributed) == net
    if case["rate"] is not None:
        assert result.pool == floor(total_basis * Fraction(case["rate"]) / 100
                                    / case["periods"])
    else:
        assert result.pool == case["amount"] <= cap_pool
        if total_basis:
            exact = Fraction(case["amount"] * 100 * case["periods"], total_basis)
            assert abs(Fraction(result.rate) - exact) <= Fraction(1, 20_000)
