"""The beancount export: bean-check accepts it and its balances equal ours."""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from beancount import loader
from beancount.core import data

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import EntryDraft, credit, debit, post, reverse
from coop.ledger import queries as q
from coop.ledger.chart import BANK, CASH, FEES_AND_PENALTIES, OPERATING_EXPENSES
from coop.ledger.export import beancount_name, export_beancount
from coop.ledger.model import InsufficientFunds
from coop.money import to_decimal
from tests.helpers import deposit, open_savings


def build_book(db: Database, clock: FixedClock, entries: int = 120) -> list[str]:
    rng = random.Random(7)
    members = [open_savings(db, clock, f"M-{i:05d}") for i in range(8)]
    start = date(2025, 4, 1)
    for n in range(entries):
        on = start + timedelta(days=n % 90)
        who = rng.choice(members)
        deposit(db, clock, who, rng.randrange(1, 5000) * 100 + rng.randrange(100), on=on)
        if n % 5 == 0:
            balance = db.read(lambda s, who=who: q.balance(s, who)) or 0
            fee = 10_00
            if balance > fee + 1:
                amount = rng.randrange(1, balance - fee)
                draft = EntryDraft(
                    value_date=on, narration='Withdrawal "with" fee \\ receipt', kind="withdrawal",
                    postings=(debit(who, amount + fee), credit(CASH, amount),
                              credit(FEES_AND_PENALTIES, fee)),
                )
                db.write(lambda s, d=draft: post(s, d, clock=clock))
        if n % 17 == 0:
            draft = EntryDraft(value_date=on, narration="Rent", kind="expense",
                               postings=(debit(OPERATING_EXPENSES, 500_00), credit(BANK, 500_00)))
            with contextlib.suppress(InsufficientFunds):  # the bank may be empty early on
                db.write(lambda s, d=draft: post(s, d, clock=clock))
    db.write(lambda s: reverse(s, 3, reason="entered twice", actor="admin", clock=clock))
    return members


def test_export_passes_bean_check_with_equal_balances(
    db: Database, clock: FixedClock, tmp_path: Path
) -> None:
    build_book(db, clock)
    path = tmp_path / "book.beancount"
    with db.reading() as session:
        path.write_text("".join(export_beancount(session)), encoding="utf-8")
    check = subprocess.run(
        [str(Path(sys.executable).parent / "bean-check"), str(path)],
        capture_output=True, text=True, check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr

    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    theirs: dict[str, Decimal] = defaultdict(Decimal)
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                theirs[posting.account] += posting.units.number
    with db.reading() as session:
        accounts = {a.id: a for a in q.list_accounts(session)}
        for owner in ("M-00000", "M-00003"):
            for sub in q.list_accounts(session, owner=owner):
                parent = accounts[sub.parent_id] if sub.parent_id else None
                name = beancount_name(type=sub.type, code=sub.code, name=sub.name,
                                      parent_code=parent.code if parent else None,
                                      parent_name=parent.name if parent else None)
                assert theirs[name] == to_decimal(sub.debits_minor - sub.credits_minor, "INR")
        cash = q.get_account(session, CASH)
        assert cash is not None
        assert theirs["Assets:1000-Cash-on-hand"] == to_decimal(
            cash.debits_minor - cash.credits_minor, "INR")


def test_account_names_follow_the_contract() -> None:
    assert beancount_name(type="asset", code="1000", name="Cash on hand",
                          parent_code=None, parent_name=None) == "Assets:1000-Cash-on-hand"
    assert beancount_name(type="liability", code="2000:M-7Q4K2", name="Savings M-7Q4K2",
                          parent_code="2000", parent_name="Members' savings") == (
        "Liabilities:2000-Members-savings:M-7Q4K2")
