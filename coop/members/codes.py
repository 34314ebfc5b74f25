"""Member numbers: random, opaque, with a check character.

`M-` then five random characters and one check character from Crockford's base-32 alphabet
(no I, L, O or U, so nothing is mistaken for 1 or 0), drawn with `secrets`: nothing about a
member (her name, birth date, or when she joined) can be read from her number or guessed
from another's.

The check character makes the weighted sum of the six character values (weights 6, 5, 4,
3, 2, 1) a multiple of 37. Because 37 is prime and larger than the alphabet, any single
mistyped character and any swap of two neighbours changes the sum by a non-multiple of 37,
so it is caught at the counter. (Luhn mod 32 misses a swap of 0 and Z.) Payloads whose check
value would be 32 to 36 have no character and are drawn again: about 29 million numbers
remain.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LENGTH = 5
MODULUS = 37
WEIGHTS = (6, 5, 4, 3, 2, 1)
CODE_PATTERN = re.compile(r"M-[0-9A-HJKMNP-TV-Z]{6}")


def check_value(payload: str) -> int:
    """The value (0..36) that completes the weighted sum of the payload to a multiple of 37."""
    total = sum(w * ALPHABET.index(c) for w, c in zip(WEIGHTS, payload, strict=False))
    return -total % MODULUS


def new_code() -> str:
    while True:
        payload = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
        check = check_value(payload)
        if check < len(ALPHABET):
            return f"M-{payload}{ALPHABET[check]}"


def normalise(text: str) -> str:
    """What a clerk typed, as a member number: upper case, O read as 0, I and L as 1."""
    cleaned = text.strip().upper().replace("O", "0").replace("I", "1").replace("L", "1")
    return cleaned if cleaned.startswith("M-") else f"M-{cleaned.removeprefix('M')}"


def is_valid(code: str) -> bool:
    if not CODE_PATTERN.fullmatch(code):
        return False
    body = code[2:]
    return sum(w * ALPHABET.index(c) for w, c in zip(WEIGHTS, body, strict=True)) % MODULUS == 0
