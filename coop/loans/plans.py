"""Making and changing a loan's plan (pure, no database): the plan periods of a schedule, a
reschedule (the rest of the principal spread again, a payment holiday, a new tail for a loan
past its last due date) and a moratorium window. `coop.loans.engine` replays a loan against
the plan these give."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from coop.loans.engine import Plan, PlanPeriod
from coop.loans.schedule import InterestMethod, Schedule, Terms, build, step

MAX_HOLIDAY_PERIODS = 400
"""The longest payment holiday a reschedule gives, in periods (a bound on its search)."""


def plan_of(schedule: Schedule, *, start_number: int = 1) -> tuple[PlanPeriod, ...]:
    """The plan periods of a schedule, numbered from `start_number`."""
    terms = schedule.terms
    flat = Fraction(1, terms.frequency.per_year)  # flat interest is the same every period
    return tuple(
        PlanPeriod(start_number + k, i.start_on, i.due_on, i.principal, i.interest, terms.rate,
                   (flat if i.year_fraction else i.year_fraction)
                   if terms.interest_method is InterestMethod.FLAT else i.year_fraction,
                   deferred=i.number <= terms.grace_on_interest_payment,
                   flat_basis=terms.principal if terms.interest_method is InterestMethod.FLAT
                   else 0)
        for k, i in enumerate(schedule.installments))


def replan(plan: Plan, terms: Terms, *, cut: date, extra_installments: int = 0,
           annual_rate: Decimal | None = None, holiday_until: date | None = None,
           holiday_interest: bool = True, frozen: tuple[date, date] | None = None,
           interest_free: bool = False, outstanding: int | None = None,
           paid: int | None = None) -> Plan:
    """A reschedule: installments due on or before `cut` stay as they are; the rest of the
    scheduled principal is spread again with the loan's terms over the remaining
    installments plus `extra_installments`, at `annual_rate` if given (from the start of the
    first rescheduled period). Installments that would fall due before `holiday_until`
    become a payment holiday: no principal, interest (if `holiday_interest`, else none)
    collected in the first installment after it, the term extended by as many periods. A
    loan past its last due date is given a new tail from `cut` for what she still owes
    (`outstanding`; the old installments then ask only what was `paid` towards them). A
    `frozen` window (a moratorium) stops arrears ageing; with
    `interest_free` no interest accrues in it.
    """
    kept = tuple(p for p in plan.periods if p.due_on <= cut)
    later = [p for p in plan.periods if p.due_on > cut]
    if later:
        start, first_due = (kept[-1].due_on if kept else plan.disbursed_on), later[0].due_on
        principal = sum(p.principal for p in later)  # what the plan still has to repay
    else:  # past maturity: a new schedule from today for the principal still owed, and the
        # old installments asking only what was paid on them (re-aged: the arrears move on)
        start, first_due = cut, step(cut, terms.frequency, 1)
        principal = outstanding if outstanding is not None else 0
        kept = _asking_only(kept, paid or 0)
    holiday = 0
    while holiday_until is not None and holiday < MAX_HOLIDAY_PERIODS and step(
            first_due, terms.frequency, holiday) < holiday_until:
        holiday += 1
    count = max(len(later), 1) + extra_installments + holiday
    rate = later[0].annual_rate if later else plan.periods[-1].annual_rate
    new_terms = replace(
        terms, principal=principal, installments=count, disbursed_on=start,
        first_due_on=first_due, fee=0,
        annual_rate=annual_rate if annual_rate is not None else Decimal(rate.numerator)
        * 100 / Decimal(rate.denominator),
        grace_on_principal=holiday, grace_on_interest_payment=holiday if holiday_interest
        else 0, grace_on_interest_charged=0 if holiday_interest else holiday)
    periods = plan_of(build(new_terms), start_number=len(kept) + 1)
    windows = plan.frozen + ((frozen,) if frozen else ())
    free = plan.interest_free + ((frozen,) if frozen and interest_free else ())
    return Plan(plan.principal, plan.flat, kept + periods, plan.penalty_rate, windows, free)


def _asking_only(periods: tuple[PlanPeriod, ...], paid: int) -> tuple[PlanPeriod, ...]:
    """The periods, each asking no more than what `paid` covers of it, in order."""
    result = []
    for period in periods:
        total = min(period.total, max(paid, 0))
        paid -= total
        interest = min(period.interest, total)
        result.append(replace(period, principal=total - interest, interest=interest))
    return tuple(result)


def freeze(plan: Plan, window: tuple[date, date], *, interest_free: bool) -> Plan:
    """The same plan with a moratorium window in which arrears do not age (and, if
    `interest_free`, no interest accrues): for a loan whose schedule cannot be redrawn."""
    return Plan(plan.principal, plan.flat, plan.periods, plan.penalty_rate,
                (*plan.frozen, window),
                plan.interest_free + ((window,) if interest_free else ()))
