"""Loans through the services, on SQLite and PostgreSQL: the portfolio report worked out by
hand for twenty loans (today and as it stood on an earlier day), the ageing buckets'
boundaries, a moratorium that stops arrears ageing, a reschedule with a payment holiday, the
share-cover rule on redemptions, the insider-loan list and two clerks repaying one loan at once.
Three tests pin bugs first found in the moratorium arithmetic (now fixed).

Every loan in the portfolio is the same product so that its schedule can be worked out on
paper: 12,000.00 at 12 % a year, declining balance, 12 equal monthly installments. The period
rate is 1 %, so PMT = 1,200,000 x 0.01 / (1 - 1.01^-12) = 106,618.55 -> 106,619 minor units,
and each regular period's interest is the balance / 100 rounded half-even:

    k  interest                      principal = 106,619 - interest   balance after k
    1  1,200,000 / 100 = 12,000      94,619                           1,105,381
    2  11,053.81 -> 11,054           95,565                           1,009,816
    3  10,098.16 -> 10,098           96,521                             913,295

A payment of exactly one installment made on its due date (or before the next one) is split
into exactly that installment's interest and principal, so a loan paid k times on time owes
the balance after k. Days past due = as_of - the due date of the first installment whose
cumulative planned total (k x 106,619) is more than everything paid to interest and principal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, Literal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop.board import take_seat, vacate_seat
from coop.clock import FixedClock
from coop.db import Database
from coop.errors import InvalidInput
from coop.ledger import queries
from coop.ledger.chart import LOANS
from coop.ledger.orm import posting_table
from coop.ledger.verify import verify
from coop.loans import (
    AboveLimit,
    EventRow,
    InsiderLoan,
    LoanRow,
    LoanStateConflict,
    PaymentAbovePayoff,
    PlanRow,
    Portfolio,
    Product,
    ProductTerms,
    RescheduleRow,
    apply,
    board_loans,
    bucket_of,
    check_share_cover,
    create_product,
    declare_moratorium,
    disburse,
    engine,
    get_loan,
    history,
    portfolio,
    repay,
    request_reschedule,
    standing,
    vote,
    vote_reschedule,
    write_off,
)
from coop.loans.schedule import Frequency, InterestMethod, Terms, build
from coop.members import Identity, register_member, savings_account, shares_account
from coop.members.vault import Vault
from coop.savings import record_deposit, record_withdrawal, shares
from coop.society import Society, get_society, update_settings

PRINCIPAL = 1_200_000  # 12,000.00
INSTALLMENT = 106_619  # PMT at 1 % a month over 12 months, worked out in the module docstring
BALANCE_AFTER = {0: 1_200_000, 1: 1_105_381, 2: 1_009_816, 3: 913_295}
SAVINGS = 500_000  # 5,000.00 each: 3 x savings covers the 12,000.00 principal
FACE = 1000  # the default share face value
APPROVALS = 2
PRODUCT = "M12"
DEADLINE_SECONDS = 120


# -- plumbing ---------------------------------------------------------------------------------


@pytest.fixture
def keys() -> Vault:
    return Vault(b"k" * 32)


@dataclass
class Desk:
    """One clerk's counter: the database, the clock she moves, the board that votes."""

    db: Database
    clock: FixedClock
    keys: Vault
    voters: list[str] = field(default_factory=list)
    board: frozenset[str] = frozenset()

    def at(self, day: date) -> Desk:
        self.clock.business_date = day
        return self

    def register(self, savings: int = SAVINGS) -> str:
        code: str = self.db.write(lambda s: register_member(
            s, identity=Identity(), joined_on=None, vault=self.keys, clock=self.clock)).code
        if savings:
            self.db.write(lambda s: record_deposit(
                s, code, amount_minor=savings, value_date=self.clock.today(), actor="clerk1",
                clock=self.clock))
        return code

    def seat_board(self, codes: set[str] | frozenset[str]) -> None:
        """Make exactly these members the sitting board (seats taken and vacated today)."""
        def work(s: Session) -> None:
            for code in self.board - codes:
                vacate_seat(s, username=f"board-{code}", on=self.clock.today())
            for code in codes - self.board:
                take_seat(s, member_code=code, username=f"board-{code}", on=self.clock.today())
        self.db.write(work)
        self.board = frozenset(codes)

    def society(self, session: Session) -> Society:
        society = get_society(session)
        assert society is not None
        return society

    def apply(self, member: str, principal: int = PRINCIPAL, product: str = PRODUCT) -> int:
        loan, _schedule = self.db.write(lambda s: apply(
            s, member_code=member, product_code=product, principal_minor=principal,
            installments=None, purpose="business", guarantors=(), society=self.society(s),
            actor="clerk1", clock=self.clock))
        return loan.id

    def vote(self, loan_id: int, voter: str, decision: str = "approve") -> Any:
        return self.db.write(lambda s: vote(
            s, loan_id, voter_code=voter, voter_username=f"board-{voter}", decision=decision,
            note=None, society=self.society(s), clock=self.clock))

    def approve(self, loan_id: int, voters: list[str] | None = None) -> None:
        for voter in (voters or self.voters)[:APPROVALS]:
            tally = self.vote(loan_id, voter)
        assert tally.status == "approved"

    def disburse(self, loan_id: int, to: Literal["cash", "savings"] = "savings") -> None:
        self.db.write(lambda s: disburse(s, loan_id, to=to, on=self.clock.today(),
                                         actor="clerk1", clock=self.clock))

    def lend(self, member: str, principal: int = PRINCIPAL, product: str = PRODUCT,
             to: Literal["cash", "savings"] = "savings") -> int:
        """Apply, approve and disburse, all on the clock's business date."""
        loan_id = self.apply(member, principal, product)
        self.approve(loan_id)
        self.disburse(loan_id, to)
        return loan_id

    def repay(self, loan_id: int, amount: int) -> Any:
        return self.db.write(lambda s: repay(s, loan_id, amount_minor=amount, source="cash",
                                             on=self.clock.today(), actor="clerk1",
                                             clock=self.clock))

    def payoff(self, loan_id: int) -> int:
        position = self.db.read(
            lambda s: standing(s, loan_id, as_of=self.clock.today())).position
        assert position is not None
        return int(position.payoff)

    def portfolio(self, as_of: date) -> Portfolio:
        return self.db.read(lambda s: portfolio(s, as_of=as_of))


