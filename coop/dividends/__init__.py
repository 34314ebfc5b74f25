"""Year-end: closing the fiscal year, appropriating the surplus, and the dividend on shares
with an optional patronage rebate, from preview to payment (DESIGN.md §8, CONTRACT.md
Year-end and dividends).

* **Close** posts one entry on the year's last day that brings every income and expense
  account to zero against 3900 Current year surplus (a loss stays there, debit), then locks
  the period.
* **Preview** is a pure function of the closed year, the register and the request: the
  statutory appropriation, the dividend pool at the declared rate (or amount) on the chosen
  basis, each member's share by largest remainder (members in number order), the residue.
* **Declaration** (the board) stores that preview and posts the appropriation: Dr 3900 the net
  surplus; Cr 3100, 3110, 3120 the funds, 2100 Dividends payable what members get, 3200
  Undistributed surplus the rest and the residue.
* **Payment**: Dr 2100, Cr each active member's savings, one entry per member. A member who
  has left keeps hers in 2100 until paid out by hand. A declared, unpaid dividend may be
  cancelled: one entry undoes the appropriation; the year may then be declared again.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from coop.clock import Clock
from coop.db import Base
from coop.dividends.calc import (
    Appropriation,
    Basis,
    FiscalYear,
    Movement,
    appropriate,
    basis_value,
    periods_in_year,
    rate_pool,
    split,
)
from coop.errors import Conflict, InvalidInput, NotFound
from coop.ledger import (
    EntryDraft,
    PostingDraft,
    close_through,
    credit,
    debit,
    lock_balance,
    lock_book,
    post,
    queries,
)
from coop.ledger.chart import (
    CURRENT_YEAR_SURPLUS,
    DIVIDENDS_PAYABLE,
    EDUCATION_FUND,
    STATUTORY_RESERVE,
    UNDISTRIBUTED_SURPLUS,
    UNFORESEEN_LOSS_RESERVE,
)
from coop.ledger.model import PostedEntry, Side
from coop.ledger.orm import entry_table
from coop.ledger.service import post_many
from coop.loans import EventRow, LoanRow
from coop.members import MemberRow, savings_account
from coop.money import format_minor, parse_minor
from coop.savings.shares import ShareMovementRow
from coop.society import Society

PAYMENT_BATCH = 5000


class YearCloseRow(Base):
    __tablename__ = "fiscal_year_close"

    fiscal_year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start_on: Mapped[date]
    end_on: Mapped[date]
    net_surplus_minor: Mapped[int]
    closing_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    chain_head_seq: Mapped[int]
    chain_head_hash: Mapped[str] = mapped_column(String(64))
    closed_by: Mapped[str] = mapped_column(String(32))
    closed_at: Mapped[datetime]


class DeclarationRow(Base):
    __tablename__ = "dividend_declaration"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fiscal_year: Mapped[int] = mapped_column(ForeignKey("fiscal_year_close.fiscal_year"),
                                             index=True)
    status: Mapped[str] = mapped_column(String(12))  # declared, paid, cancelled
    request_json: Mapped[str] = mapped_column(Text)
    preview_json: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(String(200))
    appropriation_entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"))
    cancellation_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    payment_entries: Mapped[int]
    declared_by: Mapped[str] = mapped_column(String(32))
    declared_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]


class YearNotClosed(Conflict):
    code = "year_not_closed"
    title = "The fiscal year has not been closed"


class YearClosedAlready(Conflict):
    code = "year_closed_already"
    title = "The fiscal year is closed already"


class DividendStateConflict(Conflict):
    code = "dividend_state_conflict"
    title = "The dividend is not in a state that allows this"


class AboveCap(InvalidInput):
    code = "dividend_above_cap"
    title = "The dividend is above what may be paid"


# --- closing the year -----------------------------------------------------------------------


@dataclass(frozen=True)
class YearClose:
    fiscal_year: int
    start: date
    end: date
    net_surplus_minor: int
    closing_entry_id: int | None
    chain_head_seq: int
    chain_head_hash: str


def _serialise(session: Session) -> None:
    """Year-end steps run one at a time: each first locks the 3900 account row (they all
    move it, or follow one that did) and the book row (so no posting can slip into the year
    between reading its balances and locking it), then reads the state it checks, so a second
    close, declaration, payment or cancellation sees the first one committed and is refused."""
    lock_balance(session, CURRENT_YEAR_SURPLUS)
    lock_book(session)  # and no entry is posted while a step reads the year's balances


def fiscal_year(society: Society, name: int) -> FiscalYear:
    return FiscalYear.of(name, society.fiscal_year_start)


def _closed(session: Session, name: int) -> YearCloseRow | None:
    return session.get(YearCloseRow, name)


def close_year(session: Session, name: int, *, society: Society, actor: str,
               clock: Clock) -> YearClose:
    """Close fiscal year `name`: income and expense to 3900 on the year's last day, then
    lock every day through it. Refused before the year is over, twice, or out of order."""
    year = fiscal_year(society, name)
    _serialise(session)
    if _closed(session, name) is not None:
        raise YearClosedAlready(f"fiscal year {name} is closed already")
    if year.end >= clock.today():
        raise InvalidInput(f"fiscal year {name} ends on {year.end}; it can be closed from the "
                           "day after", field="fy")
    book = queries.book(session)
    if book is None:
        raise InvalidInput("the society has not been set up: run `coop init`")
    earlier = session.execute(select(func.min(entry_table.c.value_date))).scalar()
    if (earlier is not None and earlier < year.start
            and _closed(session, name - 1) is None):
        raise YearNotClosed(f"close fiscal year {name - 1} first: the book has entries "
                            "before this year")
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
    entry: PostedEntry | None = None
    if postings:
        if net:
            postings.append(PostingDraft(CURRENT_YEAR_SURPLUS,
                                         Side.CREDIT if net > 0 else Side.DEBIT, abs(net)))
        entry = post(session, EntryDraft(
            value_date=year.end, kind="year_close", actor=actor,
            narration=f"Fiscal year {name} closed: income and expense to current year surplus",
            postings=tuple(postings)), clock=clock)
    close_through(session, year.end, clock=clock)
    head = queries.book(session)
    row = YearCloseRow(
        fiscal_year=name, start_on=year.start, end_on=year.end, net_surplus_minor=net,
        closing_entry_id=entry.id if entry else None,
        chain_head_seq=head.head_seq if head else 0,
        chain_head_hash=head.head_hash if head else "", closed_by=actor, closed_at=clock.now())
    session.add(row)
    session.flush()
    return _year(row)


def _year(row: YearCloseRow) -> YearClose:
    return YearClose(row.fiscal_year, row.start_on, row.end_on, row.net_surplus_minor,
                     row.closing_entry_id, row.chain_head_seq, row.chain_head_hash)


def get_close(session: Session, name: int) -> YearClose:
    row = _closed(session, name)
    if row is None:
        raise YearNotClosed(f"fiscal year {name} has not been closed")
    return _year(row)


# --- the preview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What the board declares (or an auditor tries)."""

    dividend_rate: Decimal | None
    dividend_amount: int | None = None
    patronage_rebate_percent: Decimal | None = None
    basis: Basis | None = None

    def to_json(self) -> str:
        return json.dumps({
            "dividend_rate": str(self.dividend_rate) if self.dividend_rate is not None
            else None,
            "dividend_amount": self.dividend_amount,
            "patronage_rebate_percent": str(self.patronage_rebate_percent)
            if self.patronage_rebate_percent is not None else None,
            "basis": self.basis.value if self.basis else None}, sort_keys=True)


