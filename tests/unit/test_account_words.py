"""A statement's account lines in the reader's language: the chart's own names translated,
a name the society gave its account kept as it is."""

from __future__ import annotations

from coop.i18n import Translator
from coop.passbooks.accounts import CHART_NAMES, account_name, account_words


def test_the_charts_names_are_translated_and_the_societys_own_kept() -> None:
    kannada = Translator("kn")
    assert account_words(kannada, "1000", "Cash on hand") == "1000 ಕೈಯಲ್ಲಿರುವ ನಗದು"
    assert account_words(Translator("en"), "1000", "Cash on hand") == "1000 Cash on hand"
    assert account_name(kannada, "1000", "Cash box at Mysore office") == (
        "Cash box at Mysore office")  # renamed by the society: its own words
    assert account_name(kannada, "1010", "Cash on hand") == "Cash on hand"  # not 1010's name


def test_every_name_of_the_chart_has_words_in_each_language() -> None:
    for language in ("kn", "hi", "bn", "es", "sw"):
        tr = Translator(language)
        untranslated = [name for code, name in CHART_NAMES.items()
                        if account_name(tr, code, name) == name]
        assert untranslated == [], language