def monthly_product(**changes: Any) -> Product:
    terms = ProductTerms(annual_rate=Decimal(12), installments=12, **changes)
    return Product(PRODUCT, "Monthly 12 %", terms, None, Decimal(0), Decimal(0),
                   engine.DEFAULT_ORDER)


def open_desk(db: Database, clock: FixedClock, keys: Vault, *, start: date, voters: int = 2,
              product: Product | None = None, **settings: Any) -> Desk:
    """The society lends after no waiting period and approves on two votes; `voters` board
    members are registered on `start` (with no savings)."""
    desk = Desk(db, clock, keys).at(start)
    db.write(lambda s: update_settings(s, {
        "loan_approvals_required": APPROVALS, "loan_min_membership_days": 0, **settings}))
    db.write(lambda s: create_product(s, product or monthly_product(), clock=clock))
    desk.voters = [desk.register(savings=0) for _ in range(voters)]
    desk.seat_board(frozenset(desk.voters))
    return desk


def loan_balance(db: Database, loan_id: int) -> int:
    """The balance of the loan's own ledger account (1100:<member>-L<id>)."""
    def work(s: Session) -> int:
        account = get_loan(s, loan_id).account_code
        assert account is not None
        value = queries.balance(s, account)
        assert value is not None
        return value

    return db.read(work)


def repayment_events(db: Database, loan_id: int) -> list[EventRow]:
    return list(db.read(lambda s: s.scalars(
        select(EventRow).where(EventRow.loan_id == loan_id, EventRow.kind == "repayment")
        .order_by(EventRow.seq)).all()))


# -- 1. the portfolio, by hand ------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One borrower's loan: disbursed on `on`, then the payments (day, amount)."""

    name: str
    on: date
    payments: tuple[tuple[date, int], ...] = ()
    pay_off_on: date | None = None
    write_off_on: date | None = None


def _t(k: int) -> int:
    return k * INSTALLMENT


D = date
CASES = (
    # current on 30 June 2025
    Case("first due after as_of", D(2025, 6, 10)),                           # due 10 Jul
    Case("first due on as_of", D(2025, 5, 30)),                              # due 30 Jun: 0 days
    Case("paid five on time", D(2025, 1, 20),
         tuple((D(2025, m, 20), INSTALLMENT) for m in (2, 3, 4, 5, 6))),
    Case("late in March, caught up since", D(2025, 2, 10),
         ((D(2025, 4, 5), INSTALLMENT), (D(2025, 4, 10), INSTALLMENT),
          (D(2025, 5, 10), INSTALLMENT), (D(2025, 6, 10), INSTALLMENT))),
    Case("three paid at once, in advance", D(2025, 4, 15), ((D(2025, 5, 15), _t(3)),)),
    # 1-30
    Case("15 days", D(2025, 3, 15),
         ((D(2025, 4, 15), INSTALLMENT), (D(2025, 5, 15), INSTALLMENT))),  # 15 Jun unpaid
    Case("1 day", D(2025, 5, 29)),                                          # due 29 Jun
    Case("30 days", D(2025, 3, 31), ((D(2025, 4, 30), INSTALLMENT),)),      # 31 May unpaid
    # 31-90
    Case("31 days", D(2025, 4, 30)),                                        # due 30 May
    Case("90 days", D(2025, 3, 1)),                                         # due 1 Apr
    # 91-180
    Case("91 days", D(2024, 12, 31),
         ((D(2025, 1, 31), INSTALLMENT), (D(2025, 2, 28), INSTALLMENT))),  # 31 Mar unpaid
    Case("180 days", D(2024, 12, 1)),                                       # due 1 Jan
    Case("one and a half paid", D(2025, 1, 5), ((D(2025, 2, 5), INSTALLMENT + 53_309),)),
    Case("one minor unit short", D(2025, 2, 20), ((D(2025, 3, 20), INSTALLMENT - 1),)),
    # 181-365
    Case("181 days", D(2024, 10, 31), ((D(2024, 11, 30), INSTALLMENT),)),  # 31 Dec unpaid
    Case("365 days", D(2024, 5, 30)),                                       # due 30 Jun 2024
    # >365
    Case("366 days", D(2024, 5, 29)),                                       # due 29 Jun 2024
    Case("past maturity", D(2023, 1, 15),
         tuple((D(2023, m, 15), INSTALLMENT) for m in (2, 3, 4))),         # 15 May 2023 unpaid
    # not in the report on 30 June
    Case("closed", D(2024, 11, 15), pay_off_on=D(2025, 4, 15)),
    Case("written off", D(2023, 6, 15), write_off_on=D(2025, 3, 1)),
)
AS_OF = D(2025, 6, 30)
EARLIER = D(2025, 3, 31)


