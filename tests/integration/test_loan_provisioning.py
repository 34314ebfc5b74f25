"""Loan classification and the provisioning run through the services, on SQLite and
PostgreSQL, worked by hand (coop.loans.provisioning).

Every loan is the product of tests/integration/test_loans_service.py (12 monthly
installments at 12 %, the first due a month after the payout, day of month kept); none is
repaid unless said. On 31 March 2026:

    loan  paid out     principal   oldest unpaid due  days  class         provision
    A     1 Mar 2026   12,000.00   1 Apr 2026            0  standard      x 0.40 % =     48.00
    B     30 Nov 2025  12,000.00   30 Dec 2025          91  sub_standard  x 10 %   =  1,200.00
    C     30 Nov 2024  12,000.00   30 Dec 2024         456  doubtful_1    x 20 %   =  2,400.00
    D     15 Jan 2026   5,000.00   15 Feb 2026          44  loss (board)  x 100 %  =  5,000.00
                                                                          required    8,648.00

(30 Dec 2025 -> 31 Mar 2026: 1 + 31 + 28 + 31 = 91 days; 30 Dec 2024 -> 30 Dec 2025 is 365,
then 91 more: 456.) The first run posts Dr 5210 8,648.00, Cr 1190 8,648.00.

On 10 April 2026 B is paid off and the board reverses D's loss mark. On 15 April 2026:

    A  12,000.00  1 Apr 2026    14  standard    48.00
    C  12,000.00  30 Dec 2024  471  doubtful_1  2,400.00
    D   5,000.00  15 Feb 2026   59  standard    20.00 (5,000.00 x 0.40 %)
                                    required    2,468.00

The provision falls by 8,648.00 - 2,468.00 = 6,180.00: Dr 1190 6,180.00, Cr 5210 6,180.00;
1190 then holds 2,468.00 (credit), the last run's required provision.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from coop import dividends, registers
from coop.clock import FixedClock
from coop.corrections import CorrectionRefused, undo_entry
from coop.db import Database
from coop.errors import Conflict, InvalidInput
from coop.ledger import EntryDraft, credit, debit, post, queries
from coop.ledger.chart import PROVISION_FOR_BAD_DEBTS, PROVISIONING_EXPENSE
from coop.loans import declare_moratorium, losses, provisioning
from coop.loans.losses import LossMarkConflict
from coop.members.vault import Vault
from coop.society import require_society, update_settings
from tests.integration.test_loans_service import Desk, keys, open_desk  # noqa: F401

D = date
FIRST_RUN, SECOND_RUN = D(2026, 3, 31), D(2026, 4, 15)


def lend_on(desk: Desk, day: date, principal: int = 1_200_000) -> int:
    desk.at(day)
    return desk.lend(desk.register(), principal)


def run(desk: Desk, as_of: date) -> provisioning.ProvisioningRun:
    return desk.db.write(lambda s: provisioning.run_provisioning(
        s, as_of=as_of, actor="admin", clock=desk.clock))


def classes(db: Database, as_of: date) -> list[tuple[str, int, int, int]]:
    found = db.read(lambda s: provisioning.classification_on(s, as_of))
    return [(x.klass.value, x.loans, x.outstanding_minor, x.provision_minor)
            for x in found.lines]


def provision_held(db: Database) -> int:
    """1190's credit balance."""
    return -(db.read(lambda s: queries.balance(s, PROVISION_FOR_BAD_DEBTS)) or 0)


def entry_postings(db: Database, entry_id: int | None) -> set[tuple[str, str, int]]:
    assert entry_id is not None
    entry = db.read(lambda s: queries.load_entry(s, entry_id))
    assert entry is not None and entry.kind == "loan_provisioning"
    return {(p.account, p.side.value, p.amount_minor) for p in entry.postings}


