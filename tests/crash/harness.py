"""The crash harness's shared parts: the society it runs on, the stream of counter operations,
the side files, and the checker that looks at the books after a SIGKILL.

Every operation has a deterministic idempotency key (`<prefix>-<seed>-<n>`) and is drawn from
`random.Random(f"{seed}:{n}")` and the state of the books, so a run is reproduced from its seed
(only the number of operations between two kills depends on timing).

The side files are append-only, one line per record, each line one write(2) followed by fsync:
`attempting` (the operation as JSON, written before the call) and `acked` (its key, written only
after the transaction committed, or after a 201 in HTTP mode). A line cut short by the kill is
not a record: `SideFile.records` drops it and truncates the file back to its last full line.

`check_books` is the one checker: the tests run it after every kill, and the negative controls
run it on deliberately broken writers to prove that it sees what it claims to see.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from coop import auth, loans, members
from coop.board import take_seat
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, credit, debit, post
from coop.ledger.chart import CASH, OTHER_INCOME
from coop.ledger.orm import account_table, book_table, entry_table, posting_table
from coop.ledger.verify import verify
from coop.loans import EventRow, schedule
from coop.members.vault import Vault
from coop.savings import balances, record_deposit, record_withdrawal, shares
from coop.savings.shares import ShareMovementRow
from coop.society import get_society, update_settings

DEFAULT_SEED = 20250630
DEFAULT_SERVICE_KILLS = 60
DEFAULT_HTTP_KILLS = 15
KILL_DELAY_S = (0.020, 0.300)
"""A kill lands uniformly 20-300 ms after the child says it is running."""

VAULT = Vault(bytes(range(32)))
PASSWORDS = auth.Passwords(memory_kib=1024, time_cost=1, parallelism=1)
CLERK, CLERK_PASSWORD = "crashclerk", "correct horse battery staple"
MEMBERS = 4
OPENING_SAVINGS = 10_000_000
LOAN_PRINCIPAL = 5_000_000
GRANT = 10**12
KIND_OF = {"deposit": "deposit", "withdrawal": "withdrawal", "shares": "share_purchase",
           "repayment": "loan_repayment"}
MIX = (("deposit", 35), ("withdrawal", 25), ("shares", 20), ("repayment", 20))


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def seed() -> int:
    return env_int("COOP_CRASH_SEED", DEFAULT_SEED)


def engine_name(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


def child_url(url: str, application_name: str) -> str:
    """The URL a child opens: on PostgreSQL its sessions carry a name, so that the parent can
    wait until the server has ended every session of a killed child."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url
    return parsed.update_query_dict({"application_name": application_name}).render_as_string(
        hide_password=False)


# --- the society ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Books:
    """What the stream needs to know about the society set up for it."""

    business_date: date
    codes: tuple[str, ...]
    loans: dict[str, int]
    face_value_minor: int
    baseline: int
    """The last entry of the set-up: every later entry belongs to the stream."""
    token: str
    user_id: int


