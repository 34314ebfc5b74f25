"""What handlers share: the app's state (database, clock, password hashing), the society as an
injected dependency, and the book's currency for money in and out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide

from coop.api.security import PrincipalCache
from coop.api.verify_jobs import VerifyJobs
from coop.api.writes import Writes, writes_for
from coop.auth import Passwords, UserRow
from coop.auth import log_in as auth_log_in
from coop.clock import Clock
from coop.config import Settings
from coop.db import Database
from coop.members.vault import Vault
from coop.money import parse_minor
from coop.society import Society, book_currency, require_society


@dataclass
class AppState:
    settings: Settings
    db: Database
    clock: Clock
    passwords: Passwords
    principals: PrincipalCache = field(default_factory=PrincipalCache)
    currency: str | None = None
    vault: Vault | None = None
    verify_jobs: VerifyJobs = field(default_factory=VerifyJobs)
    """The app's checks of the books running or done lately (coop.api.verify_jobs)."""
    writes: Writes | None = None
    swept_at: float = 0.0
    """When this app last swept its database's old idempotency keys (time.monotonic): each
    society of a federation sweeps its own."""

    def writer(self) -> Writes:
        """How counter requests run their write (coop.api.writes): grouped."""
        if self.writes is None:
            self.writes = writes_for(self.db, grouped=self.settings.group_commit)
        return self.writes

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
    """The book's currency (`coop.society.book_currency`: fixed at `coop init`, so it is read
    once per app)."""
    if state.currency is None:
        state.currency = state.db.read(book_currency)
    return state.currency


def parse_money(state: AppState, text: str, *, field: str) -> int:
    return parse_minor(text, currency(state), field=field)


def provide_society(request: Request[Any, Any, Any]) -> Society:
    """The society, read once per request that asks for it (a handler's `society:
    SocietyDep`, the counter's pages), through `coop.society.require_society`, which refuses
    when `coop init` has not been run."""
    cached = getattr(request.state, "society", None)
    if isinstance(cached, Society):
        return cached
    society = app_state(request).db.read(require_society)
    request.state.society = society
    return society


SocietyDep = NamedDependency[Society]
"""A handler's `society` parameter: injected by `provide_society` (see `DEPENDENCIES`)."""

DEPENDENCIES = {"society": Provide(provide_society, sync_to_thread=True)}
