"""The hash chain's canonical form: the writer's fast encoder is RFC 8785 (JCS), byte for byte.

`canonical_bytes` uses Python's json module; `verify` recomputes with the `rfc8785` package. If
the two ever differed, every entry with such text would fail verification. The golden vectors
pin the hashing scheme itself: changing any part of it (field names, timestamp format, amount
encoding, chaining) changes these hex digests, which is a deliberate migration, never a surprise.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta, timezone

import rfc8785
from hypothesis import example, given
from hypothesis import strategies as st

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import queries as q
from coop.ledger import reverse
from coop.ledger.model import (
    GENESIS_HASH,
    PostedPosting,
    Side,
    canonical_bytes,
    chain_hash,
    hash_body,
)
from coop.ledger.verify import verify
from tests.helpers import deposit, open_savings

SEQ_MAX = 2**53 - 1
AMOUNT_MAX = 10**14

# Any unicode text except lone surrogates (which no stored text can hold).
free_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)

postings = st.builds(
    PostedPosting,
    account=free_text,
    side=st.sampled_from(Side),
    amount_minor=st.integers(min_value=1, max_value=AMOUNT_MAX),
)

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
instants = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 30),
    timezones=st.none() | st.just(UTC) | offsets,
)


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, object]:
    return hash_body(
        seq=draw(st.integers(min_value=1, max_value=SEQ_MAX)),
        value_date=draw(st.dates()),
        posted_at=draw(instants),
        kind=draw(free_text),
        narration=draw(free_text),
        actor=draw(free_text),
        reversal_of=draw(st.none() | st.integers(min_value=1, max_value=SEQ_MAX)),
        postings=draw(st.lists(postings, min_size=2, max_size=8)),
    )


def _body(narration: str, **changes: object) -> dict[str, object]:
    facts: dict[str, object] = {
        "seq": 1, "value_date": date(2025, 6, 30), "posted_at": datetime(2025, 6, 30, tzinfo=UTC),
        "kind": "deposit", "narration": narration, "actor": "clerk", "reversal_of": None,
        "postings": [PostedPosting("1000", Side.DEBIT, 1), PostedPosting("4100", Side.CREDIT, 1)],
    }
    facts.update(changes)
    return hash_body(**facts)  # type: ignore[arg-type]


@given(bodies())
@example(_body("\x00\x1f\x7f\b\f\n\r\t\"\\/"))
@example(_body("\u2028\u2029\ufeff\u00e9e\u0301 𝄞 ₹ ಕನ್ನಡ"))
@example(_body("", seq=SEQ_MAX, reversal_of=SEQ_MAX))
@example(_body("x", postings=[PostedPosting("é", Side.DEBIT, AMOUNT_MAX)] * 8))
def test_canonical_bytes_are_rfc8785_byte_for_byte(body: dict[str, object]) -> None:
    fast = canonical_bytes(body)
    assert fast == rfc8785.dumps(body)
    assert json.loads(fast) == body


@given(bodies(), st.binary(min_size=32, max_size=32))
def test_chain_hash_is_sha256_of_the_previous_hash_and_the_jcs_bytes(
    body: dict[str, object], previous: bytes
) -> None:
    expected = hashlib.sha256(previous + rfc8785.dumps(body)).hexdigest()
    assert chain_hash(previous.hex(), canonical_bytes(body)) == expected


@given(bodies(), bodies())
def test_different_bodies_have_different_canonical_bytes(
    one: dict[str, object], other: dict[str, object]
) -> None:
    assert (canonical_bytes(one) == canonical_bytes(other)) == (one == other)


# -- golden vectors ---------------------------------------------------------------------------

GOLDEN_1_BYTES = (
    b'{"actor":"clerk","kind":"deposit","narration":"Deposit",'
    b'"posted_at":"2025-06-30T00:00:00.000000Z","postings":['
    b'{"account":"1000","amount":"15000","side":"debit"},'
    b'{"account":"2000:M-7Q4K2","amount":"15000","side":"credit"}],'
    b'"reversal_of":null,"seq":1,"v":1,"value_date":"2025-06-30"}'
)
GOLDEN_1_HASH = "cb118abbbf7ea9df63b3449435da6fc0f7099b335aa6e6dbeac4a0ac123b7295"
GOLDEN_2_REASON = 'दोहरी प्रविष्टि "typo" ✓ 𝄞'
GOLDEN_2_INSTANT = datetime(2025, 6, 30, 9, 15, 30, 123456, tzinfo=UTC)
GOLDEN_2_BYTES = (
    '{"actor":"admin","kind":"reversal",'
    '"narration":"Reversal of entry 1: दोहरी प्रविष्टि \\"typo\\" ✓ 𝄞",'
    '"posted_at":"2025-06-30T09:15:30.123456Z","postings":['
    '{"account":"1000","amount":"15000","side":"credit"},'
    '{"account":"2000:M-7Q4K2","amount":"15000","side":"debit"}],'
    '"reversal_of":1,"seq":2,"v":1,"value_date":"2025-06-30"}'
).encode()
GOLDEN_2_HASH = "f1263bd4bbc9f89e9852f71906ba1132c092669f447a5ec6bb44d8429f283719"


def test_golden_vector_pins_the_hashing_scheme() -> None:
    first = hash_body(
        seq=1, value_date=date(2025, 6, 30), posted_at=datetime(2025, 6, 30, tzinfo=UTC),
        kind="deposit", narration="Deposit", actor="clerk", reversal_of=None,
        postings=[
            PostedPosting("1000", Side.DEBIT, 150_00),
            PostedPosting("2000:M-7Q4K2", Side.CREDIT, 150_00),
        ],
    )
    assert canonical_bytes(first) == rfc8785.dumps(first) == GOLDEN_1_BYTES
    assert chain_hash(GENESIS_HASH, canonical_bytes(first)) == GOLDEN_1_HASH
    second = hash_body(
        seq=2, value_date=date(2025, 6, 30), posted_at=GOLDEN_2_INSTANT, kind="reversal",
        narration=f"Reversal of entry 1: {GOLDEN_2_REASON}", actor="admin", reversal_of=1,
        postings=[
            PostedPosting("1000", Side.CREDIT, 150_00),
            PostedPosting("2000:M-7Q4K2", Side.DEBIT, 150_00),
        ],
    )
    assert canonical_bytes(second) == rfc8785.dumps(second) == GOLDEN_2_BYTES
    assert chain_hash(GOLDEN_1_HASH, canonical_bytes(second)) == GOLDEN_2_HASH


def test_the_service_writes_the_golden_vectors(db: Database, clock: FixedClock) -> None:
    asha = open_savings(db, clock, "M-7Q4K2")
    first = deposit(db, clock, asha, 150_00)
    assert (first.id, first.prev_hash, first.hash) == (1, GENESIS_HASH, GOLDEN_1_HASH)
    clock.instant = GOLDEN_2_INSTANT
    second = db.write(
        lambda s: reverse(s, first.id, reason=GOLDEN_2_REASON, actor="admin", clock=clock)
    )
    assert (second.id, second.prev_hash, second.hash) == (2, GOLDEN_1_HASH, GOLDEN_2_HASH)
    stored = db.read(lambda s: q.load_entries(s, [1, 2]))
    assert [e.hash for e in stored] == [GOLDEN_1_HASH, GOLDEN_2_HASH]
    assert stored[1].posted_at == GOLDEN_2_INSTANT
    book = db.read(q.book)
    assert book is not None and (book.head_seq, book.head_hash) == (2, GOLDEN_2_HASH)
    report = db.read(lambda s: verify(s, checkpoint=(2, GOLDEN_2_HASH)))
    assert report.ok, report.problems


@given(
    narration=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1,
                      max_size=60),
    actor=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20),
    kind=st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True),
    seq=st.integers(1, 2**53 - 1),
    reversal_of=st.none() | st.integers(1, 2**53 - 1),
    amounts=st.lists(st.integers(1, 10**14), min_size=2, max_size=8),
    accounts=st.lists(st.text(min_size=1, max_size=12,
                              alphabet=st.characters(blacklist_categories=("Cs",))),
                      min_size=8, max_size=8),
    instant=st.datetimes(timezones=st.just(UTC)),
)
def test_the_direct_encoder_writes_the_rfc8785_bytes(
    narration: str, actor: str, kind: str, seq: int, reversal_of: int | None,
    amounts: list[int], accounts: list[str], instant: datetime,
) -> None:
    from coop.ledger.model import entry_canonical

    postings = [PostedPosting(accounts[i], Side.DEBIT if i % 2 else Side.CREDIT, amount)
                for i, amount in enumerate(amounts)]
    fields = {"seq": seq, "value_date": instant.date(), "posted_at": instant, "kind": kind,
              "narration": narration, "actor": actor, "reversal_of": reversal_of,
              "postings": postings}
    assert entry_canonical(**fields) == rfc8785.dumps(hash_body(**fields))
