"""Reading a loan: its row, the `Loan` value, its plan (every version, as JSON) and its
events as the replay needs them (`History`), and the replay itself, remembered.

The engine's replay is pure, so its answers are remembered keyed by everything it reads (the
plans, the events, the day, the allocation order): the same question asked again (the counter
previews a payment, then takes it, then shows her page) is answered without replaying the
loan again, and a changed loan is a different question, never a stale answer. What is
remembered is bounded by its size, not only by its count: an entry holds the loan's plan and
every event (and its answer an allocation per payment), so a count alone let the memo grow
with the loans' histories (512 entries of a daily loan of a year held some 30 MiB).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.loans import engine
from coop.loans.engine import Bucket, Payment, Plan, PlanPeriod, Switch
from coop.loans.errors import LoanNotFound, LoanStateConflict
from coop.loans.orm import EventRow, LoanRow, PlanRow
from coop.loans.products import Product, loan_terms, product_by_id
from coop.loans.schedule import InterestMethod, Terms
from coop.members import MemberRow, get_member


@dataclass(frozen=True)
class Loan:
    id: int
    member_code: str
    status: str
    principal_minor: int
    fee_minor: int
    product: Product
    terms: Terms
    purpose: str | None
    applied_on: date
    disbursed_on: date | None
    closed_on: date | None
    account_code: str | None
    outstanding_minor: int
    written_off_minor: int
    recovered_minor: int


def loan_row(session: Session, loan_id: int, *, lock: bool = False) -> LoanRow:
    query = select(LoanRow).where(LoanRow.id == loan_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar()
    if row is None:
        raise LoanNotFound.said("there is no loan {loan_id}", loan_id=loan_id, field="id")
    return row


def member_code(session: Session, row: LoanRow) -> str:
    return str(session.execute(
        select(MemberRow.code).where(MemberRow.id == row.member_id)).scalar_one())


def member_code_of(session: Session, loan_id: int) -> str:
    """The borrower's member number (404 for a loan that does not exist)."""
    return member_code(session, loan_row(session, loan_id))


def loan_of(session: Session, row: LoanRow, product: Product | None = None) -> Loan:
    product = product or product_by_id(session, row.product_id)
    return Loan(row.id, member_code(session, row), row.status, row.principal_minor,
                row.fee_minor, product, loan_terms(row.terms_json), row.purpose, row.applied_on,
                row.disbursed_on, row.closed_on, row.account_code, row.outstanding_minor,
                row.written_off_minor, row.recovered_minor)


def get_loan(session: Session, loan_id: int) -> Loan:
    return loan_of(session, loan_row(session, loan_id))


def loans_of(session: Session, member_code: str) -> list[Loan]:
    member = get_member(session, member_code)
    rows = session.scalars(select(LoanRow).where(LoanRow.member_id == member.id)
                           .order_by(LoanRow.id))
    return [loan_of(session, row) for row in rows]


# --- the plan as JSON -----------------------------------------------------------------------


def plan_json(plan: Plan) -> tuple[str, str]:
    """(periods, frozen windows) as stored in `loan_plan`."""
    periods = [[p.number, p.start_on.isoformat(), p.due_on.isoformat(), p.principal, p.interest,
                str(p.annual_rate), str(p.year_fraction), p.deferred, p.flat_basis]
               for p in plan.periods]
    frozen = [[a.isoformat(), b.isoformat(), (a, b) in plan.interest_free]
              for a, b in plan.frozen]
    return json.dumps(periods), json.dumps(frozen)


def plan_from(row: PlanRow, principal: int, flat: bool, penalty_rate: Fraction) -> Plan:
    periods = tuple(
        PlanPeriod(n, date.fromisoformat(s), date.fromisoformat(d), p, i, Fraction(r),
                   Fraction(f), bool(deferred), int(basis))
        for n, s, d, p, i, r, f, deferred, basis in json.loads(row.periods_json))
    windows = [(date.fromisoformat(a), date.fromisoformat(b), free)
               for a, b, free in json.loads(row.frozen_json)]
    return Plan(principal, flat, periods, penalty_rate,
                tuple((a, b) for a, b, _ in windows),
                tuple((a, b) for a, b, free in windows if free))


def due_dates(row: PlanRow) -> list[date]:
    """The due dates of a stored plan, in order."""
    return [date.fromisoformat(period[2]) for period in json.loads(row.periods_json)]


def frozen_windows(frozen_json: str | None) -> list[tuple[date, date]]:
    if frozen_json in (None, "[]"):
        return []
    return [(date.fromisoformat(w[0]), date.fromisoformat(w[1]))
            for w in json.loads(frozen_json or "[]")]


# --- history --------------------------------------------------------------------------------


@dataclass
class History:
    """A disbursed loan's plans and events: everything the replay needs."""

    plan: Plan
    events: list[engine.Event] = field(default_factory=list)
    order: tuple[Bucket, ...] = engine.DEFAULT_ORDER
    last_on: date | None = None
    next_seq: int = 1


