"""The year-end services worked through without HTTP, as the board and the clerk live it:
close fiscal year 2024, preview, declare, cancel, declare again at another rate, pay; and a
declaration cancelled after the next year's close has locked the day it was declared.

The figures are the ones worked by hand in tests/api/test_dividends_api.py, in paise:

* income 1,20,000.00, expenses 20,000.00: net surplus 1,00,000.00 (10_000_000);
* reserve 25 % = 25,000.00, education 1 % = 1,000.00, unforeseen losses 10 % = 10,000.00
  (each rounded up, exact here): distributable 64,000.00;
* share-days: Asha and Bina 1,00,000.00 all year (3_650_000_000 each), Chitra 1,000.00 from
  20 August, 224 days (22_400_000);
* 15 %: pool 7_322_400_000 x 15 % / 365 = 3_009_205.47 -> 3_009_205 (rounded down); quotas
  1_499_999.76, 1_499_999.76, 9_205.48 -> 15,000.00, 15,000.00, 92.05 by largest remainder;
* 10 %: pool 2_006_136.98 -> 2_006_136; quotas 999_999.51, 999_999.51, 6_136.98 -> floors
  999_999, 999_999, 6_136 with 2 paise left: the first to Chitra (.98), the second to the
  lower member number of the two equal holders (.51 each, a tie).

`verify` (the chain and every balance recomputed) is clean after every step.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coop import dividends
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, credit, debit, post, queries
from coop.ledger.model import PeriodClosed
from coop.ledger.verify import verify
from coop.members import Identity, register_member, savings_account
from coop.members.vault import Vault
from coop.savings.shares import buy_shares
from coop.society import Society, require_society

FY = 2024
TODAY = date(2025, 6, 30)
VAULT = Vault(b"d" * 32)


def _clean(db: Database) -> int:
    report = db.read(lambda s: verify(s))
    assert report.ok, report.problems
    return report.entries_checked


def _balances(db: Database, *accounts: str) -> tuple[int, ...]:
    return db.read(lambda s: tuple(queries.balance(s, a) or 0 for a in accounts))


@pytest.fixture
def year(db: Database, clock: FixedClock) -> dict[str, str]:
    """Asha, Bina and Chitra with their shares; a year's grant and rent."""
    def work(session: Session) -> dict[str, str]:
        codes = {}
        for name, count, bought in (("asha", 10_000, date(2024, 4, 1)),
                                    ("bina", 10_000, date(2024, 4, 1)),
                                    ("chitra", 100, date(2024, 8, 20))):
            code = register_member(session, identity=Identity(), joined_on=date(2024, 4, 1),
                                   vault=VAULT, clock=clock).code
            buy_shares(session, code, count=count, source="cash", face_value_minor=1000,
                       value_date=bought, actor="clerk", clock=clock)
            codes[name] = code
        post(session, EntryDraft(value_date=date(2024, 12, 1), narration="Grant", kind="grant",
                                 actor="admin", postings=(debit("1000", 12_000_000),
                                                          credit("4200", 12_000_000))),
             clock=clock)
        post(session, EntryDraft(value_date=date(2025, 1, 15), narration="Rent", kind="rent",
                                 actor="admin", postings=(debit("5100", 2_000_000),
                                                          credit("1000", 2_000_000))),
             clock=clock)
        return codes

    return db.write(work)


def _society(session: Session) -> Society:
    return require_society(session)


def _declare(db: Database, clock: FixedClock, rate: str) -> dividends.Declaration:
    return db.write(lambda s: dividends.declare_dividend(
        s, FY, dividends.Request(Decimal(rate)), society=_society(s),
        resolution=dividends.Resolution("AGM-2025/4", date(2025, 6, 28)), actor="board1",
        clock=clock))


