"""Closing a fiscal year (DESIGN.md §8): one entry on the year's last day brings every income
and expense account to zero against 3900 Current year surplus (a loss stays there, debit),
then every day through the year's end is locked. The net surplus and the chain head at
closing are kept in `fiscal_year_close`.

Year-end steps run one at a time (`serialise`): each first locks the 3900 account row (they
all move it, or follow one that did) and the book row (so no posting can slip into the year
between reading its balances and locking it), then reads the state it checks, so a second
close, declaration, payment or cancellation sees the first one committed and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.dividends.calc import FiscalYear
from coop.dividends.errors import YearClosedAlready, YearNotClosed
from coop.dividends.orm import YearCloseRow
from coop.errors import InvalidInput
from coop.ledger import (
    EntryDraft,
    PostingDraft,
    close_through,
    lock_balance,
    lock_book,
    post,
    queries,
)
from coop.ledger.chart import CURRENT_YEAR_SURPLUS
from coop.ledger.model import PostedEntry, Side
from coop.ledger.orm import entry_table
from coop.society import Society, require_society


@dataclass(frozen=True)
class YearClose:
    fiscal_year: int
    start: date
    end: date
    net_surplus_minor: int
    closing_entry_id: int | None
    chain_head_seq: int
    chain_head_hash: str


def serialise(session: Session) -> None:
    """Lock 3900 and the book row: one year-end step at a time (see the module docstring)."""
    lock_balance(session, CURRENT_YEAR_SURPLUS)
    lock_book(session)  # and no entry is posted while a step reads the year's balances


def fiscal_year(society: Society, name: int) -> FiscalYear:
    return FiscalYear.of(name, society.fiscal_year_start)


def closed_row(session: Session, name: int) -> YearCloseRow | None:
    """The year's close row while the year is closed (None when never closed or reopened)."""
    row = session.get(YearCloseRow, name, populate_existing=True)
    return row if row is not None and row.status == "closed" else None


def close_year(session: Session, name: int, *, society: Society, actor: str,
               clock: Clock) -> YearClose:
    """Close fiscal year `name`: income and expense to 3900 on the year's last day, then
    lock every day through it. Refused before the year is over, twice, or out of order.
    A year reopened (coop.dividends.reopening) is closed again over its row, whose earlier
    close is kept in `fiscal_year_reopening`."""
    year = fiscal_year(society, name)
    serialise(session)
    if closed_row(session, name) is not None:
        raise YearClosedAlready.said("fiscal year {year} is closed already", year=name)
    if year.end >= clock.today():
        raise InvalidInput.said("fiscal year {year} ends on {end}; it can be closed from the "
                                "day after", year=name, end=year.end, field="fy")
    require_society(session)
    earlier = session.execute(select(func.min(entry_table.c.value_date))).scalar()
    if (earlier is not None and earlier < year.start
            and closed_row(session, name - 1) is None):
        raise YearNotClosed.said("close fiscal year {year} first: the book has entries "
                                 "before this year", year=name - 1)
    entry, net = _close_income_and_expense(session, name, year, actor=actor, clock=clock)
    close_through(session, year.end, clock=clock)
    head = queries.book(session)
    row = session.get(YearCloseRow, name) or YearCloseRow(fiscal_year=name)
    row.start_on, row.end_on, row.status = year.start, year.end, "closed"
    row.net_surplus_minor = net
    row.closing_entry_id = entry.id if entry else None
    row.chain_head_seq = head.head_seq if head else 0
    row.chain_head_hash = head.head_hash if head else ""
    row.closed_by, row.closed_at = actor, clock.now()
    session.add(row)
    session.flush()
    return _year(row)


def _close_income_and_expense(session: Session, name: int, year: FiscalYear, *, actor: str,
                              clock: Clock) -> tuple[PostedEntry | None, int]:
    """The closing entry (each income and expense account to zero, the net to 3900; none
    when no such account moved in the year) and the net surplus, negative for a loss."""
    postings: list[PostingDraft] = []
    net = 0
    for line in queries.trial_balance(session, as_of=year.end).rows:
        if line.type not in ("income", "expense"):
            continue
        balance = line.credit_minor - line.debit_minor  # income positive, expense negative
        if balance == 0:
            continue
        net += balance
        side = Side.DEBIT if balance > 0 else Side.CREDIT
        postings.append(PostingDraft(line.account, side, abs(balance)))
    if not postings:
        return None, 0
    if net:
        postings.append(PostingDraft(CURRENT_YEAR_SURPLUS,
                                     Side.CREDIT if net > 0 else Side.DEBIT, abs(net)))
    return post(session, EntryDraft(
        value_date=year.end, kind="year_close", actor=actor,
        narration=f"Fiscal year {name} closed: income and expense to current year surplus",
        postings=tuple(postings)), clock=clock), net


def _year(row: YearCloseRow) -> YearClose:
    return YearClose(row.fiscal_year, row.start_on, row.end_on, row.net_surplus_minor,
                     row.closing_entry_id, row.chain_head_seq, row.chain_head_hash)


def get_close(session: Session, name: int) -> YearClose:
    """A closed year, or YearNotClosed (also for a year reopened and not closed again)."""
    row = closed_row(session, name)
    if row is None:
        raise YearNotClosed.said("fiscal year {year} has not been closed", year=name)
    return _year(row)


def closed_years(session: Session) -> list[int]:
    """The fiscal years closed now (a reopened one only once closed again), latest first."""
    return list(session.scalars(select(YearCloseRow.fiscal_year).where(
        YearCloseRow.status == "closed").order_by(YearCloseRow.fiscal_year.desc())))
