"""Loan classification and provisioning: the loans by class, the provisioning runs, the
board's loss marks and the member-wise schedule of loans outstanding (CONTRACT.md Loans)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pydantic import Field, create_model

from coop.api.schemas.common import Day, In, MoneyText, Out, Page, money
from coop.loans.classification import Classification
from coop.loans.losses import LossMark
from coop.loans.orm import NOTE_LENGTH_MAX
from coop.loans.provisioning import ProvisioningRun, ScheduleLine

_CLASS_FIELD: dict[str, Any] = {"class": (str, Field(examples=["sub_standard"]))}
_WithClass = create_model("_WithClass", __base__=Out, **_CLASS_FIELD)
"""A body with a field named `class` (a Python keyword, so not a class attribute): built by
name, the JSON and the OpenAPI document both say `class`."""


class ClassLineOut(_WithClass):
    loans: int
    outstanding_principal: MoneyText
    provision_percent: str = Field(examples=["10"])
    provision: MoneyText


class ClassificationOut(Out):
    as_of: date
    classes: list[ClassLineOut]
    total_provision: MoneyText


def classification_out(found: Classification, currency: str) -> ClassificationOut:
    return ClassificationOut(
        as_of=found.as_of,
        classes=[ClassLineOut(
            **{"class": line.klass.value}, loans=line.loans,
            outstanding_principal=money(line.outstanding_minor, currency),
            provision_percent=str(line.percent), provision=money(line.provision_minor, currency))
            for line in found.lines],
        total_provision=money(found.total_provision_minor, currency))


class ProvisioningRunIn(In):
    as_of: Day


class ProvisioningRunOut(Out):
    as_of: date
    required: MoneyText
    previous: MoneyText
    change: MoneyText = Field(examples=["-250.00"])
    """Signed: negative when the provision fell (written back)."""
    entry_id: int | None
    posted_by: str


def provisioning_run_out(run: ProvisioningRun, currency: str) -> ProvisioningRunOut:
    return ProvisioningRunOut(
        as_of=run.as_of, required=money(run.required_minor, currency),
        previous=money(run.previous_minor, currency),
        change=_signed(run.change_minor, currency), entry_id=run.entry_id,
        posted_by=run.posted_by)


def _signed(amount_minor: int, currency: str) -> str:
    text = money(abs(amount_minor), currency)
    return f"-{text}" if amount_minor < 0 else text


def provisioning_runs_out(runs: Iterable[ProvisioningRun],
                          currency: str) -> Page[ProvisioningRunOut]:
    return Page[ProvisioningRunOut](items=[provisioning_run_out(run, currency) for run in runs])


class LossMarkIn(In):
    reason: str = Field(min_length=1, max_length=NOTE_LENGTH_MAX)
    on: Day | None = None


class LossMarkOut(Out):
    loan_id: int
    status: str = Field(examples=["marked", "reversed"])
    marked_on: date
    marked_by: str
    reversed_on: date | None
    reversed_by: str | None


def loss_mark_out(mark: LossMark) -> LossMarkOut:
    return LossMarkOut(loan_id=mark.loan_id, status=mark.status, marked_on=mark.marked_on,
                       marked_by=mark.marked_by, reversed_on=mark.reversed_on,
                       reversed_by=mark.reversed_by)


class LoanScheduleLineOut(_WithClass):
    member_code: str
    known_as: str | None = None
    """Only with `names=true`, for admin and board; each read is logged."""
    loan_id: int
    product: str
    disbursed_on: date | None
    outstanding_principal: MoneyText
    days_overdue: int
    provision: MoneyText


class LoanScheduleOut(Out):
    as_of: date
    items: list[LoanScheduleLineOut]
    total_outstanding_principal: MoneyText
    total_provision: MoneyText


def loan_schedule_out(as_of: date, lines: Iterable[ScheduleLine], currency: str,
                      names: Mapping[str, str | None] | None = None) -> LoanScheduleOut:
    found = list(lines)
    return LoanScheduleOut(
        as_of=as_of,
        items=[LoanScheduleLineOut(
            member_code=line.member_code,
            known_as=names.get(line.member_code) if names is not None else None,
            loan_id=line.loan_id, product=line.product, disbursed_on=line.disbursed_on,
            outstanding_principal=money(line.outstanding_minor, currency),
            days_overdue=line.days_overdue, **{"class": line.klass.value},
            provision=money(line.provision_minor, currency)) for line in found],
        total_outstanding_principal=money(sum(x.outstanding_minor for x in found), currency),
        total_provision=money(sum(x.provision_minor for x in found), currency))


__all__ = ["ClassLineOut", "ClassificationOut", "LoanScheduleLineOut", "LoanScheduleOut",
           "LossMarkIn", "LossMarkOut", "ProvisioningRunIn", "ProvisioningRunOut",
           "classification_out", "loan_schedule_out", "loss_mark_out",
           "provisioning_run_out", "provisioning_runs_out"]
