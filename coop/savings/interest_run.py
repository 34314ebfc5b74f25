"""Posting interest on savings for a period: one entry per account, idempotent per period.

For every savings account with interest due, the run posts Dr 5000 Interest on savings,
Cr the member's savings, dated the period's last day, with the idempotency key
`savings-interest:<member>:<start>:<end>`. The run itself is recorded (unique per period), all
in one transaction: a run is posted whole or not at all, running the same period again changes
nothing and returns the first run, and a period overlapping a posted one is refused.

A run is undone only as a whole (`reverse_interest_run`, POST
/savings/interest-runs/{id}/reversal): every one of its entries is reversed on its own date in
one transaction and the run is marked reversed, so the period may be run again. A period's
second run is its attempt 2, and its entries' keys end `#2` (the first run's keep the plain
key). Refused while a later run stands (undo that first: interest is earned on interest), in
a closed period (reopen the year first), or where a member's savings no longer hold the
interest (she withdrew it) or would fall below her holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from coop.clock import Clock
from coop.db import Base
from coop.errors import Conflict, InvalidInput, NotFound
from coop.ledger import EntryDraft, credit, debit, post_many, queries
from coop.ledger.chart import SAVINGS, SAVINGS_INTEREST_EXPENSE
from coop.ledger.model import PostedEntry, Side, reversed_postings
from coop.ledger.orm import account_table, entry_table, posting_table
from coop.members import get_member, savings_account
from coop.money import Amount, format_minor, parse_minor
from coop.savings import held
from coop.savings.interest import period_interest
from coop.society import require_society

CHUNK = 500


class InterestRunRow(Base):
    __tablename__ = "savings_interest_run"
    __table_args__ = (UniqueConstraint("period_start", "period_end", "attempt",
                                       name="uq_savings_interest_run_period_attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    rate_percent: Mapped[str] = mapped_column(String(12))
    accounts: Mapped[int]
    total_minor: Mapped[int]
    posted_by: Mapped[str] = mapped_column(String(32))
    posted_at: Mapped[datetime]
    attempt: Mapped[int] = mapped_column(Integer, server_default="1")
    """1 for a period's first run; a period run again after its run was reversed is 2, ..."""
    reversed_at: Mapped[datetime | None]
    reversed_by: Mapped[str | None] = mapped_column(String(32))


@dataclass(frozen=True)
class InterestRun:
    period_start: date
    period_end: date
    rate_percent: str
    accounts: int
    total_minor: int
    replayed: bool = False
    id: int = 0
    status: str = "posted"  # or "reversed"


@dataclass(frozen=True)
class RunReversal:
    id: int
    status: str  # "reversed"
    entries_reversed: int


def _run(row: InterestRunRow, *, replayed: bool = False) -> InterestRun:
    return InterestRun(row.period_start, row.period_end, row.rate_percent, row.accounts,
                       row.total_minor, replayed=replayed, id=row.id,
                       status="reversed" if row.reversed_at is not None else "posted")


def entry_key(owner: str, start: date, through: date, attempt: int) -> str:
    """The idempotency key of a member's interest entry in a run (see the docstring)."""
    key = f"savings-interest:{owner}:{start}:{through}"
    return key if attempt == 1 else f"{key}#{attempt}"


def _key_run(key: str | None) -> tuple[str, str, int] | None:
    """(start, end, attempt) from an interest entry's key, None for another key."""
    base, _, attempt = str(key or "").partition("#")
    parts = base.split(":")
    if len(parts) != 4 or parts[0] != "savings-interest":
        return None
    return parts[2], parts[3], int(attempt) if attempt.isdigit() else 1


@dataclass(frozen=True, slots=True)
class InterestRules:
    """The society's rules for interest on savings, read from its settings in one place."""

    rate_percent: Decimal  # percent a year
    min_balance_minor: int  # a day's closing balance below this earns nothing


