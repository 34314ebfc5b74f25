"""Finding a member by her number, the name she is known by, or her phone, through the blind
indexes of coop.members.blind (never by decrypting everyone).

- A name search matches the members whose known-as name has every word of the query (whole
  words, in any order: "devi lakshmi" finds "Lakshmi Devi"; "laks" finds nothing, see
  coop.members.blind). A phone search matches every member registered with that phone in
  E.164 (two members sharing a phone are both found).
- The lookup is one indexed query on (kind, digest, member_id); only the matches are
  decrypted, at most `limit` of them.
- Each match shown is an identity read: one access-log row per member found, naming the
  fields revealed (her known-as name; and her phone, when the phone found her), in the same
  transaction as the read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.errors import InvalidInput
from coop.ledger.model import check_text
from coop.members import (
    FIELD_LENGTH_MAX,
    AccessLogRow,
    IdentityRow,
    MemberRow,
    Reader,
    normalise_phone,
    phone_region,
)
from coop.members.blind import (
    SearchIndexRow,
    index_identity,
    name_digests,
    phone_digest,
    words,
)
from coop.members.codes import is_valid, normalise
from coop.members.vault import Vault

Found = Literal["number", "name", "phone"]
RESULTS_MAX = 50
PHONE_SHAPE = re.compile(r"^\+?[\d\s().\-/]+$")
PHONE_DIGITS_MIN = 7
"""A member number has six characters after "M-": seven digits or more, or a leading "+",
is a phone."""


@dataclass(frozen=True, slots=True)
class Match:
    code: str
    status: str
    known_as: str | None


@dataclass(frozen=True)
class SearchResult:
    by: Found
    matches: list[Match]
    more: bool = False
    """More members matched than were shown (ask for another word of her name)."""


def query_kind(text: str) -> Found:
    """What a clerk typed into the one box: a phone (digits, maybe with +, spaces, dashes,
    brackets: seven digits or more, or a leading +), a member number (its check character
    right), else a name."""
    stripped = text.strip()
    digits = sum(c.isdigit() for c in stripped)
    if PHONE_SHAPE.fullmatch(stripped) and (digits >= PHONE_DIGITS_MIN
                                            or stripped.startswith("+")):
        return "phone"
    if is_valid(normalise(stripped)):
        return "number"
    return "name"


def member_ids_by_name(session: Session, text: str, *, vault: Vault,
                       limit: int = RESULTS_MAX) -> list[int]:
    digests = name_digests(vault, text)
    if not digests:
        return []
    query = (select(SearchIndexRow.member_id)
             .where(SearchIndexRow.kind == "name", SearchIndexRow.digest.in_(digests))
             .group_by(SearchIndexRow.member_id)
             .having(func.count(func.distinct(SearchIndexRow.digest)) == len(set(digests)))
             .order_by(SearchIndexRow.member_id).limit(limit))
    return list(session.scalars(query))


def member_ids_by_phone(session: Session, e164: str, *, vault: Vault,
                        limit: int = RESULTS_MAX) -> list[int]:
    query = (select(SearchIndexRow.member_id)
             .where(SearchIndexRow.kind == "phone",
                    SearchIndexRow.digest == phone_digest(vault, e164))
             .order_by(SearchIndexRow.member_id).limit(limit))
    return list(session.scalars(query))


def codes_with_phone(session: Session, phone: str, *, vault: Vault, reader: Reader,
                     clock: Clock) -> list[str]:
    """The member numbers already registered with this phone (registration warns about
    them); each one found is logged, as it ties the phone to her."""
    e164 = normalise_phone(phone, region=phone_region(session))
    ids = member_ids_by_phone(session, e164, vault=vault)
    rows = session.execute(select(MemberRow.code).where(MemberRow.id.in_(ids))
                           .order_by(MemberRow.code)).scalars().all()
    for code in rows:
        _log(session, code, "phone", reader, clock)
    return list(rows)


def find_members(session: Session, text: str, *, vault: Vault, reader: Reader, clock: Clock,
                 limit: int = RESULTS_MAX) -> SearchResult:
    """The members a clerk's query names (see `query_kind`), with their known-as names,
    each read logged. A member number that is not on the books finds nobody."""
    text = check_text(text, field="q", length_max=FIELD_LENGTH_MAX)
    by = query_kind(text)
    if by == "number":
        ids = list(session.scalars(select(MemberRow.id)
                                   .where(MemberRow.code == normalise(text))))
    elif by == "phone":
        e164 = normalise_phone(text.strip(), region=phone_region(session))
        ids = member_ids_by_phone(session, e164, vault=vault, limit=limit + 1)
    else:
        ids = member_ids_by_name(session, text, vault=vault, limit=limit + 1)
    more = len(ids) > limit
    matches = _reveal(session, ids[:limit], by, vault=vault, reader=reader, clock=clock)
    return SearchResult(by, sorted(matches, key=lambda m: m.code), more)


def _reveal(session: Session, ids: list[int], by: Found, *, vault: Vault, reader: Reader,
            clock: Clock) -> list[Match]:
    """The members found, with their known-as names, in one read; one log row each."""
    if not ids:
        return []
    rows = session.execute(
        select(MemberRow.code, MemberRow.status, IdentityRow.wrapped_key, IdentityRow.known_as)
        .join(IdentityRow, IdentityRow.member_id == MemberRow.id, isouter=True)
        .where(MemberRow.id.in_(ids))).all()
    matches, now = [], clock.now()
    for code, status, wrapped, sealed in rows:
        known_as = None
        if wrapped is not None and sealed is not None:
            known_as = vault.decrypt(wrapped, code, "known_as", sealed)
        fields = [f for f, shown in (("known_as", known_as is not None),
                                     ("phone", by == "phone")) if shown]
        if fields:
            session.add(AccessLogRow(at=now, username=reader.username, role=reader.role,
                                     member_code=code, fields=",".join(fields),
                                     reason=reader.reason[:80]))
        matches.append(Match(code, status, known_as))
    session.flush()
    return matches


def _log(session: Session, code: str, fields: str, reader: Reader, clock: Clock) -> None:
    session.add(AccessLogRow(at=clock.now(), username=reader.username, role=reader.role,
                             member_code=code, fields=fields, reason=reader.reason[:80]))
    session.flush()


def reindex(session: Session, *, vault: Vault, only_missing: bool = False) -> int:
    """Rebuild the blind indexes from the vault (after the upgrade that brought them): every
    member with a readable identity, or with `only_missing` those with a name or a phone and
    no index row. Returns how many members were indexed. This decrypts names and phones to
    index them; nothing is shown to anyone, so nothing is logged as read."""
    query = (select(MemberRow.id, MemberRow.code, IdentityRow)
             .join(IdentityRow, IdentityRow.member_id == MemberRow.id)
             .where(IdentityRow.wrapped_key.is_not(None),
                    (IdentityRow.known_as.is_not(None)) | (IdentityRow.phone.is_not(None))))
    if only_missing:
        query = query.where(~exists().where(SearchIndexRow.member_id == MemberRow.id))
    else:  # rows of members erased meanwhile, or written under another key, go too
        session.execute(delete(SearchIndexRow))
    done = 0
    region = phone_region(session)
    for member_id, code, row in session.execute(query).all():
        wrapped = row.wrapped_key
        known_as = (vault.decrypt(wrapped, code, "known_as", row.known_as)
                    if row.known_as is not None else None)
        phone = (vault.decrypt(wrapped, code, "phone", row.phone)
                 if row.phone is not None else None)
        if phone is not None:  # registered in E.164 already; older rows are normalised here
            try:
                phone = normalise_phone(phone, region=region)
            except InvalidInput:
                phone = None
        if not only_missing or words(known_as or "") or phone:
            index_identity(session, member_id, known_as=known_as, phone=phone, vault=vault)
        done += 1
    return done


__all__ = ["Match", "SearchResult", "codes_with_phone", "find_members", "member_ids_by_name",
           "member_ids_by_phone", "query_kind", "reindex"]
