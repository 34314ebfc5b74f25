"""Blind indexes of the names members are known by and of their phones, so that a clerk can
find a member without anyone decrypting everyone.

- A row is (member, kind, digest): kind `name` for each normalised word of her known-as name,
  kind `phone` for her phone in E.164. The digest is HMAC-SHA256 under a key derived (HKDF)
  from the vault's master key with its own purpose label (`search-name`, `search-phone`), so
  the table holds no name and no phone, and a copy of the database without the key file
  cannot test guesses against it (a plain hash of a phone number can be tried against every
  number in a few minutes).
- Words: Unicode NFKC, casefolded, format characters (the zero-width joiners of Indic
  scripts) dropped, split at anything that is not a letter, a combining mark or a digit, so
  "Lakshmi  Devi", "LAKSHMI-devi" and "ｌａｋｓｈｍｉ devi" are the same two words, and a Kannada
  name keeps its vowel signs and viramas inside its words.
- Only whole words match: an HMAC of "laks" says nothing about "lakshmi", so there is no
  prefix search (that would need the words themselves, or their prefixes, in the index).
- The index is written with her identity (registration), dropped with it (erasure), and can
  be rebuilt from the vault (`coop reindex`), because a migration cannot read the key.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Literal

from sqlalchemy import ForeignKey, Index, Integer, String, delete, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from coop.db import Base
from coop.members.vault import Vault

Kind = Literal["name", "phone"]
NAME_PURPOSE = "search-name"
PHONE_PURPOSE = "search-phone"
WORDS_MAX = 12
"""A known-as name has at most this many indexed words (the field is 120 characters)."""
WORD_CATEGORIES = ("L", "M", "N")


class SearchIndexRow(Base):
    """One keyed digest of one word of her known-as name, or of her phone."""

    __tablename__ = "member_search_index"
    __table_args__ = (
        Index("ix_member_search_index_lookup", "kind", "digest", "member_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    digest: Mapped[str] = mapped_column(String(64))


def words(text: str) -> list[str]:
    """The searchable words of a name, each once, in order of first appearance."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # casefolding can un-normalise (e.g. "ǰ"); a second NFKC makes the result stable
    folded = unicodedata.normalize("NFKC", folded)
    found: list[str] = []
    current: list[str] = []
    for char in folded + " ":
        category = unicodedata.category(char)
        if category == "Cf":  # zero-width joiners and marks: not part of a word, no break
            continue
        if category[0] in WORD_CATEGORIES:
            current.append(char)
            continue
        if current:
            word = "".join(current)
            if word not in found:
                found.append(word)
            current = []
    return found


def name_digests(vault: Vault, text: str) -> list[str]:
    return [vault.keyed_digest(NAME_PURPOSE, word) for word in words(text)[:WORDS_MAX]]


def phone_digest(vault: Vault, e164: str) -> str:
    """The digest of a phone already in E.164 (coop.members.normalise_phone)."""
    return vault.keyed_digest(PHONE_PURPOSE, e164)


def index_identity(session: Session, member_id: int, *, known_as: str | None,
                   phone: str | None, vault: Vault) -> int:
    """Replace her index rows with those of this known-as name and phone (E.164); returns
    how many rows she has now. Call it wherever her name or phone is set or changed."""
    drop_index(session, member_id)
    rows: list[dict[str, object]] = [
        {"member_id": member_id, "kind": "name", "digest": digest}
        for digest in name_digests(vault, known_as or "")]
    if phone:
        rows.append({"member_id": member_id, "kind": "phone",
                     "digest": phone_digest(vault, phone)})
    if rows:
        session.execute(insert(SearchIndexRow), rows)
    return len(rows)


def drop_index(session: Session, member_id: int) -> None:
    """Her index rows go (erasure: nothing may tie her number to a name or a phone)."""
    session.execute(delete(SearchIndexRow).where(SearchIndexRow.member_id == member_id))


def drop_members(session: Session, member_ids: Iterable[int]) -> None:
    ids = list(member_ids)
    if ids:
        session.execute(delete(SearchIndexRow).where(SearchIndexRow.member_id.in_(ids)))
