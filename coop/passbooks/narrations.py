"""Passbook particulars in the member's language.

The ledger keeps one narration per entry, in English, written by the service that posted it
(`Loan 12 repayment from savings`, `3 shares bought`). A passbook line says the same thing in
her language: the entry's kind picks the wording and the figures are read back from the
service's own narration. A clerk's own note on a deposit or withdrawal is kept after the
wording, as she wrote it; a correction says what it corrected and when ("Correction of
05-12-2026 deposit"), and never the staff's reason. Anything not recognised is printed as
it stands rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
_CORRECTION = re.compile(r"Correction of entry \d+ \(([a-z ]+) of (\d{4}-\d{2}-\d{2})\)")
_CORRECTED = {"deposit": "Correction of {date} deposit",
              "withdrawal": "Correction of {date} withdrawal",
              "share purchase": "Correction of {date} share purchase",
              "share redemption": "Correction of {date} share redemption",
              "loan payout": "Correction of {date} loan payout",
              "loan repayment": "Correction of {date} loan repayment",
              "loan recovery": "Correction of {date} loan repayment",
              "entry": "Correction of {date} entry"}
"""What a correction says on her passbook: the day and the kind of what it corrects (the
staff's reason is not in the journal at all)."""


def _day(text: str) -> str:
    return date.fromisoformat(text).strftime("%d-%m-%y")


def particulars(tr: Translator, kind: str, narration: str, *,
                count: Callable[[int], str] = str) -> str:
    """The words for one passbook line; `count` writes a number of shares with the
    society's digit grouping ("1,00,000 shares bought")."""
    if kind in _PLAIN:
        wording, default = _PLAIN[kind]
        words = tr(wording)
        return words if narration == default else f"{words}: {narration}"
    if kind in _COUNTED:
        wording, name = _COUNTED[kind]
        number = _NUMBER.search(narration)
        if number is not None:
            figure = count(int(number.group())) if name == "count" else number.group()
            return tr(wording, **{name: figure})
    if kind == "reversal":
        corrected = _CORRECTION.fullmatch(narration)
        if corrected is not None and corrected.group(1) in _CORRECTED:
            day = date.fromisoformat(corrected.group(2)).strftime("%d-%m-%Y")
            return tr(_CORRECTED[corrected.group(1)], date=day)
        reversal = _REVERSAL.fullmatch(narration)
        if reversal is not None:  # an older reversal: its number, never the staff's reason
            return tr("Correction of entry {entry}", entry=reversal.group(1))
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