def build_portfolio(desk: Desk) -> dict[str, int]:
    """Every disbursement, payment, payoff and write-off, in date order."""
    borrowers = {case.name: desk.register() for case in CASES}
    actions: list[tuple[date, int, Callable[[], None]]] = []
    loans: dict[str, int] = {}

    def lend(case: Case) -> None:
        loans[case.name] = desk.lend(borrowers[case.name])

    def pay(case: Case, amount: int) -> None:
        desk.repay(loans[case.name], amount)

    def pay_off(case: Case) -> None:
        result = desk.repay(loans[case.name], desk.payoff(loans[case.name]))
        assert result.status == "closed"

    def write(case: Case) -> None:
        desk.db.write(lambda s: write_off(s, loans[case.name], on=desk.clock.today(),
                                          reason="gone abroad", actor="board1",
                                          clock=desk.clock))

    for case in CASES:
        actions.append((case.on, 0, partial(lend, case)))
        for day, amount in case.payments:
            actions.append((day, 1, partial(pay, case, amount)))
        if case.pay_off_on:
            actions.append((case.pay_off_on, 1, partial(pay_off, case)))
        if case.write_off_on:
            actions.append((case.write_off_on, 1, partial(write, case)))
    for day, _, action in sorted(actions, key=lambda a: (a[0], a[1])):
        desk.at(day)
        action()
    desk.at(AS_OF)
    return loans


def test_the_products_schedule_is_the_one_worked_out_by_hand() -> None:
    schedule = build(Terms(principal=PRINCIPAL, annual_rate=Decimal(12), installments=12,
                           disbursed_on=D(2025, 1, 20)))
    assert [i.total for i in schedule.installments[:11]] == [INSTALLMENT] * 11
    assert [i.balance for i in schedule.installments[:3]] == [BALANCE_AFTER[k] for k in (1, 2, 3)]


def test_portfolio_of_twenty_loans_by_hand(db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2023, 1, 2))
    loans = build_portfolio(desk)
    assert len(loans) == 20

    # Outstanding principal of each loan, by hand (B_k is the balance after k installments):
    late = 1_105_381 - (INSTALLMENT - 11_847)  # see below
    outstanding = {
        "first due after as_of": PRINCIPAL,
        "first due on as_of": PRINCIPAL,
        "paid five on time": 717_348,  # B4 = 815,809; B5 = 815,809 - (106,619 - 8,158)
        # Installment 1 (due 10 Mar) paid on 5 Apr: its interest is still 12,000, so B1. The
        # one paid on 10 Apr (on time) carries period 2's interest at 1,200,000 for the 26
        # days to 5 Apr and at 1,105,381 for the 5 after: (31,200,000 + 5,526,905) / 3,100
        # = 11,847.39 -> 11,847, principal 94,772; then 10,106 (principal 96,513) and
        # 9,141 (principal 97,478) of interest on the next two due dates.
        "late in March, caught up since": late - (INSTALLMENT - 10_106) - (INSTALLMENT - 9_141),
        # 3 x 106,619 paid on the first due date: 12,000 interest, the rest principal
        "three paid at once, in advance": PRINCIPAL - (_t(3) - 12_000),
        "15 days": BALANCE_AFTER[2],
        "1 day": PRINCIPAL,
        "30 days": BALANCE_AFTER[1],
        "31 days": PRINCIPAL,
        "90 days": PRINCIPAL,
        "91 days": BALANCE_AFTER[2],
        "180 days": PRINCIPAL,
        "one and a half paid": BALANCE_AFTER[1] - 53_309,
        "one minor unit short": BALANCE_AFTER[1] + 1,
        "181 days": BALANCE_AFTER[1],
        "365 days": PRINCIPAL,
        "366 days": PRINCIPAL,
        "past maturity": BALANCE_AFTER[3],
        "closed": 0,
        "written off": 0,
    }
    assert late == 1_010_609
    assert outstanding["late in March, caught up since"] == 816_618
    assert outstanding["three paid at once, in advance"] == 892_143
    # The ledger agrees loan by loan (the report reads the loan events, not the ledger).
    assert {name: loan_balance(db, loans[name]) for name in loans} == outstanding

    # Days past due on 30 June 2025 -> bucket:
    #   first due after as_of  10 Jul -> current   | first due on as_of  30 Jun, 0 -> current
    #   paid five on time      20 Jul -> current   | caught up             10 Jul -> current
    #   three in advance       15 Aug (4th) -> current
    #   15 days  15 Jun -> 15 | 1 day 29 Jun -> 1 | 30 days 31 May -> 30          (1-30)
    #   31 days  30 May -> 31 | 90 days 1 Apr -> 90                               (31-90)
    #   91 days  31 Mar -> 91 | 180 days 1 Jan -> 180                             (91-180)
    #   one and a half: 159,928 paid < 2 x 106,619, so 5 Mar -> 117               (91-180)
    #   one unit short: 106,618 paid < 106,619, so 20 Mar -> 102                  (91-180)
    #   181 days 31 Dec 2024 -> 181 | 365 days 30 Jun 2024 -> 365                 (181-365)
    #   366 days 29 Jun 2024 -> 366 | past maturity 15 May 2023 -> 777            (>365)
    def total(*names: str) -> int:
        return sum(outstanding[n] for n in names)

    buckets = {
        "current": total("first due after as_of", "first due on as_of", "paid five on time",
                         "late in March, caught up since", "three paid at once, in advance"),
        "1-30": total("15 days", "1 day", "30 days"),
        "31-90": total("31 days", "90 days"),
        "91-180": total("91 days", "180 days", "one and a half paid", "one minor unit short"),
        "181-365": total("181 days", "365 days"),
        ">365": total("366 days", "past maturity"),
    }
    assert buckets == {"current": 4_826_109, "1-30": 3_315_197, "31-90": 2_400_000,
                       "91-180": 4_367_270, "181-365": 2_305_381, ">365": 2_113_295}
    report = desk.portfolio(AS_OF)
    assert report.as_of == AS_OF
    assert report.buckets == buckets
    assert report.counts == {"current": 5, "1-30": 3, "31-90": 2, "91-180": 4, "181-365": 2,
                             ">365": 2}
    assert report.loans_active == 18  # the closed and the written-off loans do not count
    assert report.outstanding_minor == 19_327_252
    # par30 = (2,400,000 + 4,367,270 + 2,305,381 + 2,113,295) / 19,327,252 = 57.8765 %
    assert report.par30 == Decimal("57.88")
    assert db.read(lambda s: queries.balance_as_of(s, LOANS, AS_OF)) == 19_327_252

    # On 31 March 2025 (the loans disbursed since are not there yet; the written-off loan is
    # gone already; the closed loan and the late one are still overdue):
    #   paid five: 2 paid, B2, 20 Apr -> current | 15 days: 15 Apr -> current, 1,200,000
    #   30 days: disbursed on 31 Mar, 30 Apr -> current | 90 days: 1 Apr -> current
    #   91 days: 31 Mar = as_of -> 0, current, B2
    #   caught up since: 10 Mar -> 21 | one and a half: 5 Mar -> 26 |
    #   one unit short: 20 Mar -> 11                                               (1-30)
    #   180 days: 1 Jan -> 89 | 181 days: 31 Dec -> 90, B1                         (31-90)
    #   closed (paid off 15 Apr): 15 Dec -> 106, 1,200,000                         (91-180)
    #   365 days: 30 Jun 2024 -> 274 | 366 days: 29 Jun 2024 -> 275               (181-365)
    #   past maturity: 15 May 2023 -> 686, B3                                     (>365)
    earlier = desk.portfolio(EARLIER)
    assert earlier.buckets == {
        "current": BALANCE_AFTER[2] + 3 * PRINCIPAL + BALANCE_AFTER[2],
        "1-30": PRINCIPAL + (BALANCE_AFTER[1] - 53_309) + (BALANCE_AFTER[1] + 1),
        "31-90": PRINCIPAL + BALANCE_AFTER[1],
        "91-180": PRINCIPAL,
        "181-365": 2 * PRINCIPAL,
        ">365": BALANCE_AFTER[3],
    }
    assert earlier.counts == {"current": 5, "1-30": 3, "31-90": 2, "91-180": 1, "181-365": 2,
                              ">365": 1}
    assert (earlier.loans_active, earlier.outstanding_minor) == (14, 15_795_762)
    # (2,305,381 + 1,200,000 + 2,400,000 + 913,295) / 15,795,762 = 43.1676 %
    assert earlier.par30 == Decimal("43.17")
    assert db.read(lambda s: queries.balance_as_of(s, LOANS, EARLIER)) == 15_795_762
    # On 28 February 2025, before the write-off, the written-off loan is still there: first
    # due 15 Jul 2023 -> 594 days (>365), with "past maturity" (15 May 2023 -> 655). Twelve
    # loans were out then (those disbursed by that day, none closed yet).
    before_write_off = desk.portfolio(D(2025, 2, 28))
    assert before_write_off.counts[">365"] == 2
    assert before_write_off.buckets[">365"] == PRINCIPAL + BALANCE_AFTER[3]
    assert before_write_off.loans_active == 12
    # Before any loan, the report is empty and par30 is 0.00
    empty = desk.portfolio(D(2022, 12, 31))
    assert (empty.loans_active, empty.outstanding_minor, empty.par30) == (0, 0, Decimal("0.00"))
    assert db.read(verify).ok


