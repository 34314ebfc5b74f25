"""The annual statements as tables (`coop.passbooks.tables`) and as files: the balance sheet,
income and expenditure, receipts and payments, each with the previous year beside it, and
the member-wise schedules; the charts of the year for the PDF's charts page.

Words are in the society's language; account names are the chart's own (the society names
its accounts). Members are named by number unless the schedule was asked with names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer
from sqlalchemy.orm import Session

from coop import loans, statements
from coop.i18n import Translator
from coop.ledger import queries
from coop.ledger.chart import DEFAULT_CHART
from coop.loans import MonthPar
from coop.loans.classification import Classification
from coop.loans.provisioning import ScheduleLine
from coop.money import minor_digits, to_decimal
from coop.passbooks import charts
from coop.passbooks.sheet import BODY, Context, context_of
from coop.passbooks.tables import TableDoc, TableRow, csv_bytes, pdf_bytes, xlsx_bytes
from coop.society import Society
from coop.statements import (
    BalanceSheet,
    IncomeExpenditure,
    Line,
    MonthFigures,
    ReceiptsPayments,
    Schedule,
    Section,
)
from coop.statements.model import CURRENT_YEAR_SURPLUS_LINE

Format = Literal["csv", "xlsx", "pdf"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "pdf")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "pdf": "application/pdf"}
CHART_HEIGHT = 60 * mm


def day_text(day: date) -> str:
    return day.strftime("%d-%m-%Y")


CHART_NAMES = {account.code: account.name for account in DEFAULT_CHART}
"""The chart's own names, which are translated; a name the society gave stays as it is."""


def account_name(tr: Translator, code: str, name: str) -> str:
    """An account's name in the reader's language where it is the chart's own."""
    return tr(name) if CHART_NAMES.get(code) == name else name


def account_words(tr: Translator, code: str, name: str) -> str:
    """An account as a line of a statement: its code and its name ("1000 ನಗದು" in
    Kannada)."""
    return f"{code} {account_name(tr, code, name)}"


def _name(tr: Translator, line: Line) -> str:
    if line.account == CURRENT_YEAR_SURPLUS_LINE:
        return tr("Surplus of the year not yet closed")
    return account_words(tr, line.account, line.name)


def _section(tr: Translator, heading: str, total: str, section: Section) -> list[TableRow]:
    rows = [TableRow((heading, "", ""), "heading")]
    for line in section.lines:
        if line.less is None:
            rows.append(TableRow((_name(tr, line), line.amount_minor, line.previous_minor)))
            continue
        less = line.less
        rows += [TableRow((_name(tr, line), line.amount_minor + less.amount_minor,
                           line.previous_minor + less.previous_minor)),
                 TableRow((tr("less {account}", account=_name(tr, less)), -less.amount_minor,
                           -less.previous_minor))]
    rows.append(TableRow((total, section.total_minor, section.previous_total_minor), "total"))
    return rows


def balance_sheet_doc(sheet: BalanceSheet, tr: Translator, society: Society) -> TableDoc:
    rows = _section(tr, tr("Assets"), tr("Total assets"), sheet.assets)
    rows += _section(tr, tr("Liabilities"), tr("Total liabilities"), sheet.liabilities)
    rows += _section(tr, tr("Members' funds"), tr("Total members' funds"), sheet.equity)
    rows.append(TableRow((tr("Total liabilities and members' funds"),
                          sheet.total_liabilities_and_equity_minor,
                          sheet.previous_total_liabilities_and_equity_minor), "total"))
    return TableDoc(tr("Balance sheet"), (
        tr("As at {date}", date=day_text(sheet.as_of)),
        tr("Amounts in {currency}", currency=society.currency)),
        (tr("Particulars"), tr("As at {date}", date=day_text(sheet.as_of)),
         tr("As at {date}", date=day_text(sheet.previous_as_of))), tuple(rows))


def _period(first: date, last: date) -> str:
    return f"{day_text(first)} – {day_text(last)}"


def income_expenditure_doc(account: IncomeExpenditure, tr: Translator,
                           society: Society) -> TableDoc:
    rows = _section(tr, tr("Income"), tr("Total income"), account.income)
    rows += _section(tr, tr("Expenditure"), tr("Total expenditure"), account.expenditure)
    rows.append(TableRow((tr("Surplus (deficit, if negative)"), account.net_surplus_minor,
                          account.previous_net_surplus_minor), "total"))
    return TableDoc(tr("Income and expenditure"), (
        tr("From {first} to {last}", first=day_text(account.first), last=day_text(account.last)),
        tr("Amounts in {currency}", currency=society.currency)),
        (tr("Particulars"), _period(account.first, account.last),
         _period(account.previous_first, account.previous_last)), tuple(rows))


