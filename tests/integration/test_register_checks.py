"""`coop verify` checks every register against the ledger (issue 16).

A normal book (members, shares bought and redeemed, holds placed and released, interest
posted, a dividend declared and paid) verifies clean. Then each register is corrupted
directly in its own table (never the ledger), and verify fails naming the member by her
number and the figure: the share register, a hold, an interest run, a declared dividend's
stored appropriation, a paid dividend's stored allocations. The CLI and GET /ledger/verify run
the same list of checks (`coop.registers`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from coop import dividends, registers
from coop.cli import app
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, credit, debit, post
from coop.ledger.verify import verify
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings import HoldRow, place_hold, record_deposit, release_hold
from coop.savings.interest_run import InterestRunRow, post_interest
from coop.savings.shares import ShareMovementRow, buy_shares, redeem_shares
from coop.society import require_society

FY = 2024
VAULT = Vault(b"r" * 32)
FACE = 1000  # the society's default face value, 10.00


@dataclass(frozen=True)
class Book:
    asha: str
    bina: str
    chitra: str


def _problems(db: Database) -> list[str]:
    """What `coop verify` reports: the ledger's own checks, then every register's."""
    report = db.read(lambda s: verify(s))
    found = [str(problem) for problem in report.problems]
    return found + [message for _, message in db.read(registers.reconcile_registers)]


def _year(db: Database, clock: FixedClock) -> Book:
    """Three members with savings and shares in fiscal year 2024 (April to March), a grant
    for a surplus; shares bought for cash and from savings, some redeemed; a hold placed and
    one released."""
    def work(session: Session) -> Book:
        codes = []
        for count in (100, 50, 20):
            code = register_member(session, identity=Identity(), joined_on=date(2024, 4, 1),
                                   vault=VAULT, clock=clock).code
            record_deposit(session, code, amount_minor=2_000_000, value_date=date(2024, 4, 1),
                           actor="clerk", clock=clock)
            buy_shares(session, code, count=count, source="cash", face_value_minor=FACE,
                       value_date=date(2024, 4, 1), actor="clerk", clock=clock)
            codes.append(code)
        asha, bina, chitra = codes
        buy_shares(session, chitra, count=5, source="savings", face_value_minor=FACE,
                   value_date=date(2024, 9, 1), actor="clerk", clock=clock)
        redeem_shares(session, bina, count=10, to="cash", face_value_minor=FACE, min_shares=1,
                      value_date=date(2024, 10, 1), actor="board", clock=clock)
        place_hold(session, asha, amount_minor=500_000, reason="guarantee", actor="clerk",
                   clock=clock)
        released = place_hold(session, bina, amount_minor=300_000, reason="guarantee",
                              actor="clerk", clock=clock)
        release_hold(session, bina, released.id, clock=clock)
        post(session, EntryDraft(value_date=date(2024, 12, 1), narration="Grant", kind="grant",
                                 actor="admin", postings=(debit("1000", 12_000_000),
                                                          credit("4200", 12_000_000))),
             clock=clock)
        return Book(asha, bina, chitra)

    return db.write(work)


def _close_and_declare(db: Database, clock: FixedClock) -> None:
    db.write(lambda s: dividends.close_year(s, FY, society=require_society(s), actor="admin",
                                            clock=clock))
    db.write(lambda s: dividends.declare_dividend(
        s, FY, dividends.Request(Decimal("10")), society=require_society(s),
        resolution=dividends.Resolution("AGM-2025/4", date(2025, 6, 28)), actor="board",
        clock=clock))


def _interest(db: Database, clock: FixedClock) -> None:
    db.write(lambda s: post_interest(s, start=date(2025, 5, 1), through=date(2025, 5, 31),
                                     rate_percent=Decimal("4"), min_balance_minor=0,
                                     actor="admin", clock=clock))


@pytest.fixture
def book(db: Database, clock: FixedClock) -> Book:
    """The whole normal book: the year, its dividend declared and paid, May's interest."""
    found = _year(db, clock)
    _close_and_declare(db, clock)
    db.write(lambda s: dividends.pay_dividend(s, FY, actor="clerk", clock=clock))
    _interest(db, clock)
    return found


def _execute(db: Database, statement: object, **params: object) -> None:
    db.write(lambda s: s.execute(statement, params))  # type: ignore[call-overload]


def _member_id(db: Database, code: str) -> int:
    from coop.members import get_member

    return db.read(lambda s: get_member(s, code).id)


def test_a_normal_book_verifies_clean(db: Database, book: Book) -> None:
    assert _problems(db) == []
    # the book is what it claims to be: every register is in use
    assert db.read(lambda s: dividends.get_declaration(s, FY)).status == "paid"
    assert db.read(lambda s: s.execute(select(InterestRunRow.total_minor)).scalar_one()) > 0
    assert db.read(lambda s: len(s.execute(select(HoldRow.id)).all())) == 2


def test_the_share_register_corrupted(db: Database, book: Book) -> None:
    """Bina's purchase of 50 shares is changed to 52 on the register; her share account
    still says 40 x 10.00 = 400.00."""
    _execute(db, update(ShareMovementRow)
             .where(ShareMovementRow.member_id == _member_id(db, book.bina),
                    ShareMovementRow.count == 50).values(count=52))
    found = _problems(db)
    assert f"shares {book.bina}: the register says 42 shares (420.00), the ledger 400.00" \
        in found
    assert "shares total: the register says 167 shares (1670.00), the ledger 1650.00" \
        in found
    assert len(found) == 2