@pytest.fixture
def book(db: Database, clock: FixedClock, keys: Vault) -> tuple[Desk, dict[str, int]]:  # noqa: F811
    desk = open_desk(db, clock, keys, start=D(2024, 11, 30))
    loans = {"C": lend_on(desk, D(2024, 11, 30)), "B": lend_on(desk, D(2025, 11, 30)),
             "D": lend_on(desk, D(2026, 1, 15), 500_000), "A": lend_on(desk, D(2026, 3, 1))}
    desk.at(D(2026, 3, 20))
    db.write(lambda s: losses.mark_loss(s, loans["D"], reason="Left the town; no contact",
                                        on=None, actor="board1", clock=clock))
    return desk, loans


def test_the_year_end_run_and_a_second_run_where_the_provision_falls(
        book: tuple[Desk, dict[str, int]]) -> None:
    desk, loans = book
    db = desk.db
    assert classes(db, FIRST_RUN) == [
        ("standard", 1, 1_200_000, 4_800), ("sub_standard", 1, 1_200_000, 120_000),
        ("doubtful_1", 1, 1_200_000, 240_000), ("doubtful_2", 0, 0, 0),
        ("doubtful_3", 0, 0, 0), ("loss", 1, 500_000, 500_000)]

    desk.at(D(2026, 4, 2))
    first = run(desk, FIRST_RUN)
    assert (first.required_minor, first.previous_minor, first.change_minor) == (
        864_800, 0, 864_800)
    assert entry_postings(db, first.entry_id) == {
        (PROVISIONING_EXPENSE, "debit", 864_800), (PROVISION_FOR_BAD_DEBTS, "credit", 864_800)}
    assert provision_held(db) == 864_800
    assert run(desk, FIRST_RUN) == provisioning.ProvisioningRun(  # the same day: the same run
        first.id, FIRST_RUN, 864_800, 0, 864_800, first.entry_id, "admin", replayed=True)

    # the year close takes 5210 into the surplus with the other expenses
    db.write(lambda s: dividends.close_year(s, 2024, society=require_society(s), actor="admin",
                                            clock=desk.clock))
    closed = db.write(lambda s: dividends.close_year(
        s, 2025, society=require_society(s), actor="admin", clock=desk.clock))
    assert closed.closing_entry_id is not None
    closing = db.read(lambda s: queries.load_entry(s, closed.closing_entry_id or 0))
    assert closing is not None
    assert (PROVISIONING_EXPENSE, "credit", 864_800) in {
        (p.account, p.side.value, p.amount_minor) for p in closing.postings}
    assert db.read(lambda s: queries.balance(s, PROVISIONING_EXPENSE)) == 0
    assert provision_held(db) == 864_800  # the provision itself stays

    desk.at(D(2026, 4, 10))
    desk.repay(loans["B"], desk.payoff(loans["B"]))
    db.write(lambda s: losses.reverse_loss_mark(s, loans["D"], reason="Back and repaying",
                                                on=None, actor="board1", clock=desk.clock))
    assert classes(db, SECOND_RUN) == [
        ("standard", 2, 1_700_000, 6_800), ("sub_standard", 0, 0, 0),
        ("doubtful_1", 1, 1_200_000, 240_000), ("doubtful_2", 0, 0, 0),
        ("doubtful_3", 0, 0, 0), ("loss", 0, 0, 0)]
    desk.at(D(2026, 4, 16))
    second = run(desk, SECOND_RUN)
    assert (second.required_minor, second.previous_minor, second.change_minor) == (
        246_800, 864_800, -618_000)
    assert entry_postings(db, second.entry_id) == {
        (PROVISION_FOR_BAD_DEBTS, "debit", 618_000), (PROVISIONING_EXPENSE, "credit", 618_000)}
    assert provision_held(db) == 246_800 == second.required_minor
    assert db.read(registers.reconcile_registers) == []

    # the past is not rewritten: an earlier day is 409, a day of the closed year 422
    with pytest.raises(Conflict):
        run(desk, D(2026, 4, 14))
    with pytest.raises(InvalidInput, match="closed fiscal year"):
        run(desk, D(2026, 3, 30))
    with pytest.raises(InvalidInput, match="after the business date"):
        run(desk, D(2026, 4, 17))
    assert [r.as_of for r in db.read(provisioning.provisioning_runs)] == [SECOND_RUN, FIRST_RUN]


