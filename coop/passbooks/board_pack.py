"""The board's meeting pack for a month as a PDF (issue 18): A4, in the society's language,
large type; the figures of `board_figures` in plain tables, PAR30 over twelve months as a bar
chart drawn with ReportLab's own graphics, and on every page the printing date and the
journal's chain head, so the printed pack can be checked against the books."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from coop.i18n import Translator
from coop.ledger.chart import BANK, CASH
from coop.loans import BUCKETS
from coop.money import amount_formatter, count_formatter, minor_digits
from coop.passbooks import charts
from coop.passbooks.board_figures import BoardPack
from coop.passbooks.sheet import BODY, Context
from coop.passbooks.typeset import Typesetter
from coop.society import Society

MARGIN = 16 * mm
ARREARS_PER_TABLE = 100
CHART_HEIGHT = 62 * mm
BUCKET_WORDS = {"current": "Not overdue", ">365": "more than 365"}
OUTCOME_WORDS = {"approved": "approved", "rejected": "rejected", "pending": "waiting"}
KIND_WORDS = {"loan": "Loan application {loan}", "reschedule": "Reschedule of loan {loan}"}
ACCOUNT_WORDS = {CASH: "Cash on hand (safe and tills)", BANK: "Bank"}


def day_text(day: Any) -> str:
    return str(day.strftime("%d-%m-%Y"))


def month_text(name: str) -> str:
    """2025-06 -> 06-2025, as the documents write dates (digits every calendar reads)."""
    year, month = name.split("-")
    return f"{month}-{year}"


def bucket_text(tr: Translator, bucket: str) -> str:
    return tr(BUCKET_WORDS.get(bucket, "{days} days"), days=bucket)


class _Story:
    """The pack's flowables, section by section; a short section is kept on one page."""

    def __init__(self, ctx: Context, pack: BoardPack) -> None:
        self.ctx, self.pack = ctx, pack
        self.tr, self.money = ctx.type.tr, ctx.money
        self.width_mm = int((A4[0] - 2 * MARGIN) / mm)
        self.flowables: list[Flowable] = []

    def section(self, title: str, *parts: Flowable, keep: bool = True) -> None:
        head = [Spacer(1, 5 * mm), self.ctx.type.paragraph(title, BODY + 2, bold=True),
                Spacer(1, 1.5 * mm)]
        if keep:
            self.flowables.append(KeepTogether([*head, *parts]))
        else:
            self.flowables += [*head, *parts]

    def table(self, rows: list[list[str]], widths: list[int], numbers_from: int = 1, *,
              words: bool = True) -> Table:
        """A grid whose words wrap in their cells (headings, and with `words` the columns
        before `numbers_from`, are paragraphs); numbers stay plain strings, right-aligned."""
        type_, size = self.ctx.type, BODY - 1
        cells: list[list[Any]] = [
            [type_.paragraph(text, size, bold=index == 0,
                             align="right" if column >= numbers_from else "left")
             if index == 0 or (words and column < numbers_from) else text
             for column, text in enumerate(row)] for index, row in enumerate(rows)]
        table = Table(cells, colWidths=[width * mm for width in widths], repeatRows=1)
        table.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("FONT", (0, 0), (-1, -1), type_.latin[False], size),
            ("ALIGN", (numbers_from, 0), (-1, -1), "RIGHT"),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))
        return table

    def note(self, text: str) -> Flowable:
        return self.ctx.type.paragraph(text, BODY - 2)

    def counted(self, count: int, amount_minor: int) -> str:
        return f"{self.money(amount_minor)} ({count})"

    def title(self) -> None:
        pack, tr, p = self.pack, self.tr, self.ctx.type.paragraph
        self.flowables += [p(self.ctx.society.name, BODY + 6, bold=True, align="centre"),
                           Spacer(1, 2 * mm),
                           p(tr("Board meeting pack, {month}",
                                month=month_text(pack.month.name)), BODY + 3, align="centre")]
        if pack.month.to_date:
            self.flowables += [Spacer(1, 1 * mm), p(tr(
                "Figures to {date}: the month is not over.",
                date=day_text(pack.month.through)), BODY - 1, align="centre")]
        self.flowables += [Spacer(1, 2 * mm), self.note(tr(
            "Amounts in {currency}. Members are named by their numbers only.",
            currency=self.ctx.society.currency))]

    def members_and_money(self) -> None:
        pack, tr = self.pack, self.tr
        joined = pack.membership
        self.section(tr("Members"), self.table(
            [[tr("Joined"), tr("Exited"), tr("Members at the end of the month")],
             [str(joined.joined), str(joined.exited), str(joined.members_at_end)]],
            [40, 40, self.width_mm - 80], numbers_from=0))
        savings, shares = pack.savings, pack.shares
        self.section(tr("Savings and share capital"), self.table([
            ["", tr("Members' savings"), tr("Share capital")],
            [tr("At the start of the month"), self.money(savings.opening_minor),
             self.money(shares.opening_minor)],
            [tr("Paid in: deposits, shares bought (how many)"),
             self.counted(savings.in_count, savings.in_minor),
             self.counted(shares.in_count, shares.in_minor)],
            [tr("Paid out: withdrawals, shares redeemed (how many)"),
             self.counted(savings.out_count, savings.out_minor),
             self.counted(shares.out_count, shares.out_minor)],
            [tr("Other movements: interest, loans, dividends, corrections"),
             self.money(savings.other_minor), self.money(shares.other_minor)],
            [tr("At the end of the month"), self.money(savings.closing_minor),
             self.money(shares.closing_minor)]], [self.width_mm - 100, 50, 50]))
        rows = [["", tr("At the start of the month"), tr("At the end of the month"),
                 tr("Change")]]
        rows += [[f"{p.code} {tr(ACCOUNT_WORDS[p.code])}", self.money(p.opening_minor),
                  self.money(p.closing_minor), self.money(p.closing_minor - p.opening_minor)]
                 for p in pack.cash]
        self.section(tr("Cash and bank"), self.table(rows, [self.width_mm - 120, 40, 40, 40]))

    def loans(self) -> None:
        activity, tr = self.pack.lending, self.tr
        rows = [["", tr("Loans"), tr("Principal")]]
        for words, (count, amount) in (
                (tr("Applied for"), activity.applied), (tr("Approved"), activity.approved),
                (tr("Rejected"), activity.rejected), (tr("Paid out"), activity.disbursed),
                (tr("Closed"), activity.closed), (tr("Written off"), activity.written_off)):
            rows.append([words, str(count), self.money(amount)])
        self.section(tr("Loans"), self.table(rows, [self.width_mm - 80, 30, 50]))

    def at_risk(self) -> None:
        pack, tr = self.pack, self.tr
        book = pack.portfolio
        rows = [[tr("Days past due"), tr("Loans"), tr("Principal outstanding")]]
        rows += [[bucket_text(tr, b), str(book.counts[b]), self.money(book.buckets[b])]
                 for b in BUCKETS]
        rows.append([tr("Total"), str(book.loans_active), self.money(book.outstanding_minor)])
        rows.append(["PAR30", "", f"{book.par30:.2f} %"])
        self.section(tr("Loans at risk on {date}", date=day_text(pack.month.through)),
                     self.table(rows, [self.width_mm - 80, 30, 50]))
        first, last = pack.par[0], pack.par[-1]
        chart = charts.bar_chart([(m.month, m.par30) for m in pack.par],
                                 width=A4[0] - 2 * MARGIN, height=CHART_HEIGHT,
                                 text=BODY - 3)
        self.section(tr("PAR30 over twelve months, {first} to {last}",
                        first=month_text(first.month), last=month_text(last.month)),
                     charts.drawing(chart, font=self.ctx.type.latin[False]),
                     self.note(tr("Percent of the principal outstanding that is more than 30 "
                                  "days past due, at the end of each month.")))

    def arrears(self) -> None:
        """Loan by loan, the longest overdue first, under a heading for each bucket. The rows
        are digits and member numbers, plain strings, in tables of at most
        `ARREARS_PER_TABLE` rows: ReportLab splits a table across pages in time that grows
        with the square of its rows (4,700 loans in one table took 21 s; so, 3 s)."""
        pack, tr, type_ = self.pack, self.tr, self.ctx.type
        if not pack.arrears:
            self.section(tr("Arrears"), self.note(tr("No loan is past due.")))
            return
        heading = [tr("Loan"), tr("Member"), tr("Unpaid since"), tr("Days past due"),
                   tr("Principal outstanding")]
        parts: list[Flowable] = []
        for bucket in reversed(BUCKETS[1:]):
            found = [a for a in pack.arrears if a.bucket == bucket]
            if not found:
                continue
            parts += [Spacer(1, 2 * mm), type_.paragraph(bucket_text(tr, bucket), BODY,
                                                         bold=True), Spacer(1, 1 * mm)]
            rows = [[str(a.loan_id), a.member_code, day_text(a.first_unpaid_due),
                     str(a.days_past_due), self.money(a.outstanding_minor)] for a in found]
            parts += [self.table([heading, *rows[start:start + ARREARS_PER_TABLE]],
                                 [20, 36, 34, 34, self.width_mm - 124], numbers_from=3,
                                 words=False)
                      for start in range(0, len(rows), ARREARS_PER_TABLE)]
        self.section(tr("Arrears"), *parts[1:3], keep=True)
        self.flowables += parts[3:]

    def votes(self) -> None:
        pack, tr = self.pack, self.tr
        if not pack.votes:
            self.section(tr("Votes taken"), self.note(tr("The board voted on nothing this month.")))
            return
        rows = [[tr("Subject"), tr("Approve"), tr("Reject"), tr("Decision")]]
        rows += [[tr(KIND_WORDS[v.kind], loan=v.loan_id), str(v.approvals), str(v.rejections),
                  tr(OUTCOME_WORDS[v.outcome])] for v in pack.votes]
        self.section(tr("Votes taken"), self.table(rows, [self.width_mm - 100, 25, 25, 50]),
                     keep=len(rows) < 20)


