"""Which papers a member can be given, for her page: her share certificate always, a loan
card for each loan paid out to her (open or finished), and a dividend statement for each
year with a live dividend that she was a member in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from coop.dividends import FiscalYear
from coop.dividends.years import declared_years
from coop.loans import loans_of
from coop.members import MemberRow
from coop.society import Society

PAID_OUT = ("active", "closed", "written_off")


@dataclass(frozen=True, slots=True)
class Papers:
    loan_cards: tuple[tuple[int, str], ...]  # (loan, status), oldest first
    dividend_years: tuple[int, ...]  # latest first


def papers_of(session: Session, member: MemberRow, society: Society) -> Papers:
    cards = tuple((loan.id, loan.status) for loan in loans_of(session, member.code)
                  if loan.status in PAID_OUT)
    years = []
    for name in declared_years(session):
        year = FiscalYear.of(name, society.fiscal_year_start)
        if year.end >= member.joined_on and (member.exited_on is None
                                             or member.exited_on >= year.start):
            years.append(name)
    return Papers(cards, tuple(years))


__all__ = ["Papers", "papers_of"]
