"""The ledger's pure core: sides, account types, entry drafts, their checks and their hash.

No SQLAlchemy here. Everything is a frozen value; every check is a pure function that can be read
and property-tested on its own.

Conventions (DESIGN.md §4): a posting moves a positive amount of minor units on a side; an entry
balances when its debits equal its credits; an account's balance is signed by its normal side
(an asset with more debits than credits is positive). Every limit is a checked `*_MAX` constant.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TypedDict, Unpack

from coop.errors import CoopError, InvalidInput, require
from coop.money import AMOUNT_MINOR_MAX

POSTINGS_PER_ENTRY_MAX = 64
NARRATION_LENGTH_MAX = 200
ACTOR_LENGTH_MAX = 64
IDEMPOTENCY_KEY_LENGTH_MAX = 255
ACCOUNT_CODE_LENGTH_MAX = 64
ACCOUNT_NAME_LENGTH_MAX = 120
BALANCE_MINOR_MAX = 10**17
"""No account's balance may pass this either way (₹1,000 lakh crore in paise): a thousand
times the largest single posting, so honest use never meets it, and far below what a BIGINT
holds. A posting that would cross it is refused (422), never a crash."""
COUNTER_MINOR_NET_ABOVE = 2**61
"""When an account's cumulative debits or credits pass this, both are reduced by their
common part (the balance is unchanged): with the balance bounded above and single postings
at most AMOUNT_MINOR_MAX, the counters stay below 2**62 however many postings an account
takes, and always fit a BIGINT. `verify` checks the counters against the postings net."""

GENESIS_HASH = "0" * 64
HASH_VERSION = 1

KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ROOT_CODE_PATTERN = re.compile(r"^[0-9]{4}$")
SUB_SUFFIX_PATTERN = re.compile(r"^[A-Z0-9][A-Za-z0-9-]{0,40}$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1
_JOINERS = frozenset("\u200c\u200d")
"""Zero-width non-joiner and joiner shape Kannada, Hindi and Bengali text: they are allowed.
Every other invisible format character (bidi overrides and isolates such as U+202E, zero-width
spaces, word joiners, byte-order marks, soft hyphens) is refused: it can make a narration or
a name read differently from what is stored."""


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"

    def opposite(self) -> Side:
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def normal_side(self) -> Side:
        return Side.DEBIT if self in (AccountType.ASSET, AccountType.EXPENSE) else Side.CREDIT


# Operating errors of the ledger. Each has a stable code; the API turns it into a problem type.


class EntryUnbalanced(InvalidInput):
    code = "entry_unbalanced"
    title = "The entry does not balance"


class EntryShapeInvalid(InvalidInput):
    code = "entry_shape_invalid"
    title = "The entry is not well formed"


class UnknownAccount(InvalidInput):
    code = "unknown_account"
    title = "Unknown account"


class ControlAccountPosting(InvalidInput):
    code = "control_account"
    title = "Post to a member's own account, not to the control account"


class PeriodClosed(InvalidInput):
    code = "period_closed"
    title = "The period is closed"


class FutureValueDate(InvalidInput):
    code = "future_value_date"
    title = "The value date is in the future"


class BalanceLimit(InvalidInput):
    code = "balance_limit"
    title = "The account's balance would pass the most the books allow"


class InsufficientFunds(InvalidInput):
    code = "insufficient_funds"
    title = "Insufficient funds"


class IdempotencyKeyReused(InvalidInput):
    code = "idempotency_key_reused"
    title = "This idempotency key was used for a different entry"


class AlreadyReversed(CoopError):
    code = "already_reversed"
    kind = "conflict"
    title = "The entry has already been reversed"


class EntryNotFound(CoopError):
    code = "entry_not_found"
    kind = "not_found"
    title = "No such entry"


class AccountExists(CoopError):
    code = "account_exists"
    kind = "conflict"
    title = "An account with this code exists"


@dataclass(frozen=True, slots=True)
class PostingDraft:
    """One leg of an entry, naming its account by code."""

    account: str
    side: Side
    amount_minor: int


PostedPosting = PostingDraft
"""A posting as it stands in the journal: the same value as the one asked for."""


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """An entry as a service asks for it, before it has a place in the journal."""

    value_date: date
    narration: str
    kind: str
    postings: tuple[PostingDraft, ...]
    actor: str = "system"
    idempotency_key: str | None = None
    reversal_of: int | None = None



@dataclass(frozen=True, slots=True)
class PostedEntry:
    """An entry as it stands in the journal. `id` is its gapless sequence number."""

    id: int
    value_date: date
    posted_at: datetime
    kind: str
    narration: str
    actor: str
    idempotency_key: str
    reversal_of: int | None
    postings: tuple[PostedPosting, ...]
    prev_hash: str
    hash: str
    replayed: bool = field(default=False, compare=False)

    @property
    def seq(self) -> int:
        return self.id


def debit(account: str, amount_minor: int) -> PostingDraft:
    return PostingDraft(account, Side.DEBIT, amount_minor)


def credit(account: str, amount_minor: int) -> PostingDraft:
    return PostingDraft(account, Side.CREDIT, amount_minor)


def check_text(value: str, *, field: str, length_max: int, allow_empty: bool = False) -> str:
    """Trim a free-text field and refuse control characters, lone surrogates and overlength."""
    text = value.strip()
    if not text and not allow_empty:
        raise InvalidInput.said("{name} may not be empty", name=field, field=field)
    if len(text) > length_max:
        raise InvalidInput.said(
            "{name} is longer than {length_max} characters",
            name=field, length_max=length_max, field=field)
    if _CONTROL_CHARACTERS.search(text):
        raise InvalidInput.said(
            "{name} may not contain control characters",
            name=field, field=field)
    hidden = next((c for c in text if unicodedata.category(c) == "Cf" and c not in _JOINERS),
                  None)
    if hidden is not None:
        raise InvalidInput.said(
            "{name} may not contain invisible or direction-changing characters (U+{code_point})",
            name=field, code_point=format(ord(hidden), "04X"), field=field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput.said("{name} is not valid text", name=field, field=field) from exc
    return text


def check_draft(draft: EntryDraft) -> EntryDraft:
    """Every check an entry must pass before it touches the database; returns it normalised."""
    count = len(draft.postings)
    if not 2 <= count <= POSTINGS_PER_ENTRY_MAX:
        raise EntryShapeInvalid.said(
            "an entry has 2 to {postings_per_entry_max} postings, not {count}",
            postings_per_entry_max=POSTINGS_PER_ENTRY_MAX, count=count, field="postings")
    for index, posting in enumerate(draft.postings):
        check_posting(posting, field=f"postings[{index}]")
    debit_minor = sum(p.amount_minor for p in draft.postings if p.side is Side.DEBIT)
    credit_minor = sum(p.amount_minor for p in draft.postings if p.side is Side.CREDIT)
    if debit_minor != credit_minor:
        raise EntryUnbalanced.said(
            "debits total {debit} and credits total {credit} (minor units)",
            debit=debit_minor, credit=credit_minor, field="postings")
    if not KIND_PATTERN.fullmatch(draft.kind):
        raise InvalidInput.said(
            "kind {kind} is not a known shape",
            kind=repr(draft.kind[:40]), field="kind")
    key = draft.idempotency_key
    if key is not None and not 1 <= len(key) <= IDEMPOTENCY_KEY_LENGTH_MAX:
        raise InvalidInput.said(
            "an idempotency key has 1 to {idempotency_key_length_max} characters",
            idempotency_key_length_max=IDEMPOTENCY_KEY_LENGTH_MAX, field="idempotency_key")
    narration = check_text(draft.narration, field="narration", length_max=NARRATION_LENGTH_MAX)
    actor = check_text(draft.actor, field="actor", length_max=ACTOR_LENGTH_MAX)
    if narration == draft.narration and actor == draft.actor:
        return draft
    return EntryDraft(
        value_date=draft.value_date, narration=narration, kind=draft.kind,
        postings=draft.postings, actor=actor, idempotency_key=draft.idempotency_key,
        reversal_of=draft.reversal_of,
    )


def check_posting(posting: PostingDraft, *, field: str) -> None:
    if type(posting.amount_minor) is not int:
        raise EntryShapeInvalid("an amount is a whole number of minor units", field=field)
    if not 0 < posting.amount_minor <= AMOUNT_MINOR_MAX:
        raise EntryShapeInvalid.said(
            "an amount is more than zero and at most {amount_minor_max} minor units",
            amount_minor_max=AMOUNT_MINOR_MAX, field=field)
    if not isinstance(posting.side, Side):
        raise EntryShapeInvalid("a posting is a debit or a credit", field=field)
    if not isinstance(posting.account, str) or not posting.account:
        raise UnknownAccount("a posting names an account", field=field)


def signed_balance(normal_side: Side | str, *, debits_minor: int, credits_minor: int) -> int:
    """The balance signed by the account's normal side: positive when it holds value."""
    if normal_side == Side.DEBIT:
        return debits_minor - credits_minor
    return credits_minor - debits_minor


