"""Money moving on a loan (DESIGN.md §7): disbursement, repayment (and its preview), the
recovery of a written-off loan, and the write-off. One journal entry per movement:

* disbursement: Dr 1100:<member>-L<id> principal; Cr cash or her savings (principal - fee),
  Cr 4100 the fee;
* repayment: Dr cash or her savings; Cr her loan account (principal), Cr 4000 (interest),
  Cr 4100 (penalty and fees): interest is income only when paid (cash basis);
* write-off: Dr 5200 Loan losses, Cr her loan account; recovery: Dr cash, Cr 4300.

A loan's position is replayed from its plan and events whenever money moves, under a lock on
the loan row, so two clerks taking payments on one loan at once are serialised and the
allocation stored in the ledger is always the one the replay gives. A repayment and its
preview share one step (`_settle`): the same checks, the same replay, the same refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop import savings
from coop.clock import Clock
from coop.errors import InvalidInput
from coop.ledger import EntryDraft, credit, debit, lock_balance, open_account, post, queries
from coop.ledger.chart import (
    FEES_AND_PENALTIES,
    LOAN_INTEREST_INCOME,
    LOAN_LOSSES,
    LOAN_RECOVERIES,
    LOANS,
)
from coop.ledger.model import (
    IdempotencyKeyReused,
    InsufficientFunds,
    PostedEntry,
    PostingDraft,
    check_text,
)
from coop.loans import engine, plans, records
from coop.loans.engine import Allocation, Payment, Plan
from coop.loans.errors import LoanStateConflict, PaymentAbovePayoff
from coop.loans.guarantors import rebalance_holds, release_holds
from coop.loans.orm import NOTE_LENGTH_MAX, EventRow, LoanRow, PlanRow
from coop.loans.products import loan_terms, product_by_id, terms_json
from coop.loans.records import History, Loan, history, loan_of, loan_row, member_code
from coop.loans.schedule import InterestMethod, build
from coop.members import get_member, savings_account
from coop.money import Amount
from coop.society import book_currency, check_counter_request
from coop.tills import cash_account

NOTHING = Allocation()


def record_event(session: Session, row: LoanRow, hist: History | None, *, kind: str, on: date,
                 amount: int = 0, allocation: Allocation = NOTHING,
                 entry: PostedEntry | None = None, actor: str, clock: Clock,
                 position: engine.Position | None = None, note: str | None = None) -> EventRow:
    """What happened to the loan, with where it left it (the loan row follows)."""
    first_unpaid = position.first_unpaid_due if position else row.first_unpaid_due
    event = EventRow(
        loan_id=row.id, seq=hist.next_seq if hist else _next_seq(session, row.id), kind=kind,
        value_date=on,
        amount_minor=amount, principal_minor=allocation.principal,
        interest_minor=allocation.interest, penalty_minor=allocation.penalty,
        fees_minor=allocation.fees, entry_id=entry.id if entry else None,
        plan_version=row.plan_version, outstanding_after=row.outstanding_minor,
        first_unpaid_due_after=first_unpaid, status_after=row.status, note=note, actor=actor,
        created_at=clock.now())
    session.add(event)
    row.first_unpaid_due = first_unpaid
    row.last_event_on = on
    session.flush()
    return event


def _next_seq(session: Session, loan_id: int) -> int:
    """After the events already kept (a disbursement undone by a correction stays)."""
    last = session.execute(select(func.max(EventRow.seq)).where(
        EventRow.loan_id == loan_id)).scalar()
    return int(last or 0) + 1


def check_day(on: date, row: LoanRow, clock: Clock) -> None:
    if row.last_event_on is not None and on < row.last_event_on:
        raise InvalidInput.said(
            "value_date is before the loan's last movement on {last_event_on}",
            last_event_on=row.last_event_on, field="value_date")
    if on > clock.today():
        raise InvalidInput("value_date is after the business date", field="value_date")


def disburse(session: Session, loan_id: int, *, to: Literal["cash", "savings"], on: date,
             actor: str, clock: Clock) -> tuple[PostedEntry, Loan]:
    row = loan_row(session, loan_id, lock=True)
    if row.status != "approved":
        raise LoanStateConflict.said(
            "loan {loan_id} is {status}; only an approved loan is disbursed",
            loan_id=loan_id, status=row.status)
    if on < row.applied_on:
        raise InvalidInput("a loan is disbursed on or after its application", field="value_date")
    check_day(on, row, clock)
    code = member_code(session, row)
    product = product_by_id(session, row.product_id)
    terms = replace(loan_terms(row.terms_json), disbursed_on=on)
    schedule = build(terms)
    account = f"{LOANS}:{code}-L{row.id}"
    if queries.get_account(session, account) is None:  # kept when a payout was undone
        open_account(session, code=account, name=f"Loan {row.id} {code}", type="asset",
                     parent=LOANS, owner=code, clock=clock)
    paid_to = cash_account(session, actor) if to == "cash" else savings_account(code)
    postings: list[PostingDraft] = [debit(account, row.principal_minor),
                                    credit(paid_to, row.principal_minor - row.fee_minor)]
    if row.fee_minor:
        postings.append(credit(FEES_AND_PENALTIES, row.fee_minor))
    entry = post(session, EntryDraft(
        value_date=on, kind="loan_disbursement", actor=actor,
        narration=f"Loan {row.id} disbursed{' to savings' if to == 'savings' else ''}",
        postings=tuple(postings)), clock=clock)
    plan = Plan(row.principal_minor, terms.interest_method is InterestMethod.FLAT,
                plans.plan_of(schedule), Fraction(product.penalty_rate) / 100)
    periods, frozen = records.plan_json(plan)
    session.add(PlanRow(loan_id=row.id, version=1, effective_on=on, periods_json=periods,
                        frozen_json=frozen))
    row.status = "active"
    row.terms_json = terms_json(terms)
    row.disbursed_on = on
    row.account_code = account
    row.plan_version = 1
    row.outstanding_minor = row.principal_minor
    position = engine.position(plan, [], on)
    record_event(session, row, None, kind="disbursement", on=on, amount=row.principal_minor,
                 entry=entry, actor=actor, clock=clock, position=position)
    return entry, loan_of(session, row, product)


@dataclass(frozen=True)
class Repayment:
    entry: PostedEntry
    allocation: Allocation
    position: engine.Position
    status: str


def _settle(session: Session, row: LoanRow, *, amount_minor: int,
            on: date) -> tuple[History, engine.Settlement]:
    """The one allocate-or-refuse step of a repayment and its preview."""
    if row.status != "active":
        raise LoanStateConflict.said(
            "loan {loan} is {status}; repayments are taken on an active loan",
            loan=row.id, status=row.status)
    if amount_minor <= 0:
        raise InvalidInput("the amount is more than zero", field="amount")
    hist = history(session, row)
    try:
        return hist, records.settle(hist, Payment(on, amount_minor))
    except engine.PaymentTooLarge as error:
        raise PaymentAbovePayoff.said(
            "the payoff amount on {on} is {payoff}",
            on=on, payoff=Amount(error.payoff, book_currency(session)), field="amount") from None


def repay(session: Session, loan_id: int, *, amount_minor: int,
          source: Literal["cash", "savings"], on: date, actor: str, clock: Clock,
          key: str | None = None, confirmed: bool | None = None) -> Repayment:
    """A payment of any amount on any day, allocated in the product's order; the payment
    that clears the loan closes it. More than the payoff is refused (nothing is posted).
    With a `key`, exactly once: a retry returns the first payment as it was allocated.
    A counter request passes `confirmed` and meets the counter limits (None: not limited)."""
    row = loan_row(session, loan_id, lock=True)
    done = queries.replay_of(session, key, kind="loan_repayment", amount_minor=amount_minor)
    if done is not None:
        return _repayment_again(session, row, done)
    if row.status == "written_off":
        check_counter_request(session, amount_minor, confirmed=confirmed)
        return _recover(session, row, amount_minor=amount_minor, source=source, on=on,
                        actor=actor, clock=clock)
    if row.status == "active" and amount_minor > 0:
        check_day(on, row, clock)
    hist, settled = _settle(session, row, amount_minor=amount_minor, on=on)
    check_counter_request(session, amount_minor, confirmed=confirmed)  # after the payoff's
    allocation, position = settled.allocation, settled.after
    paid_from = _paid_from(session, member_code(session, row), source, amount_minor, actor)
    postings: list[PostingDraft] = [debit(paid_from, amount_minor)]
    if allocation.principal:
        postings.append(credit(row.account_code or "", allocation.principal))
    if allocation.interest:
        postings.append(credit(LOAN_INTEREST_INCOME, allocation.interest))
    if allocation.penalty + allocation.fees:
        postings.append(credit(FEES_AND_PENALTIES, allocation.penalty + allocation.fees))
    entry = post(session, EntryDraft(
        value_date=on, kind="loan_repayment", actor=actor, idempotency_key=key,
        narration=f"Loan {row.id} repayment{' from savings' if source == 'savings' else ''}",
        postings=tuple(postings)), clock=clock)
    row.outstanding_minor = position.outstanding_principal
    if position.closed:
        row.status = "closed"
        row.closed_on = on
    record_event(session, row, hist, kind="repayment", on=on, amount=amount_minor,
                 allocation=allocation, entry=entry, actor=actor, clock=clock,
                 position=position)
    rebalance_holds(session, row, clock)
    return Repayment(entry, allocation, position, row.status)


def preview_repayment(session: Session, loan_id: int, *, amount_minor: int,
                      on: date) -> tuple[Allocation, engine.Position]:
    """How a payment would be allocated (penalty, fees, interest, principal) and where it would
    leave the loan, without taking it: what the clerk shows before she confirms."""
    _, settled = _settle(session, loan_row(session, loan_id), amount_minor=amount_minor, on=on)
    return settled.allocation, settled.after


def _repayment_again(session: Session, row: LoanRow, entry: PostedEntry) -> Repayment:
    event = session.scalars(select(EventRow).where(EventRow.loan_id == row.id,
                                                   EventRow.entry_id == entry.id)).first()
    if event is None:
        raise IdempotencyKeyReused("this idempotency key was used for another loan",
                                   field="idempotency_key")
    hist = history(session, row)  # where the loan stands now, after the payment
    position = records.position(hist, hist.last_on or event.value_date)
    allocation = Allocation(penalty=event.penalty_minor, fees=event.fees_minor,
                            interest=event.interest_minor, principal=event.principal_minor)
    return Repayment(entry, allocation, position, row.status)


def _paid_from(session: Session, code: str, source: str, amount: int, actor: str) -> str:
    if source == "cash":
        return cash_account(session, actor)
    if source != "savings":
        raise InvalidInput("source is 'cash' or 'savings'", field="source")
    account = savings_account(code)
    member = get_member(session, code)
    available = lock_balance(session, account) - savings.held(session, member.id)
    if amount > available:
        raise InsufficientFunds.said(
            "the available savings are {available}",
            available=Amount(available, book_currency(session)), field="amount")
    return account


def _recover(session: Session, row: LoanRow, *, amount_minor: int, source: str, on: date,
             actor: str, clock: Clock) -> Repayment:
    """Money received on a written-off loan: income (4300), up to the amount written off."""
    if amount_minor <= 0:
        raise InvalidInput("the amount is more than zero", field="amount")
    check_day(on, row, clock)
    left = row.written_off_minor - row.recovered_minor
    if amount_minor > left:
        raise PaymentAbovePayoff.said(
            "{left} of the written-off amount is left to recover",
            left=Amount(left, book_currency(session)), field="amount")
    paid_from = _paid_from(session, member_code(session, row), source, amount_minor, actor)
    entry = post(session, EntryDraft(
        value_date=on, kind="loan_recovery", actor=actor,
        narration=f"Loan {row.id} recovery after write-off",
        postings=(debit(paid_from, amount_minor), credit(LOAN_RECOVERIES, amount_minor))),
        clock=clock)
    row.recovered_minor += amount_minor
    hist = history(session, row)
    record_event(session, row, hist, kind="recovery", on=on, amount=amount_minor,
                 allocation=Allocation(principal=amount_minor), entry=entry, actor=actor,
                 clock=clock)
    empty = engine.Position(on, 0, 0, 0, 0, 0, 0, None, 0, ())
    return Repayment(entry, Allocation(principal=amount_minor), empty, row.status)


def write_off(session: Session, loan_id: int, *, on: date, reason: str, actor: str,
              clock: Clock) -> PostedEntry | None:
    """The board writes off what is left of the principal: Dr 5200 Loan losses. Unpaid
    interest was never income (cash basis), so there is nothing to reverse."""
    row = loan_row(session, loan_id, lock=True)
    if row.status != "active":
        raise LoanStateConflict.said(
            "loan {loan_id} is {status}; only an active loan is written off",
            loan_id=loan_id, status=row.status)
    check_day(on, row, clock)
    text = check_text(reason, field="reason", length_max=NOTE_LENGTH_MAX)
    hist = history(session, row)
    amount = row.outstanding_minor
    entry = post(session, EntryDraft(
        value_date=on, kind="loan_write_off", actor=actor,
        narration=f"Loan {row.id} written off",
        postings=(debit(LOAN_LOSSES, amount), credit(row.account_code or "", amount))),
        clock=clock) if amount else None  # only unpaid interest left: never income, no entry
    row.status = "written_off"
    row.closed_on = on
    row.written_off_minor = amount
    row.outstanding_minor = 0
    record_event(session, row, hist, kind="write_off", on=on, amount=amount,
                 allocation=Allocation(principal=amount), entry=entry, actor=actor, clock=clock,
                 note=text)
    row.first_unpaid_due = None
    release_holds(session, row, clock)
    return entry


__all__ = ["NOTHING", "Repayment", "check_day", "disburse", "preview_repayment",
           "record_event", "repay", "write_off"]
