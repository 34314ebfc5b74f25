"""A demo society for `make run` and for rehearsing a year: a small savings and credit
co-operative of the kind this ledger is built for (Sadhana Didi in Mysore had 1,737
shareholders with ₹20,57,600 of shares in 2018-19: about twelve ₹100 shares each).

The book opens on the first day of the last fiscal year that has ended (the one a board can
close now) and runs to yesterday, through the same service functions as the counter, so every
rule holds. Its figures are a going concern's, scaled by the number of members:

* shares of ₹100 (the society's face value, set before the first share), 1 to 25 a member;
  savings brought forward from the paper passbooks, from a few hundred rupees to tens of
  thousands; on counter days about one member in eight deposits ₹20-₹500 or withdraws;
* loans at 12 % flat (weekly, 25 weeks, up to ₹15,000) and 15 % on the declining balance
  (monthly, 12 months, up to ₹50,000), 1 % fee, within three times savings and shares; applied
  for, approved by six of the seven board members and paid out the same day; in the first
  fortnight the loans still owed on paper are carried over. Most borrowers pay on the due date
  or within days, one clears her loan early, one is always about three weeks behind and one
  stopped paying ten weeks ago (so the portfolio shows arrears and PAR30); at the end two
  applications wait for the board, one of them a vote short;
* savings interest at the society's rate (4 %) posted monthly; honoraria, rent, electricity,
  stationery and the audit fee paid from the bank, about ₹40 a member a month; cash above the
  counter's float banked (6 % a year, credited quarterly) and drawn back when it runs short.

Loan interest and fees pay the savings interest and the costs and leave a surplus, so the
board can close the year, preview and declare a dividend (10 % on share-days gives ₹100 to ten
shares held all year) and the clerk can pay it. The logins (`Login`: `clerk`, `board` for the
first board member, `auditor`, and one member, by her number, with a PIN) are printed by
`coop demo`. Their passwords are public: a demo book is for trying things out.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import partial
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from coop import auth, board, loans
from coop.clock import FixedClock
from coop.db import Database
from coop.dividends.calc import FiscalYear
from coop.errors import CoopError
from coop.ledger import EntryDraft, credit, debit, open_account, post, queries
from coop.ledger.chart import BANK, CASH
from coop.ledger.orm import entry_table
from coop.loans.schedule import Frequency, InterestMethod, build
from coop.members import Identity, register_member, savings_account, shares_account
from coop.members.vault import Vault
from coop.money import minor_digits
from coop.savings import record_deposit, record_withdrawal
from coop.savings.interest_run import interest_rules, post_interest
from coop.savings.shares import buy_shares
from coop.society import require_society, set_share_face_value

ACTOR = "demo"
BOARD_SEATS_IN_DEMO = 7
SHARE_FACE_VALUE = 100  # rupees (units of the book's currency)
NAMES = ("Asha", "Bhagya", "Chitra", "Devamma", "Gowramma", "Hema", "Indira", "Jayamma",
         "Kamala", "Manjula", "Nagamma", "Padma", "Rathna", "Roopa", "Sakamma", "Shanthi",
         "Sumathi", "Tulasi", "Uma", "Vanaja", "Yashoda", "Farida", "Shabana", "Mary")
MEMBER_NAME = "Lakshmi Devi"  # the member who logs in: unique, so the clerk finds her by name


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    password: str
    member_code: str | None


CLERK_PASSWORD, BOARD_PASSWORD, AUDITOR_PASSWORD = (
    "counter mango tea", "banyan tree meeting", "ledger lamp check")
MEMBER_PIN = "739164"


@dataclass(frozen=True)
class DemoResult:
    members: int
    entries: int
    first_day: date
    last_day: date
    fiscal_year: int
    """The fiscal year that has ended and is not closed: the one to rehearse."""
    logins: tuple[Login, ...]


@dataclass
class _Society:
    """What the demo remembers between days: who is who, and whose loan is open."""

    rng: random.Random
    codes: list[str]
    unit: int  # minor units in one unit of the currency
    first_day: date
    today: date
    fiscal_year_start: str  # "04-01"
    habits: dict[str, str] = field(default_factory=dict)
    open_loan: dict[str, int] = field(default_factory=dict)  # member -> loan id
    borrower_of: dict[int, str] = field(default_factory=dict)  # loan id -> member
    disbursed_on: dict[int, date] = field(default_factory=dict)
    installment: dict[int, int] = field(default_factory=dict)  # loan id -> its installment
    bank_interest_minor: Fraction = Fraction(0)  # earned by the deposit, not yet credited
    board_user: str = "board"

    @property
    def voters(self) -> list[str]:
        return self.codes[:BOARD_SEATS_IN_DEMO]

    def seat_username(self, code: str) -> str:
        return self.board_user if code == self.codes[0] else f"{ACTOR}:{code}"


def book_is_empty(session: Session) -> bool:
    return session.execute(select(entry_table.c.id).limit(1)).first() is None


def year_to_rehearse(today: date, fiscal_year_start: str) -> FiscalYear:
    """The last fiscal year that ended before `today`: the one a board can close now."""
    year = FiscalYear.of(today.year, fiscal_year_start)
    while year.end >= today:
        year = FiscalYear.of(year.name - 1, fiscal_year_start)
    return year


def build_demo(
    db: Database, *, vault: Vault, passwords: auth.Passwords, today: date, members: int = 60,
    seed: int = 42, progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Fill an empty book with a going concern's days from the start of the last fiscal year
    that has ended to yesterday, and make the demo's logins."""
    if not db.read(book_is_empty):
        raise CoopError("the demo fills an empty book; this one has entries already")
    if members < BOARD_SEATS_IN_DEMO + 4:
        raise CoopError.said("the demo needs at least {count} members: a board of seven and "
                             "four members besides", count=BOARD_SEATS_IN_DEMO + 4)
    society = db.read(require_society)
    year = year_to_rehearse(today, society.fiscal_year_start)
    first_day = year.start
    clock = FixedClock(first_day)
    rng = random.Random(seed)  # noqa: S311 - a reproducible demo, not a secret
    demo = _Society(rng, [], 10 ** minor_digits(society.currency), first_day, today,
                    society.fiscal_year_start)
    logins = db.write(partial(_open_the_books, demo=demo, members=members, vault=vault,
                              passwords=passwords, clock=clock))
    days = (today - first_day).days
    for done in range(0, days, 7):  # a week a transaction: fast, and all or nothing per week
        week = [first_day + timedelta(days=n) for n in range(done, min(done + 7, days))]
        db.write(partial(_week, demo=demo, days=week, clock=clock))
        if progress is not None:
            progress(min(done + 7, days), days)
    clock.business_date = today - timedelta(days=1)
    db.write(partial(_waiting_for_the_board, demo=demo, clock=clock))
    entries = db.read(lambda s: queries.book(s).head_seq)  # type: ignore[union-attr]
    return DemoResult(members, entries, first_day, today - timedelta(days=1), year.name,
                      logins)