def test_close_preview_declare_cancel_declare_again_and_pay(
        db: Database, clock: FixedClock, year: dict[str, str]) -> None:
    asha, bina, chitra = year["asha"], year["bina"], year["chitra"]
    count = _clean(db)

    closed = db.write(lambda s: dividends.close_year(s, FY, society=_society(s),
                                                     actor="admin", clock=clock))
    assert (closed.start, closed.end, closed.net_surplus_minor) == (
        date(2024, 4, 1), date(2025, 3, 31), 10_000_000)
    assert _balances(db, "3900", "4200", "5100") == (10_000_000, 0, 0)
    assert _clean(db) == count + 1

    # The preview writes nothing and always gives the same figures.
    shown = db.read(lambda s: dividends.preview(s, FY, dividends.Request(Decimal("15")),
                                                society=_society(s)))
    assert shown == db.read(lambda s: dividends.preview(
        s, FY, dividends.Request(Decimal("15")), society=_society(s)))
    assert [a.amount for a in shown.appropriations] == [2_500_000, 100_000, 1_000_000]
    assert (shown.distributable, shown.pool, shown.allocated, shown.residue) == (
        6_400_000, 3_009_205, 3_009_205, 0)
    assert shown.undistributed == 6_400_000 - 3_009_205
    assert {m.member_code: (m.basis_value, m.dividend, m.total) for m in shown.members} == {
        asha: (3_650_000_000, 1_500_000, 1_500_000), bina: (3_650_000_000, 1_500_000, 1_500_000),
        chitra: (22_400_000, 9_205, 9_205)}
    assert _clean(db) == count + 1

    # Declared at 15 %: the appropriation is posted and the preview stored in minor units.
    declared = _declare(db, clock, "15")
    assert declared.status == "declared" and declared.preview == shown
    assert _balances(db, "3900", "3100", "3110", "3120", "2100", "3200") == (
        0, 2_500_000, 100_000, 1_000_000, 3_009_205, 3_390_795)
    stored = json.loads(db.read(lambda s: s.execute(
        select(dividends.DeclarationRow.preview_json)).scalar_one()))
    assert stored["net_surplus_minor"] == 10_000_000
    assert stored["dividend"] == {"rate": "15", "basis": "share_days", "pool_minor": 3_009_205,
                                  "allocated_minor": 3_009_205, "residue_minor": 0}
    assert _clean(db) == count + 2

    # Cancelled before payment: the ledger's reversal of the appropriation, same day.
    cancelled = db.write(lambda s: dividends.cancel_dividend(s, FY, actor="board1",
                                                             clock=clock))
    assert cancelled.status == "cancelled" and cancelled.cancellation_entry_id is not None
    reversal = db.read(lambda s: queries.load_entry(s, cancelled.cancellation_entry_id or 0))
    assert reversal is not None
    assert (reversal.reversal_of, reversal.value_date) == (declared.appropriation_entry_id,
                                                           TODAY)
    assert _balances(db, "3900", "3100", "3110", "3120", "2100", "3200") == (
        10_000_000, 0, 0, 0, 0, 0)
    assert _clean(db) == count + 3
    with pytest.raises(dividends.DividendStateConflict):
        db.write(lambda s: dividends.pay_dividend(s, FY, actor="clerk1", clock=clock))
    with pytest.raises(dividends.DividendStateConflict):
        db.write(lambda s: dividends.cancel_dividend(s, FY, actor="board1", clock=clock))

    # Declared again at 10 %: the tie of the two equal holders goes to the lower number.
    again = _declare(db, clock, "10")
    assert again.appropriation_entry_id != declared.appropriation_entry_id
    assert (again.preview.pool, again.preview.allocated, again.preview.residue) == (
        2_006_136, 2_006_136, 0)
    low, high = sorted((asha, bina))
    assert {m.member_code: m.dividend for m in again.preview.members} == {
        low: 1_000_000, high: 999_999, chitra: 6_137}
    assert _balances(db, "3900", "2100", "3200") == (0, 2_006_136, 6_400_000 - 2_006_136)
    assert db.read(lambda s: dividends.get_declaration(s, FY)).status == "declared"
    assert _clean(db) == count + 4
    with pytest.raises(dividends.DividendStateConflict):
        _declare(db, clock, "10")

    # Paid: one entry per member into her savings; 2100 is empty again.
    paid = db.write(lambda s: dividends.pay_dividend(s, FY, actor="clerk1", clock=clock))
    assert (paid.status, paid.payment_entries, paid.paid_at) == ("paid", 3, clock.now())
    assert _balances(db, savings_account(low), savings_account(high),
                     savings_account(chitra), "2100") == (1_000_000, 999_999, 6_137, 0)
    assert _clean(db) == count + 7
    for refused in (lambda s: dividends.pay_dividend(s, FY, actor="clerk1", clock=clock),
                    lambda s: dividends.cancel_dividend(s, FY, actor="board1", clock=clock)):
        with pytest.raises(dividends.DividendStateConflict):
            db.write(refused)
    assert _clean(db) == count + 7
    csv = db.read(lambda s: dividends.report_csv(s, FY)).splitlines()
    assert csv[0] == "member_code,basis_value,dividend,rebate,total"
    assert f"{chitra},224000.00,61.37,0.00,61.37" in csv


def test_a_declaration_is_cancelled_after_the_next_year_has_locked_its_day(
        db: Database, clock: FixedClock, year: dict[str, str]) -> None:
    """Declared on 30 June 2025 and left unpaid; fiscal year 2025 is closed on 5 April 2026,
    locking every day through 31 March 2026. The reversal cannot be dated on the declaration
    day any more: it is dated the day of the cancellation, and is still the appropriation's
    one reversal. The year may then be declared again."""
    db.write(lambda s: dividends.close_year(s, FY, society=_society(s), actor="admin",
                                            clock=clock))
    declared = _declare(db, clock, "15")
    clock.business_date = date(2026, 4, 5)
    db.write(lambda s: dividends.close_year(s, FY + 1, society=_society(s), actor="admin",
                                            clock=clock))
    with pytest.raises(PeriodClosed):  # what a plain reversal would meet
        db.write(lambda s: post(s, EntryDraft(
            value_date=TODAY, narration="Late", kind="grant", actor="admin",
            postings=(debit("1000", 1), credit("4200", 1))), clock=clock))
    cancelled = db.write(lambda s: dividends.cancel_dividend(s, FY, actor="board1",
                                                             clock=clock))
    reversal = db.read(lambda s: queries.load_entry(s, cancelled.cancellation_entry_id or 0))
    assert reversal is not None
    assert (reversal.reversal_of, reversal.value_date) == (declared.appropriation_entry_id,
                                                           date(2026, 4, 5))
    assert _balances(db, "3900", "2100", "3100") == (10_000_000, 0, 0)
    _clean(db)
    again = _declare(db, clock, "15")
    assert again.status == "declared" and again.preview.pool == 3_009_205
    assert _balances(db, "3900", "2100") == (0, 3_009_205)
    _clean(db)


def test_nothing_is_declared_for_a_year_not_closed(db: Database, clock: FixedClock,
                                                   year: dict[str, str]) -> None:
    with pytest.raises(dividends.YearNotClosed):
        _declare(db, clock, "15")
    with pytest.raises(dividends.YearNotClosed):
        db.read(lambda s: dividends.preview(s, FY, dividends.Request(Decimal("15")),
                                            society=_society(s)))
    with pytest.raises(dividends.DividendStateConflict):
        db.write(lambda s: dividends.pay_dividend(s, FY, actor="clerk1", clock=clock))
    _clean(db)
