"""A worked example: one fiscal year (1 April 2025 - 31 March 2026) of a small co-op, with
figures a person can check on paper.

Four women found the society: Asha, Bina and Chitra sit on its board (two approvals pass a
loan), Devi borrows. Shares are 10.00 each; savings earn 4 % a year by the daily balance;
loans are 12 % a year, declining balance, 12 monthly installments. Amounts in the code are
minor units (paise): 1_000_000 is 10,000.00.

After each step the test checks the books as a clerk would read them (each member's savings
and shares, Devi's loan, cash on hand, the year's surplus in 3900) and that `verify` finds the
journal whole. It runs on SQLite, and on PostgreSQL when COOP_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from coop import auth, board, dividends, loans
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, credit, debit, post, queries
from coop.ledger.chart import CASH, CURRENT_YEAR_SURPLUS
from coop.ledger.model import InsufficientFunds
from coop.ledger.verify import verify
from coop.members import Identity, register_member, savings_account, shares_account
from coop.members.vault import Vault
from coop.savings import interest_run, record_deposit, record_withdrawal, shares
from coop.society import Society, require_society, update_settings

FACE = 1_000  # 10.00 a share, the default face value
PASSWORDS = auth.Passwords(memory_kib=1024, time_cost=1, parallelism=1)
NAMES = ("Asha", "Bina", "Chitra", "Devi")


@dataclass
class Coop:
    """The society's counter: its database, the business date the clerk moves, its members."""

    db: Database
    clock: FixedClock
    vault: Vault
    member: dict[str, str] = field(default_factory=dict)  # name -> member number

    def on(self, day: date) -> Coop:
        self.clock.business_date = day
        return self

    def society(self, session: Session) -> Society:
        return require_society(session)

    def balance(self, code: str) -> int:
        return self.db.read(lambda s: queries.balance(s, code)) or 0

    def books(self, loan_id: int | None = None) -> dict[str, int]:
        """The figures the test checks after every step."""
        figures = {f"{name} savings": self.balance(savings_account(code))
                   for name, code in self.member.items()}
        figures |= {f"{name} shares": self.balance(shares_account(code))
                    for name, code in self.member.items()}
        if loan_id is not None:
            account = self.db.read(lambda s: loans.get_loan(s, loan_id).account_code)
            assert account is not None
            figures["Devi loan"] = self.balance(account)
        figures["cash"] = self.balance(CASH)
        figures["3900 surplus"] = self.balance(CURRENT_YEAR_SURPLUS)
        return figures

    def verified(self) -> bool:
        report = self.db.read(verify)
        return report.ok and report.problems == []


def figures(savings: tuple[int, int, int, int], shares_held: tuple[int, int, int, int], *,
            cash: int, surplus: int = 0, loan: int | None = None) -> dict[str, int]:
    expected = {f"{n} savings": v for n, v in zip(NAMES, savings, strict=True)}
    expected |= {f"{n} shares": v for n, v in zip(NAMES, shares_held, strict=True)}
    if loan is not None:
        expected["Devi loan"] = loan
    return expected | {"cash": cash, "3900 surplus": surplus}


@pytest.fixture
def coop(db: Database, clock: FixedClock) -> Coop:
    society = Coop(db, clock, Vault(b"e" * 32)).on(date(2025, 7, 1))
    db.write(lambda s: update_settings(s, {"loan_approvals_required": 2, "board_seats": 3}))
    db.write(lambda s: loans.create_product(s, loans.Product(
        "M12", "Monthly loan, 12 months", loans.ProductTerms(Decimal(12), 12), None,
        Decimal(0), Decimal(0), loans.engine.DEFAULT_ORDER), clock=clock))
    return society