def set_up(db: Database, clock: FixedClock) -> Books:
    """Members with savings and a long loan each, cash in the till, and a clerk with a token."""
    today = clock.today()
    db.write(lambda s: update_settings(s, {"loan_approvals_required": 1,
                                           "loan_min_membership_days": 0}))

    def people(session: Session) -> tuple[list[str], str]:
        codes = [members.register_member(session, identity=members.Identity(),
                                         joined_on=date(2024, 1, 1), vault=VAULT,
                                         clock=clock).code for _ in range(MEMBERS)]
        board = members.register_member(session, identity=members.Identity(),
                                        joined_on=date(2024, 1, 1), vault=VAULT, clock=clock)
        post(session, EntryDraft(value_date=today, narration="Opening grant", kind="grant",
                                 postings=(debit(CASH, GRANT), credit(OTHER_INCOME, GRANT))),
             clock=clock)
        for code in codes:
            record_deposit(session, code, amount_minor=OPENING_SAVINGS, value_date=today,
                           actor="setup", clock=clock)
        loans.create_product(session, loans.Product(
            "LONG", "Long weekly loan", loans.ProductTerms(Decimal("12"), 104,
                                                          schedule.Frequency.WEEKLY),
            None, Decimal("1"), Decimal("0"), loans.engine.DEFAULT_ORDER), clock=clock)
        return codes, board.code

    codes, board = db.write(people)
    db.write(lambda s: take_seat(s, member_code=board, username="board", on=today))

    def lend(session: Session, code: str) -> int:
        society = get_society(session)
        assert society is not None
        loan, _ = loans.apply(session, member_code=code, product_code="LONG",
                              principal_minor=LOAN_PRINCIPAL, installments=None,
                              purpose="business", guarantors=(), society=society,
                              actor="setup", clock=clock)
        loans.vote(session, loan.id, voter_code=board, voter_username="board",
                   decision="approve", note=None, society=society,
                   clock=clock)
        loans.disburse(session, loan.id, to="cash", on=today, actor="setup", clock=clock)
        return loan.id

    loan_ids = {code: db.write(partial(lend, code=code)) for code in codes}

    def clerk(session: Session) -> tuple[str, int]:
        auth.create_user(session, username=CLERK, password=CLERK_PASSWORD, role="clerk",
                         member_code=None, passwords=PASSWORDS, clock=clock)
        token, user, _ = auth.login(session, username=CLERK, password=CLERK_PASSWORD,
                                    address="127.0.0.1", passwords=PASSWORDS, clock=clock)
        return token, user.id

    token, user_id = db.write(clerk)
    society = db.read(get_society)
    assert society is not None
    baseline = db.read(lambda s: int(s.execute(select(book_table.c.head_seq)).scalar_one()))
    return Books(business_date=today, codes=tuple(codes), loans=loan_ids,
                 face_value_minor=society.share_face_value_minor, baseline=baseline,
                 token=token, user_id=user_id)


# --- the stream of operations ---------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    key: str
    n: int
    kind: str  # deposit | withdrawal | shares | repayment
    member: str
    amount_minor: int
    count: int = 0
    source: str = "cash"
    loan_id: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Op:
        return cls(**json.loads(line))

    @property
    def entry_kind(self) -> str:
        return KIND_OF[self.kind]


def plan_op(run_seed: int, n: int, prefix: str, books: Books, available: Callable[[str], int],
            *, members_of: tuple[str, ...] | None = None,
            savings_shares: bool = True) -> Op:
    """Operation `n` of the stream: a deposit, a withdrawal that fits the available balance,
    a share purchase (for cash, or from savings when they cover it) or a loan repayment."""
    rng = random.Random(f"{run_seed}:{n}")
    kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
    member = rng.choice(members_of or books.codes)
    key = f"{prefix}-{run_seed}-{n}"
    want = rng.randint(100, 200_000)
    if kind == "withdrawal":
        amount = min(want, available(member))
        if amount >= 100:
            return Op(key, n, "withdrawal", member, amount)
        return Op(key, n, "deposit", member, want)
    if kind == "deposit":
        return Op(key, n, "deposit", member, want)
    if kind == "shares":
        count = rng.randint(1, 5)
        amount = count * books.face_value_minor
        source = "savings" if savings_shares and rng.random() < 0.5 else "cash"
        if source == "savings" and available(member) < amount:
            source = "cash"
        return Op(key, n, "shares", member, amount, count=count, source=source)
    return Op(key, n, "repayment", member, rng.randint(100, 3_000),
              loan_id=books.loans[member])


def available_in(db: Database) -> Callable[[str], int]:
    return lambda code: db.read(lambda s: balances(s, code).available_minor)


