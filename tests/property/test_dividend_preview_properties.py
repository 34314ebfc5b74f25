"""Properties of a previewed distribution as the board sees it and declares it (issue 18).

For any surplus, fund percentages, register, rate or amount, rebate and rounding unit that
`calc.distribution` accepts (the strategy of test_dividend_properties):

* where the distributable surplus goes, as the preview words it, adds up exactly, to the
  paisa: dividend allocated + rebate allocated + both residues + what is not distributed =
  the distributable surplus, none of them negative; the funds and the distributable surplus
  are the net surplus (nothing for a loss); the rebate pool is inside the distributable
  surplus, never beside it; what members get is the sum of their totals;
* the appropriation entry the declaration posts balances, and debits 3900 by the surplus;
* the preview digest is the same for the same figures (after the stored round trip, and for
  a rate written "12" or "12.00"), and differs when any one figure differs.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from coop.dividends.calc import Basis, distribution
from coop.dividends.declarations import appropriation_postings
from coop.dividends.errors import AboveCap
from coop.dividends.previews import (
    MemberShare,
    Preview,
    assemble,
    load_preview,
    preview_digest,
    stored_preview,
)
from coop.ledger.chart import CURRENT_YEAR_SURPLUS
from coop.ledger.model import Side
from tests.property.test_dividend_properties import distributions


@st.composite
def previews(draw: st.DrawFn) -> Preview:
    """A preview of any distribution the calculation accepts."""
    case: dict[str, Any] = draw(distributions())
    try:
        result = distribution(**case)
    except AboveCap:
        assume(False)
        raise
    codes = [f"M-{index:05d}" for index in range(len(case["dividend_weights"]))]
    kind = draw(st.sampled_from(list(Basis)))
    return assemble(2024, case["net_surplus"], kind, codes, list(case["dividend_weights"]),
                    result)


@given(previews())
def test_every_paisa_of_the_distributable_surplus_is_accounted_for(shown: Preview) -> None:
    parts = (shown.allocated, shown.rebate_allocated, shown.residue, shown.rebate_residue,
             shown.left_over)
    assert all(part >= 0 for part in parts)
    assert sum(parts) == shown.distributable
    assert shown.pool + shown.rebate_pool + shown.left_over == shown.distributable
    assert shown.appropriated + shown.distributable == max(shown.net_surplus, 0)
    assert shown.to_members == sum(member.total for member in shown.members)
    assert shown.undistributed == shown.distributable - shown.to_members


@given(previews())
def test_the_appropriation_entry_balances(shown: Preview) -> None:
    postings = appropriation_postings(shown)
    if shown.net_surplus <= 0:
        assert postings == []
        return
    debits = [p for p in postings if p.side is Side.DEBIT]
    credits = [p for p in postings if p.side is Side.CREDIT]
    assert [(p.account, p.amount_minor) for p in debits] == [
        (CURRENT_YEAR_SURPLUS, shown.net_surplus)]
    assert sum(p.amount_minor for p in credits) == shown.net_surplus
    assert all(p.amount_minor > 0 for p in postings)


@given(previews())
def test_the_digest_is_the_same_for_the_same_figures(shown: Preview) -> None:
    digest = preview_digest(shown)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert preview_digest(load_preview(stored_preview(shown))) == digest
    longer = dataclasses.replace(shown, rate=shown.rate.quantize(Decimal("0.0001")),
                                 rebate_percent=shown.rebate_percent.quantize(Decimal("0.01")))
    assert preview_digest(longer) == digest


def _changed(shown: Preview, which: int) -> Preview:
    """`shown` with one figure different (which one: `which`, modulo the kinds)."""
    options: list[Preview] = [
        dataclasses.replace(shown, net_surplus=shown.net_surplus + 1),
        dataclasses.replace(shown, distributable=shown.distributable + 1),
        dataclasses.replace(shown, rate=shown.rate + Decimal("0.01")),
        dataclasses.replace(shown, pool=shown.pool + 1),
        dataclasses.replace(shown, rebate_percent=shown.rebate_percent + 1),
        dataclasses.replace(shown, rebate_pool=shown.rebate_pool + 1),
        dataclasses.replace(shown, undistributed=shown.undistributed - 1),
        dataclasses.replace(shown, basis=next(b for b in Basis if b is not shown.basis)),
        dataclasses.replace(shown, fiscal_year=shown.fiscal_year + 1),
    ]
    if shown.members:
        first = shown.members[0]
        options.append(dataclasses.replace(shown, members=[
            MemberShare(first.member_code, first.basis_value, first.dividend + 1,
                        first.rebate), *shown.members[1:]]))
        options.append(dataclasses.replace(shown, members=shown.members[1:]))
    if shown.appropriations:
        fund = shown.appropriations[0]
        options.append(dataclasses.replace(shown, appropriations=[
            dataclasses.replace(fund, amount=fund.amount + 1), *shown.appropriations[1:]]))
    return options[which % len(options)]


@given(previews(), st.integers(0, 100))
def test_the_digest_changes_when_any_figure_does(shown: Preview, which: int) -> None:
    assert preview_digest(_changed(shown, which)) != preview_digest(shown)
