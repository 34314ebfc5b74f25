"""Interest on savings: a month for three members with the paise worked out by hand, the run
is idempotent per period, overlaps are refused, and the CLI shows it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coop.clock import FixedClock
from coop.db import Database
from coop.errors import Conflict
from coop.ledger import queries as q
from coop.ledger.chart import SAVINGS_INTEREST_EXPENSE
from coop.ledger.verify import verify
from coop.savings.interest import daily_balances, days_in_year, period_interest
from coop.savings.interest_run import post_interest
from tests.helpers import deposit, open_savings, withdraw

JUNE_START, JUNE_END = date(2025, 6, 1), date(2025, 6, 30)


def run(db: Database, clock: FixedClock, start: date = JUNE_START, end: date = JUNE_END,
        rate: str = "4", min_balance: int = 0):  # type: ignore[no-untyped-def]
    return db.write(lambda s: post_interest(
        s, start=start, through=end, rate_percent=Decimal(rate),
        min_balance_minor=min_balance, actor="admin", clock=clock))


def test_a_month_of_interest_to_the_paisa(db: Database) -> None:
    clock = FixedClock(date(2025, 7, 1))
    asha = open_savings(db, clock, "M-AAAAA1")
    bina = open_savings(db, clock, "M-BBBBB2")
    chitra = open_savings(db, clock, "M-CCCCC3")
    deposit(db, clock, asha, 100_000_00, on=date(2025, 5, 20))  # ₹1,00,000 all June
    deposit(db, clock, bina, 5_000_00, on=date(2025, 6, 11))    # ₹5,000 from 11 June: 20 days
    deposit(db, clock, chitra, 50_00, on=date(2025, 6, 1))      # ₹50: below the minimum
    result = run(db, clock, min_balance=100_00)
    # By hand: 1,00,000.00 x 4% x 30/365 = 328.767 -> 328.77; 5,000.00 x 4% x 20/365 = 10.958
    # -> 10.96; Chitra's 50.00 is under the 100.00 minimum -> nothing.
    assert (result.accounts, result.total_minor) == (2, 328_77 + 10_96)
    assert db.read(lambda s: q.balance(s, asha)) == 100_000_00 + 328_77
    assert db.read(lambda s: q.balance(s, bina)) == 5_000_00 + 10_96
    assert db.read(lambda s: q.balance(s, chitra)) == 50_00
    assert db.read(lambda s: q.balance(s, SAVINGS_INTEREST_EXPENSE)) == 339_73
    again = run(db, clock, min_balance=100_00)
    assert again.replayed and again.total_minor == result.total_minor
    assert db.read(lambda s: q.balance(s, SAVINGS_INTEREST_EXPENSE)) == 339_73
    with pytest.raises(Conflict):
        run(db, clock, start=date(2025, 6, 15), end=date(2025, 6, 30))
    assert db.read(verify).ok


def test_a_withdrawal_mid_month_earns_on_each_days_closing_balance(db: Database) -> None:
    clock = FixedClock(date(2025, 6, 30))
    asha = open_savings(db, clock, "M-AAAAA1")
    deposit(db, clock, asha, 36_500_00, on=date(2025, 6, 1))
    clock.business_date = date(2025, 6, 16)
    withdraw(db, clock, asha, 18_250_00)  # 15 days at 36,500.00, then 14 at 18,250.00...
    clock.business_date = date(2025, 7, 1)
    result = run(db, clock, end=date(2025, 6, 29))
    # 36,500.00 x 4% / 365 = 4.00 a day x 15 days; 18,250.00 -> 2.00 a day x 14 days
    assert result.total_minor == 15 * 4_00 + 14 * 2_00


def test_the_period_must_have_ended(db: Database, clock: FixedClock) -> None:
    from coop.errors import InvalidInput

    with pytest.raises(InvalidInput):
        run(db, clock, start=date(2025, 6, 1), end=clock.today())


@given(
    opening=st.integers(0, 10**9),
    moves=st.lists(st.tuples(st.integers(0, 90), st.integers(-10**6, 10**7)), max_size=20),
    rate=st.decimals(min_value=0, max_value=20, places=2),
    minimum=st.integers(0, 10**6),
)
def test_period_interest_is_the_sum_of_independently_computed_days(
    opening: int, moves: list[tuple[int, int]], rate: Decimal, minimum: int
) -> None:
    start, end = date(2023, 12, 1), date(2024, 2, 29)  # spans a leap year's start
    from datetime import timedelta

    changes = [(start + timedelta(days=d), amount) for d, amount in moves]
    expected = Fraction(0)
    balance = opening
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        balance += sum(a for on, a in changes if on == day)
        if balance >= minimum and balance > 0:
            expected += Fraction(balance) * Fraction(rate) / 100 / days_in_year(day.year)
    got = period_interest(opening, changes, start=start, end=end, rate_percent=rate,
                          min_balance_minor=minimum)
    assert abs(Fraction(got) - expected) <= Fraction(1, 2)
    assert len(daily_balances(opening, changes, start, end)) == 91
