"""Amounts as people type them at the counter (issue 17): grouped digits in the society's
locale and the currency symbol are accepted; ambiguous grouping is refused naming the field.
Property: whatever the counter prints (Babel's display of an amount) reads back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coop.money import AMOUNT_MINOR_MAX, InvalidAmount, amount_formatter, display, parse_typed

LOCALES = [("INR", "en_IN"), ("INR", "kn_IN"), ("USD", "en_US"), ("EUR", "es_ES"),
           ("KES", "sw_KE"), ("BDT", "bn_BD")]


@pytest.mark.parametrize(("typed", "minor"), [
    ("1,000", 100_000), ("1,00,000", 10_000_000), ("100,000", 10_000_000),
    ("₹1,234.50", 123_450), ("1234.5", 123_450), (" 2500 ", 250_000),
    ("INR 75,000", 7_500_000), ("12,34,56,789.05", 123_456_789_05)])
def test_what_a_clerk_types_in_india(typed: str, minor: int) -> None:
    assert parse_typed(typed, "INR", "en_IN") == minor


@pytest.mark.parametrize("typed", ["1,5", "10,00", "1,0000", "1,00,00", ",100", "1,000,00",
                                   "1,000.", "12.345", "-5", "1e3", "five"])
def test_what_is_ambiguous_or_wrong_is_refused(typed: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_typed(typed, "INR", "en_IN", field="deposit_amount")
    assert refused.value.field == "deposit_amount"


def test_a_comma_decimal_locale() -> None:
    assert parse_typed("1.000,50", "EUR", "es_ES") == 100_050
    assert parse_typed("1000,5", "EUR", "es_ES") == 100_050
    with pytest.raises(InvalidAmount):
        parse_typed("1.5", "EUR", "es_ES")  # a thousands mark in the wrong place


@given(minor=st.integers(min_value=1, max_value=AMOUNT_MINOR_MAX), pair=st.sampled_from(LOCALES))
def test_every_printed_amount_reads_back(minor: int, pair: tuple[str, str]) -> None:
    currency, locale = pair
    assert parse_typed(display(minor, currency, locale), currency, locale) == minor
    assert parse_typed(amount_formatter(locale, 2)(minor), currency, locale) == minor
