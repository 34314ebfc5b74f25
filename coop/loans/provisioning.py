"""The loans by class on a day, the provision they require, and the provisioning run that
books it (CONTRACT.md Loans; the classes and the rounding are coop.loans.classification).

`classification_on` sees every loan as it stood at the end of `as_of` (active loans as their
last event on or before that day left them; written-off loans still being recovered; the
board's loss marks standing that day) and classes them with the society's percents.

A provisioning run (`run_provisioning`, POST /reports/provisioning-runs, `coop provision`)
posts ONE balanced entry dated `as_of` moving 1190 Provision for bad and doubtful debts to
the provision required that day:

    required rises by x:  Dr 5210 Provisioning for bad and doubtful debts x, Cr 1190 x
    required falls by x:  Dr 1190 x, Cr 5210 x (the provision written back)
    no change:            no entry; the run is recorded all the same

`previous` is the last run's required provision, so 1190's credit balance is always the
latest run's `required` and the sum of the runs' changes (`reconcile`, run by `coop verify`).
The run is idempotent per day (the same day again answers the first run and posts nothing),
runs only move forward (a day before the latest run is 409: the provision of a past day is
settled by the next run, never rewritten) and a day in a closed fiscal year or after the
business date is 422. Run it on the year's last day before the year close, which then
closes 5210 into the surplus with every other expense.

A run's entry is not undone by the general reversal (coop.corrections refuses it, 409): the
next run, on a later day, posts whatever change the provision then needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop.clock import Clock
from coop.errors import Conflict, InvalidInput
from coop.ledger import EntryDraft, credit, debit, lock_balance, post, queries
from coop.ledger.chart import PROVISION_FOR_BAD_DEBTS, PROVISIONING_EXPENSE
from coop.ledger.orm import entry_table, posting_table
from coop.loans.classification import (
    CLASSES,
    Classification,
    LoanClass,
    classify,
    setting_name,
)
from coop.loans.losses import marked_on, written_off_recovering
from coop.loans.orm import LoanRow, ProductRow, ProvisioningRunRow
from coop.loans.reports import AS_OF_MAX, AS_OF_MIN, snapshots
from coop.loans.risk import Snapshot
from coop.members import MemberRow
from coop.money import format_minor
from coop.society import Society, require_society

ENTRY_KIND = "loan_provisioning"


def percents(society: Society) -> dict[LoanClass, Decimal]:
    """The society's provision percent of each class."""
    return {klass: Decimal(getattr(society.settings, setting_name(klass)))
            for klass in CLASSES}


def _check_day(as_of: date) -> None:
    if not AS_OF_MIN <= as_of <= AS_OF_MAX:
        raise InvalidInput.said(
            "as_of is a day from {as_of_min} to {as_of_max}",
            as_of_min=AS_OF_MIN, as_of_max=AS_OF_MAX, field="as_of")


def classification_on(session: Session, as_of: date) -> Classification:
    """Every loan by class at the end of `as_of`, with the provision required."""
    _check_day(as_of)
    written = written_off_recovering(session, as_of)
    loans = [*snapshots(session, as_of=as_of),
             *(Snapshot(loan_id, 0, None) for loan_id in sorted(written))]
    return classify(loans, as_of, percents=percents(require_society(session)),
                    losses=marked_on(session, as_of) | written)


# --- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProvisioningRun:
    id: int
    as_of: date
    required_minor: int
    previous_minor: int
    change_minor: int
    entry_id: int | None
    posted_by: str
    replayed: bool = False


def _run(row: ProvisioningRunRow, *, replayed: bool = False) -> ProvisioningRun:
    return ProvisioningRun(row.id, row.as_of, row.required_minor, row.previous_minor,
                           row.change_minor, row.entry_id, row.posted_by, replayed)


def run_provisioning(session: Session, *, as_of: date, actor: str,
                     clock: Clock) -> ProvisioningRun:
    """Book the provision required on `as_of` (see the module docstring)."""
    _check_day(as_of)
    lock_balance(session, PROVISION_FOR_BAD_DEBTS)  # one run at a time
    same = session.execute(select(ProvisioningRunRow).where(
        ProvisioningRunRow.as_of == as_of)).scalar()
    if same is not None:
        return _run(same, replayed=True)
    if as_of > clock.today():
        raise InvalidInput.said("{as_of} is after the business date {today}: the provision is "
                                "booked for a day that has come", as_of=as_of,
                                today=clock.today(), field="as_of")
    book = queries.book(session)
    if book is not None and book.closed_through is not None and as_of <= book.closed_through:
        raise InvalidInput.said("{as_of} is in a closed fiscal year (closed through "
                                "{closed_through}): run the provisioning before the year close",
                                as_of=as_of, closed_through=book.closed_through, field="as_of")
    latest = session.execute(select(ProvisioningRunRow).order_by(
        ProvisioningRunRow.as_of.desc()).limit(1)).scalar()
    if latest is not None and latest.as_of > as_of:
        raise Conflict.said("a provisioning run on {latest} stands already; a run is for that "
                            "day or a later one", latest=latest.as_of)
    found = classification_on(session, as_of)
    required = found.total_provision_minor
    previous = latest.required_minor if latest is not None else 0
    change = required - previous
    entry = None
    if change:
        postings = ((debit(PROVISIONING_EXPENSE, change), credit(PROVISION_FOR_BAD_DEBTS, change))
                    if change > 0 else
                    (debit(PROVISION_FOR_BAD_DEBTS, -change), credit(PROVISIONING_EXPENSE,
                                                                     -change)))
        entry = post(session, EntryDraft(
            value_date=as_of, kind=ENTRY_KIND, actor=actor,
            narration=f"Provision for bad and doubtful debts as of {as_of.isoformat()}",
            postings=postings, idempotency_key=f"loan-provisioning:{as_of.isoformat()}"),
            clock=clock)
    row = ProvisioningRunRow(
        as_of=as_of, required_minor=required, previous_minor=previous, change_minor=change,
        entry_id=entry.id if entry else None, classes_json=json.dumps(
            [[line.klass.value, line.loans, line.outstanding_minor, str(line.percent),
              line.provision_minor] for line in found.lines]),
        posted_by=actor, posted_at=clock.now())
    session.add(row)
    session.flush()
    return _run(row)


