"""Members, shares and savings through the services, on SQLite and PostgreSQL.

A clerk's day with exact figures, the member numbers' randomness and check character, the
identity vault (ciphertexts bound to member and field, the blind phone index, the access log,
crypto-shredding) and holds on savings.
"""

from __future__ import annotations

import itertools
import random
import secrets

import pytest
from sqlalchemy import func, select

from coop.clock import FixedClock
from coop.db import Database
from coop.errors import Conflict
from coop.ledger import queries
from coop.ledger.model import InsufficientFunds
from coop.ledger.orm import entry_table, posting_table
from coop.ledger.verify import verify
from coop.members import (
    AccessLogRow,
    Identity,
    IdentityRow,
    MemberRow,
    Reader,
    erase_identity,
    exit_member,
    find_by_phone,
    get_member,
    read_identity,
    register_member,
    savings_account,
    shares_account,
    vault,
)
from coop.members import codes as member_codes
from coop.members.codes import ALPHABET, check_value, is_valid, new_code, normalise
from coop.members.vault import Vault
from coop.savings import (
    balances,
    place_hold,
    record_deposit,
    record_withdrawal,
    release_hold,
    shares,
    statement,
)
from tests.conftest import BUSINESS_DATE

FACE = 1000  # the default share face value, in minor units
CLERK = Reader("clerk1", "clerk", "counter enquiry")
ALL_FIELDS = ("known_as", "legal_name", "phone", "nominee")


@pytest.fixture
def keys() -> Vault:
    return Vault(secrets.token_bytes(32))


def register(db: Database, clock: FixedClock, keys: Vault, **identity: str) -> str:
    member = db.write(lambda s: register_member(s, identity=Identity(**identity),
                                                joined_on=None, vault=keys, clock=clock))
    return member.code


def deposit(db: Database, clock: FixedClock, code: str, amount: int) -> int:
    _entry, after = db.write(lambda s: record_deposit(
        s, code, amount_minor=amount, value_date=clock.today(), actor="clerk1", clock=clock))
    return after.balance_minor


def withdraw(db: Database, clock: FixedClock, code: str, amount: int) -> int:
    _entry, after = db.write(lambda s: record_withdrawal(
        s, code, amount_minor=amount, value_date=clock.today(), actor="clerk1", clock=clock))
    return after.balance_minor


def buy(db: Database, clock: FixedClock, code: str, count: int, source: str) -> shares.Holding:
    _entry, holding = db.write(lambda s: shares.buy_shares(
        s, code, count=count, source=source, face_value_minor=FACE,  # type: ignore[arg-type]
        value_date=clock.today(), actor="clerk1", clock=clock))
    return holding


def balance(db: Database, account: str) -> int:
    value = db.read(lambda s: queries.balance(s, account))
    assert value is not None
    return value


def entry_count(db: Database) -> int:
    return int(db.read(lambda s: s.execute(
        select(func.count()).select_from(entry_table)).scalar_one()))


def read(db: Database, clock: FixedClock, keys: Vault, code: str,
         fields: tuple[str, ...] = ALL_FIELDS) -> dict[str, str | None]:
    return db.write(lambda s: read_identity(s, code, fields=fields, reader=CLERK, vault=keys,
                                            clock=clock))


def log_rows(db: Database, code: str) -> list[tuple[str, str, str, str]]:
    return [tuple(r) for r in db.read(lambda s: s.execute(
        select(AccessLogRow.username, AccessLogRow.role, AccessLogRow.fields,
               AccessLogRow.reason)
        .where(AccessLogRow.member_code == code).order_by(AccessLogRow.id)).all())]


# -- a clerk's day ------------------------------------------------------------------------------


