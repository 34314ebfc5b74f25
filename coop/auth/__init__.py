"""Users, roles, passwords, bearer tokens, login throttling, idempotency records, and (in
coop.auth.audit) the audit trail of state-changing requests.

- Passwords are hashed with argon2id (argon2-cffi; RFC 9106 low-memory profile by default) and
  rehashed on login when the parameters change.
- Tokens are opaque random strings; only their sha256 is stored, so a copy of the database
  gives no usable token. They expire (8 hours by default) and are revoked by logout, by a
  password change and by disabling the user: every request checks the token row and the user.
- A user whose password an admin set (a new login made at the counter, a reset) must change
  it before anything else: `must_change_password` is set, the counter sends her to its
  change-password page, and the API says so in the token response and in /me.
- A member logs in with her member number (in any case) and a password or a PIN
  (coop.auth.pins).
- More than five failed logins for one username (or twenty from one client address) within
  fifteen minutes are refused with 429 until the window passes; failures are logged without
  the password.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Table,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from coop.auth.audit import AUDIT_PAGE_MAX as AUDIT_PAGE_MAX
from coop.auth.audit import AuditEvent as AuditEvent
from coop.auth.audit import AuditFilter as AuditFilter
from coop.auth.audit import AuditRow as AuditRow
from coop.auth.audit import list_audit_events as list_audit_events
from coop.auth.audit import record_audit as record_audit
from coop.auth.orm import ANYONE as ANYONE
from coop.auth.orm import STAFF as STAFF
from coop.auth.orm import IdempotencyRow as IdempotencyRow
from coop.auth.orm import LoginFailureRow as LoginFailureRow
from coop.auth.orm import Role as Role
from coop.auth.orm import TokenRow as TokenRow
from coop.auth.orm import UserRow as UserRow
from coop.auth.pins import check_pin, is_pin, login_name
from coop.clock import Clock
from coop.db import Database
from coop.errors import Conflict, CoopError, InvalidInput, NotFound
from coop.members import MemberNotFound, get_member

log = logging.getLogger(__name__)

TOKEN_LIFETIME = timedelta(hours=8)
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_FAILURES_MAX_PER_USER = 5
LOGIN_FAILURES_MAX_PER_ADDRESS = 20
PASSWORD_LENGTH_MIN = 8
PASSWORD_LENGTH_MAX = 256
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated user behind a request."""

    user_id: int
    username: str
    role: Role
    member_code: str | None
    token_id: int | None = None
    expires_at: datetime | None = None
    must_change_password: bool = False


class LoginFailed(CoopError):
    code = "login_failed"
    kind = "unauthorized"
    title = "Wrong username or password"


class TooManyLogins(CoopError):
    code = "too_many_attempts"
    kind = "too_many"
    title = "Too many failed logins: wait before trying again"


class UsernameTaken(Conflict):
    code = "username_taken"
    title = "That username is taken"


@dataclass(frozen=True)
class Passwords:
    """argon2id hashing with tunable cost (tests use a cheap but real argon2id)."""

    memory_kib: int = 65536
    time_cost: int = 3
    parallelism: int = 4

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(
            time_cost=self.time_cost, memory_cost=self.memory_kib, parallelism=self.parallelism
        )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LastAdmin(Conflict):
    code = "last_admin"
    title = "The last active admin cannot be disabled or demoted"


PASSWORD_SCORE_MIN = 2
"""zxcvbn's scale: 0-1 fall to an online guesser within a few thousand tries (its bundled
lists of the 30,000 most common passwords, words, names, dates, keyboard runs, repeats)."""
PASSWORD_SCORED_LENGTH_MAX = 64  # zxcvbn's time grows with length; the rest only adds strength


def check_password_rules(password: str, *, username: str, current_hash: str | None = None,
                         passwords: Passwords | None = None) -> None:
    """8 to 256 characters, not the username, not common or trivial, not the current one."""
    if not PASSWORD_LENGTH_MIN <= len(password) <= PASSWORD_LENGTH_MAX:
        raise InvalidInput.said(
            "a password has {password_length_min} to {password_length_max} characters",
            password_length_min=PASSWORD_LENGTH_MIN, password_length_max=PASSWORD_LENGTH_MAX,
            field="password")
    if password.lower() == username.lower():
        raise InvalidInput("the password may not be the username", field="password")
    score = zxcvbn(password[:PASSWORD_SCORED_LENGTH_MAX], user_inputs=[username])["score"]
    if not password.strip() or score < PASSWORD_SCORE_MIN:
        raise InvalidInput(
            "this password is too easy to guess (a common password, a word, a name, a date "
            "or a pattern): use a phrase of three or four words", field="password")
    if current_hash is not None and passwords is not None:
        with contextlib.suppress(VerificationError, InvalidHashError):
            if passwords.hasher().verify(current_hash, password):
                raise InvalidInput("the new password is the same as the current one",
                                   field="password")