def run_op(db: Database, op: Op, clock: FixedClock, *, actor: str = "crash",
           pause_s: float = 0.0,
           before_commit: Callable[[], None] | None = None) -> tuple[int, bool]:
    """The operation through its service with `key=`, in one transaction: (entry id,
    replayed). `pause_s` holds the transaction open that long before posting (the negative
    control uses it to widen its window); `before_commit` runs after the service, inside the
    transaction."""
    on = clock.today()
    key = op.key or None  # no key: the negative control's broken retry

    def work(session: Session) -> tuple[int, bool]:
        if pause_s:
            time.sleep(pause_s)
        if op.kind == "deposit":
            entry, _ = record_deposit(session, op.member, amount_minor=op.amount_minor,
                                      value_date=on, actor=actor, clock=clock, key=key)
        elif op.kind == "withdrawal":
            entry, _ = record_withdrawal(session, op.member, amount_minor=op.amount_minor,
                                         value_date=on, actor=actor, clock=clock, key=key)
        elif op.kind == "shares":
            entry, _ = shares.buy_shares(
                session, op.member, count=op.count,
                source="savings" if op.source == "savings" else "cash",
                face_value_minor=op.amount_minor // op.count, value_date=on, actor=actor,
                clock=clock, key=key)
        else:
            entry = loans.repay(session, op.loan_id, amount_minor=op.amount_minor,
                                source="cash", on=on, actor=actor, clock=clock,
                                key=key).entry
        if before_commit is not None:
            before_commit()
        return entry.id, entry.replayed

    return db.write(work)


def money_text(amount_minor: int) -> str:
    return f"{amount_minor // 100}.{amount_minor % 100:02d}"


def http_request(op: Op) -> tuple[str, dict[str, Any]]:
    """The operation as the API takes it: (path, JSON body)."""
    base = "/api/v1"
    if op.kind in ("deposit", "withdrawal"):
        path = f"{base}/members/{op.member}/{op.kind}s"
        return path, {"amount": money_text(op.amount_minor)}
    if op.kind == "shares":
        return f"{base}/members/{op.member}/shares", {"count": op.count, "source": op.source}
    return f"{base}/loans/{op.loan_id}/repayments", {"amount": money_text(op.amount_minor),
                                                     "source": "cash"}


# --- side files -----------------------------------------------------------------------------


class SideFile:
    """An append-only record file: each append is one write(2) and an fsync."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def append(self, line: str) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        data = (line + "\n").encode()
        written = os.write(self._fd, data)
        assert written == len(data), "a short write to a side file"
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def records(self) -> list[str]:
        """The complete lines; a torn last line (the kill came mid-write) is cut off."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            with open(self.path, "r+b") as handle:
                handle.truncate(len(complete))
                os.fsync(handle.fileno())
        return [line for line in complete.decode().split("\n") if line]


# --- the checker ----------------------------------------------------------------------------


@dataclass
class Findings:
    """What one look at the books found; all empty means the books survived."""

    partial: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    twice: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    verify: list[str] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.partial or self.drift or self.lost or self.twice or self.wrong
                    or self.verify or self.integrity)

    def __str__(self) -> str:
        parts = [f"{name}: {values[:5]}{' ...' if len(values) > 5 else ''}"
                 for name, values in asdict(self).items() if values]
        return "; ".join(parts) or "ok"


def check_books(db: Database, *, books: Books, acked: dict[str, Op], attempted: set[str],
                http: bool) -> Findings:
    """Look at the books after a crash: SQLite's integrity check; `verify` (chain, every
    cached balance) and `loans.reconcile`; every entry has two postings or more and balances;
    every account's cached counters are its postings' sums; every acknowledged operation is
    in the books exactly once and as asked; nothing else of the stream's is there (an entry
    no key accounts for, a share movement or loan event twice, is an application twice).

    Service mode: an operation is the entry with its key. HTTP mode: it is the API's
    idempotency record for (the clerk, its key), and the entry that record's response names.
    """
    found = Findings()
    if db.is_sqlite:
        rows = db.read(lambda s: [str(r[0]) for r in s.execute(text("PRAGMA integrity_check"))])
        found.integrity = [r for r in rows if r != "ok"]
    report = db.read(verify)
    found.verify = [str(p) for p in report.problems]
    found.verify += [f"{account}: {message}" for account, message in db.read(loans.reconcile)]
    db.read(lambda s: _check_entries(s, found))
    db.read(lambda s: _check_counters(s, found))
    db.read(lambda s: _check_stream(s, found, books=books, acked=acked, attempted=attempted,
                                    http=http))
    return found


