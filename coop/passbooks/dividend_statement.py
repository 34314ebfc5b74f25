"""A member's dividend statement for a year: one page in her language, with her member number
(never her name), the chain head and a verification code.

It says, in plain words: the year by its dates ("1 April 2025 to 31 March 2026"), the general
body's resolution that declared the dividend (number and date), when it was declared and
paid, her shares as the society counted them (her paid-up value on average over the year, or
on its last day for the closing register), her dividend and its rate, her patronage rebate
and the total. A dividend still waiting for the board's approvals, or rejected, has no
statement: nothing was declared.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from reportlab.lib.units import mm
from reportlab.platypus import Spacer, TableStyle
from sqlalchemy.orm import Session

from coop.dividends import Declaration, FiscalYear, get_declaration
from coop.dividends.calc import Basis, periods_in_year
from coop.errors import NotFound
from coop.i18n.words import date_words
from coop.members import get_member
from coop.passbooks.sheet import BODY, Context, build, context, facts_table

STATUS_WORDS = {"paid": "declared on {declared}, paid into savings on {paid}",
                "declared": "declared on {declared}, to be paid",
                "cancelled": "declared on {declared}, cancelled"}
"""What the statement says of each status it is printed for."""

BASIS_WORDS = {Basis.SHARE_DAYS: "{amount} on average over the year, counted day by day",
               Basis.MONTHS_HELD: "{amount} on average over the year, counted in whole months",
               Basis.CLOSING_REGISTER: "{amount} held on {date}"}


def dividend_statement(session: Session, fiscal_year: int, code: str, *,
                       printed_on: date, language: str | None = None) -> bytes:
    """Her share of a declared (or paid, or cancelled) dividend."""
    member = get_member(session, code)
    ctx = context(session, member, language)
    declared = get_declaration(session, fiscal_year)
    if declared.status not in STATUS_WORDS:
        raise NotFound(f"no dividend has been declared for {fiscal_year}", field="fy")
    mine = next((share for share in declared.preview.members if share.member_code == code),
                None)
    if mine is None:
        raise NotFound(f"{code} has no dividend for {fiscal_year}", field="code")
    tr = ctx.type.tr
    year = FiscalYear.of(fiscal_year, ctx.society.fiscal_year_start)

    def day(on: date) -> str:
        return date_words(on, language=ctx.type.language, locale=ctx.society.locale)

    def money(amount_minor: int) -> str:
        return f"{ctx.money(amount_minor)} {ctx.society.currency}"

    preview = declared.preview
    average = Decimal(mine.basis_value) / periods_in_year(preview.basis, year)
    held = tr(BASIS_WORDS[preview.basis],
              amount=money(int(average.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))),
              date=day(year.end))
    rebate = money(mine.rebate)
    if preview.rebate_percent:
        rebate = tr("{amount}: {percent} % of the loan interest she paid", amount=rebate,
                    percent=str(preview.rebate_percent))
    rows = [[tr("Member number"), code],
            [tr("Fiscal year"), tr("{start} to {end}", start=day(year.start),
                                   end=day(year.end))],
            [tr("General body resolution"), _resolution(ctx, declared, day)],
            [tr("Status"), tr(STATUS_WORDS[declared.status],
                              declared=day(declared.declared_at.date()),
                              paid=day(declared.paid_at.date()) if declared.paid_at else "")],
            [tr("Her shares"), held],
            [tr("Dividend"), tr("{amount} at {rate} % a year", amount=money(mine.dividend),
                                rate=str(preview.rate))],
            [tr("Patronage rebate"), rebate],
            [tr("Total"), money(mine.total)]]
    note = tr("Every member's dividend is in proportion to her shares and the time she held "
              "them; the auditor's report of the year lists them all.")
    facts = facts_table(ctx, rows, [58, 122])
    facts.setStyle(TableStyle([("TOPPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))  # one A5 page
    story = [ctx.type.paragraph(ctx.society.name, BODY + 6, bold=True, align="centre"),
             Spacer(1, 1 * mm),
             ctx.type.paragraph(tr("Dividend statement, year {year}", year=fiscal_year),
                                BODY + 3, align="centre"),
             Spacer(1, 2 * mm), facts, Spacer(1, 2 * mm), ctx.type.paragraph(note, BODY - 1)]
    return build(ctx, story, title=f"Dividend statement {fiscal_year} {code}", code=code,
                 document=f"dividend-{fiscal_year}", printed_on=printed_on)


def _resolution(ctx: Context, declared: Declaration, day: Callable[[date], str]) -> str:
    tr = ctx.type.tr
    resolution = declared.resolution
    if resolution is None:
        return tr("not recorded")
    if resolution.on is None:
        return resolution.number
    return tr("{number} of {date}", number=resolution.number, date=day(resolution.on))


__all__ = ["dividend_statement"]
