"""Loans: products, applications, board votes, disbursement, repayment, reschedules,
moratoria, write-offs and the portfolio report (DESIGN.md §7, CONTRACT.md Loans).

The schedule maths are pure (`schedule`, `engine`); this module stores a loan's terms, its
plan (every version, with the date it took effect) and its events, and posts one journal
entry per money movement:

* disbursement: Dr 1100:<member>-L<id> principal; Cr cash or her savings (principal - fee),
  Cr 4100 the fee;
* repayment: Dr cash or her savings; Cr her loan account (principal), Cr 4000 (interest),
  Cr 4100 (penalty and fees): interest is income only when paid (cash basis);
* write-off: Dr 5200 Loan losses, Cr her loan account; recovery: Dr cash, Cr 4300.

A loan's position is replayed from its plan and events whenever money moves, under a lock on
the loan row, so two clerks taking payments on one loan at once are serialised and the
allocation stored in the ledger is always the one the replay gives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from coop import board, savings
from coop.board import AlreadyVoted as AlreadyVoted  # the board's, re-exported
from coop.board import Tally as Tally
from coop.board import VoteNotAllowed as VoteNotAllowed
from coop.clock import Clock
from coop.db import Base
from coop.errors import Conflict, InvalidInput, NotFound
from coop.ledger import EntryDraft, credit, debit, lock_balance, open_account, post, queries
from coop.ledger.chart import (
    CASH,
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
from coop.loans import engine
from coop.loans.engine import Allocation, Bucket, Payment, Plan, PlanPeriod, Switch
from coop.loans.schedule import (
    Amortization,
    DaysInMonth,
    DaysInYear,
    Frequency,
    InterestMethod,
    InterestPeriod,
    Schedule,
    Terms,
    TermsInvalid,
    build,
    half_even,
)
from coop.members import MemberNotActive, MemberRow, get_member, savings_account, shares_account
from coop.money import parse_minor
from coop.society import Society

Status = Literal["pending", "approved", "rejected", "active", "closed", "written_off"]
OPEN_STATUSES = ("pending", "approved", "active")
PURPOSES = ("business", "education", "health", "housing", "emergency", "debts", "household",
            "other")
"""Purpose is a category, never free text: nothing that could identify a member's work."""
NOTE_LENGTH_MAX = 200


# --- tables ---------------------------------------------------------------------------------


class ProductRow(Base):
    __tablename__ = "loan_product"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    terms_json: Mapped[str] = mapped_column(Text)
    max_principal_minor: Mapped[int | None]
    fee_percent: Mapped[str] = mapped_column(String(12))
    penalty_rate: Mapped[str] = mapped_column(String(12))
    allocation_order: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]


class LoanRow(Base):
    __tablename__ = "loan"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'active', 'closed', 'written_off')",
            name="status_known"),
        CheckConstraint("principal_minor > 0", name="principal_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("loan_product.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    principal_minor: Mapped[int]
    fee_minor: Mapped[int]
    terms_json: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str | None] = mapped_column(String(16))
    applied_on: Mapped[date]
    applied_by: Mapped[str] = mapped_column(String(32))
    decided_on: Mapped[date | None]
    disbursed_on: Mapped[date | None]
    closed_on: Mapped[date | None]
    account_code: Mapped[str | None] = mapped_column(String(64))
    plan_version: Mapped[int]
    outstanding_minor: Mapped[int]
    first_unpaid_due: Mapped[date | None]
    last_event_on: Mapped[date | None]
    written_off_minor: Mapped[int]
    recovered_minor: Mapped[int]


