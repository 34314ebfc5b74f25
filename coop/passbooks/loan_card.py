"""The loan card: what is left to repay today in a large box, the key facts in plain words,
the schedule grid with what is paid and the principal left after each installment, every
repayment acknowledged, and the discharge once the loan is closed (DESIGN.md §9; the
microfinance repayment card of reference/domain.md §5.3).

Like the passbook it carries the member number, never her name. `card_of` reads a loan from
the books; `render` draws it from those values alone, so a card can be drawn (and its
reference image compared) without a database.

The "Balance" column is the engine's `balance_after` of each installment: the principal left
once it was paid, read from her payments (or, for those not paid yet, as it will be if she
pays on the due dates). It is never the plan's principal subtracted row by row: a payment
made early or late moves principal between installments, and that subtraction once left a
closed loan's card owing a few rupees after its last installment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Spacer
from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.loans import EventRow, Loan, standing
from coop.loans.engine import InstallmentView, Position
from coop.loans.schedule import build as build_schedule
from coop.members import get_member
from coop.passbooks.sheet import BODY, Context, big_box, build, context, facts_table, grid

FREQUENCY_WORDS = {"daily": "{count}, every day", "weekly": "{count}, every week",
                   "fortnightly": "{count}, every two weeks",
                   "monthly": "{count}, every month"}
METHOD_WORDS = {"declining_balance": "{rate} % a year, declining balance",
                "flat": "{rate} % a year, flat"}
STATUS_WORDS = {"pending": "applied", "written_off": "written off",
                "partly_paid": "partly paid"}
SCHEDULE_WIDTHS_MM = (16, 29, 30, 30, 30, 33)
RECEIPT_WIDTHS_MM = (29, 30, 27, 30, 27, 25)
HEADING_ROOM = 40 * mm


@dataclass(frozen=True, slots=True)
class Receipt:
    on: date
    amount_minor: int
    principal_minor: int
    interest_minor: int
    penalty_minor: int
    entry_id: int | None


@dataclass(frozen=True, slots=True)
class Card:
    """Everything a loan card shows, as it stands on one day."""

    loan: Loan
    installments: Sequence[InstallmentView]
    position: Position | None  # None before the loan is paid out
    receipts: Sequence[Receipt]


def card_of(session: Session, loan_id: int, *, as_of: date) -> Card:
    """Her loan as the card shows it on `as_of`, from the books."""
    now = standing(session, loan_id, as_of=as_of)
    events = session.scalars(select(EventRow).where(EventRow.loan_id == loan_id)
                             .order_by(EventRow.seq))
    receipts = [Receipt(e.value_date, e.amount_minor, e.principal_minor, e.interest_minor,
                        e.penalty_minor + e.fees_minor, e.entry_id)
                for e in events if e.kind in ("repayment", "recovery")]
    return Card(now.loan, now.installments, now.position, receipts)


def loan_card(session: Session, loan_id: int, *, printed_on: date,
              language: str | None = None) -> bytes:
    """Her loan card from the books, as it stands on `printed_on`, in her language."""
    card = card_of(session, loan_id, as_of=printed_on)
    ctx = context(session, get_member(session, card.loan.member_code), language)
    return render(ctx, card, printed_on=printed_on)


def render(ctx: Context, card: Card, *, printed_on: date) -> bytes:
    """The card as a PDF (A4), from values only."""
    loan, tr = card.loan, ctx.type.tr
    p = ctx.type.paragraph
    story: list[Flowable] = [
        p(ctx.society.name, BODY + 5, bold=True, align="centre"), Spacer(1, 1 * mm),
        p(f"{tr('Loan card')} {loan.id} "
          f"({tr('Amounts in {currency}', currency=ctx.society.currency)})", BODY + 2,
          align="centre"), Spacer(1, 3 * mm),
        _left_today(ctx, card, printed_on), Spacer(1, 4 * mm),
        facts_table(ctx, _facts(ctx, card), [30, 58, 30, 58]), Spacer(1, 4 * mm),
        *_heading(ctx, tr("Schedule")),
        grid(ctx, _schedule_rows(ctx, card), SCHEDULE_WIDTHS_MM, numbers_from=2)]
    position = card.position
    if position is not None and loan.status == "active":
        money = ctx.money
        story += [Spacer(1, 2 * mm), p(tr(
            "On {date}: principal outstanding {principal}, interest due {interest}. "
            "To close the loan today, pay {payoff}.", date=printed_on.strftime("%d-%m-%Y"),
            principal=money(position.outstanding_principal),
            interest=money(position.interest_due), payoff=money(position.payoff)), BODY)]
    story += [Spacer(1, 4 * mm), *_heading(ctx, tr("Repayments received")),
              grid(ctx, *_receipt_rows(ctx, card), numbers_from=1)
              if card.receipts else p(tr("None yet."), BODY)]
    if loan.status == "closed" and loan.closed_on:
        story += [Spacer(1, 4 * mm), *_heading(ctx, tr("Discharge")), p(tr(
            "This loan was repaid in full and closed on {date}. Nothing more is owed on it.",
            date=loan.closed_on.strftime("%d-%m-%Y")), BODY)]
    elif loan.status == "written_off":
        story += [Spacer(1, 4 * mm), p(tr(
            "The board has written this loan off; any payment is received as a recovery."),
            BODY)]
    story += [Spacer(1, 4 * mm), p(tr("Questions or complaints: {contact}",
                                      contact=_contact(ctx)), BODY)]
    return build(ctx, story, title=f"Loan card {loan.id}", code=loan.member_code,
                 document=f"loan-{loan.id}", printed_on=printed_on, size="A4")


def _heading(ctx: Context, text: str) -> list[Flowable]:
    """A section heading, on a new page unless there is room under it for a few lines of
    its table (a heading alone at the foot of a page is easily missed)."""
    return [CondPageBreak(HEADING_ROOM), ctx.type.paragraph(text, BODY + 1, bold=True),
            Spacer(1, 1 * mm)]


def _contact(ctx: Context) -> str:
    """Where she takes a question: the society's own words, or the default in hers."""
    contact = ctx.society.settings.grievance_contact
    default = "the society's board, at the office"
    return ctx.type.tr("the society's board, at the office") if contact == default else contact


