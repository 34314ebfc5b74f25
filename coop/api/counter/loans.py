"""A loan applied for at the counter (issue 17): the clerk picks a product, the principal,
the installments and what the loan is for (a category, never free text), and names up to
three guarantors by member number with what each guarantees.

Nothing is saved until she has seen the quote: the first post shows the key facts (what she
receives, each installment, the total interest, the APR, the schedule) and the holds each
guarantor's savings will carry, with every refusal in words next to its field
(`loans.quote_application`, which writes nothing). The confirm step posts the same fields and
the quote's `figures`; `loans.apply` stores the loan only if the figures come out the same
(else the new quote is shown again), and it goes to the board's queue (/counter/board)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from coop import loans, members
from coop.api.counter.clerk import CounterController
from coop.api.counter.web import Form, Page, page, write
from coop.api.deps import app_state
from coop.api.security import allow
from coop.auth import Role
from coop.errors import CoopError
from coop.members.codes import normalise
from coop.money import parse_minor

A, C = Role.ADMIN, Role.CLERK
Code = FromPath[str]
GUARANTORS = 3
"""Guarantor rows on the form (no JavaScript adds more)."""
INSTALLMENTS_MAX = 520

PURPOSE_WORDS = {
    "business": "Business", "education": "Education", "health": "Health",
    "housing": "Housing", "emergency": "Emergency", "debts": "Paying off debts",
    "household": "Household", "other": "Other",
}
FREQUENCY_WORDS = {"daily": "daily", "weekly": "weekly", "fortnightly": "every two weeks",
                   "monthly": "monthly"}


def _purposes(view: Page) -> list[tuple[str, str]]:
    return [(code, view.tr(PURPOSE_WORDS[code])) for code in loans.PURPOSES]


def _frequency(view: Page, value: str) -> str:
    return view.tr(FREQUENCY_WORDS[value]) if value in FREQUENCY_WORDS else value


class _Wanted:
    """The application as the form gave it, parsed; refusals of what could not be read."""

    def __init__(self, view: Page, code: str, form: dict[str, Any]) -> None:
        self.code = code
        self.errors: dict[str, Any] = {}
        currency = view.society.currency
        self.product = str(form.get("product", "")).strip()
        if not self.product:
            self.errors["product"] = view.tr("Choose a loan product.")
        self.principal = 0
        try:
            self.principal = parse_minor(str(form.get("principal", "")).strip(), currency,
                                         field="principal")
        except CoopError as error:
            self.errors["principal"] = error
        text = str(form.get("installments", "")).strip()
        self.installments: int | None = None
        if text:
            if text.isdigit() and 1 <= int(text) <= INSTALLMENTS_MAX:
                self.installments = int(text)
            else:
                self.errors["installments"] = view.tr(
                    "Installments is a whole number from 1 to {most}, or empty for the "
                    "product's.", most=INSTALLMENTS_MAX)
        self.purpose = str(form.get("purpose", "")).strip()
        if self.purpose not in loans.PURPOSES:
            self.errors["purpose"] = view.tr("Choose what the loan is for.")
        self.guarantors: list[loans.Guarantee] = []
        self.rows: list[int] = []
        """The form's row of each guarantor named (rows left empty are skipped)."""
        for n in range(1, GUARANTORS + 1):
            who = str(form.get(f"guarantor_{n}_code", "")).strip()
            amount = str(form.get(f"guarantor_{n}_amount", "")).strip()
            if not who and not amount:
                continue
            if not who:
                self.errors[f"guarantor_{n}"] = view.tr("Type the guarantor's member number.")
                continue
            try:
                self.guarantors.append(loans.Guarantee(
                    normalise(who), parse_minor(amount, currency, field=f"guarantor_{n}")))
                self.rows.append(n)
            except CoopError as error:
                self.errors[f"guarantor_{n}"] = view.tr(
                    "Type the amount she guarantees.") if not amount else error

    def errors_of(self, error: CoopError) -> dict[str, Any]:
        """A refusal next to its field: the n-th guarantor's on her row of the form, one
        about her (or any other) at the top."""
        name = error.field or "member"
        if name.startswith("guarantor_") and name[10:].isdigit() \
                and 1 <= int(name[10:]) <= len(self.rows):
            name = f"guarantor_{self.rows[int(name[10:]) - 1]}"
        elif name not in ("product", "principal", "installments", "purpose"):
            name = "member"
        return {name: error}

    def arguments(self) -> dict[str, Any]:
        return {"member_code": self.code, "product_code": self.product,
                "principal_minor": self.principal, "installments": self.installments,
                "purpose": self.purpose, "guarantors": self.guarantors}