def reversed_postings(postings: Iterable[PostingDraft]) -> tuple[PostingDraft, ...]:
    """The postings that exactly negate an entry: same accounts and amounts, sides swapped."""
    return tuple(PostingDraft(p.account, p.side.opposite(), p.amount_minor) for p in postings)


def timestamp_text(instant: datetime) -> str:
    """A UTC instant at microsecond precision, as it is hashed (naive means UTC)."""
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(tzinfo=None).isoformat("T", "microseconds") + "Z"


class HashedFacts(TypedDict):
    """An entry's facts that the hash chain covers (both ways of writing them take these)."""

    seq: int
    value_date: date
    posted_at: datetime
    kind: str
    narration: str
    actor: str
    reversal_of: int | None
    postings: Iterable[PostingDraft]


def hash_body(**facts: Unpack[HashedFacts]) -> dict[str, object]:
    """The facts the hash chain covers. No personal data: accounts are codes, actors usernames.

    Amounts are strings of integer minor units so no JSON number precision question arises.
    """
    return {
        "v": HASH_VERSION,
        "seq": facts["seq"],
        "value_date": facts["value_date"].isoformat(),
        "posted_at": timestamp_text(facts["posted_at"]),
        "kind": facts["kind"],
        "narration": facts["narration"],
        "actor": facts["actor"],
        "reversal_of": facts["reversal_of"],
        "postings": [
            {"account": p.account, "side": str(p.side), "amount": str(p.amount_minor)}
            for p in facts["postings"]
        ],
    }


