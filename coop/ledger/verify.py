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
time, merged in order: a million entries cost a few seconds, not a minute. A book of more than
`PARALLEL_ABOVE` entries, with a second core idle, is checked in two stretches at once: the
second half in a second process (`python -m coop.ledger.verify`, on a connection of its own)
that starts from the chain state at the seam (the stored hash of the entry before it and the
number after it), so it makes exactly the checks a single walk would; the halves' problems,
in journal order, and their sums are then put together.

Problems are reported in journal order, so the first one is the first fault. A checkpoint
(`seq`, `hash`) witnessed earlier, e.g. printed in board minutes, is checked as well: a chain
recomputed wholesale after tampering no longer matches it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import rfc8785
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from coop.ledger import queries
from coop.ledger.model import (
    COUNTER_MINOR_NET_ABOVE,
    GENESIS_HASH,
    HASH_VERSION,
    PostedPosting,
    Side,
    hash_body,
)
from coop.ledger.orm import account_table, book_table

log = logging.getLogger(__name__)

PROBLEMS_MAX = 100
PROGRESS_EVERY = 5000
BATCH_ENTRIES = queries.JOURNAL_BATCH_ENTRIES

JCS_INTEGER_MAX = 2**53 - 1
"""RFC 8785 writes integers as IEEE doubles: beyond this the reference refuses them."""

_JCS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_JCS_ESCAPES = {chr(i): f"\\u{i:04x}" for i in range(0x20)} | {
    '"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
}

_ENTRY_COLUMNS = "id, value_date, posted_at, kind, narration, actor, reversal_of, prev_hash, hash"
_SPLIT = "SELECT id, hash FROM ledger_entry WHERE id >= {at} ORDER BY id LIMIT 1"


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
           progress: Callable[[int], None] | None = None,
           processes: int | None = None) -> VerifyReport:
    """`progress`, if given, is told how many entries are checked every few thousand.

    `processes`: 1 checks the journal here; 2 checks its second half in a process of its own
    at the same time (a file or server database only); None (the default) takes 2 for a book
    of more than `PARALLEL_ABOVE` entries when a second core is idle."""
    report = VerifyReport()
    codes = {
        r.id: r.code for r in session.execute(select(account_table.c.id, account_table.c.code))
    }
    cursor = queries.driver_cursor(session)
    try:
        last_entry, last_posting = queries.journal_bounds(cursor)
        split = _split(session, cursor, last_entry, processes)
        if split is None:
            stretches = [_check_stretch(cursor, codes, _Start(
                0, last_entry, last_posting, GENESIS_HASH, 1, checkpoint, BATCH_ENTRIES),
                progress)]
        else:
            stretches = _check_in_two(session, cursor, codes, split, _Start(
                0, last_entry, last_posting, GENESIS_HASH, 1, checkpoint, BATCH_ENTRIES),
                progress)
    finally:
        cursor.close()
    debits: dict[int, int] = dict.fromkeys(codes, 0)
    credits: dict[int, int] = dict.fromkeys(codes, 0)
    for stretch in stretches:
        for problem in stretch.problems:
            report.add(problem)
        for account_id, amount in stretch.debits.items():
            debits[account_id] = debits.get(account_id, 0) + amount
        for account_id, amount in stretch.credits.items():
            credits[account_id] = credits.get(account_id, 0) + amount
        report.entries_checked += stretch.checked
    last = stretches[-1]
    report.head_seq, report.head_hash = last.expected_seq - 1, last.running_hash
    if checkpoint is not None and not any(stretch.checkpoint_seen for stretch in stretches):
        report.add(Problem(None, None, "the witnessed checkpoint is beyond the journal's end"))
    _check_book(session, report)
    _check_accounts(session, report, {
        account_id: [debits[account_id], credits.get(account_id, 0)]
        for account_id in debits})
    return report


PARALLEL_ABOVE = 200_000
"""A second process costs about a second to start: worth it only for a book this big."""


@dataclass(frozen=True, slots=True)
class _Start:
    """Where a stretch of the journal begins and ends, and the chain's state just before it:
    the entries after `after` up to `last_entry`, the postings up to `last_posting`."""

    after: int
    last_entry: int
    last_posting: int
    running_hash: str
    expected_seq: int
    checkpoint: tuple[int, str] | None
    batch_entries: int