def _check_entries(session: Session, found: Findings) -> None:
    """An entry with fewer than two postings, or whose postings do not balance, is partial;
    so are postings whose entry is missing."""
    debits = func.sum(case((posting_table.c.side == "debit", posting_table.c.amount_minor),
                           else_=0))
    credits = func.sum(case((posting_table.c.side == "credit", posting_table.c.amount_minor),
                            else_=0))
    rows = session.execute(
        select(entry_table.c.id, func.count(posting_table.c.entry_id), debits, credits)
        .select_from(entry_table.outerjoin(posting_table,
                                           posting_table.c.entry_id == entry_table.c.id))
        .group_by(entry_table.c.id)).all()
    for entry_id, legs, debit_sum, credit_sum in rows:
        if legs < 2 or (debit_sum or 0) != (credit_sum or 0):
            found.partial.append(f"entry {entry_id}: {legs} posting(s), debits {debit_sum}, "
                                 f"credits {credit_sum}")
    orphans = session.execute(
        select(posting_table.c.entry_id).distinct()
        .where(posting_table.c.entry_id.not_in(select(entry_table.c.id)))).scalars().all()
    found.partial += [f"postings of a missing entry {e}" for e in orphans]


def _check_counters(session: Session, found: Findings) -> None:
    """Each account's cached debits/credits against the sums of its postings (a control
    account: its sub-accounts' too), and the book's chain head against the last entry."""
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for account_id, side, amount in session.execute(
            select(posting_table.c.account_id, posting_table.c.side,
                   func.sum(posting_table.c.amount_minor))
            .group_by(posting_table.c.account_id, posting_table.c.side)):
        sums[account_id][0 if side == "debit" else 1] += int(amount)
    accounts = session.execute(select(account_table.c.id, account_table.c.code,
                                      account_table.c.parent_id, account_table.c.debits_posted,
                                      account_table.c.credits_posted)).all()
    expected = {a.id: list(sums[a.id]) for a in accounts}
    for a in accounts:
        if a.parent_id is not None:
            expected[a.parent_id][0] += sums[a.id][0]
            expected[a.parent_id][1] += sums[a.id][1]
    for a in accounts:
        if [a.debits_posted, a.credits_posted] != expected[a.id]:
            found.drift.append(f"account {a.code}: cached {a.debits_posted}/{a.credits_posted}"
                               f", postings {expected[a.id][0]}/{expected[a.id][1]}")
    head = session.execute(select(book_table.c.head_seq, book_table.c.head_hash)).one()
    last = session.execute(select(entry_table.c.id, entry_table.c.hash)
                           .order_by(entry_table.c.id.desc()).limit(1)).first()
    if (head.head_seq, head.head_hash) != ((last.id, last.hash) if last else (0, head.head_hash)):
        found.drift.append(f"the book's head {head.head_seq} is not the last entry "
                           f"{last.id if last else 0}")


def _check_stream(session: Session, found: Findings, *, books: Books, acked: dict[str, Op],
                  attempted: set[str], http: bool) -> None:
    entries = {row.id: row for row in session.execute(
        select(entry_table.c.id, entry_table.c.idempotency_key, entry_table.c.kind)
        .where(entry_table.c.id > books.baseline))}
    moved: dict[int, int] = {e: int(a) for e, a in session.execute(
        select(posting_table.c.entry_id, func.sum(posting_table.c.amount_minor))
        .where(posting_table.c.entry_id > books.baseline, posting_table.c.side == "debit")
        .group_by(posting_table.c.entry_id))}
    if http:
        of_key = _http_records(session, found, books=books, acked=acked, entries=entries)
    else:
        by_key: dict[str, list[int]] = defaultdict(list)
        for row in entries.values():
            by_key[row.idempotency_key].append(row.id)
        of_key = {}
        for key, ids in by_key.items():
            if key not in attempted:
                found.twice.append(f"entries {ids}: key {key} is no operation of the stream")
            elif len(ids) > 1:
                found.twice.append(f"{key}: entries {ids}")
            else:
                of_key[key] = ids[0]
    for key, op in acked.items():
        entry_id = of_key.get(key)
        if entry_id is None or entry_id not in entries:
            found.lost.append(key)
            continue
        row = entries[entry_id]
        if (row.kind, moved.get(entry_id)) != (op.entry_kind, op.amount_minor):
            found.wrong.append(f"{key}: entry {entry_id} is {row.kind} of {moved.get(entry_id)},"
                               f" asked {op.entry_kind} of {op.amount_minor}")
    # the rows a share purchase or a repayment writes beside its entry: exactly one each
    kinds = {"share_purchase": (ShareMovementRow.__table__, "member_share_movement"),
             "loan_repayment": (EventRow.__table__, "loan_event")}
    for kind, (table, name) in kinds.items():
        ours = [e for e, row in entries.items() if row.kind == kind]
        counts = Counter(session.execute(
            select(table.c.entry_id).where(table.c.entry_id > books.baseline)).scalars())
        for entry_id in ours:
            if counts.get(entry_id, 0) != 1:
                found.twice.append(f"entry {entry_id} has {counts.get(entry_id, 0)} {name} rows")


