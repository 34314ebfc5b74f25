"""The board's meeting pack from the books, on SQLite and PostgreSQL (issue 18).

1. A month worked by hand: June 2025 of a small society, every figure of the pack checked
   against what a person adds up from the day book below.
2. PAR30 month by month over the twenty loans of tests/integration/test_loans_service.py
   (worked out by hand there): each month's figure is the portfolio report of its last day,
   43.17 % at the end of March 2025 and 57.88 % at the end of June; and the arrears list of
   30 June, loan by loan, with the days past due worked out there.
3. An applicant's earlier loans, installment by installment (the board's card).

Amounts are minor units (paise): 500_000 is 5,000.00.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from coop import loans as lending
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger.verify import verify
from coop.members import exit_member
from coop.members.vault import Vault
from coop.passbooks.board_figures import Flow, Position, VoteLine, gather, parse_month
from coop.savings import record_withdrawal, shares
from tests.integration.test_loans_service import (
    AS_OF,
    CASES,
    EARLIER,
    INSTALLMENT,
    PRINCIPAL,
    build_portfolio,
    open_desk,
)

D = date


def test_june_worked_by_hand(db: Database, clock: FixedClock) -> None:
    """The day book of June 2025 (and a day either side, which must not count):

        20 May  Asha joins, deposits 5,000.00 in cash (two board members join, no money)
         3 Jun  Bina joins, deposits 2,000.00
        10 Jun  Asha withdraws 500.00
        12 Jun  Bina buys 3 shares for cash (30.00)
        15 Jun  Asha applies for 12,000.00: approved by both votes, paid into her savings
        16 Jun  Bina applies for 1,000.00: both vote against, rejected
        18 Jun  Asha asks for two more installments: one approval of two, waiting
        20 Jun  Chitra joins, no money;  25 Jun  Chitra leaves
         1 Jul  Asha deposits 100.00
    """
    keys = Vault(b"k" * 32)
    desk = open_desk(db, clock, keys, start=D(2025, 5, 20), board_seats=3)
    asha = desk.register(savings=500_000)
    bina = desk.at(D(2025, 6, 3)).register(savings=200_000)
    desk.at(D(2025, 6, 10))
    db.write(lambda s: record_withdrawal(s, asha, amount_minor=50_000, value_date=D(2025, 6, 10),
                                         actor="clerk1", clock=clock))
    desk.at(D(2025, 6, 12))
    db.write(lambda s: shares.buy_shares(s, bina, count=3, source="cash", face_value_minor=1000,
                                         value_date=D(2025, 6, 12), actor="clerk1",
                                         clock=clock))
    loan = desk.at(D(2025, 6, 15)).lend(asha)
    refused = desk.at(D(2025, 6, 16)).apply(bina, 100_000)
    assert [desk.vote(refused, v, "reject").status for v in desk.voters] == ["pending",
                                                                              "rejected"]
    # 18 Jun: Asha asks for two more installments; one board member approves (two needed)
    asked = db.write(lambda s: lending.request_reschedule(
        s, loan, extra_installments=2, annual_rate=None, holiday_until=None,
        reason="a slow month", actor="clerk1", clock=clock)).id
    desk.at(D(2025, 6, 18))
    db.write(lambda s: lending.vote_reschedule(
        s, loan, asked, voter_code=desk.voters[0], voter_username="board-a",
        decision="approve", note=None, society=desk.society(s), actor="board-a", clock=clock))
    chitra = desk.at(D(2025, 6, 20)).register(savings=0)
    desk.at(D(2025, 6, 25))
    db.write(lambda s: exit_member(s, chitra, clock=clock))
    desk.at(D(2025, 7, 1)).register(savings=0)  # joins in July: not June's
    db.write(lambda s: record_deposit_later(s, asha, clock))

    today = D(2025, 7, 1)
    pack = db.read(lambda s: gather(s, parse_month("2025-06", today=today), today=today))
    assert (pack.month.first, pack.month.through, pack.month.to_date) == (
        D(2025, 6, 1), D(2025, 6, 30), False)
    # Members: Bina and Chitra joined, Chitra left; at the end Asha, Bina and the two
    # board members.
    assert (pack.membership.joined, pack.membership.exited,
            pack.membership.members_at_end) == (2, 1, 4)
    # Savings: 5,000.00 + 2,000.00 - 500.00 + 12,000.00 (the loan paid into her savings)
    assert pack.savings == Flow("2000", 500_000, 1, 200_000, 1, 50_000, 1_200_000, 1_850_000)
    assert pack.shares == Flow("3000", 0, 1, 3_000, 0, 0, 0, 3_000)
    # Cash: 5,000.00 at the end of May; + 2,000.00 - 500.00 + 30.00 in June
    assert pack.cash == [Position("1000", 500_000, 653_000), Position("1010", 0, 0)]
    assert pack.lending == lending.Activity(
        applied=(2, PRINCIPAL + 100_000), approved=(1, PRINCIPAL), rejected=(1, 100_000),
        disbursed=(1, PRINCIPAL), closed=(0, 0), written_off=(0, 0))
    assert pack.votes == [VoteLine("loan", loan, loan, 2, 0, "approved"),
                          VoteLine("reschedule", asked, loan, 1, 0, "pending"),
                          VoteLine("loan", refused, refused, 0, 2, "rejected")]
    # Asha's loan is first due on 15 July: nothing in arrears, PAR30 0 all year
    assert pack.arrears == [] and pack.portfolio.outstanding_minor == PRINCIPAL
    assert [m.month for m in pack.par] == [f"2024-{m:02d}" for m in range(7, 13)] + [
        f"2025-{m:02d}" for m in range(1, 7)]
    assert {m.par30 for m in pack.par} == {Decimal("0.00")}
    assert pack.chain_head[0] > 0
    assert db.read(verify).ok


def record_deposit_later(session: Session, code: str, clock: FixedClock) -> None:
    from coop.savings import record_deposit

    record_deposit(session, code, amount_minor=10_000, value_date=D(2025, 7, 1), actor="clerk1",
                   clock=clock)


def test_par30_month_by_month_is_each_month_ends_portfolio(db: Database,
                                                           clock: FixedClock) -> None:
    desk = open_desk(db, clock, Vault(b"k" * 32), start=D(2023, 1, 2))
    loans = build_portfolio(desk)
    pack = db.read(lambda s: gather(s, parse_month("2025-06", today=AS_OF), today=AS_OF))
    assert pack.par[0].month == "2024-07"
    for month in pack.par:
        report = desk.portfolio(month.as_of)
        assert (month.par30, month.outstanding_minor, month.at_risk_minor) == (
            report.par30, report.outstanding_minor, report.at_risk_minor), month
    by_month = {m.month: m for m in pack.par}
    assert by_month["2025-03"].as_of == EARLIER and by_month["2025-03"].par30 == Decimal("43.17")
    assert by_month["2025-06"].par30 == Decimal("57.88") == pack.portfolio.par30

    # The arrears of 30 June, the longest overdue first (days worked out in the loans test)
    late = {a.loan_id: (a.days_past_due, a.bucket) for a in pack.arrears}
    name = {loan_id: case for case, loan_id in loans.items()}
    assert [(name[a.loan_id], a.days_past_due) for a in pack.arrears] == [
        ("past maturity", 777), ("366 days", 366), ("365 days", 365), ("181 days", 181),
        ("180 days", 180), ("one and a half paid", 117), ("one minor unit short", 102),
        ("91 days", 91), ("90 days", 90), ("31 days", 31), ("30 days", 30), ("15 days", 15),
        ("1 day", 1)]
    assert late[loans["90 days"]] == (90, "31-90")
    for bucket in ("1-30", "31-90", "91-180", "181-365", ">365"):
        assert sum(a.outstanding_minor for a in pack.arrears if a.bucket == bucket) == \
            pack.portfolio.buckets[bucket]
    assert len(CASES) == 20


def test_an_applicants_earlier_loans_installment_by_installment(db: Database,
                                                                clock: FixedClock) -> None:
    """Asha borrowed twice before (the society allows three open loans): the first loan (12
    monthly installments from 10 February 2025) she paid on time twice, April's on 20 April
    (10 days late) and nothing since; the second waits for the board. Seen on 30 June: 2 on
    time, 1 late by 10 days, 2 overdue (10 May: 51 days, 10 June: 20 days), 7 to come."""
    desk = open_desk(db, clock, Vault(b"k" * 32), start=D(2025, 1, 10), loan_max_open_loans=3)
    asha = desk.register()
    first = desk.lend(asha)
    for day in (D(2025, 2, 10), D(2025, 3, 10), D(2025, 4, 20)):
        desk.at(day).repay(first, INSTALLMENT)
    second = desk.at(D(2025, 5, 2)).apply(asha, 50_000)
    desk.vote(second, desk.voters[0], "reject")
    current = desk.at(D(2025, 6, 30)).apply(asha, 60_000)
    found = db.read(lambda s: lending.repayment_records(s, asha, as_of=AS_OF, exclude=current))
    assert [(r.loan.id, r.loan.status) for r in found] == [(first, "active"),
                                                           (second, "pending")]
    seen = found[0].record
    assert seen is not None and found[1].record is None
    assert (seen.on_time, seen.late, seen.overdue, seen.upcoming) == (2, 1, 2, 7)
    assert [i.days_late for i in seen.installments[:6]] == [0, 0, 10, 51, 20, 0]
    assert [i.paid_on for i in seen.installments[:3]] == [D(2025, 2, 10), D(2025, 3, 10),
                                                          D(2025, 4, 20)]
    assert seen.worst_days_late == 51
