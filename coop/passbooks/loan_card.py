"""The loan card: the key facts in plain words, the schedule grid with what is paid, every
repayment acknowledged, and the discharge once the loan is closed (DESIGN.md §9; the
microfinance repayment card of reference/domain.md §5.3).

Like the passbook it carries the member number, never her name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer
from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.loans import EventRow, standing
from coop.loans.schedule import build as build_schedule
from coop.members import get_member
from coop.passbooks.sheet import BODY, build, context, facts_table, grid

FREQUENCY_WORDS = {"daily": "{count}, every day", "weekly": "{count}, every week",
                   "fortnightly": "{count}, every two weeks",
                   "monthly": "{count}, every month"}
METHOD_WORDS = {"declining_balance": "{rate} % a year, declining balance",
                "flat": "{rate} % a year, flat"}
STATUS_WORDS = {"pending": "applied", "written_off": "written off",
                "partly_paid": "partly paid"}


@dataclass(frozen=True, slots=True)
class Receipt:
    on: date
    amount_minor: int
    principal_minor: int
    interest_minor: int
    penalty_minor: int
    entry_id: int | None


def loan_card(session: Session, loan_id: int, *, printed_on: date,
              language: str | None = None) -> bytes:
    """Her loan card from the books, as it stands on `printed_on`, in her language."""
    now = standing(session, loan_id, as_of=printed_on)
    loan, position = now.loan, now.position
    ctx = context(session, get_member(session, loan.member_code), language)
    tr, money, currency = ctx.type.tr, ctx.money, ctx.society.currency
    events = list(session.scalars(select(EventRow).where(EventRow.loan_id == loan_id)
                                  .order_by(EventRow.seq)))
    receipts = [Receipt(e.value_date, e.amount_minor, e.principal_minor, e.interest_minor,
                        e.penalty_minor + e.fees_minor, e.entry_id)
                for e in events if e.kind in ("repayment", "recovery")]
    terms = loan.terms

    def status(word: str) -> str:
        return tr(STATUS_WORDS.get(word, word))

    facts = [
        [tr("Loan"), f"{loan.id} ({loan.product.name})", tr("Member"), loan.member_code],
        [tr("Amount"), f"{money(loan.principal_minor)} {currency}", tr("Status"),
         status(loan.status)],
        [tr("Interest"), tr(METHOD_WORDS[terms.interest_method.value],
                            rate=terms.annual_rate),
         tr("APR"), f"{build_schedule(terms).apr} %"],
        [tr("Installments"), tr(FREQUENCY_WORDS[terms.frequency.value],
                                count=terms.installments),
         tr("Fee"), tr("{amount} (taken at disbursement)", amount=money(loan.fee_minor))],
        [tr("First due"), now.installments[0].due_on.strftime("%d-%m-%Y"),
         tr("Last due"), now.installments[-1].due_on.strftime("%d-%m-%Y")],
        [tr("Penalty"), tr("none") if not loan.product.penalty_rate else
         tr("{rate} % a year, on overdue amounts only", rate=loan.product.penalty_rate),
         tr("Paying early"), tr("any day, no charge")],
    ]
    table = [[tr("No"), tr("Due date"), tr("Due"), tr("Paid date"), tr("Paid"), tr("Balance")]]
    covered, cumulative, balance = _covered_on(receipts), 0, loan.principal_minor
    for view in now.installments:
        cumulative += view.total
        balance -= view.principal
        when = next((on for on, total in covered if total >= cumulative), None)
        table.append([str(view.number), view.due_on.strftime("%d-%m-%Y"), money(view.total),
                      when.strftime("%d-%m-%Y") if when and view.status == "paid"
                      else status(view.status), money(view.paid), money(max(balance, 0))])
    paid = [[tr("Date"), tr("Amount"), tr("Interest"), tr("Principal"), tr("Penalty"),
             tr("Receipt")]]
    for receipt in receipts:
        paid.append([receipt.on.strftime("%d-%m-%Y"), money(receipt.amount_minor),
                     money(receipt.interest_minor), money(receipt.principal_minor),
                     money(receipt.penalty_minor), str(receipt.entry_id or "")])
    p = ctx.type.paragraph
    story: list[Flowable] = [
        p(ctx.society.name, BODY + 5, bold=True, align="centre"), Spacer(1, 1 * mm),
        p(f"{tr('Loan card')} ({tr('Amounts in {currency}', currency=currency)})", BODY + 2,
          align="centre"), Spacer(1, 3 * mm),
        facts_table(ctx, facts, [26, 62, 26, 62]), Spacer(1, 4 * mm),
        p(tr("Schedule"), BODY + 1, bold=True), Spacer(1, 1 * mm),
        grid(ctx, table, [12, 29, 30, 30, 30, 30], numbers_from=2)]
    if position is not None and loan.status == "active":
        story += [Spacer(1, 2 * mm), p(tr(
            "On {date}: principal outstanding {principal}, interest due {interest}. "
            "To close the loan today, pay {payoff}.", date=printed_on.strftime("%d-%m-%Y"),
            principal=money(position.outstanding_principal),
            interest=money(position.interest_due), payoff=money(position.payoff)), BODY)]
    story += [Spacer(1, 4 * mm), p(tr("Repayments received"), BODY + 1, bold=True),
              Spacer(1, 1 * mm),
              grid(ctx, paid, [29, 30, 27, 30, 27, 22], numbers_from=1)
              if receipts else p(tr("None yet."), BODY)]
    if loan.status == "closed" and loan.closed_on:
        story += [Spacer(1, 4 * mm), p(tr("Discharge"), BODY + 1, bold=True), p(tr(
            "This loan was repaid in full and closed on {date}. Nothing more is owed on it.",
            date=loan.closed_on.strftime("%d-%m-%Y")), BODY)]
    elif loan.status == "written_off":
        story += [Spacer(1, 4 * mm), p(tr(
            "The board has written this loan off; any payment is received as a recovery."),
            BODY)]
    story += [Spacer(1, 4 * mm), p(tr("Questions or complaints: {contact}",
                                      contact=ctx.society.settings.grievance_contact), BODY)]
    return build(ctx, story, title=f"Loan card {loan.id}", code=loan.member_code,
                 document=f"loan-{loan.id}", printed_on=printed_on, size="A4")


def _covered_on(receipts: list[Receipt]) -> list[tuple[date, int]]:
    """(date, everything paid to interest and principal by then) after each receipt."""
    total, result = 0, []
    for receipt in receipts:
        total += receipt.principal_minor + receipt.interest_minor
        result.append((receipt.on, total))
    return result
