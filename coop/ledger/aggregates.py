"""Aggregate reads of the ledger for the annual statements (coop.statements): each answers
with one GROUP BY over the postings, however many accounts or dates are asked about.

Figures are signed as debits minus credits (an asset's or an expense's balance is positive,
a liability's, equity's or income's negative); the statements turn them to each section's
sign. A general-ledger account's figure includes its sub-accounts' (a member's savings roll
up into 2000, a till into 1000): postings are grouped by `coalesce(parent_id, id)`, the
account's root, as in the trial balance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from coop.ledger.orm import account_table, entry_table, posting_table

_ROOT = func.coalesce(account_table.c.parent_id, account_table.c.id)
_NET = case((posting_table.c.side == "debit", posting_table.c.amount_minor),
            else_=-posting_table.c.amount_minor)
"""A posting's amount as debits minus credits."""

CLOSING_KINDS = ("year_close",)
"""Entries that are not the year's income or expenditure: the close moves both to 3900."""


def _roots(session: Session) -> dict[int, tuple[str, int]]:
    """Every general-ledger account's id -> (code, debits minus credits now)."""
    return {row.id: (row.code, int(row.debits_posted) - int(row.credits_posted))
            for row in session.execute(select(
                account_table.c.id, account_table.c.code, account_table.c.debits_posted,
                account_table.c.credits_posted).where(account_table.c.parent_id.is_(None)))}


def balances_on(session: Session, days: Sequence[date]) -> dict[date, dict[str, int]]:
    """Each general-ledger account's balance (debits minus credits) at the end of each of
    `days`: the O(1) counters now, less what was posted dated after each day, summed for
    every day in one pass over the postings after the earliest of them."""
    roots = _roots(session)
    wanted = sorted(set(days))
    later: dict[int, list[int]] = {}
    if wanted:
        columns = [func.sum(case((posting_table.c.value_date > day, _NET), else_=0))
                   for day in wanted]
        for root, *sums in session.execute(
                select(_ROOT, *columns)
                .join(account_table, account_table.c.id == posting_table.c.account_id)
                .where(posting_table.c.value_date > wanted[0]).group_by(_ROOT)):
            later[int(root)] = [int(value or 0) for value in sums]
    result: dict[date, dict[str, int]] = {}
    for index, day in enumerate(wanted):
        result[day] = {code: now - later.get(account_id, [0] * len(wanted))[index]
                       for account_id, (code, now) in roots.items()}
    return result


def _not_closing(kinds: Sequence[str]) -> ColumnElement[bool]:
    if not kinds:
        return true()
    closing = select(entry_table.c.id).where(entry_table.c.kind.in_(kinds))
    excluded = select(entry_table.c.id).where(or_(entry_table.c.kind.in_(kinds),
                                                  entry_table.c.reversal_of.in_(closing)))
    return posting_table.c.entry_id.not_in(excluded)


def movements_in(session: Session, periods: Sequence[tuple[date, date]], *,
                 types: Sequence[str] = ("income", "expense"),
                 leave_out: Sequence[str] = CLOSING_KINDS) -> list[dict[str, int]]:
    """For each (first, last) period, each general-ledger account of `types` with its net
    movement (debits minus credits) from the postings dated within it, both days included.
    A year's closing entry, and a reversal of one (a year reopened), are left out: they move
    the year's income and expenditure to 3900, they are not income or expenditure."""
    if not periods:
        return []
    columns = [func.sum(case((and_(posting_table.c.value_date >= first,
                                   posting_table.c.value_date <= last), _NET), else_=0))
               for first, last in periods]
    roots = _roots(session)
    found: list[dict[str, int]] = [defaultdict(int) for _ in periods]
    for root, *sums in session.execute(
            select(_ROOT, *columns)
            .join(account_table, account_table.c.id == posting_table.c.account_id)
            .where(posting_table.c.value_date >= min(p[0] for p in periods),
                   posting_table.c.value_date <= max(p[1] for p in periods),
                   account_table.c.type.in_(types), _not_closing(leave_out))
            .group_by(_ROOT)):
        for index, value in enumerate(sums):
            found[index][roots[int(root)][0]] += int(value or 0)
    return [dict(period) for period in found]


@dataclass(frozen=True, slots=True)
class CashFlow:
    """Money received into and paid out of cash, against one general-ledger account."""

    account: str
    received_minor: int
    paid_minor: int