def interest_rules(session: Session) -> InterestRules:
    """The savings interest rules now in force (a refusal if `coop init` has not run)."""
    society = require_society(session)
    settings = society.settings
    return InterestRules(
        rate_percent=Decimal(settings.savings_interest_rate),
        min_balance_minor=parse_minor(settings.savings_interest_min_balance, society.currency,
                                      allow_zero=True),
    )


def default_start(session: Session, through: date) -> date:
    """The day after the last posted period, or the first day of `through`'s month."""
    last = session.execute(select(func.max(InterestRunRow.period_end))
                           .where(InterestRunRow.reversed_at.is_(None))).scalar()
    return last + timedelta(days=1) if last is not None else through.replace(day=1)


def post_interest(
    session: Session,
    *,
    start: date,
    through: date,
    rate_percent: Decimal,
    min_balance_minor: int,
    actor: str,
    clock: Clock,
    progress: Callable[[int, int], None] | None = None,
) -> InterestRun:
    if start > through:
        raise InvalidInput("the period starts after it ends", field="from")
    if through >= clock.today():
        raise InvalidInput("interest is posted for a period that has ended", field="through")
    live = InterestRunRow.reversed_at.is_(None)
    same = session.execute(select(InterestRunRow).where(
        InterestRunRow.period_start == start, InterestRunRow.period_end == through, live)).scalar()
    if same is not None:
        return _run(same, replayed=True)
    overlap = session.execute(select(InterestRunRow.id).where(
        InterestRunRow.period_start <= through, InterestRunRow.period_end >= start, live)).first()
    if overlap is not None:
        raise Conflict("interest for part of this period has been posted already")
    attempt = 1 + (session.execute(select(func.max(InterestRunRow.attempt)).where(
        InterestRunRow.period_start == start, InterestRunRow.period_end == through)).scalar()
        or 0)
    accounts = _savings_accounts(session)
    drafts = []
    for done, (account_id, code, owner) in enumerate(accounts, start=1):
        amount = _interest(session, account_id, code, start, through, rate_percent,
                           min_balance_minor)
        if amount > 0:
            drafts.append(EntryDraft(
                value_date=through, kind="savings_interest", actor=actor,
                narration=f"Interest {start.isoformat()} to {through.isoformat()}",
                postings=(debit(SAVINGS_INTEREST_EXPENSE, amount), credit(code, amount)),
                idempotency_key=entry_key(owner, start, through, attempt),
            ))
        if progress is not None and (done % 200 == 0 or done == len(accounts)):
            progress(done, len(accounts))
    for first in range(0, len(drafts), CHUNK):
        post_many(session, drafts[first : first + CHUNK], clock=clock)
    total = sum(d.postings[0].amount_minor for d in drafts)
    row = InterestRunRow(period_start=start, period_end=through, attempt=attempt,
                         rate_percent=str(rate_percent), accounts=len(drafts),
                         total_minor=total, posted_by=actor, posted_at=clock.now())
    session.add(row)
    session.flush()
    return _run(row)


def interest_runs(session: Session) -> list[InterestRun]:
    """Every run, reversed ones too, the latest period first."""
    rows = session.execute(select(InterestRunRow).order_by(
        InterestRunRow.period_end.desc(), InterestRunRow.id.desc())).scalars()
    return [_run(row) for row in rows]


