"""Reading the loans: a loan as it stands (`standing`), the portfolio by days past due
(ageing buckets 1-30, 31-90, 91-180, 181-365, >365; PAR30), what waits for the board, loans to
board members, the counter's call list, and every loan reconciled against the journal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop import board
from coop.errors import InvalidInput
from coop.ledger import queries
from coop.loans import engine, punctuality, records, votes
from coop.loans.orm import EventRow, LoanRow, PlanRow, RescheduleRow
from coop.loans.products import Product, product_by_id
from coop.loans.records import Loan, history, loan_of, loan_row
from coop.loans.risk import (
    BUCKETS,
    MonthPar,
    Portfolio,
    Snapshot,
    bucket_of,
    days_past_due,
    month_par,
    summarize,
)
from coop.loans.schedule import build
from coop.members import MemberRow, get_member

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


def snapshots(session: Session, *, as_of: date) -> list[Snapshot]:
    """Every loan active on `as_of`, as its last event on or before that day left it (so a
    past date gives the loans as they stood then)."""
    latest = (select(EventRow.loan_id, func.max(EventRow.seq).label("seq"))
              .where(EventRow.value_date <= as_of).group_by(EventRow.loan_id).subquery())
    rows = session.execute(
        select(EventRow.loan_id, EventRow.outstanding_after, EventRow.first_unpaid_due_after,
               PlanRow.frozen_json)
        .join(latest, (latest.c.loan_id == EventRow.loan_id) & (latest.c.seq == EventRow.seq))
        .outerjoin(PlanRow, (PlanRow.loan_id == EventRow.loan_id)
                   & (PlanRow.version == EventRow.plan_version))
        .where(EventRow.status_after == "active").order_by(EventRow.loan_id)).all()
    return [Snapshot(loan_id, outstanding, first_unpaid,
                     tuple(records.frozen_windows(frozen_json)))
            for loan_id, outstanding, first_unpaid, frozen_json in rows]


def portfolio(session: Session, *, as_of: date) -> Portfolio:
    """Outstanding principal by days past due on `as_of` (`risk.summarize` of the loans as
    they stood that day)."""
    return summarize(snapshots(session, as_of=as_of), as_of)


def par30_by_month(session: Session, months: Sequence[tuple[str, date]]) -> list[MonthPar]:
    """PAR30 at each (month, day): the loans as they stood at the end of that day."""
    return [month_par(month, portfolio(session, as_of=day)) for month, day in months]


@dataclass(frozen=True)
class Arrear:
    """A loan in arrears on a day: what is outstanding, and since when it is unpaid."""

    loan_id: int
    member_code: str
    outstanding_minor: int
    first_unpaid_due: date
    days_past_due: int

    @property
    def bucket(self) -> str:
        return bucket_of(self.days_past_due)


def arrears(session: Session, *, as_of: date) -> list[Arrear]:
    """The loans past due on `as_of`, the longest overdue first (then by loan number)."""
    late = [(loan, days_past_due(loan, as_of)) for loan in snapshots(session, as_of=as_of)]
    late = [(loan, days) for loan, days in late if days > 0]
    codes = {loan_id: code for loan_id, code in session.execute(
        select(LoanRow.id, MemberRow.code).join(MemberRow, MemberRow.id == LoanRow.member_id)
        .where(LoanRow.id.in_([loan.loan_id for loan, _ in late])))} if late else {}
    found = [Arrear(loan.loan_id, codes[loan.loan_id], loan.outstanding_minor,
                    loan.first_unpaid_due or as_of, days) for loan, days in late]
    return sorted(found, key=lambda a: (-a.days_past_due, a.loan_id))


@dataclass(frozen=True)
class Activity:
    """Loans applied for, decided, paid out and ended from `start` to `end`: (count, minor
    units of principal) each; `written_off` counts the principal written off."""

    applied: tuple[int, int]
    approved: tuple[int, int]
    rejected: tuple[int, int]
    disbursed: tuple[int, int]
    closed: tuple[int, int]
    written_off: tuple[int, int]


def activity_between(session: Session, start: date, end: date) -> Activity:
    """What happened to loans from `start` to `end` (both days included), from the loans'
    own dates: applied on, decided on (approved, or rejected), paid out on, closed on."""
    def count(day: Any, *where: Any, amount: Any = LoanRow.principal_minor) -> tuple[int, int]:
        number, total = session.execute(
            select(func.count(), func.coalesce(func.sum(amount), 0))
            .where(day >= start, day <= end, *where)).one()
        return int(number), int(total)

    return Activity(
        applied=count(LoanRow.applied_on),
        approved=count(LoanRow.decided_on, LoanRow.status != "rejected"),
        rejected=count(LoanRow.decided_on, LoanRow.status == "rejected"),
        disbursed=count(LoanRow.disbursed_on),
        closed=count(LoanRow.closed_on, LoanRow.status == "closed"),
        written_off=count(LoanRow.closed_on, LoanRow.status == "written_off",
                          amount=LoanRow.written_off_minor))


# --- how a member repaid -------------------------------------------------------------------


@dataclass(frozen=True)
class RepaymentRecord:
    """One of her loans, and (once paid out) how she repaid it installment by installment."""

    loan: Loan
    record: punctuality.Record | None


def repayment_records(session: Session, member_code: str, *, as_of: date,
                      exclude: int | None = None) -> list[RepaymentRecord]:
    """Her loans (but `exclude`), the earliest first, each with its punctuality on `as_of`
    (a closed or written-off loan as it ended)."""
    found = []
    for loan in records.loans_of(session, member_code):
        if loan.id == exclude:
            continue
        row = loan_row(session, loan.id)
        plan = session.get(PlanRow, (row.id, row.plan_version)) if row.plan_version else None
        if plan is None:
            found.append(RepaymentRecord(loan, None))
            continue
        repaid = session.execute(
            select(EventRow.value_date, EventRow.first_unpaid_due_after)
            .where(EventRow.loan_id == row.id, EventRow.kind == "repayment")
            .order_by(EventRow.seq)).all()
        ended = row.status in ("closed", "written_off") and row.last_event_on is not None
        seen_on = min(as_of, row.last_event_on) if ended and row.last_event_on else as_of
        found.append(RepaymentRecord(loan, punctuality.record(
            records.due_dates(plan), repaid, as_of=seen_on,
            frozen=records.frozen_windows(plan.frozen_json))))
    return found


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


__all__ = ["BUCKETS", "Activity", "Arrear", "InsiderLoan", "Portfolio", "RepaymentRecord",
           "Standing", "activity_between", "arrears", "board_loans", "bucket_of",
           "due_between", "interest_paid_by_member", "open_principal_of", "par30_by_month",
           "pending", "portfolio", "position_of", "reconcile", "repayment_records",
           "snapshots", "standing"]


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
