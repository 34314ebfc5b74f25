"""A worked example: the four operations that undo what a general reversal may not, in a
small co-op's year (1 April 2025 - 31 March 2026), with figures a person can check on paper.

Five women: Asha, Bina and Chitra sit on the board (two approvals pass a loan); Devi borrows,
and Esha (not on the board) guarantees her loan. Shares are 10.00; loans 12 % a year over 12
months. Amounts are minor units (paise): 1_000_000 is 10,000.00. After each step every
register is checked against the ledger (`verify` and `coop.registers`, as `coop verify` does)
and the figures are printed.

1. July's interest is posted at 4 %, but the society had raised the rate to 5 %: the run is
   undone as a whole and run again.
2. Devi's loan is written off, then she comes back: the board undoes the write-off, and
   Esha's guarantee is held again.
3. After the year is closed and the dividend paid, a 300.00 bill for March turns up: the
   payment is reversed, the declaration cancelled, the year reopened, the bill entered, and
   the year closed again with the surplus 300.00 lower.

Runs on SQLite, and on PostgreSQL when COOP_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from coop import dividends, loans, registers
from coop.dividends.payment_reversal import reverse_dividend_payment
from coop.dividends.reopening import reopen_year
from coop.ledger import EntryDraft, credit, debit, post
from coop.ledger.chart import CASH, SAVINGS_INTEREST_EXPENSE
from coop.ledger.verify import verify
from coop.loans.writeoffs import reverse_write_off
from coop.members import Identity, register_member, savings_account
from coop.money import format_minor
from coop.savings import balances, interest_run, record_deposit, shares
from coop.society import update_settings
from tests.examples.test_a_cooperative_year import FACE, PASSWORDS, Coop, coop

__all__ = ["coop"]  # the fixture, used by name below
PEOPLE = {"Asha": (1_000_000, 50), "Bina": (600_000, 20), "Chitra": (200_000, 10),
          "Devi": (400_000, 20), "Esha": (500_000, 10)}  # savings, shares


def clean(c: Coop) -> bool:
    """The ledger's own checks and every register against the ledger."""
    report = c.db.read(verify)
    return report.ok and report.problems == [] and c.db.read(registers.reconcile_registers) == []


def savings_of(c: Coop) -> dict[str, int]:
    return {name: c.balance(savings_account(code)) for name, code in c.member.items()}


def july_run(c: Coop) -> interest_run.InterestRun:
    rules = c.db.read(interest_run.interest_rules)
    return c.db.write(lambda s: interest_run.post_interest(
        s, start=date(2025, 7, 1), through=date(2025, 7, 31), rate_percent=rules.rate_percent,
        min_balance_minor=0, actor="admin", clock=c.clock))


