"""Passbook particulars in the member's language.

The ledger keeps one narration per entry, in English, written by the service that posted it
(`Loan 12 repayment from savings`, `3 shares bought`). A passbook line says the same thing in
her language: the entry's kind picks the wording and the figures are read back from the
service's own narration. A clerk's own note on a deposit or withdrawal is kept after the
wording, as she wrote it. Anything not recognised is printed as it stands rather than guessed.
"""

from __future__ import annotations

import re
from datetime import date

from coop.i18n import Translator

_NUMBER = re.compile(r"\d+")
_DATES = re.compile(r"(\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2})")
_YEAR = re.compile(r"fiscal year (\S+)$")

_PLAIN = {"deposit": ("Cash deposit", "Deposit"),
          "withdrawal": ("Cash withdrawal", "Withdrawal")}
_COUNTED = {"share_purchase": ("{count} shares bought", "count"),
            "share_redemption": ("{count} shares paid back", "count"),
            "loan_disbursement": ("Loan {loan} paid into savings", "loan"),
            "loan_repayment": ("Loan {loan} repayment", "loan")}
_REVERSAL = re.compile(r"Reversal of entry (\d+): (.*)")


def _day(text: str) -> str:
    return date.fromisoformat(text).strftime("%d-%m-%y")


def particulars(tr: Translator, kind: str, narration: str) -> str:
    """The words for one passbook line."""
    if kind in _PLAIN:
        wording, default = _PLAIN[kind]
        words = tr(wording)
        return words if narration == default else f"{words}: {narration}"
    if kind in _COUNTED:
        wording, name = _COUNTED[kind]
        number = _NUMBER.search(narration)
        if number is not None:
            return tr(wording, **{name: number.group()})
    if kind == "reversal":
        reversal = _REVERSAL.fullmatch(narration)
        if reversal is not None:  # the reason stays, as the board wrote it
            return f"{tr('Correction of entry {entry}', entry=reversal.group(1))}: " \
                   f"{reversal.group(2)}"
    if kind == "savings_interest":
        dates = _DATES.search(narration)
        if dates is not None:
            return tr("Savings interest {start} to {end}", start=_day(dates.group(1)),
                      end=_day(dates.group(2)))
    if kind == "dividend_payment":
        year = _YEAR.search(narration)
        if year is not None:
            return tr("Dividend and rebate, year {year}", year=year.group(1))
    return narration


__all__ = ["particulars"]
