"""Finding members through the blind indexes, on SQLite and PostgreSQL: by whole words of the
known-as name (Kannada too), by phone (everyone who shares it), each match logged as a read;
the index holds no plaintext, follows registration and erasure, rebuilds from the vault, and
the lookup is an indexed query that decrypts only what it finds."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import delete, select, text

from coop.clock import FixedClock
from coop.db import Database
from coop.members import (
    AccessLogRow,
    Identity,
    Reader,
    erase_identity,
    exit_member,
    register_member,
)
from coop.members.blind import SearchIndexRow
from coop.members.search import codes_with_phone, find_members, reindex
from coop.members.vault import Vault

CLERK = Reader("clerk1", "clerk", "counter: find a member")
KANNADA = "ಲಕ್ಷ್ಮಿ ದೇವಿ"


@pytest.fixture
def keys() -> Vault:
    return Vault(secrets.token_bytes(32))


def register(db: Database, clock: FixedClock, keys: Vault, **identity: str) -> str:
    return db.write(lambda s: register_member(s, identity=Identity(**identity), joined_on=None,
                                              vault=keys, clock=clock)).code


def find(db: Database, clock: FixedClock, keys: Vault, typed: str) -> list[tuple[str, str | None]]:
    found = db.write(lambda s: find_members(s, typed, vault=keys, reader=CLERK, clock=clock))
    return [(m.code, m.known_as) for m in found.matches]


def test_a_clerk_finds_members_by_whole_words_and_by_phone(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    lakshmi = register(db, clock, keys, known_as=KANNADA, phone="98450 12345")
    asha = register(db, clock, keys, known_as="Asha Devi", phone="+91 98450 12345")
    other = register(db, clock, keys, known_as="Asha Rani", phone="98450 99999")
    assert find(db, clock, keys, "ಲಕ್ಷ್ಮಿ") == [(lakshmi, KANNADA)]
    assert find(db, clock, keys, "ದೇವಿ ಲಕ್ಷ್ಮಿ") == [(lakshmi, KANNADA)]
    assert find(db, clock, keys, "devi ASHA") == [(asha, "Asha Devi")]
    assert sorted(find(db, clock, keys, "asha")) == sorted([(asha, "Asha Devi"),
                                                           (other, "Asha Rani")])
    assert find(db, clock, keys, "ash") == []  # whole words only: no prefix through an HMAC
    assert find(db, clock, keys, "asha lakshmi") == []  # every word must be hers
    # two members share a phone: both are listed, however the number is typed
    both = sorted([(lakshmi, KANNADA), (asha, "Asha Devi")])
    assert sorted(find(db, clock, keys, "+91 98450 12345")) == both
    assert sorted(find(db, clock, keys, "098450-12345")) == both
    assert find(db, clock, keys, lakshmi.lower()) == [(lakshmi, KANNADA)]


def test_each_member_shown_is_a_logged_read(db: Database, clock: FixedClock,
                                            keys: Vault) -> None:
    asha = register(db, clock, keys, known_as="Asha Devi", phone="9845012345")
    bina = register(db, clock, keys, phone="9845012345")
    find(db, clock, keys, "9845012345")
    find(db, clock, keys, "asha")
    assert db.write(lambda s: codes_with_phone(s, "98450 12345", vault=keys, reader=CLERK,
                                               clock=clock)) == sorted([asha, bina])
    log = db.read(lambda s: sorted(tuple(r) for r in s.execute(
        select(AccessLogRow.member_code, AccessLogRow.fields, AccessLogRow.username))))
    assert log == sorted([(asha, "known_as,phone", "clerk1"), (bina, "phone", "clerk1"),
                          (asha, "known_as", "clerk1"),  # the search by name
                          (asha, "phone", "clerk1"), (bina, "phone", "clerk1")])  # warning


def test_the_index_holds_no_name_or_phone_and_is_keyed(db: Database, clock: FixedClock,
                                                       keys: Vault) -> None:
    register(db, clock, keys, known_as="Asha Devi", phone="98450 12345")
    register(db, clock, keys, known_as=KANNADA)
    rows = db.read(lambda s: [(r.kind, r.digest) for r in s.scalars(select(SearchIndexRow))])
    assert sorted(kind for kind, _ in rows) == ["name"] * 4 + ["phone"]
    dump = " ".join(digest for _, digest in rows).lower()
    for secret in ("asha", "devi", "9845012345", "+919845012345", "ಲಕ್ಷ್ಮಿ"):
        assert secret not in dump
    # under another key the same words give other digests, and find nothing
    other = Vault(secrets.token_bytes(32))
    assert find(db, clock, other, "asha") == []


def test_erasure_removes_her_rows_and_reindex_rebuilds_the_rest(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    leaving = register(db, clock, keys, known_as="Asha Devi", phone="98450 12345")
    staying = register(db, clock, keys, known_as="Asha Rani")
    db.write(lambda s: exit_member(s, leaving, clock=clock))
    db.write(lambda s: erase_identity(s, leaving, clock=clock))
    assert find(db, clock, keys, "asha") == [(staying, "Asha Rani")]
    assert find(db, clock, keys, "98450 12345") == []
    # an upgraded book: no index rows yet; `coop reindex --missing` (and init, serve) fill it
    db.write(lambda s: s.execute(delete(SearchIndexRow)))
    assert find(db, clock, keys, "asha") == []
    assert db.write(lambda s: reindex(s, vault=keys, only_missing=True)) == 1
    assert db.write(lambda s: reindex(s, vault=keys, only_missing=True)) == 0
    assert find(db, clock, keys, "rani") == [(staying, "Asha Rani")]
    assert db.read(lambda s: s.scalar(select(SearchIndexRow.id).where(
        SearchIndexRow.member_id == s.execute(text(
            "SELECT id FROM member WHERE code = :c"), {"c": leaving}).scalar()))) is None


def test_only_the_matches_are_decrypted(db: Database, clock: FixedClock, keys: Vault,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(30):
        register(db, clock, keys, known_as=f"Member {n} Name")
    register(db, clock, keys, known_as="Kavya Shetty")
    opened: list[str] = []
    real = Vault.decrypt

    def counting(self: Vault, wrapped: bytes | None, code: str, field: str,
                 sealed: bytes) -> str:
        opened.append(field)
        return real(self, wrapped, code, field, sealed)

    monkeypatch.setattr(Vault, "decrypt", counting)
    assert [k for _, k in find(db, clock, keys, "kavya")] == ["Kavya Shetty"]
    assert opened == ["known_as"]


def test_the_lookup_uses_the_index(db: Database, clock: FixedClock, keys: Vault) -> None:
    register(db, clock, keys, known_as="Asha Devi")
    digest = keys.keyed_digest("search-name", "asha")
    sql = ("SELECT member_id FROM member_search_index WHERE kind = 'name' "
           f"AND digest IN ('{digest}') GROUP BY member_id")

    def plan(session: object) -> str:
        from sqlalchemy.orm import Session
        assert isinstance(session, Session)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL enable_seqscan = off"))
            return " ".join(str(r[0]) for r in session.execute(text("EXPLAIN " + sql)))
        return " ".join(str(r[-1]) for r in session.execute(text("EXPLAIN QUERY PLAN " + sql)))

    assert "ix_member_search_index_lookup" in db.write(plan)
