"""Printing documents: a 600-line passbook and a loan card with 52 installments.

1. builds an SQLite file whose member has the savings lines of the busiest member of the shared
   workload (../shared/bench/gen_workload.py: her deposits and withdrawals, in order, posted
   through the savings service), 600 of them;
2. times `member_passbook` end to end (query, particulars, layout, PDF) for the whole passbook
   (three books of 280 lines on A5, each with its front page), in English and in Kannada
   (shaped text, Noto fonts);
3. lends her a 52-week loan, repays 30 installments, and times the loan card in both languages.

Targets (issue 7): passbook < 500 ms; loan card < 200 ms. Medians of `--runs` runs.

    .venv/bin/python bench/passbooks.py [--lines 600] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ledger import latency_ms  # noqa: E402
from members import workload  # noqa: E402

from coop import loans, members, migrate, savings  # noqa: E402
from coop.board import take_seat  # noqa: E402
from coop.clock import FixedClock  # noqa: E402
from coop.db import Database  # noqa: E402
from coop.loans import schedule  # noqa: E402
from coop.members.vault import Vault, create_key_file  # noqa: E402
from coop.passbooks.loan_card import loan_card  # noqa: E402
from coop.passbooks.passbook import member_passbook  # noqa: E402
from coop.society import get_society, init_society, update_settings  # noqa: E402

TODAY = date(2026, 6, 30)


def busiest_member_lines(count: int) -> list[tuple[date, str, int]]:
    """(date, kind, amount) of the savings deposits and withdrawals of the workload's busiest
    member, the first `count` of them (amounts in paise)."""
    path = workload(10, 20_000)
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    owners: Counter[str] = Counter()
    for entry in entries:
        if entry["kind"] in ("deposit", "withdrawal"):
            owners.update(p["account"] for p in entry["postings"]
                          if p["account"].startswith("Liabilities:Savings:"))
    busiest = owners.most_common(1)[0][0]
    lines = []
    for entry in entries:
        for posting in entry["postings"]:
            if posting["account"] == busiest and entry["kind"] in ("deposit", "withdrawal"):
                lines.append((date.fromisoformat(entry["date"]), entry["kind"],
                              abs(posting["amount"])))
    return lines[:count]


def build(db: Database, vault: Vault, lines: list[tuple[date, str, int]]) -> str:
    clock = FixedClock(TODAY)
    migrate.upgrade(db.writer)
    db.write(lambda s: init_society(s, name="Bench Society", currency="INR", locale="en_IN",
                                    clock=clock))
    code = db.write(lambda s: members.register_member(
        s, identity=members.Identity(), joined_on=date(2024, 1, 1), vault=vault,
        clock=clock).code)
    board = db.write(lambda s: members.register_member(
        s, identity=members.Identity(), joined_on=date(2024, 1, 1), vault=vault,
        clock=clock).code)

    def post(session: object) -> None:
        balance = 0
        for on, kind, amount in lines:
            clock.business_date = min(on, TODAY)
            if kind == "withdrawal" and amount > balance:
                kind = "deposit"  # the workload's member had other income; keep her solvent
            if kind == "deposit":
                savings.record_deposit(session, code, amount_minor=amount,  # type: ignore[arg-type]
                                       value_date=clock.business_date, actor="bench",
                                       clock=clock)
                balance += amount
            else:
                savings.record_withdrawal(session, code, amount_minor=amount,  # type: ignore[arg-type]
                                          value_date=clock.business_date, actor="bench",
                                          clock=clock)
                balance -= amount
        clock.business_date = TODAY

    db.write(post)
    db.write(lambda s: board_member_loan(s, code, board, clock))
    return code


def board_member_loan(session: object, code: str, board: str, clock: FixedClock) -> int:
    update_settings(session, {"loan_approvals_required": 1,  # type: ignore[arg-type]
                              "loan_min_membership_days": 0})
    loans.create_product(session, loans.Product(  # type: ignore[arg-type]
        "WEEKLY52", "Weekly loan, one year", loans.ProductTerms(
            Decimal("12"), 52, schedule.Frequency.WEEKLY), None, Decimal("1"), Decimal("0"),
        loans.engine.DEFAULT_ORDER), clock=clock)
    society = get_society(session)  # type: ignore[arg-type]
    assert society is not None
    disbursed = TODAY - timedelta(weeks=31)
    clock.business_date = disbursed
    take_seat(session, member_code=board, username="bench", on=disbursed)  # type: ignore[arg-type]
    loan, _ = loans.apply(session, member_code=code, product_code="WEEKLY52",  # type: ignore[arg-type]
                          principal_minor=2_000_000, installments=None, purpose="business",
                          guarantors=(), society=society, actor="bench",
                          clock=clock)
    loans.vote(session, loan.id, voter_code=board, voter_username="bench",  # type: ignore[arg-type]
               decision="approve", note=None, society=society,
               clock=clock)
    loans.disburse(session, loan.id, to="savings", on=disbursed, actor="bench",  # type: ignore[arg-type]
                   clock=clock)
    installment = loans.standing(session, loan.id,  # type: ignore[arg-type]
                                 as_of=disbursed).installments[0].total
    for week in range(1, 31):
        clock.business_date = disbursed + timedelta(weeks=week)
        loans.repay(session, loan.id, amount_minor=installment, source="cash",  # type: ignore[arg-type]
                    on=clock.business_date, actor="bench", clock=clock)
    clock.business_date = TODAY
    return loan.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=600)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    wanted = busiest_member_lines(args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "data.key"
        create_key_file(key)
        vault = Vault.from_file(key)
        db = Database(f"sqlite:///{tmp}/bench.db", pool_size=2)
        started = time.perf_counter()
        code = build(db, vault, wanted)
        print(f"built her {len(wanted)} savings lines and a 52-week loan in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        loan_id = db.read(lambda s: loans.loans_of(s, code)[0].id)
        for language in ("en", "kn"):
            pdf = db.read(lambda s, lang=language: member_passbook(
                s, code, printed_on=TODAY, language=lang)).pdf
            full = latency_ms(lambda lang=language: db.read(lambda s: member_passbook(
                s, code, printed_on=TODAY, language=lang)), args.runs)
            card_pdf = db.read(lambda s, lang=language: loan_card(
                s, loan_id, printed_on=TODAY, language=lang))
            card = latency_ms(lambda lang=language: db.read(lambda s: loan_card(
                s, loan_id, printed_on=TODAY, language=lang)), args.runs)
            print(f"{language}: passbook of {len(wanted)} lines ({pdf.count(b'/Type /Page') - 1}"
                  f" pages, {len(pdf):,} bytes) {full:.0f} ms (target < 500); loan card, 52 "
                  f"installments ({len(card_pdf):,} bytes) {card:.0f} ms (target < 200)",
                  flush=True)
        db.dispose()


if __name__ == "__main__":
    main()
