"""Savings at the counter: deposits of any size, withdrawals up to the available balance,
holds (liens) that other modules place and release, and the member's statement.

Available balance = balance - active holds. A withdrawal locks the member's savings account
row first, reads the balance and the holds under that lock, then posts in the same
transaction, so two clerks paying out at once can never pass the same rupee twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import ForeignKey, Integer, String, Table, bindparam, case, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from coop.clock import Clock
from coop.db import Base
from coop.db_statements import Prepared
from coop.errors import Conflict, InvalidInput, NotFound
from coop.ledger import (
    EntryDraft,
    credit,
    debit,
    lock_ahead,
    lock_balance,
    lock_balances,
    post,
    post_and_balance,
    queries,
)
from coop.ledger.chart import SAVINGS
from coop.ledger.model import InsufficientFunds, PostedEntry, check_text, signed_balance
from coop.ledger.orm import account_table
from coop.members import (
    MemberNotActive,
    MemberNotFound,
    MemberRow,
    get_member,
    member_facts,
    savings_account,
)
from coop.members.codes import is_valid
from coop.money import Amount, format_minor
from coop.society import book_currency, check_counter_request
from coop.tills import cash_account, cash_account_seen, read_cash_account_ahead

NARRATION_LENGTH_MAX = 120
member_table = cast(Table, MemberRow.__table__)
_MEMBER_BY_CODE = Prepared(select(member_table.c.id, member_table.c.status).where(
    member_table.c.code == bindparam("code")))


class HoldRow(Base):
    __tablename__ = "savings_hold"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    amount_minor: Mapped[int]
    reason: Mapped[str] = mapped_column(String(120))
    placed_by: Mapped[str] = mapped_column(String(32))
    placed_at: Mapped[datetime]
    released_at: Mapped[datetime | None]


@dataclass(frozen=True)
class SavingsBalance:
    balance_minor: int
    held_minor: int

    @property
    def available_minor(self) -> int:
        return self.balance_minor - self.held_minor


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    value_date: date
    narration: str
    deposit_minor: int
    withdrawal_minor: int
    balance_minor: int


def _active(session: Session, code: str) -> int:
    """The id of the active member with this number (one indexed Core lookup)."""
    return _active_and_held(session, code, _MEMBER_BY_CODE)[0]


def _active_and_held(session: Session, code: str, lookup: Prepared) -> tuple[int, int]:
    """The id of the active member with this number and, with `_MEMBER_AND_HELD`, what is on
    hold on her savings (one statement)."""
    if not is_valid(code):
        raise MemberNotFound.said("there is no member {code}", code=repr(code[:20]), field="code")
    row = lookup.execute(session, {"code": code}).fetchone()
    if row is None:
        raise MemberNotFound.said("there is no member {code}", code=code, field="code")
    if row[1] != "active":
        raise MemberNotActive.said("{code} has exited", code=code)
    return int(row[0]), int(row[2]) if len(row) > 2 else 0


def money_text(session: Session, amount_minor: int) -> str:
    """An amount for a message a clerk reads: "250.00", in the book's currency."""
    return format_minor(amount_minor, book_currency(session))


_hold_table = cast(Table, HoldRow.__table__)
_HELD = Prepared(select(func.coalesce(func.sum(_hold_table.c.amount_minor), 0)).where(
    _hold_table.c.member_id == bindparam("member_id"), _hold_table.c.released_at.is_(None)))


_MEMBER_AND_HELD = Prepared(select(
    member_table.c.id, member_table.c.status,
    select(func.coalesce(func.sum(_hold_table.c.amount_minor), 0))
    .where(_hold_table.c.member_id == member_table.c.id, _hold_table.c.released_at.is_(None))
    .scalar_subquery(),
).where(member_table.c.code == bindparam("code")))


def held(session: Session, member_id: int) -> int:
    """What is on hold on the member's savings (Core: every counter request asks)."""
    return int(_HELD.execute(session, {"member_id": member_id}).fetchone()[0])


def balances(session: Session, code: str) -> SavingsBalance:
    member = get_member(session, code)
    return SavingsBalance(queries.balance(session, savings_account(code)) or 0,
                          held(session, member.id))


def read_deposit_ahead(session: Session, code: str, actor: str) -> None:
    """The reads `record_deposit` starts with (the member with her holds, the clerk's till),
    sent ahead with the transaction's next statement, on PostgreSQL in the same round trip as
    a request's Idempotency-Key claim (coop.db_statements.Prepared.ahead)."""
    if is_valid(code):
        _MEMBER_AND_HELD.ahead(session, {"code": code})
        _cash_and_locks_ahead(session, code, actor)


def read_withdrawal_ahead(session: Session, code: str, actor: str) -> None:
    """`record_withdrawal`'s first reads (the member, the clerk's till), as for a deposit."""
    if is_valid(code):
        _MEMBER_BY_CODE.ahead(session, {"code": code})
        _cash_and_locks_ahead(session, code, actor)


