"""The words of the printed documents (and, later, the counter pages) in the members'
languages: English, Kannada, Bengali, Hindi, Spanish and Swahili (DESIGN.md §9).

The catalogue is gettext: `locales/coop.pot` lists the English texts, and each language has
`locales/<lang>/LC_MESSAGES/coop.po`, read directly with Babel (no compile step). A text not
translated yet falls back to English rather than failing. Placeholders are `str.format` names
(`{count}`), which translators may move but not change.

Numbers are not translated here: amounts follow the society's locale (coop.money), dates are
printed as digits (dd-mm-yyyy), which every member's calendar reads the same way.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

from coop.errors import InvalidInput

LOCALES = Path(__file__).parent / "locales"

LANGUAGES: dict[str, str] = {
    "en": "English",
    "kn": "ಕನ್ನಡ",
    "bn": "বাংলা",
    "hi": "हिन्दी",
    "es": "Español",
    "sw": "Kiswahili",
}
"""The languages a document can be printed in, with each one's name in itself."""

LANGUAGE_CODES = tuple(LANGUAGES)


class UnknownLanguage(InvalidInput):
    code = "unknown_language"
    title = "Unknown language"


def check_language(code: str, *, field: str = "language") -> str:
    if code not in LANGUAGES:
        raise UnknownLanguage(f"{code!r} is not one of {', '.join(LANGUAGE_CODES)}",
                              field=field)
    return code


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> dict[str, str]:
    """msgid -> translation for one language (empty for English, whose msgids are the text)."""
    check_language(language)
    if language == "en":
        return {}
    path = LOCALES / language / "LC_MESSAGES" / "coop.po"
    with path.open("rb") as handle:
        messages = read_po(handle, locale=language)
    return {str(m.id): str(m.string) for m in messages if m.id and m.string}


class Translator:
    """`tr("Page {page}", page=3)` in one language."""

    __slots__ = ("_texts", "language")

    def __init__(self, language: str) -> None:
        self.language = language
        self._texts = catalogue(language)

    def __call__(self, msgid: str, /, **params: object) -> str:
        text = self._texts.get(msgid, msgid)
        return text.format(**params) if params else text


def translator(language: str) -> Translator:
    return Translator(language)


__all__ = ["LANGUAGES", "LANGUAGE_CODES", "Translator", "UnknownLanguage", "catalogue",
           "check_language", "translator"]