# --- the first day: the books opened from the paper registers -------------------------------

BANK_INTEREST, SALARIES, RENT, OFFICE = "4500", "5110", "5120", "5130"
OWN_ACCOUNTS = ((BANK_INTEREST, "Interest on bank deposits", "income"),
                (SALARIES, "Salaries and honoraria", "expense"),
                (RENT, "Rent, electricity and phone", "expense"),
                (OFFICE, "Stationery, passbooks and audit", "expense"))
BANK_RATE_PERCENT = 6  # a fixed deposit at the district co-operative bank
MONTHLY_COSTS = ((SALARIES, 25, "Honoraria: accountant and collection agent"),
                 (RENT, 11, "Office rent, electricity and phone"),
                 (OFFICE, 3, "Stationery and passbooks"))
"""Each month's costs from the bank, in rupees per member (60 members: ₹1,500 honoraria)."""
AUDIT_FEE_PER_MEMBER = 50  # paid on the fiscal year's last day
SHARES = (1, 2, 3, 5, 5, 8, 10, 10, 10, 10, 12, 15, 20, 25)
HABITS = ("steady", "steady", "steady", "saver")
"""Most members borrow and repay on time; some only save. Four members have set habits:
the member who logs in (steady, ten shares), one late, one who stopped paying, one early."""


