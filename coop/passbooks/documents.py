"""A member's share certificate and her dividend statement for a year: one page each, in her
language, with her member number (never her name), the chain head and a verification code."""

from __future__ import annotations

from datetime import date

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer
from sqlalchemy.orm import Session

from coop.dividends import get_declaration
from coop.errors import NotFound
from coop.members import get_member
from coop.passbooks.sheet import BODY, Context, build, context, facts_table
from coop.savings.shares import holding


def _heading(ctx: Context, title: str) -> list[Flowable]:
    return [ctx.type.paragraph(ctx.society.name, BODY + 6, bold=True, align="centre"),
            Spacer(1, 2 * mm), ctx.type.paragraph(title, BODY + 3, align="centre"),
            Spacer(1, 4 * mm)]


def share_certificate(session: Session, code: str, *, printed_on: date,
                      language: str | None = None) -> bytes:
    """Her paid-up shares on `printed_on`."""
    member = get_member(session, code)
    ctx = context(session, member, language)
    tr, currency = ctx.type.tr, ctx.society.currency
    held = holding(session, code, as_of=printed_on)
    rows = [[tr("Member number"), member.code],
            [tr("Member since"), member.joined_on.strftime("%d-%m-%Y")],
            [tr("Shares held"), f"{held.count:,}"],
            [tr("Face value of a share"),
             f"{ctx.money(ctx.society.share_face_value_minor)} {currency}"],
            [tr("Paid-up value"), f"{ctx.money(held.value_minor)} {currency}"],
            [tr("As of"), printed_on.strftime("%d-%m-%Y")]]
    note = tr("This certifies that the member named by the number above holds these fully "
              "paid-up shares of the society, entitled to dividends as the general body "
              "declares them.")
    story = [*_heading(ctx, tr("Share certificate")), facts_table(ctx, rows, [70, 100]),
             Spacer(1, 5 * mm), ctx.type.paragraph(note, BODY)]
    return build(ctx, story, title=f"Share certificate {code}", code=code, document="shares",
                 printed_on=printed_on)


def dividend_statement(session: Session, fiscal_year: int, code: str, *,
                       printed_on: date, language: str | None = None) -> bytes:
    """Her share of a declared (or paid) dividend: the basis, the dividend and the rebate."""
    member = get_member(session, code)
    ctx = context(session, member, language)
    tr = ctx.type.tr
    declared = get_declaration(session, fiscal_year)
    mine = next((share for share in declared.preview.members if share.member_code == code),
                None)
    if mine is None:
        raise NotFound(f"{code} has no dividend for {fiscal_year}", field="code")
    kind = declared.preview.basis.value

    def money(amount_minor: int) -> str:
        return f"{ctx.money(amount_minor)} {ctx.society.currency}"

    basis = {"share_days": "paid-up value x days held",
             "months_held": "paid-up value x whole months held",
             "closing_register": "paid-up value on the last day of the year"}[kind]
    unit = {"share_days": "{amount} x days", "months_held": "{amount} x months"}.get(
        kind, "{amount}")
    status = {"paid": "paid into savings", "declared": "declared, to be paid",
              "cancelled": "cancelled"}.get(declared.status, declared.status)
    rows = [[tr("Member number"), code], [tr("Fiscal year"), str(fiscal_year)],
            [tr("Dividend rate"), tr("{rate} % a year", rate=str(declared.preview.rate))],
            [tr("Basis"), tr(basis)],
            [tr("Her basis"), tr(unit, amount=money(mine.basis_value))],
            [tr("Dividend"), money(mine.dividend)],
            [tr("Patronage rebate"), money(mine.rebate)],
            [tr("Total"), money(mine.total)], [tr("Status"), tr(status)]]
    note = tr("The dividend is shared among all members in proportion to their basis; the "
              "auditor's report of the year lists every member's share.")
    story = [*_heading(ctx, tr("Dividend statement, year {year}", year=fiscal_year)),
             facts_table(ctx, rows, [70, 100]), Spacer(1, 4 * mm),
             ctx.type.paragraph(note, BODY - 1)]
    return build(ctx, story, title=f"Dividend statement {fiscal_year} {code}", code=code,
                 document=f"dividend-{fiscal_year}", printed_on=printed_on)
