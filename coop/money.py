"""Money: integer minor units inside, decimal strings at the edges, Babel for display.

Rules (DESIGN.md §3): money is never a float. The database and the core hold `int` counts of
minor units (paise, cents). JSON carries decimal strings with exactly the currency's minor digits.
A currency's minor digits come from ISO 4217 as py-moneyed knows them. Splitting a total among
many uses `allocate()` (largest remainder), so the parts always sum exactly to the total.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, format_decimal
from moneyed import Money, get_currency

from coop.errors import InvalidInput, require

AMOUNT_MINOR_MAX = 10**14
"""The largest amount one posting may move: ₹1 trillion in paise. Fits a signed BIGINT."""

_DECIMAL_TEXT = re.compile(r"(0|[1-9][0-9]{0,17})(?:\.([0-9]+))?")

# CLDR gives some locales Western grouping although their country groups in lakhs and crores
# (Babel 2.18: kn_IN formats ₹12,345,678.50). The society's locale decides; these fix the pattern.
_PATTERN_BY_LOCALE = {"kn_IN": "¤#,##,##0.00", "kn": "¤#,##,##0.00"}


class InvalidAmount(InvalidInput):
    code = "invalid_amount"
    title = "Invalid amount"


@lru_cache(maxsize=64)
def minor_digits(currency: str) -> int:
    """The number of minor digits of an ISO 4217 currency (INR 2, JPY 0, KWD 3)."""
    try:
        sub_unit = get_currency(currency.upper()).sub_unit
    except Exception as exc:  # py-moneyed raises CurrencyDoesNotExist
        raise InvalidInput.said(
            "unknown currency {currency}",
            currency=repr(currency), field="currency") from exc
    digits = len(str(sub_unit)) - 1
    require(10**digits == sub_unit, f"{currency} sub unit {sub_unit} is not a power of ten")
    return digits


def parse_minor(
    text: object,
    currency: str,
    *,
    field: str = "amount",
    allow_zero: bool = False,
    maximum: int = AMOUNT_MINOR_MAX,
) -> int:
    """Parse a decimal string ("1250.5", "1250.50", "12") to minor units.

    Refuses anything that is not a string (a JSON number arrives as int or float), signs,
    exponents, more digits than the currency allows, zero (unless `allow_zero`) and amounts
    above `maximum`. Every refusal is an `InvalidAmount` naming the field.
    """
    if not isinstance(text, str):
        raise InvalidAmount("an amount is a decimal string such as \"1250.50\"", field=field)
    match = _DECIMAL_TEXT.fullmatch(text)
    if match is None:
        raise InvalidAmount.said(
            "{text} is not a plain positive decimal number",
            text=repr(text[:40]), field=field)
    digits = minor_digits(currency)
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > digits:
        raise InvalidAmount.said(
            "{currency} amounts have at most {digits} decimal places",
            currency=currency, digits=digits, field=field)
    minor: int = int(whole) * 10**digits + (int(fraction.ljust(digits, "0")) if digits else 0)
    if minor == 0 and not allow_zero:
        raise InvalidAmount("the amount must be more than zero", field=field)
    if minor > maximum:
        raise InvalidAmount.said(
            "the amount is more than the most allowed ({maximum})",
            maximum=Amount(maximum, currency), field=field)
    return minor


_INDIAN_GROUPS = re.compile(r"\d{1,2}(?:G\d{2})*G\d{3}")
_THOUSANDS = re.compile(r"\d{1,3}(?:G\d{3})+")


def parse_typed(text: str, currency: str, locale: str, *, field: str = "amount",
                allow_zero: bool = False, maximum: int = AMOUNT_MINOR_MAX) -> int:
    """An amount as people type it at the counter, in the society's locale: digit grouping
    ("1,000", "1,00,000" in en_IN; "1.000,50" in es), the currency's symbol or code, spaces;
    then `parse_minor`. Grouping must be whole (thousands, or the Indian lakh groups): "1,5"
    or "10,00" is ambiguous (a decimal comma? a slip?) and is refused, naming the field."""
    parsed = Locale.parse(locale)
    group = parsed.number_symbols.get("latn", parsed.number_symbols).get("group", ",")
    decimal = parsed.number_symbols.get("latn", parsed.number_symbols).get("decimal", ".")
    cleaned = text.strip()
    for mark in {get_currency(currency).code, _symbol(currency, locale)}:
        cleaned = cleaned.replace(mark, "")
    cleaned = cleaned.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    whole, _, fraction = cleaned.partition(decimal)
    if group in whole:
        marked = whole.replace(group, "G")
        if not (_THOUSANDS.fullmatch(marked) or _INDIAN_GROUPS.fullmatch(marked)):
            raise InvalidAmount.said(
                "{typed} is not a whole amount: write it as {example}",
                typed=repr(text.strip()[:40]), example=_example(locale), field=field)
        whole = whole.replace(group, "")
    plain = f"{whole}.{fraction}" if decimal in cleaned else whole
    return parse_minor(plain, currency, field=field, allow_zero=allow_zero, maximum=maximum)


@lru_cache(maxsize=16)
def _symbol(currency: str, locale: str) -> str:
    from babel.numbers import get_currency_symbol

    return str(get_currency_symbol(currency, locale=locale))


def _example(locale: str) -> str:
    return str(format_decimal(Decimal("100000.50"), format="#,##,##0.00" if
                              locale.endswith("_IN") else "#,##0.00", locale=locale))


def format_minor(amount_minor: int, currency: str) -> str:
    """Minor units to a decimal string with exactly the currency's digits: 125050 -> "1250.50"."""
    require(type(amount_minor) is int, f"amount_minor must be an int, got {amount_minor!r}")
    digits = minor_digits(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}" if digits else f"{sign}{whole}"


