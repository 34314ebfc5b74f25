"""`verify`: recompute the hash chain and every cached balance from the postings.

It walks the journal in sequence order, in batches, and checks for each entry that its number
follows the one before (no gap, no reordering), that it names the previous entry's hash, that
its own hash is sha256(previous hash || RFC 8785 JSON of its facts) computed with the `rfc8785`
package (independently of the writer's encoder), and that it has at least two postings that
balance. It then checks the book's chain head against the last entry and every account's
counters against the sum of its postings (a control account: its sub-accounts' too).

Problems are reported in journal order, so the first one is the first fault. A checkpoint
(`seq`, `hash`) witnessed earlier, e.g. printed in board minutes, is checked as well: a chain
recomputed wholesale after tampering no longer matches it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.ledger import queries
from coop.ledger.model import (
    COUNTER_MINOR_NET_ABOVE,
    GENESIS_HASH,
    PostedPosting,
    Side,
    hash_body,
)
from coop.ledger.orm import account_table, book_table

PROBLEMS_MAX = 100
PROGRESS_EVERY = 5000


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


def verify(session: Session, *, checkpoint: tuple[int, str] | None = None,
           progress: Callable[[int], None] | None = None) -> VerifyReport:
    """`progress`, if given, is told how many entries are checked every few thousand."""
    report = VerifyReport()
    codes = {
        r.id: r.code for r in session.execute(select(account_table.c.id, account_table.c.code))
    }
    sides = {str(side): side for side in Side}
    column = {str(Side.DEBIT): 0, str(Side.CREDIT): 1}
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    running_hash = GENESIS_HASH
    expected_seq = 1
    checkpoint_seen = checkpoint is None
    for entry in queries.walk_entries(session, chain=True, include_missing=True):
        seq = entry.id
        postings = []
        for account_id, side, amount in entry.postings:
            postings.append(PostedPosting(codes[account_id], sides[side], amount))
            sums[account_id][column[side]] += amount
        facts = entry.chain
        if entry.missing or facts is None:
            report.add(Problem(seq, None, "its postings remain but the entry itself is gone"))
            continue
        if seq != expected_seq:
            report.add(Problem(seq, None, f"expected entry {expected_seq} here: a gap or reorder"))
        if facts.prev_hash != running_hash:
            report.add(Problem(seq, None, "does not name the hash of the entry before it"))
        digest = _digest(entry, facts, postings, running_hash)
        if digest != facts.hash:
            report.add(Problem(seq, None, "its hash does not match its contents"))
        _check_postings(report, seq, postings)
        if checkpoint is not None and seq == checkpoint[0]:
            checkpoint_seen = True
            if digest != checkpoint[1]:
                report.add(Problem(seq, None, "the chain differs from the witnessed checkpoint"))
        running_hash = facts.hash
        expected_seq = seq + 1
        report.entries_checked += 1
        if progress is not None and report.entries_checked % PROGRESS_EVERY == 0:
            progress(report.entries_checked)
    report.head_seq, report.head_hash = expected_seq - 1, running_hash
    if not checkpoint_seen:
        report.add(Problem(None, None, "the witnessed checkpoint is beyond the journal's end"))
    _check_book(session, report)
    _check_accounts(session, report, sums)
    return report


def _digest(entry: queries.WalkedEntry, facts: queries.ChainFacts,
            postings: list[PostedPosting], prev_hash: str) -> str:
    """sha256(previous hash || RFC 8785 JSON of the entry's facts), computed independently of
    the writer's encoder."""
    body = hash_body(
        seq=entry.id, value_date=entry.value_date, posted_at=facts.posted_at,
        kind=entry.kind, narration=entry.narration, actor=facts.actor,
        reversal_of=entry.reversal_of, postings=postings,
    )
    canonical = rfc8785.dumps(body)  # type: ignore[arg-type]  # JSON-shaped by hash_body
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


def _check_postings(report: VerifyReport, seq: int, postings: list[PostedPosting]) -> None:
    if len(postings) < 2:
        report.add(Problem(seq, None, f"has {len(postings)} postings; an entry needs two"))
    debits = credits = 0
    positive = True
    for p in postings:  # one pass: verify reads every posting of the book
        if p.side is Side.DEBIT:
            debits += p.amount_minor
        else:
            credits += p.amount_minor
        positive = positive and p.amount_minor > 0
    if debits != credits:
        report.add(Problem(seq, None, f"does not balance: debits {debits}, credits {credits}"))
    if not positive:
        report.add(Problem(seq, None, "has a posting that is not a positive amount"))


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
