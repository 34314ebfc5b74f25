"""A member's login: her member number (`login_name`, in any case) and a password or a PIN of
6 to 12 digits, not trivial (CONTRACT.md: not one digit repeated, not a run like 123456, not a
year).

Many members read little and use a keypad phone, so a member's login may be her member number
and a PIN instead of a password. A PIN is weak by nature (a million six-digit PINs), so it is
only as good as the login throttle (five failures per name in fifteen minutes, the same as
every login) and as the PINs people are refused: the ones an attacker tries first.

Refused: one digit repeated (000000); a run up or down, wrapping or not (123456, 987654,
890123); a short block repeated (121212, 123123, 19901990); anything that reads as a date or a
year of birth (1990, 011990, 199001, 01011990, 19900101, 010190), since a birthday is the
first guess.
"""

from __future__ import annotations

import itertools
import re
from datetime import date

from coop.errors import InvalidInput
from coop.members.codes import is_valid as is_member_code
from coop.members.codes import normalise as normalise_member_code

PIN_LENGTH_MIN = 6
PIN_LENGTH_MAX = 12
YEAR_MIN, YEAR_MAX = 1900, 2099
PIN_PATTERN = re.compile(r"\d+")


def login_name(typed: str) -> str:
    """The username a login names: a member number, however typed ("m-7q4k2x", "M7Q4K2X"),
    is the username of her login (her number in lower case); anything else as it is."""
    code = normalise_member_code(typed) if typed.strip() else typed
    return code.lower() if is_member_code(code) else typed


def is_pin(secret: str) -> bool:
    """Digits only: a member's secret is then held to the PIN rules, not the password's."""
    return bool(PIN_PATTERN.fullmatch(secret))


def _run(digits: str) -> bool:
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(digits)}
    return len(steps) == 1  # 0 is one digit repeated; 1 and 9 are runs up and down


def _repeated_block(digits: str) -> bool:
    return any(len(digits) % size == 0 and digits == digits[:size] * (len(digits) // size)
               for size in range(1, len(digits) // 2 + 1))


def _is_date(day: int, month: int, year: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _year(text: str) -> bool:
    return len(text) == 4 and YEAR_MIN <= int(text) <= YEAR_MAX


def _date_like(digits: str) -> bool:
    """A year, a month and year, or a whole date, in the orders people write them."""
    n = len(digits)
    if n == 6:
        mm_yyyy = 1 <= int(digits[:2]) <= 12 and _year(digits[2:])
        yyyy_mm = _year(digits[:4]) and 1 <= int(digits[4:]) <= 12
        dd_mm_yy = _is_date(int(digits[:2]), int(digits[2:4]), 2000 + int(digits[4:])) or \
            _is_date(int(digits[:2]), int(digits[2:4]), 1900 + int(digits[4:]))
        mm_dd_yy = _is_date(int(digits[2:4]), int(digits[:2]), 1904)
        yy_mm_dd = _is_date(int(digits[4:]), int(digits[2:4]), 1904)
        return mm_yyyy or yyyy_mm or dd_mm_yy or mm_dd_yy or yy_mm_dd
    if n == 8:
        dd_mm_yyyy = _year(digits[4:]) and (
            _is_date(int(digits[:2]), int(digits[2:4]), int(digits[4:]))
            or _is_date(int(digits[2:4]), int(digits[:2]), int(digits[4:])))
        yyyy_mm_dd = _year(digits[:4]) and _is_date(int(digits[6:]), int(digits[4:6]),
                                                    int(digits[:4]))
        return dd_mm_yyyy or yyyy_mm_dd
    return False


def check_pin(pin: str) -> None:
    """422 naming `password` for a PIN that is too short, too long or trivial."""
    if not PIN_LENGTH_MIN <= len(pin) <= PIN_LENGTH_MAX:
        raise InvalidInput.said(
            "a PIN has {pin_length_min} to {pin_length_max} digits",
            pin_length_min=PIN_LENGTH_MIN, pin_length_max=PIN_LENGTH_MAX, field="password")
    if _run(pin) or _repeated_block(pin):
        raise InvalidInput("this PIN is too easy to guess (one digit repeated, a run like "
                           "123456, or a repeated block): choose digits with no pattern",
                           field="password")
    if _date_like(pin):
        raise InvalidInput("this PIN reads as a year or a date, which is guessed first: "
                           "choose digits with no pattern", field="password")