def receipts_payments_doc(account: ReceiptsPayments, tr: Translator,
                          society: Society) -> TableDoc:
    rows = [TableRow((tr("Opening cash: cash on hand, tills and bank"),
                      account.opening_cash_minor, account.previous_opening_cash_minor),
                     "total")]
    rows += _section(tr, tr("Receipts"), tr("Total receipts"), account.receipts)
    rows += _section(tr, tr("Payments"), tr("Total payments"), account.payments)
    rows.append(TableRow((tr("Closing cash: cash on hand, tills and bank"),
                          account.closing_cash_minor, account.previous_closing_cash_minor),
                         "total"))
    return TableDoc(tr("Receipts and payments"), (
        tr("From {first} to {last}", first=day_text(account.first), last=day_text(account.last)),
        tr("Amounts in {currency}", currency=society.currency)),
        (tr("Particulars"), _period(account.first, account.last),
         _period(account.previous_first, account.previous_last)), tuple(rows))


def schedule_doc(found: Schedule, tr: Translator, society: Society) -> TableDoc:
    names = any(line.name is not None for line in found.lines)
    shares = found.name == "share-capital"
    headings = [tr("Member")] + ([tr("Name")] if names else []) + (
        [tr("Shares")] if shares else []) + [tr("Amount")]
    rows = [TableRow(tuple([line.member_code] + ([line.name or ""] if names else [])
                           + ([str(line.shares)] if shares else []) + [line.amount_minor]))
            for line in found.lines]
    blanks = [""] * (len(headings) - 2)
    rows.append(TableRow(tuple([tr("Total, {count} members", count=len(found.lines)),
                                *blanks, found.total_minor]), "total"))
    title = tr("Schedule of members' savings") if found.name == "savings" else tr(
        "Schedule of share capital")
    widths = (60, *([50] if names else []), *([30] if shares else []), 40)
    return TableDoc(title, (tr("As at {date}", date=day_text(found.as_of)),
                            tr("Amounts in {currency}", currency=society.currency)),
                    tuple(headings), tuple(rows), widths)



def class_name(tr: Translator, klass: str) -> str:
    """A loan class in words (the counter's "Loans by class" page uses the same)."""
    return {"standard": tr("Standard"), "sub_standard": tr("Sub-standard"),
            "doubtful_1": tr("Doubtful 1"), "doubtful_2": tr("Doubtful 2"),
            "doubtful_3": tr("Doubtful 3"), "loss": tr("Loss")}[klass]


def loans_schedule_doc(as_of: date, lines: Sequence[ScheduleLine], tr: Translator,
                       society: Society, names: Mapping[str, str] | None = None) -> TableDoc:
    """Member-wise loans outstanding: the total is the balance sheet's loans before the
    provision, and the provisions add up to the classification's."""
    named = names is not None
    headings = ([tr("Member")] + ([tr("Name")] if named else [])
                + [tr("Loan"), tr("Product"), tr("Paid out on"), tr("Outstanding principal"),
                   tr("Days overdue"), tr("Class"), tr("Provision")])
    rows = [TableRow(tuple([line.member_code]
                           + ([(names or {}).get(line.member_code, "")] if named else [])
                           + [str(line.loan_id), line.product,
                              day_text(line.disbursed_on) if line.disbursed_on else "",
                              line.outstanding_minor, str(line.days_overdue),
                              class_name(tr, line.klass), line.provision_minor]))
            for line in lines]
    blanks = [""] * (3 + (1 if named else 0))
    rows.append(TableRow((tr("Total, {count} loans", count=len(lines)), *blanks,
                          sum(line.outstanding_minor for line in lines), "", "",
                          sum(line.provision_minor for line in lines)), "total"))
    widths = (22, *([30] if named else []), 12, 18, 22, 28, 16, 22, 22)
    return TableDoc(tr("Schedule of loans outstanding"), (
        tr("As at {date}", date=day_text(as_of)),
        tr("Amounts in {currency}", currency=society.currency)),
        tuple(headings), tuple(rows), widths)


def classification_doc(found: Classification, tr: Translator,
                       society: Society) -> TableDoc:
    """Loans by class with the provision each requires at the society's percents."""
    rows = [TableRow((class_name(tr, line.klass), str(line.loans), line.outstanding_minor,
                      f"{line.percent.normalize():f} %", line.provision_minor))
            for line in found.lines]
    rows.append(TableRow((tr("Total"), str(sum(line.loans for line in found.lines)),
                          found.outstanding_minor, "", found.total_provision_minor), "total"))
    return TableDoc(tr("Loans by class and the provision they require"), (
        tr("As at {date}", date=day_text(found.as_of)),
        tr("Amounts in {currency}", currency=society.currency)),
        (tr("Class"), tr("Loans"), tr("Outstanding principal"), tr("Provision percent"),
         tr("Provision")), tuple(rows), (50, 20, 40, 30, 38))