def test_a_clerks_day(db: Database, clock: FixedClock, keys: Vault) -> None:
    asha = register(db, clock, keys, known_as="Asha", phone="+91 98450 12345")
    bina = register(db, clock, keys)
    chitra = register(db, clock, keys)
    assert len({asha, bina, chitra}) == 3 and all(map(is_valid, (asha, bina, chitra)))
    assert read(db, clock, keys, asha) == {"known_as": "Asha", "legal_name": None,
                                            "phone": "+919845012345", "nominee": None}
    assert read(db, clock, keys, bina) == dict.fromkeys(ALL_FIELDS)

    assert buy(db, clock, asha, 2, "cash") == shares.Holding(count=2, value_minor=2000)
    assert [deposit(db, clock, asha, a) for a in (1000, 25050, 50000)] == [1000, 26050, 76050]
    assert [deposit(db, clock, bina, a) for a in (50000, 1500)] == [50000, 51500]
    assert deposit(db, clock, chitra, 10000) == 10000
    assert buy(db, clock, chitra, 1, "cash") == shares.Holding(count=1, value_minor=1000)

    # Refused withdrawals write nothing at all.
    entries = entry_count(db)
    before = {a: balance(db, a) for a in ("1000", "2000", "3000", savings_account(asha),
                                          savings_account(chitra))}
    with pytest.raises(InsufficientFunds):
        withdraw(db, clock, asha, 76051)
    with pytest.raises(InsufficientFunds):
        withdraw(db, clock, chitra, 10001)
    assert entry_count(db) == entries
    assert {a: balance(db, a) for a in before} == before

    assert withdraw(db, clock, asha, 6050) == 70000
    assert buy(db, clock, asha, 1, "savings") == shares.Holding(count=3, value_minor=3000)
    assert buy(db, clock, bina, 5, "savings") == shares.Holding(count=5, value_minor=5000)
    assert entry_count(db) == entries + 3

    lines = db.read(lambda s: statement(s, asha))
    assert [(x.value_date, x.narration, x.deposit_minor, x.withdrawal_minor, x.balance_minor)
            for x in lines] == [
        (BUSINESS_DATE, "Deposit", 1000, 0, 1000),
        (BUSINESS_DATE, "Deposit", 25050, 0, 26050),
        (BUSINESS_DATE, "Deposit", 50000, 0, 76050),
        (BUSINESS_DATE, "Withdrawal", 0, 6050, 70000),
        (BUSINESS_DATE, "1 share bought from savings", 0, 1000, 69000),
    ]
    assert [x.entry_id for x in lines] == sorted(x.entry_id for x in lines)

    savings = {c: db.read(lambda s, c=c: balances(s, c)).balance_minor
               for c in (asha, bina, chitra)}
    assert savings == {asha: 69000, bina: 46500, chitra: 10000}
    held = {c: db.read(lambda s, c=c: shares.holding(s, c)) for c in (asha, bina, chitra)}
    assert [(h.count, h.value_minor) for h in held.values()] == [(3, 3000), (5, 5000),
                                                                 (1, 1000)]
    assert balance(db, "2000") == sum(savings.values()) == 125500
    assert balance(db, "3000") == sum(h.value_minor for h in held.values()) == 9000
    # cash: 3 shares for cash + 137,550 deposited - 6,050 paid out
    assert balance(db, "1000") == 3000 + 137550 - 6050 == 134500
    assert balance(db, shares_account(bina)) == 5000
    report = db.read(verify)
    assert report.ok, report.problems


# -- member numbers ----------------------------------------------------------------------------


def _payload_number(code: str) -> int:
    number = 0
    for char in code[2:7]:
        number = number * 32 + ALPHABET.index(char)
    return number


@pytest.mark.slow
def test_two_thousand_registered_numbers_are_valid_distinct_and_unpredictable(
    db: Database, clock: FixedClock, keys: Vault
) -> None:
    def register_many(s) -> list[str]:  # type: ignore[no-untyped-def]
        return [register_member(s, identity=Identity(), joined_on=None, vault=keys,
                                clock=clock).code for _ in range(2000)]

    registered = db.write(register_many)
    stored = db.read(lambda s: list(s.scalars(select(MemberRow.code).order_by(MemberRow.id))))
    assert stored == registered
    assert all(is_valid(code) for code in registered)
    assert len(set(registered)) == 2000
    steps = [_payload_number(b) - _payload_number(a)
             for a, b in itertools.pairwise(registered)]
    assert len(set(steps)) > 1900  # no predictable step between neighbours in time
    assert 0.35 < sum(step > 0 for step in steps) / len(steps) < 0.65  # not even increasing
    assert registered != sorted(registered)


