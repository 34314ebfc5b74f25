"""A demo society: members, shares, and a year of counter days, for `make run` and trying
things out. It goes through the same service functions as the counter, so every rule holds
(no withdrawal beyond the available balance, interest posted once per month). Each month
a few members borrow (applied, voted on by the first seven members as the board, paid out to
savings) and repay at the counter week by week, some on time, some late, some ahead. A month
after its fiscal year ends the year is closed and, if there is a surplus, a dividend and a
patronage rebate are declared and paid into savings.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop import board, dividends, loans
from coop.clock import FixedClock
from coop.db import Database
from coop.dividends.calc import FiscalYear
from coop.errors import CoopError
from coop.ledger import EntryDraft, credit, debit, post
from coop.ledger.chart import BANK, OTHER_INCOME
from coop.ledger.orm import entry_table
from coop.loans.schedule import Frequency
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings import record_deposit, record_withdrawal
from coop.savings.interest_run import interest_rules, post_interest
from coop.savings.shares import buy_shares
from coop.society import require_society

NAMES = ("Asha", "Bina", "Chitra", "Devi", "Esha", "Farida", "Gita", "Hema", "Indu", "Jaya",
         "Kamala", "Lata", "Meena", "Nila", "Padma", "Rani", "Sita", "Tara", "Uma", "Vani")
ACTOR = "demo"


@dataclass(frozen=True)
class DemoResult:
    members: int
    entries: int
    first_day: date
    last_day: date


def book_is_empty(session: Session) -> bool:
    return session.execute(select(entry_table.c.id).limit(1)).first() is None


def build_demo(
    db: Database, *, vault: Vault, today: date, members: int = 60, seed: int = 42,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Fill an empty book with a year of a small society's counter days, ending yesterday."""
    if not db.read(book_is_empty):
        raise CoopError("the demo fills an empty book; this one has entries already")
    rng = random.Random(seed)  # noqa: S311 - a reproducible demo, not a secret
    first_day = date(today.year - 1, today.month, 1)
    clock = FixedClock(first_day)
    society = db.read(require_society)

    def register(session: Session) -> list[str]:
        codes = []
        for n in range(members):
            name = Identity(known_as=NAMES[n % len(NAMES)]) if rng.random() < 0.6 else Identity()
            # most read Kannada, as in Mysore; some Hindi, Bengali or English
            language = ("kn", "kn", "kn", "hi", "bn", "en", None)[n % 7]
            codes.append(register_member(session, identity=name, joined_on=first_day,
                                         vault=vault, clock=clock, language=language).code)
        for code in codes:
            buy_shares(session, code, count=rng.randint(1, 5), source="cash",
                       face_value_minor=society.share_face_value_minor, value_date=first_day,
                       actor=ACTOR, clock=clock)
        post(session, EntryDraft(  # a founding grant, as such societies often receive
            value_date=first_day, narration="Grant from a supporting foundation", kind="grant",
            actor=ACTOR, postings=(debit(BANK, 5_000_000), credit(OTHER_INCOME, 5_000_000))),
            clock=clock)
        for code in codes[:BOARD_SEATS_IN_DEMO]:  # seated without a login: "demo:<her number>"
            board.take_seat(session, member_code=code, username=f"{ACTOR}:{code}",
                            on=first_day)
        return codes

    codes = db.write(register)
    db.write(lambda session: _products(session, clock))
    rules = db.read(interest_rules)
    day, days, entries = first_day, (today - first_day).days, members * 1
    year = FiscalYear.of(first_day.year - (first_day < FiscalYear.of(
        first_day.year, society.fiscal_year_start).start), society.fiscal_year_start)
    year_end = year.end
    while day < today:
        clock.business_date = day
        if day.weekday() != 6:  # the counter opens Monday to Saturday
            entries += db.write(partial(_counter_day, rng=rng, codes=codes, day=day,
                                        clock=clock))
            entries += db.write(partial(_loan_day, rng=rng, codes=codes, day=day,
                                        clock=clock))
        if day == year_end + timedelta(days=30):  # a month after the fiscal year: year-end
            clock.business_date = day
            db.write(partial(_year_end, year=year.name, clock=clock))
        tomorrow = day + timedelta(days=1)
        if tomorrow.day == 1 and tomorrow < today:  # month end: post the month's interest
            clock.business_date = tomorrow
            def interest(session: Session, month_end: date = day) -> int:
                return post_interest(
                    session, start=month_end.replace(day=1), through=month_end,
                    rate_percent=rules.rate_percent, min_balance_minor=rules.min_balance_minor,
                    actor=ACTOR, clock=clock).accounts

            entries += db.write(interest)
        if progress is not None:
            progress((day - first_day).days + 1, days)
        day = tomorrow
    return DemoResult(members, entries, first_day, today - timedelta(days=1))