def _cash_and_locks_ahead(session: Session, code: str, actor: str) -> None:
    """The till's read ahead and, when an earlier request of this transaction (a group
    commit's) found the clerk's cash account, the lock of the accounts the entry will post to
    (coop.ledger.lock_ahead: only those not held yet, and only when the book is held)."""
    read_cash_account_ahead(session, actor)
    cash = cash_account_seen(session, actor)
    if cash is not None:
        lock_ahead(session, (cash, savings_account(code)))


def record_deposit(
    session: Session, code: str, *, amount_minor: int, value_date: date, actor: str,
    clock: Clock, narration: str | None = None, key: str | None = None,
    confirmed: bool | None = None,
) -> tuple[PostedEntry, SavingsBalance]:
    """Cash in at the counter: Dr 1000 Cash on hand, Cr the member's savings. A `key` makes
    it exactly-once: the same key again returns the first entry (`replayed`). A counter
    request passes `confirmed` (True or False) and meets the counter limits; None is not
    limited (internal callers)."""
    _, on_hold = _active_and_held(session, code, _MEMBER_AND_HELD)
    check_counter_request(session, amount_minor, confirmed=confirmed)
    text = check_text(narration or "Deposit", field="narration",
                      length_max=NARRATION_LENGTH_MAX)
    account = savings_account(code)
    entry, balance = post_and_balance(session, EntryDraft(
        value_date=value_date, narration=text, kind="deposit", actor=actor,
        postings=(debit(cash_account(session, actor), amount_minor),
                  credit(account, amount_minor)),
        idempotency_key=key,
    ), account, clock=clock)
    return entry, SavingsBalance(balance, on_hold)


def record_withdrawal(
    session: Session, code: str, *, amount_minor: int, value_date: date, actor: str,
    clock: Clock, narration: str | None = None, key: str | None = None,
    confirmed: bool | None = None,
) -> tuple[PostedEntry, SavingsBalance]:
    """Cash out at the counter, never beyond the available balance (exactly once per
    `key`: a retry after the first went through returns it rather than checking again).
    `confirmed` as for a deposit: the counter limits for counter requests only."""
    member_id = _active(session, code)
    check_counter_request(session, amount_minor, confirmed=confirmed)
    text = check_text(narration or "Withdrawal", field="narration",
                      length_max=NARRATION_LENGTH_MAX)
    account = savings_account(code)
    cash = cash_account(session, actor)  # the till row first, as a deposit takes it
    balance = lock_balances(session, (account, cash))[account]  # all in post's order
    on_hold = held(session, member_id)
    done = queries.replay_of(session, key, kind="withdrawal", amount_minor=amount_minor)
    if done is not None:
        return done, SavingsBalance(balance, on_hold)
    if amount_minor > balance - on_hold:
        raise InsufficientFunds.said(
            "the available balance is {amount}",
            amount=Amount(balance - on_hold, book_currency(session)), field="amount")
    entry = post(session, EntryDraft(
        value_date=value_date, narration=text, kind="withdrawal", actor=actor,
        postings=(debit(account, amount_minor), credit(cash, amount_minor)),
        idempotency_key=key,
    ), clock=clock)
    return entry, SavingsBalance(balance - amount_minor, on_hold)


def place_hold(
    session: Session, code: str, *, amount_minor: int, reason: str, actor: str, clock: Clock,
) -> HoldRow:
    """Set aside part of the savings (a guarantor's lien): it can no longer be withdrawn."""
    member_id = _active(session, code)
    if amount_minor <= 0:
        raise InvalidInput("a hold is more than zero", field="amount")
    balance = lock_balance(session, savings_account(code))
    if amount_minor > balance - held(session, member_id):
        raise InsufficientFunds("a hold cannot exceed the available balance", field="amount")
    hold = HoldRow(member_id=member_id, amount_minor=amount_minor, placed_by=actor,
                   reason=check_text(reason, field="reason", length_max=120),
                   placed_at=clock.now(), released_at=None)
    session.add(hold)
    session.flush()
    return hold


def release_hold(session: Session, code: str, hold_id: int, *, clock: Clock) -> HoldRow:
    member = get_member(session, code)
    hold = session.get(HoldRow, hold_id)
    if hold is None or hold.member_id != member.id:
        raise NotFound.said(
            "no hold {hold_id} on {code}",
            hold_id=hold_id, code=code, field="hold_id")
    if hold.released_at is not None:
        raise Conflict.said("hold {hold_id} was released already", hold_id=hold_id)
    hold.released_at = clock.now()
    return hold


def holds_of(session: Session, code: str) -> list[HoldRow]:
    """Her holds still in force (not released), oldest first."""
    member = get_member(session, code)
    return list(session.scalars(select(HoldRow).where(
        HoldRow.member_id == member.id, HoldRow.released_at.is_(None)).order_by(HoldRow.id)))


def release_hold_by_id(session: Session, hold_id: int, *, clock: Clock) -> None:
    """Release a hold another room placed (a loan's guarantee ends); once released, again is
    a no-op. (`release_hold` is the clerk's, by member number, and refuses a second time.)"""
    hold = session.get_one(HoldRow, hold_id)
    if hold.released_at is None:
        hold.released_at = clock.now()


