"""Loan classification and the provision it asks for: a pure calculation over plain values
(the RBI/NABARD asset classification Indian co-operatives use; CONTRACT.md Loans).

Each loan is seen on `as_of` through a `risk.Snapshot` (its outstanding principal, the due
date of its oldest unpaid installment, the moratorium windows of its plan) and whether the
board has marked it a loss. Then:

    days overdue  = as_of - oldest unpaid due date - days of that span inside a moratorium
                    (risk.days_past_due: the days do not grow while a moratorium runs)
    class         = loss         the board marked it a loss, or it is written off while
                                 something of it is still to be recovered
                    standard     0 to 90 days overdue (nothing overdue more than 90 days)
                    sub_standard 91 to 455
                    doubtful_1   456 to 820
                    doubtful_2   821 to 1,550
                    doubtful_3   more than 1,550
    provision     = outstanding principal x the class's percent / 100, rounded HALF_EVEN
                    to the minor unit, loan by loan; a class's provision and the total are
                    the sums of the loans' (never a rounding of a sum)

A written-off loan's principal has left 1100 (it was written off to 5200 Loan losses), so
while it is still being recovered it is counted in `loss` with no principal outstanding in
the books and no provision: providing for it again would count the loss twice.

The percents are the society's settings (`provision_<class>_percent`, CONTRACT.md Society;
coop.society checks each is 0 to 100 with at most two decimals); by default 0.40, 10, 20,
30, 100 and 100.

A worked example a person can check (tests/unit/test_loan_classification.py), on 31 March
2026, with the default percents:

    loan  outstanding  oldest unpaid due  days  class         provision
    1     10,000.00    -                     0  standard      10,000.00 x 0.40 % =    40.00
    2      5,000.00    31 December 2025     90  standard       5,000.00 x 0.40 % =    20.00
    3      3,333.33    30 December 2025     91  sub_standard   3,333.33 x 10 %   =   333.33
    4      1,234.57    1 January 2025      454  sub_standard   1,234.57 x 10 %   =   123.46
    5      2,000.00    (marked a loss)       -  loss           2,000.00 x 100 %  = 2,000.00
                                                               total provision    2,516.79

Postconditions (tests/property/test_provisioning_properties.py): every class is listed, in
the order above; the classes' loans and principal add up to the loans given; the total
provision is the sum of the per-loan provisions; a provision is never more than the loan's
principal outstanding nor negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from coop.errors import require
from coop.loans.risk import Snapshot, days_past_due


class LoanClass(StrEnum):
    STANDARD = "standard"
    SUB_STANDARD = "sub_standard"
    DOUBTFUL_1 = "doubtful_1"
    DOUBTFUL_2 = "doubtful_2"
    DOUBTFUL_3 = "doubtful_3"
    LOSS = "loss"


CLASSES: tuple[LoanClass, ...] = tuple(LoanClass)
OVERDUE_LIMITS: tuple[tuple[int, LoanClass], ...] = (
    (90, LoanClass.STANDARD),
    (455, LoanClass.SUB_STANDARD),
    (820, LoanClass.DOUBTFUL_1),
    (1550, LoanClass.DOUBTFUL_2),
)
"""The most days overdue each class takes; more than the last is doubtful_3."""

DEFAULT_PERCENTS: Mapping[LoanClass, Decimal] = {
    LoanClass.STANDARD: Decimal("0.40"),
    LoanClass.SUB_STANDARD: Decimal("10"),
    LoanClass.DOUBTFUL_1: Decimal("20"),
    LoanClass.DOUBTFUL_2: Decimal("30"),
    LoanClass.DOUBTFUL_3: Decimal("100"),
    LoanClass.LOSS: Decimal("100"),
}
HUNDRED = Decimal(100)
WHOLE = Decimal(1)


def setting_name(klass: LoanClass) -> str:
    """The society setting holding the class's percent (`provision_standard_percent`)."""
    return f"provision_{klass.value}_percent"


def class_of(days_overdue: int, *, loss: bool = False) -> LoanClass:
    """The class of a loan overdue `days_overdue` days (0: nothing overdue)."""
    if loss:
        return LoanClass.LOSS
    for most, klass in OVERDUE_LIMITS:
        if days_overdue <= most:
            return klass
    return LoanClass.DOUBTFUL_3


def provision_of(outstanding_minor: int, percent: Decimal) -> int:
    """outstanding x percent / 100, HALF_EVEN to the minor unit."""
    require(outstanding_minor >= 0, "a loan's outstanding principal is never negative")
    exact = Decimal(outstanding_minor) * percent / HUNDRED
    return int(exact.quantize(WHOLE, rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class ClassifiedLoan:
    loan_id: int
    outstanding_minor: int
    days_overdue: int
    klass: LoanClass
    provision_minor: int


@dataclass(frozen=True, slots=True)
class ClassLine:
    klass: LoanClass
    loans: int
    outstanding_minor: int
    percent: Decimal
    provision_minor: int


@dataclass(frozen=True)
class Classification:
    as_of: date
    lines: tuple[ClassLine, ...]
    loans: tuple[ClassifiedLoan, ...]

    @property
    def total_provision_minor(self) -> int:
        return sum(line.provision_minor for line in self.lines)

    @property
    def outstanding_minor(self) -> int:
        return sum(line.outstanding_minor for line in self.lines)

    def line(self, klass: LoanClass) -> ClassLine:
        return next(line for line in self.lines if line.klass is klass)


def classify_loan(snapshot: Snapshot, as_of: date, percents: Mapping[LoanClass, Decimal], *,
                  loss: bool = False) -> ClassifiedLoan:
    """One loan on `as_of`: its days overdue (frozen in a moratorium), class and provision."""
    days = days_past_due(snapshot, as_of)
    klass = class_of(days, loss=loss)
    provision = provision_of(snapshot.outstanding_minor, percents[klass])
    require(0 <= provision <= snapshot.outstanding_minor,
            "a provision is at most the principal outstanding")
    return ClassifiedLoan(snapshot.loan_id, snapshot.outstanding_minor, days, klass, provision)


def classify(loans: Iterable[Snapshot], as_of: date, *,
             percents: Mapping[LoanClass, Decimal] = DEFAULT_PERCENTS,
             losses: Iterable[int] = ()) -> Classification:
    """Every loan on `as_of` by class, with the provision each class asks for. `losses`
    are the ids of the loans in `loss` whatever their days overdue (marked a loss by the
    board, or written off and still being recovered)."""
    lost = set(losses)
    found = tuple(classify_loan(loan, as_of, percents, loss=loan.loan_id in lost)
                  for loan in loans)
    lines = []
    for klass in CLASSES:
        mine = [loan for loan in found if loan.klass is klass]
        lines.append(ClassLine(klass, len(mine), sum(loan.outstanding_minor for loan in mine),
                               percents[klass], sum(loan.provision_minor for loan in mine)))
    result = Classification(as_of, tuple(lines), found)
    require(sum(line.loans for line in lines) == len(found)
            and result.total_provision_minor == sum(loan.provision_minor for loan in found),
            "the classes add up to the loans")
    return result


__all__ = [
    "CLASSES",
    "DEFAULT_PERCENTS",
    "OVERDUE_LIMITS",
    "ClassLine",
    "Classification",
    "ClassifiedLoan",
    "LoanClass",
    "class_of",
    "classify",
    "classify_loan",
    "provision_of",
    "setting_name",
]