def cash_flows(session: Session, cash: Sequence[str],
               periods: Sequence[tuple[date, date]]) -> list[list[CashFlow]]:
    """For each (first, last) period, what came into and went out of the cash accounts
    `cash` (general-ledger codes, with their sub-accounts: the tills), by the account on the
    other side of each entry.

    Entry by entry, each other account's net credit is a receipt, its net debit a payment
    (gross across entries, net within one: a loan paid out in cash less a fee shows the loan
    paid and the fee received). A reversal (a correction) takes its amount off the side the
    entry it reverses was on: a deposit taken in error and reversed is no receipt and no
    payment, not one of each. An entry between cash accounts only (safe to till, cash to
    bank) is neither. So opening cash + receipts - payments = closing cash, always."""
    if not periods:
        return []
    cash_ids = select(account_table.c.id).where(or_(
        account_table.c.code.in_(cash),
        account_table.c.parent_id.in_(select(account_table.c.id).where(
            account_table.c.code.in_(cash)))))
    first, last = min(p[0] for p in periods), max(p[1] for p in periods)
    in_span = and_(posting_table.c.value_date >= first, posting_table.c.value_date <= last)
    touching = select(posting_table.c.entry_id).where(
        posting_table.c.account_id.in_(cash_ids), in_span)
    per_entry = (
        select(posting_table.c.entry_id.label("entry_id"), _ROOT.label("root"),
               func.max(posting_table.c.value_date).label("on"),
               func.max(case((entry_table.c.reversal_of.is_(None), 0), else_=1))
               .label("reversal"),
               func.sum(-_NET).label("net"))  # credits minus debits: money received
        .join(account_table, account_table.c.id == posting_table.c.account_id)
        .join(entry_table, entry_table.c.id == posting_table.c.entry_id)
        .where(in_span, posting_table.c.entry_id.in_(touching),
               posting_table.c.account_id.not_in(cash_ids))
        .group_by(posting_table.c.entry_id, _ROOT)
    ).subquery()
    # a plain entry's net credit is received (its net debit paid); a reversal's net debit is
    # taken off what was received (its net credit off what was paid)
    received_side = or_(and_(per_entry.c.reversal == 0, per_entry.c.net > 0),
                        and_(per_entry.c.reversal == 1, per_entry.c.net < 0))
    paid_side = or_(and_(per_entry.c.reversal == 0, per_entry.c.net < 0),
                    and_(per_entry.c.reversal == 1, per_entry.c.net > 0))
    columns = []
    for low, high in periods:
        inside = and_(per_entry.c.on >= low, per_entry.c.on <= high)
        columns += [func.sum(case((and_(inside, received_side), per_entry.c.net), else_=0)),
                    func.sum(case((and_(inside, paid_side), -per_entry.c.net), else_=0))]
    roots = _roots(session)
    found: list[list[CashFlow]] = [[] for _ in periods]
    for root, *sums in session.execute(select(per_entry.c.root, *columns)
                                       .group_by(per_entry.c.root)):
        for index in range(len(periods)):
            received, paid = int(sums[2 * index] or 0), int(sums[2 * index + 1] or 0)
            if received or paid:
                found[index].append(CashFlow(roots[int(root)][0], received, paid))
    return [sorted(flows, key=lambda flow: flow.account) for flows in found]


def sub_balances_on(session: Session, control: str, day: date) -> dict[str, int]:
    """Each sub-account of the control account `control` (a member's savings under 2000, her
    shares under 3000) by its owner, with its balance at the end of `day` (debits minus
    credits): its counters less what was posted dated later, in one query for them all."""
    parent = select(account_table.c.id).where(account_table.c.code == control)
    accounts = {row.id: (str(row.owner or row.code),
                         int(row.debits_posted) - int(row.credits_posted))
                for row in session.execute(
                    select(account_table.c.id, account_table.c.owner, account_table.c.code,
                           account_table.c.debits_posted, account_table.c.credits_posted)
                    .where(account_table.c.parent_id.in_(parent)))}
    if not accounts:
        return {}
    children = select(account_table.c.id).where(account_table.c.parent_id.in_(parent))
    later = {int(account_id): int(total or 0) for account_id, total in session.execute(
        select(posting_table.c.account_id, func.sum(_NET))
        .where(posting_table.c.account_id.in_(children), posting_table.c.value_date > day)
        .group_by(posting_table.c.account_id))}
    return {owner: now - later.get(account_id, 0)
            for account_id, (owner, now) in accounts.items()}


__all__ = ["CLOSING_KINDS", "CashFlow", "balances_on", "cash_flows", "movements_in",
           "sub_balances_on"]
