"""Reopening a closed fiscal year (the admin): the one way a year close is undone.

`reopen_year` runs as a year-end step (`serialise`: 3900 and the book row locked, then the
state read) and:

1. refuses (409) while the following year is closed ("reopen {fy+1} first"), or while a
   dividend for the year is declared or paid (cancel it first: a paid one's payment is
   reversed by POST /dividends/{fy}/payment/reversal, a declared one cancelled by POST
   /dividends/{fy}/cancellation);
2. moves the ledger's `closed_through` back to the previous year's end (None when that year
   is not closed), which only ever moves it back (`coop.ledger.reopen_through`);
3. then reverses the closing entry on its own date, the year's last day, now open;
4. keeps the close it undid in `fiscal_year_reopening` and marks the year `reopened`.

The year can then be closed again by `close_year`; with nothing posted in between, the same
net surplus comes out (the closing entry and its reversal net to nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.dividends.errors import DividendStateConflict, YearNotClosed
from coop.dividends.orm import DeclarationRow, YearReopeningRow
from coop.dividends.year_end import closed_row, fiscal_year, serialise
from coop.errors import Conflict
from coop.ledger import reopen_through, reverse
from coop.society import Society


@dataclass(frozen=True)
class YearReopening:
    fiscal_year: int
    status: str  # "open"
    reversal_entry_id: int | None  # None when the close posted no entry (a nil year)


class LaterYearClosed(Conflict):
    code = "later_year_closed"
    title = "The following fiscal year is closed"


def reopen_year(session: Session, name: int, *, society: Society, actor: str,
                clock: Clock) -> YearReopening:
    """Reopen closed fiscal year `name` (see the module docstring)."""
    serialise(session)
    row = closed_row(session, name)
    if row is None:
        raise YearNotClosed.said("fiscal year {year} is not closed", year=name)
    if closed_row(session, name + 1) is not None:
        raise LaterYearClosed.said("fiscal year {later} is closed: reopen {later} first",
                                   later=name + 1)
    live = session.execute(select(DeclarationRow.status).where(
        DeclarationRow.fiscal_year == name,
        DeclarationRow.status.not_in(("cancelled", "rejected")))).scalar()
    if live == "paid":
        raise DividendStateConflict.said(  # POST /dividends/{fy}/payment/reversal, then cancel
            "the dividend for {year} is paid: reverse its payment and cancel it first",
            year=name)
    if live is not None:
        raise DividendStateConflict.said(  # POST /dividends/{fy}/cancellation
            "the dividend for {year} is declared or waiting for the board: cancel it first",
            year=name)
    year = fiscal_year(society, name)
    before = closed_row(session, name - 1)
    reopen_through(session, year.start - timedelta(days=1) if before else None, clock=clock)
    reversal = reverse(session, row.closing_entry_id, reason=f"fiscal year {name} reopened",
                       actor=actor, clock=clock) if row.closing_entry_id else None
    session.add(YearReopeningRow(
        fiscal_year=name, net_surplus_minor=row.net_surplus_minor,
        closing_entry_id=row.closing_entry_id,
        reversal_entry_id=reversal.id if reversal else None, closed_by=row.closed_by,
        closed_at=row.closed_at, reopened_by=actor, reopened_at=clock.now()))
    row.status = "reopened"
    session.flush()
    return YearReopening(name, "open", reversal.id if reversal else None)
