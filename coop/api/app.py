"""`create_app(settings)`: the Litestar application.

Database access: handlers are synchronous and run in worker threads (`sync_to_thread=True`);
each calls one service function through `coop.db.Database`, which owns the transaction (BEGIN
IMMEDIATE through a single writer connection on SQLite, deadlock reruns on PostgreSQL). We do
not use advanced-alchemy's SQLAlchemy plugin: its session-per-request, committed by a
before-send hook, would put the transaction in the controller and bypass the single-writer and
rerun rules; the reader pool is sized to the worker threads instead (COOP_DB_POOL_SIZE, 40 by
default, the thread limit), which avoids the pool starvation seen with a 5+10 pool under 32
concurrent requests.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
from litestar import Litestar, get
from litestar.config.cors import CORSConfig
from litestar.logging.config import LoggingConfig
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.router import Router

from coop import __version__
from coop.api.controllers.audit import AuditController
from coop.api.controllers.audit_pack import AuditPackController
from coop.api.controllers.auth import AuthController, UserController
from coop.api.controllers.board_pack import BoardPackController
from coop.api.controllers.corrections import CorrectionsController
from coop.api.controllers.dividends import DividendsController, YearsController
from coop.api.controllers.ledger import LedgerController
from coop.api.controllers.loans import (
    LoanProductsController,
    LoansController,
    MoratoriaController,
    ReportsController,
)
from coop.api.controllers.members import (
    MembersController,
    SavingsController,
    SharesController,
)
from coop.api.controllers.passbooks import PassbookChecksController, PassbooksController
from coop.api.controllers.provisioning import (
    PROVISIONING_FILE_HANDLERS,
    LossMarksController,
    ProvisioningController,
)
from coop.api.controllers.society import SocietyController
from coop.api.controllers.statements import STATEMENT_HANDLERS
from coop.api.controllers.tills import TillsController
from coop.api.counter import (
    AccountsPages,
    AuditTrailPages,
    BoardController,
    BoardPackPages,
    CorrectionPages,
    CounterController,
    DividendPages,
    LoanApplicationController,
    MoratoriumController,
    PapersPages,
    PasswordFirst,
    ProvisioningPages,
    RequestsController,
    SearchController,
    TillsPages,
    UsersController,
    password_first,
    template_config,
    to_password_page,
)
from coop.api.counter.web import counter_csrf
from coop.api.deps import DEPENDENCIES, AppState
from coop.api.docs import PackagedSwagger, docs_asset
from coop.api.openapi import document_problems
from coop.api.problems import EXCEPTION_HANDLERS, require_json
from coop.api.security import PUBLIC, authorize, in_turn, security_headers
from coop.api.transport import EXCEPTION_HANDLERS as TRANSPORT_HANDLERS
from coop.api.transport import https_only
from coop.auth import Passwords
from coop.clock import Clock
from coop.config import Settings
from coop.db import Database
from coop.members.vault import Vault

API_BASE = "/api/v1"
log = logging.getLogger("coop.api")


@get("/health", opt=PUBLIC, sync_to_thread=False, include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
    passwords: Passwords | None = None,
    vault: Vault | None = None,
    cors_origins: list[str] | None = None,
) -> Litestar:
    """Build the app. Tests hand in their own database, clock and cheap password hashing."""
    database = db or Database(settings.database_url, pool_size=settings.pool_size,
                              replica_url=settings.replica_url,
                              failover_wait_s=settings.failover_wait_s)
    state = AppState(settings=settings, db=database, clock=clock or settings.clock(),
                     passwords=passwords or Passwords(memory_kib=settings.argon2_memory_kib),
                     vault=vault)
    api = Router(
        path=API_BASE,
        before_request=require_json,
        route_handlers=[AuthController, UserController, SocietyController, LedgerController,
                        CorrectionsController,
                        MembersController, SavingsController, SharesController,
                        LoanProductsController, LoansController, MoratoriaController,
                        ReportsController, ProvisioningController, LossMarksController,
                        BoardPackController, YearsController,
                        DividendsController,
                        PassbooksController, PassbookChecksController, TillsController,
                        *STATEMENT_HANDLERS, AuditController, AuditPackController,
                        *PROVISIONING_FILE_HANDLERS],
    )

    def on_startup() -> None:
        # Fewer worker threads than anyio's 40: on two cores, 20 busy threads only fight over
        # the GIL (and the single SQLite writer), which shows as tail latency; requests wait
        # in the event loop's FIFO instead. The pool keeps one connection per thread and more.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = settings.worker_threads
        # Litestar runs the sync handlers (most reads) with the event loop's own executor, not
        # anyio's threads: that one is bounded by the same setting (its default is the CPUs
        # plus four).
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(
            max_workers=settings.worker_threads, thread_name_prefix="coop-worker"))

    def on_shutdown() -> None:
        state.verify_jobs.wait()  # its snapshot's connection back before the pool closes
        if db is None:
            database.dispose()

    app = Litestar(
        route_handlers=[api, health, docs_asset, CounterController, BoardController,
                        BoardPackPages,
                        CorrectionPages, TillsPages, SearchController, UsersController,
                        LoanApplicationController, RequestsController, MoratoriumController,
                        DividendPages, PapersPages, AccountsPages, AuditTrailPages,
                        ProvisioningPages],
        template_config=template_config(),
        guards=[in_turn(https_only, authorize, counter_csrf, password_first)],
        dependencies=DEPENDENCIES,
        exception_handlers={**EXCEPTION_HANDLERS, **TRANSPORT_HANDLERS,
                            PasswordFirst: to_password_page},
        before_send=[security_headers],
        state=_state(state),
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        cors_config=CORSConfig(allow_origins=cors_origins) if cors_origins else None,
        openapi_config=OpenAPIConfig(
            title="coop", version=__version__,
            description="The books of a savings and credit co-operative (CONTRACT.md).",
            path="/schema",
            render_plugins=[PackagedSwagger()],
            components=Components(security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer"),
            }),
            security=[{"bearer": []}],
        ),
        # Our handlers log what matters (coop.api); Litestar must not log exceptions again
        # (with request data) nor lower the root logger to INFO.
        logging_config=LoggingConfig(root={"level": "WARNING", "handlers": ["queue_listener"]},
                                     log_exceptions="never"),
        debug=False,
    )
    document_problems(app)
    return app


def _state(state: AppState) -> Any:
    from litestar.datastructures import State

    return State({"coop": state})
