"""Members: coded member numbers, the encrypted identity vault, the access log, and shares.

A member is known everywhere (ledger, reports, passbooks) by her random member number only.
Her identity (known-as name, legal name, phone, nominee; every field optional) is encrypted
with her own data key (see coop.members.vault); every read of it writes an access-log row in
the same transaction, so a read that cannot be logged does not happen. Nothing records what a
member does for a living or where: there is no such field, and none may be added.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

import phonenumbers
from babel import Locale
from sqlalchemy import (
    Boolean,
    ColumnElement,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from coop.clock import Clock
from coop.db import Base
from coop.errors import Conflict, Forbidden, InvalidInput, NotFound
from coop.i18n import check_language
from coop.ledger import open_account
from coop.ledger.chart import LOANS, SAVINGS, SHARE_CAPITAL
from coop.ledger.model import check_text
from coop.members import blind
from coop.members.codes import is_valid, new_code
from coop.members.vault import FIELDS, Vault
from coop.society import get_society

MemberStatus = Literal["active", "exited"]
FIELD_LENGTH_MAX = 120
CODE_ATTEMPTS_MAX = 20


class Unset:
    """The value of a preference the caller did not mention (None means "the default")."""


UNSET = Unset()


class MemberRow(Base):
    __tablename__ = "member"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(8))
    joined_on: Mapped[date]
    exited_on: Mapped[date | None]
    created_at: Mapped[datetime]
    # her choices for what is printed for her: the language (None: the society's), and
    # whether her known-as name may appear on her passbook's front page (never unless asked)
    language: Mapped[str | None] = mapped_column(String(5))
    passbook_known_as: Mapped[bool] = mapped_column(Boolean, default=False,
                                                    server_default=false())


class IdentityRow(Base):
    """Ciphertexts only. `wrapped_key` NULL means the identity was erased."""

    __tablename__ = "member_identity"

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), primary_key=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    known_as: Mapped[bytes | None] = mapped_column(LargeBinary)
    legal_name: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone: Mapped[bytes | None] = mapped_column(LargeBinary)
    nominee: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    erased_at: Mapped[datetime | None]


class AccessLogRow(Base):
    """Who read which member's identity fields, when and why."""

    __tablename__ = "member_access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(8))
    member_code: Mapped[str] = mapped_column(String(16), index=True)
    fields: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(80))


@dataclass(frozen=True)
class Identity:
    known_as: str | None = None
    legal_name: str | None = None
    phone: str | None = None
    nominee: str | None = None


@dataclass(frozen=True)
class Reader:
    """Who reads an identity, and why (for the access log)."""

    username: str
    role: str
    reason: str


class MemberNotFound(NotFound):
    code = "member_not_found"
    title = "No such member"


class MemberNotActive(Conflict):
    code = "member_not_active"
    title = "The member has exited"


def savings_account(code: str) -> str:
    return f"{SAVINGS}:{code}"


def shares_account(code: str) -> str:
    return f"{SHARE_CAPITAL}:{code}"


def account_owner(account: str) -> str | None:
    """The member whose savings, shares or loan account this is (`2000:M-7Q4K2`,
    `1100:M-7Q4K2-L12`), or None for a general-ledger account."""
    control, _, rest = account.partition(":")
    if not rest or control not in (SAVINGS, SHARE_CAPITAL, LOANS):
        return None
    return rest.rsplit("-L", 1)[0] if control == LOANS else rest


BACKDATE_DAYS_MAX = 30
"""How far back anyone but an admin may date a joining (a member registered a few weeks
late); older dates come from the paper register, entered by an admin."""
JOINED_ON_MIN = date(1900, 1, 1)


class BackdatingNotAllowed(Forbidden):
    code = "backdating_not_allowed"
    title = "Only an admin may date a joining this far back"


def phone_region(session: Session) -> str:
    """The region a phone without a country code belongs to: the society locale's territory."""
    society = get_society(session)
    territory = Locale.parse(society.locale).territory if society else None
    return territory or "IN"


