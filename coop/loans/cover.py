"""The share-cover rule: what secures a member's loans is her savings plus her paid-up
shares, times the society's multiple, plus what guarantors hold for her."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop.ledger import queries
from coop.loans.errors import AboveLimit
from coop.loans.orm import OPEN_STATUSES, GuarantorRow, LoanRow
from coop.members import get_member, savings_account, shares_account
from coop.money import Amount
from coop.society import Society, book_currency


def cover(session: Session, code: str) -> int:
    """What secures her loans: savings plus paid-up shares."""
    return ((queries.balance(session, savings_account(code)) or 0)
            + (queries.balance(session, shares_account(code)) or 0))


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
    if owed and owed > cover(session, member_code) * multiple + int(guaranteed):
        raise AboveLimit.said(
            "{member_code} owes {owed} on loans; this redemption would leave them without their "
            "share and savings cover",
            member_code=member_code, owed=Amount(owed, book_currency(session)), field="count")


__all__ = ["check_share_cover", "cover"]
