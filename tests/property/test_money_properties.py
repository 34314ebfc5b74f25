"""Properties of coop.money: exact allocation, decimal strings in and out, display for people."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from coop.errors import InvalidInput
from coop.money import (
    AMOUNT_MINOR_MAX,
    InvalidAmount,
    allocate,
    display,
    format_minor,
    minor_digits,
    parse_minor,
)

# -- allocate ---------------------------------------------------------------------------------

totals = st.integers(min_value=-(10**15), max_value=10**15)
weight_lists = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(
    lambda ws: any(ws)
)


def quotas(total: int, weights: list[int]) -> list[Fraction]:
    weight_sum = sum(weights)
    return [Fraction(total * w, weight_sum) for w in weights]


@given(totals, weight_lists)
@example(1, [1, 1])
@example(-1, [1, 1])
@example(10**15, [1, 0, 10**6])
def test_allocate_sums_exactly_to_the_total(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert len(parts) == len(weights)
    assert all(type(p) is int for p in parts)
    assert sum(parts) == total


@given(totals, weight_lists)
def test_allocate_gives_a_zero_weight_nothing(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert [p for p, w in zip(parts, weights, strict=True) if w == 0] == [
        0 for w in weights if w == 0
    ]


@given(totals, weight_lists)
def test_each_part_is_within_one_unit_of_its_exact_quota(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    for part, quota in zip(parts, quotas(total, weights), strict=True):
        assert abs(part - quota) < 1
        # Largest remainder rounds each quota to one of its two neighbouring integers.
        assert part in (math.floor(quota), math.ceil(quota))


@given(totals, weight_lists)
def test_allocate_is_deterministic_and_ties_go_to_the_earlier_index(
    total: int, weights: list[int]
) -> None:
    parts = allocate(total, weights)
    assert allocate(total, list(weights)) == parts
    assert allocate(total, tuple(weights)) == parts
    sign = -1 if total < 0 else 1
    exact = quotas(abs(total), weights)
    floors = [math.floor(q) for q in exact]
    bonus = [sign * p - f for p, f in zip(parts, floors, strict=True)]
    assert set(bonus) <= {0, 1}
    remainders = [q - f for q, f in zip(exact, floors, strict=True)]
    # The units left over go to the largest remainders, and among equal remainders to the
    # earlier index: whoever got a unit ranks before whoever did not.
    for i in range(len(weights)):
        for j in range(len(weights)):
            if bonus[i] == 0 and bonus[j] == 1:
                assert (-remainders[j], j) < (-remainders[i], i)


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=20))
def test_equal_weights_split_as_evenly_as_possible_earlier_first(total: int, n: int) -> None:
    parts = allocate(total, [7] * n)
    base, extra = divmod(total, n)
    assert parts == [base + 1] * extra + [base] * (n - extra)
    assert allocate(-total, [7] * n) == [-p for p in parts]


@given(totals, weight_lists, st.integers(min_value=1, max_value=1000))
def test_allocate_depends_only_on_the_ratios_of_the_weights(
    total: int, weights: list[int], factor: int
) -> None:
    parts = allocate(total, weights)
    assert allocate(total, [w * factor for w in weights]) == parts
    assert allocate(total, [Fraction(w, factor) for w in weights]) == parts
    assert allocate(total, [Decimal(w).scaleb(-3) for w in weights]) == parts


@given(totals, weight_lists)
def test_a_negative_total_is_the_negation_of_the_positive_split(
    total: int, weights: list[int]
) -> None:
    assert allocate(-total, weights) == [-p for p in allocate(total, weights)]


def test_allocate_worked_examples() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(-100, [1, 1, 1]) == [-34, -33, -33]
    assert allocate(10, [0, 1, 2]) == [0, 3, 7]
    assert allocate(5, [3, 0, 3, 0]) == [3, 0, 2, 0]
    assert allocate(0, [0, 0]) == [0, 0]
    assert allocate(1_000_00, [Decimal("0.25"), Decimal("0.75")]) == [25_000, 75_000]
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]


def test_allocate_refuses_negative_weights_and_all_zero_weights() -> None:
    with pytest.raises(InvalidInput):
        allocate(10, [1, -1, 2])
    with pytest.raises(InvalidInput):
        allocate(10, [0, 0, 0])
    with pytest.raises(InvalidInput):
        allocate(10, [])


# -- parse_minor / format_minor ---------------------------------------------------------------

amounts = st.integers(min_value=1, max_value=AMOUNT_MINOR_MAX)


@given(amounts)
@example(1)
@example(AMOUNT_MINOR_MAX)
@example(100)
def test_inr_round_trips_through_its_decimal_string(amount: int) -> None:
    text = format_minor(amount, "INR")
    assert re.fullmatch(r"[1-9][0-9]*\.[0-9]{2}|0\.[0-9]{2}", text)
    assert parse_minor(text, "INR") == amount


@given(amounts)
def test_a_shorter_fraction_means_the_same_amount(amount: int) -> None:
    text = format_minor(amount, "INR")
    trimmed = text.rstrip("0").rstrip(".") if "." in text else text
    assert parse_minor(trimmed, "INR") == amount


@pytest.mark.parametrize(("currency", "digits"), [("JPY", 0), ("KWD", 3), ("INR", 2)])
def test_minor_digits_of_known_currencies(currency: str, digits: int) -> None:
    assert minor_digits(currency) == digits
    assert minor_digits(currency.lower()) == digits


@given(amounts)
@example(1)
@example(AMOUNT_MINOR_MAX)
def test_jpy_and_kwd_round_trip(amount: int) -> None:
    yen = format_minor(amount, "JPY")
    assert yen == str(amount)
    assert parse_minor(yen, "JPY") == amount
    dinar = format_minor(amount, "KWD")
    assert re.fullmatch(r"[0-9]+\.[0-9]{3}", dinar)
    assert parse_minor(dinar, "KWD") == amount


def test_format_minor_worked_examples() -> None:
    assert format_minor(125050, "INR") == "1250.50"
    assert format_minor(5, "INR") == "0.05"
    assert format_minor(-5, "INR") == "-0.05"
    assert format_minor(0, "INR") == "0.00"
    assert format_minor(1, "KWD") == "0.001"
    assert format_minor(1234, "JPY") == "1234"
    assert parse_minor("1250.5", "INR") == 125050
    assert parse_minor("12", "INR") == 1200
    assert parse_minor("0.001", "KWD") == 1
    assert parse_minor("100000000000000", "JPY") == AMOUNT_MINOR_MAX


@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.none(),
        st.booleans(),
        st.binary(max_size=8),
        st.lists(st.text(max_size=3), max_size=2),
    )
)
@example(1250.5)
@example(100)
@example(Decimal("1250.50"))
@example(b"12.50")
def test_parse_minor_refuses_anything_but_a_string(value: object) -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_minor(value, "INR")
    assert refused.value.field == "amount"


@given(amounts)
def test_parse_minor_refuses_negative_amounts(amount: int) -> None:
    with pytest.raises(InvalidAmount):
        parse_minor(format_minor(-amount, "INR"), "INR")
    with pytest.raises(InvalidAmount):
        parse_minor("+" + format_minor(amount, "INR"), "INR")


@given(amounts)
def test_parse_minor_refuses_more_digits_than_the_currency_has(amount: int) -> None:
    with pytest.raises(InvalidAmount):
        parse_minor(format_minor(amount, "KWD"), "INR")
    with pytest.raises(InvalidAmount):
        parse_minor(format_minor(amount, "INR"), "JPY")


@given(st.integers(min_value=AMOUNT_MINOR_MAX + 1, max_value=10**18))
def test_parse_minor_refuses_amounts_above_the_maximum(amount: int) -> None:
    with pytest.raises(InvalidAmount):
        parse_minor(format_minor(amount, "INR"), "INR")


@pytest.mark.parametrize(
    "text",
    [
        "1.234", "1e3", "1E3", " 1", "1 ", "", "0", "0.00", "0.0", "-1", "-0.01", "+1",
        "01", "00.50", "1.", ".5", "1,000", "1_000", "१", "１", "0x10", "Infinity", "NaN",
        "1.2.3", "12.50 ", "\t12", "1000000000000.01",
    ],
)
def test_parse_minor_refuses_worked_examples(text: str) -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_minor(text, "INR", field="deposit.amount")
    assert refused.value.field == "deposit.amount"


@pytest.mark.parametrize("text", ["1\n", "1250.50\n", "\n1", "1\n.50", "12.5\r\n"])
def test_parse_minor_refuses_a_trailing_newline(text: str) -> None:
    # A regex ending in '$' also matches before a final newline: the pattern must fullmatch.
    with pytest.raises(InvalidAmount):
        parse_minor(text, "INR")


def test_zero_is_accepted_only_when_allowed() -> None:
    assert parse_minor("0", "INR", allow_zero=True) == 0
    assert parse_minor("0.00", "INR", allow_zero=True) == 0
    with pytest.raises(InvalidAmount):
        parse_minor("0", "INR")


@given(st.text(max_size=24))
@example("1.5")
@example("0.05")
@example("1\n")
def test_whatever_parse_minor_accepts_is_a_plain_decimal_it_can_print_back(text: str) -> None:
    try:
        amount = parse_minor(text, "INR")
    except InvalidAmount:
        return
    assert re.fullmatch(r"(0|[1-9][0-9]*)(\.[0-9]{1,2})?", text)
    assert 1 <= amount <= AMOUNT_MINOR_MAX
    assert Decimal(text) * 100 == amount
    assert parse_minor(format_minor(amount, "INR"), "INR") == amount


def test_an_unknown_currency_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_minor("1.00", "XQZ")
    with pytest.raises(InvalidInput):
        format_minor(100, "XQZ")


# -- display ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "locale", "shown"),
    [
        (10_000_000, "en_IN", "₹1,00,000.00"),
        (10_000_000, "kn_IN", "₹1,00,000.00"),
        (10_000_000, "hi_IN", "₹1,00,000.00"),
        (1_234_567_850, "en_IN", "₹1,23,45,678.50"),
        (1_234_567_850, "kn_IN", "₹1,23,45,678.50"),
        (AMOUNT_MINOR_MAX, "en_IN", "₹10,00,00,00,00,000.00"),
        (12_345_678_901_234, "kn_IN", "₹1,23,45,67,89,012.34"),
        (99_999, "en_IN", "₹999.99"),
        (5, "en_IN", "₹0.05"),
        (10_000_000, "en_US", "₹100,000.00"),
    ],
)
def test_display_worked_examples(amount: int, locale: str, shown: str) -> None:
    assert display(amount, "INR", locale) == shown


@pytest.mark.parametrize("locale", ["en_IN", "kn_IN", "hi_IN"])
@given(amounts)
def test_display_in_indian_locales_groups_in_lakhs_and_crores(locale: str, amount: int) -> None:
    shown = display(amount, "INR", locale)
    assert shown.startswith("₹")
    whole, fraction = shown.removeprefix("₹").split(".")
    assert re.fullmatch(r"[0-9]{1,3}|[0-9]{1,2}(,[0-9]{2})*,[0-9]{3}", whole)
    # The digits are exactly the decimal string's: no float ever rounded them.
    assert f"{whole.replace(',', '')}.{fraction}" == format_minor(amount, "INR")
