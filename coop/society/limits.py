"""Limits on money requests at the counter (issue 16): a pure rule, no session, no I/O.

Deposits, withdrawals, share purchases and loan repayments asked for at the counter (the API
or the counter pages) above the society's `counter_confirm_above` need the clerk's explicit
confirmation; above `counter_max_amount` they are refused whatever she says. Internal callers
(the demo, dividends paid into savings, disbursements, interest) are not counter requests and
are never limited.
"""

from __future__ import annotations

from coop.errors import InvalidInput

CONFIRM_FIELD = "confirm_large_amount"


class LargeAmountNotConfirmed(InvalidInput):
    code = "large_amount_not_confirmed"
    title = "A large amount needs confirmation"


class AboveCounterMaximum(InvalidInput):
    code = "above_counter_maximum"
    title = "More than the counter takes at once"


def check_counter_amount(
    amount_minor: int, *, confirm_above_minor: int, max_minor: int, confirmed: bool,
    field: str = "amount", amount_text: str = "", confirm_text: str = "", max_text: str = "",
) -> None:
    """Refuse `amount_minor` above `max_minor` (naming `field`), and above
    `confirm_above_minor` unless `confirmed` (naming `confirm_large_amount`). The texts are
    the amounts as a clerk reads them, for the messages."""
    if amount_minor > max_minor:
        raise AboveCounterMaximum.said(
            "{amount} is more than the counter takes at once ({limit}); a larger sum is split or "
            "entered by an admin",
            amount=amount_text or amount_minor, limit=max_text or max_minor, field=field)
    if amount_minor > confirm_above_minor and not confirmed:
        raise LargeAmountNotConfirmed.said(
            "{amount} is more than {limit}: send \"{confirm_field}\": true to confirm it",
            amount=amount_text or amount_minor, limit=confirm_text or confirm_above_minor,
            confirm_field=CONFIRM_FIELD, field=CONFIRM_FIELD)


__all__ = ["CONFIRM_FIELD", "AboveCounterMaximum", "LargeAmountNotConfirmed",
           "check_counter_amount"]
