"""The holds a loan's guarantees keep on savings, changed only through `coop.savings`'s
functions: resized as the loan is repaid, released once (a second release is nothing), read
back with what each still holds."""

from __future__ import annotations

import pytest

from coop.clock import FixedClock
from coop.db import Database
from coop.errors import InvalidInput
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings import (
    balances,
    hold_amounts,
    place_hold,
    record_deposit,
    release_hold_by_id,
    resize_hold,
)


def test_a_guarantee_hold_shrinks_and_is_released(db: Database, clock: FixedClock) -> None:
    keys = Vault(b"k" * 32)
    code = db.write(lambda s: register_member(s, identity=Identity(), joined_on=None,
                                              vault=keys, clock=clock).code)
    db.write(lambda s: record_deposit(s, code, amount_minor=500000,
                                      value_date=clock.today(), actor="clerk", clock=clock))
    first, second = db.write(lambda s: [
        place_hold(s, code, amount_minor=amount, reason="guarantee for loan 1", actor="clerk",
                   clock=clock).id for amount in (200000, 100000)])
    assert db.read(lambda s: hold_amounts(s, [first, second])) == {first: 200000,
                                                                   second: 100000}
    db.write(lambda s: resize_hold(s, first, 50000, clock=clock))
    assert db.read(lambda s: balances(s, code)).available_minor == 500000 - 150000
    with pytest.raises(InvalidInput):
        db.write(lambda s: resize_hold(s, first, 0, clock=clock))
    db.write(lambda s: release_hold_by_id(s, second, clock=clock))
    db.write(lambda s: release_hold_by_id(s, second, clock=clock))  # once is enough
    db.write(lambda s: resize_hold(s, second, 70000, clock=clock))  # released stays released
    assert db.read(lambda s: hold_amounts(s, [first, second, first])) == {first: 50000,
                                                                          second: 0}
    assert db.read(lambda s: hold_amounts(s, [])) == {}
    assert db.read(lambda s: balances(s, code)).available_minor == 500000 - 50000