def check_secret_rules(secret: str, *, username: str, role: Role | str,
                       current_hash: str | None = None,
                       passwords: Passwords | None = None) -> None:
    """A member's secret may be a PIN (digits only, coop.auth.pins); anything else, and
    every other role's, is held to the password rules."""
    if str(role) == Role.MEMBER.value and is_pin(secret):
        check_pin(secret)
        if current_hash is not None and passwords is not None:
            with contextlib.suppress(VerificationError, InvalidHashError):
                if passwords.hasher().verify(current_hash, secret):
                    raise InvalidInput("the new PIN is the same as the current one",
                                       field="password")
        return
    check_password_rules(secret, username=username, current_hash=current_hash,
                         passwords=passwords)


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        raise InvalidInput.said(
            "role is one of {roles}",
            roles=", ".join(Role), field="role") from exc


def _check_member(session: Session, member_code: str) -> None:
    try:
        get_member(session, member_code)
    except MemberNotFound as exc:
        raise InvalidInput.said(
            "there is no member {member_code}",
            member_code=repr(member_code[:20]), field="member_code") from exc


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role | str,
    member_code: str | None,
    passwords: Passwords,
    clock: Clock,
    must_change_password: bool = False,
) -> UserRow:
    role = _role(role)
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput(
            "a username is 2-32 lowercase letters, digits, '.', '_' or '-'", field="username"
        )
    check_secret_rules(password, username=username, role=role)
    if role in (Role.MEMBER, Role.BOARD) and member_code is None:
        raise InvalidInput.said(
            "a {role} user names her member_code",
            role=role, field="member_code")
    if member_code is not None:
        _check_member(session, member_code)
    if session.execute(select(UserRow.id).where(UserRow.username == username)).first():
        raise UsernameTaken.said("user {username} exists", username=username, field="username")
    user = UserRow(
        username=username, password_hash=passwords.hasher().hash(password), role=str(role),
        member_code=member_code, disabled=False, created_at=clock.now(),
        must_change_password=must_change_password,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise UsernameTaken.said(
            "user {username} exists",
            username=username, field="username") from exc
    return user


@dataclass(frozen=True)
class LoginAttempt:
    """A login under way: its throttle slot is taken, its password not yet checked."""

    slot_id: int
    user_id: int | None
    password_hash: str | None  # None: no such user, or disabled
    shown_name: str  # what the throttle and the log know her by


def _throttle_key(session: Session, username: str, digest: Callable[[str], str]) -> tuple[
        UserRow | None, str]:
    """The user, and the name the throttle counts under: a real username as it is, anything
    else as a keyed digest, so a password typed into the username box is never kept."""
    user = session.execute(select(UserRow).where(UserRow.username == username[:64])).scalar()
    if user is None and login_name(username[:64]) != username[:64]:
        user = session.execute(select(UserRow).where(
            UserRow.username == login_name(username[:64]))).scalar()
    return user, (user.username if user is not None else "?" + digest(username)[:40])


def _lock_names(session: Session, *names: str) -> None:
    """Serialise throttle bookkeeping per name (SQLite's single writer does this already)."""
    if session.get_bind().dialect.name == "postgresql":
        for name in sorted(set(names)):
            session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7))"),
                            {"k": "coop-login:" + name})


def begin_login(session: Session, *, username: str, address: str,
                digest: Callable[[str], str], clock: Clock) -> LoginAttempt:
    """Count the recent failures and take a slot, atomically: the slot counts as a failure
    until the password is found right, so a hundred guesses at once get at most the limit's
    worth of password checks. Raises TooManyLogins. Commit this before checking the password."""
    user, name = _throttle_key(session, username, digest)
    address = address[:64]
    _lock_names(session, "u:" + name, "a:" + address)
    since = clock.now() - LOGIN_WINDOW
    by_user = session.execute(
        select(func.count()).select_from(LoginFailureRow)
        .where(LoginFailureRow.username == name, LoginFailureRow.at > since)
    ).scalar_one()
    by_address = session.execute(
        select(func.count()).select_from(LoginFailureRow)
        .where(LoginFailureRow.address == address, LoginFailureRow.at > since)
    ).scalar_one()
    if by_user >= LOGIN_FAILURES_MAX_PER_USER or by_address >= LOGIN_FAILURES_MAX_PER_ADDRESS:
        raise TooManyLogins("too many failed logins; try again in 15 minutes")
    slot = LoginFailureRow(username=name, address=address, at=clock.now())
    session.add(slot)
    session.flush()
    live = user is not None and not user.disabled
    return LoginAttempt(slot.id, user.id if user else None,
                        user.password_hash if user is not None and live else None, name)


