"""How savings' entries are undone so that its registers stay equal to the ledger
(`coop.corrections` calls these):

* any entry that takes money back out of a member's savings (a deposit undone, a payout to
  savings undone) leaves at least her holds covered, or is refused naming her and the figure;
* a share purchase or redemption undone moves the share register back as well: a row with the
  opposite count, on the original day, so the count on every date (and every dividend on
  share-days) is as if it had not happened.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.ledger import PostedEntry, Side, lock_balance, reverse
from coop.ledger.chart import SAVINGS
from coop.ledger.model import InsufficientFunds
from coop.members import MemberNotActive, MemberRow, account_owner
from coop.money import Amount
from coop.savings import held
from coop.savings.shares import ShareMovementRow
from coop.society import book_currency

_SAVINGS_PREFIX = f"{SAVINGS}:"


def check_holds_after_reversal(session: Session, entry: PostedEntry) -> None:
    """Refuse (naming the member and the figures) a reversal that would take from a member's
    savings more than is free of holds (what was credited to her savings comes back out), or
    that would move money in the accounts of a member who has left (they stay at zero)."""
    for posting in entry.postings:
        owner = account_owner(posting.account)
        if owner is not None:
            status = session.execute(select(MemberRow.status).where(
                MemberRow.code == owner)).scalar()
            if status == "exited":
                raise MemberNotActive.said(
                    "{owner} has left the society: her accounts stay at zero; correct this with "
                    "a manual entry",
                    owner=owner)
    for posting in entry.postings:
        if posting.side is not Side.CREDIT or not posting.account.startswith(_SAVINGS_PREFIX):
            continue
        code = posting.account[len(_SAVINGS_PREFIX):]
        member_id = session.execute(select(MemberRow.id).where(
            MemberRow.code == code)).scalar()
        if member_id is None:
            continue
        balance = lock_balance(session, posting.account)
        available = balance - held(session, member_id)
        if posting.amount_minor > available:
            raise InsufficientFunds.said(
                "{code}'s savings have {available} free of holds; undoing this entry takes "
                "{amount} back",
                code=code, available=Amount(available, book_currency(session)),
                amount=Amount(posting.amount_minor, book_currency(session)), field="entry_id")


def undo_share_movement(session: Session, entry: PostedEntry, *, reason: str, narration: str,
                        actor: str, clock: Clock,
    move: Mapping[str, str] | None = None) -> PostedEntry:
    """Reverse a share purchase or redemption and its line in the share register."""
    movement = session.scalars(select(ShareMovementRow).where(
        ShareMovementRow.entry_id == entry.id)).first()
    reversal = reverse(session, entry.id, reason=reason, narration=narration, actor=actor,
                       clock=clock, move=move)
    if movement is not None:
        session.add(ShareMovementRow(member_id=movement.member_id, entry_id=reversal.id,
                                     count=-movement.count, value_date=movement.value_date))
        session.flush()
    return reversal


__all__ = ["check_holds_after_reversal", "undo_share_movement"]
