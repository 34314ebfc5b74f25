"""Guarantors: a guarantee puts part of the guarantor's savings on hold; the hold shrinks pro
rata with the outstanding principal and is released when the loan ends. Holds are savings'
rows: they are placed, resized, released and read through `coop.savings`'s functions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop import savings
from coop.clock import Clock
from coop.errors import InvalidInput
from coop.loans.orm import GuarantorRow, LoanRow
from coop.members import MemberRow, get_member


@dataclass(frozen=True)
class Guarantee:
    member_code: str
    amount_minor: int


def check_guarantee(session: Session, guarantee: Guarantee, *, borrower: str,
                    board_codes: frozenset[str], seen: set[str]) -> MemberRow:
    """Who may guarantee this loan (not herself, not a board member, once, for more than
    zero); her member row."""
    code = guarantee.member_code
    if code == borrower:
        raise InvalidInput("a member cannot guarantee her own loan", field="guarantors")
    if code in board_codes:
        raise InvalidInput.said(
            "{code} sits on the board and cannot guarantee a loan",
            code=code, field="guarantors")
    if code in seen:
        raise InvalidInput.said("{code} is named twice", code=code, field="guarantors")
    seen.add(code)
    if guarantee.amount_minor <= 0:
        raise InvalidInput("a guarantee is more than zero", field="guarantors")
    return get_member(session, code)


def add_guarantee(session: Session, loan: LoanRow, guarantee: Guarantee, *, borrower: str,
                  board_codes: frozenset[str], seen: set[str], actor: str,
                  clock: Clock) -> None:
    code = guarantee.member_code
    guarantor = check_guarantee(session, guarantee, borrower=borrower,
                                board_codes=board_codes, seen=seen)
    hold = savings.place_hold(session, code, amount_minor=guarantee.amount_minor,
                              reason=f"guarantee for loan {loan.id}", actor=actor, clock=clock)
    session.add(GuarantorRow(loan_id=loan.id, member_id=guarantor.id,
                             amount_minor=guarantee.amount_minor, hold_id=hold.id))
    session.flush()


def guarantor_member_ids(session: Session, loan_id: int) -> set[int]:
    return set(session.scalars(select(GuarantorRow.member_id).where(
        GuarantorRow.loan_id == loan_id)))


def guarantors_of(session: Session, loan_id: int) -> list[tuple[str, int, int]]:
    """(member code, amount guaranteed, amount still held) for each guarantor."""
    rows = session.execute(
        select(MemberRow.code, GuarantorRow.amount_minor, GuarantorRow.hold_id)
        .join(MemberRow, MemberRow.id == GuarantorRow.member_id)
        .where(GuarantorRow.loan_id == loan_id).order_by(MemberRow.code)).all()
    held = savings.hold_amounts(session, [hold_id for _, _, hold_id in rows])
    return [(code, amount, held.get(hold_id, 0)) for code, amount, hold_id in rows]


def _guarantees(session: Session, row: LoanRow) -> list[GuarantorRow]:
    return list(session.scalars(select(GuarantorRow).where(GuarantorRow.loan_id == row.id)
                                .order_by(GuarantorRow.id)))


def rebalance_holds(session: Session, row: LoanRow, clock: Clock) -> None:
    """Guarantors' holds shrink pro rata with the outstanding principal (rounded up)."""
    guarantees = _guarantees(session, row)
    held = savings.hold_amounts(session, [g.hold_id for g in guarantees])
    for guarantee in guarantees:
        now = held.get(guarantee.hold_id, 0)
        if not now:  # released already
            continue
        still = -(-guarantee.amount_minor * row.outstanding_minor // row.principal_minor)
        if row.status != "active" or still <= 0:
            savings.release_hold_by_id(session, guarantee.hold_id, clock=clock)
        elif still < now:
            savings.resize_hold(session, guarantee.hold_id, still, clock=clock)


def restore_holds(session: Session, row: LoanRow, clock: Clock) -> None:
    """Guarantors' holds grown back to what the outstanding principal asks for (a correction
    put principal back on the loan): the rule of `rebalance_holds`, upwards. A guarantor who
    no longer has the savings to carry it makes the caller's transaction fail."""
    if row.status != "active":
        return
    for guarantee in _guarantees(session, row):
        still = -(-guarantee.amount_minor * row.outstanding_minor // row.principal_minor)
        if still > 0:
            savings.grow_hold(session, guarantee.hold_id, still, clock=clock)


def release_holds(session: Session, row: LoanRow, clock: Clock) -> None:
    """Every guarantor's hold on this loan released (rejected, written off)."""
    for guarantee in _guarantees(session, row):
        savings.release_hold_by_id(session, guarantee.hold_id, clock=clock)


__all__ = ["Guarantee", "add_guarantee", "check_guarantee", "guarantor_member_ids",
           "guarantors_of", "rebalance_holds", "release_holds", "restore_holds"]
