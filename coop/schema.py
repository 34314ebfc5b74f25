"""Every table of coop, gathered for Alembic and for tests. Import-only module."""

from coop import auth, board, corrections, dividends, loans, members, savings
from coop.db import Base
from coop.ledger import orm as ledger_orm
from coop.passbooks import books as passbook_books
from coop.savings import interest_run, shares
from coop.society import SocietyRow
from coop.tills import orm as tills_orm

metadata = Base.metadata

__all__ = [
    "SocietyRow",
    "auth",
    "board",
    "corrections",
    "dividends",
    "interest_run",
    "ledger_orm",
    "loans",
    "members",
    "metadata",
    "passbook_books",
    "savings",
    "shares",
    "tills_orm",
]