def history(session: Session, row: LoanRow, product: Product | None = None) -> History:
    product = product or product_by_id(session, row.product_id)
    terms = loan_terms(row.terms_json)
    flat = terms.interest_method is InterestMethod.FLAT
    penalty = Fraction(product.penalty_rate) / 100
    plans = {p.version: plan_from(p, row.principal_minor, flat, penalty)
             for p in session.scalars(select(PlanRow).where(PlanRow.loan_id == row.id))}
    if not plans:
        raise LoanStateConflict.said("loan {loan} has not been disbursed", loan=row.id)
    result = History(plans[1], order=product.allocation_order)
    for event in session.scalars(select(EventRow).where(EventRow.loan_id == row.id)
                                 .order_by(EventRow.seq)):
        result.next_seq = event.seq + 1
        result.last_on = event.value_date
        if event.kind == "repayment":
            result.events.append(Payment(event.value_date, event.amount_minor))
        elif event.kind in ("reschedule", "moratorium"):
            result.events.append(Switch(event.value_date, plans[event.plan_version]))
    result.plan = plans[1]
    return result


def current_plan(hist: History) -> Plan:
    plans = [e.plan for e in hist.events if isinstance(e, Switch)]
    return plans[-1] if plans else hist.plan


# --- the replay, remembered -----------------------------------------------------------------

REMEMBERED_MAX = 512
"""Entries remembered at most."""
REMEMBERED_WEIGHT_MAX = 8_192
"""Plan periods and events held by all remembered entries together, at most (each about
150 bytes with its share of the answer: some 1.2 MiB at the bound). A counter's repayment
(preview, confirmation, her page) keeps three entries of its loan's periods and events each:
the bound holds several at once even for daily loans of a year."""
_remembered: OrderedDict[tuple[object, ...], tuple[object, int]] = OrderedDict()
_remembered_weight = [0]
_remembered_lock = threading.Lock()


def _weight(plan: Plan, events: Iterable[engine.Event]) -> int:
    """What an entry about `plan` and `events` holds: the periods of every plan in it and
    one for each event."""
    return len(plan.periods) + sum(
        1 + len(event.plan.periods) if isinstance(event, Switch) else 1 for event in events)


def _recall(key: tuple[object, ...]) -> object | None:
    with _remembered_lock:
        found = _remembered.get(key)
        if found is None:
            return None
        _remembered.move_to_end(key)
        return found[0]


def _keep(key: tuple[object, ...], value: object, size: int) -> None:
    """Remember `value` under `key`, forgetting the least recently used entries beyond the
    bounds; an entry heavier than the whole bound is not remembered."""
    if size > REMEMBERED_WEIGHT_MAX:
        return
    with _remembered_lock:
        previous = _remembered.pop(key, None)
        if previous is not None:
            _remembered_weight[0] -= previous[1]
        _remembered[key] = (value, size)
        _remembered_weight[0] += size
        while (len(_remembered) > REMEMBERED_MAX
               or _remembered_weight[0] > REMEMBERED_WEIGHT_MAX):
            _, (_, dropped) = _remembered.popitem(last=False)
            _remembered_weight[0] -= dropped


def remembered() -> tuple[int, int]:
    """(entries, weight) remembered now."""
    with _remembered_lock:
        return len(_remembered), _remembered_weight[0]


def forget() -> None:
    """Drop every remembered replay (tests that count replays start from nothing)."""
    with _remembered_lock:
        _remembered.clear()
        _remembered_weight[0] = 0


def position(hist: History, as_of: date) -> engine.Position:
    """`engine.position` over the loan's history, remembered."""
    key = ("position", hist.plan, tuple(hist.events), as_of, hist.order)
    found = _recall(key)
    if isinstance(found, engine.Position):
        return found
    result = engine.position(hist.plan, hist.events, as_of, hist.order)
    _keep(key, result, _weight(hist.plan, hist.events))
    return result


def settle(hist: History, payment: Payment) -> engine.Settlement:
    """`engine.settle` over the loan's history, remembered, with the positions before and
    after the payment remembered as well (the counter's page asks for them next)."""
    events = tuple(hist.events)
    key = ("settle", hist.plan, events, payment, hist.order)
    found = _recall(key)
    if isinstance(found, engine.Settlement):
        return found
    result = engine.settle(hist.plan, events, payment, hist.order)
    size = _weight(hist.plan, events) + 1
    _keep(key, result, size)
    _keep(("position", hist.plan, events, payment.on, hist.order), result.before, size - 1)
    _keep(("position", hist.plan, (*events, payment), payment.on, hist.order), result.after,
          size)
    return result


__all__ = [
    "History",
    "Loan",
    "current_plan",
    "due_dates",
    "forget",
    "frozen_windows",
    "get_loan",
    "history",
    "loan_of",
    "loan_row",
    "loans_of",
    "member_code",
    "member_code_of",
    "plan_from",
    "plan_json",
    "position",
    "remembered",
    "settle",
]