@dataclass(frozen=True)
class MemberShare:
    member_code: str
    basis_value: int
    dividend: int
    rebate: int
    interest_paid: int

    @property
    def total(self) -> int:
        return self.dividend + self.rebate


@dataclass(frozen=True)
class Preview:
    fiscal_year: int
    net_surplus: int
    appropriations: list[Appropriation]
    distributable: int
    rate: Decimal
    basis: Basis
    pool: int
    allocated: int
    residue: int
    rebate_percent: Decimal
    rebate_pool: int
    rebate_allocated: int
    rebate_residue: int
    members: list[MemberShare]

    @property
    def undistributed(self) -> int:
        """What goes to 3200: the distributable balance less what members get."""
        return self.distributable - self.allocated - self.rebate_allocated


def funds(society: Society) -> list[tuple[str, str, Decimal]]:
    settings = society.settings
    return [("statutory_reserve", STATUTORY_RESERVE, Decimal(settings.reserve_fund_percent)),
            ("education_fund", EDUCATION_FUND, Decimal(settings.education_fund_percent)),
            ("unforeseen_loss_reserve", UNFORESEEN_LOSS_RESERVE,
             Decimal(settings.unforeseen_loss_reserve_percent))]


@dataclass(frozen=True)
class _Member:
    code: str
    exited_on: date | None
    movements: list[Movement]


