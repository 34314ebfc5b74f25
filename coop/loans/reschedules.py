"""Reschedules (board-approved: more installments, a new rate, a payment holiday) and
moratoria (a board resolution for a crisis, on every active loan). Each draws a new plan
that takes over on a day; the loan's history keeps every plan (DESIGN.md §7). The board's
vote itself is `votes.cast`; this module applies an approved request."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.errors import InvalidInput, NotFound
from coop.ledger.model import check_text
from coop.loans import engine, plans, records, votes
from coop.loans.engine import Plan, Switch
from coop.loans.errors import LoanStateConflict
from coop.loans.orm import NOTE_LENGTH_MAX, LoanRow, MoratoriumRow, PlanRow, RescheduleRow
from coop.loans.products import loan_terms
from coop.loans.records import History, current_plan, history, loan_row
from coop.loans.schedule import TermsInvalid
from coop.loans.servicing import record_event
from coop.society import Society


def request_reschedule(
    session: Session, loan_id: int, *, extra_installments: int, annual_rate: Decimal | None,
    holiday_until: date | None, reason: str, actor: str, clock: Clock,
) -> RescheduleRow:
    row = loan_row(session, loan_id, lock=True)
    if row.status != "active":
        raise LoanStateConflict.said(
            "loan {loan_id} is {status}; only an active loan is rescheduled",
            loan_id=loan_id, status=row.status)
    if not 0 <= extra_installments <= 120:
        raise InvalidInput("extra_installments is between 0 and 120", field="extra_installments")
    if annual_rate is not None and not Decimal(0) <= annual_rate <= Decimal(100):
        raise InvalidInput("annual_rate is between 0 and 100", field="annual_rate")
    if holiday_until is not None and holiday_until <= clock.today():
        raise InvalidInput("holiday_until is after the business date", field="holiday_until")
    if not extra_installments and annual_rate is None and holiday_until is None:
        raise InvalidInput("a reschedule changes something: extra_installments, annual_rate "
                           "or holiday_until", field="extra_installments")
    text = check_text(reason, field="reason", length_max=NOTE_LENGTH_MAX)
    hist = history(session, row)
    _replanned(row, hist, today=clock.today(), extra=extra_installments, rate=annual_rate,
               holiday_until=holiday_until)  # the terms make a schedule: checked now
    request = RescheduleRow(
        loan_id=row.id, status="pending", extra_installments=extra_installments,
        annual_rate=str(annual_rate) if annual_rate is not None else None,
        holiday_until=holiday_until, reason=text, requested_by=actor,
        requested_on=clock.today(), decided_on=None, plan_version=None)
    session.add(request)
    session.flush()
    return request


def _replanned(row: LoanRow, hist: History, *, today: date, extra: int, rate: Decimal | None,
               holiday_until: date | None, holiday_interest: bool = True,
               frozen: tuple[date, date] | None = None, cut: date | None = None) -> Plan:
    terms = loan_terms(row.terms_json)
    paid = records.position(hist, max(today, hist.last_on or today)).paid_towards_plan
    return plans.replan(current_plan(hist), terms, cut=cut or today,
                         extra_installments=extra, annual_rate=rate,
                         holiday_until=holiday_until, holiday_interest=holiday_interest,
                         frozen=frozen, interest_free=not holiday_interest,
                         outstanding=row.outstanding_minor, paid=paid)


def _switch(session: Session, row: LoanRow, hist: History, plan: Plan, *, kind: str, on: date,
            actor: str, clock: Clock) -> None:
    row.plan_version += 1
    periods, frozen = records.plan_json(plan)
    session.add(PlanRow(loan_id=row.id, version=row.plan_version, effective_on=on,
                        periods_json=periods, frozen_json=frozen))
    events = [*hist.events, Switch(on, plan)]
    position = engine.position(hist.plan, events, on, hist.order)
    record_event(session, row, hist, kind=kind, on=on, actor=actor, clock=clock,
                 position=position)


def vote_reschedule(
    session: Session, loan_id: int, reschedule_id: int, *, voter_code: str | None,
    voter_username: str, decision: str, note: str | None, society: Society,
    actor: str, clock: Clock,
) -> votes.Tally:
    """A board vote on a reschedule request; the approving vote applies it at once."""
    row = loan_row(session, loan_id, lock=True)
    request = session.get(RescheduleRow, reschedule_id)
    if request is None or request.loan_id != loan_id:
        raise NotFound.said(
            "loan {loan_id} has no reschedule request {reschedule_id}",
            loan_id=loan_id, reschedule_id=reschedule_id)
    if request.status != "pending":
        raise LoanStateConflict.said(
            "reschedule {reschedule_id} is {status}",
            reschedule_id=reschedule_id, status=request.status)
    if row.status != "active":
        raise LoanStateConflict.said(
            "loan {loan_id} is {status}",
            loan_id=loan_id, status=row.status)
    tally = votes.cast(session, row=row, reschedule_id=reschedule_id, voter_code=voter_code,
                       voter_username=voter_username, decision=decision, note=note,
                       society=society, clock=clock)
    if tally.status == "pending":
        return tally
    request.status = tally.status
    request.decided_on = clock.today()
    if tally.status == "approved":
        _apply(session, row, request, actor=actor, clock=clock)
    return tally


def _apply(session: Session, row: LoanRow, request: RescheduleRow, *, actor: str,
           clock: Clock) -> None:
    """The approved request replans the loan from today (or its last movement, if later)."""
    today = clock.today()
    on = max(today, row.last_event_on or today)
    hist = history(session, row)
    plan = _replanned(row, hist, today=on, extra=request.extra_installments,
                      rate=Decimal(request.annual_rate) if request.annual_rate else None,
                      holiday_until=request.holiday_until)
    _switch(session, row, hist, plan, kind="reschedule", on=on, actor=actor, clock=clock)
    request.plan_version = row.plan_version


def declare_moratorium(
    session: Session, *, from_on: date, to_on: date, accrue_interest: bool, resolution: str,
    actor: str, clock: Clock,
) -> MoratoriumRow:
    """A board resolution for a crisis: on every active loan, installments falling due in
    [from_on, to_on] are pushed past it (the term grows by as many periods), interest accrues
    or not as resolved, and arrears do not age during the window."""
    if to_on < from_on or (to_on - from_on).days > 366:
        raise InvalidInput("a moratorium runs from from_on to to_on, at most a year",
                           field="to_on")
    today = clock.today()
    if to_on < today:
        raise InvalidInput("a moratorium cannot end before the business date", field="to_on")
    text = check_text(resolution, field="resolution", length_max=NOTE_LENGTH_MAX)
    affected = 0
    for row in session.scalars(select(LoanRow).where(LoanRow.status == "active")
                               .order_by(LoanRow.id).with_for_update()):
        hist = history(session, row)
        # The new plan takes over at the window's start (today if that is still to come), or
        # after the loan's last movement if she paid inside the window already.
        on = max(min(from_on, today), row.last_event_on or today)
        try:
            plan = _replanned(row, hist, today=on, extra=0, rate=None,
                              holiday_until=to_on + timedelta(days=1),
                              holiday_interest=accrue_interest, frozen=(from_on, to_on),
                              cut=min(on, from_on - timedelta(days=1)))
        except TermsInvalid:  # a schedule that cannot be redrawn still stops ageing
            plan = plans.freeze(current_plan(hist), (from_on, to_on),
                                 interest_free=not accrue_interest)
        _switch(session, row, hist, plan, kind="moratorium", on=on, actor=actor, clock=clock)
        affected += 1
    moratorium = MoratoriumRow(from_on=from_on, to_on=to_on, accrue_interest=accrue_interest,
                               resolution=text, declared_by=actor, declared_at=clock.now(),
                               loans_affected=affected)
    session.add(moratorium)
    session.flush()
    return moratorium


__all__ = ["declare_moratorium", "request_reschedule", "vote_reschedule"]
