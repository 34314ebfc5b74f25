"""The words of a known-as name that the blind index keeps (coop.members.blind), as pure
functions: worked examples in Latin and Indic scripts, and Hypothesis properties that a name
always finds itself and that a name with a word she lacks never finds her."""

from __future__ import annotations

import secrets

from hypothesis import given
from hypothesis import strategies as st

from coop.auth.pins import check_pin
from coop.errors import InvalidInput
from coop.members.blind import name_digests, phone_digest, words
from coop.members.search import query_kind
from coop.members.vault import Vault

KEYS = Vault(secrets.token_bytes(32))
KANNADA = "ಲಕ್ಷ್ಮಿ ದೇವಿ"  # Lakshmi Devi: viramas and vowel signs inside the words


def test_words_are_casefolded_nfkc_and_split_at_punctuation() -> None:
    assert words("Lakshmi  Devi") == ["lakshmi", "devi"]
    assert words("LAKSHMI-devi") == ["lakshmi", "devi"]
    assert words("ｌａｋｓｈｍｉ, Devi.") == ["lakshmi", "devi"]  # full-width letters: NFKC
    assert words("Straße") == ["strasse"]  # casefold, not lower
    assert words("Asha Asha") == ["asha"]
    assert words(" -- ") == []


def test_indic_names_keep_their_vowel_signs_and_viramas() -> None:
    assert words(KANNADA) == ["ಲಕ್ಷ್ಮಿ", "ದೇವಿ"]
    # a zero-width non-joiner changes how a word is drawn, not which word it is
    assert words("ಲಕ್\u200cಷ್ಮಿ") == words("ಲಕ್ಷ್ಮಿ")
    assert words("রানী দাস") == ["রানী", "দাস"]
    assert words("सीता-देवी") == ["सीता", "देवी"]


def test_the_box_tells_a_phone_from_a_member_number_from_a_name() -> None:
    assert query_kind("98450 12345") == "phone"
    assert query_kind("+91 98450-12345") == "phone"
    assert query_kind("(080) 2345 6789") == "phone"
    assert query_kind("Asha Devi") == "name"
    assert query_kind(KANNADA) == "name"
    assert query_kind("M-7Q4K2X") in ("number", "name")  # a number only if its check holds


def test_digests_hide_the_words_and_depend_on_the_key() -> None:
    other = Vault(secrets.token_bytes(32))
    mine = name_digests(KEYS, "Asha Devi")
    assert all(len(d) == 64 and "asha" not in d for d in mine)
    assert set(mine).isdisjoint(name_digests(other, "Asha Devi"))
    assert phone_digest(KEYS, "+919845012345") != phone_digest(other, "+919845012345")
    # a name word and a phone never share a digest (separate purposes)
    assert name_digests(KEYS, "919845012345") != [phone_digest(KEYS, "919845012345")]


names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                min_size=1, max_size=60)


@given(names)
def test_any_known_as_name_finds_itself(known_as: str) -> None:
    stored = set(name_digests(KEYS, known_as))
    query = set(name_digests(KEYS, known_as))
    assert query <= stored  # every word she was registered with is in her index
    assert words(" ".join(words(known_as))) == words(known_as)  # idempotent


@given(names, names)
def test_a_name_with_a_word_she_lacks_does_not_find_her(known_as: str, typed: str) -> None:
    extra = [w for w in words(typed) if w not in words(known_as)]
    if extra:
        assert not set(name_digests(KEYS, typed)) <= set(name_digests(KEYS, known_as))


def test_trivial_pins_are_refused_and_others_accepted() -> None:
    for pin in ("000000", "123456", "987654", "890123", "121212", "19901990", "011990",
                "199001", "01011990", "19900101", "12345", "1234567890123"):
        try:
            check_pin(pin)
        except InvalidInput as refused:
            assert refused.field == "password"
        else:
            raise AssertionError(f"{pin} was accepted")
    for pin in ("739154", "4820617", "583920174"):
        check_pin(pin)
