"""Member numbers: random, opaque, with a check character.

`M-` then five random characters and one check character from Crockford's base-32 alphabet
(no I, L, O or U, so nothing is mistaken for 1 or 0): about 28.6 million numbers, drawn with
`secrets`, so nothing about a member (her name, birth date, or when she joined) can be read
from hers or guessed from another's. The check character (Luhn mod 32) catches any single
mistyped character and any swap of two neighbours at the counter.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LENGTH = 5
CODE_PATTERN = re.compile(r"M-[0-9A-HJKMNP-TV-Z]{6}")


def check_character(payload: str) -> str:
    """Luhn mod N over the alphabet (N = 32)."""
    base = len(ALPHABET)
    total = 0
    factor = 2
    for char in reversed(payload):
        addend = factor * ALPHABET.index(char)
        total += addend // base + addend % base
        factor = 1 if factor == 2 else 2
    return ALPHABET[(base - total % base) % base]


def new_code() -> str:
    payload = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"M-{payload}{check_character(payload)}"


def normalise(text: str) -> str:
    """What a clerk typed, as a member number: upper case, O read as 0, I and L as 1."""
    cleaned = text.strip().upper().replace("O", "0").replace("I", "1").replace("L", "1")
    return cleaned if cleaned.startswith("M-") else f"M-{cleaned.removeprefix('M')}"


def is_valid(code: str) -> bool:
    if not CODE_PATTERN.fullmatch(code):
        return False
    body = code[2:]
    return check_character(body[:-1]) == body[-1]