def _sample_codes() -> list[str]:
    rng = random.Random(20250630)
    payloads = ["".join(rng.choice(ALPHABET) for _ in range(5)) for _ in range(150)]
    payloads += ["00000", "ZZZZZ", "7Q4K2", "ABCDE"]
    codes = [f"M-{p}{ALPHABET[check_value(p)]}" for p in payloads
             if check_value(p) < len(ALPHABET)]
    codes += [new_code() for _ in range(50)]
    assert all(map(is_valid, codes))
    return codes


def test_a_single_mistyped_character_is_caught() -> None:
    typeable = ALPHABET + "ILOUilou" + ALPHABET.lower() + "-_ ."
    for code in _sample_codes():
        for index in range(len(code)):
            for char in typeable:
                if char == code[index]:
                    continue
                typo = code[:index] + char + code[index + 1:]
                assert not is_valid(typo), (code, typo)


def _code(prefix: str) -> str:
    """A valid member number starting with `prefix` (4 characters) and the first fifth
    character whose check value has a character."""
    for last in member_codes.ALPHABET:
        check = check_value(prefix + last)
        if check < len(member_codes.ALPHABET):
            return f"M-{prefix}{last}{member_codes.ALPHABET[check]}"
    raise AssertionError("no payload with that prefix has a check character")


def test_a_swap_of_two_neighbours_is_caught() -> None:
    missed = []
    for code in _sample_codes():
        for index in range(len(code) - 1):
            a, b = code[index], code[index + 1]
            if a == b:
                continue
            swapped = code[:index] + b + a + code[index + 2:]
            if is_valid(swapped):
                missed.append((a, b))
    assert missed == []


def test_a_swap_of_neighbours_0_and_z_is_caught() -> None:
    code = _code("0Z7Q")  # Luhn mod 32, used at first, missed exactly this swap
    assert is_valid(code)
    assert not is_valid(f"M-Z0{code[4:]}")


def test_normalise_reads_what_a_clerk_types() -> None:
    code = _code("01AB")
    assert normalise(code) == code
    assert normalise(code.lower()) == code
    tail = code[6:]
    assert normalise("  m-oiab" + tail.lower() + " ") == code
    assert normalise("M-OLAB" + tail) == code
    assert normalise("0iab" + tail) == code
    assert normalise("m0lab" + tail) == code
    assert is_valid(normalise("m-Olab" + tail.lower()))
    assert member_codes.CODE_PATTERN.fullmatch(normalise("m-7q4k2x"))


# -- the vault ---------------------------------------------------------------------------------


def _swap(db: Database, target: str, field: str, value: bytes | None) -> None:
    def work(s) -> None:  # type: ignore[no-untyped-def]
        row = s.get(IdentityRow, get_member(s, target).id)
        setattr(row, field, value)
    db.write(work)


def _sealed(db: Database, code: str, field: str) -> bytes:
    value = db.read(lambda s: getattr(s.get(IdentityRow, get_member(s, code).id), field))
    assert isinstance(value, bytes)
    return value


def test_a_ciphertext_moved_to_another_member_or_field_does_not_open(
    db: Database, clock: FixedClock, keys: Vault
) -> None:
    asha = register(db, clock, keys, known_as="Asha", legal_name="Asha Devi")
    bina = register(db, clock, keys, known_as="Bina")
    assert _sealed(db, asha, "known_as") != _sealed(db, bina, "known_as")
    assert b"Asha" not in _sealed(db, asha, "known_as")

    _swap(db, bina, "known_as", _sealed(db, asha, "known_as"))
    with pytest.raises(vault.VaultUnavailable):
        read(db, clock, keys, bina, ("known_as",))
    _swap(db, asha, "legal_name", _sealed(db, asha, "known_as"))
    with pytest.raises(vault.VaultUnavailable):
        read(db, clock, keys, asha, ("legal_name",))
    assert read(db, clock, keys, asha, ("known_as",)) == {"known_as": "Asha"}
    # The failed reads were rolled back, log rows included.
    assert log_rows(db, bina) == []
    assert log_rows(db, asha) == [("clerk1", "clerk", "known_as", "counter enquiry")]
    with pytest.raises(vault.VaultUnavailable):  # another master key opens nothing either
        read(db, clock, Vault(secrets.token_bytes(32)), asha, ("known_as",))