def _form_fields(form: dict[str, Any]) -> dict[str, str]:
    """What the clerk typed, to post again on the confirm step."""
    names = ["product", "principal", "installments", "purpose"] + [
        f"guarantor_{n}_{part}" for n in range(1, GUARANTORS + 1) for part in ("code", "amount")]
    return {name: str(form.get(name, "")).strip() for name in names}


def _quote_view(view: Page, quoted: loans.ApplicationQuote) -> dict[str, Any]:
    schedule, terms = quoted.schedule, quoted.terms
    rows = schedule.installments
    return {
        "product": quoted.product.name, "principal": terms.principal, "fee": terms.fee,
        "received": terms.principal - terms.fee, "count": len(rows),
        "frequency": _frequency(view, str(terms.frequency.value)),
        "rate": terms.annual_rate,
        "installment": rows[0].total if rows else 0,
        "interest": schedule.total_interest,
        "repay": schedule.total_principal + schedule.total_interest,
        "apr": schedule.apr, "rows": rows,
        "guarantors": [{"code": g.member_code, "hold": g.amount_minor,
                        "available": g.available_minor,
                        "after": g.available_minor - g.amount_minor}
                       for g in quoted.guarantors],
        "figures": quoted.figures}


class LoanApplicationController(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/members/{code:str}/loan-application", opt=allow(A, C), sync_to_thread=True)
    def application_form(self, request: Request[Any, Any, Any], code: Code) -> Template:
        state = app_state(request)
        try:
            state.db.read(lambda s: members.get_member(s, code))
        except members.MemberNotFound as error:
            raise NotFoundException() from error  # "Not found", in words
        return _render(request, code, form={})

    @post("/members/{code:str}/loan-application", opt=allow(A, C), sync_to_thread=True,
          status_code=200)
    def application(self, request: Request[Any, Any, Any], code: Code,
                    data: Form) -> Response[Any]:
        """Without `confirm`: the quote and the refusals, nothing saved. With it: the loan
        applied for, if the figures shown are still the figures."""
        view, state = page(request), app_state(request)
        assert view.principal is not None
        actor = view.principal.username
        wanted = _Wanted(view, code, data)
        if wanted.errors:
            return _render(request, code, form=data, errors=wanted.errors, status=422)
        changed = None
        if data.get("confirm"):
            try:
                loan, _ = write(request, lambda s: loans.apply(
                    s, **wanted.arguments(), society=view.society, actor=actor,
                    clock=state.clock, quoted=str(data.get("figures", ""))))
            except loans.QuoteChanged:
                changed = view.tr("The figures changed since the quote was shown: read the "
                                  "new quote with her.")
            except CoopError as error:
                return _render(request, code, form=data, errors=wanted.errors_of(error),
                               status=422)
            else:
                notice = view.tr("Loan {loan} applied for: it waits for the board's votes.",
                                 loan=loan.id)
                return Redirect(f"/counter/members/{code}?done={quote(notice)}",
                                status_code=303)

        def look(session: Session) -> loans.ApplicationQuote:
            return loans.quote_application(session, **wanted.arguments(),
                                           society=view.society, today=state.clock.today())

        try:
            quoted = state.db.read(look)
        except CoopError as error:
            return _render(request, code, form=data, errors=wanted.errors_of(error),
                               status=422)
        errors: dict[str, Any] = {}
        for refusal in quoted.refusals:
            for name, detail in wanted.errors_of(refusal).items():
                errors.setdefault(name, detail)
        return _render(request, code, form=data, errors=errors, quoted=quoted,
                       changed=changed, status=422 if errors else 200)


def _render(request: Request[Any, Any, Any], code: str, *, form: dict[str, Any],
            errors: dict[str, Any] | None = None, quoted: loans.ApplicationQuote | None = None,
            changed: str | None = None, status: int = 200) -> Template:
    view, state = page(request), app_state(request)
    view.errors = errors or {}
    view.notice = changed
    products = state.db.read(loans.list_products)
    return Template("loan_application.html", status_code=status, context=view.context(
        code=code, form=form, products=products, purposes=_purposes(view),
        guarantor_rows=range(1, GUARANTORS + 1),
        quote=_quote_view(view, quoted) if quoted is not None else None,
        confirm=quoted is not None and not view.errors,
        fields=_form_fields(form)))


LoanApplicationController.exception_handlers = CounterController.exception_handlers

__all__ = ["LoanApplicationController"]