_PASSWORD_CHECKS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


def check_attempt(attempt: LoginAttempt, password: str, passwords: Passwords) -> bool:
    """The argon2 check, outside any transaction; at most one per core at a time."""
    hasher = passwords.hasher()
    with _PASSWORD_CHECKS:
        if attempt.password_hash is None:
            _burn_time(hasher, password)
            return False
        try:
            return bool(hasher.verify(attempt.password_hash, password))
        except (VerificationError, InvalidHashError):
            return False


def finish_login(session: Session, attempt: LoginAttempt, *, password: str,
                 passwords: Passwords, clock: Clock,
                 lifetime: timedelta = TOKEN_LIFETIME) -> tuple[str, UserRow, datetime]:
    """After a right password: free the throttle slot and issue a token (the user must
    still be enabled and hold the same password)."""
    user = session.get(UserRow, attempt.user_id) if attempt.user_id is not None else None
    if user is None or user.disabled or user.password_hash != attempt.password_hash:
        raise LoginFailed("wrong username or password")
    session.execute(delete(LoginFailureRow).where(LoginFailureRow.id == attempt.slot_id))
    hasher = passwords.hasher()
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    token = secrets.token_urlsafe(32)
    now = clock.now()
    expires_at = now + lifetime
    session.add(TokenRow(token_hash=token_digest(token), user_id=user.id, issued_at=now,
                         expires_at=expires_at, revoked_at=None))
    session.flush()
    return token, user, expires_at


def log_in(db: Database, *, username: str, password: str, address: str,
           passwords: Passwords, digest: Callable[[str], str],
           clock: Clock) -> tuple[str, UserRow, datetime]:
    """A login in three steps, so that no password check ever runs inside a write
    transaction (on SQLite that would stall every deposit behind argon2): take a throttle
    slot (one short write), check the password (no transaction), then issue the token."""
    attempt = db.write(lambda s: begin_login(s, username=username, address=address,
                                             digest=digest, clock=clock))
    if not check_attempt(attempt, password, passwords):
        log.warning("login failed for user %r from %s", attempt.shown_name, address[:64])
        raise LoginFailed("wrong username or password")
    return db.write(lambda s: finish_login(s, attempt, password=password,
                                           passwords=passwords, clock=clock))


def login(
    session: Session,
    *,
    username: str,
    password: str,
    address: str,
    passwords: Passwords,
    clock: Clock,
    lifetime: timedelta = TOKEN_LIFETIME,
) -> tuple[str, UserRow, datetime]:
    """All three steps in the caller's one transaction (scripts and tests; the server uses
    `log_in`). A failure leaves its slot behind only if the caller commits."""
    attempt = begin_login(session, username=username, address=address,
                          digest=_plain_digest, clock=clock)
    if not check_attempt(attempt, password, passwords):
        raise LoginFailed("wrong username or password")
    return finish_login(session, attempt, password=password, passwords=passwords,
                        clock=clock, lifetime=lifetime)


def _plain_digest(text_: str) -> str:
    return hashlib.sha256(text_.encode()).hexdigest()


_DUMMY_HASHES: dict[tuple[int, int, int], str] = {}


def _burn_time(hasher: PasswordHasher, password: str) -> None:
    """Spend the time a real verification takes, so an unknown username is not revealed."""
    params = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if params not in _DUMMY_HASHES:
        _DUMMY_HASHES[params] = hasher.hash(secrets.token_hex(16))
    with contextlib.suppress(VerificationError):
        hasher.verify(_DUMMY_HASHES[params], password)


_token_table = cast(Table, TokenRow.__table__)
_user_table = cast(Table, UserRow.__table__)
_AUTHENTICATE = (
    select(_token_table.c.id, _token_table.c.expires_at, _token_table.c.revoked_at,
           _user_table.c.id, _user_table.c.username, _user_table.c.role,
           _user_table.c.member_code, _user_table.c.disabled,
           _user_table.c.must_change_password)
    .join(_user_table, _user_table.c.id == _token_table.c.user_id)
    .where(_token_table.c.token_hash == bindparam("digest"))
)


def authenticate(session: Session, token: str, *, clock: Clock) -> Principal | None:
    """The principal of a live token, or None (unknown, expired, revoked, user disabled).

    Every request runs this, so it is one Core statement on the session's connection."""
    row = session.connection().execute(_AUTHENTICATE, {"digest": token_digest(token)}).first()
    if row is None:
        return None
    (token_id, expires_at, revoked_at, user_id, username, role, member_code, disabled,
     must_change) = row
    if revoked_at is not None or disabled or expires_at <= clock.now():
        return None
    return Principal(user_id, username, Role(role), member_code, token_id, expires_at,
                     bool(must_change))