class Amount:
    """An amount as a figure in a refusal's words (`CoopError.said`): "250.00" in the API's
    English detail, "₹250.00" with the locale's grouping on the counter (`display`)."""

    __slots__ = ("currency", "minor")

    def __init__(self, minor: int, currency: str) -> None:
        self.minor, self.currency = minor, currency

    def __str__(self) -> str:
        return format_minor(self.minor, self.currency)

    def __repr__(self) -> str:
        return f"Amount({self.minor}, {self.currency!r})"

    def shown(self, locale: str) -> str:
        return display(self.minor, self.currency, locale)


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Minor units to an exact Decimal in major units."""
    require(type(amount_minor) is int, f"amount_minor must be an int, got {amount_minor!r}")
    return Decimal(amount_minor).scaleb(-minor_digits(currency))


def to_money(amount_minor: int, currency: str) -> Money:
    """Minor units to py-moneyed `Money`, built from an exact Decimal (never a float)."""
    return Money(to_decimal(amount_minor, currency), currency)


def from_decimal(amount: Decimal, currency: str, *, rounding: str = ROUND_HALF_EVEN) -> int:
    """An exact or computed Decimal in major units to minor units, rounding by the named rule."""
    digits = minor_digits(currency)
    return int(amount.scaleb(digits).quantize(Decimal(1), rounding=rounding))


def display(amount_minor: int, currency: str, locale: str) -> str:
    """Format for people with Babel: 10000000 paise in en_IN -> "₹1,00,000.00"."""
    return str(
        format_currency(
            to_decimal(amount_minor, currency),
            currency,
            format=_PATTERN_BY_LOCALE.get(locale),
            locale=locale,
        )
    )


def grouped(value: Decimal, locale: str) -> str:
    """A number with the locale's digit grouping and two places, no currency sign:
    Decimal("10000000") in en_IN (and kn_IN, which Babel groups wrongly) -> "1,00,00,000.00"."""
    pattern = _PATTERN_BY_LOCALE.get(locale, "").replace("¤", "") or (
        Locale.parse(locale).decimal_formats[None].pattern.split(";")[0].split(".")[0] + ".00")
    return str(format_decimal(value, format=pattern, locale=locale))


def amount_formatter(locale: str, exponent: int) -> Callable[[int], str]:
    """A function from minor units to the locale's grouped digits with exactly the currency's
    minor digits (12345678950 paise in en_IN -> "12,34,56,789.50"); the locale is parsed once,
    which matters when a document prints hundreds of amounts."""
    parsed = Locale.parse(locale)
    integer = (_PATTERN_BY_LOCALE.get(locale, "").replace("¤", "")
               or parsed.decimal_formats[None].pattern).split(";")[0].split(".")[0]
    pattern = integer + ("." + "0" * exponent if exponent else "")

    def formatted(minor: int) -> str:
        return str(format_decimal(Decimal(minor).scaleb(-exponent), format=pattern,
                                  locale=parsed))

    return formatted


def count_formatter(locale: str) -> Callable[[int], str]:
    """A function from a count (of shares, of members) to the locale's grouped digits:
    100000 in en_IN -> "1,00,000", in en_US -> "100,000"."""
    return amount_formatter(locale, 0)


def allocate(total_minor: int, weights: Sequence[int | Decimal | Fraction]) -> list[int]:
    """Split `total_minor` in proportion to `weights` so that the parts sum exactly to it.

    Largest-remainder method: each part gets the floor of its exact quota, then the units left
    over go one each to the parts with the largest fractional remainders. Ties go to the earlier
    position, so callers sort their rows (by member number) and the result never depends on
    row order. A weight of zero never receives anything. A negative total is split as the
    negation of the split of its absolute value.
    """
    require(type(total_minor) is int, "total_minor must be an int")
    try:
        exact = [Fraction(w) for w in weights]
    except (ValueError, OverflowError, TypeError) as exc:  # NaN, infinity, not a number
        raise InvalidInput("allocation weights are finite numbers", field="weights") from exc
    if any(w < 0 for w in exact):
        raise InvalidInput("allocation weights may not be negative", field="weights")
    if total_minor < 0:
        return [-part for part in allocate(-total_minor, weights)]
    weight_sum = sum(exact, Fraction(0))
    if total_minor == 0:
        return [0] * len(exact)
    if weight_sum == 0:
        raise InvalidInput("cannot allocate an amount over weights that are all zero")
    quotas = [total_minor * w / weight_sum for w in exact]
    parts = [q.numerator // q.denominator for q in quotas]
    left_over = total_minor - sum(parts)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in by_remainder[:left_over]:
        parts[i] += 1
    require(sum(parts) == total_minor, "allocation must sum exactly to the total")
    return parts