def board_pack_pdf(pack: BoardPack, society: Society) -> bytes:
    """The pack in the society's language."""
    kind = Typesetter(society.settings.language)
    ctx = Context(society, kind, pack.chain_head,
                  amount_formatter(society.locale, minor_digits(society.currency)),
                  count_formatter(society.locale))
    story = _Story(ctx, pack)
    story.title()
    story.members_and_money()
    story.loans()
    story.at_risk()
    story.arrears()
    story.votes()
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=14 * mm,
        bottomMargin=20 * mm, title=f"Board meeting pack {pack.month.name}",
        author=society.name, invariant=1, lang=kind.language)
    template.build(story.flowables, onFirstPage=_footer(ctx, pack),
                   onLaterPages=_footer(ctx, pack))
    return buffer.getvalue()


def _footer(ctx: Context, pack: BoardPack) -> Callable[[Canvas, Any], None]:
    tr = ctx.type.tr
    seq, digest = pack.chain_head
    printed = tr("Printed {date}", date=day_text(pack.printed_on))
    title = tr("Board meeting pack, {month}", month=month_text(pack.month.name))

    def footer(canvas: Canvas, doc: Any) -> None:
        ctx.type.draw(canvas, f"{title}   {tr('Page {page}', page=doc.page)}", MARGIN,
                      10 * mm + 11, BODY - 2, bold=True)
        ctx.type.draw(canvas, f"{printed}   #{seq} {digest[:16]}", MARGIN, 10 * mm, BODY - 3)

    return footer


__all__ = ["board_pack_pdf", "bucket_text", "month_text"]