def canonical_bytes(body: dict[str, object]) -> bytes:
    """RFC 8785 (JCS) bytes of a hash body.

    For what a hash body can hold (ASCII keys, strings without lone surrogates, integers below
    2**53, None, lists and dicts) Python's sorted, compact, non-ASCII-escaping JSON is byte for
    byte the JCS form, at a third of the `rfc8785` package's cost; a property test holds the two
    equal, and `verify` recomputes with the `rfc8785` package itself.
    """
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_json_string = json.encoder.encode_basestring


def entry_canonical(**facts: Unpack[HashedFacts]) -> bytes:
    """`canonical_bytes(hash_body(...))` written out directly, for the bulk path's sake.

    The keys are spelled in JCS order (sorted), strings escaped as JCS escapes them; a
    property test holds this equal to the `rfc8785` package's output for any entry.
    """
    legs = ",".join(
        f'{{"account":{_json_string(p.account)},"amount":"{p.amount_minor}",'
        f'"side":"{p.side.value}"}}'
        for p in facts["postings"]
    )
    reversal_of = facts["reversal_of"]
    reversal = "null" if reversal_of is None else str(reversal_of)
    return (
        f'{{"actor":{_json_string(facts["actor"])},"kind":{_json_string(facts["kind"])},'
        f'"narration":{_json_string(facts["narration"])},'
        f'"posted_at":"{timestamp_text(facts["posted_at"])}",'
        f'"postings":[{legs}],"reversal_of":{reversal},"seq":{facts["seq"]},'
        f'"v":{HASH_VERSION},"value_date":"{facts["value_date"].isoformat()}"}}'
    ).encode()


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """sha256(previous hash bytes || canonical JSON of the entry), hex."""
    require(len(prev_hash) == 64, "a previous hash is 64 hex digits")
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()