def normalise_phone(phone: str, *, region: str) -> str:
    """The number in E.164 (`+919845012345`), or 422: a phone must have the digits of a
    possible number where the society is ("none", "n/a" or "-" are not phones)."""
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise InvalidInput("a phone number is its digits, with or without the country code "
                           "(for example 98450 12345)", field="phone")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def check_joined_on(joined: date, *, today: date, may_backdate: bool) -> None:
    if joined > today:
        raise InvalidInput("a member cannot join after the business date", field="joined_on")
    if joined < JOINED_ON_MIN:
        raise InvalidInput("joined_on is not before 1900-01-01", field="joined_on")
    if not may_backdate and (today - joined).days > BACKDATE_DAYS_MAX:
        raise BackdatingNotAllowed.said(
            "joined_on more than {backdate_days_max} days before the business date is entered by "
            "an admin, from the paper register",
            backdate_days_max=BACKDATE_DAYS_MAX, field="joined_on")


def register_member(
    session: Session, *, identity: Identity, joined_on: date | None, vault: Vault, clock: Clock,
    language: str | None = None, passbook_known_as: bool = False, may_backdate: bool = True,
) -> MemberRow:
    """Register a member: a fresh random number, her encrypted identity (her phone in
    E.164), her savings and share accounts in the ledger. Only a caller that `may_backdate`
    (an admin) dates her joining more than 30 days back."""
    joined = joined_on or clock.today()
    check_joined_on(joined, today=clock.today(), may_backdate=may_backdate)
    if identity.phone:
        identity = replace(identity, phone=normalise_phone(
            check_text(identity.phone, field="phone", length_max=FIELD_LENGTH_MAX),
            region=phone_region(session)))
    code = _unused_code(session)
    member = MemberRow(code=code, status="active", joined_on=joined, exited_on=None,
                       created_at=clock.now(),
                       language=check_language(language) if language else None,
                       passbook_known_as=passbook_known_as)
    session.add(member)
    session.flush()
    wrapped = vault.new_wrapped_key(code)
    sealed: dict[str, bytes | None] = {}
    for field in FIELDS:
        value = getattr(identity, field)
        text = check_text(value, field=field, length_max=FIELD_LENGTH_MAX) if value else None
        sealed[field] = vault.encrypt(wrapped, code, field, text) if text else None
    session.add(IdentityRow(
        member_id=member.id, wrapped_key=wrapped, erased_at=None,
        phone_index=vault.phone_index(identity.phone) if identity.phone else None, **sealed,
    ))
    blind.index_identity(session, member.id, known_as=identity.known_as, phone=identity.phone,
                         vault=vault)
    open_account(session, code=savings_account(code), name=f"Savings {code}",
                 type="liability", parent=SAVINGS, owner=code, clock=clock)
    open_account(session, code=shares_account(code), name=f"Shares {code}",
                 type="equity", parent=SHARE_CAPITAL, owner=code, clock=clock)
    return member


def set_preferences(session: Session, code: str, *, language: str | Unset | None = UNSET,
                    passbook_known_as: bool | Unset = UNSET) -> MemberRow:
    """Change her language (None: the society's) or whether her known-as name is printed."""
    member = get_member(session, code)
    if not isinstance(language, Unset):
        member.language = check_language(language) if language else None
    if not isinstance(passbook_known_as, Unset):
        member.passbook_known_as = passbook_known_as
    session.flush()
    return member


def _unused_code(session: Session) -> str:
    for _ in range(CODE_ATTEMPTS_MAX):
        code = new_code()
        if session.execute(select(MemberRow.id).where(MemberRow.code == code)).first() is None:
            return code
    raise Conflict("could not draw an unused member number; try again")


def get_member(session: Session, code: str) -> MemberRow:
    """The member with this number, or MemberNotFound (also for a malformed number)."""
    if not is_valid(code):
        raise MemberNotFound.said("there is no member {code}", code=repr(code[:20]), field="code")
    member = session.execute(select(MemberRow).where(MemberRow.code == code)).scalar()
    if member is None:
        raise MemberNotFound.said("there is no member {code}", code=code, field="code")
    return member


@dataclass(frozen=True, slots=True)
class MemberFacts:
    code: str
    status: str
    exited_on: date | None


def member_facts(session: Session) -> dict[int, MemberFacts]:
    """Every member's number, status and exit day by her id, in one plain read (year-end
    registers of 100,000 members; no identity is read)."""
    rows = session.execute(select(MemberRow.id, MemberRow.code, MemberRow.status,
                                  MemberRow.exited_on))
    return {member_id: MemberFacts(code, status, exited_on)
            for member_id, code, status, exited_on in rows}