@dataclass
class _Stretch:
    """What one stretch of the journal showed: its problems in journal order, the postings'
    sums by account, and the chain's state after its last entry."""

    running_hash: str
    expected_seq: int
    problems: list[Problem] = field(default_factory=list)
    debits: dict[int, int] = field(default_factory=dict)
    credits: dict[int, int] = field(default_factory=dict)
    checked: int = 0
    checkpoint_seen: bool = False

    def add(self, problem: Problem) -> None:
        if len(self.problems) < PROBLEMS_MAX:
            self.problems.append(problem)


def _check_stretch(cursor: Any, codes: dict[int, str], start: _Start,
                   progress: Callable[[int], None] | None) -> _Stretch:
    """Check the entries of one stretch in order, exactly as if the journal before it had
    been walked up to the chain state `start` names."""
    # Each account's JCS prefix of a posting, written once: `{"account":"2000:M-7Q4K2",`
    heads = {account_id: account_head(code) for account_id, code in codes.items()}
    stretch = _Stretch(start.running_hash, start.expected_seq)
    debits: dict[int, int] = dict.fromkeys(codes, 0)
    credits: dict[int, int] = dict.fromkeys(codes, 0)
    stretch.debits, stretch.credits = debits, credits
    sha256 = hashlib.sha256
    running_hash = start.running_hash
    expected_seq = start.expected_seq
    checkpoint_seq, checkpoint_hash = start.checkpoint or (None, None)
    checked = 0
    add = stretch.add
    for entries, postings in queries.journal_batches(
            cursor, _ENTRY_COLUMNS, after=start.after, last_entry=start.last_entry,
            last_posting=start.last_posting, batch_entries=start.batch_entries):
        p, p_end = 0, len(postings)
        for seq, value_date, posted_at, kind, narration, actor, reversal_of, prev_hash, \
                stored_hash in entries:
            while p < p_end and postings[p][0] < seq:  # postings whose entry is gone
                p = _orphans(stretch, postings, p, debits, credits)
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
                stretch.checkpoint_seen = True
                if digest != checkpoint_hash:
                    add(Problem(seq, None, "the chain differs from the witnessed checkpoint"))
            running_hash = stored_hash
            expected_seq = seq + 1
            checked += 1
            if progress is not None and checked % PROGRESS_EVERY == 0:
                progress(checked)
        while p < p_end:
            p = _orphans(stretch, postings, p, debits, credits)
    stretch.running_hash, stretch.expected_seq, stretch.checked = (
        running_hash, expected_seq, checked)
    return stretch


def _orphans(stretch: _Stretch, postings: Sequence[Any], p: int, debits: dict[int, int],
             credits: dict[int, int]) -> int:
    """Postings of one entry whose entry row is gone: counted in the sums all the same (they
    are in the table), reported once; the index after them."""
    seq = postings[p][0]
    while p < len(postings) and postings[p][0] == seq:
        _, account_id, side, amount = postings[p]
        sums = debits if side == "debit" else credits
        sums[account_id] = sums.get(account_id, 0) + amount
        p += 1
    stretch.add(Problem(seq, None, "its postings remain but the entry itself is gone"))
    return p


