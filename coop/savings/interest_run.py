"""Posting interest on savings for a period: one entry per account, idempotent per period.

For every savings account with interest due, the run posts Dr 5000 Interest on savings,
Cr the member's savings, dated the period's last day, with the idempotency key
`savings-interest:<member>:<start>:<end>`. The run itself is recorded (unique per period), all
in one transaction: a run is posted whole or not at all, running the same period again changes
nothing and returns the first run, and a period overlapping a posted one is refused.
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
from coop.errors import Conflict, InvalidInput
from coop.ledger import EntryDraft, credit, debit, post_many, queries
from coop.ledger.chart import SAVINGS, SAVINGS_INTEREST_EXPENSE
from coop.ledger.model import Side
from coop.ledger.orm import account_table, entry_table, posting_table
from coop.money import format_minor, parse_minor
from coop.savings.interest import period_interest
from coop.society import require_society

CHUNK = 500


class InterestRunRow(Base):
    __tablename__ = "savings_interest_run"
    __table_args__ = (UniqueConstraint("period_start", "period_end",
                                       name="uq_savings_interest_run_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    rate_percent: Mapped[str] = mapped_column(String(12))
    accounts: Mapped[int]
    total_minor: Mapped[int]
    posted_by: Mapped[str] = mapped_column(String(32))
    posted_at: Mapped[datetime]


@dataclass(frozen=True)
class InterestRun:
    period_start: date
    period_end: date
    rate_percent: str
    accounts: int
    total_minor: int
    replayed: bool = False


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
    last = session.execute(select(func.max(InterestRunRow.period_end))).scalar()
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
    same = session.execute(select(InterestRunRow).where(
        InterestRunRow.period_start == start, InterestRunRow.period_end == through)).scalar()
    if same is not None:
        return InterestRun(same.period_start, same.period_end, same.rate_percent,
                           same.accounts, same.total_minor, replayed=True)
    overlap = session.execute(select(InterestRunRow.id).where(
        InterestRunRow.period_start <= through, InterestRunRow.period_end >= start)).first()
    if overlap is not None:
        raise Conflict("interest for part of this period has been posted already")
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
                idempotency_key=f"savings-interest:{owner}:{start}:{through}",
            ))
        if progress is not None and (done % 200 == 0 or done == len(accounts)):
            progress(done, len(accounts))
    for first in range(0, len(drafts), CHUNK):
        post_many(session, drafts[first : first + CHUNK], clock=clock)
    total = sum(d.postings[0].amount_minor for d in drafts)
    session.add(InterestRunRow(period_start=start, period_end=through,
                               rate_percent=str(rate_percent), accounts=len(drafts),
                               total_minor=total, posted_by=actor, posted_at=clock.now()))
    session.flush()
    return InterestRun(start, through, str(rate_percent), len(drafts), total)


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
    `savings-interest:<member>:<start>:<end>`) add up to. One read of the runs, one of the
    interest postings."""
    runs = session.execute(select(InterestRunRow.period_start, InterestRunRow.period_end,
                                  InterestRunRow.accounts, InterestRunRow.total_minor)
                           .order_by(InterestRunRow.period_start)).all()
    if not runs:
        return []
    posted: dict[tuple[str, str], tuple[int, int]] = {}
    for key, amount in session.execute(
        select(entry_table.c.idempotency_key, posting_table.c.amount_minor)
        .join(posting_table, posting_table.c.entry_id == entry_table.c.id)
        .where(entry_table.c.kind == "savings_interest",
               posting_table.c.side == Side.DEBIT.value)
    ):
        period = tuple(str(key or "").rsplit(":", 2)[-2:])
        if len(period) == 2:
            entries, total = posted.get((period[0], period[1]), (0, 0))
            posted[(period[0], period[1])] = (entries + 1, total + int(amount))
    currency = require_society(session).currency
    problems: list[tuple[str | None, str]] = []
    for start, end, accounts, total in runs:
        entries, ledger = posted.get((start.isoformat(), end.isoformat()), (0, 0))
        if (accounts, total) != (entries, ledger):
            problems.append((SAVINGS_INTEREST_EXPENSE, (
                f"interest run {start.isoformat()} to {end.isoformat()}: the run says "
                f"{format_minor(total, currency)} on {accounts} account(s), the ledger "
                f"{format_minor(ledger, currency)} in {entries} entr"
                f"{'y' if entries == 1 else 'ies'}")))
    return problems