@dataclass(frozen=True, slots=True)
class Membership:
    """Who joined and who left from `start` to `end`, and how many were members at its end."""

    joined: int
    exited: int
    members_at_end: int


def membership_between(session: Session, start: date, end: date) -> Membership:
    """Members joined (by the day they joined, which may be before they were entered) and
    exited from `start` to `end`, both days included; members at the end of `end`."""
    def count(*where: ColumnElement[bool]) -> int:
        return int(session.scalar(select(func.count()).select_from(MemberRow).where(*where))
                   or 0)

    return Membership(
        joined=count(MemberRow.joined_on >= start, MemberRow.joined_on <= end),
        exited=count(MemberRow.exited_on >= start, MemberRow.exited_on <= end),
        members_at_end=count(MemberRow.joined_on <= end,
                             or_(MemberRow.exited_on.is_(None), MemberRow.exited_on > end)))


def list_members(
    session: Session, *, after: str | None = None, limit: int = 50
) -> list[MemberRow]:
    query = select(MemberRow).order_by(MemberRow.code).limit(max(1, min(limit, 500)))
    if after is not None:
        query = query.where(MemberRow.code > after)
    return list(session.scalars(query))


def read_identity(
    session: Session, code: str, *, fields: tuple[str, ...], reader: Reader, vault: Vault,
    clock: Clock,
) -> dict[str, str | None]:
    """Decrypt the asked fields and log the read in the same transaction (no log, no read).
    Fields never set come back as None and are not logged as read."""
    member = get_member(session, code)
    row = session.get(IdentityRow, member.id)
    values: dict[str, str | None] = dict.fromkeys(fields)
    if row is None or row.wrapped_key is None:
        return values
    present = [f for f in fields if getattr(row, f) is not None]
    if not present:
        return values
    session.add(AccessLogRow(at=clock.now(), username=reader.username, role=reader.role,
                             member_code=code, fields=",".join(present),
                             reason=reader.reason[:80]))
    session.flush()
    for field in present:
        values[field] = vault.decrypt(row.wrapped_key, code, field, getattr(row, field))
    return values


def find_by_phone(
    session: Session, phone: str, *, vault: Vault, reader: Reader | None = None,
    clock: Clock | None = None,
) -> str | None:
    """The member number registered with this phone, through the blind index. With a
    `reader`, a lookup that finds someone is written to the access log (it ties a phone to a
    member, which is as revealing as reading the phone)."""
    number = normalise_phone(phone, region=phone_region(session))
    found = session.execute(
        select(MemberRow.code).join(IdentityRow, IdentityRow.member_id == MemberRow.id)
        .where(IdentityRow.phone_index == vault.phone_index(number))
    ).first()
    if found is None:
        return None
    code = str(found[0])
    if reader is not None and clock is not None:
        session.add(AccessLogRow(at=clock.now(), username=reader.username, role=reader.role,
                                 member_code=code, fields="phone", reason=reader.reason[:80]))
        session.flush()
    return code


def exit_member(session: Session, code: str, *, clock: Clock) -> MemberRow:
    """Mark a member exited. Her savings and shares must have been paid out first."""
    from coop.ledger import queries

    member = get_member(session, code)
    if member.status != "active":
        raise MemberNotActive.said("{code} has already exited", code=code)
    for account in (savings_account(code), shares_account(code)):
        if (queries.balance(session, account) or 0) != 0:
            raise Conflict.said(
                "{code} still has a balance in {account}; pay it out first",
                code=code, account=account)
    member.status, member.exited_on = "exited", clock.today()
    return member


def erase_identity(session: Session, code: str, *, clock: Clock) -> None:
    """Crypto-shred an exited member's identity: her data key and every ciphertext go; her
    member number, her ledger history and the hash chain stay as they were."""
    member = get_member(session, code)
    if member.status != "exited":
        raise Conflict.said(
            "{code} is active: only an exited member's identity can be erased",
            code=code)
    blind.drop_index(session, member.id)
    row = session.get(IdentityRow, member.id)
    if row is None:
        return
    row.wrapped_key = row.known_as = row.legal_name = row.phone = row.nominee = None
    row.phone_index = None
    row.erased_at = clock.now()
