"""What handlers share: the app's state (database, clock, password hashing) and formatting."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from litestar import Request

from coop.api.security import PrincipalCache
from coop.auth import Passwords, UserRow
from coop.auth import log_in as auth_log_in
from coop.clock import Clock
from coop.config import Settings
from coop.db import Database
from coop.errors import InvalidInput
from coop.ledger import queries
from coop.ledger.model import PostedEntry, Side
from coop.members.vault import Vault
from coop.money import format_minor, parse_minor


@dataclass
class AppState:
    settings: Settings
    db: Database
    clock: Clock
    passwords: Passwords
    principals: PrincipalCache = field(default_factory=PrincipalCache)
    currency: str | None = None
    vault: Vault | None = None

    def identity_vault(self) -> Vault:
        """The vault, its master key read from COOP_DATA_KEY_FILE on first use."""
        if self.vault is None:
            self.vault = Vault.from_file(self.settings.data_key_file)
        return self.vault


def log_in(state: AppState, *, username: str, password: str,
           address: str) -> tuple[str, UserRow, datetime]:
    """A login from the API or the counter (see `auth.log_in`): unknown usernames are kept
    only as a digest keyed from the data key."""
    vault = state.identity_vault()
    return auth_log_in(state.db, username=username, password=password, address=address,
                       passwords=state.passwords, clock=state.clock,
                       digest=lambda text: vault.keyed_digest("login-username", text))


def app_state(request: Request[Any, Any, Any]) -> AppState:
    state: AppState = request.app.state.coop
    return state


def currency(state: AppState) -> str:
    """The book's currency (fixed at `coop init`; read once)."""
    if state.currency is None:
        book = state.db.read(queries.book)
        if book is None:
            raise InvalidInput("the society has not been set up: run `coop init`")
        state.currency = book.currency
    return state.currency


def money(state: AppState, amount_minor: int) -> str:
    return format_minor(amount_minor, currency(state))


def parse_money(state: AppState, text: str, *, field: str) -> int:
    return parse_minor(text, currency(state), field=field)


def entry_payload(state: AppState, entry: PostedEntry) -> dict[str, Any]:
    cur = currency(state)
    return {
        "id": entry.id,
        "seq": entry.seq,
        "value_date": entry.value_date.isoformat(),
        "posted_at": entry.posted_at.isoformat().replace("+00:00", "Z"),
        "kind": entry.kind,
        "narration": entry.narration,
        "actor": entry.actor,
        "reversal_of": entry.reversal_of,
        "postings": [
            {"account": p.account,
             ("debit" if p.side is Side.DEBIT else "credit"): format_minor(p.amount_minor, cur)}
            for p in entry.postings
        ],
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }
