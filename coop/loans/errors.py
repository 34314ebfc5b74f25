"""The ways a loan request can be refused, each a coded `CoopError` (DESIGN.md §11).

`TermsInvalid` (terms that cannot make a schedule) lives with the schedule, and the pure
engine's `PaymentTooLarge` and `PaymentOutOfOrder` with the engine; `PaymentTooLarge` is a
`PaymentAbovePayoff`."""

from __future__ import annotations

from coop.board.errors import AlreadyVoted, VoteNotAllowed
from coop.errors import Conflict, InvalidInput, NotFound


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


__all__ = ["AboveLimit", "AlreadyVoted", "LoanNotFound", "LoanStateConflict", "NotEligible",
           "PaymentAbovePayoff", "VoteNotAllowed"]
