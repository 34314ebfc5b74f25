"""Undoing a write-off (the board, as for the write-off itself): the one way a
`loan_write_off` entry is undone.

`reverse_write_off` reverses the write-off entry on its own date (Dr the loan account, Cr
5200 Loan losses), returns the loan to `active` with its outstanding principal back, records
a `write_off_undo` event (the board's reason is kept on the event, never in the ledger's
narration, which is printed and exported) and puts the guarantors' holds back as the
guarantee rule says: each guarantee pro rata with the outstanding principal, rounded up (as
`guarantors.rebalance_holds` shrinks them).

Refused (409) once anything has been recovered on the written-off loan (the recovery is
income that the loan's replay knows nothing of), when the write-off's day is in a closed
period (reopen the year first), or when a guarantor no longer has the savings for her hold
(naming her number and the figures).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop import savings
from coop.clock import Clock
from coop.errors import Conflict
from coop.ledger import lock_balance, queries, reverse
from coop.ledger.model import PostedEntry, check_text
from coop.loans import records
from coop.loans.errors import LoanStateConflict
from coop.loans.orm import NOTE_LENGTH_MAX, EventRow, GuarantorRow, LoanRow
from coop.loans.records import Loan, history, loan_of, loan_row
from coop.loans.servicing import record_event
from coop.members import MemberRow, savings_account
from coop.money import Amount
from coop.society import book_currency

EVENT_KIND = "write_off_undo"


def reverse_write_off(session: Session, loan_id: int, *, reason: str, actor: str,
                      clock: Clock) -> tuple[PostedEntry | None, Loan]:
    """Undo loan `loan_id`'s write-off (see the module docstring). Returns the reversal
    entry (None when the write-off posted nothing) and the loan as it now stands."""
    row = loan_row(session, loan_id, lock=True)
    if row.status != "written_off":
        raise LoanStateConflict.said(
            "loan {loan_id} is {status}; only a written-off loan's write-off is undone",
            loan_id=loan_id, status=row.status)
    if row.recovered_minor:
        raise Conflict.said(
            "{recovered} has been recovered on loan {loan_id} since it was written off: the "
            "write-off stands",
            recovered=Amount(row.recovered_minor, book_currency(session)), loan_id=loan_id)
    text = check_text(reason, field="reason", length_max=NOTE_LENGTH_MAX)
    event = session.execute(select(EventRow).where(
        EventRow.loan_id == row.id, EventRow.kind == "write_off")
        .order_by(EventRow.seq.desc())).scalar()
    if event is None:
        raise LoanStateConflict.said("loan {loan_id} has no write-off on record", loan_id=loan_id)
    book = queries.book(session)
    if book is not None and book.closed_through and event.value_date <= book.closed_through:
        raise Conflict.said(
            "loan {loan_id} was written off on {value_date}, in a closed period (closed through "
            "{closed_through}): reopen the year first",
            loan_id=loan_id, value_date=event.value_date, closed_through=book.closed_through)
    hist = history(session, row)
    entry = reverse(session, event.entry_id, reason=f"loan {row.id} write-off undone",
                    actor=actor, clock=clock) if event.entry_id else None
    row.status = "active"
    row.outstanding_minor = row.written_off_minor
    row.written_off_minor = 0
    row.closed_on = None
    position = records.position(hist, event.value_date)
    record_event(session, row, hist, kind=EVENT_KIND, on=event.value_date,
                 amount=row.outstanding_minor, entry=entry, actor=actor, clock=clock,
                 position=position, note=text)
    _hold_again(session, row, actor=actor, clock=clock)
    return entry, loan_of(session, row)


def _hold_again(session: Session, row: LoanRow, *, actor: str, clock: Clock) -> None:
    """Each guarantor's hold placed again at her guarantee's share of what is outstanding."""
    guarantees = session.execute(
        select(GuarantorRow, MemberRow.code)
        .join(MemberRow, MemberRow.id == GuarantorRow.member_id)
        .where(GuarantorRow.loan_id == row.id).order_by(MemberRow.code)).all()
    for guarantee, code in guarantees:
        still = -(-guarantee.amount_minor * row.outstanding_minor // row.principal_minor)
        if still <= 0:
            continue
        available = (lock_balance(session, savings_account(code))
                     - savings.held(session, guarantee.member_id))
        if still > available:
            raise Conflict.said(
                "guarantor {code} has {available} available; her guarantee of loan {loan} needs "
                "{still} on hold again",
                code=code, available=Amount(available, book_currency(session)), loan=row.id,
                still=Amount(still, book_currency(session)))
        hold = savings.place_hold(session, code, amount_minor=still,
                                  reason=f"guarantee for loan {row.id}", actor=actor,
                                  clock=clock)
        guarantee.hold_id = hold.id
    session.flush()


__all__ = ["EVENT_KIND", "reverse_write_off"]