# -- 2. buckets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "bucket"), [
    (-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-90"), (90, "31-90"),
    (91, "91-180"), (180, "91-180"), (181, "181-365"), (365, "181-365"), (366, ">365"),
    (10_000, ">365"),
])
def test_bucket_boundaries(days: int, bucket: str) -> None:
    assert bucket_of(days) == bucket


# -- 3. a moratorium stops arrears ageing --------------------------------------------------------


def test_a_moratorium_window_does_not_age_arrears(db: Database, clock: FixedClock,
                                                   keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 2, 2))
    loan_id = desk.lend(desk.register())  # first due 2 Mar, never paid
    assert desk.portfolio(D(2025, 3, 31)).counts["1-30"] == 1  # 29 days

    desk.at(D(2025, 4, 1))
    declared = db.write(lambda s: declare_moratorium(
        s, from_on=D(2025, 4, 1), to_on=D(2025, 4, 30), accrue_interest=True,
        resolution="Floods: board resolution 2025/7", actor="board1", clock=clock))
    assert declared.loans_affected == 1

    def bucket(as_of: date) -> str:
        report = desk.portfolio(as_of)
        assert report.loans_active == 1 and report.outstanding_minor == PRINCIPAL
        [name] = [name for name, count in report.counts.items() if count]
        return name

    # 2 Mar -> 15 Apr is 44 days, 14 of them (1-14 Apr) in the window: 30. 2 Mar -> 1 May is
    # 60 days less the 30 of April: 30, still 1-30 (without the moratorium it would have been
    # 31-90 since 2 Apr). A day after the window it ages again: 2 May -> 31.
    assert [bucket(d) for d in (D(2025, 4, 1), D(2025, 4, 15), D(2025, 5, 1), D(2025, 5, 2))] \
        == ["1-30", "1-30", "1-30", "31-90"]
    # Across the 31 days from 31 March to 1 May the arrears aged by one day (29 -> 30); the
    # loan's own page says the same.
    desk.at(D(2025, 5, 1))
    position = db.read(lambda s: standing(s, loan_id, as_of=D(2025, 5, 1))).position
    assert position is not None and position.days_past_due == 30
    assert position.first_unpaid_due == D(2025, 3, 2)
    # The installment due on 2 April fell in the window and was pushed past it: nothing but
    # the 2 March installment asks for money before 1 May.
    views = db.read(lambda s: standing(s, loan_id, as_of=D(2025, 5, 1))).installments
    assert [(v.due_on, v.total) for v in views if v.due_on <= D(2025, 4, 30) and v.total] == [
        (D(2025, 3, 2), INSTALLMENT)]