def provisioning_runs(session: Session) -> list[ProvisioningRun]:
    """Every run, the latest day first."""
    return [_run(row) for row in session.scalars(select(ProvisioningRunRow).order_by(
        ProvisioningRunRow.as_of.desc()))]


def reconcile(session: Session) -> list[tuple[str | None, str]]:
    """The provision in the ledger against the runs: 1190's credit balance is the sum of the
    runs' changes; each run's entry moved 1190 by its change; no provisioning entry is
    outside a run."""
    runs = session.execute(select(ProvisioningRunRow.as_of, ProvisioningRunRow.change_minor,
                                  ProvisioningRunRow.entry_id)).all()
    balance = queries.balance(session, PROVISION_FOR_BAD_DEBTS)
    if balance is None:
        return []  # a book set up before the provision: nothing can have been run
    problems: list[tuple[str | None, str]] = []
    moved = _moved_by_entry(session)
    currency = require_society(session).currency if runs or moved or balance else ""
    total = sum(change for _, change, _ in runs)
    if -balance != total:
        problems.append((PROVISION_FOR_BAD_DEBTS, (
            f"the provision account holds {format_minor(-balance, currency)} (credit), the "
            f"provisioning runs add up to {format_minor(total, currency)}")))
    for as_of, change, entry_id in runs:
        if moved.pop(entry_id, 0) != change:
            problems.append((PROVISION_FOR_BAD_DEBTS, (
                f"the provisioning run of {as_of.isoformat()} says "
                f"{format_minor(change, currency)}, its entry {entry_id} does not")))
    for entry_id, amount in sorted(moved.items()):
        if entry_id is not None:
            problems.append((PROVISION_FOR_BAD_DEBTS, (
                f"entry {entry_id} is a provisioning entry of "
                f"{format_minor(amount, currency)} with no provisioning run")))
    return problems


def _moved_by_entry(session: Session) -> dict[int | None, int]:
    """Each provisioning entry's net credit to 1190."""
    account = queries.get_account(session, PROVISION_FOR_BAD_DEBTS)
    if account is None:
        return {}
    moved: dict[int | None, int] = {}
    for entry_id, side, amount in session.execute(
            select(posting_table.c.entry_id, posting_table.c.side, posting_table.c.amount_minor)
            .join(entry_table, entry_table.c.id == posting_table.c.entry_id)
            .where(entry_table.c.kind == ENTRY_KIND, posting_table.c.account_id == account.id)):
        moved[entry_id] = moved.get(entry_id, 0) + (amount if side == "credit" else -amount)
    return moved


# --- the loans schedule -------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleLine:
    """One loan in the schedule of loans outstanding behind the balance sheet."""

    member_code: str
    loan_id: int
    product: str
    disbursed_on: date | None
    outstanding_minor: int
    days_overdue: int
    klass: LoanClass
    provision_minor: int


def loans_schedule(session: Session, as_of: date) -> list[ScheduleLine]:
    """Member-wise loans outstanding at the end of `as_of` (by member number, then loan),
    each with its days overdue, class and provision: the lines add up to the classification
    of the same day."""
    found = classification_on(session, as_of)
    ids = [loan.loan_id for loan in found.loans]
    facts = {loan_id: (code, product, disbursed) for loan_id, code, product, disbursed in
             session.execute(
                 select(LoanRow.id, MemberRow.code, ProductRow.code, LoanRow.disbursed_on)
                 .join(MemberRow, MemberRow.id == LoanRow.member_id)
                 .join(ProductRow, ProductRow.id == LoanRow.product_id)
                 .where(LoanRow.id.in_(ids)))} if ids else {}
    lines = [ScheduleLine(facts[loan.loan_id][0], loan.loan_id, facts[loan.loan_id][1],
                          facts[loan.loan_id][2], loan.outstanding_minor, loan.days_overdue,
                          loan.klass, loan.provision_minor) for loan in found.loans]
    return sorted(lines, key=lambda line: (line.member_code, line.loan_id))


def latest_run_on(session: Session) -> date | None:
    return session.execute(select(func.max(ProvisioningRunRow.as_of))).scalar()


__all__ = ["ENTRY_KIND", "ProvisioningRun", "ScheduleLine", "classification_on",
           "latest_run_on", "loans_schedule", "percents", "provisioning_runs", "reconcile",
           "run_provisioning"]
