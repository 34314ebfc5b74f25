"""The figures of the board's meeting pack for one month (issue 18), read from the books; the
PDF (`board_pack`) and the counter page show the same `BoardPack`. No ReportLab here.

- Members: joined and exited in the month (by the day they joined or left), members at its end.
- Money: members' savings (2000 with every member's account) and share capital (3000), each
  from its balance at the end of the month before to its balance at the month's end: deposits
  and withdrawals (share purchases and redemptions), and everything else the journal moved
  (interest, loans paid out to or repaid from savings, dividends, corrections) as one line, so
  opening + in - out + other = closing holds to the paisa (checked).
- Loans: applied for, approved, rejected, paid out, closed and written off in the month.
- Arrears: every loan past due at the month's end, by bucket, with its days past due.
- PAR30 at the end of each of the twelve months ending with this one (`loans.par30_by_month`).
- Cash (1000 with the tills) and bank (1010): balances at the month's start and end.
- Votes: every subject the board voted on in the month, its approvals and rejections, and
  where it stands. Notes are not in the pack: they stay on the board's own page.

A month that has not ended is shown to the business date ("to date"); a month that has not
begun is refused (422 naming `month`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from coop import board, loans, members
from coop.errors import InvalidInput, require
from coop.ledger import queries
from coop.ledger.chart import BANK, CASH, SAVINGS, SHARE_CAPITAL

MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
MONTHS_OF_PAR = 12
EARLIEST_YEAR = 1900


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month, and the last day of it the figures are read to."""

    name: str  # YYYY-MM
    first: date
    last: date
    through: date  # the last day, or the business date in a month not over yet

    @property
    def to_date(self) -> bool:
        return self.through < self.last


def _month_of(year: int, month: int, today: date) -> Month:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return Month(f"{year:04d}-{month:02d}", first, last, min(last, today))


def parse_month(text: str | None, *, today: date) -> Month:
    """"2025-06" -> June 2025; anything else, or a month after the business date's, is 422."""
    found = MONTH.fullmatch((text or "").strip())
    if found is None or not 1 <= int(found.group(2)) <= 12:
        raise InvalidInput("a month is written YYYY-MM, e.g. 2025-06", field="month")
    year, month = int(found.group(1)), int(found.group(2))
    if year < EARLIEST_YEAR or (year, month) > (today.year, today.month):
        raise InvalidInput.said(
            "the month is from {earliest_year}-01 to {year}-{month} (the business date's)",
            earliest_year=EARLIEST_YEAR, year=format(today.year, "04d"),
            month=format(today.month, "02d"), field="month")
    return _month_of(year, month, today)


def months_ending(month: Month, count: int, *, today: date) -> list[Month]:
    """`count` months, the earliest first, the last one `month`."""
    result = [month]
    while len(result) < count:
        first = result[0].first - timedelta(days=1)
        result.insert(0, _month_of(first.year, first.month, today))
    return result


@dataclass(frozen=True, slots=True)
class Flow:
    """An account through the month: opening + in - out + other = closing."""

    code: str
    opening_minor: int
    in_count: int
    in_minor: int
    out_count: int
    out_minor: int
    other_minor: int
    closing_minor: int


def _flow(session: Session, code: str, month: Month, *, in_kind: str, out_kind: str) -> Flow:
    """A liability or equity account (credit normal): `in_kind` credits it, `out_kind`
    debits it, every other kind is `other`, net."""
    opening = queries.balance_as_of(session, code, month.first - timedelta(days=1)) or 0
    closing = queries.balance_as_of(session, code, month.through) or 0
    moved = {m.kind: m for m in queries.movements_between(session, code, month.first,
                                                          month.through)}
    came, went = moved.pop(in_kind, None), moved.pop(out_kind, None)
    in_count, in_minor = (came.entries, came.credit_minor - came.debit_minor) if came else (0, 0)
    out_count, out_minor = (went.entries, went.debit_minor - went.credit_minor) if went else (0, 0)
    other = sum(m.credit_minor - m.debit_minor for m in moved.values())
    require(opening + in_minor - out_minor + other == closing,
            f"{code}: the month's movements take the opening balance to the closing one")
    return Flow(code, opening, in_count, in_minor, out_count, out_minor, other, closing)


@dataclass(frozen=True, slots=True)
class Position:
    code: str
    opening_minor: int
    closing_minor: int


@dataclass(frozen=True, slots=True)
class VoteLine:
    kind: str  # loan | reschedule
    subject_id: int
    loan_id: int
    approvals: int
    rejections: int
    outcome: str  # approved | rejected | pending


@dataclass(frozen=True)
class BoardPack:
    month: Month
    printed_on: date
    membership: members.Membership
    savings: Flow
    shares: Flow
    lending: loans.Activity
    portfolio: loans.Portfolio
    arrears: list[loans.Arrear]
    par: list[loans.MonthPar]
    cash: list[Position]
    votes: list[VoteLine]
    chain_head: tuple[int, str]


LOAN_SUBJECTS = ("loan", "reschedule")
"""What the board votes on today (the loans' subjects); a room that comes to ask the board for
votes on something else adds its subjects here, with words for them in the pack."""


def _votes(session: Session, month: Month) -> list[VoteLine]:
    start = datetime.combine(month.first, time.min, tzinfo=UTC)
    end = datetime.combine(month.through + timedelta(days=1), time.min, tzinfo=UTC)
    subjects = dict.fromkeys((v.subject_kind, v.subject_id)
                             for v in board.votes_between(session, start, end)
                             if v.subject_kind in LOAN_SUBJECTS)
    lines = []
    for kind, subject_id in subjects:
        subject = board.Subject(kind, subject_id)
        counts = board.tally_of(session, subject)
        loan_id, outcome = loans.outcome(session, subject)
        lines.append(VoteLine(kind, subject_id, loan_id, counts.approvals, counts.rejections,
                              outcome))
    return sorted(lines, key=lambda line: (line.loan_id, line.kind, line.subject_id))


def _position(session: Session, code: str, month: Month) -> Position:
    return Position(code,
                    queries.balance_as_of(session, code, month.first - timedelta(days=1)) or 0,
                    queries.balance_as_of(session, code, month.through) or 0)


def gather(session: Session, month: Month, *, today: date) -> BoardPack:
    """Every figure of the pack for `month`, read in one transaction."""
    book = queries.book(session)
    head = (book.head_seq, book.head_hash) if book is not None else (0, "")
    series = [(m.name, m.through) for m in months_ending(month, MONTHS_OF_PAR, today=today)]
    return BoardPack(
        month=month, printed_on=today,
        membership=members.membership_between(session, month.first, month.through),
        savings=_flow(session, SAVINGS, month, in_kind="deposit", out_kind="withdrawal"),
        shares=_flow(session, SHARE_CAPITAL, month, in_kind="share_purchase",
                     out_kind="share_redemption"),
        lending=loans.activity_between(session, month.first, month.through),
        portfolio=loans.portfolio(session, as_of=month.through),
        arrears=loans.arrears(session, as_of=month.through),
        par=loans.par30_by_month(session, series),
        cash=[_position(session, CASH, month), _position(session, BANK, month)],
        votes=_votes(session, month), chain_head=head)


__all__ = ["BoardPack", "Flow", "Month", "Position", "VoteLine", "gather", "months_ending",
           "parse_month"]
