"""`verify`: recompute the hash chain and every cached balance from the postings.

It walks the journal in sequence order, in batches, and checks for each entry that its number
follows the one before (no gap, no reordering), that it names the previous entry's hash, that
its own hash is sha256(previous hash || RFC 8785 JSON of its facts), and that it has at least
two postings, all positive, that balance. It then checks the book's chain head against the last
entry and every account's counters against the sum of its postings (a control account: its
sub-accounts' too).

The RFC 8785 bytes are written by this module's own encoder (`entry_jcs`), independent of the
writer's: it spells the hash body's fixed keys in JCS order and escapes strings as RFC 8785
does, and hands anything outside the shapes it knows (a number beyond 2**53, a value of an
unexpected type, text that is not UTF-8) to the `rfc8785` package, the reference. A property
test holds the two equal byte for byte on any facts, including astral characters, control
characters and the largest numbers.

The journal is read with the driver's own cursor, a batch of entries and their postings at a
time, merged in order: a million entries cost a few seconds, not a minute.

Problems are reported in journal order, so the first one is the first fault. A checkpoint
(`seq`, `hash`) witnessed earlier, e.g. printed in board minutes, is checked as well: a chain
recomputed wholesale after tampering no longer matches it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.ledger.model import (
    COUNTER_MINOR_NET_ABOVE,
    GENESIS_HASH,
    HASH_VERSION,
    PostedPosting,
    Side,
    hash_body,
)
from coop.ledger.orm import account_table, book_table

PROBLEMS_MAX = 100
PROGRESS_EVERY = 5000
BATCH_ENTRIES = 20_000
"""Entries read per batch (their postings come with them): a batch is a few megabytes."""

JCS_INTEGER_MAX = 2**53 - 1
"""RFC 8785 writes integers as IEEE doubles: beyond this the reference refuses them."""

_JCS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_JCS_ESCAPES = {chr(i): f"\\u{i:04x}" for i in range(0x20)} | {
    '"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
}

_ENTRIES = ("SELECT id, value_date, posted_at, kind, narration, actor, reversal_of, prev_hash, "
            "hash FROM ledger_entry WHERE id > {after} ORDER BY id LIMIT {limit}")
_POSTINGS = ("SELECT entry_id, account_id, side, amount_minor FROM ledger_posting "
             "WHERE entry_id > {after}{upto} ORDER BY entry_id, line")


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int | None
    account: str | None
    message: str

    def __str__(self) -> str:
        where = f"entry {self.seq}" if self.seq is not None else f"account {self.account}"
        return f"{where}: {self.message}"


@dataclass
class VerifyReport:
    entries_checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: Problem) -> None:
        if len(self.problems) < PROBLEMS_MAX:
            self.problems.append(problem)


def jcs_string(text: str) -> str:
    """A JSON string as RFC 8785 writes it: `"` and `\\` escaped, the C0 controls as their
    short escapes or \\u00xx (lower-case hex), everything else (U+2028, U+2029, DEL, astral
    characters) as itself."""
    if _JCS_ESCAPE.search(text) is None:
        return f'"{text}"'
    return '"' + _JCS_ESCAPE.sub(lambda m: _JCS_ESCAPES[m.group()], text) + '"'


def date_text(value: object) -> str:
    """A value date as hashed: ISO 8601. SQLite hands back the stored text, which the writer
    stored as exactly that (any other text no longer hashes to the stored hash)."""
    return value if type(value) is str else value.isoformat()  # type: ignore[attr-defined]


def instant_text(value: object) -> str:
    """`posted_at` as hashed: UTC at microsecond precision with a Z. SQLite hands back the
    stored text, `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, PostgreSQL a datetime."""
    if type(value) is str:
        if len(value) == 26 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}Z"
        value = datetime.fromisoformat(value)
    instant: datetime = value  # type: ignore[assignment]
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC).replace(tzinfo=None)
    return instant.isoformat("T", "microseconds") + "Z"


def entry_jcs(seq: int, value_date: str, posted_at: str, kind: str, narration: str,
              actor: str, reversal_of: int | None, legs: Sequence[str]) -> bytes:
    """The RFC 8785 bytes of an entry's hash body, given its postings as JCS objects
    (`{"account":...,"amount":"...","side":...}`). The keys are written in JCS order (sorted
    by UTF-16 code units; all are ASCII)."""
    reversal = "null" if reversal_of is None else reversal_of
    if _JCS_ESCAPE.search(f"{actor}{kind}{narration}{posted_at}{value_date}") is None:
        return (f'{{"actor":"{actor}","kind":"{kind}","narration":"{narration}",'
                f'"posted_at":"{posted_at}","postings":[{",".join(legs)}],'
                f'"reversal_of":{reversal},"seq":{seq},"v":{HASH_VERSION},'
                f'"value_date":"{value_date}"}}').encode()
    return (f'{{"actor":{jcs_string(actor)},"kind":{jcs_string(kind)},'
            f'"narration":{jcs_string(narration)},"posted_at":{jcs_string(posted_at)},'
            f'"postings":[{",".join(legs)}],"reversal_of":{reversal},"seq":{seq},'
            f'"v":{HASH_VERSION},"value_date":{jcs_string(value_date)}}}').encode()


def account_head(code: str) -> str:
    """The start of a posting's JCS object, up to its amount's digits (written once per
    account): `{"account":"2000:M-7Q4K2","amount":"`."""
    return f'{{"account":{jcs_string(code)},"amount":"'


def leg_jcs(head: str, amount: int, side: str) -> str:
    """A posting's JCS object, from its account's `account_head`; `side` is `debit` or
    `credit`, which need no escaping."""
    return f'{head}{amount}","side":"{side}"}}'


def _is_jcs_integer(value: object) -> bool:
    return type(value) is int and -JCS_INTEGER_MAX <= value <= JCS_INTEGER_MAX


def verify(session: Session, *, checkpoint: tuple[int, str] | None = None,
           progress: Callable[[int], None] | None = None) -> VerifyReport:
    """`progress`, if given, is told how many entries are checked every few thousand."""
    report = VerifyReport()
    codes = {
        r.id: r.code for r in session.execute(select(account_table.c.id, account_table.c.code))
    }
    # Each account's JCS prefix of a posting, written once: `{"account":"2000:M-7Q4K2",`
    heads = {account_id: account_head(code) for account_id, code in codes.items()}
    debits: dict[int, int] = dict.fromkeys(codes, 0)
    credits: dict[int, int] = dict.fromkeys(codes, 0)
    sha256 = hashlib.sha256
    running_hash = GENESIS_HASH
    expected_seq = 1
    checkpoint_seq, checkpoint_hash = checkpoint if checkpoint is not None else (None, None)
    checkpoint_seen = checkpoint is None
    checked = 0
    add = report.add
    for entries, postings in _batches(session):
        p, p_end = 0, len(postings)
        for seq, value_date, posted_at, kind, narration, actor, reversal_of, prev_hash, \
                stored_hash in entries:
            while p < p_end and postings[p][0] < seq:  # postings whose entry is gone
                p = _orphans(report, postings, p, debits, credits)
            legs: list[str] = []
            debit_minor = credit_minor = 0
            positive = True
            odd = not _is_jcs_integer(seq) or (reversal_of is not None
                                                and not _is_jcs_integer(reversal_of))
            while p < p_end and postings[p][0] == seq:
                _, account_id, side, amount = postings[p]
                p += 1
                if side == "debit":
                    debit_minor += amount
                    debits[account_id] += amount
                elif side == "credit":
                    credit_minor += amount
                    credits[account_id] += amount
                else:
                    add(Problem(seq, None, f"has a posting on side {side!r}, neither a debit "
                                           "nor a credit"))
                    side = jcs_string(str(side))[1:-1]  # as the reference would spell it
                positive = positive and amount > 0
                legs.append(leg_jcs(heads[account_id], amount, side))
            if seq != expected_seq:
                add(Problem(seq, None, f"expected entry {expected_seq} here: a gap or reorder"))
            if prev_hash != running_hash:
                add(Problem(seq, None, "does not name the hash of the entry before it"))
            if odd:
                body = _reference_jcs(seq, value_date, posted_at, kind, narration, actor,
                                      reversal_of, postings, p - len(legs), p, codes)
            else:
                try:
                    body = entry_jcs(seq, date_text(value_date), instant_text(posted_at),
                                     kind, narration, actor, reversal_of, legs)
                except UnicodeEncodeError:  # text that is not UTF-8: the reference says so
                    body = _reference_jcs(seq, value_date, posted_at, kind, narration, actor,
                                          reversal_of, postings, p - len(legs), p, codes)
            digest = sha256(bytes.fromhex(running_hash) + body).hexdigest()
            if digest != stored_hash:
                add(Problem(seq, None, "its hash does not match its contents"))
            if len(legs) < 2:
                add(Problem(seq, None, f"has {len(legs)} postings; an entry needs two"))
            if debit_minor != credit_minor:
                add(Problem(seq, None,
                            f"does not balance: debits {debit_minor}, credits {credit_minor}"))
            if not positive:
                add(Problem(seq, None, "has a posting that is not a positive amount"))
            if seq == checkpoint_seq:
                checkpoint_seen = True
                if digest != checkpoint_hash:
                    add(Problem(seq, None, "the chain differs from the witnessed checkpoint"))
            running_hash = stored_hash
            expected_seq = seq + 1
            checked += 1
            if progress is not None and checked % PROGRESS_EVERY == 0:
                progress(checked)
        while p < p_end:
            p = _orphans(report, postings, p, debits, credits)
    report.entries_checked = checked
    report.head_seq, report.head_hash = expected_seq - 1, running_hash
    if not checkpoint_seen:
        add(Problem(None, None, "the witnessed checkpoint is beyond the journal's end"))
    _check_book(session, report)
    _check_accounts(session, report, {
        account_id: [debits[account_id], credits[account_id]] for account_id in debits})
    return report


def _batches(session: Session) -> Iterator[tuple[Sequence[Any], Sequence[Any]]]:
    """The journal a batch at a time, read with the driver's cursor in the session's own
    transaction: each batch's entries in sequence order, and the postings from just after the
    previous batch's last entry up to this batch's last (the last batch: all that remain), in
    entry then line order, so postings whose entry row is gone are read as well."""
    cursor = session.connection().connection.cursor()
    try:
        after = 0
        while True:
            cursor.execute(_ENTRIES.format(after=int(after), limit=BATCH_ENTRIES))
            entries = cursor.fetchall()
            upto = f" AND entry_id <= {int(entries[-1][0])}" if entries else ""
            cursor.execute(_POSTINGS.format(after=int(after), upto=upto))
            postings = cursor.fetchall()
            if not entries:
                if postings:
                    yield [], postings
                return
            yield entries, postings
            after = entries[-1][0]
    finally:
        cursor.close()


def _orphans(report: VerifyReport, postings: Sequence[Any], p: int, debits: dict[int, int],
             credits: dict[int, int]) -> int:
    """Postings of one entry whose entry row is gone: counted in the sums all the same (they
    are in the table), reported once; the index after them."""
    seq = postings[p][0]
    while p < len(postings) and postings[p][0] == seq:
        _, account_id, side, amount = postings[p]
        (debits if side == "debit" else credits)[account_id] += amount
        p += 1
    report.add(Problem(seq, None, "its postings remain but the entry itself is gone"))
    return p


def _reference_jcs(seq: Any, value_date: Any, posted_at: Any, kind: Any, narration: Any,
                   actor: Any, reversal_of: Any, postings: Sequence[Any], first: int, end: int,
                   codes: dict[int, str]) -> bytes:
    """The hash body of an entry outside the shapes `entry_jcs` knows, by the `rfc8785`
    package (which refuses what RFC 8785 cannot write, as it always has)."""
    body = hash_body(
        seq=seq,
        value_date=date.fromisoformat(value_date) if type(value_date) is str else value_date,
        posted_at=(datetime.fromisoformat(posted_at) if type(posted_at) is str
                   else posted_at),
        kind=kind, narration=narration, actor=actor, reversal_of=reversal_of,
        postings=[PostedPosting(codes[account_id], Side(side), amount)
                  for _, account_id, side, amount in postings[first:end]],
    )
    return rfc8785.dumps(body)  # type: ignore[arg-type]  # JSON-shaped by hash_body


def _check_book(session: Session, report: VerifyReport) -> None:
    row = session.execute(select(book_table.c.head_seq, book_table.c.head_hash)).first()
    if row is None:
        report.add(Problem(None, None, "the book has not been set up"))
    elif (row.head_seq, row.head_hash) != (report.head_seq, report.head_hash):
        report.add(Problem(row.head_seq, None, "the book's chain head is not the last entry"))


def _check_accounts(
    session: Session, report: VerifyReport, sums: dict[int, list[int]]
) -> None:
    rows = session.execute(
        select(
            account_table.c.id, account_table.c.code, account_table.c.parent_id,
            account_table.c.debits_posted, account_table.c.credits_posted,
        ).order_by(account_table.c.code)
    ).all()
    expected = {r.id: list(sums.get(r.id, [0, 0])) for r in rows}
    for r in rows:
        if r.parent_id is not None and r.parent_id in expected:
            own = sums.get(r.id, [0, 0])
            expected[r.parent_id][0] += own[0]
            expected[r.parent_id][1] += own[1]
    for r in rows:
        debits, credits = expected[r.id]
        netted = debits - r.debits_posted  # both counters lose the same, once they are big
        if (r.debits_posted, r.credits_posted) != (debits - netted, credits - netted) or (
                netted < 0 or (netted > 0 and max(debits, credits) < COUNTER_MINOR_NET_ABOVE)):
            report.add(
                Problem(
                    None, r.code,
                    f"cached debits/credits {r.debits_posted}/{r.credits_posted} but the "
                    f"postings sum to {debits}/{credits}",
                )
            )
