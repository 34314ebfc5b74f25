"""The preview of a year's distribution (DESIGN.md §8): a pure function of the closed year,
the share register, the loan interest members paid and the request. No side effects, and
the same input always gives the same output.

The service gathers the facts (the register from `coop.savings.shares`, interest from
`coop.loans`), turns each member's share history into a basis value, and hands plain
numbers to `calc.distribution`, which owns every pool and every rounding. Members are listed
by number, so a tie in a split goes to the lower number; members who paid loan interest but
never held shares follow them, by number, for the rebate.

A declared preview is stored as JSON in minor units (`stored_preview`, `load_preview`):

    {"fiscal_year": 2024, "net_surplus_minor": 10000000,
     "appropriations": [{"fund": "statutory_reserve", "account": "3100", "percent": "25",
                         "amount_minor": 2500000}, ...],
     "distributable_minor": 6400000,
     "dividend": {"rate": "15", "basis": "share_days", "pool_minor": 3009205,
                  "allocated_minor": 3009205, "residue_minor": 0},
     "rebate": {"percent": "0", "pool_minor": 0, "allocated_minor": 0, "residue_minor": 0},
     "undistributed_minor": 3390795,
     "allocations": [{"member_code": "M-7Q4K2", "basis_value_minor": 3650000000,
                      "dividend_minor": 1500000, "rebate_minor": 0}, ...]}

Money is an int of minor units; rates and percents are decimal strings (percent a year);
a basis value is minor units times days (share-days), times months (months held) or plain
minor units (the closing register). A member's total is her dividend plus her rebate.

`preview_digest` is the SHA-256 of those figures as canonical JSON (keys sorted, no spaces):
the same figures give the same digest, any changed figure (a rate, a pool, one member's
paisa) another. A declaration names the digest of the preview the board saw, and is refused
when the figures it would post do not give it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from coop.dividends.calc import (
    Appropriation,
    Basis,
    Distribution,
    FiscalYear,
    Movement,
    basis_value,
    distribution,
    periods_in_year,
)
from coop.dividends.year_end import fiscal_year, get_close
from coop.errors import InvariantViolation
from coop.ledger.chart import EDUCATION_FUND, STATUTORY_RESERVE, UNFORESEEN_LOSS_RESERVE
from coop.loans import interest_paid_by_member
from coop.money import parse_minor
from coop.savings.shares import ShareHistory, share_movements_until
from coop.society import Society


@dataclass(frozen=True)
class Request:
    """What the board declares (or an auditor tries)."""

    dividend_rate: Decimal | None
    dividend_amount: int | None = None
    patronage_rebate_percent: Decimal | None = None
    basis: Basis | None = None

    def to_json(self) -> str:
        return json.dumps({
            "dividend_rate": str(self.dividend_rate) if self.dividend_rate is not None
            else None,
            "dividend_amount": self.dividend_amount,
            "patronage_rebate_percent": str(self.patronage_rebate_percent)
            if self.patronage_rebate_percent is not None else None,
            "basis": self.basis.value if self.basis else None}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Request:
        """What `to_json` wrote."""
        document: dict[str, Any] = json.loads(text)
        rate, rebate = document.get("dividend_rate"), document.get("patronage_rebate_percent")
        amount, basis = document.get("dividend_amount"), document.get("basis")
        return cls(dividend_rate=Decimal(rate) if rate is not None else None,
                   dividend_amount=_int(amount) if amount is not None else None,
                   patronage_rebate_percent=Decimal(rebate) if rebate is not None else None,
                   basis=Basis(basis) if basis else None)


@dataclass(frozen=True)
class MemberShare:
    member_code: str
    basis_value: int
    dividend: int
    rebate: int

    @property
    def total(self) -> int:
        return self.dividend + self.rebate


@dataclass(frozen=True)
class Preview:
    """A year's distribution in minor units, members by number (only those with a basis,
    a dividend or a rebate)."""

    fiscal_year: int
    net_surplus: int
    appropriations: list[Appropriation]
    distributable: int
    rate: Decimal
    basis: Basis
    pool: int
    allocated: int
    residue: int
    rebate_percent: Decimal
    rebate_pool: int
    rebate_allocated: int
    rebate_residue: int
    members: list[MemberShare]
    undistributed: int  # to 3200: the distributable balance less what members get

    @property
    def to_members(self) -> int:
        """What members get: the dividend and the rebate allocated."""
        return self.allocated + self.rebate_allocated

    @property
    def appropriated(self) -> int:
        """What the statutory funds get."""
        return sum(fund.amount for fund in self.appropriations)

    @property
    def left_over(self) -> int:
        """The distributable balance neither pool takes (to 3200, with the two residues)."""
        return self.undistributed - self.residue - self.rebate_residue


FUND_NAMES = {"statutory_reserve": "Statutory reserve fund", "education_fund": "Education fund",
              "unforeseen_loss_reserve": "Reserve for unforeseen losses"}
"""Each statutory fund by the name people know it by (and its account's name)."""


def funds(society: Society) -> list[tuple[str, str, Decimal]]:
    settings = society.settings
    return [("statutory_reserve", STATUTORY_RESERVE, Decimal(settings.reserve_fund_percent)),
            ("education_fund", EDUCATION_FUND, Decimal(settings.education_fund_percent)),
            ("unforeseen_loss_reserve", UNFORESEEN_LOSS_RESERVE,
             Decimal(settings.unforeseen_loss_reserve_percent))]


def preview(session: Session, name: int, request: Request, *, society: Society,
            progress: Callable[[int, int], None] | None = None) -> Preview:
    """The whole year-end distribution for `request`: no side effects, and the same input
    always gives the same output."""
    settings = society.settings
    closed = get_close(session, name)
    year = fiscal_year(society, name)
    kind = request.basis or Basis(settings.dividend_basis)
    register = share_movements_until(session, year.end)
    bases = _bases(register, kind, year, face=society.share_face_value_minor,
                   pay_exited=settings.dividend_exited_members == "time_held",
                   progress=progress)
    interest = interest_paid_by_member(session, start=year.start, end=year.end)
    on_register = {member.member_code for member in register}
    codes = [member.member_code for member in register]
    codes += sorted(code for code in interest if code not in on_register)
    bases += [0] * (len(codes) - len(bases))
    paid = [interest.get(code, 0) for code in codes]
    result = distribution(
        net_surplus=closed.net_surplus_minor, funds=funds(society), dividend_weights=bases,
        rebate_weights=paid, periods=periods_in_year(kind, year),
        cap=Decimal(settings.dividend_cap_percent), rate=request.dividend_rate,
        amount=request.dividend_amount, rebate_percent=request.patronage_rebate_percent,
        unit=parse_minor(settings.dividend_rounding, society.currency, field="settings"),
        currency=society.currency)
    return assemble(name, closed.net_surplus_minor, kind, codes, bases, result)


def assemble(name: int, net_surplus: int, kind: Basis, codes: list[str], bases: list[int],
             result: Distribution) -> Preview:
    """The preview of a computed distribution: members by number, only those with a basis,
    a dividend or a rebate (`codes` and `bases` in the rows' order)."""
    members = [MemberShare(code, basis, dividend, rebate)
               for code, basis, dividend, rebate
               in sorted(zip(codes, bases, result.dividends.amounts, result.rebates.amounts,
                             strict=True))
               if basis or dividend or rebate]
    return Preview(name, net_surplus, result.appropriations, result.distributable,
                   result.rate, kind, result.pool, result.dividends.allocated,
                   result.dividends.residue, result.rebate_percent, result.rebate_pool,
                   result.rebates.allocated, result.rebates.residue, members,
                   result.undistributed)


def _bases(register: list[ShareHistory], kind: Basis, year: FiscalYear, *, face: int,
           pay_exited: bool, progress: Callable[[int, int], None] | None) -> list[int]:
    """Each member's basis value: nothing for a member who left within the year unless
    the society pays for the time held."""
    bases = []
    for number, member in enumerate(register, start=1):
        if progress is not None and (number % 1000 == 0 or number == len(register)):
            progress(number, len(register))
        exited = member.exited_on
        until = exited if exited is not None and exited <= year.end else None
        if until is not None and not pay_exited:
            bases.append(0)
        else:
            movements = [Movement(on, count) for on, count in member.movements]
            bases.append(basis_value(kind, movements, year, face, until=until))
    return bases


# --- the stored form: minor units -----------------------------------------------------------


def stored_preview(preview: Preview) -> str:
    """The preview as stored with a declaration: JSON of ints (see the module docstring)."""
    return json.dumps(_figures(preview), sort_keys=True)


def preview_digest(preview: Preview) -> str:
    """The SHA-256 (hex) of the figures as canonical JSON: same figures, same digest (a rate
    is written in its shortest form, so "12" and "12.00" are one rate)."""
    figures = _figures(preview)
    figures["dividend"]["rate"] = _shortest(preview.rate)
    figures["rebate"]["percent"] = _shortest(preview.rebate_percent)
    for fund, row in zip(figures["appropriations"], preview.appropriations, strict=True):
        fund["percent"] = _shortest(row.percent)
    canonical = json.dumps(figures, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _shortest(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "0") else text


def _figures(preview: Preview) -> dict[str, Any]:
    return {
        "fiscal_year": preview.fiscal_year,
        "net_surplus_minor": preview.net_surplus,
        "appropriations": [{"fund": a.fund, "account": a.account, "percent": str(a.percent),
                            "amount_minor": a.amount} for a in preview.appropriations],
        "distributable_minor": preview.distributable,
        "dividend": {"rate": str(preview.rate), "basis": preview.basis.value,
                     "pool_minor": preview.pool, "allocated_minor": preview.allocated,
                     "residue_minor": preview.residue},
        "rebate": {"percent": str(preview.rebate_percent),
                   "pool_minor": preview.rebate_pool,
                   "allocated_minor": preview.rebate_allocated,
                   "residue_minor": preview.rebate_residue},
        "undistributed_minor": preview.undistributed,
        "allocations": [{"member_code": s.member_code, "basis_value_minor": s.basis_value,
                         "dividend_minor": s.dividend, "rebate_minor": s.rebate}
                        for s in preview.members],
    }


def load_preview(text: str) -> Preview:
    """A stored preview back as figures: what `stored_preview` wrote."""
    document: dict[str, Any] = json.loads(text)
    dividend, rebate = document["dividend"], document["rebate"]
    return Preview(
        fiscal_year=int(document["fiscal_year"]),
        net_surplus=_int(document["net_surplus_minor"]),
        appropriations=[Appropriation(a["fund"], a["account"], Decimal(a["percent"]),
                                      _int(a["amount_minor"]))
                        for a in document["appropriations"]],
        distributable=_int(document["distributable_minor"]),
        rate=Decimal(dividend["rate"]), basis=Basis(dividend["basis"]),
        pool=_int(dividend["pool_minor"]), allocated=_int(dividend["allocated_minor"]),
        residue=_int(dividend["residue_minor"]), rebate_percent=Decimal(rebate["percent"]),
        rebate_pool=_int(rebate["pool_minor"]),
        rebate_allocated=_int(rebate["allocated_minor"]),
        rebate_residue=_int(rebate["residue_minor"]),
        members=[MemberShare(line["member_code"], _int(line["basis_value_minor"]),
                             _int(line["dividend_minor"]), _int(line["rebate_minor"]))
                 for line in document["allocations"]],
        undistributed=_int(document["undistributed_minor"]))


def _int(value: object) -> int:
    """A stored amount: an int of minor units, never a float or a string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvariantViolation(f"a stored amount is an int of minor units, not {value!r}")
