"""Small builders for tests: member-like sub-accounts and common entries."""

from __future__ import annotations

from datetime import date

from coop.clock import Clock
from coop.db import Database
from coop.ledger import EntryDraft, credit, debit, open_account, post
from coop.ledger.chart import CASH, SAVINGS
from coop.ledger.model import PostedEntry


def open_savings(db: Database, clock: Clock, suffix: str) -> str:
    code = f"{SAVINGS}:{suffix}"
    db.write(
        lambda s: open_account(
            s, code=code, name=f"Savings {suffix}", type="liability", parent=SAVINGS,
            owner=suffix, clock=clock,
        )
    )
    return code


def deposit(
    db: Database, clock: Clock, account: str, amount_minor: int, *,
    key: str | None = None, on: date | None = None,
) -> PostedEntry:
    draft = EntryDraft(
        value_date=on or clock.today(), narration="Deposit", kind="deposit",
        postings=(debit(CASH, amount_minor), credit(account, amount_minor)),
        actor="clerk", idempotency_key=key,
    )
    return db.write(lambda s: post(s, draft, clock=clock))


def withdraw(
    db: Database, clock: Clock, account: str, amount_minor: int, *, key: str | None = None
) -> PostedEntry:
    draft = EntryDraft(
        value_date=clock.today(), narration="Withdrawal", kind="withdrawal",
        postings=(debit(account, amount_minor), credit(CASH, amount_minor)),
        actor="clerk", idempotency_key=key,
    )
    return db.write(lambda s: post(s, draft, clock=clock))


def pdf_text(content: bytes) -> str:
    """The text of a PDF as poppler's pdftotext reads it (Latin-script documents only: shaped
    Indic text does not extract), with runs of spaces made single."""
    import re
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        raise AssertionError("pdftotext is missing: install Debian's poppler-utils")
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=content,
                            capture_output=True, check=True)
    return re.sub(r"[ \t]+", " ", result.stdout.decode())
