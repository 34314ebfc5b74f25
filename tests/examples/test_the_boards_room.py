"""Issue 18, worked by hand: what the board saw, and what it would have declared.

A society closed its year with a net surplus of 5,000.00. The statutory funds take 25 %,
1 % and 10 %: 1,250.00, 50.00 and 500.00, leaving 3,200.00 distributable. Two members are
on the register on the last day of the year (the closing-register basis): Asha with 25
shares and Bina with 16, 410.00 paid up in all. In the year Asha paid 512.20 of loan
interest and Bina 228.10: 740.30.

The board previewed a 12 % dividend: a pool of 49.20 (410.00 x 12 %), Asha 30.00 and Bina
19.20. Someone changed the box to 15 %: 61.50 (Asha 37.50, Bina 24.00). The 10 % patronage
rebate is 74.03 (740.30 x 10 %, rounded down), Asha 51.22 and Bina 22.81: more than the
dividend, and the old preview never showed it. At 15 % the members get 135.53, more than
twice the 61.50 pool on the screen; the society keeps 3,064.47.

Now the preview says all of it, and its digest names the 12 % figures: the 15 % figures
give another digest, so a declaration naming the 12 % preview is refused.
"""

from __future__ import annotations

from decimal import Decimal

from coop.dividends.calc import Basis, distribution
from coop.dividends.declarations import appropriation_postings
from coop.dividends.previews import Preview, assemble, preview_digest
from coop.ledger.model import Side

MSCS = [("statutory_reserve", "3100", Decimal(25)), ("education_fund", "3110", Decimal(1)),
        ("unforeseen_loss_reserve", "3120", Decimal(10))]
ASHA, BINA = "M-ASHA01", "M-BINA02"


def previewed(rate: str) -> Preview:
    result = distribution(net_surplus=500_000, funds=MSCS, dividend_weights=[25_000, 16_000],
                          rebate_weights=[51_220, 22_810], periods=1, cap=Decimal(15),
                          rate=Decimal(rate), amount=None, rebate_percent=Decimal(10),
                          unit=1, currency="INR")
    return assemble(2025, 500_000, Basis.CLOSING_REGISTER, [ASHA, BINA], [25_000, 16_000],
                    result)


def shares(preview: Preview) -> dict[str, tuple[int, int]]:
    return {m.member_code: (m.dividend, m.rebate) for m in preview.members}


def test_what_the_board_saw_and_what_it_would_have_declared() -> None:
    seen, typed = previewed("12"), previewed("15")
    assert [a.amount for a in seen.appropriations] == [125_000, 5_000, 50_000]
    assert seen.distributable == 320_000

    assert (seen.pool, shares(seen)) == (4_920, {ASHA: (3_000, 5_122), BINA: (1_920, 2_281)})
    assert (typed.pool, shares(typed)) == (6_150, {ASHA: (3_750, 5_122),
                                                   BINA: (2_400, 2_281)})
    assert typed.rebate_pool == 7_403  # 740.30 x 10 %, larger than the dividend
    assert typed.to_members == 13_553 > 2 * typed.pool  # 135.53: more than twice 61.50
    assert typed.undistributed == 306_447
    # every paisa of the distributable surplus: 61.50 + 74.03 + 3,064.47 = 3,200.00
    assert typed.allocated + typed.rebate_allocated + typed.residue + typed.rebate_residue \
        + typed.left_over == typed.distributable

    assert preview_digest(seen) != preview_digest(typed)  # the 12 % preview names 12 %
    assert preview_digest(previewed("12.00")) == preview_digest(seen)

    posted = {(p.account, p.side, p.amount_minor) for p in appropriation_postings(typed)}
    assert posted == {("3900", Side.DEBIT, 500_000), ("3100", Side.CREDIT, 125_000),
                      ("3110", Side.CREDIT, 5_000), ("3120", Side.CREDIT, 50_000),
                      ("2100", Side.CREDIT, 13_553), ("3200", Side.CREDIT, 306_447)}