def _counter_day(session: Session, *, rng: random.Random, codes: list[str], day: date,
                 clock: FixedClock) -> int:
    posted = 0
    for code in rng.sample(codes, k=max(1, len(codes) // 4)):
        if rng.random() < 0.75:
            amount = rng.choice((10, 20, 50, 100, 200, 500)) * 100
            record_deposit(session, code, amount_minor=amount, value_date=day, actor=ACTOR,
                           clock=clock)
            posted += 1
        else:
            amount = rng.choice((50, 100, 300)) * 100
            try:
                record_withdrawal(session, code, amount_minor=amount, value_date=day,
                                  actor=ACTOR, clock=clock)
                posted += 1
            except CoopError:  # not enough saved: the clerk says no, as she would
                continue
    return posted


BOARD_SEATS_IN_DEMO = 7


def _products(session: Session, clock: FixedClock) -> None:
    weekly = loans.ProductTerms(Decimal("12"), 20, Frequency.WEEKLY)
    monthly = loans.ProductTerms(Decimal("12"), 12, Frequency.MONTHLY, installment_multiple=100)
    loans.create_product(session, loans.Product(
        "WEEKLY", "Weekly loan, 20 weeks", weekly, 5_000_000, Decimal("1"), Decimal("0"),
        loans.engine.DEFAULT_ORDER), clock=clock)
    loans.create_product(session, loans.Product(
        "MONTHLY", "Monthly loan, 12 months", monthly, 10_000_000, Decimal("1"), Decimal("0"),
        loans.engine.DEFAULT_ORDER), clock=clock)


def _loan_day(session: Session, *, rng: random.Random, codes: list[str], day: date,
              clock: FixedClock) -> int:
    """New loans on the first Monday of a month; repayments on every loan due this week."""
    society = require_society(session)
    voters = codes[:BOARD_SEATS_IN_DEMO]
    posted = 0
    if day.weekday() == 0 and day.day <= 7:
        for code in rng.sample(codes[BOARD_SEATS_IN_DEMO:], k=3):
            try:
                loan, _ = loans.apply(
                    session, member_code=code, product_code=rng.choice(("WEEKLY", "MONTHLY")),
                    principal_minor=rng.choice((2_000, 5_000, 10_000)) * 100,
                    installments=None, purpose=rng.choice(loans.PURPOSES[:5]), guarantors=(),
                    society=society, actor=ACTOR, clock=clock)
            except CoopError:  # not eligible yet: too new, or savings too small
                continue
            for voter in voters[:society.settings.loan_approvals_required]:
                loans.vote(session, loan.id, voter_code=voter, voter_username=ACTOR,
                           decision="approve", note=None, society=society, clock=clock)
            loans.disburse(session, loan.id, to="savings", on=day, actor=ACTOR, clock=clock)
            posted += 1
    for loan_id, due in loans.due_between(session, day - timedelta(days=6), day):
        if rng.random() < 0.15:  # this week she cannot pay
            continue
        extra = rng.choice((0, 0, 0, 50, 100)) * 100
        try:
            loans.repay(session, loan_id, amount_minor=due + extra, source="cash", on=day,
                        actor=ACTOR, clock=clock)
        except loans.PaymentAbovePayoff:
            payoff = loans.standing(session, loan_id, as_of=day).position
            if payoff is not None and payoff.payoff:
                loans.repay(session, loan_id, amount_minor=payoff.payoff, source="cash",
                            on=day, actor=ACTOR, clock=clock)
        posted += 1
    return posted


def _year_end(session: Session, *, year: int, clock: FixedClock) -> None:
    """Close the fiscal year; declare and pay a dividend on share-days (10 %, or less if the
    surplus is smaller) with a 10 % patronage rebate."""
    society = require_society(session)
    closed = dividends.close_year(session, year, society=society, actor=ACTOR, clock=clock)
    if closed.net_surplus_minor <= 0:
        return  # a loss is carried in 3900: no dividend this year
    for rate in (10, 5, 2, 1):  # the highest rate the year's surplus can pay
        request = dividends.Request(dividend_rate=Decimal(rate),
                                    patronage_rebate_percent=Decimal(10))
        try:
            dividends.preview(session, year, request, society=society)
            break
        except CoopError:
            continue
    else:
        return
    dividends.declare_dividend(session, year, request, society=society,
                               resolution="Demo AGM", actor=ACTOR, clock=clock)
    dividends.pay_dividend(session, year, actor=ACTOR, clock=clock)