def test_undoing_the_mistakes_of_a_year(coop: Coop, figure: Callable[[str], None]) -> None:
    c, db, clock = coop, coop.db, coop.clock
    for name, (saved, count) in PEOPLE.items():
        def join(s: Session, saved: int = saved, count: int = count) -> str:
            code = register_member(s, identity=Identity(), joined_on=None, vault=c.vault,
                                   clock=clock).code
            record_deposit(s, code, amount_minor=saved, value_date=clock.today(),
                           actor="clerk", clock=clock)
            shares.buy_shares(s, code, count=count, source="cash", face_value_minor=FACE,
                              value_date=clock.today(), actor="clerk", clock=clock)
            return code

        c.member[name] = db.write(join)
    for name in ("Asha", "Bina", "Chitra"):
        def seat(s: Session, name: str = name) -> None:
            from coop import auth, board

            auth.create_user(s, username=name.lower(), password=f"{name}-board-2025!",
                             role="board", member_code=c.member[name], passwords=PASSWORDS,
                             clock=clock)
            board.sync_seat(s, username=name.lower(), on=clock.today())

        db.write(seat)
    assert clean(c)

    # -- 1. 1 August: July's interest at 4 %, then undone and run at 5 % -------------------------
    # balance x rate x 31 / 365, half-even to the paisa. At 4 %: Asha 33.97, Bina 20.38,
    # Chitra 6.79, Devi 13.59, Esha 16.99 (5,000.00 x 0.04 x 31/365 = 16.986) = 91.72.
    c.on(date(2025, 8, 1))
    wrong = july_run(c)
    assert (wrong.accounts, wrong.total_minor) == (5, 9_172)
    db.write(lambda s: update_settings(s, {"savings_interest_rate": "5"}))
    undone = db.write(lambda s: interest_run.reverse_interest_run(s, wrong.id, actor="admin",
                                                                   clock=clock))
    assert (undone.status, undone.entries_reversed) == ("reversed", 5)
    assert savings_of(c) == {name: saved for name, (saved, _) in PEOPLE.items()}
    assert c.balance(SAVINGS_INTEREST_EXPENSE) == 0 and clean(c)
    # At 5 %: Asha 10,000 x .05 x 31/365 = 42.466 -> 42.47; Bina 25.479 -> 25.48;
    # Chitra 8.493 -> 8.49; Devi 16.986 -> 16.99; Esha 21.233 -> 21.23; total 114.66.
    right = july_run(c)
    assert right.id != wrong.id and (right.accounts, right.total_minor) == (5, 11_466)
    assert savings_of(c)["Asha"] == 1_004_247 and clean(c)
    figure(f"interest July 2025: run {wrong.id} at 4 % = 91.72 undone "
           f"({undone.entries_reversed} entries), run {right.id} at 5 % = 114.66")

    # -- 2. Devi borrows 12,000.00, Esha guarantees 3,000.00 --------------------------------------
    c.on(date(2025, 10, 1))
    devi, esha = c.member["Devi"], c.member["Esha"]
    loan, _ = db.write(lambda s: loans.apply(
        s, member_code=devi, product_code="M12", principal_minor=1_200_000, installments=None,
        purpose="business", guarantors=(loans.Guarantee(esha, 300_000),),
        society=c.society(s), actor="clerk", clock=clock))
    for voter in ("Asha", "Bina"):
        db.write(lambda s, voter=voter: loans.vote(
            s, loan.id, voter_code=c.member[voter], voter_username=voter.lower(),
            decision="approve", note=None, society=c.society(s), clock=clock))
    db.write(lambda s: loans.disburse(s, loan.id, to="cash", on=clock.today(), actor="clerk",
                                      clock=clock))
    # 1 November: the first installment, 1,066.19: 120.00 interest, 946.19 principal; she
    # owes 11,053.81 and Esha's hold shrinks to 3,000.00 x 11,053.81 / 12,000.00 = 2,763.4525,
    # rounded up: 2,763.46.
    c.on(date(2025, 11, 1))
    db.write(lambda s: loans.repay(s, loan.id, amount_minor=106_619, source="cash",
                                   on=clock.today(), actor="clerk", clock=clock))

    def esha_held() -> int:
        return db.read(lambda s: balances(s, esha)).held_minor

    assert esha_held() == 276_346 and clean(c)
    c.on(date(2025, 12, 15))
    db.write(lambda s: loans.write_off(s, loan.id, on=clock.today(), reason="left town",
                                       actor="asha", clock=clock))
    assert c.balance("5200") == 1_105_381 and esha_held() == 0 and clean(c)
    c.on(date(2026, 1, 10))  # she is back and will pay: the board undoes the write-off
    entry, back = db.write(lambda s: reverse_write_off(
        s, loan.id, reason="she came back and pays", actor="bina", clock=clock))
    assert entry is not None and entry.value_date == date(2025, 12, 15)
    assert (back.status, back.outstanding_minor) == ("active", 1_105_381)
    assert c.balance("5200") == 0 and esha_held() == 276_346 and clean(c)
    figure(f"loan {loan.id}: written off 11,053.81 on 2025-12-15, undone (entry {entry.id}); "
           f"outstanding {format_minor(back.outstanding_minor, 'INR')}, Esha's hold 2,763.46 "
           "again")

    # -- 3. the year: a grant, the close, the dividend; then a late bill -------------------------
    db.write(lambda s: post(s, EntryDraft(
        value_date=date(2026, 1, 10), narration="Grant", kind="grant", actor="admin",
        postings=(debit(CASH, 200_000), credit("4200", 200_000))), clock=clock))
    c.on(date(2026, 4, 2))
    # income 2,000.00 grant + 120.00 loan interest; expense 114.66 savings interest
    # (the 4 % run and its reversal net to nothing; so do the write-off and its undoing)
    # net surplus = 2,120.00 - 114.66 = 2,005.34
    first = db.write(lambda s: dividends.close_year(s, 2025, society=c.society(s),
                                                    actor="admin", clock=clock))
    assert first.net_surplus_minor == 200_534
    request = dividends.Request(dividend_rate=Decimal(10),
                                basis=dividends.Basis.CLOSING_REGISTER)
    agm = dividends.Resolution("AGM-1/2026", date(2026, 4, 1))
    db.write(lambda s: dividends.declare_dividend(s, 2025, request, society=c.society(s),
                                                  resolution=agm, actor="asha", clock=clock))
    before_pay = savings_of(c)
    db.write(lambda s: dividends.pay_dividend(s, 2025, actor="admin", clock=clock))
    # 10 % of 1,100.00 paid up: Asha 50.00, Bina 20.00, Chitra 10.00, Devi 20.00, Esha 10.00
    paid = {name: savings_of(c)[name] - before_pay[name] for name in PEOPLE}
    assert paid == {"Asha": 5_000, "Bina": 2_000, "Chitra": 1_000, "Devi": 2_000,
                    "Esha": 1_000} and clean(c)
    # a 300.00 bill of 20 March 2026 turns up: undo the payment, cancel, reopen, enter it
    reversal = db.write(lambda s: reverse_dividend_payment(s, 2025, actor="admin",
                                                           clock=clock))
    assert (reversal.status, reversal.entries_reversed) == ("declared", 5)
    assert savings_of(c) == before_pay and c.balance("2100") == 11_000 and clean(c)
    db.write(lambda s: dividends.cancel_dividend(s, 2025, actor="asha", clock=clock))
    reopened = db.write(lambda s: reopen_year(s, 2025, society=c.society(s), actor="admin",
                                              clock=clock))
    assert reopened.status == "open" and c.balance("3900") == 0 and clean(c)
    db.write(lambda s: post(s, EntryDraft(
        value_date=date(2026, 3, 20), narration="Rent for March", kind="expense",
        actor="admin", postings=(debit("5100", 30_000), credit(CASH, 30_000))), clock=clock))
    again = db.write(lambda s: dividends.close_year(s, 2025, society=c.society(s),
                                                    actor="admin", clock=clock))
    assert again.net_surplus_minor == 200_534 - 30_000 and clean(c)
    figure(f"fiscal year 2025: closed at 2,005.34, dividend of 110.00 paid and reversed "
           f"({reversal.entries_reversed} entries), reopened (entry "
           f"{reopened.reversal_entry_id}), a 300.00 bill entered, closed again at "
           f"{format_minor(again.net_surplus_minor, 'INR')}")