def _register(session: Session, year: FiscalYear) -> list[_Member]:
    """Every member with shares at any time up to the year's end, by member number."""
    rows = session.execute(
        select(MemberRow.code, MemberRow.exited_on, ShareMovementRow.value_date,
               ShareMovementRow.count)
        .join(ShareMovementRow, ShareMovementRow.member_id == MemberRow.id)
        .where(ShareMovementRow.value_date <= year.end)
        .order_by(MemberRow.code, ShareMovementRow.value_date, ShareMovementRow.id))
    found: list[_Member] = []
    for code, exited_on, on, count in rows:
        if not found or found[-1].code != code:
            found.append(_Member(code, exited_on, []))
        found[-1].movements.append(Movement(on, count))
    return found


def _interest_paid(session: Session, year: FiscalYear) -> dict[str, int]:
    rows = session.execute(
        select(MemberRow.code, func.sum(EventRow.interest_minor))
        .join(LoanRow, LoanRow.member_id == MemberRow.id)
        .join(EventRow, EventRow.loan_id == LoanRow.id)
        .where(EventRow.kind == "repayment", EventRow.value_date >= year.start,
               EventRow.value_date <= year.end)
        .group_by(MemberRow.code))
    return {code: int(total or 0) for code, total in rows}


def preview(session: Session, name: int, request: Request, *, society: Society,
            progress: Callable[[int, int], None] | None = None) -> Preview:
    """The whole year-end distribution for `request`: no side effects, and the same input
    always gives the same output."""
    settings = society.settings
    closed = get_close(session, name)
    year = fiscal_year(society, name)
    kind = request.basis or Basis(settings.dividend_basis)
    cap = Decimal(settings.dividend_cap_percent)
    if (request.dividend_rate is None) == (request.dividend_amount is None):
        raise InvalidInput("declare either dividend_rate or dividend_amount",
                           field="dividend_rate")
    appropriations, distributable = appropriate(closed.net_surplus_minor, funds(society))
    face = society.share_face_value_minor
    register = _register(session, year)
    pay_exited = settings.dividend_exited_members == "time_held"
    bases = []
    for number, member in enumerate(register, start=1):
        if progress is not None and (number % 1000 == 0 or number == len(register)):
            progress(number, len(register))
        until = member.exited_on if member.exited_on and member.exited_on <= year.end else None
        if until is not None and not pay_exited:
            bases.append(0)
        else:
            bases.append(basis_value(kind, member.movements, year, face, until=until))
    total_basis = sum(bases)
    if request.dividend_rate is not None:
        rate = request.dividend_rate
        if not Decimal(0) <= rate <= cap:
            raise AboveCap(f"the rate may not exceed dividend_cap_percent, {cap} %",
                           field="dividend_rate")
        pool = rate_pool(total_basis, rate, kind, year)
    else:
        pool = request.dividend_amount or 0
        if pool < 0 or pool > rate_pool(total_basis, cap, kind, year):
            raise AboveCap(f"the amount is above the dividend_cap_percent ({cap} %) of the "
                           "paid-up capital", field="dividend_amount")
        periods = periods_in_year(kind, year)
        rate = (Decimal(pool) * 100 * periods / Decimal(total_basis)).quantize(
            Decimal("0.0001")) if total_basis else Decimal(0)
    unit = _unit(society)
    dividends = split(pool, bases, unit)
    interest = _interest_paid(session, year)
    paid = [interest.get(member.code, 0) for member in register]
    extra = [(code, amount) for code, amount in sorted(interest.items())
             if code not in {m.code for m in register}]
    codes = [m.code for m in register] + [code for code, _ in extra]
    bases += [0] * len(extra)
    paid += [amount for _, amount in extra]
    rebate_percent = request.patronage_rebate_percent or Decimal(0)
    if not Decimal(0) <= rebate_percent <= Decimal(100):
        raise InvalidInput("patronage_rebate_percent is between 0 and 100",
                           field="patronage_rebate_percent")
    exact = sum(paid) * rebate_percent / 100
    rebate_pool = int(exact)
    rebates = split(rebate_pool, paid, unit)
    amounts = dividends.amounts + [0] * len(extra)
    if pool + rebate_pool > distributable:
        raise AboveCap(
            f"the dividend and rebate ({format_minor(pool + rebate_pool, _currency(session))}) "
            f"are more than the distributable balance "
            f"({format_minor(distributable, _currency(session))})", field="dividend_rate")
    members = [MemberShare(code, basis, dividend, rebate, interest_paid)
               for code, basis, dividend, rebate, interest_paid
               in sorted(zip(codes, bases, amounts, rebates.amounts, paid, strict=True))
               if basis or dividend or rebate]
    return Preview(name, closed.net_surplus_minor, appropriations, distributable, rate, kind,
                   pool, dividends.allocated, dividends.residue, rebate_percent, rebate_pool,
                   rebates.allocated, rebates.residue, members)


