"""Migration 0016_dividend_resolution: a declaration recorded when the resolution was free
text reads after it as a resolution whose number is that text, with no date; one recorded
with a number and a date goes down to one text ("GB-7/2026, 2026-05-30"); a declaration
still pending board approval, which the old schema cannot hold (it has no entry), is dropped
on the way down."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from coop import dividends, migrate
from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, credit, debit, post
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings.shares import buy_shares
from coop.society import init_society, require_society, update_settings
from tests.helpers import scratch_database

CLOCK = FixedClock(date(2025, 6, 30))


def _closed_years(session: Session) -> None:
    """Fiscal years 2023 and 2024 closed with a surplus; 2023 declared, 2024 pending."""
    init_society(session, name="Test Society", currency="INR", locale="en_IN", clock=CLOCK)
    code = register_member(session, identity=Identity(), joined_on=date(2023, 4, 1),
                           vault=Vault(b"m" * 32), clock=CLOCK).code
    buy_shares(session, code, count=1_000, source="cash", face_value_minor=1000,
               value_date=date(2023, 4, 1), actor="clerk", clock=CLOCK)
    for year in (2023, 2024):
        post(session, EntryDraft(value_date=date(year, 12, 1), narration="Grant", kind="grant",
                                 actor="admin", postings=(debit("1000", 5_000_000),
                                                          credit("4200", 5_000_000))),
             clock=CLOCK)
        dividends.close_year(session, year, society=require_society(session), actor="admin",
                             clock=CLOCK)
    dividends.declare_dividend(session, 2023, dividends.Request(Decimal(10)),
                               society=require_society(session),
                               resolution=dividends.Resolution("GB-7/2024", date(2024, 5, 30)),
                               actor="board1", clock=CLOCK)
    update_settings(session, {"dividend_approvals_required": 2})
    pending = dividends.declare_dividend(session, 2024, dividends.Request(Decimal(10)),
                                         society=require_society(session), resolution=None,
                                         actor="cli", clock=CLOCK)
    assert pending.status == "pending" and pending.appropriation_entry_id is None


def _rows(db: Database) -> list[tuple[object, ...]]:
    with db.writer.connect() as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT fiscal_year, status, resolution FROM dividend_declaration "
            "ORDER BY fiscal_year"))]


def test_free_text_resolutions_stay_readable_and_pending_ones_go_down_dropped(
        tmp_path: Path, template: str) -> None:
    with scratch_database(tmp_path, "resolution") as db:
        migrate.upgrade(db.writer)
        db.write(_closed_years)

        migrate.downgrade(db.writer, "0015")
        assert _rows(db) == [(2023, "declared", "GB-7/2024, 2024-05-30")]
        with db.writer.begin() as conn:
            conn.execute(text("UPDATE dividend_declaration SET resolution = "
                              "'AGM 2024, item 4'"))

        migrate.upgrade(db.writer)
        declared = db.read(lambda s: dividends.get_declaration(s, 2023))
        assert declared.status == "declared"
        assert declared.resolution == dividends.Resolution("AGM 2024, item 4", None)
        assert declared.appropriation_entry_id is not None