def test_a_moratorium_does_not_freeze_a_loan_it_did_not_cover(db: Database, clock: FixedClock,
                                                               keys: Vault) -> None:
    """A loan disbursed after a moratorium was declared is not covered by it: its arrears age
    through the window, in the portfolio as on its own page (standing). (Once, the portfolio
    subtracted every moratorium's window from every loan.)"""
    weekly = Product("W10", "Weekly", ProductTerms(annual_rate=Decimal(12), installments=10,
                                                   frequency=Frequency.WEEKLY),
                     None, Decimal(0), Decimal(0), engine.DEFAULT_ORDER)
    desk = open_desk(db, clock, keys, start=D(2025, 3, 20), product=weekly)
    her = desk.register()
    desk.at(D(2025, 4, 1))
    db.write(lambda s: declare_moratorium(
        s, from_on=D(2025, 4, 1), to_on=D(2025, 4, 30), accrue_interest=True,
        resolution="Floods", actor="board1", clock=clock))
    desk.at(D(2025, 4, 10))
    loan_id = desk.lend(her, product="W10")  # first due 17 Apr, in the window, never paid
    as_of = D(2025, 5, 18)
    desk.at(as_of)
    position = db.read(lambda s: standing(s, loan_id, as_of=as_of)).position
    assert position is not None
    assert (position.first_unpaid_due, position.days_past_due) == (D(2025, 4, 17), 31)
    report = desk.portfolio(as_of)
    assert report.counts["31-90"] == 1, report.counts


def test_overlapping_moratoria_freeze_a_day_once(db: Database, clock: FixedClock,
                                                 keys: Vault) -> None:
    """Two moratoria whose windows overlap freeze a shared day once, in the portfolio and on
    the loan's own page. (Once, the shared days counted twice.)"""
    desk = open_desk(db, clock, keys, start=D(2025, 2, 2))
    loan_id = desk.lend(desk.register())  # first due 2 Mar, never paid
    for declared, window in ((D(2025, 4, 1), (D(2025, 4, 1), D(2025, 4, 30))),
                             (D(2025, 4, 15), (D(2025, 4, 15), D(2025, 5, 15)))):
        desk.at(declared)
        db.write(partial(declare_moratorium, from_on=window[0], to_on=window[1],
                         accrue_interest=True, resolution="Floods", actor="board1",
                         clock=clock))
    as_of = D(2025, 5, 31)
    desk.at(as_of)
    # 2 Mar -> 31 May is 90 days; 1 Apr .. 15 May (45 days) were frozen: 45 days past due.
    position = db.read(lambda s: standing(s, loan_id, as_of=as_of)).position
    report = desk.portfolio(as_of)
    assert (position.days_past_due if position else None, report.counts["31-90"]) == (45, 1), (
        position, report.counts)


def test_an_interest_free_moratorium_declared_late_waives_the_windows_interest(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    """A moratorium may be declared for a window that began before the business date;
    resolved interest-free, it charges nothing from the window's start, as if declared then.
    (Once, the replay kept what the old plan accrued up to the declaration.)"""
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10))
    loan_id = desk.lend(desk.register())
    desk.at(D(2025, 2, 10)).repay(loan_id, INSTALLMENT)  # balance 1,105,381; 10 Mar unpaid
    declared = D(2025, 4, 20)
    desk.at(declared)
    db.write(lambda s: declare_moratorium(
        s, from_on=D(2025, 4, 1), to_on=D(2025, 5, 31), accrue_interest=False,
        resolution="Floods since 1 April, interest waived", actor="board1", clock=clock))
    position = db.read(lambda s: standing(s, loan_id, as_of=declared)).position
    assert position is not None
    # Interest owed on 20 April: the 10 March installment's 11,054 (1,105,381 x 1 %), plus
    # 10 Mar -> 1 Apr, 22 of the period's 31 days: 11,053.81 x 22 / 31 = 7,844.64 -> 7,845;
    # nothing from 1 April: the same as declaring it on 1 April (18,899).
    assert position.interest_due == 11_054 + 7_845


# -- 4. a reschedule with a payment holiday -------------------------------------------------------


