"""Loan interest members paid in a period: the basis of the patronage rebate (DESIGN.md §8).

Interest paid is what repayments allocated to interest, by the repayment's value date; a
member with several loans has their sum. Member numbers come from the member row each loan
belongs to, as everywhere in this package.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop.loans import EventRow, LoanRow
from coop.members import MemberRow


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
