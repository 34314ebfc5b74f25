"""The double-entry core: accounts, journal entries, postings, balances, periods, the hash
chain, verify and the beancount export. It knows nothing of members, loans or dividends."""

from coop.ledger.model import (
    AccountType,
    EntryDraft,
    PostedEntry,
    PostedPosting,
    PostingDraft,
    Side,
    credit,
    debit,
)
from coop.ledger.rows import lock_ahead
from coop.ledger.service import (
    close_through,
    init_book,
    lock_balance,
    lock_balances,
    lock_book,
    open_account,
    post,
    post_and_balance,
    post_many,
    reopen_through,
    reverse,
)

__all__ = [
    "AccountType",
    "EntryDraft",
    "PostedEntry",
    "PostedPosting",
    "PostingDraft",
    "Side",
    "close_through",
    "credit",
    "debit",
    "init_book",
    "lock_ahead",
    "lock_balance",
    "lock_balances",
    "lock_book",
    "open_account",
    "post",
    "post_and_balance",
    "post_many",
    "reopen_through",
    "reverse",
]