def _status(ctx: Context, word: str) -> str:
    return ctx.type.tr(STATUS_WORDS.get(word, word))


def _left_today(ctx: Context, card: Card, printed_on: date) -> Flowable:
    """The large box: what it takes to close the loan today, and what comes next."""
    tr, money, loan, position = ctx.type.tr, ctx.money, card.loan, card.position
    label = tr("Left to repay today ({date})", date=printed_on.strftime("%d-%m-%Y"))
    if position is None:  # not paid out yet
        return big_box(ctx, tr("Amount"), money(loan.principal_minor), _status(ctx, loan.status))
    if loan.status == "closed":
        return big_box(ctx, label, money(0), tr("Repaid in full. Nothing more is owed."))
    if loan.status == "written_off":
        return big_box(ctx, label, money(0), tr("Written off by the board."))
    unpaid = next((view for view in card.installments if view.paid < view.total), None)
    note = None
    if position.overdue > 0 and position.first_unpaid_due is not None:
        note = tr("{amount} is late: it was due on {date}.", amount=money(position.overdue),
                  date=position.first_unpaid_due.strftime("%d-%m-%Y"))
    elif unpaid is not None:
        note = tr("Next installment: {amount} on {date}.",
                  amount=money(unpaid.total - unpaid.paid),
                  date=unpaid.due_on.strftime("%d-%m-%Y"))
    return big_box(ctx, label, money(position.payoff), note)


def _facts(ctx: Context, card: Card) -> list[list[str]]:
    tr, money, currency = ctx.type.tr, ctx.money, ctx.society.currency
    loan, terms = card.loan, card.loan.terms
    return [
        [tr("Loan"), f"{loan.id} ({loan.product.name})", tr("Member"), loan.member_code],
        [tr("Amount"), f"{money(loan.principal_minor)} {currency}", tr("Status"),
         _status(ctx, loan.status)],
        [tr("Interest"), tr(METHOD_WORDS[terms.interest_method.value],
                            rate=terms.annual_rate),
         tr("APR"), f"{build_schedule(terms).apr} %"],
        [tr("Installments"), tr(FREQUENCY_WORDS[terms.frequency.value],
                                count=terms.installments),
         tr("Fee"), tr("{amount} (taken at disbursement)", amount=money(loan.fee_minor))],
        [tr("First due"), card.installments[0].due_on.strftime("%d-%m-%Y"),
         tr("Last due"), card.installments[-1].due_on.strftime("%d-%m-%Y")],
        [tr("Penalty"), tr("none") if not loan.product.penalty_rate else
         tr("{rate} % a year, on overdue amounts only", rate=loan.product.penalty_rate),
         tr("Paying early"), tr("any day, no charge")],
    ]


def _schedule_rows(ctx: Context, card: Card) -> list[list[str]]:
    tr, money = ctx.type.tr, ctx.money
    rows = [[tr("No"), tr("Due date"), tr("Due"), tr("Paid date"), tr("Paid"), tr("Balance")]]
    covered, cumulative = _covered_on(card.receipts), 0
    for view in card.installments:
        cumulative += view.total
        when = next((on for on, total in covered if total >= cumulative), None)
        rows.append([str(view.number), view.due_on.strftime("%d-%m-%Y"), money(view.total),
                     when.strftime("%d-%m-%Y") if when and view.status == "paid"
                     else _status(ctx, view.status), money(view.paid),
                     money(view.balance_after)])
    return rows


def _receipt_rows(ctx: Context, card: Card) -> tuple[list[list[str]], tuple[int, ...]]:
    """The repayments, and the widths of their columns: the penalty column only when she
    ever paid one (a column of noughts is one more thing to read)."""
    tr, money = ctx.type.tr, ctx.money
    penalties = any(receipt.penalty_minor for receipt in card.receipts)
    rows = [[tr("Date"), tr("Amount"), tr("Interest"), tr("Principal"),
             *([tr("Penalty")] if penalties else []), tr("Receipt")]]
    for receipt in card.receipts:
        rows.append([receipt.on.strftime("%d-%m-%Y"), money(receipt.amount_minor),
                     money(receipt.interest_minor), money(receipt.principal_minor),
                     *([money(receipt.penalty_minor)] if penalties else []),
                     str(receipt.entry_id or "")])
    return rows, RECEIPT_WIDTHS_MM if penalties else (*RECEIPT_WIDTHS_MM[:4], 30)


def _covered_on(receipts: Sequence[Receipt]) -> list[tuple[date, int]]:
    """(date, everything paid to interest and principal by then) after each receipt."""
    total, result = 0, []
    for receipt in receipts:
        total += receipt.principal_minor + receipt.interest_minor
        result.append((receipt.on, total))
    return result


__all__ = ["Card", "Receipt", "card_of", "loan_card", "render"]