def reverse_interest_run(session: Session, run_id: int, *, actor: str,
                         clock: Clock) -> RunReversal:
    """Undo a run as a whole: each of its entries reversed on its own date, in one
    transaction, and the run marked reversed (see the module docstring for the refusals)."""
    row = session.execute(select(InterestRunRow).where(InterestRunRow.id == run_id)
                          .with_for_update().execution_options(populate_existing=True)
                          ).scalar()
    if row is None:
        raise NotFound.said("there is no interest run {run_id}", run_id=run_id, field="id")
    period = f"{row.period_start} to {row.period_end}"
    if row.reversed_at is not None:
        raise Conflict.said("the interest run {period} has been reversed already", period=period)
    later = session.execute(select(InterestRunRow).where(
        InterestRunRow.period_start > row.period_end, InterestRunRow.reversed_at.is_(None))
        .order_by(InterestRunRow.period_start.desc())).scalar()
    if later is not None:
        raise Conflict.said(
            "the interest run {period_start} to {period_end} (run {run}) came after this one: "
            "reverse it first",
            period_start=later.period_start, period_end=later.period_end, run=later.id)
    book = queries.book(session)
    if book is not None and book.closed_through and row.period_end <= book.closed_through:
        raise Conflict.said(
            "the interest run {period} is dated {period_end}, in a closed period (closed through "
            "{closed_through}): reopen the year first",
            period=period, period_end=row.period_end, closed_through=book.closed_through)
    entries = _run_entries(session, row)
    _check_still_held(session, entries)
    drafts = [EntryDraft(
        value_date=entry.value_date, kind="reversal", actor=actor,
        narration=f"Reversal of entry {entry.id}: interest {period} reversed",
        postings=reversed_postings(entry.postings), reversal_of=entry.id)
        for entry in entries]
    for first in range(0, len(drafts), CHUNK):
        post_many(session, drafts[first : first + CHUNK], clock=clock)
    _check_holds_after(session, entries)
    row.reversed_at = clock.now()
    row.reversed_by = actor
    session.flush()
    return RunReversal(row.id, "reversed", len(drafts))


def _run_entries(session: Session, row: InterestRunRow) -> list[PostedEntry]:
    """The run's entries: its period's interest entries keyed with its attempt."""
    wanted = (row.period_start.isoformat(), row.period_end.isoformat(), row.attempt)
    ids = [entry_id for entry_id, key in session.execute(
        select(entry_table.c.id, entry_table.c.idempotency_key).where(
            entry_table.c.kind == "savings_interest",
            entry_table.c.value_date == row.period_end).order_by(entry_table.c.id))
        if _key_run(key) == wanted]
    return queries.load_entries(session, ids)


def _credited(entry: PostedEntry) -> tuple[str, int]:
    """(member number, interest) of one interest entry: the credit to her savings."""
    line = next(p for p in entry.postings if p.side is Side.CREDIT)
    return line.account.partition(":")[2], line.amount_minor


def _check_still_held(session: Session, entries: list[PostedEntry]) -> None:
    """Each member's savings still hold her interest (a readable refusal before posting;
    the ledger's own limit check under the locks is the guarantee)."""
    currency = require_society(session).currency
    for entry in entries:
        code, amount = _credited(entry)
        balance = queries.balance(session, savings_account(code)) or 0
        if amount > balance:
            raise Conflict.said(
                "{code}'s savings are {balance}, less than the {amount} of interest to take back",
                code=code, balance=Amount(balance, currency), amount=Amount(amount, currency))


def _check_holds_after(session: Session, entries: list[PostedEntry]) -> None:
    """After the reversals, under the accounts' locks: no member's holds above her savings."""
    currency = require_society(session).currency
    for entry in entries:
        code, amount = _credited(entry)
        balance = queries.balance(session, savings_account(code)) or 0
        on_hold = held(session, get_member(session, code).id)
        if on_hold > balance:
            raise Conflict.said(
                "{code} has {on_hold} on hold; taking back {amount} of interest would leave her "
                "savings at {balance}",
                code=code, on_hold=Amount(on_hold, currency), amount=Amount(amount, currency),
                balance=Amount(balance, currency))


def _savings_accounts(session: Session) -> list[tuple[int, str, str]]:
    parent = select(account_table.c.id).where(account_table.c.code == SAVINGS)
    rows = session.execute(
        select(account_table.c.id, account_table.c.code, account_table.c.owner)
        .where(account_table.c.parent_id.in_(parent)).order_by(account_table.c.code))
    return [(r.id, r.code, r.owner or r.code) for r in rows]