def _unit(society: Society) -> int:
    return parse_minor(society.settings.dividend_rounding, society.currency, field="settings")


def _currency(session: Session) -> str:
    book = queries.book(session)
    return book.currency if book else "INR"


def preview_document(preview: Preview, currency: str) -> dict[str, Any]:
    """The preview as CONTRACT.md shapes it (money as decimal strings)."""
    def m(amount: int) -> str:
        return format_minor(amount, currency)

    return {
        "fiscal_year": preview.fiscal_year,
        "net_surplus": m(preview.net_surplus),
        "appropriations": [{"fund": a.fund, "account": a.account, "percent": str(a.percent),
                            "amount": m(a.amount)} for a in preview.appropriations],
        "distributable": m(preview.distributable),
        "dividend": {"rate": str(preview.rate), "basis": preview.basis.value,
                     "pool": m(preview.pool), "allocated": m(preview.allocated),
                     "residue": m(preview.residue)},
        "rebate": {"percent": str(preview.rebate_percent), "pool": m(preview.rebate_pool),
                   "allocated": m(preview.rebate_allocated),
                   "residue": m(preview.rebate_residue)},
        "undistributed": m(preview.undistributed),
        "allocations": [{"member_code": s.member_code, "basis_value": m(s.basis_value),
                         "dividend": m(s.dividend), "rebate": m(s.rebate), "total": m(s.total)}
                        for s in preview.members],
    }


# --- declaration, payment, cancellation -------------------------------------------------------


def _current(session: Session, name: int) -> DeclarationRow | None:
    return session.execute(select(DeclarationRow).where(
        DeclarationRow.fiscal_year == name, DeclarationRow.status != "cancelled")
        .order_by(DeclarationRow.id.desc())).scalar()


