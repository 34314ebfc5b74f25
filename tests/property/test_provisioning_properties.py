"""Properties of the loan classification and the provisioning run.

* Pure: for any loans, days overdue and percents, the total provision is the sum of the
  per-loan provisions, each outstanding x percent / 100 rounded HALF_EVEN to the minor unit
  (checked with exact fractions, independently of the code's Decimal); each class's loans
  and principal add up to the loans given; every provision is between 0 and the principal.
* Through the database: after any sequence of runs on later and later days, with the
  society's percents changed between them, 1190's credit balance is the last run's required
  provision, and `coop verify`'s register check finds nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coop.clock import FixedClock
from coop.db import Database
from coop.ledger import queries
from coop.ledger.chart import PROVISION_FOR_BAD_DEBTS
from coop.loans import provisioning
from coop.loans.classification import CLASSES, LoanClass, classify
from coop.loans.risk import Snapshot
from coop.members.vault import Vault
from coop.society import update_settings
from tests.integration.test_loans_service import open_desk

AS_OF = date(2026, 3, 31)
percent = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False,
                      allow_infinity=False)
loan = st.tuples(st.integers(0, 10**12), st.one_of(st.none(), st.integers(-30, 3000)),
                 st.booleans())


def half_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2):
        return floor + 1
    return floor


@given(st.lists(loan, max_size=30), st.lists(percent, min_size=6, max_size=6))
def test_the_provision_is_the_sum_of_the_loans_half_even(
        loans: list[tuple[int, int | None, bool]], chosen: list[Decimal]) -> None:
    percents = dict(zip(CLASSES, chosen, strict=True))
    snapshots = [Snapshot(k, outstanding, None if days is None else AS_OF - timedelta(days))
                 for k, (outstanding, days, _) in enumerate(loans)]
    found = classify(snapshots, AS_OF, percents=percents,
                     losses={k for k, (_, _, lost) in enumerate(loans) if lost})
    expected = [half_even(Fraction(x.outstanding_minor) * Fraction(percents[x.klass]) / 100)
                for x in found.loans]
    assert [x.provision_minor for x in found.loans] == expected
    assert found.total_provision_minor == sum(expected)
    assert all(0 <= x.provision_minor <= x.outstanding_minor for x in found.loans)
    assert sum(line.loans for line in found.lines) == len(loans)
    assert found.outstanding_minor == sum(outstanding for outstanding, _, _ in loans)
    assert [line.klass for line in found.lines] == list(CLASSES)
    assert all(x.klass is LoanClass.LOSS for x, (_, _, lost) in zip(found.loans, loans,
                                                                    strict=True) if lost)


STEP = st.tuples(st.integers(1, 60), st.lists(percent, min_size=6, max_size=6))


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=4))
def test_the_provision_held_is_the_last_runs_required(
        db: Database, clock: FixedClock, steps: list[tuple[int, list[Decimal]]]) -> None:
    """The examples share one book and keep moving forward in time: the property holds
    after any sequence of runs, so after each example's runs too."""
    if db.read(lambda s: queries.balance(s, "1100")) == 0:  # the first example lends
        desk = open_desk(db, clock, Vault(b"k" * 32), start=date(2025, 1, 10))
        desk.lend(desk.register())
        desk.at(date(2025, 3, 5)).lend(desk.register(), 700_000)
    for gap, chosen in steps:
        clock.business_date += timedelta(days=gap)
        db.write(lambda s, chosen=chosen: update_settings(s, {
            f"provision_{klass.value}_percent": str(value)
            for klass, value in zip(CLASSES, chosen, strict=True)}))
        run = db.write(lambda s: provisioning.run_provisioning(
            s, as_of=clock.today(), actor="admin", clock=clock))
        held = -(db.read(lambda s: queries.balance(s, PROVISION_FOR_BAD_DEBTS)) or 0)
        assert held == run.required_minor
        assert run.change_minor == run.required_minor - run.previous_minor
    assert db.read(provisioning.reconcile) == []