def resize_hold(session: Session, hold_id: int, amount_minor: int, *, clock: Clock) -> None:
    """Set a hold to `amount_minor` (more than zero): a guarantee shrinking with the loan.
    A released hold stays released. `clock` is kept for the holds' audit of changes."""
    if amount_minor <= 0:
        raise InvalidInput("a hold is more than zero", field="amount")
    hold = session.get_one(HoldRow, hold_id)
    if hold.released_at is None:
        hold.amount_minor = amount_minor


def grow_hold(session: Session, hold_id: int, amount_minor: int, *, clock: Clock) -> None:
    """Raise a hold back to `amount_minor` (a released one is placed again): a guarantee that
    grows when a correction puts principal back on the loan. Refused, naming the member and
    the figure, when her available savings cannot carry the increase."""
    hold = session.get_one(HoldRow, hold_id)
    now = 0 if hold.released_at is not None else hold.amount_minor
    if amount_minor <= now:
        return
    code = str(session.execute(select(MemberRow.code).where(
        MemberRow.id == hold.member_id)).scalar_one())
    available = lock_balance(session, savings_account(code)) - held(session, hold.member_id)
    if amount_minor - now > available:
        raise InsufficientFunds.said(
            "{code}'s guarantee needs {amount} more on hold; her available savings are "
            "{available}",
            code=code, amount=Amount(amount_minor - now, book_currency(session)),
            available=Amount(available, book_currency(session)), field="entry_id")
    hold.amount_minor = amount_minor
    hold.released_at = None
    session.flush()


def hold_amounts(session: Session, hold_ids: Sequence[int]) -> dict[int, int]:
    """What each hold still holds (0 once released)."""
    if not hold_ids:
        return {}
    rows = session.execute(select(HoldRow.id, HoldRow.amount_minor, HoldRow.released_at)
                           .where(HoldRow.id.in_(sorted(set(hold_ids)))))
    return {hold_id: 0 if released else amount for hold_id, amount, released in rows}


def statement(
    session: Session, code: str, *, from_on: date | None = None, to_on: date | None = None,
) -> list[StatementLine]:
    """The member's savings entries in date order with the running balance after each."""
    get_member(session, code)
    found = queries.account_lines(session, savings_account(code), from_on=from_on, to_on=to_on,
                                  order="value_date")
    if found is None:
        raise NotFound.said("{code} has no savings account", code=code)
    return [StatementLine(line.entry_id, line.value_date, line.narration, line.credit_minor,
                          line.debit_minor, line.balance_minor) for line in found.lines]


def member_balances(session: Session, control: str) -> dict[str, int]:
    """Every member sub-account of the control account `control` (2000, 3000) by its owner's
    member number, with its balance: one read of the ledger's account counters."""
    parent = select(account_table.c.id).where(account_table.c.code == control)
    rows = session.execute(
        select(account_table.c.owner, account_table.c.normal_side,
               account_table.c.debits_posted, account_table.c.credits_posted)
        .where(account_table.c.parent_id.in_(parent)))
    return {str(owner): signed_balance(side, debits_minor=debits, credits_minor=credits)
            for owner, side, debits, credits in rows}


def reconcile_holds(session: Session) -> list[tuple[str | None, str]]:
    """The holds against the savings: (savings account, problem) for each member whose
    unreleased holds exceed her savings balance, or who has a hold of zero or less. One read
    of the holds, one of the balances, one of the member numbers."""
    rows = session.execute(
        select(HoldRow.member_id,
               func.coalesce(func.sum(case((HoldRow.released_at.is_(None),
                                            HoldRow.amount_minor), else_=0)), 0),
               func.min(HoldRow.amount_minor))
        .group_by(HoldRow.member_id)).all()
    if not rows:
        return []
    codes = {member_id: facts.code for member_id, facts in member_facts(session).items()}
    saved = member_balances(session, SAVINGS)
    problems: list[tuple[str | None, str]] = []
    for member_id, on_hold, smallest in sorted(rows, key=lambda r: codes.get(r[0], "")):
        code = codes.get(member_id, f"#{member_id}")
        account = savings_account(code)
        if smallest <= 0:
            problems.append((account, f"holds {code}: a hold of "
                                      f"{money_text(session, int(smallest))}, not more than zero"))
        balance = saved.get(code, 0)
        if on_hold > balance:
            problems.append((account, f"holds {code}: {money_text(session, int(on_hold))} on "
                                      f"hold, the savings balance {money_text(session, balance)}"))
    return problems


__all__ = [
    "HoldRow",
    "SavingsBalance",
    "StatementLine",
    "balances",
    "grow_hold",
    "hold_amounts",
    "holds_of",
    "place_hold",
    "record_deposit",
    "record_withdrawal",
    "release_hold",
    "release_hold_by_id",
    "resize_hold",
    "statement",
]