def revoke_token(session: Session, token_id: int, *, clock: Clock) -> None:
    session.execute(
        update(TokenRow).where(TokenRow.id == token_id, TokenRow.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


def revoke_all(session: Session, user_id: int, *, clock: Clock) -> None:
    session.execute(
        update(TokenRow).where(TokenRow.user_id == user_id, TokenRow.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


def change_password(
    session: Session, principal: Principal, *, current: str, new: str,
    passwords: Passwords, clock: Clock,
) -> None:
    user = session.get(UserRow, principal.user_id)
    if user is None:
        raise NotFound("no such user")
    hasher = passwords.hasher()
    try:
        hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError) as exc:
        raise InvalidInput("the current password is wrong", field="current_password") from exc
    check_secret_rules(new, username=user.username, role=user.role,
                       current_hash=user.password_hash, passwords=passwords)
    user.password_hash = hasher.hash(new)
    user.must_change_password = False
    revoke_all(session, user.id, clock=clock)


def get_user(session: Session, username: str, *, lock: bool = False) -> UserRow:
    query = select(UserRow).where(UserRow.username == username)
    if lock:
        query = query.with_for_update()
    user = session.execute(query).scalar()
    if user is None:
        raise NotFound.said("no user {username}", username=username[:32])
    return user


def _check_not_last_admin(session: Session, user: UserRow) -> None:
    """Someone must always be able to log in and manage users: the last enabled admin may
    not be disabled or given another role. The admins' rows are locked, so two admins
    disabling each other at once cannot both succeed."""
    admins = session.scalars(select(UserRow.id).where(
        UserRow.role == Role.ADMIN.value, UserRow.disabled.is_(False))
        .order_by(UserRow.id).with_for_update()).all()
    if list(admins) == [user.id]:
        raise LastAdmin.said(
            "{username} is the only active admin: make another admin first",
            username=user.username)


def update_user(session: Session, username: str, *, disabled: bool | None = None,
                role: Role | str | None = None, password: str | None = None,
                member_code: str | None = None, passwords: Passwords,
                clock: Clock, must_change_password: bool = True) -> UserRow:
    """An admin's change to a user: enable or disable, change role, reset the password
    (every token of hers is revoked whenever access narrows or the password changes; a
    password set by someone else must be changed by her at her next login, unless
    `must_change_password` is False)."""
    user = get_user(session, username, lock=True)
    new_role = _role(role) if role is not None else Role(user.role)
    narrows = (disabled and not user.disabled) or new_role is not Role(user.role)
    if narrows and user.role == Role.ADMIN.value and not user.disabled:
        _check_not_last_admin(session, user)
    code = member_code if member_code is not None else user.member_code
    if new_role in (Role.MEMBER, Role.BOARD) and code is None:
        raise InvalidInput.said(
            "a {new_role} user names her member_code",
            new_role=new_role, field="member_code")
    if member_code is not None:
        _check_member(session, member_code)
    if password is not None:
        check_secret_rules(password, username=user.username, role=new_role,
                           current_hash=user.password_hash, passwords=passwords)
        user.password_hash = passwords.hasher().hash(password)
        user.must_change_password = must_change_password
    if disabled is not None:
        user.disabled = disabled
    user.role = str(new_role)
    user.member_code = code
    if narrows or password is not None:
        revoke_all(session, user.id, clock=clock)
    session.flush()
    return user


def find_user(session: Session, username: str) -> UserRow | None:
    """The user called `username`, or None (the board reads a board user's role here)."""
    return session.execute(select(UserRow).where(UserRow.username == username)).scalar()


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def ensure_admin(
    session: Session, *, password: str | None, passwords: Passwords, clock: Clock
) -> str | None:
    """Create user `admin` if there is none. Returns the password when one was generated."""
    if session.execute(select(UserRow.id).where(UserRow.username == "admin")).first():
        return None
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(12)
    create_user(session, username="admin", password=password, role=Role.ADMIN,
                member_code=None, passwords=passwords, clock=clock)
    return generated


IDEMPOTENCY_WINDOW = timedelta(hours=24)
"""How long a stored response answers a retry with the same key (as payment APIs keep
theirs): long enough for any counter's lost answer, short enough that a copy of the database
holds only a day's requests."""


def forget_old_requests(session: Session, *, clock: Clock) -> int:
    """Drop stored responses older than the window; returns how many."""
    result = session.execute(delete(IdempotencyRow).where(
        IdempotencyRow.created_at < clock.now() - IDEMPOTENCY_WINDOW))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def forget_member_requests(session: Session, member_code: str) -> int:
    """Drop every stored request and response about a member (on erasure)."""
    result = session.execute(delete(IdempotencyRow).where(
        IdempotencyRow.member_code == member_code))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
