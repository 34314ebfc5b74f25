"""Migration 0008_dividend_minor: a declaration stored before it (the preview as the API's
display JSON, money as decimal strings) reads the same after it (minor units), and back.

A dividend is declared at head; going down to 0007 must write exactly the display JSON that
0007's code stored (the API's preview body, keys sorted); coming back up must give the
minor-unit form the services store, byte for byte."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from coop import dividends, migrate
from coop.api.schemas.dividends import preview_body
from coop.clock import FixedClock
from coop.db import Database
from coop.dividends.previews import load_preview
from coop.ledger import EntryDraft, credit, debit, post
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings.shares import buy_shares
from coop.society import init_society, require_society
from tests.helpers import scratch_database


def _stored(db: Database) -> str:
    with db.writer.connect() as conn:
        return str(conn.execute(text("SELECT preview_json FROM dividend_declaration")).scalar())


def _declared_year(session: Session, clock: FixedClock) -> None:
    init_society(session, name="Test Society", currency="INR", locale="en_IN", clock=clock)
    vault = Vault(b"m" * 32)
    for count, bought in ((10_000, date(2024, 4, 1)), (100, date(2024, 8, 20))):
        code = register_member(session, identity=Identity(), joined_on=date(2024, 4, 1),
                               vault=vault, clock=clock).code
        buy_shares(session, code, count=count, source="cash", face_value_minor=1000,
                   value_date=bought, actor="clerk", clock=clock)
    post(session, EntryDraft(value_date=date(2024, 12, 1), narration="Grant", kind="grant",
                             actor="admin", postings=(debit("1000", 10_000_001),
                                                      credit("4200", 10_000_001))),
         clock=clock)
    society = require_society(session)
    dividends.close_year(session, 2024, society=society, actor="admin", clock=clock)
    dividends.declare_dividend(session, 2024, dividends.Request(Decimal("12.5")),
                               society=society, resolution=None, actor="board1", clock=clock)


def test_stored_previews_go_down_to_display_strings_and_up_to_minor_units(
        tmp_path: Path, template: str) -> None:
    with scratch_database(tmp_path, "minor") as db:
        migrate.upgrade(db.writer)
        db.write(lambda s: _declared_year(s, FixedClock(date(2025, 6, 30))))
        minor = _stored(db)
        figures = load_preview(minor)
        assert json.loads(minor)["net_surplus_minor"] == 10_000_001

        migrate.downgrade(db.writer, "0007")
        display = _stored(db)
        shown = preview_body(figures, "INR")
        del shown["preview_digest"]  # 0007's code had none
        assert display == json.dumps(shown, sort_keys=True)
        assert json.loads(display)["net_surplus"] == "100000.01"

        migrate.upgrade(db.writer)
        assert _stored(db) == minor
        assert db.read(lambda s: dividends.get_declaration(s, 2024)).preview == figures