def test_find_by_phone_matches_digits_and_never_decrypts(
    db: Database, clock: FixedClock, keys: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    asha = register(db, clock, keys, phone="+91 98450 12345")
    bina = register(db, clock, keys, phone="+91 98450 12346")
    register(db, clock, keys)

    def refuse(*args: object) -> bytes:
        raise AssertionError("find_by_phone decrypted something")

    monkeypatch.setattr(Vault, "_open", staticmethod(refuse))
    for typed in ("+91 98450 12345", "+919845012345", "91-98450-12345", " (91) 984 5012 345 "):
        assert db.read(lambda s, t=typed: find_by_phone(s, t, vault=keys)) == asha
    assert db.read(lambda s: find_by_phone(s, "9198450 12346", vault=keys)) == bina
    assert db.read(lambda s: find_by_phone(s, "+91 98450 12347", vault=keys)) is None
    # without the country code it is still her phone: the last ten digits are compared
    assert db.read(lambda s: find_by_phone(s, "9845012345", vault=keys)) == asha
    other = Vault(secrets.token_bytes(32))  # the index is keyed: another key finds no one
    assert db.read(lambda s: find_by_phone(s, "+91 98450 12345", vault=other)) is None
    index = db.read(lambda s: s.get(IdentityRow, get_member(s, asha).id).phone_index)
    assert "12345" not in index and len(index) == 64


def test_each_read_writes_one_log_row_with_the_fields_present(
    db: Database, clock: FixedClock, keys: Vault
) -> None:
    asha = register(db, clock, keys, known_as="Asha", phone="98450 12345")
    bina = register(db, clock, keys)
    assert read(db, clock, keys, asha) == {"known_as": "Asha", "legal_name": None,
                                            "phone": "+919845012345", "nominee": None}
    assert read(db, clock, keys, asha, ("phone", "nominee")) == {"phone": "+919845012345",
                                                                  "nominee": None}
    assert read(db, clock, keys, asha, ("legal_name",)) == {"legal_name": None}
    assert read(db, clock, keys, asha, ("known_as",)) == {"known_as": "Asha"}
    assert read(db, clock, keys, bina) == dict.fromkeys(ALL_FIELDS)
    assert log_rows(db, asha) == [
        ("clerk1", "clerk", "known_as,phone", "counter enquiry"),
        ("clerk1", "clerk", "phone", "counter enquiry"),
        ("clerk1", "clerk", "known_as", "counter enquiry"),
    ]
    assert log_rows(db, bina) == []
    at = db.read(lambda s: set(s.scalars(select(AccessLogRow.at))))
    assert at == {clock.now()}


def test_erasure_shreds_the_identity_and_keeps_the_ledger(
    db: Database, clock: FixedClock, keys: Vault
) -> None:
    asha = register(db, clock, keys, known_as="Asha", legal_name="Asha Devi",
                    phone="+91 98450 12345", nominee="Ravi")
    bina = register(db, clock, keys, known_as="Bina")
    deposit(db, clock, asha, 5000)
    deposit(db, clock, bina, 700)

    with pytest.raises(Conflict):
        db.write(lambda s: erase_identity(s, asha, clock=clock))
    with pytest.raises(Conflict):  # she still has savings
        db.write(lambda s: exit_member(s, asha, clock=clock))
    assert read(db, clock, keys, asha, ("known_as",)) == {"known_as": "Asha"}

    assert withdraw(db, clock, asha, 5000) == 0
    exited = db.write(lambda s: exit_member(s, asha, clock=clock))
    assert (exited.status, exited.exited_on) == ("exited", BUSINESS_DATE)
    db.write(lambda s: erase_identity(s, asha, clock=clock))

    logged = len(log_rows(db, asha))
    assert read(db, clock, keys, asha) == dict.fromkeys(ALL_FIELDS)
    assert len(log_rows(db, asha)) == logged  # nothing was read, so nothing is logged
    assert db.read(lambda s: find_by_phone(s, "+91 98450 12345", vault=keys)) is None
    row = db.read(lambda s: s.get(IdentityRow, get_member(s, asha).id))
    assert (row.wrapped_key, row.known_as, row.legal_name, row.phone, row.nominee,
            row.phone_index) == (None,) * 6
    assert row.erased_at == clock.now()
    assert read(db, clock, keys, bina, ("known_as",)) == {"known_as": "Bina"}

    with pytest.raises(InsufficientFunds):  # no overdraft on the way out either
        withdraw(db, clock, bina, 701)
    report = db.read(verify)
    assert report.ok, report.problems
    postings = db.read(lambda s: s.execute(
        select(entry_table.c.kind, posting_table.c.side, posting_table.c.amount_minor)
        .join(posting_table, posting_table.c.entry_id == entry_table.c.id)
        .where(posting_table.c.account_id == queries.get_account(s, savings_account(asha)).id)
        .order_by(entry_table.c.id)).all())
    assert [tuple(p) for p in postings] == [("deposit", "credit", 5000),
                                            ("withdrawal", "debit", 5000)]
    assert [(x.deposit_minor, x.withdrawal_minor, x.balance_minor)
            for x in db.read(lambda s: statement(s, asha))] == [(5000, 0, 5000), (0, 5000, 0)]
    assert db.read(lambda s: get_member(s, asha)).status == "exited"
    with pytest.raises(Conflict):  # an exited member takes no more deposits
        deposit(db, clock, asha, 100)


# -- holds -------------------------------------------------------------------------------------


def test_holds_set_savings_aside(db: Database, clock: FixedClock, keys: Vault) -> None:
    asha = register(db, clock, keys)
    bina = register(db, clock, keys)
    deposit(db, clock, asha, 100000)

    def hold(code: str, amount: int) -> int:
        return db.write(lambda s: place_hold(s, code, amount_minor=amount, reason="guarantee",
                                             actor="admin", clock=clock).id)

    def release(code: str, hold_id: int) -> None:
        db.write(lambda s: release_hold(s, code, hold_id, clock=clock))

    first = hold(asha, 40000)
    assert db.read(lambda s: balances(s, asha)).available_minor == 60000
    with pytest.raises(InsufficientFunds):
        hold(asha, 60001)
    second = hold(asha, 60000)
    with pytest.raises(InsufficientFunds):
        hold(asha, 1)
    with pytest.raises(InsufficientFunds):
        withdraw(db, clock, asha, 1)
    release(asha, second)
    with pytest.raises(Conflict):
        release(asha, second)

    entries = entry_count(db)
    with pytest.raises(InsufficientFunds):
        withdraw(db, clock, asha, 60001)
    assert entry_count(db) == entries
    assert withdraw(db, clock, asha, 60000) == 40000
    after = db.read(lambda s: balances(s, asha))
    assert (after.balance_minor, after.held_minor, after.available_minor) == (40000, 40000, 0)
    with pytest.raises(InsufficientFunds):
        withdraw(db, clock, asha, 1)
    with pytest.raises(InsufficientFunds):
        hold(bina, 1)  # nothing saved, nothing to hold
    from coop.errors import NotFound
    with pytest.raises(NotFound):  # a hold is released only on its own member
        release(bina, first)
    release(asha, first)
    assert withdraw(db, clock, asha, 40000) == 0
    assert balance(db, "2000") == 0
    report = db.read(verify)
    assert report.ok, report.problems


def test_shares_from_savings_cannot_spend_held_money(
    db: Database, clock: FixedClock, keys: Vault
) -> None:
    asha = register(db, clock, keys)
    deposit(db, clock, asha, 5000)
    db.write(lambda s: place_hold(s, asha, amount_minor=5000, reason="guarantee",
                                  actor="admin", clock=clock))
    with pytest.raises(InsufficientFunds):
        buy(db, clock, asha, 5, "savings")
