"""Reading the loans: a loan as it stands (`standing`), the portfolio by days past due
(ageing buckets 1-30, 31-90, 91-180, 181-365, >365; PAR30), what waits for the board, loans to
board members, the counter's call list, and every loan reconciled against the journal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop import board
from coop.errors import InvalidInput
from coop.ledger import queries
from coop.loans import engine, records, votes
from coop.loans.orm import EventRow, LoanRow, PlanRow, RescheduleRow
from coop.loans.products import Product, product_by_id
from coop.loans.records import Loan, history, loan_of, loan_row
from coop.loans.schedule import build
from coop.members import MemberRow, get_member

BUCKETS = ("current", "1-30", "31-90", "91-180", "181-365", ">365")


def bucket_of(days: int) -> str:
    if days <= 0:
        return "current"
    for limit, name in ((30, "1-30"), (90, "31-90"), (180, "91-180"), (365, "181-365")):
        if days <= limit:
            return name
    return ">365"


# --- the loan as it stands ------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    loan: Loan
    position: engine.Position | None
    installments: list[engine.InstallmentView]


def standing(session: Session, loan_id: int, *, as_of: date) -> Standing:
    """The loan on `as_of`: payoff, days past due and the schedule with what is paid.
    Before disbursement the schedule is the provisional one."""
    row = loan_row(session, loan_id)
    loan = loan_of(session, row)
    if row.plan_version == 0:
        schedule = build(loan.terms)
        views = [engine.InstallmentView(i.number, i.due_on, i.principal, i.interest, i.total,
                                        0, "upcoming", i.balance)
                 for i in schedule.installments]
        return Standing(loan, None, views)
    hist, as_of = _history_on(session, row, loan, as_of)
    position = records.position(hist, as_of)
    views = engine.installments(hist.plan, hist.events, as_of, hist.order)
    if row.status == "written_off":
        position = _written_off(position, as_of)
    return Standing(loan, position, views)


AS_OF_MIN, AS_OF_MAX = date(1900, 1, 1), date(2999, 12, 31)
"""A loan is seen on any day in this range: the engine counts periods and days past it, and
a date at the calendar's end would overflow."""


def _history_on(session: Session, row: LoanRow, loan: Loan,
                as_of: date) -> tuple[records.History, date]:
    """Her loan's history, and the day to see it on: a finished loan as it finished; never a
    day before its last movement (422)."""
    if not AS_OF_MIN <= as_of <= AS_OF_MAX:
        raise InvalidInput.said(
            "as_of is a day from {as_of_min} to {as_of_max}",
            as_of_min=AS_OF_MIN, as_of_max=AS_OF_MAX, field="as_of")
    hist = history(session, row, loan.product)
    if row.status in ("closed", "written_off"):
        as_of = max(as_of, row.last_event_on or as_of)
    if hist.last_on is not None and as_of < hist.last_on:
        raise InvalidInput.said(
            "as_of is before the loan's last movement on {last_on}",
            last_on=hist.last_on, field="as_of")
    return hist, as_of


def _written_off(position: engine.Position, as_of: date) -> engine.Position:
    return engine.Position(as_of, 0, 0, 0, 0, position.paid_towards_plan, 0, None, 0,
                           position.allocations)


def position_of(session: Session, loan: Loan, *, as_of: date) -> engine.Position | None:
    """Where a disbursed loan stands on `as_of` (None before disbursement): `standing`'s
    position without its schedule, for pages that show only the figures."""
    row = loan_row(session, loan.id)
    if row.plan_version == 0:
        return None
    hist, as_of = _history_on(session, row, loan, as_of)
    position = records.position(hist, as_of)
    return _written_off(position, as_of) if row.status == "written_off" else position


# --- the portfolio --------------------------------------------------------------------------


@dataclass(frozen=True)
class Portfolio:
    as_of: date
    loans_active: int
    outstanding_minor: int
    buckets: dict[str, int]
    counts: dict[str, int]

    @property
    def par30(self) -> Decimal:
        at_risk = sum(self.buckets[b] for b in BUCKETS[2:])
        if not self.outstanding_minor:
            return Decimal("0.00")
        return (Decimal(at_risk) * 100 / Decimal(self.outstanding_minor)).quantize(
            Decimal("0.01"))


def portfolio(session: Session, *, as_of: date) -> Portfolio:
    """Outstanding principal by days past due on `as_of`, from each loan's last event on or
    before that day (so a past date gives the portfolio as it stood then)."""
    latest = (select(EventRow.loan_id, func.max(EventRow.seq).label("seq"))
              .where(EventRow.value_date <= as_of).group_by(EventRow.loan_id).subquery())
    rows = session.execute(
        select(EventRow.outstanding_after, EventRow.first_unpaid_due_after,
               PlanRow.frozen_json)
        .join(latest, (latest.c.loan_id == EventRow.loan_id) & (latest.c.seq == EventRow.seq))
        .outerjoin(PlanRow, (PlanRow.loan_id == EventRow.loan_id)
                   & (PlanRow.version == EventRow.plan_version))
        .where(EventRow.status_after == "active")).all()
    buckets = dict.fromkeys(BUCKETS, 0)
    counts = dict.fromkeys(BUCKETS, 0)
    total = 0
    for outstanding, first_unpaid, frozen_json in rows:
        days = 0
        if first_unpaid is not None and first_unpaid < as_of:
            windows = records.frozen_windows(frozen_json)
            days = (as_of - first_unpaid).days - engine.frozen_days(first_unpaid, as_of, windows)
        name = bucket_of(days)
        buckets[name] += outstanding
        counts[name] += 1
        total += outstanding
    return Portfolio(as_of, len(rows), total, buckets, counts)