def test_a_run_with_nothing_changed_posts_nothing(book: tuple[Desk, dict[str, int]]) -> None:
    desk, _ = book
    desk.at(D(2026, 4, 2))
    first = run(desk, D(2026, 3, 29))
    again = run(desk, D(2026, 3, 29))
    assert again.replayed and again.id == first.id
    # the next day no loan has changed class (C is 455 days overdue, B 90): no entry, but a
    # run all the same
    nothing = run(desk, D(2026, 3, 30))
    assert (nothing.previous_minor, nothing.change_minor, nothing.entry_id) == (
        first.required_minor, 0, None)
    assert provision_held(desk.db) == first.required_minor
    assert desk.db.read(provisioning.reconcile) == []


def test_the_provision_entry_refuses_the_general_reversal(
        book: tuple[Desk, dict[str, int]]) -> None:
    desk, _ = book
    desk.at(D(2026, 4, 2))
    first = run(desk, FIRST_RUN)
    with pytest.raises(CorrectionRefused, match="provisioning run"):
        desk.db.write(lambda s: undo_entry(s, first.entry_id or 0, reason="wrong",
                                           actor="admin", clock=desk.clock))
    assert provision_held(desk.db) == 864_800


def test_verify_finds_a_provision_moved_outside_the_runs(
        book: tuple[Desk, dict[str, int]]) -> None:
    """Negative control: a manual entry to 1190, and a run's figure altered in its table."""
    desk, _ = book
    desk.at(D(2026, 4, 2))
    first = run(desk, FIRST_RUN)
    assert desk.db.read(provisioning.reconcile) == []
    desk.db.write(lambda s: post(s, EntryDraft(
        value_date=D(2026, 4, 2), narration="by hand", kind="manual", actor="admin",
        postings=(debit(PROVISIONING_EXPENSE, 100), credit(PROVISION_FOR_BAD_DEBTS, 100))),
        clock=desk.clock))
    problems = desk.db.read(provisioning.reconcile)
    assert problems == [(PROVISION_FOR_BAD_DEBTS, "the provision account holds 8649.00 "
                                                  "(credit), the provisioning runs add up to "
                                                  "8648.00")]
    assert problems[0] in desk.db.read(registers.reconcile_registers)

    with desk.db.writer.begin() as conn:  # tamper: the run says less than its entry moved
        conn.execute(text("UPDATE loan_provisioning_run SET required_minor = 864700, "
                          "change_minor = 864700 WHERE id = :id"), {"id": first.id})
    assert any("says 8647.00, its entry" in message
               for _, message in desk.db.read(provisioning.reconcile))


def test_loss_marks_refuse_what_makes_no_sense(book: tuple[Desk, dict[str, int]]) -> None:
    desk, loans = book
    db, clock = desk.db, desk.clock
    with pytest.raises(LossMarkConflict, match="already"):
        db.write(lambda s: losses.mark_loss(s, loans["D"], reason="again", on=None,
                                            actor="board1", clock=clock))
    with pytest.raises(LossMarkConflict, match="not marked"):
        db.write(lambda s: losses.reverse_loss_mark(s, loans["A"], reason="none", on=None,
                                                    actor="board1", clock=clock))
    with pytest.raises(InvalidInput, match="paid out"):
        db.write(lambda s: losses.mark_loss(s, loans["A"], reason="early", on=D(2026, 2, 1),
                                            actor="board1", clock=clock))
    with pytest.raises(InvalidInput, match="after the business date"):
        db.write(lambda s: losses.mark_loss(s, loans["A"], reason="later", on=D(2026, 3, 21),
                                            actor="board1", clock=clock))
    with pytest.raises(InvalidInput, match="cannot end before"):
        db.write(lambda s: losses.reverse_loss_mark(s, loans["D"], reason="x", on=D(2026, 3, 1),
                                                    actor="board1", clock=clock))
    # the mark stands from its day only: on the day before, D is standard
    assert classes(db, D(2026, 3, 19))[5] == ("loss", 0, 0, 0)
    assert classes(db, D(2026, 3, 20))[5] == ("loss", 1, 500_000, 500_000)
    assert [m.status for m in db.read(lambda s: losses.marks_of(s, loans["D"]))] == ["marked"]


