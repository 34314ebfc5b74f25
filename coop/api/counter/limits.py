"""The counter's side of the limits on amounts (issue 16): an amount above the society's
`counter_confirm_above` stops at a second step that repeats it in digits and in words, and an
amount above `counter_max_amount` is refused next to its field with the ceiling in words.
The rule itself is `coop.society.limits.check_counter_amount`, which the services apply."""

from __future__ import annotations

from typing import Any

from num2words import num2words  # type: ignore[import-untyped]

from coop.api.counter.web import Page
from coop.money import minor_digits, parse_minor
from coop.society.limits import CONFIRM_FIELD

# num2words 0.5.14 has words for these of our languages; its Kannada groups lakhs wrongly
# ("ಎರಡು ಒಂದು ಲಕ್ಷ" for 2,00,000) and it has none for Hindi or Swahili: they read English.
WORDS_LANGUAGE = {"bn": "bn", "es": "es"}


def amount_words(amount_minor: int, currency: str, *, locale: str, language: str) -> str:
    """The amount in words for a clerk to read back: whole units in words (Indian English,
    lakhs and crores, for an Indian locale), any minor part as digits over its base."""
    digits = minor_digits(currency)
    whole, fraction = divmod(amount_minor, 10**digits)
    lang = WORDS_LANGUAGE.get(language) or ("en_IN" if locale.endswith("_IN") else "en")
    try:
        words = str(num2words(whole, lang=lang))
    except (OverflowError, NotImplementedError):
        words = str(num2words(whole, lang="en"))
    return f"{words} {fraction:0{digits}d}/{10**digits}" if fraction else words


def words(view: Page, amount_minor: int) -> str:
    society = view.society
    return amount_words(amount_minor, society.currency, locale=society.locale,
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


__all__ = ["amount_words", "ceiling_text", "confirmation", "confirmed", "limits", "words"]
