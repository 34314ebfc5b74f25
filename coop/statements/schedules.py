"""Schedules behind the balance sheet: member-wise savings (2000) and member-wise share
capital (3000) at the end of a day, each member by her number, with the total that is the
balance sheet's line. One query over the sub-accounts' counters and one over the postings
dated after the day.

Names: only for a reader whose role may read identities (admin, board), asked for
explicitly; each name read is decrypted through `coop.members.read_identity`, which writes
the access-log row in the same transaction (no log, no read). An auditor gets numbers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.errors import Forbidden, require
from coop.ledger import aggregates
from coop.ledger.chart import SAVINGS, SHARE_CAPITAL
from coop.members import Reader, read_identity
from coop.members.vault import Vault

SCHEDULES = {"savings": SAVINGS, "share-capital": SHARE_CAPITAL}
NAME_ROLES = frozenset({"admin", "board"})
NAME_REASON = "schedule of {schedule} as of {day}"


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    member_code: str
    amount_minor: int
    shares: int | None = None  # share capital: how many shares at the face value
    name: str | None = None  # her known-as name, only when asked and allowed


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str  # "savings" or "share-capital"
    account: str
    as_of: date
    lines: tuple[ScheduleLine, ...]

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)


@dataclass(frozen=True, slots=True)
class Names:
    """Who asks for names, and the vault to read them with."""

    reader: Reader
    vault: Vault
    clock: Clock


def schedule(session: Session, name: str, *, as_of: date, face_value_minor: int,
             names: Names | None = None) -> Schedule:
    """The schedule `name` ("savings" or "share-capital") at the end of `as_of`: every
    member with a balance, by member number; with `names`, her known-as name beside it."""
    control = SCHEDULES[name]
    balances = aggregates.sub_balances_on(session, control, as_of)
    lines = []
    for code in sorted(balances):
        amount = -balances[code]  # a liability or equity: credits positive
        if not amount:
            continue
        shares = amount // face_value_minor if name == "share-capital" else None
        lines.append(ScheduleLine(code, amount, shares))
    found = Schedule(name, control, as_of, tuple(lines))
    whole = aggregates.balances_on(session, [as_of])[as_of].get(control, 0)
    require(found.total_minor == -whole, f"the schedule of {control} sums to its balance")
    if names is None:
        return found
    if names.reader.role not in NAME_ROLES:
        raise Forbidden.said("your role may not read members' names", field="names")
    reason = NAME_REASON.format(schedule=name, day=as_of.isoformat())
    reader = Reader(names.reader.username, names.reader.role, reason)
    named = tuple(
        ScheduleLine(line.member_code, line.amount_minor, line.shares, read_identity(
            session, line.member_code, fields=("known_as",), reader=reader,
            vault=names.vault, clock=names.clock)["known_as"])
        for line in found.lines)
    return Schedule(name, control, as_of, named)


__all__ = ["NAME_ROLES", "SCHEDULES", "Names", "Schedule", "ScheduleLine", "schedule"]
