"""Every register kept beside the ledger, checked against it: the one list of the register
checks that `coop verify` and GET /ledger/verify run after the ledger's own checks.

Each check lives in the package that owns the register and reads only its own tables (and
the ledger's facts); each returns its problems as (account or None, message), the message
naming the member by her number and the figures on both sides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from coop import loans, savings
from coop.dividends import reconcile as dividends
from coop.loans import provisioning
from coop.savings import interest_run, shares
from coop.tills import reconcile as tills

Check = Callable[[Session], Sequence[tuple[str | None, str]]]

CHECKS: tuple[tuple[str, Check], ...] = (
    ("loans", loans.reconcile),
    ("share register", shares.reconcile),
    ("holds", savings.reconcile_holds),
    ("interest runs", interest_run.reconcile),
    ("dividend declarations", dividends.reconcile),
    ("tills", tills.reconcile),
    ("loan provision", provisioning.reconcile),
)


def reconcile_registers(
    session: Session, *, progress: Callable[[int], None] | None = None
) -> list[tuple[str | None, str]]:
    """Every register's problems, register by register in the order of `CHECKS`; `progress`,
    if given, is told how many registers are checked after each."""
    problems: list[tuple[str | None, str]] = []
    for done, (_name, check) in enumerate(CHECKS, start=1):
        problems.extend(check(session))
        if progress is not None:
            progress(done)
    return problems
