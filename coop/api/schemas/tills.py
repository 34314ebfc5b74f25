"""Tills (CONTRACT.md: Tills): bodies and presenters."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from coop.api.schemas.common import In, MoneyText, Out, money
from coop.tills import Till

TillStatus = Literal["open", "variance_pending", "closed"]


class TillIn(In):
    opening_float: MoneyText


class TillCloseIn(In):
    counted: MoneyText
    denominations: dict[str, int] | None = Field(
        default=None, max_length=30, examples=[{"500": 3, "100": 1, "20": 1, "10": 1}],
        description="How many of each note and coin (by face value); they add up to "
                    "`counted`.")


class TillOpenedOut(Out):
    id: int
    status: Literal["open"]
    user: str
    opening_float: MoneyText


class TillOut(Out):
    id: int
    status: TillStatus
    user: str
    opened_on: date
    account: str
    opening_float: MoneyText
    cash_in: MoneyText
    cash_out: MoneyText
    expected: MoneyText
    counted: MoneyText | None = None
    variance: MoneyText | None = None
    denominations: dict[str, int] | None = None
    approved_by: str | None = None
    variance_entry_id: int | None = None


class TillClosedOut(Out):
    expected: MoneyText
    counted: MoneyText
    variance: MoneyText
    status: Literal["closed", "variance_pending"]


class VarianceApprovedOut(Out):
    status: Literal["closed"]
    entry_id: int


class TillDayOut(Out):
    on: date
    tills: list[TillOut]
    safe: MoneyText
    tills_expected: MoneyText


def till_out(till: Till, currency: str) -> TillOut:
    return TillOut(
        id=till.id, status=till.status, user=till.username,
        opened_on=till.opened_on, account=till.account,
        opening_float=money(till.opening_float_minor, currency),
        cash_in=money(till.cash_in_minor, currency),
        cash_out=money(till.cash_out_minor, currency),
        expected=money(till.expected_minor, currency),
        counted=None if till.counted_minor is None else money(till.counted_minor, currency),
        variance=None if till.variance_minor is None else money(till.variance_minor, currency),
        denominations=till.counted, approved_by=till.approved_by,
        variance_entry_id=till.variance_entry_id)


def till_opened_out(till: Till, currency: str) -> TillOpenedOut:
    return TillOpenedOut(id=till.id, status="open", user=till.username,
                         opening_float=money(till.opening_float_minor, currency))


def till_closed_out(till: Till, currency: str) -> TillClosedOut:
    return TillClosedOut(expected=money(till.expected_minor, currency),
                         counted=money(till.counted_minor or 0, currency),
                         variance=money(till.variance_minor or 0, currency),
                         status=till.status)
