"""`verify`'s own RFC 8785 encoder is the `rfc8785` package's output, byte for byte.

`verify` writes each entry's hash body with `entry_jcs` (its own code: neither the writer's
encoder nor the json module) and hands only what it does not know to the `rfc8785` package. If
the two ever differed, a sound entry would be reported as tampered (or, worse, the other way
round), so they are held equal on any facts: any unicode text (astral characters, C0 and C1
controls, U+2028/2029, quotes and backslashes), numbers up to 2**53 - 1, dates and instants
as SQLite hands them back (text) and as PostgreSQL does (date and datetime, naive or aware).
As an independent check, the bytes parse back to the very hash body, and the golden vectors
of test_canonical.py come out of it unchanged.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from coop.ledger.model import GENESIS_HASH, PostedPosting, Side, hash_body
from coop.ledger.verify import (
    JCS_INTEGER_MAX,
    account_head,
    date_text,
    entry_jcs,
    instant_text,
    jcs_string,
    leg_jcs,
)
from tests.property.test_canonical import (
    GOLDEN_1_BYTES,
    GOLDEN_1_HASH,
    GOLDEN_2_BYTES,
    GOLDEN_2_HASH,
    GOLDEN_2_INSTANT,
    GOLDEN_2_REASON,
)

# Any unicode text but lone surrogates (which no stored text can hold), weighted towards the
# characters where encoders differ.
tricky = st.sampled_from(
    ['"', "\\", "/", "\x00", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1f", "\x7f",
     "\x85", "\x9f", "\u2028", "\u2029", "\ufeff", "\ufffd", "é", "ಕ", "₹", "𝄞", "😀",
     "\U0010ffff", "\ue000"])
free_text = st.lists(
    tricky | st.characters(blacklist_categories=("Cs",)), max_size=40).map("".join)
seqs = st.integers(min_value=1, max_value=JCS_INTEGER_MAX)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes)))
instants = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 30),
                        timezones=st.none() | st.just(UTC) | offsets)
postings = st.lists(
    st.builds(PostedPosting, account=free_text, side=st.sampled_from(Side),
              amount_minor=st.integers(min_value=1, max_value=10**14)),
    min_size=0, max_size=8)


def sqlite_text(instant: datetime) -> str:
    """`posted_at` as the writer stores it on SQLite."""
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def verify_bytes(seq: int, value_date: object, posted_at: object, kind: str, narration: str,
                 actor: str, reversal_of: int | None, legs: list[PostedPosting]) -> bytes:
    """What verify hashes for these facts, through the very functions its loop calls."""
    return entry_jcs(seq, date_text(value_date), instant_text(posted_at), kind, narration,
                     actor, reversal_of,
                     [leg_jcs(account_head(p.account), p.amount_minor, str(p.side))
                      for p in legs])


def reference(seq: int, value_date: date, posted_at: datetime, kind: str, narration: str,
              actor: str, reversal_of: int | None, legs: list[PostedPosting]) -> bytes:
    return rfc8785.dumps(hash_body(  # type: ignore[arg-type]
        seq=seq, value_date=value_date, posted_at=posted_at, kind=kind, narration=narration,
        actor=actor, reversal_of=reversal_of, postings=legs))


@settings(max_examples=400)
@given(seq=seqs, value_date=st.dates(), posted_at=instants, kind=free_text,
       narration=free_text, actor=free_text, reversal_of=st.none() | seqs, legs=postings,
       stored_as_text=st.booleans())
@example(seq=JCS_INTEGER_MAX, value_date=date(1, 1, 1), posted_at=datetime(1970, 1, 2),
         kind="", narration='\x00\x1f\x7f\b\f\n\r\t"\\/', actor="\u2028\u2029",
         reversal_of=JCS_INTEGER_MAX, legs=[PostedPosting("𝄞\x01", Side.DEBIT, 10**14)],
         stored_as_text=True)
@example(seq=1, value_date=date(9999, 12, 31), posted_at=datetime(2999, 12, 30, 23, 59, 59,
                                                                  999999, tzinfo=UTC),
         kind="deposit", narration="ಕನ್ನಡ दोहरी 😀 \ue000 \U0010ffff", actor="clerk",
         reversal_of=None, legs=[], stored_as_text=False)
def test_verify_encoder_is_rfc8785_byte_for_byte(
    seq: int, value_date: date, posted_at: datetime, kind: str, narration: str, actor: str,
    reversal_of: int | None, legs: list[PostedPosting], stored_as_text: bool,
) -> None:
    stored_date: object = value_date.isoformat() if stored_as_text else value_date
    stored_instant: object = sqlite_text(posted_at) if stored_as_text else posted_at
    ours = verify_bytes(seq, stored_date, stored_instant, kind, narration, actor, reversal_of,
                        legs)
    body = hash_body(seq=seq, value_date=value_date, posted_at=posted_at, kind=kind,
                     narration=narration, actor=actor, reversal_of=reversal_of, postings=legs)
    assert ours == reference(seq, value_date, posted_at, kind, narration, actor, reversal_of,
                             legs)
    assert json.loads(ours) == body  # independent of rfc8785: it means the same object


@settings(max_examples=400)
@given(free_text)
@example("\x7f\x80\x9f\u2028\u2029")
def test_a_jcs_string_parses_back_and_escapes_only_what_rfc8785_escapes(text: str) -> None:
    written = jcs_string(text)
    assert json.loads(written) == text
    assert written.encode() == rfc8785.dumps(text)
    assert all(ord(c) >= 0x20 for c in written)  # no raw control character survives


def test_verify_encoder_writes_the_golden_vectors() -> None:
    legs = [PostedPosting("1000", Side.DEBIT, 150_00),
            PostedPosting("2000:M-7Q4K2", Side.CREDIT, 150_00)]
    first = verify_bytes(1, "2025-06-30", "2025-06-30 00:00:00.000000", "deposit", "Deposit",
                         "clerk", None, legs)
    assert first == GOLDEN_1_BYTES
    assert hashlib.sha256(bytes.fromhex(GENESIS_HASH) + first).hexdigest() == GOLDEN_1_HASH
    swapped = [PostedPosting(p.account, p.side.opposite(), p.amount_minor) for p in legs]
    second = verify_bytes(2, date(2025, 6, 30), GOLDEN_2_INSTANT, "reversal",
                          f"Reversal of entry 1: {GOLDEN_2_REASON}", "admin", 1, swapped)
    assert second == GOLDEN_2_BYTES
    assert hashlib.sha256(bytes.fromhex(GOLDEN_1_HASH) + second).hexdigest() == GOLDEN_2_HASH


@pytest.mark.parametrize("stored", ["2025-06-30 09:15:30.123456", "2025-06-30T09:15:30.123456",
                                    "2025-06-30 09:15:30.123456+00:00",
                                    "2025-06-30 14:45:30.123456+05:30"])
def test_an_instant_stored_as_text_is_hashed_as_utc_with_a_z(stored: str) -> None:
    assert instant_text(stored) == "2025-06-30T09:15:30.123456Z"
