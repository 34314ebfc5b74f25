"""Undoing one journal entry so that every register stays equal to the ledger.

Each room says how its entries are undone; this module only picks the room by the entry's
kind. Plain entries (a manual journal entry, a deposit, a withdrawal) are reversed as they
stand. A share purchase or redemption moves the share register back too; a loan's
disbursement, repayment or recovery is undone by the loans room, which replays the loan. An
entry that belongs to a larger operation (an interest run, a year close, a dividend, a
write-off, a provisioning run) is refused with 409 naming the operation that undoes it as a
whole, and so is a kind this module does not know: refusing is safe, guessing is not.

The reversal's narration names what was corrected ("Correction of entry 12 (deposit of
2026-12-05)"): the staff's reason stays in the correction's row and the audit trail, never
in the journal, which members' passbooks print.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session

from coop import tills
from coop.clock import Clock
from coop.errors import Conflict, CoopError
from coop.ledger import PostedEntry, queries, reverse
from coop.ledger.model import (
    AlreadyReversed,
    BalanceLimit,
    EntryNotFound,
    InsufficientFunds,
    PeriodClosed,
    check_text,
)
from coop.loans import undo as loans_undo
from coop.loans.errors import LoanStateConflict
from coop.members import MemberNotActive
from coop.savings import undo as savings_undo

Undo = Callable[..., PostedEntry]


class CorrectionRefused(Conflict):
    code = "correction_refused"
    title = "This entry cannot be corrected this way"


def _plain(session: Session, entry: PostedEntry, *, reason: str, narration: str, actor: str,
           clock: Clock, move: Mapping[str, str] | None = None) -> PostedEntry:
    return reverse(session, entry.id, reason=reason, narration=narration, actor=actor,
                   clock=clock, move=move)


BY_KIND: dict[str, Undo] = {
    "manual": _plain,
    "grant": _plain,
    "deposit": _plain,
    "withdrawal": _plain,
    "share_purchase": savings_undo.undo_share_movement,
    "share_redemption": savings_undo.undo_share_movement,
    "loan_disbursement": loans_undo.undo_disbursement,
    "loan_repayment": loans_undo.undo_repayment,
    "loan_recovery": loans_undo.undo_recovery,
}
"""How each kind of entry is undone."""

OWN_OPERATION: dict[str, str] = {
    "savings_interest": "an interest run is undone as a whole, for every member at once: "
                        "POST /savings/interest-runs/{id}/reversal (admin)",
    "year_close": "a year close is undone by reopening the year (admin): "
                  "POST /years/{fy}/reopening, the following year reopened first",
    "dividend_declaration": "a dividend declaration is undone by cancelling it: "
                            "POST /dividends/{fy}/cancellation (board)",
    "dividend_payment": "a dividend payment is undone for every member at once: "
                        "POST /dividends/{fy}/payment/reversal (admin)",
    "loan_write_off": "a write-off is undone by the board: POST /loans/{id}/write-off/reversal",
    "loan_provisioning": "a provisioning run stands as posted; the next run, on a later day, "
                         "posts whatever change the provision needs: POST "
                         "/reports/provisioning-runs (admin)",
    "loan_reallocation": "it re-allocated a later payment when a repayment was corrected; it "
                         "stands with that correction",
    "reversal": "a correction is not itself corrected: post a new entry instead",
    "till_open": "a till's float comes back when the till is counted and closed",
    "till_close": "a till's count is corrected by counting again: the difference waits for "
                  "approval on the day's tills",
    "till_variance": "an approved till difference stands; post a manual entry if it was wrong",
}
"""The kinds undone only through their own operation, and what to do instead."""

WORDS: dict[str, str] = {
    "manual": "entry", "grant": "entry", "deposit": "deposit", "withdrawal": "withdrawal",
    "share_purchase": "share purchase", "share_redemption": "share redemption",
    "loan_disbursement": "loan payout", "loan_repayment": "loan repayment",
    "loan_recovery": "loan recovery",
}
"""What the corrected entry was, in the reversal's narration (and so on her passbook)."""


def refusal(kind: str) -> str | None:
    """Why an entry of this kind cannot be corrected by a reversal, or None if it can."""
    if kind in BY_KIND:
        return None
    return OWN_OPERATION.get(
        kind, f"entries of kind {kind!r} are undone only through their own operation")


def narration_for(entry: PostedEntry) -> str:
    return (f"Correction of entry {entry.id} ({WORDS.get(entry.kind, 'entry')} of "
            f"{entry.value_date.isoformat()})")


def load_correctable(session: Session, entry_id: int) -> PostedEntry:
    """The entry, if a correction of it can be asked for: it exists, is not a reversal or
    reversed already, and its kind is undone by a reversal (else 409 saying what to do)."""
    entry = queries.load_entry(session, entry_id)
    if entry is None:
        raise EntryNotFound.said(
            "there is no entry {entry_id}",
            entry_id=entry_id, field="entry_id")
    if entry.reversal_of is not None:
        raise AlreadyReversed.said(
            "entry {entry_id} is itself the correction of entry {reversal_of}: post a new entry "
            "instead",
            entry_id=entry_id, reversal_of=entry.reversal_of)
    done = queries.reversal_of(session, entry_id)
    if done is not None:
        raise AlreadyReversed.said(
            "entry {entry_id} was reversed already, by entry {reversal}",
            entry_id=entry_id, reversal=done)
    why = refusal(entry.kind)
    if why is not None:
        raise CorrectionRefused.said(
            "entry {entry_id} is a {kind}: {why}",
            entry_id=entry_id, kind=entry.kind.replace("_", " "), why=why)
    return entry


def undo_entry(session: Session, entry_id: int, *, reason: str, actor: str,
               clock: Clock) -> PostedEntry:
    """Reverse `entry_id` the way its room undoes it, in the caller's transaction; every
    refusal is a 409 naming the reason and changes nothing (the transaction rolls back)."""
    reason = check_text(reason, field="reason", length_max=150)
    entry = load_correctable(session, entry_id)
    try:
        savings_undo.check_holds_after_reversal(session, entry)
        return BY_KIND[entry.kind](session, entry, reason=reason,
                                   narration=narration_for(entry), actor=actor, clock=clock,
                                   move=_till_moves(session, entry, actor))
    except (InsufficientFunds, PeriodClosed, BalanceLimit, LoanStateConflict,
            MemberNotActive) as error:
        raise CorrectionRefused(_why(entry, error)) from None


def _till_moves(session: Session, entry: PostedEntry, actor: str) -> dict[str, str]:
    """Cash that went through a till closed since comes back through the cash the approver
    holds now (her open till, or the safe): a closed till stays at zero."""
    closed = tills.closed_accounts(session, [p.account for p in entry.postings])
    if not closed:
        return {}
    now = tills.cash_account(session, actor)
    return dict.fromkeys(closed, now)


def _why(entry: PostedEntry, error: CoopError) -> str:
    if isinstance(error, PeriodClosed):
        return (f"entry {entry.id} of {entry.value_date} lies in a closed year; reopen the "
                "year or post a manual entry in the open year")
    if isinstance(error, InsufficientFunds):
        return f"entry {entry.id} cannot be undone: {error}"
    return str(error)


__all__ = ["BY_KIND", "OWN_OPERATION", "CorrectionRefused", "load_correctable",
           "narration_for", "refusal", "undo_entry"]
