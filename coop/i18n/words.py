"""Amounts and dates in words, for a clerk to read back and for a member's documents.

num2words writes the words; where it has none for a language (or writes them wrongly) the
amount is read in English, in the Indian system of lakhs and crores for an Indian locale.
Dates come from Babel's long form of the language ("1 April 2025", "1 de abril de 2025"),
with ASCII digits.
"""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from num2words import num2words  # type: ignore[import-untyped]

# num2words 0.5.14 has words for these of our languages; its Kannada groups lakhs wrongly
# ("ಎರಡು ಒಂದು ಲಕ್ಷ" for 2,00,000) and it has none for Hindi or Swahili: they read English.
WORDS_LANGUAGE = {"bn": "bn", "es": "es"}


def amount_words(amount_minor: int, digits: int, *, locale: str, language: str) -> str:
    """The amount (of a currency with `digits` minor digits) in words for a clerk to read
    back: whole units in words (Indian English, lakhs and crores, for an Indian locale), any
    minor part as digits over its base."""
    whole, fraction = divmod(amount_minor, 10**digits)
    lang = WORDS_LANGUAGE.get(language) or ("en_IN" if locale.endswith("_IN") else "en")
    try:
        words = str(num2words(whole, lang=lang))
    except (OverflowError, NotImplementedError):
        words = str(num2words(whole, lang="en"))
    return f"{words} {fraction:0{digits}d}/{10**digits}" if fraction else words


def date_words(day: date, *, language: str, locale: str) -> str:
    """The day with its month named in `language`; English is written in the order of the
    society's locale when that is an English one (en_IN: "1 April 2025")."""
    where = locale if language == "en" and locale.startswith("en") else language
    return format_date(day, "long", locale=where)


__all__ = ["amount_words", "date_words"]
