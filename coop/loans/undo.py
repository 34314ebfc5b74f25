"""How a loan's entries are undone, so that the loan register stays equal to the ledger
(`coop.corrections` calls these for a correction of a loan entry):

* a disbursement, only while nothing else has happened to the loan: the entry is reversed,
  the plan is dropped and the loan is `approved` again, to be paid out afresh;
* a repayment: the entry is reversed and the loan replayed without it. Every later payment
  is allocated again (less of it may now go to principal, more to interest or penalty), and
  where its allocation changes an entry on that payment's own day moves the difference
  between the loan account and the income accounts; the events follow the replay, a loan
  the payment had closed is active again and its guarantors' holds grow back;
* a recovery on a written-off loan: reversed, and the amount recovered goes down.

The undone event stays in the loan's history under a kind of its own (`repayment_undone`,
...), with nothing allocated, so every report that sums allocations or reads the position
after an event agrees with the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.ledger import EntryDraft, PostedEntry, PostingDraft, Side, post, reverse
from coop.ledger.chart import FEES_AND_PENALTIES, LOAN_INTEREST_INCOME
from coop.loans import engine, records
from coop.loans.engine import Allocation, Payment
from coop.loans.errors import LoanStateConflict
from coop.loans.guarantors import restore_holds
from coop.loans.orm import EventRow, LoanRow, PlanRow
from coop.loans.records import history, loan_row

UNDONE = {"disbursement": "disbursal_undone", "repayment": "repayment_undone",
          "recovery": "recovery_undone"}
"""The kind an undone event keeps (16 characters at most)."""


def _event(session: Session, entry_id: int, kind: str) -> EventRow:
    event = session.scalars(select(EventRow).where(EventRow.entry_id == entry_id,
                                                   EventRow.kind == kind)).first()
    if event is None:
        raise LoanStateConflict.said(
            "entry {entry_id} is not a {kind} on any loan's record; correct it with a manual "
            "entry",
            entry_id=entry_id, kind=kind)
    return event


def _events(session: Session, loan_id: int) -> list[EventRow]:
    return list(session.scalars(select(EventRow).where(EventRow.loan_id == loan_id)
                                .order_by(EventRow.seq)))


def undo_disbursement(session: Session, entry: PostedEntry, *, reason: str, narration: str,
                      actor: str, clock: Clock,
    move: Mapping[str, str] | None = None) -> PostedEntry:
    event = _event(session, entry.id, "disbursement")
    row = loan_row(session, event.loan_id, lock=True)
    since = [e for e in _events(session, row.id) if e.seq > event.seq]
    if since or row.status != "active":
        raise LoanStateConflict.said(
            "loan {loan} has had {what} since it was paid out: a disbursement is undone only "
            "while nothing has been repaid; undo the repayments first",
            loan=row.id, what=since[0].kind if since else row.status)
    reversal = reverse(session, entry.id, reason=reason, narration=narration, actor=actor,
                       clock=clock, move=move)
    session.execute(delete(PlanRow).where(PlanRow.loan_id == row.id))
    event.kind = UNDONE["disbursement"]
    event.status_after = "approved"
    event.outstanding_after = 0
    event.first_unpaid_due_after = None
    row.status = "approved"
    row.disbursed_on = None
    row.account_code = None  # the account stays in the chart, at zero, for the next payout
    row.plan_version = 0
    row.outstanding_minor = 0
    row.first_unpaid_due = None
    row.last_event_on = None
    session.flush()
    return reversal


def undo_recovery(session: Session, entry: PostedEntry, *, reason: str, narration: str,
                  actor: str, clock: Clock,
    move: Mapping[str, str] | None = None) -> PostedEntry:
    event = _event(session, entry.id, "recovery")
    row = loan_row(session, event.loan_id, lock=True)
    reversal = reverse(session, entry.id, reason=reason, narration=narration, actor=actor,
                       clock=clock, move=move)
    row.recovered_minor -= event.amount_minor
    event.kind = UNDONE["recovery"]
    event.principal_minor = 0
    session.flush()
    return reversal


def undo_repayment(session: Session, entry: PostedEntry, *, reason: str, narration: str,
                   actor: str, clock: Clock,
    move: Mapping[str, str] | None = None) -> PostedEntry:
    event = _event(session, entry.id, "repayment")
    row = loan_row(session, event.loan_id, lock=True)
    events = _events(session, row.id)
    since = [e for e in events if e.seq > event.seq]
    if row.status == "written_off":
        raise LoanStateConflict.said(
            "loan {loan} was written off after this repayment: undo the write-off first",
            loan=row.id)
    changed = next((e for e in since if e.kind in ("reschedule", "moratorium")), None)
    if changed is not None:
        raise LoanStateConflict.said(
            "loan {loan} was rescheduled on {value_date} after this repayment; its new plan "
            "rests on the payment: correct it with a manual entry approved by the board",
            loan=row.id, value_date=changed.value_date)
    reversal = reverse(session, entry.id, reason=reason, narration=narration, actor=actor,
                       clock=clock, move=move)
    before = next((e for e in reversed(events) if e.seq < event.seq), None)
    event.kind = UNDONE["repayment"]
    event.principal_minor = event.interest_minor = event.penalty_minor = event.fees_minor = 0
    if before is not None:
        event.outstanding_after = before.outstanding_after
        event.first_unpaid_due_after = before.first_unpaid_due_after
        event.status_after = before.status_after
    session.flush()
    _reallocate(session, row, after_seq=event.seq, actor=actor, clock=clock)
    restore_holds(session, row, clock)
    return reversal


def _reallocate(session: Session, row: LoanRow, *, after_seq: int, actor: str,
                clock: Clock) -> None:
    """Replay the loan without the undone payment and bring every later payment's allocation,
    its ledger entry, its event and the loan row in line with the replay."""
    hist = history(session, row)  # the undone payment is no longer among its events
    paid = [e for e in _events(session, row.id) if e.kind == "repayment"]
    prefix: list[engine.Event] = []
    number = 0
    for item in hist.events:
        if isinstance(item, Payment):
            stored = paid[number]
            number += 1
            if stored.seq > after_seq:
                try:
                    settled = engine.settle(hist.plan, tuple(prefix), item, hist.order)
                except engine.PaymentTooLarge:
                    raise LoanStateConflict.said(
                        "loan {loan}: a later payment would no longer fit the loan; correct it "
                        "by hand",
                        loan=row.id) from None
                _post_difference(session, row, stored, settled.allocation, actor=actor,
                                 clock=clock)
                stored.outstanding_after = settled.after.outstanding_principal
                stored.first_unpaid_due_after = settled.after.first_unpaid_due
                stored.status_after = "closed" if settled.after.closed else "active"
        prefix.append(item)
    now = records.position(hist, hist.last_on or date.min)
    row.outstanding_minor = now.outstanding_principal
    row.first_unpaid_due = now.first_unpaid_due
    if now.closed:
        row.status = "closed"
    else:
        row.status, row.closed_on = "active", None
    session.flush()


def _post_difference(session: Session, row: LoanRow, stored: EventRow, new: Allocation, *,
                     actor: str, clock: Clock) -> None:
    """One entry on the payment's own day moving what the new allocation changes; the
    event then carries the new allocation."""
    moves = [(row.account_code or "", new.principal - stored.principal_minor),
             (LOAN_INTEREST_INCOME, new.interest - stored.interest_minor),
             (FEES_AND_PENALTIES, (new.penalty + new.fees)
              - (stored.penalty_minor + stored.fees_minor))]
    postings = tuple(PostingDraft(account, Side.CREDIT if delta > 0 else Side.DEBIT,
                                  abs(delta)) for account, delta in moves if delta)
    if postings:
        post(session, EntryDraft(
            value_date=stored.value_date, kind="loan_reallocation", actor=actor,
            narration=f"Loan {row.id} repayment of {stored.value_date.isoformat()} "
                      "allocated again after a correction",
            postings=postings), clock=clock)
    stored.principal_minor, stored.interest_minor = new.principal, new.interest
    stored.penalty_minor, stored.fees_minor = new.penalty, new.fees


__all__ = ["UNDONE", "undo_disbursement", "undo_recovery", "undo_repayment"]