def _split(session: Session, cursor: Any, last_entry: int,
           processes: int | None) -> tuple[int, str] | None:
    """The entry after which a second process takes over (its id and stored hash), or None
    to check the journal here alone."""
    if processes is None:
        processes = 2 if last_entry > PARALLEL_ABOVE and _spare_core() else 1
    url = session.connection().engine.url
    in_memory = url.get_backend_name() == "sqlite" and (
        not url.database or url.database == ":memory:" or "mode=memory" in str(url))
    if processes < 2 or in_memory or last_entry < 2:
        return None
    cursor.execute(_SPLIT.format(at=int(last_entry) // 2))
    row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row is not None else None


def _spare_core() -> bool:
    """Whether a second core is likely idle: two or more to run on, and the last minute's
    load (this process included) below their number less one. On cores kept busy by other
    work a second process only competes with this one."""
    try:
        cores = len(os.sched_getaffinity(0))
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return False
    return cores >= 2 and load <= cores - 1


def _check_in_two(session: Session, cursor: Any, codes: dict[int, str],
                  split: tuple[int, str], whole: _Start,
                  progress: Callable[[int], None] | None) -> list[_Stretch]:
    """Check the journal up to and including entry `split` here and the rest in a second
    process (a fresh interpreter reading the same database on a connection of its own: the
    entries up to `last_entry` are immutable, so it reads what this session reads), then
    hand back both stretches in journal order. The second starts from the chain state right
    after `split`, so every check at the seam is the one a single walk would make. Should
    the second process fail, its stretch is checked here after all."""
    boundary, boundary_hash = split
    first = _Start(whole.after, boundary, boundary, whole.running_hash, whole.expected_seq,
                   whole.checkpoint, whole.batch_entries)
    second = _Start(boundary, whole.last_entry, whole.last_posting, boundary_hash,
                    boundary + 1, whole.checkpoint, whole.batch_entries)
    url = session.connection().engine.url.render_as_string(hide_password=False)
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    try:
        child: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "coop.ledger.verify"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=errors, env=env)
        assert child is not None and child.stdin is not None and child.stdout is not None
        child.stdin.write(pickle.dumps((url, codes, second)))
        child.stdin.close()
        there = _Heard(child.stdout)
    except OSError:  # it could not start, or died at once: nothing to hear from it
        child, there = None, _Heard(None)

    def told(done: int) -> None:
        if progress is not None:
            progress(done + there.done(block=False))

    here = _check_stretch(cursor, codes, first, told)
    while there.done(block=True) >= 0 and not there.finished:
        told(here.checked)
    rest = there.result()
    if child is not None:
        child.wait()
    if rest is None:
        errors.seek(0)
        log.warning("verify's second process failed (exit %s: %s); checking its half here",
                    child.returncode if child is not None else "-",
                    errors.read()[-500:].decode(errors="replace"))
        rest = _check_stretch(cursor, codes, second,
                              (lambda done: progress(here.checked + done)) if progress
                              else None)
    errors.close()
    return [here, rest]


class _Heard:
    """What the second process says on its stdout: a line with its count of checked entries
    every few thousand, then `done` and its stretch, pickled. Without a stream: nothing."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        self.stream = stream
        self.count = 0
        self.finished = stream is None
        self.pending = b""

    def done(self, *, block: bool) -> int:
        """The second process's latest count; with `block`, after waiting for its next word."""
        if self.stream is None:
            return self.count
        fd = self.stream.fileno()
        os.set_blocking(fd, block)
        while not self.finished:
            chunk = os.read(fd, 64) if block else self._try_read(fd)
            if not chunk:
                self.finished = block  # the end of the stream
                break
            self.pending += chunk
            while b"\n" in self.pending and not self.finished:
                line, self.pending = self.pending.split(b"\n", 1)
                if line == b"done":
                    self.finished = True
                else:
                    self.count = int(line)
            if block:
                break
        return self.count

    @staticmethod
    def _try_read(fd: int) -> bytes:
        try:
            return os.read(fd, 4096)
        except BlockingIOError:
            return b""

    def result(self) -> _Stretch | None:
        if self.stream is None:
            return None
        os.set_blocking(self.stream.fileno(), True)
        data = self.pending + self.stream.read() if self.finished else b""
        self.stream.close()
        try:
            stretch = pickle.loads(data)  # noqa: S301 - our own child's answer
        except (pickle.UnpicklingError, EOFError, ValueError):
            return None
        return stretch if isinstance(stretch, _Stretch) else None


def _check_elsewhere(url: str, codes: dict[int, str], start: _Start) -> _Stretch:
    """The second process's part: its stretch, on a connection of its own."""
    engine = create_engine(url, poolclass=NullPool)
    out = sys.stdout.buffer

    def told(done: int) -> None:
        out.write(b"%d\n" % done)
        out.flush()

    try:
        with engine.connect() as connection:
            return _check_stretch(connection.connection.cursor(), codes, start, told)
    finally:
        engine.dispose()


def _second_process() -> None:
    url, codes, start = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - from our parent
    stretch = _check_elsewhere(url, codes, start)
    sys.stdout.buffer.write(b"done\n" + pickle.dumps(stretch))
    sys.stdout.buffer.flush()


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


if __name__ == "__main__":  # `python -m coop.ledger.verify`: the second process
    from coop.ledger import verify as _module  # its classes pickle under their own name

    _module._second_process()