def _open_the_books(session: Session, *, demo: _Society, members: int, vault: Vault,
                    passwords: auth.Passwords, clock: FixedClock) -> tuple[Login, ...]:
    """Shares of ₹100 (set before the first share), the products and the cost accounts, the
    members with their shares and savings brought forward, the board and the logins."""
    rng, unit, first_day = demo.rng, demo.unit, clock.today()
    set_share_face_value(session, SHARE_FACE_VALUE * unit)
    _products(session, clock, unit)
    for code, name, kind in OWN_ACCOUNTS:
        open_account(session, code=code, name=name, type=kind, may_go_negative=True,
                     clock=clock)
    for n in range(members):
        known_as = MEMBER_NAME if n == BOARD_SEATS_IN_DEMO else (
            NAMES[n % len(NAMES)] if rng.random() < 0.8 else None)
        # most read Kannada, as in Mysore; some Hindi, Bengali or English
        language = ("kn", "kn", "kn", "hi", "bn", "en", None)[n % 7]
        joined = first_day - timedelta(days=rng.randint(200, 9 * 365))  # years on paper
        demo.codes.append(register_member(
            session, identity=Identity(known_as=known_as), joined_on=joined, vault=vault,
            clock=clock, language=language).code)
    set_habits = ("steady", "late", "stopped", "early")
    for n, code in enumerate(demo.codes):
        special = n - BOARD_SEATS_IN_DEMO
        demo.habits[code] = set_habits[special] if 0 <= special < 4 else rng.choice(HABITS)
        count = 10 if special == 0 else rng.choice(SHARES)
        buy_shares(session, code, count=count, source="cash",
                   face_value_minor=SHARE_FACE_VALUE * unit, value_date=first_day,
                   actor=ACTOR, clock=clock)
        saved = 6_250 if special == 0 else _opening_savings(rng)
        record_deposit(session, code, amount_minor=saved * unit, value_date=first_day,
                       actor=ACTOR, clock=clock, narration="Brought forward from the passbook")
    _bank_the_excess(session, demo, clock)
    return _board_and_logins(session, demo=demo, passwords=passwords, clock=clock)