def test_a_reschedule_with_a_holiday(db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 15), voters=3)
    loan_id = desk.lend(desk.register())
    for month in (2, 3, 4):
        desk.at(D(2025, month, 15)).repay(loan_id, INSTALLMENT)
    desk.at(D(2025, 5, 20))  # the 15 May installment is due and unpaid
    holiday_until = D(2025, 8, 1)
    request = db.write(lambda s: request_reschedule(
        s, loan_id, extra_installments=0, annual_rate=None, holiday_until=holiday_until,
        reason="harvest failed", actor="clerk1", clock=clock))
    assert request.status == "pending"
    before = db.read(lambda s: standing(s, loan_id, as_of=clock.today())).installments
    for voter in desk.voters[:APPROVALS]:
        society = db.read(desk.society)
        tally = db.write(partial(
            vote_reschedule, loan_id=loan_id, reschedule_id=request.id, voter_code=voter,
            voter_username=f"board-{voter}", decision="approve", note=None, society=society,
            actor="board1", clock=clock))
    assert tally.status == "approved"

    stored = db.read(lambda s: s.get_one(RescheduleRow, request.id))
    assert (stored.status, stored.plan_version, stored.decided_on) == ("approved", 2,
                                                                     D(2025, 5, 20))
    plans = db.read(lambda s: [(p.version, p.effective_on) for p in s.scalars(
        select(PlanRow).where(PlanRow.loan_id == loan_id).order_by(PlanRow.version))])
    assert plans == [(1, D(2025, 1, 15)), (2, D(2025, 5, 20))]
    assert db.read(lambda s: s.get_one(LoanRow, loan_id).plan_version) == 2

    after = db.read(lambda s: standing(s, loan_id, as_of=clock.today())).installments
    # The installments already due (15 Feb .. 15 May) are kept as they were...
    kept = [(v.due_on, v.total) for v in after if v.due_on <= clock.today()]
    assert kept == [(v.due_on, v.total) for v in before if v.due_on <= clock.today()]
    assert kept[-1] == (D(2025, 5, 15), INSTALLMENT)
    # ...nothing is asked in the holiday (15 Jun and 15 Jul ask zero), and the term grows by
    # the two holiday periods: 12 + 2 installments, the last on 15 Mar 2026.
    in_holiday = [v for v in after if clock.today() < v.due_on < holiday_until]
    assert in_holiday and all(v.total == 0 for v in in_holiday)
    assert len(after) == 14 and after[-1].due_on == D(2026, 3, 15)
    assert after[len(kept)].due_on > clock.today()
    first_after = next(v for v in after if v.due_on >= holiday_until)
    assert first_after.due_on == D(2025, 8, 15) and first_after.total > INSTALLMENT

    # The arrears of 15 May are still arrears
    desk.at(D(2025, 6, 1))
    assert desk.portfolio(D(2025, 6, 1)).counts["1-30"] == 1
    desk.repay(loan_id, INSTALLMENT)
    assert desk.portfolio(D(2025, 6, 30)).counts["current"] == 1  # the holiday asks nothing
    # Paying the payoff closes the loan; the principal allocated is the principal.
    desk.at(D(2025, 9, 3))
    assert desk.repay(loan_id, desk.payoff(loan_id)).status == "closed"
    events = repayment_events(db, loan_id)
    assert sum(e.principal_minor for e in events) == PRINCIPAL
    assert all(e.principal_minor + e.interest_minor + e.penalty_minor + e.fees_minor
               == e.amount_minor for e in events)
    assert loan_balance(db, loan_id) == 0
    assert desk.portfolio(D(2025, 9, 3)).loans_active == 0


# -- 5. share cover ----------------------------------------------------------------------------


def test_share_cover_on_redemptions(db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 5, 15))
    desk.register(savings=1_000_000)  # someone's cash in the till
    her = desk.register(savings=0)
    db.write(lambda s: shares.buy_shares(s, her, count=100, source="cash", face_value_minor=FACE,
                                         value_date=clock.today(), actor="clerk1", clock=clock))
    # 3 x 100,000 of shares covers 300,000 exactly
    loan_id = desk.lend(her, principal=300_000, to="cash")

    def redeem(count: int, to: Literal["cash", "savings"]) -> None:
        def work(s: Session) -> None:
            shares.redeem_shares(s, her, count=count, to=to, face_value_minor=FACE,
                                 min_shares=1, value_date=clock.today(), actor="admin1",
                                 clock=clock)
            check_share_cover(s, her, desk.society(s))
        db.write(work)

    def cover() -> tuple[int | None, int | None]:
        return (db.read(lambda s: queries.balance(s, shares_account(her))),
                db.read(lambda s: queries.balance(s, savings_account(her))))

    redeem(10, "savings")  # shares move to savings: the cover is the same
    assert cover() == (90_000, 10_000)
    with pytest.raises(AboveLimit) as refused:
        redeem(1, "cash")
    assert isinstance(refused.value, InvalidInput)
    assert cover() == (90_000, 10_000)  # rolled back with the check

    def withdraw_one(s: Session) -> None:
        record_withdrawal(s, her, amount_minor=1, value_date=clock.today(), actor="clerk1",
                          clock=clock)
        check_share_cover(s, her, desk.society(s))

    with pytest.raises(AboveLimit):
        db.write(withdraw_one)
    assert cover() == (90_000, 10_000)

    # One installment on time: PMT(300,000; 1 %; 12) = 26,654.64 -> 26,655, of which 3,000
    # interest and 23,655 principal; 276,345 left needs 92,115 of cover: 7 shares may go
    # (93,000 left), an 8th may not (92,000).
    desk.at(D(2025, 6, 15)).repay(loan_id, 26_655)
    assert db.read(lambda s: get_loan(s, loan_id).outstanding_minor) == 276_345
    with pytest.raises(AboveLimit):
        redeem(8, "cash")
    redeem(7, "cash")
    assert cover() == (83_000, 10_000)
    with pytest.raises(AboveLimit):
        redeem(1, "cash")


# -- 6. loans to board members ----------------------------------------------------------------


def test_board_loans_lists_insiders_with_their_approvals(db: Database, clock: FixedClock,
                                                          keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 6, 1), voters=0, board_seats=3)
    b1, b2, b3 = (desk.register() for _ in range(3))
    outsider = desk.register()
    desk.seat_board({b1, b2, b3})
    # an outsider's loan, approved by two board members
    desk.voters = [b1, b2]
    outsiders = desk.lend(outsider)
    # b1's loan: approved by b2 and b3, disbursed
    desk.voters = [b2, b3]
    b1_loan = desk.lend(b1, principal=600_000)
    # b2's loan: one approval so far (3 seats less her own: 2 may vote, 2 are required)
    b2_loan = desk.apply(b2, principal=300_000)
    assert desk.vote(b2_loan, b3).status == "pending"
    # b3's loan: one rejection leaves one seat for two approvals: rejected
    b3_loan = desk.apply(b3, principal=150_000)
    assert desk.vote(b3_loan, b1, "reject").status == "rejected"
    # a reschedule vote on b1's loan is not an approval of the loan
    desk.at(D(2025, 6, 10))
    request = db.write(lambda s: request_reschedule(
        s, b1_loan, extra_installments=2, annual_rate=None, holiday_until=None,
        reason="more time", actor="clerk1", clock=clock))
    db.write(lambda s: vote_reschedule(
        s, b1_loan, request.id, voter_code=b2, voter_username="b2", decision="approve",
        note=None, society=desk.society(s), actor="b2", clock=clock))

    listed = db.read(board_loans)
    assert listed == [
        InsiderLoan(b1_loan, b1, "active", 600_000, 600_000, 2),
        InsiderLoan(b2_loan, b2, "pending", 300_000, 0, 1),
        InsiderLoan(b3_loan, b3, "rejected", 150_000, 0, 0),
    ]
    assert outsiders not in {loan.loan_id for loan in listed}
    desk.seat_board({outsider})
    assert db.read(board_loans) == [
        InsiderLoan(outsiders, outsider, "active", PRINCIPAL, PRINCIPAL, 2)]
    desk.seat_board(set())
    assert db.read(board_loans) == []