def test_a_hold_above_the_savings_balance(db: Database, book: Book) -> None:
    """Asha's hold is raised beyond her savings (20000.00 deposited, her dividend and May's
    interest credited)."""
    _execute(db, update(HoldRow).where(HoldRow.member_id == _member_id(db, book.asha))
             .values(amount_minor=9_000_000))
    found = _problems(db)
    assert len(found) == 1
    assert found[0].startswith(f"holds {book.asha}: 90000.00 on hold, the savings balance "
                               "201")


def test_a_hold_of_zero(db: Database, book: Book) -> None:
    """Bina's released hold is set to nothing: a hold is always more than zero."""
    _execute(db, update(HoldRow).where(HoldRow.member_id == _member_id(db, book.bina))
             .values(amount_minor=0))
    assert _problems(db) == [f"holds {book.bina}: a hold of 0.00, not more than zero"]


def test_an_interest_run_corrupted(db: Database, book: Book) -> None:
    """May's run is said to have paid one paisa more than its entries did."""
    stored = db.read(lambda s: s.execute(select(InterestRunRow.total_minor)).scalar_one())
    _execute(db, update(InterestRunRow).values(total_minor=InterestRunRow.total_minor + 1))
    found = _problems(db)
    assert len(found) == 1
    rupees = f"{stored // 100}.{stored % 100:02d}"
    more = f"{(stored + 1) // 100}.{(stored + 1) % 100:02d}"
    assert found[0] == (f"interest run 2025-05-01 to 2025-05-31: the run says {more} on 3 "
                        f"account(s), the ledger {rupees} in 3 entries")


def _edit_preview(db: Database, change: object) -> None:
    row_text = db.read(lambda s: s.execute(select(dividends.DeclarationRow.preview_json)
                                           .where(dividends.DeclarationRow.status != "cancelled")
                                           ).scalar_one())
    document = json.loads(row_text)
    change(document)  # type: ignore[operator]
    _execute(db, text("UPDATE dividend_declaration SET preview_json = :doc "
                      "WHERE status != 'cancelled'"), doc=json.dumps(document))


def test_a_paid_dividend_allocation_corrupted(db: Database, book: Book) -> None:
    """Chitra's stored dividend is raised by 1.00 after she was paid."""
    paid: dict[str, int] = {}

    def raise_chitra(document: dict[str, list[dict[str, int | str]]]) -> None:
        for line in document["allocations"]:
            if line["member_code"] == book.chitra:
                paid["minor"] = int(line["dividend_minor"])
                line["dividend_minor"] = int(line["dividend_minor"]) + 100
    _edit_preview(db, raise_chitra)
    found = _problems(db)
    was, now = paid["minor"], paid["minor"] + 100
    assert f"dividend {FY} {book.chitra}: the register says {now // 100}.{now % 100:02d}, " \
           f"the ledger paid {was // 100}.{was % 100:02d}" in found
    assert any(problem.startswith(f"dividend {FY}: the members' stored allocations add up to")
               for problem in found)


def test_a_declared_dividend_appropriation_corrupted(db: Database, clock: FixedClock) -> None:
    """Declared, not paid: the stored undistributed surplus no longer matches the entry."""
    _year(db, clock)
    _close_and_declare(db, clock)
    assert _problems(db) == []

    def shift(document: dict[str, int]) -> None:
        document["undistributed_minor"] += 500
    _edit_preview(db, shift)
    found = _problems(db)
    assert len(found) == 1
    assert found[0].startswith(f"dividend {FY}: the appropriation entry ")
    assert "does not post the stored figures" in found[0]


def test_the_cli_and_the_api_run_the_register_checks(
        db: Database, clock: FixedClock, book: Book, database_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOP_DATABASE_URL", database_url)
    monkeypatch.setenv("COOP_BUSINESS_DATE", "2025-06-30")
    monkeypatch.setenv("COOP_DATA_KEY_FILE", str(tmp_path / "keys" / "data.key"))
    runner = CliRunner()
    assert runner.invoke(app, ["verify"]).exit_code == 0
    _execute(db, update(ShareMovementRow)
             .where(ShareMovementRow.member_id == _member_id(db, book.asha))
             .values(count=99))
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert f"shares {book.asha}: the register says 99 shares (990.00), the ledger 1000.00" \
        in output

    from litestar.testing import TestClient

    from coop.api import create_app
    from coop.config import Settings
    from tests.api.conftest import PASSWORD, TEST_PASSWORDS, TEST_VAULT, make_users

    make_users(db, clock)
    served = create_app(Settings(database_url=str(db.url)), db=db, clock=clock,
                        passwords=TEST_PASSWORDS, vault=TEST_VAULT)
    with TestClient(app=served) as client:
        token = client.post("/api/v1/auth/token", json={"username": "auditor1",
                                                        "password": PASSWORD}).json()
        answer = client.get("/api/v1/ledger/verify",
                            headers={"Authorization": f"Bearer {token['access_token']}"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is False
    assert {"seq": None, "account": f"3000:{book.asha}",
            "message": f"shares {book.asha}: the register says 99 shares (990.00), the ledger "
                       "1000.00"} in body["problems"]