def _opening_savings(rng: random.Random) -> int:
    """A few hundred rupees to tens of thousands, most a few thousand (in rupees, to ₹10)."""
    low, high = rng.choice(((200, 2_000), (1_000, 6_000), (2_000, 10_000), (6_000, 30_000)))
    return rng.randint(low // 10, high // 10) * 10


def _products(session: Session, clock: FixedClock, unit: int) -> None:
    weekly = loans.ProductTerms(Decimal("12"), INSTALLMENTS["WEEKLY"], Frequency.WEEKLY,
                                interest_method=InterestMethod.FLAT, installment_multiple=unit)
    monthly = loans.ProductTerms(Decimal("15"), INSTALLMENTS["MONTHLY"], Frequency.MONTHLY,
                                 installment_multiple=unit)
    loans.create_product(session, loans.Product(
        "WEEKLY", "Weekly loan, 25 weeks, 12 % flat", weekly, 15_000 * unit, Decimal("1"),
        Decimal("0"), loans.engine.DEFAULT_ORDER), clock=clock)
    loans.create_product(session, loans.Product(
        "MONTHLY", "Monthly loan, 12 months, 15 % declining", monthly, 50_000 * unit,
        Decimal("1"), Decimal("0"), loans.engine.DEFAULT_ORDER), clock=clock)


def _board_and_logins(session: Session, *, demo: _Society, passwords: auth.Passwords,
                      clock: FixedClock) -> tuple[Login, ...]:
    """The first seven members sit on the board (the first through her login `board`, the
    others seated without one); a clerk, an auditor and one member get logins."""
    member = demo.codes[BOARD_SEATS_IN_DEMO]
    logins = (Login("clerk", "clerk", CLERK_PASSWORD, None),
              Login(demo.board_user, "board", BOARD_PASSWORD, demo.codes[0]),
              Login("auditor", "auditor", AUDITOR_PASSWORD, None),
              Login(member.lower(), "member", MEMBER_PIN, member))
    for login in logins:
        auth.create_user(session, username=login.username, password=login.password,
                         role=login.role, member_code=login.member_code, passwords=passwords,
                         clock=clock)
    board.sync_seat(session, username=demo.board_user, on=clock.today())
    for code in demo.voters[1:]:
        board.take_seat(session, member_code=code, username=demo.seat_username(code),
                        on=clock.today())
    return logins


# --- cash: the counter's float, the bank ----------------------------------------------------


def _float(demo: _Society) -> int:
    return max(20_000, 400 * len(demo.codes)) * demo.unit


def _cash_ready(session: Session, demo: _Society, amount: int, clock: FixedClock) -> bool:
    """Enough cash in the drawer to pay out `amount`, drawing from the bank if need be."""
    cash = queries.balance(session, CASH) or 0
    if cash >= amount:
        return True
    wanted = amount - cash + _float(demo)
    if (queries.balance(session, BANK) or 0) < wanted:
        return False
    post(session, EntryDraft(
        value_date=clock.today(), narration="Cash drawn from the bank for the counter",
        kind="manual", actor=ACTOR, postings=(debit(CASH, wanted), credit(BANK, wanted))),
        clock=clock)
    return True


def _bank_the_excess(session: Session, demo: _Society, clock: FixedClock) -> None:
    """Cash beyond twice the float goes to the bank at the end of the day."""
    cash = queries.balance(session, CASH) or 0
    if cash > 2 * _float(demo):
        banked = cash - _float(demo)
        post(session, EntryDraft(
            value_date=clock.today(), narration="Cash deposited in the bank", kind="manual",
            actor=ACTOR, postings=(debit(BANK, banked), credit(CASH, banked))), clock=clock)


def _bank_interest(session: Session, demo: _Society, clock: FixedClock) -> None:
    """The bank pays interest on what the society keeps there (month-end balances), credited
    at the end of each quarter."""
    day = clock.today()
    demo.bank_interest_minor += Fraction(
        (queries.balance(session, BANK) or 0) * BANK_RATE_PERCENT, 100 * 12)
    credited = round(demo.bank_interest_minor)
    if day.month % 3 == 0 and credited > 0:
        post(session, EntryDraft(
            value_date=day, narration=f"Interest credited by the bank, quarter to {day:%B %Y}",
            kind="manual", actor=ACTOR,
            postings=(debit(BANK, credited), credit(BANK_INTEREST, credited))), clock=clock)
        demo.bank_interest_minor = Fraction(0)


def _pay_costs(session: Session, demo: _Society, clock: FixedClock) -> None:
    """The month's honoraria, rent and stationery (and on the fiscal year's last day the
    audit fee), paid from the bank on the month's last day."""
    day, members = clock.today(), len(demo.codes)
    costs = [(code, per_member * members, f"{words}, {day:%B %Y}")
             for code, per_member, words in MONTHLY_COSTS]
    ending = year_to_rehearse(day + timedelta(days=1), demo.fiscal_year_start)
    if ending.end == day:
        costs.append((OFFICE, AUDIT_FEE_PER_MEMBER * members,
                      f"Audit fee, fiscal year {ending.name}"))
    for code, rupees, narration in costs:
        amount = rupees * demo.unit
        paid_from = BANK if (queries.balance(session, BANK) or 0) >= amount else CASH
        post(session, EntryDraft(
            value_date=day, narration=narration, kind="manual", actor=ACTOR,
            postings=(debit(code, amount), credit(paid_from, amount))), clock=clock)


# --- a counter day ---------------------------------------------------------------------------

STOPPED_DAYS_AGO = 75  # the borrower who stopped paying: her last payment that long ago
LATE_DAYS = 21  # the late borrower pays once her oldest installment is three weeks overdue


def _week(session: Session, *, demo: _Society, days: list[date], clock: FixedClock) -> None:
    """Monday to Saturday the counter opens: savings, then applications, then repayments;
    spare cash is banked. On the month's last day its costs are paid, and the next morning
    the month's savings interest is posted."""
    for day in days:
        clock.business_date = day
        if day.weekday() != 6:
            _savings_counter(session, demo, clock)
            _applications(session, demo, clock)
            _repayments(session, demo, clock)
            _bank_the_excess(session, demo, clock)
        tomorrow = day + timedelta(days=1)
        if tomorrow.day == 1:
            _pay_costs(session, demo, clock)
            _bank_interest(session, demo, clock)
            clock.business_date = tomorrow  # the month has ended: its savings interest
            rules = interest_rules(session)
            post_interest(session, start=day.replace(day=1), through=day,
                          rate_percent=rules.rate_percent,
                          min_balance_minor=rules.min_balance_minor, actor=ACTOR, clock=clock)


def _savings_counter(session: Session, demo: _Society, clock: FixedClock) -> None:
    rng, day = demo.rng, clock.today()
    for code in rng.sample(demo.codes, k=max(2, len(demo.codes) // 8)):
        if rng.random() < 0.68:
            amount = rng.choice((20, 50, 100, 100, 200, 500)) * demo.unit
            record_deposit(session, code, amount_minor=amount, value_date=day, actor=ACTOR,
                           clock=clock)
            continue
        amount = rng.choice((100, 200, 300, 500)) * demo.unit
        if not _cash_ready(session, demo, amount, clock):
            continue
        try:
            record_withdrawal(session, code, amount_minor=amount, value_date=day,
                              actor=ACTOR, clock=clock)
        except CoopError:  # not enough saved: the clerk says no, as she would
            continue


def _wants_a_loan(demo: _Society, code: str, day: date) -> bool:
    habit = demo.habits[code]
    if habit == "saver" or code in demo.open_loan:
        return False
    if habit == "stopped":  # one loan, taken some months before she stopped paying
        return demo.today - timedelta(days=240) <= day < _stopped_on(demo)
    carried_over = day < demo.first_day + timedelta(days=14)  # see `_apply`
    return demo.rng.random() < (0.2 if carried_over else 0.04)


def _stopped_on(demo: _Society) -> date:
    return demo.today - timedelta(days=STOPPED_DAYS_AGO)


def _applications(session: Session, demo: _Society, clock: FixedClock) -> None:
    """Members who want a loan apply; six of the board approve; it is paid out at once."""
    day = clock.today()
    for code in demo.codes:
        if not _wants_a_loan(demo, code, day):
            continue
        loan_id = _apply(session, demo, code, clock)
        if loan_id is None:
            continue
        required = require_society(session).settings.loan_approvals_required
        _board_votes(session, demo, loan_id, [v for v in demo.voters if v != code][:required],
                     clock)
        rupees = loans.get_loan(session, loan_id).principal_minor
        to: Literal["cash", "savings"] = "cash" if demo.rng.random() < 0.85 and _cash_ready(
            session, demo, rupees, clock) else "savings"
        _, loan = loans.disburse(session, loan_id, to=to, on=day, actor=ACTOR, clock=clock)
        demo.installment[loan_id] = build(loan.terms).installments[0].total
        demo.open_loan[code] = loan_id
        demo.borrower_of[loan_id] = code
        demo.disbursed_on[loan_id] = day


INSTALLMENTS = {"WEEKLY": 25, "MONTHLY": 12}


def _apply(session: Session, demo: _Society, code: str, clock: FixedClock) -> int | None:
    """Her application for what she wants, within three times her savings and shares. In
    the first fortnight a loan from the paper books is carried over: what she still owed,
    over the installments she had left, so the loans fall due and are renewed at all times
    of the year rather than together."""
    rng = demo.rng
    wanted = rng.choice((8_000, 10_000, 15_000, 15_000, 20_000, 25_000, 30_000, 40_000,
                         50_000))
    own = sum(queries.balance(session, account) or 0
              for account in (savings_account(code), shares_account(code)))
    principal = min(wanted, 3 * own // demo.unit // 1_000 * 1_000)
    weekly = principal <= 15_000 and demo.habits[code] != "stopped" and rng.random() < 0.6
    product = "WEEKLY" if weekly else "MONTHLY"
    installments = INSTALLMENTS[product]
    if clock.today() < demo.first_day + timedelta(days=14):
        installments = rng.randint(3, installments)
        principal = principal * installments // INSTALLMENTS[product] // 1_000 * 1_000
    if principal < 3_000:
        return None
    try:
        loan, _ = loans.apply(
            session, member_code=code, product_code=product,
            principal_minor=principal * demo.unit, installments=installments,
            purpose=rng.choice(loans.PURPOSES[:5]), guarantors=(),
            society=require_society(session), actor=ACTOR, clock=clock)
    except CoopError:  # not eligible after all: the clerk explains, she saves a while longer
        return None
    return loan.id


def _board_votes(session: Session, demo: _Society, loan_id: int, voters: list[str],
                 clock: FixedClock) -> None:
    """Board members approve the application, each with her seat's username."""
    society = require_society(session)
    for voter in voters:
        loans.vote(session, loan_id, voter_code=voter, voter_username=demo.seat_username(voter),
                   decision="approve", note=None, society=society, clock=clock)


def _repayments(session: Session, demo: _Society, clock: FixedClock) -> None:
    """Whoever has something due pays it, by her habit: most their installment on the day or
    within days, one about three weeks late every time (all she owes then), one nothing since
    she stopped, one the whole loan eight weeks after she took it."""
    day, rng = clock.today(), demo.rng
    for loan_id, oldest_unpaid in loans.falling_due(session, day):
        habit = demo.habits[demo.borrower_of[loan_id]]
        amount = demo.installment[loan_id]
        if habit == "stopped" and day >= _stopped_on(demo):
            continue
        if habit == "late":
            if (day - oldest_unpaid).days < LATE_DAYS:
                continue
            amount = _position(session, loan_id, day).due_now
        elif habit == "early" and (day - demo.disbursed_on[loan_id]).days >= 56:
            amount = _position(session, loan_id, day).payoff
        elif rng.random() < 0.3:
            continue  # she comes another day this week
        elif rng.random() < 0.1:
            amount += rng.choice((100, 200, 500)) * demo.unit
        try:
            paid = loans.repay(session, loan_id, amount_minor=amount, source="cash", on=day,
                               actor=ACTOR, clock=clock)
        except loans.PaymentAbovePayoff:  # the last installment, or the extra clears it
            paid = loans.repay(session, loan_id, amount_minor=_position(
                session, loan_id, day).payoff, source="cash", on=day, actor=ACTOR, clock=clock)
        if paid.status == "closed":
            del demo.open_loan[demo.borrower_of[loan_id]]


def _position(session: Session, loan_id: int, day: date) -> loans.engine.Position:
    position = loans.standing(session, loan_id, as_of=day).position
    if position is None:
        raise CoopError(f"loan {loan_id} is not paid out")
    return position


def _waiting_for_the_board(session: Session, *, demo: _Society, clock: FixedClock) -> None:
    """Two applications made on the last day wait for the board: one has five approvals (the
    `board` login's vote decides it), one has none."""
    waiting = [code for code in demo.codes[1:]
               if code not in demo.open_loan and demo.habits[code] not in ("late", "stopped")]
    made = 0
    for code in waiting:
        loan_id = _apply(session, demo, code, clock)
        if loan_id is None:
            continue
        if made == 0:  # all but the `board` login's vote, and never the borrower's own
            required = require_society(session).settings.loan_approvals_required
            others = [v for v in demo.voters[1:] if v != code]
            _board_votes(session, demo, loan_id, others[:required - 1], clock)
        made += 1
        if made == 2:
            return