def _http_records(session: Session, found: Findings, *, books: Books, acked: dict[str, Op],
                  entries: dict[int, Any]) -> dict[str, int]:
    """HTTP mode: key -> entry id from the idempotency records; a record without its response
    is a partial request; two records naming one entry, or an entry no record names, an
    application twice."""
    table = auth.IdempotencyRow.__table__
    of_key: dict[str, int] = {}
    for key, status, body in session.execute(
            select(table.c.key, table.c.status, table.c.body)
            .where(table.c.user_id == books.user_id)):
        if status is None or body is None:
            found.partial.append(f"idempotency record {key} has no response")
            continue
        if status != 201:
            if key in acked:
                found.lost.append(f"{key} (stored status {status})")
            continue
        of_key[key] = int(json.loads(bytes(body))["entry_id"])
    named = Counter(of_key.values())
    found.twice += [f"entry {e} is the response of {n} keys" for e, n in named.items() if n > 1]
    found.twice += [f"entry {e} ({row.kind}) is no keyed request's" for e, row in entries.items()
                    if e not in named]
    return of_key


# --- PostgreSQL: a killed child's sessions ---------------------------------------------------


def wait_for_sessions_gone(db: Database, application_name: str, timeout_s: float = 20) -> None:
    """Wait until the server has ended the sessions of a killed child (it notices the closed
    socket; a COMMIT the child had sent completes first)."""
    if db.is_sqlite:
        return
    query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not db.read(lambda s: s.execute(query, {"name": application_name}).scalar_one()):
            return
        time.sleep(0.01)
    raise AssertionError(f"the killed child's sessions ({application_name}) did not end")


# --- figures --------------------------------------------------------------------------------


@dataclass
class Tally:
    """The figures of one run, over every check after every kill."""

    kills: int = 0
    survived: int = 0
    """Kills after which the books were found clean."""
    partial: int = 0
    drift: int = 0
    lost: int = 0
    twice: int = 0
    wrong: int = 0
    verify: int = 0
    acked: int = 0
    in_flight: int = 0
    landed: int = 0
    resent: int = 0
    checks: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, findings: Findings, when: str) -> None:
        self.checks += 1
        self.partial += len(findings.partial)
        self.drift += len(findings.drift)
        self.lost += len(findings.lost)
        self.twice += len(findings.twice)
        self.wrong += len(findings.wrong)
        self.verify += len(findings.verify) + len(findings.integrity)
        if not findings.ok and len(self.notes) < 10:
            self.notes.append(f"{when}: {findings}")

    @property
    def clean(self) -> bool:
        return not (self.partial or self.drift or self.lost or self.twice or self.wrong
                    or self.verify)

    def line(self, engine: str, mode: str, run_seed: int, seconds: float) -> str:
        of = "" if self.survived == self.kills else f" of {self.kills}"
        return (f"crash harness ({engine}, {mode}): {self.survived}{of} kills survived, "
                f"{self.partial} partial entries, {self.drift} drift, {self.lost} lost "
                f"acknowledged, {self.twice} applied twice, {self.wrong} not as asked, "
                f"{self.verify} verify problems, {self.acked} operations acknowledged; "
                f"{self.in_flight} in flight at a kill ({self.landed} of them had committed "
                f"unacknowledged), each retried once; {self.resent} acknowledged operations "
                f"sent again, all replayed; {self.checks} checks; seed {run_seed}; "
                f"{seconds:.1f} s")
