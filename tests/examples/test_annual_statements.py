"""A worked example of the annual statements (issue 19): one fiscal year (1 April 2025 -
31 March 2026) of a small co-op, and a quarter of the next, with its balance sheet, income
and expenditure and receipts and payments, figures a person can check on paper.

Three women found the society. Asha sits on the board (one approval passes a loan); Bina and
Chitra borrow. Shares are 10.00 each; loans 12 % a year, declining balance, 12 monthly
installments. Amounts are minor units (paise): 1_000_000 is 10,000.00.

Runs on SQLite, and on PostgreSQL when COOP_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from coop import auth, board, dividends, loans, statements
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, credit, debit, post
from coop.ledger.chart import BANK, CASH
from coop.loans import losses, provisioning
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings import record_deposit, shares
from coop.society import require_society, update_settings
from coop.statements import Section

FACE = 1_000
VAULT = Vault(b"s" * 32)
PASSWORDS = auth.Passwords(memory_kib=1024, time_cost=1, parallelism=1)


def lines(section: Section) -> dict[str, tuple[int, int]]:
    return {line.account: (line.amount_minor, line.previous_minor) for line in section.lines}


def entry(db: Database, clock: FixedClock, kind: str, narration: str, debit_code: str,
          credit_code: str, amount: int) -> None:
    db.write(lambda s: post(s, EntryDraft(
        value_date=clock.today(), narration=narration, kind=kind, actor="admin",
        postings=(debit(debit_code, amount), credit(credit_code, amount))), clock=clock))


def build_the_year(db: Database, clock: FixedClock) -> dict[str, str]:
    db.write(lambda s: update_settings(s, {"loan_approvals_required": 1, "board_seats": 3}))
    db.write(lambda s: loans.create_product(s, loans.Product(
        "M12", "Monthly loan, 12 months", loans.ProductTerms(Decimal(12), 12), None,
        Decimal(0), Decimal(0), loans.engine.DEFAULT_ORDER), clock=clock))
    member: dict[str, str] = {}
    # -- 1 April 2025: three join; they save 10,000.00, 5,000.00, 3,000.00 in cash and buy
    # 10, 10 and 5 shares (100.00, 100.00, 50.00): cash 18,250.00
    clock.business_date = date(2025, 4, 1)
    for name, saved, count in (("Asha", 1_000_000, 10), ("Bina", 500_000, 10),
                               ("Chitra", 300_000, 5)):
        def join(s: Session, name: str = name, saved: int = saved, count: int = count) -> str:
            code = register_member(s, identity=Identity(known_as=name), joined_on=None,
                                   vault=VAULT, clock=clock).code
            record_deposit(s, code, amount_minor=saved, value_date=clock.today(),
                           actor="clerk", clock=clock)
            shares.buy_shares(s, code, count=count, source="cash", face_value_minor=FACE,
                              value_date=clock.today(), actor="clerk", clock=clock)
            return code

        member[name] = db.write(join)

    def seat(s: Session) -> None:
        auth.create_user(s, username="asha", password="Asha-board-2025!", role="board",
                         member_code=member["Asha"], passwords=PASSWORDS, clock=clock)
        board.sync_seat(s, username="asha", on=clock.today())

    db.write(seat)
    # -- 2 April: 5,000.00 of the cash to the bank (neither a receipt nor a payment)
    clock.business_date = date(2025, 4, 2)
    entry(db, clock, "manual", "Cash to the bank", BANK, CASH, 500_000)
    # -- 1 July: Bina borrows 6,000.00 and Chitra 3,000.00, paid in cash
    clock.business_date = date(2025, 7, 1)
    loan_ids = {}
    for name, principal in (("Bina", 600_000), ("Chitra", 300_000)):
        def lend(s: Session, name: str = name, principal: int = principal) -> int:
            loan, _ = loans.apply(s, member_code=member[name], product_code="M12",
                                  principal_minor=principal, installments=None, purpose=None,
                                  guarantors=(), society=require_society(s), actor="clerk",
                                  clock=clock)
            loans.vote(s, loan.id, voter_code=member["Asha"], voter_username="asha",
                       decision="approve", note=None, society=require_society(s), clock=clock)
            return loan.id

        loan_ids[name] = db.write(lend)
        db.write(lambda s, name=name: loans.disburse(s, loan_ids[name], to="cash",
                                                     on=clock.today(), actor="clerk",
                                                     clock=clock))
    # -- 1 August: the first installments, in cash
    # Bina: 6,000.00 x 0.01 / (1 - 1.01^-12) = 533.09: interest 60.00, principal 473.09
    # Chitra: 3,000.00 x 0.01 / (1 - 1.01^-12) = 266.55: interest 30.00, principal 236.55
    clock.business_date = date(2025, 8, 1)
    for name, amount in (("Bina", 53_309), ("Chitra", 26_655)):
        db.write(lambda s, name=name, amount=amount: loans.repay(
            s, loan_ids[name], amount_minor=amount, source="cash", on=clock.today(),
            actor="clerk", clock=clock))
    # -- 15 September: rent and stationery, 1,200.00 in cash
    clock.business_date = date(2025, 9, 15)
    entry(db, clock, "manual", "Rent and stationery", "5100", CASH, 120_000)
    # -- 1 October: a grant of 5,000.00 into the bank
    clock.business_date = date(2025, 10, 1)
    entry(db, clock, "grant", "Grant from a foundation", BANK, "4200", 500_000)
    return member


def test_the_statements_of_a_small_cooperatives_year(db: Database, clock: FixedClock) -> None:
    member = build_the_year(db, clock)
    clock.business_date = date(2026, 4, 1)
    society = db.read(require_society)
    year = (date(2025, 4, 1), date(2026, 3, 31))

    # -- the balance sheet at 31 March 2026, before the year is closed ------------------------
    sheet = db.read(lambda s: statements.balance_sheet(s, society, as_of=year[1]))
    assert sheet.previous_as_of == date(2025, 3, 31)  # the fiscal year before: nothing yet
    # cash: 18,250.00 - 5,000.00 to bank - 9,000.00 lent + 533.09 + 266.55 - 1,200.00
    #       = 3,849.64; bank: 5,000.00 + 5,000.00 grant = 10,000.00
    # loans: 6,000.00 - 473.09 + 3,000.00 - 236.55 = 8,290.36
    assert lines(sheet.assets) == {CASH: (384_964, 0), BANK: (1_000_000, 0),
                                   "1100": (829_036, 0)}
    assert sheet.total_assets_minor == 2_214_000  # 22,140.00
    assert lines(sheet.liabilities) == {"2000": (1_800_000, 0)}  # 18,000.00 saved
    # share capital 250.00; the year's surplus, not closed yet: income 90.00 interest +
    # 5,000.00 grant, less 1,200.00 costs = 3,890.00
    assert lines(sheet.equity) == {"3000": (25_000, 0), "current-year-surplus": (389_000, 0)}
    assert sheet.total_liabilities_and_equity_minor == 2_214_000  # 18,000 + 250 + 3,890

    # -- income and expenditure of the year -----------------------------------------------------
    account = db.read(lambda s: statements.income_expenditure(s, first=year[0], last=year[1]))
    assert (account.previous_first, account.previous_last) == (date(2024, 4, 1),
                                                               date(2025, 3, 31))
    assert lines(account.income) == {"4000": (9_000, 0), "4200": (500_000, 0)}
    assert lines(account.expenditure) == {"5100": (120_000, 0)}
    assert account.net_surplus_minor == 389_000

    # -- receipts and payments of the year ------------------------------------------------------
    cash = db.read(lambda s: statements.receipts_payments(s, first=year[0], last=year[1]))
    assert (cash.opening_cash_minor, cash.closing_cash_minor) == (0, 1_384_964)
    assert lines(cash.receipts) == {
        "1100": (70_964, 0),  # principal repaid 473.09 + 236.55
        "2000": (1_800_000, 0),  # deposits
        "3000": (25_000, 0),  # shares bought
        "4000": (9_000, 0),  # interest 60.00 + 30.00
        "4200": (500_000, 0),  # the grant
    }
    assert lines(cash.payments) == {"1100": (900_000, 0), "5100": (120_000, 0)}
    # 0 + 24,049.64 - 10,200.00 = 13,849.64 = cash 3,849.64 + bank 10,000.00
    assert (cash.receipts.total_minor, cash.payments.total_minor) == (2_404_964, 1_020_000)

    # -- the year is closed: 3,890.00 to 3900; the statements of the year stay the same --------
    clock.business_date = date(2026, 4, 2)
    closed = db.write(lambda s: dividends.close_year(s, 2025, society=society, actor="admin",
                                                     clock=clock))
    assert closed.net_surplus_minor == 389_000
    account = db.read(lambda s: statements.income_expenditure(s, first=year[0], last=year[1]))
    assert account.net_surplus_minor == closed.net_surplus_minor
    sheet = db.read(lambda s: statements.balance_sheet(s, society, as_of=year[1]))
    assert lines(sheet.equity) == {"3000": (25_000, 0), "3900": (389_000, 0)}
    assert sheet.total_assets_minor == sheet.total_liabilities_and_equity_minor == 2_214_000

    # -- 1 May 2026: Asha saves 1,000.00 more; the quarter's sheet beside the year's close ------
    clock.business_date = date(2026, 5, 1)
    db.write(lambda s: record_deposit(s, member["Asha"],
                                      amount_minor=100_000, value_date=clock.today(),
                                      actor="clerk", clock=clock))
    clock.business_date = date(2026, 6, 30)
    sheet = db.read(lambda s: statements.balance_sheet(s, society, as_of=date(2026, 6, 30)))
    assert sheet.previous_as_of == date(2026, 3, 31)
    assert lines(sheet.assets) == {CASH: (484_964, 384_964), BANK: (1_000_000, 1_000_000),
                                   "1100": (829_036, 829_036)}
    assert lines(sheet.liabilities) == {"2000": (1_900_000, 1_800_000)}
    assert lines(sheet.equity) == {"3000": (25_000, 25_000), "3900": (389_000, 389_000)}
    assert (sheet.total_assets_minor, sheet.previous_total_assets_minor) == (2_314_000,
                                                                             2_214_000)
    quarter = db.read(lambda s: statements.receipts_payments(
        s, first=date(2026, 4, 1), last=date(2026, 6, 30)))
    assert (quarter.opening_cash_minor, quarter.closing_cash_minor) == (1_384_964, 1_484_964)
    # a year before, April to June 2025: 18,000.00 saved, 250.00 of shares, nothing paid
    assert lines(quarter.receipts) == {"2000": (100_000, 1_800_000), "3000": (0, 25_000)}
    assert (quarter.previous_first, quarter.previous_last) == (date(2025, 4, 1),
                                                               date(2025, 6, 30))
    assert (quarter.previous_opening_cash_minor, quarter.previous_closing_cash_minor) == (
        0, 1_825_000)

    # -- the schedules behind the sheet: by member number, summing to the sheet's lines ------
    savings = db.read(lambda s: statements.schedule(s, "savings", as_of=date(2026, 6, 30),
                                                    face_value_minor=FACE))
    assert sorted(line.amount_minor for line in savings.lines) == [300_000, 500_000,
                                                                   1_100_000]
    assert savings.total_minor == 1_900_000
    held = db.read(lambda s: statements.schedule(s, "share-capital", as_of=date(2026, 6, 30),
                                                 face_value_minor=FACE))
    assert sorted((line.shares, line.amount_minor) for line in held.lines) == [
        (5, 5_000), (10, 10_000), (10, 10_000)]
    assert all(line.name is None for line in held.lines)



def test_a_loan_going_bad_its_provision_and_the_statements(db: Database,
                                                           clock: FixedClock) -> None:
    """The same year, where neither borrower pays after her first installment: on 31 March
    2026 Bina's loan is 211 days overdue (her second installment fell due on 1 September
    2025), sub-standard; the board marks Chitra's a loss on 20 March. The provisioning run
    on 31 March, before the close, books what they require, and the statements show it:
    loans net of the provision, the provision an expense of the year."""
    build_the_year(db, clock)
    bina, chitra = 1, 2  # the loans, in the order they were applied for
    clock.business_date = date(2026, 3, 20)
    db.write(lambda s: losses.mark_loss(s, chitra, reason="She has left the town", on=None,
                                        actor="asha", clock=clock))
    clock.business_date = date(2026, 4, 1)
    society = db.read(require_society)
    year = (date(2025, 4, 1), date(2026, 3, 31))

    found = db.read(lambda s: provisioning.classification_on(s, year[1]))
    by_class = {line.klass: (line.loans, line.outstanding_minor, line.provision_minor)
                for line in found.lines if line.loans}
    # Bina: 6,000.00 - 473.09 = 5,526.91 outstanding, 211 days overdue (1 September 2025 to
    #       31 March 2026): sub-standard, 10 %: 552.691 -> 552.69 (half-even, per loan)
    # Chitra: 3,000.00 - 236.55 = 2,763.45 outstanding, marked a loss: 100 % = 2,763.45
    assert by_class == {"sub_standard": (1, 552_691, 55_269), "loss": (1, 276_345, 276_345)}
    assert {loan.loan_id: loan.days_overdue for loan in found.loans}[bina] == 211
    run = db.write(lambda s: provisioning.run_provisioning(s, as_of=year[1], actor="admin",
                                                           clock=clock))
    assert (run.previous_minor, run.required_minor, run.change_minor) == (0, 331_614, 331_614)

    # income 90.00 + 5,000.00 = 5,090.00; expenditure 1,200.00 + 3,316.14 = 4,516.14
    account = db.read(lambda s: statements.income_expenditure(s, first=year[0], last=year[1]))
    assert lines(account.expenditure) == {"5100": (120_000, 0), "5210": (331_614, 0)}
    assert account.net_surplus_minor == 57_386  # 573.86
    # loans 8,290.36 less the provision 3,316.14 = 4,974.22; assets 3,849.64 + 10,000.00 +
    # 4,974.22 = 18,823.86 = savings 18,000.00 + shares 250.00 + the surplus 573.86
    sheet = db.read(lambda s: statements.balance_sheet(s, society, as_of=year[1]))
    assert lines(sheet.assets) == {CASH: (384_964, 0), BANK: (1_000_000, 0),
                                   "1100": (497_422, 0)}  # net of 1190
    assert sheet.total_assets_minor == sheet.total_liabilities_and_equity_minor == 1_882_386
    assert lines(sheet.equity)["current-year-surplus"] == (57_386, 0)
    # receipts and payments do not move: a provision is no cash
    cash = db.read(lambda s: statements.receipts_payments(s, first=year[0], last=year[1]))
    assert cash.closing_cash_minor == 1_384_964

    clock.business_date = date(2026, 4, 2)
    closed = db.write(lambda s: dividends.close_year(s, 2025, society=society, actor="admin",
                                                     clock=clock))
    assert closed.net_surplus_minor == 57_386
