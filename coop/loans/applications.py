"""Loan applications: the society's eligibility rules as one pure function
(`check_eligibility`, DESIGN.md §7), and `apply`, which gathers her facts, asks it, and
stores the pending loan with its guarantees (guarantors' savings go on hold at once)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop import board, savings
from coop.clock import Clock
from coop.errors import Conflict, CoopError, InvalidInput
from coop.ledger.model import InsufficientFunds
from coop.loans.cover import cover
from coop.loans.errors import AboveLimit, NotEligible
from coop.loans.guarantors import Guarantee, add_guarantee, check_guarantee
from coop.loans.orm import OPEN_STATUSES, PURPOSES, LoanRow
from coop.loans.products import Product, get_product, terms_json
from coop.loans.records import Loan, loan_of
from coop.loans.schedule import Schedule, Terms, build
from coop.members import MemberNotActive, MemberRow, get_member
from coop.money import Amount, parse_minor
from coop.society import Society, SocietySettings, book_currency

# --- the rules (pure) -----------------------------------------------------------------------


@dataclass(frozen=True)
class EligibilityFacts:
    """What is known about her and the loan she asks for. Amounts in minor units."""

    member_code: str
    membership_days: int
    open_loans: int
    """Her loans pending, approved or active."""
    cover_minor: int
    """Her savings plus paid-up shares."""
    guaranteed_minor: int
    principal_minor: int
    product_max_minor: int | None


@dataclass(frozen=True)
class EligibilityRules:
    """The society's settings that decide who may borrow how much."""

    min_membership_days: int
    max_open_loans: int
    max_principal_minor: int | None
    cover_multiple: Decimal
    """Principal at most this many times savings and shares (plus guarantees)."""

    @classmethod
    def of(cls, settings: SocietySettings, *, currency: str) -> EligibilityRules:
        top = settings.loan_max_principal
        return cls(settings.loan_min_membership_days, settings.loan_max_open_loans,
                   parse_minor(top, currency, field="amount") if top is not None else None,
                   Decimal(settings.max_loan_multiple_of_savings))


@dataclass(frozen=True)
class Refusal:
    """One rule she does not meet. `detail` may hold `{amount}`: `amount_minor` in words."""

    kind: Literal["not_eligible", "above_limit"]
    field: str
    detail: str
    amount_minor: int | None = None


def check_eligibility(facts: EligibilityFacts, rules: EligibilityRules) -> list[Refusal]:
    """Every rule `facts` break, in the order a clerk is told them: membership days, the
    product's and the society's maximum, open loans, then share and savings cover."""
    refusals: list[Refusal] = []
    code = facts.member_code
    if facts.membership_days < rules.min_membership_days:
        refusals.append(Refusal(
            "not_eligible", "member_code",
            f"members may borrow after {rules.min_membership_days} days of membership; "
            f"{code} joined {facts.membership_days} days ago"))
    for limit, what in ((facts.product_max_minor, "the product's maximum"),
                        (rules.max_principal_minor, "the society's maximum")):
        if limit is not None and facts.principal_minor > limit:
            refusals.append(Refusal("above_limit", "principal",
                                    f"the principal is above {what}, {{amount}}", limit))
    if facts.open_loans >= rules.max_open_loans:
        refusals.append(Refusal(
            "not_eligible", "member_code",
            f"{code} has {facts.open_loans} open loan(s); the society allows "
            f"{rules.max_open_loans}"))
    covered = facts.cover_minor * Fraction(rules.cover_multiple) + facts.guaranteed_minor
    if facts.principal_minor > covered:
        refusals.append(Refusal(
            "above_limit", "principal",
            f"the principal is above {rules.cover_multiple} times her savings and shares plus "
            "guarantees ({amount})", int(covered)))
    return refusals


def refusal_error(session: Session, refusal: Refusal) -> CoopError:
    detail = refusal.detail
    if refusal.amount_minor is not None:
        detail = detail.replace("{amount}", savings.money_text(session, refusal.amount_minor))
    kind = NotEligible if refusal.kind == "not_eligible" else AboveLimit
    return kind(detail, field=refusal.field)


# --- applying -------------------------------------------------------------------------------


class QuoteChanged(Conflict):
    code = "quote_changed"
    title = "The quote changed since it was shown"


def figures(schedule: Schedule) -> str:
    """A short digest of what a quote shows (fee, APR, every installment's date and amounts):
    the confirmation of an application carries it, and a loan is stored only if the same
    figures come out again."""
    text = f"{schedule.terms.fee}|{schedule.apr}|" + ";".join(
        f"{i.due_on}:{i.principal}:{i.interest}" for i in schedule.installments)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class GuarantorHold:
    """A guarantor named on an application: the hold her savings will carry."""

    member_code: str
    amount_minor: int
    available_minor: int


@dataclass(frozen=True)
class ApplicationQuote:
    """What `apply` would store, worked out without storing anything: the schedule (the key
    facts: installments, total interest, APR), the holds on the guarantors' savings, and
    every refusal (`CoopError`s with their fields; `guarantor_<n>` for the n-th guarantor)."""

    product: Product
    terms: Terms
    schedule: Schedule
    guarantors: tuple[GuarantorHold, ...]
    refusals: tuple[CoopError, ...]

    @property
    def figures(self) -> str:
        return figures(self.schedule)


def _facts(session: Session, member: MemberRow, product: Product, *, principal_minor: int,
           guaranteed_minor: int, today: date) -> EligibilityFacts:
    open_loans = session.execute(select(func.count()).select_from(LoanRow).where(
        LoanRow.member_id == member.id, LoanRow.status.in_(OPEN_STATUSES))).scalar_one()
    return EligibilityFacts(
        member_code=member.code, membership_days=(today - member.joined_on).days,
        open_loans=int(open_loans), cover_minor=cover(session, member.code),
        guaranteed_minor=guaranteed_minor, principal_minor=principal_minor,
        product_max_minor=product.max_principal_minor)


