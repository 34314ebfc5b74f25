"""Shares: bought at the society's face value, for cash or from savings; the share register.

Every purchase is one journal entry (Dr cash or the member's savings, Cr her share account)
and one row in the share register with the number of shares, so the count as of any date is
a sum, and the share account's balance is their value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import ForeignKey, Integer, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from coop.clock import Clock
from coop.db import Base
from coop.errors import InvalidInput
from coop.ledger import EntryDraft, credit, debit, lock_balance, post, queries
from coop.ledger.chart import SHARE_CAPITAL
from coop.ledger.model import InsufficientFunds, PostedEntry
from coop.members import (
    MemberNotActive,
    get_member,
    member_facts,
    savings_account,
    shares_account,
)
from coop.money import Amount
from coop.savings import held, member_balances, money_text
from coop.society import book_currency, check_counter_request, get_society
from coop.tills import cash_account

SHARES_PER_PURCHASE_MAX = 100_000


class ShareMovementRow(Base):
    __tablename__ = "member_share_movement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"))
    count: Mapped[int]
    value_date: Mapped[date]


@dataclass(frozen=True)
class Holding:
    count: int
    value_minor: int


def buy_shares(
    session: Session, code: str, *, count: int, source: Literal["cash", "savings"],
    face_value_minor: int, value_date: date, actor: str, clock: Clock, key: str | None = None,
    confirmed: bool | None = None,
) -> tuple[PostedEntry, Holding]:
    """Shares at face value, for cash or from savings; exactly once per `key`. A counter
    request passes `confirmed` and its value (count x face value) meets the counter limits."""
    member = get_member(session, code)
    if member.status != "active":
        raise MemberNotActive.said("{code} has exited", code=code)
    if not 1 <= count <= SHARES_PER_PURCHASE_MAX:
        raise InvalidInput.said(
            "buy 1 to {shares_per_purchase_max} shares",
            shares_per_purchase_max=SHARES_PER_PURCHASE_MAX, field="count")
    amount = count * face_value_minor
    check_counter_request(session, amount, confirmed=confirmed, field="count")
    paid_from = cash_account(session, actor) if source == "cash" else savings_account(code)
    balance = lock_balance(session, paid_from) if source == "savings" else 0
    done = queries.replay_of(session, key, kind="share_purchase", amount_minor=amount)
    if done is not None:
        return done, holding(session, code)
    if source == "savings":  # held money is not hers to spend: as for a withdrawal
        available = balance - held(session, member.id)
        if amount > available:
            raise InsufficientFunds.said(
                "the available balance is {available}",
                available=Amount(available, book_currency(session)), field="count")
    entry = post(session, EntryDraft(
        value_date=value_date, kind="share_purchase", actor=actor, idempotency_key=key,
        narration=f"{count} share{'s' if count > 1 else ''} bought"
                  f"{' from savings' if source == 'savings' else ''}",
        postings=(debit(paid_from, amount), credit(shares_account(code), amount)),
    ), clock=clock)
    if entry.replayed:  # a retry that waited on the first attempt's lock: it is done
        return entry, holding(session, code)
    session.add(ShareMovementRow(member_id=member.id, entry_id=entry.id, count=count,
                                 value_date=value_date))
    session.flush()
    return entry, holding(session, code)


def holding(session: Session, code: str, *, as_of: date | None = None) -> Holding:
    """The member's shares (count and paid-up value), now or at the end of a day."""
    member = get_member(session, code)
    query = select(func.coalesce(func.sum(ShareMovementRow.count), 0)).where(
        ShareMovementRow.member_id == member.id)
    if as_of is not None:
        query = query.where(ShareMovementRow.value_date <= as_of)
    count = int(session.execute(query).scalar_one())
    value = (queries.balance(session, shares_account(code)) if as_of is None
             else queries.balance_as_of(session, shares_account(code), as_of))
    return Holding(count=count, value_minor=value or 0)


class BelowMinimumShares(InvalidInput):
    code = "below_minimum_shares"
    title = "An active member keeps the minimum shares"