# -- 7. two clerks, one loan --------------------------------------------------------------------


def repay_one_of(desk: Desk, loan_id: int, amounts: tuple[int, int], index: int) -> Any:
    return desk.repay(loan_id, amounts[index])


def run_pair(work: Callable[[int], Any]) -> list[Any]:
    """work(0) and work(1) on two threads released together; returns each one's result or
    the exception it raised. A thread still running at the deadline fails the test."""
    results: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def body(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:  # judged by the caller
            results[index] = exc

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(2)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, began + DEADLINE_SECONDS - time.perf_counter()))
    assert not [t for t in threads if t.is_alive()], "a repayment is still waiting: deadlock?"
    return results


def test_two_clerks_repaying_one_loan_at_once(db: Database, clock: FixedClock,
                                             keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10))
    loan_id = desk.lend(desk.register())
    amounts = [(40_000, 61_000), (106_619, 106_619), (12_345, 250_000), (1, 99_999),
               (70_000, 70_000)]
    accepted: list[int] = []
    for round_, pair in enumerate(amounts):
        desk.at(D(2025, 2 + round_, 10))
        results = run_pair(partial(repay_one_of, desk, loan_id, pair))
        for amount, result in zip(pair, results, strict=True):
            assert not isinstance(result, BaseException), repr(result)
            assert result.allocation.total == amount
            accepted.append(amount)

    # Both clerks take the whole payoff at once: one closes the loan, the other is refused
    # cleanly (above the payoff, or the loan is closed already) and posts nothing.
    desk.at(D(2025, 7, 10))
    payoff = desk.payoff(loan_id)
    results = run_pair(lambda _: desk.repay(loan_id, payoff))
    done = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(done) == 1 and done[0].status == "closed", results
    assert len(refused) == 1 and isinstance(refused[0], PaymentAbovePayoff | LoanStateConflict), \
        repr(refused[0])
    accepted.append(payoff)

    events = repayment_events(db, loan_id)
    assert sorted(e.amount_minor for e in events) == sorted(accepted)
    assert all(e.principal_minor + e.interest_minor + e.penalty_minor + e.fees_minor
               == e.amount_minor for e in events)
    posted = db.read(lambda s: s.execute(
        select(func.sum(posting_table.c.amount_minor))
        .where(posting_table.c.entry_id.in_([e.entry_id for e in events]),
               posting_table.c.side == "debit")).scalar_one())
    assert posted == sum(accepted)
    principal_paid = sum(e.principal_minor for e in events)
    assert principal_paid == PRINCIPAL
    assert loan_balance(db, loan_id) == PRINCIPAL - principal_paid == 0
    all_events = db.read(lambda s: s.scalars(select(EventRow.seq).where(
        EventRow.loan_id == loan_id).order_by(EventRow.seq)).all())
    assert list(all_events) == list(range(1, len(events) + 2))  # the disbursement is seq 1

    def replayed(s: Session) -> tuple[Any, ...]:
        row = s.get_one(LoanRow, loan_id)
        hist = history(s, row)
        return engine.position(hist.plan, hist.events, D(2025, 7, 10), hist.order).allocations

    # The stored allocations are the ones a fresh replay of the stored events gives
    assert [(a.penalty, a.fees, a.interest, a.principal) for a in db.read(replayed)] == [
        (e.penalty_minor, e.fees_minor, e.interest_minor, e.principal_minor) for e in events]
    assert db.read(verify).ok


def test_two_clerks_mid_life_keep_ledger_and_events_equal(db: Database, clock: FixedClock,
                                                         keys: Vault) -> None:
    """The same check while the loan stays open: the loan account is principal less the
    principal allocated, after every round."""
    desk = open_desk(db, clock, keys, start=D(2025, 3, 3))
    loan_id = desk.lend(desk.register())
    desk.at(D(2025, 6, 30))
    for round_ in range(10):
        pair = (25_000 + round_, 40_000 + 7 * round_)
        results = run_pair(partial(repay_one_of, desk, loan_id, pair))
        assert not [r for r in results if isinstance(r, BaseException)], results
        events = repayment_events(db, loan_id)
        assert len(events) == 2 * (round_ + 1)
        paid = sum(e.principal_minor for e in events)
        assert loan_balance(db, loan_id) == PRINCIPAL - paid
        assert db.read(lambda s: get_loan(s, loan_id).outstanding_minor) == PRINCIPAL - paid
        assert events[-1].outstanding_after == PRINCIPAL - paid
    assert db.read(verify).ok



# -- 8. verify replays every loan ------------------------------------------------------------------


