"""The counter's side of the limits on amounts (issue 16): an amount above the society's
`counter_confirm_above` stops at a second step that repeats it in digits and in words, and an
amount above `counter_max_amount` is refused next to its field with the ceiling in words.
The rule itself is `coop.society.limits.check_counter_amount`, which the services apply."""

from __future__ import annotations

from typing import Any

from coop.api.counter.web import Page
from coop.i18n.words import amount_words
from coop.money import minor_digits, parse_minor
from coop.society.limits import CONFIRM_FIELD


def words(view: Page, amount_minor: int) -> str:
    society = view.society
    return amount_words(amount_minor, minor_digits(society.currency), locale=society.locale,
                        language=society.settings.language)


def limits(view: Page) -> tuple[int, int]:
    """(confirm above, ceiling) in minor units, from the settings the page was read with."""
    settings, currency = view.society.settings, view.society.currency
    return (parse_minor(settings.counter_confirm_above, currency, allow_zero=True,
                        maximum=10**18),
            parse_minor(settings.counter_max_amount, currency, maximum=10**18))


def ceiling_text(view: Page) -> str:
    """The refusal of an amount above the ceiling, with the ceiling in digits and words."""
    ceiling = limits(view)[1]
    return view.tr("That is more than the counter takes at once: at most {amount} ({words}).",
                   amount=view.money(ceiling), words=words(view, ceiling))


def confirmation(view: Page, *, action: str, what: str, amount_minor: int,
                 fields: dict[str, str]) -> dict[str, Any]:
    """The second step of a large amount: the form posts the same fields again with
    `confirm_large_amount` (the same idempotency key, so it posts once)."""
    return {"action": action, "what": what, "digits": view.money(amount_minor),
            "words": words(view, amount_minor),
            "fields": {**fields, CONFIRM_FIELD: "1"}}


def confirmed(form: dict[str, Any]) -> bool:
    return bool(form.get(CONFIRM_FIELD))


__all__ = ["ceiling_text", "confirmation", "confirmed", "limits", "words"]