def redeem_shares(
    session: Session, code: str, *, count: int, to: Literal["cash", "savings"],
    face_value_minor: int, min_shares: int, value_date: date, actor: str, clock: Clock,
) -> tuple[PostedEntry, Holding]:
    """Pay back shares at the face value (board or admin decides). An active member keeps at
    least `min_shares`. The check that no outstanding loan is left without its share cover
    comes with the loans module, which owns that rule."""
    member = get_member(session, code)
    if not 1 <= count <= SHARES_PER_PURCHASE_MAX:
        raise InvalidInput.said(
            "redeem 1 to {shares_per_purchase_max} shares",
            shares_per_purchase_max=SHARES_PER_PURCHASE_MAX, field="count")
    now = holding(session, code)
    if count > now.count:
        raise InvalidInput.said(
            "{code} holds {count} shares",
            code=code, count=now.count, field="count")
    if member.status == "active" and now.count - count < min_shares:
        raise BelowMinimumShares.said(
            "an active member keeps at least {min_shares} share(s); {code} would keep {amount}",
            min_shares=min_shares, code=code, amount=now.count - count, field="count")
    amount = count * face_value_minor
    paid_to = cash_account(session, actor) if to == "cash" else savings_account(code)
    entry = post(session, EntryDraft(
        value_date=value_date, kind="share_redemption", actor=actor,
        narration=f"{count} share{'s' if count > 1 else ''} redeemed"
                  f"{' to savings' if to == 'savings' else ''}",
        postings=(debit(shares_account(code), amount), credit(paid_to, amount)),
    ), clock=clock)
    session.add(ShareMovementRow(member_id=member.id, entry_id=entry.id, count=-count,
                                 value_date=value_date))
    session.flush()
    return entry, holding(session, code)


@dataclass(frozen=True)
class RegisterLine:
    member_code: str
    count: int


def share_register(session: Session, *, as_of: date | None = None) -> list[RegisterLine]:
    """Every member holding shares at the end of `as_of` (or now), by member number."""
    from coop.members import MemberRow

    query = (
        select(MemberRow.code, func.sum(ShareMovementRow.count))
        .join(MemberRow, MemberRow.id == ShareMovementRow.member_id)
        .group_by(MemberRow.code).order_by(MemberRow.code)
    )
    if as_of is not None:
        query = query.where(ShareMovementRow.value_date <= as_of)
    return [RegisterLine(code, int(count)) for code, count in session.execute(query) if count]


@dataclass(frozen=True)
class ShareHistory:
    """One member's share movements, oldest first, and the day she left (if she has)."""

    member_code: str
    exited_on: date | None
    movements: list[tuple[date, int]]  # (value date, shares bought, or redeemed if negative)




def share_movements_until(session: Session, end: date) -> list[ShareHistory]:
    """Every member with a share movement on or before `end`, by member number, each with her
    movements up to `end` in date order (the dividend register). Members and their exit days
    come from `coop.members` in one plain read."""
    rows = session.execute(
        select(ShareMovementRow.member_id, ShareMovementRow.value_date, ShareMovementRow.count)
        .where(ShareMovementRow.value_date <= end)
        .order_by(ShareMovementRow.member_id, ShareMovementRow.value_date,
                  ShareMovementRow.id))
    by_member: dict[int, list[tuple[date, int]]] = {}
    for member_id, value_date, count in rows:
        by_member.setdefault(member_id, []).append((value_date, count))
    facts = member_facts(session)
    found = [ShareHistory(facts[member_id].code, facts[member_id].exited_on, movements)
             for member_id, movements in by_member.items()]
    return sorted(found, key=lambda history: history.member_code)


def reconcile(session: Session) -> list[tuple[str | None, str]]:
    """The share register against the ledger: (share account, problem) for each member whose
    shares on the register at the society's face value (fixed when the society is set up;
    every purchase and redemption is made at it) are not her share account's balance, and
    (3000, problem) when the register's total is not the members' share capital. One read of
    the register, one of the share accounts, one of the member numbers."""
    society = get_society(session)
    if society is None:
        return []
    face = society.share_face_value_minor
    counts = {member_id: int(count) for member_id, count in session.execute(
        select(ShareMovementRow.member_id, func.sum(ShareMovementRow.count))
        .group_by(ShareMovementRow.member_id))}
    ledger = member_balances(session, SHARE_CAPITAL)
    if not counts and not any(ledger.values()):
        return []
    codes = {member_id: facts.code for member_id, facts in member_facts(session).items()}
    register = {codes.get(member_id, f"#{member_id}"): count
                for member_id, count in counts.items()}
    problems: list[tuple[str | None, str]] = []
    for code in sorted(register.keys() | ledger.keys()):
        count, balance = register.get(code, 0), ledger.get(code, 0)
        if count * face != balance:
            problems.append((shares_account(code), _shares_text(session, code, count, face,
                                                                balance)))
    total = sum(register.values())
    control = queries.balance(session, SHARE_CAPITAL) or 0
    if total * face != control:
        problems.append((SHARE_CAPITAL, _shares_text(session, "total", total, face, control)))
    return problems


def _shares_text(session: Session, who: str, count: int, face: int, ledger: int) -> str:
    return (f"shares {who}: the register says {count} share{'' if count == 1 else 's'} "
            f"({money_text(session, count * face)}), the ledger {money_text(session, ledger)}")