def trial_balance_doc(balance: queries.TrialBalance, as_of: date, tr: Translator,
                      society: Society) -> TableDoc:
    """Every general-ledger account with its debit or credit balance, and the totals."""
    rows = [TableRow((row.account, account_name(tr, row.account, row.name), row.type,
                      row.debit_minor, row.credit_minor)) for row in balance.rows]
    rows.append(TableRow((tr("Total"), "", "", balance.total_debit_minor,
                          balance.total_credit_minor), "total"))
    return TableDoc(tr("Trial balance"), (
        tr("As at {date}", date=day_text(as_of)),
        tr("Amounts in {currency}", currency=society.currency)),
        (tr("Account"), tr("Name"), tr("Type"), tr("Debit"), tr("Credit")), tuple(rows),
        (18, 80, 22, 29, 29))

@dataclass(frozen=True)
class Charts:
    """The months of the charts: savings, share capital, income and expenditure, and the
    loans' outstanding principal and PAR30."""

    months: tuple[MonthFigures, ...]
    par: tuple[MonthPar, ...]


def gather_charts(session: Session, *, through: date) -> Charts:
    months = statements.monthly(session, through=through)
    par = loans.par30_by_month(session, [(m.month, m.through) for m in months])
    return Charts(tuple(months), tuple(par))


@dataclass(frozen=True)
class ChartView:
    """One chart: its title, the words under it, and its geometry."""

    key: str
    title: str
    note: str
    chart: charts.BarChart


def chart_views(found: Charts, tr: Translator, currency: str, *, width: float,
                height: float, text: float) -> list[ChartView]:
    """The five charts, for the PDF and the counter page alike."""
    def amounts(key: str, title: str, values: Sequence[Sequence[int]],
                note: str) -> ChartView:
        points = [(m.month, [to_decimal(v, currency) for v in series])
                  for m, series in zip(found.months, values, strict=True)]
        chart, unit = charts.amount_chart(points, width=width, height=height, text=text)
        counted = {1: tr("Amounts in {currency}", currency=currency),
                   1000: tr("Amounts in thousands of {currency}", currency=currency)}.get(
            int(unit), tr("Amounts in millions of {currency}", currency=currency))
        return ChartView(key, title, f"{note} {counted}", chart)

    months = found.months
    views = [
        amounts("savings", tr("Members' savings at each month's end"),
                [[m.savings_minor] for m in months], tr("Balance at the end of each month.")),
        amounts("shares", tr("Share capital at each month's end"),
                [[m.share_capital_minor] for m in months],
                tr("Balance at the end of each month.")),
        amounts("income", tr("Income and expenditure by month"),
                [[m.income_minor, m.expenditure_minor] for m in months],
                tr("Black: income. Grey: expenditure.")),
        amounts("loans", tr("Loans outstanding at each month's end"),
                [[p.outstanding_minor] for p in found.par],
                tr("Principal outstanding at the end of each month.")),
    ]
    views.append(ChartView("par30", tr("PAR30 by month"), tr(
        "Percent of the principal outstanding that is more than 30 days past due, at the end "
        "of each month."), charts.bar_chart([(p.month, p.par30) for p in found.par],
                                            width=width, height=height, text=text)))
    return views


def chart_flowables(ctx: Context, found: Charts) -> list[Flowable]:
    width = A4[0] - 32 * mm
    flowables: list[Flowable] = []
    for view in chart_views(found, ctx.type.tr, ctx.society.currency, width=width,
                            height=CHART_HEIGHT, text=BODY - 3):
        flowables.append(KeepTogether([
            ctx.type.paragraph(view.title, BODY + 1, bold=True), Spacer(1, 1.5 * mm),
            charts.drawing(view.chart, font=ctx.type.latin[False]),
            ctx.type.paragraph(view.note, BODY - 2), Spacer(1, 5 * mm)]))
    return flowables


def document_context(session: Session, society: Society) -> Context:
    book = queries.book(session)
    head = (book.head_seq, book.head_hash) if book else (0, "")
    return context_of(society, society.settings.language, head)


def render(fmt: Format, docs: Sequence[TableDoc], ctx: Context, *, printed_on: date | None,
           found: Charts | None = None, created: date | None = None) -> bytes:
    """The tables as one file: CSV and XLSX hold the first table (a statement is one), the
    PDF every table, with the charts on a page of their own when `found` is given."""
    if fmt == "csv":
        return csv_bytes(docs[0], ctx.money)
    if fmt == "xlsx":
        return xlsx_bytes(docs[0], exponent=minor_digits(ctx.society.currency), created=created)
    extra = chart_flowables(ctx, found) if found is not None else []
    return pdf_bytes(ctx, docs, printed_on=printed_on, extra=extra)


__all__ = [
    "CHART_NAMES",
    "FORMATS",
    "MEDIA_TYPES",
    "ChartView",
    "Charts",
    "Format",
    "account_words",
    "balance_sheet_doc",
    "chart_views",
    "class_name",
    "classification_doc",
    "document_context",
    "gather_charts",
    "income_expenditure_doc",
    "loans_schedule_doc",
    "receipts_payments_doc",
    "render",
    "schedule_doc",
    "trial_balance_doc",
]