def _interest(session: Session, account_id: int, code: str, start: date, through: date,
              rate_percent: Decimal, min_balance_minor: int) -> int:
    opening = queries.balance_as_of(session, code, start - timedelta(days=1)) or 0
    changes = [
        (on, amount if side == Side.CREDIT else -amount)
        for on, side, amount in session.execute(
            select(posting_table.c.value_date, posting_table.c.side,
                   posting_table.c.amount_minor)
            .where(posting_table.c.account_id == account_id,
                   posting_table.c.value_date >= start, posting_table.c.value_date <= through))
    ]
    return period_interest(opening, changes, start=start, end=through,
                           rate_percent=rate_percent, min_balance_minor=min_balance_minor)


def reconcile(session: Session) -> list[tuple[str | None, str]]:
    """Each stored interest run against the ledger: (5000, problem) for a run whose total or
    number of accounts is not what its posted entries (the `savings_interest` entries keyed
    with its period and attempt) add up to, for a standing run with a reversed entry, for a
    reversed run with an entry left standing, and for interest entries of no run. One read of
    the runs, one of the interest postings with their reversals."""
    runs = session.execute(select(InterestRunRow.id, InterestRunRow.period_start,
                                  InterestRunRow.period_end, InterestRunRow.attempt,
                                  InterestRunRow.accounts, InterestRunRow.total_minor,
                                  InterestRunRow.reversed_at)
                           .order_by(InterestRunRow.period_start, InterestRunRow.id)).all()
    posted = _posted_by_run(session)
    if not runs and not posted:
        return []
    currency = require_society(session).currency
    problems: list[tuple[str | None, str]] = []
    for _id, start, end, attempt, accounts, total, reversed_at in runs:
        entries, ledger, undone = posted.pop((start.isoformat(), end.isoformat(), attempt),
                                             (0, 0, 0))
        name = f"interest run {start.isoformat()} to {end.isoformat()}"
        if (accounts, total) != (entries, ledger):
            problems.append((SAVINGS_INTEREST_EXPENSE, (
                f"{name}: the run says {format_minor(total, currency)} on {accounts} "
                f"account(s), the ledger {format_minor(ledger, currency)} in {entries} entr"
                f"{'y' if entries == 1 else 'ies'}")))
        if reversed_at is None and undone:
            problems.append((SAVINGS_INTEREST_EXPENSE, (
                f"{name}: the run stands, but {undone} of its {entries} entries are reversed")))
        if reversed_at is not None and undone != entries:
            problems.append((SAVINGS_INTEREST_EXPENSE, (
                f"{name}: the run is reversed, but {entries - undone} of its {entries} "
                f"entries stand in the ledger")))
    for (start_text, end_text, attempt), (entries, ledger, _) in sorted(posted.items()):
        problems.append((SAVINGS_INTEREST_EXPENSE, (
            f"interest {start_text} to {end_text} (attempt {attempt}): "
            f"{format_minor(ledger, currency)} in {entries} entries of no recorded run")))
    return problems


def _posted_by_run(session: Session) -> dict[tuple[str, str, int], tuple[int, int, int]]:
    """By (start, end, attempt): the interest entries, their total, how many are reversed."""
    reversal = entry_table.alias("reversal")
    posted: dict[tuple[str, str, int], tuple[int, int, int]] = {}
    for key, amount, reversed_by in session.execute(
        select(entry_table.c.idempotency_key, posting_table.c.amount_minor, reversal.c.id)
        .join(posting_table, posting_table.c.entry_id == entry_table.c.id)
        .outerjoin(reversal, reversal.c.reversal_of == entry_table.c.id)
        .where(entry_table.c.kind == "savings_interest",
               posting_table.c.side == Side.DEBIT.value)
    ):
        run = _key_run(key)
        if run is not None:
            entries, total, undone = posted.get(run, (0, 0, 0))
            posted[run] = (entries + 1, total + int(amount),
                           undone + (reversed_by is not None))
    return posted