def test_a_written_off_loan_still_recovering_is_loss_with_nothing_to_provide(
        book: tuple[Desk, dict[str, int]]) -> None:
    """C is written off on 25 March 2026 (its 12,000.00 to 5200 Loan losses): on the 31st it
    is counted in loss, with no principal left in 1100 and so no provision."""
    from coop.loans import write_off
    desk, loans = book
    desk.at(D(2026, 3, 25))
    desk.db.write(lambda s: write_off(s, loans["C"], on=D(2026, 3, 25), reason="gone",
                                      actor="board1", clock=desk.clock))
    lines = classes(desk.db, FIRST_RUN)
    assert lines[2] == ("doubtful_1", 0, 0, 0)
    assert lines[5] == ("loss", 2, 500_000, 500_000)  # D (marked) and C (written off)
    # the day before the write-off C was 449 days overdue (30 Dec 2024 -> 24 Mar 2026)
    assert classes(desk.db, D(2026, 3, 24))[1] == ("sub_standard", 1, 1_200_000, 120_000)


def test_a_moratorium_freezes_the_days_of_a_real_loan(
        db: Database, clock: FixedClock, keys: Vault) -> None:  # noqa: F811
    """Paid out 2 February 2025, first due 2 March, never paid. On 10 June 2025 that is 100
    days (29 + 30 + 31 + 10): sub_standard. With a moratorium through April (30 days frozen)
    it is 70 days: standard, and it reaches 91 only on 1 July."""
    desk = open_desk(db, clock, keys, start=D(2025, 2, 2))
    desk.lend(desk.register())
    assert classes(db, D(2025, 6, 10))[1][:2] == ("sub_standard", 1)
    desk.at(D(2025, 4, 1))
    db.write(lambda s: declare_moratorium(
        s, from_on=D(2025, 4, 1), to_on=D(2025, 4, 30), accrue_interest=True,
        resolution="Floods: board resolution 2025/7", actor="board1", clock=clock))
    desk.at(D(2025, 7, 5))
    [loan] = db.read(lambda s: provisioning.classification_on(s, D(2025, 6, 10))).loans
    assert (loan.days_overdue, loan.klass.value) == (70, "standard")
    assert [x.loans for x in db.read(lambda s: provisioning.classification_on(
        s, D(2025, 6, 30))).lines][:2] == [1, 0]  # 90 days
    assert [x.loans for x in db.read(lambda s: provisioning.classification_on(
        s, D(2025, 7, 1))).lines][:2] == [0, 1]  # 91 days


def test_the_percents_are_society_settings(book: tuple[Desk, dict[str, int]]) -> None:
    desk, _ = book
    desk.db.write(lambda s: update_settings(s, {"provision_sub_standard_percent": "12.5"}))
    assert classes(desk.db, FIRST_RUN)[1] == ("sub_standard", 1, 1_200_000, 150_000)
    for bad in ("100.5", "0.125", "-1", "ten"):
        with pytest.raises(InvalidInput, match="provision_loss_percent"):
            desk.db.write(lambda s, bad=bad: update_settings(s, {"provision_loss_percent": bad}))


def test_the_loans_schedule_adds_up_to_the_classification(
        book: tuple[Desk, dict[str, int]]) -> None:
    desk, loans = book
    lines = desk.db.read(lambda s: provisioning.loans_schedule(s, FIRST_RUN))
    by_loan = {line.loan_id: line for line in lines}
    assert [(by_loan[loans[k]].days_overdue, by_loan[loans[k]].klass.value,
             by_loan[loans[k]].provision_minor) for k in "ABCD"] == [
        (0, "standard", 4_800), (91, "sub_standard", 120_000), (456, "doubtful_1", 240_000),
        (44, "loss", 500_000)]
    assert by_loan[loans["C"]].disbursed_on == D(2024, 11, 30)
    assert {line.product for line in lines} == {"M12"}
    assert [line.member_code for line in lines] == sorted(line.member_code for line in lines)
    assert sum(line.provision_minor for line in lines) == 864_800