class GuarantorRow(Base):
    __tablename__ = "loan_guarantor"
    __table_args__ = (UniqueConstraint("loan_id", "member_id", name="uq_loan_guarantor_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    amount_minor: Mapped[int]
    hold_id: Mapped[int] = mapped_column(ForeignKey("savings_hold.id"))


class PlanRow(Base):
    """Every version of a loan's plan, with the day it took effect."""

    __tablename__ = "loan_plan"

    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    effective_on: Mapped[date]
    periods_json: Mapped[str] = mapped_column(Text)
    frozen_json: Mapped[str] = mapped_column(Text)


class EventRow(Base):
    """What happened to a loan, in order, with where it left the loan (for reports)."""

    __tablename__ = "loan_event"
    __table_args__ = (UniqueConstraint("loan_id", "seq", name="uq_loan_event_in_order"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    value_date: Mapped[date]
    amount_minor: Mapped[int]
    principal_minor: Mapped[int]
    interest_minor: Mapped[int]
    penalty_minor: Mapped[int]
    fees_minor: Mapped[int]
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    plan_version: Mapped[int]
    outstanding_after: Mapped[int]
    first_unpaid_due_after: Mapped[date | None]
    status_after: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(NOTE_LENGTH_MAX))
    """The board's reason (write-off, reschedule, moratorium): kept here, never in the
    ledger's narration, which is exported and printed."""
    actor: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class RescheduleRow(Base):
    __tablename__ = "loan_reschedule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    extra_installments: Mapped[int]
    annual_rate: Mapped[str | None] = mapped_column(String(12))
    holiday_until: Mapped[date | None]
    reason: Mapped[str] = mapped_column(String(NOTE_LENGTH_MAX))
    requested_by: Mapped[str] = mapped_column(String(32))
    requested_on: Mapped[date]
    decided_on: Mapped[date | None]
    plan_version: Mapped[int | None]


class MoratoriumRow(Base):
    __tablename__ = "loan_moratorium"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    from_on: Mapped[date]
    to_on: Mapped[date]
    accrue_interest: Mapped[bool] = mapped_column(Boolean)
    resolution: Mapped[str] = mapped_column(String(NOTE_LENGTH_MAX))
    declared_by: Mapped[str] = mapped_column(String(32))
    declared_at: Mapped[datetime]
    loans_affected: Mapped[int]


# --- errors ---------------------------------------------------------------------------------


class LoanNotFound(NotFound):
    code = "loan_not_found"
    title = "No such loan"


class LoanStateConflict(Conflict):
    code = "loan_state_conflict"
    title = "The loan is not in a state that allows this"


class NotEligible(InvalidInput):
    code = "loan_not_eligible"
    title = "The member is not eligible for this loan"


class AboveLimit(InvalidInput):
    code = "loan_limit_exceeded"
    title = "The loan is above a limit"


class PaymentAbovePayoff(InvalidInput):
    code = "payment_above_payoff"
    title = "The payment is more than the loan's payoff amount"


# --- products -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductTerms:
    """The terms a product carries (all loan terms but principal and dates)."""

    annual_rate: Decimal
    installments: int
    frequency: Frequency = Frequency.MONTHLY
    interest_method: InterestMethod = InterestMethod.DECLINING_BALANCE
    amortization: Amortization = Amortization.EQUAL_INSTALLMENTS
    interest_period: InterestPeriod = InterestPeriod.SAME_AS_REPAYMENT
    days_in_year: DaysInYear = DaysInYear.ACTUAL
    days_in_month: DaysInMonth = DaysInMonth.ACTUAL
    installment_multiple: int = 1
    grace_on_principal: int = 0
    grace_on_interest_payment: int = 0
    grace_on_interest_charged: int = 0

    def terms(self, *, principal: int, disbursed_on: date, installments: int | None = None,
              fee: int = 0) -> Terms:
        values = asdict(self)
        values["installments"] = installments or self.installments
        return Terms(principal=principal, disbursed_on=disbursed_on, fee=fee, **values)

    def to_json(self) -> str:
        return json.dumps({k: str(v) for k, v in asdict(self).items()}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProductTerms:
        raw = json.loads(text)
        return cls(
            annual_rate=Decimal(raw["annual_rate"]), installments=int(raw["installments"]),
            frequency=Frequency(raw["frequency"]),
            interest_method=InterestMethod(raw["interest_method"]),
            amortization=Amortization(raw["amortization"]),
            interest_period=InterestPeriod(raw["interest_period"]),
            days_in_year=DaysInYear(raw["days_in_year"]),
            days_in_month=DaysInMonth(raw["days_in_month"]),
            installment_multiple=int(raw["installment_multiple"]),
            grace_on_principal=int(raw["grace_on_principal"]),
            grace_on_interest_payment=int(raw["grace_on_interest_payment"]),
            grace_on_interest_charged=int(raw["grace_on_interest_charged"]),
        )


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    terms: ProductTerms
    max_principal_minor: int | None
    fee_percent: Decimal
    penalty_rate: Decimal
    allocation_order: tuple[Bucket, ...]

    def fee_for(self, principal: int) -> int:
        return half_even(principal * Fraction(self.fee_percent) / 100)


def _product(row: ProductRow) -> Product:
    return Product(row.code, row.name, ProductTerms.from_json(row.terms_json),
                   row.max_principal_minor, Decimal(row.fee_percent), Decimal(row.penalty_rate),
                   tuple(Bucket(b) for b in row.allocation_order.split(",")))


def parse_order(names: Sequence[str] | None) -> tuple[Bucket, ...]:
    if not names:
        return engine.DEFAULT_ORDER
    try:
        order = tuple(Bucket(name) for name in names)
    except ValueError:
        raise InvalidInput(f"allocation_order names the buckets {[b.value for b in Bucket]}",
                           field="allocation_order") from None
    if sorted(order) != sorted(Bucket):
        raise InvalidInput("allocation_order lists every bucket once",
                           field="allocation_order")
    return order


def create_product(session: Session, product: Product, *, clock: Clock) -> Product:
    check_text(product.name, field="name", length_max=80)
    if not product.code or len(product.code) > 32 or not product.code.replace("-", "").replace(
            "_", "").isalnum():
        raise InvalidInput("a product code is 1-32 letters, digits, - or _", field="code")
    if not Decimal(0) <= product.fee_percent <= Decimal(20):
        raise InvalidInput("fee_percent is between 0 and 20", field="fee_percent")
    if not Decimal(0) <= product.penalty_rate <= Decimal(100):
        raise InvalidInput("penalty_rate is between 0 and 100", field="penalty_rate")
    sample = product.max_principal_minor or 10**7
    build(product.terms.terms(principal=sample, disbursed_on=clock.today()))  # terms make sense
    if session.execute(select(ProductRow.id).where(ProductRow.code == product.code)).first():
        raise Conflict(f"product {product.code} exists", field="code")
    try:
        with session.begin_nested():  # two admins creating the same code at once: one wins
            session.add(ProductRow(
                code=product.code, name=product.name, terms_json=product.terms.to_json(),
                max_principal_minor=product.max_principal_minor,
                fee_percent=str(product.fee_percent), penalty_rate=str(product.penalty_rate),
                allocation_order=",".join(b.value for b in product.allocation_order),
                created_at=clock.now()))
    except IntegrityError:
        raise Conflict(f"product {product.code} exists", field="code") from None
    return product


def list_products(session: Session) -> list[Product]:
    return [_product(row) for row in session.scalars(select(ProductRow).order_by(ProductRow.code))]


def get_product(session: Session, code: str) -> tuple[int, Product]:
    row = session.execute(select(ProductRow).where(ProductRow.code == code)).scalar()
    if row is None:
        raise NotFound(f"there is no loan product {code[:32]!r}", field="product")
    return row.id, _product(row)


# --- loans: reading -------------------------------------------------------------------------


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


def _terms_json(terms: Terms) -> str:
    return json.dumps({k: str(v) if v is not None else None for k, v in asdict(terms).items()},
                      sort_keys=True)


def _terms_from_json(text: str) -> Terms:
    raw = json.loads(text)
    base = ProductTerms.from_json(json.dumps(
        {k: v for k, v in raw.items()
         if k not in ("principal", "disbursed_on", "first_due_on", "fee")}))
    return base.terms(principal=int(raw["principal"]),
                      disbursed_on=date.fromisoformat(raw["disbursed_on"]),
                      fee=int(raw["fee"]))


def _loan_row(session: Session, loan_id: int, *, lock: bool = False) -> LoanRow:
    query = select(LoanRow).where(LoanRow.id == loan_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar()
    if row is None:
        raise LoanNotFound(f"there is no loan {loan_id}", field="id")
    return row


def _member_code(session: Session, row: LoanRow) -> str:
    return str(session.execute(
        select(MemberRow.code).where(MemberRow.id == row.member_id)).scalar_one())


def _loan(session: Session, row: LoanRow) -> Loan:
    member_code = _member_code(session, row)
    product = _product(session.get_one(ProductRow, row.product_id))
    return Loan(row.id, member_code, row.status, row.principal_minor, row.fee_minor, product,
                _terms_from_json(row.terms_json), row.purpose, row.applied_on, row.disbursed_on,
                row.closed_on, row.account_code, row.outstanding_minor, row.written_off_minor,
                row.recovered_minor)


def get_loan(session: Session, loan_id: int) -> Loan:
    return _loan(session, _loan_row(session, loan_id))


def loans_of(session: Session, member_code: str) -> list[Loan]:
    member = get_member(session, member_code)
    rows = session.scalars(select(LoanRow).where(LoanRow.member_id == member.id)
                           .order_by(LoanRow.id))
    return [_loan(session, row) for row in rows]


def _plan_json(plan: Plan) -> tuple[str, str]:
    periods = [[p.number, p.start_on.isoformat(), p.due_on.isoformat(), p.principal, p.interest,
                str(p.annual_rate), str(p.year_fraction), p.deferred, p.flat_basis]
               for p in plan.periods]
    frozen = [[a.isoformat(), b.isoformat(), (a, b) in plan.interest_free]
              for a, b in plan.frozen]
    return json.dumps(periods), json.dumps(frozen)


def _plan_from(row: PlanRow, principal: int, flat: bool, penalty_rate: Fraction) -> Plan:
    periods = tuple(
        PlanPeriod(n, date.fromisoformat(s), date.fromisoformat(d), p, i, Fraction(r),
                   Fraction(f), bool(deferred), int(basis))
        for n, s, d, p, i, r, f, deferred, basis in json.loads(row.periods_json))
    windows = [(date.fromisoformat(a), date.fromisoformat(b), free)
               for a, b, free in json.loads(row.frozen_json)]
    return Plan(principal, flat, periods, penalty_rate,
                tuple((a, b) for a, b, _ in windows),
                tuple((a, b) for a, b, free in windows if free))


@dataclass
class History:
    """A disbursed loan's plans and events: everything the replay needs."""

    plan: Plan
    events: list[engine.Event] = field(default_factory=list)
    order: tuple[Bucket, ...] = engine.DEFAULT_ORDER
    last_on: date | None = None
    next_seq: int = 1


def history(session: Session, row: LoanRow, product: Product | None = None) -> History:
    product = product or _product(session.get_one(ProductRow, row.product_id))
    terms = _terms_from_json(row.terms_json)
    flat = terms.interest_method is InterestMethod.FLAT
    penalty = Fraction(product.penalty_rate) / 100
    plans = {p.version: _plan_from(p, row.principal_minor, flat, penalty)
             for p in session.scalars(select(PlanRow).where(PlanRow.loan_id == row.id))}
    if not plans:
        raise LoanStateConflict(f"loan {row.id} has not been disbursed")
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


# --- applications ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Guarantee:
    member_code: str
    amount_minor: int


def _cover(session: Session, code: str) -> int:
    """What secures her loans: savings plus paid-up shares."""
    return ((queries.balance(session, savings_account(code)) or 0)
            + (queries.balance(session, shares_account(code)) or 0))


def apply(
    session: Session, *, member_code: str, product_code: str, principal_minor: int,
    installments: int | None, purpose: str | None, guarantors: Sequence[Guarantee],
    society: Society, actor: str, clock: Clock,
) -> tuple[Loan, Schedule]:
    """A loan application, checked against the society's eligibility rules; guarantors'
    savings are put on hold at once. Returns the loan (pending) and its provisional schedule
    (dated from today; the real one is drawn at disbursement)."""
    member = get_member(session, member_code)
    # her row locked: two applications for her at once are checked one after the other
    session.execute(select(MemberRow.id).where(MemberRow.id == member.id).with_for_update())
    if member.status != "active":
        raise MemberNotActive(f"{member_code} has exited")
    product_id, product = get_product(session, product_code)
    settings = society.settings
    today = clock.today()
    if purpose is not None and purpose not in PURPOSES:
        raise InvalidInput(f"purpose is one of {', '.join(PURPOSES)}", field="purpose")
    if principal_minor <= 0:
        raise InvalidInput("principal must be more than zero", field="principal")
    fee = product.fee_for(principal_minor)
    terms = product.terms.terms(principal=principal_minor, disbursed_on=today,
                                installments=installments, fee=fee)
    schedule = build(terms)
    days = (today - member.joined_on).days
    if days < settings.loan_min_membership_days:
        raise NotEligible(
            f"members may borrow after {settings.loan_min_membership_days} days of membership;"
            f" {member_code} joined {days} days ago", field="member_code")
    limits = [(product.max_principal_minor, "the product's maximum")]
    if settings.loan_max_principal is not None:
        limits.append((_minor(session, settings.loan_max_principal), "the society's maximum"))
    for limit, what in limits:
        if limit is not None and principal_minor > limit:
            raise AboveLimit(f"the principal is above {what}, {savings.money_text(session, limit)}",
                             field="principal")
    open_loans = session.execute(select(func.count()).select_from(LoanRow).where(
        LoanRow.member_id == member.id, LoanRow.status.in_(OPEN_STATUSES))).scalar_one()
    if open_loans >= settings.loan_max_open_loans:
        raise NotEligible(f"{member_code} has {open_loans} open loan(s); the society allows "
                          f"{settings.loan_max_open_loans}", field="member_code")
    guaranteed = sum(g.amount_minor for g in guarantors)
    multiple = Fraction(Decimal(settings.max_loan_multiple_of_savings))
    cover = _cover(session, member_code) * multiple + guaranteed
    if principal_minor > cover:
        raise AboveLimit(
            f"the principal is above {settings.max_loan_multiple_of_savings} times her savings "
            f"and shares plus guarantees ({savings.money_text(session, int(cover))})",
            field="principal")
    row = LoanRow(
        member_id=member.id, product_id=product_id, status="pending",
        principal_minor=principal_minor, fee_minor=fee, terms_json=_terms_json(terms),
        purpose=purpose, applied_on=today, applied_by=actor, decided_on=None, disbursed_on=None,
        closed_on=None, account_code=None, plan_version=0, outstanding_minor=0,
        first_unpaid_due=None, last_event_on=None, written_off_minor=0, recovered_minor=0)
    session.add(row)
    session.flush()
    seen: set[str] = set()
    board_codes = board.seated(session)
    for guarantee in guarantors:
        _guarantee(session, row, guarantee, member_code, board_codes, seen, actor, clock)
    return _loan(session, row), schedule


def _minor(session: Session, text: str) -> int:
    book = queries.book(session)
    return parse_minor(text, book.currency if book else "INR", field="amount")


def _guarantee(session: Session, loan: LoanRow, guarantee: Guarantee, borrower: str,
               board_codes: frozenset[str], seen: set[str], actor: str, clock: Clock) -> None:
    code = guarantee.member_code
    if code == borrower:
        raise InvalidInput("a member cannot guarantee her own loan", field="guarantors")
    if code in board_codes:
        raise InvalidInput(f"{code} sits on the board and cannot guarantee a loan",
                           field="guarantors")
    if code in seen:
        raise InvalidInput(f"{code} is named twice", field="guarantors")
    seen.add(code)
    if guarantee.amount_minor <= 0:
        raise InvalidInput("a guarantee is more than zero", field="guarantors")
    guarantor = get_member(session, code)
    hold = savings.place_hold(session, code, amount_minor=guarantee.amount_minor,
                              reason=f"guarantee for loan {loan.id}", actor=actor, clock=clock)
    session.add(GuarantorRow(loan_id=loan.id, member_id=guarantor.id,
                             amount_minor=guarantee.amount_minor, hold_id=hold.id))
    session.flush()


def guarantors_of(session: Session, loan_id: int) -> list[tuple[str, int, int]]:
    """(member code, amount guaranteed, amount still held) for each guarantor."""
    rows = session.execute(
        select(MemberRow.code, GuarantorRow.amount_minor, savings.HoldRow.amount_minor,
               savings.HoldRow.released_at)
        .join(MemberRow, MemberRow.id == GuarantorRow.member_id)
        .join(savings.HoldRow, savings.HoldRow.id == GuarantorRow.hold_id)
        .where(GuarantorRow.loan_id == loan_id).order_by(MemberRow.code))
    return [(code, amount, 0 if released else held) for code, amount, held, released in rows]


def _rebalance_holds(session: Session, row: LoanRow, clock: Clock) -> None:
    """Guarantors' holds shrink pro rata with the outstanding principal (rounded up)."""
    for guarantee in session.scalars(select(GuarantorRow).where(GuarantorRow.loan_id == row.id)):
        hold = session.get_one(savings.HoldRow, guarantee.hold_id)
        if hold.released_at is not None:
            continue
        still = -(-guarantee.amount_minor * row.outstanding_minor // row.principal_minor)
        if row.status != "active" or still <= 0:
            hold.released_at = clock.now()
        elif still < hold.amount_minor:
            hold.amount_minor = still


# --- votes ----------------------------------------------------------------------------------


def _subject(loan_id: int, reschedule_id: int) -> board.Subject:
    """The board's name for what is voted on: the application, or a reschedule request."""
    if reschedule_id:
        return board.Subject("reschedule", reschedule_id)
    return board.Subject("loan", loan_id)


def _cast(session: Session, *, row: LoanRow, reschedule_id: int, voter_code: str | None,
          voter_username: str, decision: str, note: str | None, society: Society,
          clock: Clock) -> Tally:
    """The vote goes to the board; the borrower and her guarantors may not vote, and their
    seats (if they sit) cannot count towards approval."""
    excluded = dict.fromkeys(
        session.scalars(select(GuarantorRow.member_id).where(GuarantorRow.loan_id == row.id)),
        "a board member does not vote on a loan she guarantees")
    excluded[row.member_id] = "a board member does not vote on her own loan"
    return board.cast_vote(
        session, subject=_subject(row.id, reschedule_id), voter_code=voter_code,
        voter_username=voter_username, decision=decision, note=note,
        excluded_member_ids=excluded, required=society.settings.loan_approvals_required,
        seats=society.settings.board_seats, clock=clock)


def vote(
    session: Session, loan_id: int, *, voter_code: str | None, voter_username: str,
    decision: str, note: str | None, society: Society, clock: Clock,
) -> Tally:
    """A board member's vote. Approved when approvals reach the required number; rejected
    once approval can no longer be reached (the borrower and her guarantors, if they sit on
    the board, cannot vote)."""
    row = _loan_row(session, loan_id, lock=True)
    if row.status != "pending":
        raise LoanStateConflict(f"loan {loan_id} is {row.status}, not pending")
    tally = _cast(session, row=row, reschedule_id=0, voter_code=voter_code,
                  voter_username=voter_username, decision=decision, note=note, society=society,
                  clock=clock)
    if tally.status != "pending":
        row.status = tally.status
        row.decided_on = clock.today()
        if tally.status == "rejected":
            _release_all(session, row, clock)
    return tally


def votes_of(session: Session, loan_id: int, reschedule_id: int = 0) -> list[board.VoteRow]:
    """Every vote on the application (or on reschedule request `reschedule_id`)."""
    return board.votes_on(session, _subject(loan_id, reschedule_id))


def _release_all(session: Session, row: LoanRow, clock: Clock) -> None:
    for guarantee in session.scalars(select(GuarantorRow).where(GuarantorRow.loan_id == row.id)):
        hold = session.get_one(savings.HoldRow, guarantee.hold_id)
        if hold.released_at is None:
            hold.released_at = clock.now()


# --- money movements ------------------------------------------------------------------------

NOTHING = Allocation()


def _record(session: Session, row: LoanRow, hist: History | None, *, kind: str, on: date,
            amount: int = 0, allocation: Allocation = NOTHING,
            entry: PostedEntry | None = None, actor: str, clock: Clock,
            position: engine.Position | None = None, note: str | None = None) -> EventRow:
    first_unpaid = position.first_unpaid_due if position else row.first_unpaid_due
    event = EventRow(
        loan_id=row.id, seq=hist.next_seq if hist else 1, kind=kind, value_date=on,
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


def _check_day(on: date, row: LoanRow, clock: Clock) -> None:
    if row.last_event_on is not None and on < row.last_event_on:
        raise InvalidInput(f"value_date is before the loan's last movement on "
                           f"{row.last_event_on}", field="value_date")
    if on > clock.today():
        raise InvalidInput("value_date is after the business date", field="value_date")


def disburse(session: Session, loan_id: int, *, to: Literal["cash", "savings"], on: date,
             actor: str, clock: Clock) -> tuple[PostedEntry, Loan]:
    row = _loan_row(session, loan_id, lock=True)
    if row.status != "approved":
        raise LoanStateConflict(f"loan {loan_id} is {row.status}; only an approved loan is "
                                "disbursed")
    if on < row.applied_on:
        raise InvalidInput("a loan is disbursed on or after its application", field="value_date")
    _check_day(on, row, clock)
    member_code = _member_code(session, row)
    product = _product(session.get_one(ProductRow, row.product_id))
    terms = _terms_from_json(row.terms_json)
    terms = replace(terms, disbursed_on=on)
    schedule = build(terms)
    account = f"{LOANS}:{member_code}-L{row.id}"
    open_account(session, code=account, name=f"Loan {row.id} {member_code}", type="asset",
                 parent=LOANS, owner=member_code, clock=clock)
    paid_to = CASH if to == "cash" else savings_account(member_code)
    postings: list[PostingDraft] = [debit(account, row.principal_minor),
                               credit(paid_to, row.principal_minor - row.fee_minor)]
    if row.fee_minor:
        postings.append(credit(FEES_AND_PENALTIES, row.fee_minor))
    entry = post(session, EntryDraft(
        value_date=on, kind="loan_disbursement", actor=actor,
        narration=f"Loan {row.id} disbursed{' to savings' if to == 'savings' else ''}",
        postings=tuple(postings)), clock=clock)
    plan = Plan(row.principal_minor, terms.interest_method is InterestMethod.FLAT,
                engine.plan_of(schedule), Fraction(product.penalty_rate) / 100)
    periods, frozen = _plan_json(plan)
    session.add(PlanRow(loan_id=row.id, version=1, effective_on=on, periods_json=periods,
                        frozen_json=frozen))
    row.status = "active"
    row.terms_json = _terms_json(terms)
    row.disbursed_on = on
    row.account_code = account
    row.plan_version = 1
    row.outstanding_minor = row.principal_minor
    position = engine.position(plan, [], on)
    _record(session, row, None, kind="disbursement", on=on, amount=row.principal_minor,
            entry=entry, actor=actor, clock=clock, position=position)
    return entry, _loan(session, row)


@dataclass(frozen=True)
class Repayment:
    entry: PostedEntry
    allocation: Allocation
    position: engine.Position
    status: str


def repay(session: Session, loan_id: int, *, amount_minor: int,
          source: Literal["cash", "savings"], on: date, actor: str, clock: Clock,
          key: str | None = None) -> Repayment:
    """A payment of any amount on any day, allocated in the product's order; the payment
    that clears the loan closes it. More than the payoff is refused (nothing is posted).
    With a `key`, exactly once: a retry returns the first payment as it was allocated."""
    row = _loan_row(session, loan_id, lock=True)
    done = queries.replay_of(session, key, kind="loan_repayment", amount_minor=amount_minor)
    if done is not None:
        return _repayment_again(session, row, done)
    if row.status == "written_off":
        return _recover(session, row, amount_minor=amount_minor, source=source, on=on,
                        actor=actor, clock=clock)
    if row.status != "active":
        raise LoanStateConflict(f"loan {loan_id} is {row.status}; repayments are taken on an "
                                "active loan")
    if amount_minor <= 0:
        raise InvalidInput("the amount is more than zero", field="amount")
    _check_day(on, row, clock)
    hist = history(session, row)
    try:
        allocation, position = engine.allocate(hist.plan, hist.events, Payment(on, amount_minor),
                                               hist.order)
    except engine.PaymentTooLarge as error:
        raise PaymentAbovePayoff(
            f"the payoff amount on {on} is {savings.money_text(session, error.payoff)}",
            field="amount") from None
    member_code = _member_code(session, row)
    paid_from = _paid_from(session, member_code, source, amount_minor)
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
    _record(session, row, hist, kind="repayment", on=on, amount=amount_minor,
            allocation=allocation, entry=entry, actor=actor, clock=clock, position=position)
    _rebalance_holds(session, row, clock)
    return Repayment(entry, allocation, position, row.status)


def preview_repayment(session: Session, loan_id: int, *, amount_minor: int,
                      on: date) -> tuple[Allocation, engine.Position]:
    """How a payment would be allocated (penalty, fees, interest, principal) and where it would
    leave the loan, without taking it: what the clerk shows before she confirms."""
    row = _loan_row(session, loan_id)
    if row.status != "active":
        raise LoanStateConflict(f"loan {loan_id} is {row.status}; repayments are taken on an "
                                "active loan")
    if amount_minor <= 0:
        raise InvalidInput("the amount is more than zero", field="amount")
    hist = history(session, row)
    try:
        return engine.allocate(hist.plan, hist.events, Payment(on, amount_minor), hist.order)
    except engine.PaymentTooLarge as error:
        raise PaymentAbovePayoff(
            f"the payoff amount on {on} is {savings.money_text(session, error.payoff)}",
            field="amount") from None


def _repayment_again(session: Session, row: LoanRow, entry: PostedEntry) -> Repayment:
    event = session.scalars(select(EventRow).where(EventRow.loan_id == row.id,
                                                   EventRow.entry_id == entry.id)).first()
    if event is None:
        raise IdempotencyKeyReused("this idempotency key was used for another loan",
                                   field="idempotency_key")
    hist = history(session, row)  # where the loan stands now, after the payment
    position = engine.position(hist.plan, hist.events, hist.last_on or event.value_date,
                               hist.order)
    allocation = Allocation(penalty=event.penalty_minor, fees=event.fees_minor,
                            interest=event.interest_minor, principal=event.principal_minor)
    return Repayment(entry, allocation, position, row.status)


def _paid_from(session: Session, code: str, source: str, amount: int) -> str:
    if source == "cash":
        return CASH
    if source != "savings":
        raise InvalidInput("source is 'cash' or 'savings'", field="source")
    account = savings_account(code)
    member = get_member(session, code)
    available = lock_balance(session, account) - savings.held(session, member.id)
    if amount > available:
        raise InsufficientFunds(
            f"the available savings are {savings.money_text(session, available)}",
            field="amount")
    return account


def _recover(session: Session, row: LoanRow, *, amount_minor: int, source: str, on: date,
             actor: str, clock: Clock) -> Repayment:
    """Money received on a written-off loan: income (4300), up to the amount written off."""
    if amount_minor <= 0:
        raise InvalidInput("the amount is more than zero", field="amount")
    _check_day(on, row, clock)
    left = row.written_off_minor - row.recovered_minor
    if amount_minor > left:
        raise PaymentAbovePayoff(
            f"{savings.money_text(session, left)} of the written-off amount is left to recover",
            field="amount")
    member_code = _member_code(session, row)
    paid_from = _paid_from(session, member_code, source, amount_minor)
    entry = post(session, EntryDraft(
        value_date=on, kind="loan_recovery", actor=actor,
        narration=f"Loan {row.id} recovery after write-off",
        postings=(debit(paid_from, amount_minor), credit(LOAN_RECOVERIES, amount_minor))),
        clock=clock)
    row.recovered_minor += amount_minor
    hist = history(session, row)
    _record(session, row, hist, kind="recovery", on=on, amount=amount_minor,
            allocation=Allocation(principal=amount_minor), entry=entry, actor=actor,
            clock=clock)
    empty = engine.Position(on, 0, 0, 0, 0, 0, 0, None, 0, ())
    return Repayment(entry, Allocation(principal=amount_minor), empty, row.status)


def write_off(session: Session, loan_id: int, *, on: date, reason: str, actor: str,
              clock: Clock) -> PostedEntry | None:
    """The board writes off what is left of the principal: Dr 5200 Loan losses. Unpaid
    interest was never income (cash basis), so there is nothing to reverse."""
    row = _loan_row(session, loan_id, lock=True)
    if row.status != "active":
        raise LoanStateConflict(f"loan {loan_id} is {row.status}; only an active loan is "
                                "written off")
    _check_day(on, row, clock)
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
    _record(session, row, hist, kind="write_off", on=on, amount=amount,
            allocation=Allocation(principal=amount), entry=entry, actor=actor, clock=clock,
            note=text)
    row.first_unpaid_due = None
    _release_all(session, row, clock)
    return entry


# --- the loan as it stands ------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    loan: Loan
    position: engine.Position | None
    installments: list[engine.InstallmentView]


def standing(session: Session, loan_id: int, *, as_of: date) -> Standing:
    """The loan on `as_of`: payoff, days past due and the schedule with what is paid.
    Before disbursement the schedule is the provisional one."""
    row = _loan_row(session, loan_id)
    loan = _loan(session, row)
    if row.plan_version == 0:
        schedule = build(loan.terms)
        views = [engine.InstallmentView(i.number, i.due_on, i.principal, i.interest, i.total,
                                        0, "upcoming") for i in schedule.installments]
        return Standing(loan, None, views)
    hist = history(session, row, loan.product)
    if row.status in ("closed", "written_off"):
        as_of = max(as_of, row.last_event_on or as_of)
    if hist.last_on is not None and as_of < hist.last_on:
        raise InvalidInput(f"as_of is before the loan's last movement on {hist.last_on}",
                           field="as_of")
    position = engine.position(hist.plan, hist.events, as_of, hist.order)
    views = engine.installments(hist.plan, hist.events, as_of, hist.order)
    if row.status == "written_off":
        position = engine.Position(as_of, 0, 0, 0, 0, position.paid_towards_plan, 0, None, 0,
                                   position.allocations)
    return Standing(loan, position, views)


# --- reschedules and moratoria --------------------------------------------------------------


def request_reschedule(
    session: Session, loan_id: int, *, extra_installments: int, annual_rate: Decimal | None,
    holiday_until: date | None, reason: str, actor: str, clock: Clock,
) -> RescheduleRow:
    row = _loan_row(session, loan_id, lock=True)
    if row.status != "active":
        raise LoanStateConflict(f"loan {loan_id} is {row.status}; only an active loan is "
                                "rescheduled")
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
    terms = _terms_from_json(row.terms_json)
    paid = engine.position(hist.plan, hist.events, max(today, hist.last_on or today),
                           hist.order).paid_towards_plan
    return engine.replan(current_plan(hist), terms, cut=cut or today,
                         extra_installments=extra, annual_rate=rate,
                         holiday_until=holiday_until, holiday_interest=holiday_interest,
                         frozen=frozen, interest_free=not holiday_interest,
                         outstanding=row.outstanding_minor, paid=paid)


def _switch(session: Session, row: LoanRow, hist: History, plan: Plan, *, kind: str, on: date,
            actor: str, clock: Clock) -> None:
    row.plan_version += 1
    periods, frozen = _plan_json(plan)
    session.add(PlanRow(loan_id=row.id, version=row.plan_version, effective_on=on,
                        periods_json=periods, frozen_json=frozen))
    events = [*hist.events, Switch(on, plan)]
    position = engine.position(hist.plan, events, on, hist.order)
    _record(session, row, hist, kind=kind, on=on, actor=actor, clock=clock, position=position)


def vote_reschedule(
    session: Session, loan_id: int, reschedule_id: int, *, voter_code: str | None,
    voter_username: str, decision: str, note: str | None, society: Society, actor: str,
    clock: Clock,
) -> Tally:
    row = _loan_row(session, loan_id, lock=True)
    request = session.get(RescheduleRow, reschedule_id)
    if request is None or request.loan_id != loan_id:
        raise NotFound(f"loan {loan_id} has no reschedule request {reschedule_id}")
    if request.status != "pending":
        raise LoanStateConflict(f"reschedule {reschedule_id} is {request.status}")
    if row.status != "active":
        raise LoanStateConflict(f"loan {loan_id} is {row.status}")
    tally = _cast(session, row=row, reschedule_id=reschedule_id, voter_code=voter_code,
                  voter_username=voter_username, decision=decision, note=note,
                  society=society, clock=clock)
    if tally.status == "pending":
        return tally
    request.status = tally.status
    request.decided_on = clock.today()
    if tally.status == "approved":
        today = clock.today()
        on = max(today, row.last_event_on or today)
        hist = history(session, row)
        plan = _replanned(row, hist, today=on, extra=request.extra_installments,
                          rate=Decimal(request.annual_rate) if request.annual_rate else None,
                          holiday_until=request.holiday_until)
        _switch(session, row, hist, plan, kind="reschedule", on=on, actor=actor, clock=clock)
        request.plan_version = row.plan_version
    return tally


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
            plan = engine.freeze(current_plan(hist), (from_on, to_on),
                                 interest_free=not accrue_interest)
        _switch(session, row, hist, plan, kind="moratorium", on=on, actor=actor, clock=clock)
        affected += 1
    moratorium = MoratoriumRow(from_on=from_on, to_on=to_on, accrue_interest=accrue_interest,
                               resolution=text, declared_by=actor, declared_at=clock.now(),
                               loans_affected=affected)
    session.add(moratorium)
    session.flush()
    return moratorium


# --- reports --------------------------------------------------------------------------------

BUCKETS = ("current", "1-30", "31-90", "91-180", "181-365", ">365")


def bucket_of(days: int) -> str:
    if days <= 0:
        return "current"
    for limit, name in ((30, "1-30"), (90, "31-90"), (180, "91-180"), (365, "181-365")):
        if days <= limit:
            return name
    return ">365"


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
            windows = [] if frozen_json in (None, "[]") else [
                (date.fromisoformat(w[0]), date.fromisoformat(w[1]))
                for w in json.loads(frozen_json)]
            days = (as_of - first_unpaid).days - engine.frozen_days(first_unpaid, as_of, windows)
        name = bucket_of(days)
        buckets[name] += outstanding
        counts[name] += 1
        total += outstanding
    return Portfolio(as_of, len(rows), total, buckets, counts)


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
    applications = [_loan(session, row) for row in session.scalars(
        select(LoanRow).where(LoanRow.status == "pending").order_by(LoanRow.id))]
    requests = list(session.scalars(select(RescheduleRow).where(
        RescheduleRow.status == "pending").order_by(RescheduleRow.id)))
    return applications, requests


def board_loans(session: Session) -> list[InsiderLoan]:
    """Loans to the members sitting on the board (auditors ask): every status, with the
    approvals they had."""
    rows = session.execute(
        select(LoanRow, MemberRow.code).join(MemberRow, MemberRow.id == LoanRow.member_id)
        .where(MemberRow.code.in_(sorted(board.seated(session)))).order_by(LoanRow.id)).all()
    return [InsiderLoan(row.id, code, row.status, row.principal_minor, row.outstanding_minor,
                        board.tally_of(session, _subject(row.id, 0)).approvals)
            for row, code in rows]


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
            products[row.product_id] = _product(session.get_one(ProductRow, row.product_id))
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


def check_share_cover(session: Session, member_code: str, society: Society) -> None:
    """After a share redemption: her savings and shares must still cover her open loans
    at the society's multiple (422 otherwise; the caller's transaction rolls back)."""
    member = get_member(session, member_code)
    exposure = session.execute(select(func.coalesce(func.sum(LoanRow.outstanding_minor), 0))
                               .where(LoanRow.member_id == member.id,
                                      LoanRow.status == "active")).scalar_one()
    pending = session.execute(select(func.coalesce(func.sum(LoanRow.principal_minor), 0))
                              .where(LoanRow.member_id == member.id,
                                     LoanRow.status.in_(("pending", "approved")))).scalar_one()
    guaranteed = session.execute(
        select(func.coalesce(func.sum(GuarantorRow.amount_minor), 0))
        .join(LoanRow, LoanRow.id == GuarantorRow.loan_id)
        .where(LoanRow.member_id == member.id, LoanRow.status.in_(OPEN_STATUSES))).scalar_one()
    owed = int(exposure) + int(pending)
    multiple = Fraction(Decimal(society.settings.max_loan_multiple_of_savings))
    if owed and owed > _cover(session, member_code) * multiple + int(guaranteed):
        raise AboveLimit(
            f"{member_code} owes {savings.money_text(session, owed)} on loans; this redemption "
            "would leave them without their share and savings cover", field="count")


__all__ = ["TermsInvalid"]