# --- the board's and the auditor's lists ----------------------------------------------------


@dataclass(frozen=True)
class InsiderLoan:
    loan_id: int
    member_code: str
    status: str
    principal_minor: int
    outstanding_minor: int
    approvals: int


def pending(session: Session) -> tuple[list[Loan], list[RescheduleRow]]:
    """What waits for the board's votes: loan applications, and reschedule requests."""
    applications = [loan_of(session, row) for row in session.scalars(
        select(LoanRow).where(LoanRow.status == "pending").order_by(LoanRow.id))]
    requests = list(session.scalars(select(RescheduleRow).where(
        RescheduleRow.status == "pending").order_by(RescheduleRow.id)))
    return applications, requests


def board_loans(session: Session) -> list[InsiderLoan]:
    """Loans to board members (auditors ask): every status, with the approvals they had."""
    rows = session.execute(
        select(LoanRow, MemberRow.code).join(MemberRow, MemberRow.id == LoanRow.member_id)
        .where(MemberRow.code.in_(sorted(board.seated(session)))).order_by(LoanRow.id)).all()
    return [InsiderLoan(row.id, code, row.status, row.principal_minor, row.outstanding_minor,
                        votes.approvals(session, row.id)) for row, code in rows]


def falling_due(session: Session, on: date) -> list[tuple[int, date]]:
    """(loan id, oldest unpaid due date) of every active loan with an installment due on or
    before `on` still unpaid, oldest first: who the counter expects, read from the stored
    facts without replaying any loan."""
    return [(loan_id, due) for loan_id, due in session.execute(
        select(LoanRow.id, LoanRow.first_unpaid_due).where(
            LoanRow.status == "active", LoanRow.first_unpaid_due <= on)
        .order_by(LoanRow.first_unpaid_due, LoanRow.id)) if due is not None]


def due_between(session: Session, start: date, end: date) -> list[tuple[int, int]]:
    """(loan id, amount unpaid that the plan asks by `end`) for active loans with something
    falling due by `end` and unpaid since `start` or earlier: the counter's call list."""
    rows = session.scalars(select(LoanRow).where(
        LoanRow.status == "active", LoanRow.first_unpaid_due <= end).order_by(LoanRow.id))
    found = []
    for row in rows:
        if row.first_unpaid_due is None or row.first_unpaid_due < start - timedelta(days=366):
            continue
        position = standing(session, row.id, as_of=max(end, row.last_event_on or end)).position
        if position is not None and position.due_now > 0:
            found.append((row.id, position.due_now))
    return found


def reconcile(session: Session) -> list[tuple[str, str]]:
    """Every loan against the journal: (loan account, problem) for each loan whose ledger
    balance is not its outstanding principal, or whose stored allocations are not what a
    replay of its plan and payments gives. `coop verify` runs it after the ledger checks."""
    problems: list[tuple[str, str]] = []
    products: dict[int, Product] = {}
    for row in session.scalars(select(LoanRow).where(LoanRow.account_code.is_not(None))
                               .order_by(LoanRow.id)):
        account = row.account_code or ""
        ledger = queries.balance(session, account) or 0
        if ledger != row.outstanding_minor:
            problems.append((account, f"loan {row.id}: the ledger says {ledger}, the loan "
                                      f"{row.outstanding_minor}"))
            continue
        if row.product_id not in products:
            products[row.product_id] = product_by_id(session, row.product_id)
        hist = history(session, row, products[row.product_id])
        stored = [(e.principal_minor, e.interest_minor, e.penalty_minor, e.fees_minor)
                  for e in session.scalars(select(EventRow).where(
                      EventRow.loan_id == row.id, EventRow.kind == "repayment")
                      .order_by(EventRow.seq))]
        try:
            replayed = engine.position(hist.plan, hist.events, hist.last_on or date.min,
                                       hist.order)
        except (engine.PaymentTooLarge, engine.PaymentOutOfOrder) as error:
            problems.append((account, f"loan {row.id}: its payments do not replay ({error})"))
            continue
        again = [(a.principal, a.interest, a.penalty, a.fees) for a in replayed.allocations]
        if again != stored:
            problems.append((account, f"loan {row.id}: stored allocations differ from the "
                                      "replay of its plan and payments"))
        elif row.status == "active" and replayed.outstanding_principal != ledger:
            problems.append((account, f"loan {row.id}: the replay leaves "
                                      f"{replayed.outstanding_principal} outstanding, the "
                                      f"ledger {ledger}"))
    return problems


def open_principal_of(session: Session, member_code: str) -> int:
    member = get_member(session, member_code)
    value = session.execute(select(func.coalesce(func.sum(LoanRow.outstanding_minor), 0)).where(
        LoanRow.member_id == member.id, LoanRow.status == "active")).scalar_one()
    return int(value)


__all__ = ["BUCKETS", "InsiderLoan", "Portfolio", "Standing", "board_loans", "bucket_of",
           "due_between", "open_principal_of", "pending", "portfolio", "position_of",
           "reconcile", "standing"]


def interest_paid_by_member(session: Session, *, start: date, end: date) -> dict[str, int]:
    """Member number -> loan interest she paid from `start` to `end` (both included), in
    minor units; a member with no repayment in the period is left out."""
    rows = session.execute(
        select(MemberRow.code, func.sum(EventRow.interest_minor))
        .join(LoanRow, LoanRow.member_id == MemberRow.id)
        .join(EventRow, EventRow.loan_id == LoanRow.id)
        .where(EventRow.kind == "repayment", EventRow.value_date >= start,
               EventRow.value_date <= end)
        .group_by(MemberRow.code))
    return {code: int(total or 0) for code, total in rows}