def test_reconcile_finds_a_tampered_loan(db: Database, clock: FixedClock, keys: Vault) -> None:
    """`coop verify` replays each loan's plan and payments against the stored allocations and
    its ledger balance: a clean book has no problem; an edited outstanding amount or an
    edited allocation is named."""
    from sqlalchemy import update

    from coop.loans import EventRow, LoanRow, reconcile

    desk = open_desk(db, clock, keys, start=D(2025, 1, 15))
    loan_id = desk.lend(desk.register())
    desk.at(D(2025, 2, 20)).repay(loan_id, INSTALLMENT)
    desk.at(D(2025, 3, 10)).repay(loan_id, 50_000)
    assert db.read(reconcile) == []

    db.write(lambda s: s.execute(update(EventRow).where(
        EventRow.loan_id == loan_id, EventRow.seq == 2).values(
        interest_minor=EventRow.interest_minor - 1, principal_minor=EventRow.principal_minor + 1)))
    problems = db.read(reconcile)
    assert [m for _, m in problems] == [
        f"loan {loan_id}: stored allocations differ from the replay of its plan and payments"]

    db.write(lambda s: s.execute(update(LoanRow).where(LoanRow.id == loan_id).values(
        outstanding_minor=LoanRow.outstanding_minor - 100)))
    problems = db.read(reconcile)
    assert len(problems) == 1 and "the ledger says" in problems[0][1]


# -- 9. found in review: reschedules and moratoria at the edges ------------------------------------


def _approve_reschedule(desk: Desk, loan_id: int, *, extra: int = 0,
                        holiday_until: date | None = None) -> None:
    request = desk.db.write(lambda s: request_reschedule(
        s, loan_id, extra_installments=extra, annual_rate=None, holiday_until=holiday_until,
        reason="hardship", actor="clerk1", clock=desk.clock))
    for voter in desk.voters[:APPROVALS]:
        tally = desk.db.write(lambda s, v=voter: vote_reschedule(
            s, loan_id, request.id, voter_code=v, voter_username="board", decision="approve",
            note=None, society=desk.society(s), actor="board",
            clock=desk.clock))
    assert tally.status == "approved"


def test_a_rescheduled_flat_loan_charges_the_interest_its_new_plan_shows(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10),
                     product=monthly_product(interest_method=InterestMethod.FLAT))
    loan_id = desk.lend(desk.register())
    plan = db.read(lambda s: standing(s, loan_id, as_of=clock.today())).installments
    for view in plan[:6]:
        desk.at(view.due_on).repay(loan_id, view.total)
    _approve_reschedule(desk, loan_id, extra=6)
    after = db.read(lambda s: standing(s, loan_id, as_of=clock.today())).installments[6:]
    assert {v.interest for v in after} == {6_000}  # 1 % a month on the 6,000.00 spread again
    charged = 0
    for view in after:
        desk.at(view.due_on)
        done = desk.repay(loan_id, min(view.total, desk.payoff(loan_id)))
        charged += done.allocation.interest
    assert (charged, done.status) == (sum(v.interest for v in after), "closed")


def test_a_loan_past_maturity_can_be_rescheduled_and_does_not_block_a_moratorium(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2024, 1, 10))
    overdue = desk.lend(desk.register())  # matures 10 Jan 2025, never paid
    desk.at(D(2025, 3, 1))
    healthy = desk.lend(desk.register())
    desk.at(D(2025, 4, 1))
    moratorium = db.write(lambda s: declare_moratorium(
        s, from_on=D(2025, 4, 1), to_on=D(2025, 6, 30), accrue_interest=True,
        resolution="Floods", actor="board1", clock=clock))
    assert moratorium.loans_affected == 2
    desk.at(D(2025, 7, 5))
    _approve_reschedule(desk, overdue, extra=12)
    now = db.read(lambda s: standing(s, overdue, as_of=clock.today()))
    assert now.installments[-1].due_on > D(2026, 1, 1)  # a new tail for what she owes
    assert now.position is not None and now.position.days_past_due == 0  # re-aged
    for view in now.installments:  # paying the new tail as it falls due closes the loan
        if view.due_on > clock.today() and view.total:
            desk.at(view.due_on)
            done = desk.repay(overdue, min(view.total, desk.payoff(overdue)))
    assert done.status == "closed"
    assert loan_balance(db, overdue) == 0 and healthy


def test_a_holiday_that_covers_the_last_installment_leaves_nothing_due_inside_it(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10))
    loan_id = desk.lend(desk.register())
    plan = db.read(lambda s: standing(s, loan_id, as_of=clock.today())).installments
    for view in plan[:10]:
        desk.at(view.due_on).repay(loan_id, view.total)
    desk.at(D(2025, 11, 15))
    _approve_reschedule(desk, loan_id, holiday_until=D(2026, 6, 30))
    views = db.read(lambda s: standing(s, loan_id, as_of=clock.today())).installments
    assert all(v.total == 0 for v in views[10:] if v.due_on < D(2026, 6, 30))
    desk.at(D(2026, 3, 1))
    position = db.read(lambda s: standing(s, loan_id, as_of=clock.today())).position
    assert position is not None and (position.days_past_due, position.overdue) == (0, 0)


def test_a_loan_with_only_deferred_interest_left_can_be_written_off(
        db: Database, clock: FixedClock, keys: Vault) -> None:
    desk = open_desk(db, clock, keys, start=D(2025, 1, 10),
                     product=monthly_product(grace_on_interest_payment=3))
    loan_id = desk.lend(desk.register())
    desk.at(D(2025, 2, 10)).repay(loan_id, PRINCIPAL)  # all the principal, not the interest
    desk.at(D(2025, 9, 1))
    entry = db.write(lambda s: write_off(s, loan_id, on=clock.today(), reason="left the city",
                                         actor="board1", clock=clock))
    assert entry is None  # no principal left: unpaid interest was never income
    assert db.read(lambda s: get_loan(s, loan_id)).status == "written_off"
    assert db.read(lambda s: verify(s)).ok