def quote_application(
    session: Session, *, member_code: str, product_code: str, principal_minor: int,
    installments: int | None, purpose: str | None, guarantors: Sequence[Guarantee],
    society: Society, today: date,
) -> ApplicationQuote:
    """The application `apply` would take, quoted and checked, writing nothing. What makes
    no schedule at all (an exited member, no such product, a principal of zero, terms that
    cannot be drawn) is raised; what the rules refuse is listed in `refusals`."""
    member = get_member(session, member_code)
    if member.status != "active":
        raise MemberNotActive.said("{member_code} has exited", member_code=member_code)
    _, product = get_product(session, product_code)
    refusals: list[CoopError] = []
    if purpose is not None and purpose not in PURPOSES:
        refusals.append(InvalidInput.said(
            "purpose is one of {purposes}",
            purposes=", ".join(PURPOSES), field="purpose"))
    if principal_minor <= 0:
        raise InvalidInput("principal must be more than zero", field="principal")
    terms = product.terms.terms(principal=principal_minor, disbursed_on=today,
                                installments=installments,
                                fee=product.fee_for(principal_minor))
    schedule = build(terms)
    facts = _facts(session, member, product, principal_minor=principal_minor,
                   guaranteed_minor=sum(g.amount_minor for g in guarantors), today=today)
    rules = EligibilityRules.of(society.settings, currency=book_currency(session))
    refusals.extend(refusal_error(session, r) for r in check_eligibility(facts, rules))
    holds: list[GuarantorHold] = []
    seen: set[str] = set()
    board_codes = board.seated(session)
    for n, guarantee in enumerate(guarantors, start=1):
        try:
            check_guarantee(session, guarantee, borrower=member_code, board_codes=board_codes,
                            seen=seen)
            available = savings.balances(session, guarantee.member_code).available_minor
        except CoopError as error:
            error.field = f"guarantor_{n}"
            refusals.append(error)
            continue
        if guarantee.amount_minor > available:
            refusals.append(InsufficientFunds.said(
                "{member_code} has {available} available: a hold cannot exceed it",
                member_code=guarantee.member_code,
                available=Amount(available, book_currency(session)), field=f"guarantor_{n}"))
        holds.append(GuarantorHold(guarantee.member_code, guarantee.amount_minor, available))
    return ApplicationQuote(product, terms, schedule, tuple(holds), tuple(refusals))


def apply(
    session: Session, *, member_code: str, product_code: str, principal_minor: int,
    installments: int | None, purpose: str | None, guarantors: Sequence[Guarantee],
    society: Society, actor: str, clock: Clock, quoted: str | None = None,
) -> tuple[Loan, Schedule]:
    """A loan application, checked against the society's eligibility rules; guarantors'
    savings are put on hold at once. Returns the loan (pending) and its provisional schedule
    (dated from today; the real one is drawn at disbursement). With `quoted` (the `figures`
    of a quote shown to her) the loan is stored only if its figures are still those: else
    `QuoteChanged`, and nothing is stored."""
    member = get_member(session, member_code)
    # her row locked: two applications for her at once are checked one after the other
    session.execute(select(MemberRow.id).where(MemberRow.id == member.id).with_for_update())
    if member.status != "active":
        raise MemberNotActive.said("{member_code} has exited", member_code=member_code)
    product_id, product = get_product(session, product_code)
    today = clock.today()
    if purpose is not None and purpose not in PURPOSES:
        raise InvalidInput.said(
            "purpose is one of {purposes}",
            purposes=", ".join(PURPOSES), field="purpose")
    if principal_minor <= 0:
        raise InvalidInput("principal must be more than zero", field="principal")
    fee = product.fee_for(principal_minor)
    terms = product.terms.terms(principal=principal_minor, disbursed_on=today,
                                installments=installments, fee=fee)
    schedule = build(terms)
    if quoted is not None and figures(schedule) != quoted:
        raise QuoteChanged("the figures of this loan changed since they were shown: show "
                           "her the new quote", field="quote")
    facts = _facts(session, member, product, principal_minor=principal_minor,
                   guaranteed_minor=sum(g.amount_minor for g in guarantors), today=today)
    rules = EligibilityRules.of(society.settings, currency=book_currency(session))
    refusals = check_eligibility(facts, rules)
    if refusals:
        raise refusal_error(session, refusals[0])
    row = LoanRow(
        member_id=member.id, product_id=product_id, status="pending",
        principal_minor=principal_minor, fee_minor=fee, terms_json=terms_json(terms),
        purpose=purpose, applied_on=today, applied_by=actor, decided_on=None, disbursed_on=None,
        closed_on=None, account_code=None, plan_version=0, outstanding_minor=0,
        first_unpaid_due=None, last_event_on=None, written_off_minor=0, recovered_minor=0)
    session.add(row)
    session.flush()
    seen: set[str] = set()
    board_codes = board.seated(session)
    for guarantee in guarantors:
        add_guarantee(session, row, guarantee, borrower=member_code, board_codes=board_codes,
                      seen=seen, actor=actor, clock=clock)
    return loan_of(session, row, product), schedule


__all__ = ["ApplicationQuote", "EligibilityFacts", "EligibilityRules", "GuarantorHold",
           "QuoteChanged", "Refusal", "apply", "check_eligibility", "figures",
           "quote_application", "refusal_error"]