def test_a_year_of_a_small_cooperative(coop: Coop) -> None:
    db, clock = coop.db, coop.clock
    saves = (1_000_000, 600_000, 200_000, 400_000)  # 10,000.00  6,000.00  2,000.00  4,000.00
    buys = (50, 20, 10, 20)  # shares of 10.00

    # -- 1 July 2025: four members join, save and buy shares (all in cash) -------------------
    for name, amount, count in zip(NAMES, saves, buys, strict=True):
        def join(s: Session, amount: int = amount, count: int = count) -> str:
            code = register_member(s, identity=Identity(known_as=name), joined_on=None,
                                   vault=coop.vault, clock=clock).code
            record_deposit(s, code, amount_minor=amount, value_date=clock.today(),
                           actor="clerk", clock=clock)
            shares.buy_shares(s, code, count=count, source="cash", face_value_minor=FACE,
                              value_date=clock.today(), actor="clerk", clock=clock)
            return code

        coop.member[name] = db.write(join)
    for name in ("Asha", "Bina", "Chitra"):  # the board: members with a board user and a seat
        def seat(s: Session, name: str = name) -> None:
            auth.create_user(s, username=name.lower(), password=f"{name}-board-2025!",
                             role="board", member_code=coop.member[name], passwords=PASSWORDS,
                             clock=clock)
            board.sync_seat(s, username=name.lower(), on=clock.today())

        db.write(seat)
    # cash: 22,000.00 saved + 100 shares x 10.00 = 23,000.00
    assert coop.books() == figures(saves, (50_000, 20_000, 10_000, 20_000), cash=2_300_000)
    assert coop.verified()

    # -- 1 August: July's interest, 4 % a year on balances held all 31 days ------------------
    # balance x 4/100 x 31/365, rounded half-even to the paisa:
    #   Asha   1,000,000 x 0.04 x 31 / 365 = 3,397.26 -> 3,397   (33.97)
    #   Bina     600,000 x 0.04 x 31 / 365 = 2,038.36 -> 2,038   (20.38)
    #   Chitra   200,000 x 0.04 x 31 / 365 =   679.45 ->   679    (6.79)
    #   Devi     400,000 x 0.04 x 31 / 365 = 1,358.90 -> 1,359   (13.59)
    #   total 7,473 (74.73), Dr 5000 Interest on savings: no cash moves
    coop.on(date(2025, 8, 1))
    rules = db.read(interest_run.interest_rules)
    assert (rules.rate_percent, rules.min_balance_minor) == (Decimal(4), 0)
    run = db.write(lambda s: interest_run.post_interest(
        s, start=date(2025, 7, 1), through=date(2025, 7, 31), rate_percent=rules.rate_percent,
        min_balance_minor=rules.min_balance_minor, actor="admin", clock=clock))
    assert (run.accounts, run.total_minor) == (4, 7_473)
    after_interest = (1_003_397, 602_038, 200_679, 401_359)
    held = (50_000, 20_000, 10_000, 20_000)
    assert coop.books() == figures(after_interest, held, cash=2_300_000)
    assert coop.verified()

    # -- 5 August: Chitra asks for 2,500.00 but has 2,006.79; she takes 500.00 ---------------
    coop.on(date(2025, 8, 5))
    chitra = coop.member["Chitra"]
    with pytest.raises(InsufficientFunds, match=r"available balance is 2006\.79"):
        db.write(lambda s: record_withdrawal(s, chitra, amount_minor=250_000,
                                             value_date=clock.today(), actor="clerk",
                                             clock=clock))
    db.write(lambda s: record_withdrawal(s, chitra, amount_minor=50_000,
                                         value_date=clock.today(), actor="clerk", clock=clock))
    after_withdrawal = (1_003_397, 602_038, 150_679, 401_359)  # 2,006.79 - 500.00 = 1,506.79
    assert coop.books() == figures(after_withdrawal, held, cash=2_250_000)
    assert coop.verified()

    # -- 1 September: a grant of 2,000.00 from a supporting foundation, in cash --------------
    coop.on(date(2025, 9, 1))
    db.write(lambda s: post(s, EntryDraft(
        value_date=clock.today(), narration="Grant from a foundation", kind="grant",
        actor="admin", postings=(debit(CASH, 200_000), credit("4200", 200_000))),
        clock=clock))
    assert coop.books() == figures(after_withdrawal, held, cash=2_450_000)
    assert coop.verified()

    # -- 1 October: Devi borrows 12,000.00 (92 days a member; the limit is 3 x her savings
    # and shares: 3 x (4,013.59 + 200.00) = 12,640.77). Asha and Bina approve; paid in cash.
    coop.on(date(2025, 10, 1))
    devi = coop.member["Devi"]
    loan, _ = db.write(lambda s: loans.apply(
        s, member_code=devi, product_code="M12", principal_minor=1_200_000, installments=None,
        purpose="business", guarantors=(), society=coop.society(s),
        actor="clerk", clock=clock))
    for voter, status in (("Asha", "pending"), ("Bina", "approved")):
        tally = db.write(lambda s, voter=voter: loans.vote(
            s, loan.id, voter_code=coop.member[voter], voter_username=voter.lower(),
            decision="approve", note=None, society=coop.society(s),
            clock=clock))
        assert (tally.status, tally.approvals, tally.required) == (
            status, 1 if voter == "Asha" else 2, 2)
    db.write(lambda s: loans.disburse(s, loan.id, to="cash", on=clock.today(), actor="clerk",
                                      clock=clock))
    # cash 24,500.00 - 12,000.00 = 12,500.00
    assert coop.books(loan.id) == figures(after_withdrawal, held, cash=1_250_000,
                                          loan=1_200_000)
    assert coop.verified()

    # -- 1 November: Devi pays her first installment, 1,066.19, in cash -------------------------
    # installment = 12,000.00 x 0.01 / (1 - 1.01^-12) = 1,066.1855 -> 1,066.19
    # interest first: 1 % of 12,000.00 = 120.00; the rest, 946.19, repays principal
    # so she owes 12,000.00 - 946.19 = 11,053.81
    coop.on(date(2025, 11, 1))
    paid = db.write(lambda s: loans.repay(s, loan.id, amount_minor=106_619, source="cash",
                                          on=clock.today(), actor="clerk", clock=clock))
    allocation = paid.allocation
    assert (allocation.penalty, allocation.fees, allocation.interest, allocation.principal) == (
        0, 0, 12_000, 94_619)
    assert coop.books(loan.id) == figures(after_withdrawal, held, cash=1_356_619,
                                          loan=1_105_381)
    assert coop.verified()

    # -- 2 April 2026: the year is closed -------------------------------------------------------
    # income: grant 2,000.00 + loan interest 120.00; expense: savings interest 74.73
    # net surplus = 2,120.00 - 74.73 = 2,045.27, carried to 3900
    coop.on(date(2026, 4, 2))
    closed = db.write(lambda s: dividends.close_year(s, 2025, society=coop.society(s),
                                                     actor="admin", clock=clock))
    assert closed.net_surplus_minor == 204_527
    assert coop.books(loan.id) == figures(after_withdrawal, held, cash=1_356_619,
                                          loan=1_105_381, surplus=204_527)
    assert coop.verified()

    # -- the board previews a 10 % dividend on the closing register, with a 10 % rebate -----------
    # statutory transfers, each rounded up: reserve 25 % = 511.3175 -> 511.32; education 1 % =
    # 20.4527 -> 20.46; unforeseen losses 10 % = 204.527 -> 204.53; distributable =
    # 2,045.27 - 511.32 - 20.46 - 204.53 = 1,308.96
    # dividend: 10 % of the 1,000.00 paid up at 31 March = 100.00, shared 50:20:10:20 as held
    # rebate: 10 % of the 120.00 of loan interest Devi paid = 12.00
    # undistributed: 1,308.96 - 100.00 - 12.00 = 1,196.96 (to 3200)
    request = dividends.Request(dividend_rate=Decimal(10), patronage_rebate_percent=Decimal(10),
                                basis=dividends.Basis.CLOSING_REGISTER)
    preview = db.read(lambda s: dividends.preview(s, 2025, request, society=coop.society(s)))
    assert [(a.account, a.amount) for a in preview.appropriations] == [
        ("3100", 51_132), ("3110", 2_046), ("3120", 20_453)]
    assert preview.distributable == 130_896
    assert (preview.pool, preview.allocated, preview.residue) == (10_000, 10_000, 0)
    assert (preview.rebate_pool, preview.rebate_allocated) == (1_200, 1_200)
    assert preview.undistributed == 119_696
    by_member = {share.member_code: (share.basis_value, share.dividend, share.rebate)
                 for share in preview.members}
    assert by_member == {
        coop.member["Asha"]: (50_000, 5_000, 0),
        coop.member["Bina"]: (20_000, 2_000, 0),
        coop.member["Chitra"]: (10_000, 1_000, 0),
        coop.member["Devi"]: (20_000, 2_000, 1_200),
    }
    assert coop.verified()  # a preview writes nothing

    # -- declared: 3900 is emptied into the funds, 2100 Dividends payable and 3200 -------------
    agm = dividends.Resolution("AGM-3/2026", date(2026, 4, 1))
    db.write(lambda s: dividends.declare_dividend(s, 2025, request, society=coop.society(s),
                                                  resolution=agm, actor="board", clock=clock))
    assert coop.balance("2100") == 11_200  # 100.00 dividend + 12.00 rebate
    assert coop.balance("3200") == 119_696
    assert [coop.balance(fund) for fund in ("3100", "3110", "3120")] == [51_132, 2_046, 20_453]
    assert coop.books(loan.id) == figures(after_withdrawal, held, cash=1_356_619,
                                          loan=1_105_381, surplus=0)
    assert coop.verified()

    # -- paid into savings: Asha +50.00, Bina +20.00, Chitra +10.00, Devi +20.00 +12.00 -------
    db.write(lambda s: dividends.pay_dividend(s, 2025, actor="admin", clock=clock))
    year_end = (1_008_397, 604_038, 151_679, 404_559)
    assert coop.books(loan.id) == figures(year_end, held, cash=1_356_619, loan=1_105_381)
    assert coop.balance("2100") == 0
    assert coop.balance("2000") == sum(year_end)  # the control account is its members' sum
    assert coop.verified()
