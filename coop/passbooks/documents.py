"""A member's share certificate: one page in her language, with her member number (never her
name), her shares in a large box, and a verification code that carries the chain head. (Her
dividend statement is in coop.passbooks.dividend_statement.)"""

from __future__ import annotations

from datetime import date

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer
from sqlalchemy.orm import Session

from coop.members import get_member
from coop.passbooks.sheet import BODY, Context, big_box, build, context, facts_table
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
            [tr("Face value of a share"),
             f"{ctx.money(ctx.society.share_face_value_minor)} {currency}"]]
    note = tr("This certifies that the member named by the number above holds these fully "
              "paid-up shares of the society, entitled to dividends as the general body "
              "declares them.")
    shares = big_box(ctx, tr("Shares held on {date}", date=printed_on.strftime("%d-%m-%Y")),
                     ctx.count(held.count), tr("Worth {amount} {currency}",
                                               amount=ctx.money(held.value_minor),
                                               currency=currency), width_mm=110)
    story = [*_heading(ctx, tr("Share certificate")), shares, Spacer(1, 3 * mm),
             facts_table(ctx, rows, [80, 100]), Spacer(1, 3 * mm),
             ctx.type.paragraph(note, BODY - 1)]
    return build(ctx, story, title=f"Share certificate {code}", code=code, document="shares",
                 printed_on=printed_on)