def declare(session: Session, name: int, request: Request, *, society: Society,
            resolution: str | None, actor: str, clock: Clock) -> tuple[DeclarationRow, Preview]:
    """The board declares: the preview is stored and the appropriation posted."""
    _serialise(session)
    get_close(session, name)  # 409 before the year is closed
    if _current(session, name) is not None:
        raise DividendStateConflict(f"a dividend for {name} has been declared already")
    result = preview(session, name, request, society=society)
    postings: list[PostingDraft] = []
    if result.net_surplus > 0:
        postings.append(debit(CURRENT_YEAR_SURPLUS, result.net_surplus))
        for fund in result.appropriations:
            if fund.amount:
                postings.append(credit(fund.account, fund.amount))
        payable = result.allocated + result.rebate_allocated
        if payable:
            postings.append(credit(DIVIDENDS_PAYABLE, payable))
        if result.undistributed:
            postings.append(credit(UNDISTRIBUTED_SURPLUS, result.undistributed))
    if len(postings) < 2:
        raise InvalidInput(f"fiscal year {name} has no surplus to appropriate",
                           field="fy")
    entry = post(session, EntryDraft(
        value_date=clock.today(), kind="dividend_declaration", actor=actor,
        narration=f"Fiscal year {name}: surplus appropriated, dividend "
                  f"{result.rate} % declared", postings=tuple(postings)), clock=clock)
    row = DeclarationRow(
        fiscal_year=name, status="declared", request_json=request.to_json(),
        preview_json=json.dumps(preview_document(result, _currency(session)), sort_keys=True),
        resolution=resolution, appropriation_entry_id=entry.id, cancellation_entry_id=None,
        payment_entries=0, declared_by=actor, declared_at=clock.now(), paid_at=None)
    session.add(row)
    session.flush()
    return row, result


def get_declaration(session: Session, name: int) -> DeclarationRow:
    row = _current(session, name) or session.execute(
        select(DeclarationRow).where(DeclarationRow.fiscal_year == name)
        .order_by(DeclarationRow.id.desc())).scalar()
    if row is None:
        raise NotFound(f"no dividend has been declared for {name}", field="fy")
    return row


def pay(session: Session, name: int, *, actor: str, clock: Clock) -> DeclarationRow:
    """Every active member's dividend and rebate into her savings: Dr 2100, Cr her savings."""
    _serialise(session)
    row = _current(session, name)
    if row is None:
        raise DividendStateConflict(f"no dividend for {name} is declared")
    if row.status != "declared":
        raise DividendStateConflict(f"the dividend for {name} is {row.status}")
    document = json.loads(row.preview_json)
    currency = _currency(session)
    active = {code for (code,) in session.execute(
        select(MemberRow.code).where(MemberRow.status == "active"))}
    drafts = []
    for line in document["allocations"]:
        amount = parse_minor(line["total"], currency, allow_zero=True)
        if amount and line["member_code"] in active:
            drafts.append(EntryDraft(
                value_date=clock.today(), kind="dividend_payment", actor=actor,
                narration=f"Dividend and rebate, fiscal year {name}",
                postings=(debit(DIVIDENDS_PAYABLE, amount),
                          credit(savings_account(line["member_code"]), amount))))
    for first in range(0, len(drafts), PAYMENT_BATCH):
        post_many(session, drafts[first:first + PAYMENT_BATCH], clock=clock)
    row.status = "paid"
    row.payment_entries = len(drafts)
    row.paid_at = clock.now()
    return row


def cancel(session: Session, name: int, *, actor: str, clock: Clock) -> DeclarationRow:
    """Undo a declared, unpaid dividend with one entry that negates the appropriation."""
    _serialise(session)
    row = _current(session, name)
    if row is None or row.status != "declared":
        raise DividendStateConflict(f"no declared, unpaid dividend for {name} to cancel")
    original = queries.load_entry(session, row.appropriation_entry_id)
    if original is None:
        raise NotFound("the appropriation entry is missing")
    entry = post(session, EntryDraft(
        value_date=clock.today(), kind="dividend_cancellation", actor=actor,
        narration=f"Fiscal year {name}: dividend declaration cancelled",
        postings=tuple(PostingDraft(p.account, Side.CREDIT if p.side is Side.DEBIT
                                    else Side.DEBIT, p.amount_minor)
                       for p in original.postings)), clock=clock)
    row.status = "cancelled"
    row.cancellation_entry_id = entry.id
    return row


def report_csv(session: Session, name: int) -> str:
    """The auditor's CSV: one row per member of the declared (or paid) dividend."""
    return preview_csv(json.loads(get_declaration(session, name).preview_json))


def preview_csv(document: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["member_code", "basis_value", "dividend", "rebate", "total"])
    for line in document["allocations"]:
        writer.writerow([line["member_code"], line["basis_value"], line["dividend"],
                         line["rebate"], line["total"]])
    return out.getvalue()



__all__ = ["Basis", "Request", "YearClose", "close_year", "preview", "preview_csv",
           "preview_document"]
