"""`coop serve`: the HTTP API and the counter under uvicorn (coop.api.server), for one
society or, with --societies, for every society of a file (coop.api.federation)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from coop.cli_admin import reindex_missing
from coop.cli_societies import SOCIETIES_HELP, load_or_exit
from coop.config import Settings
from coop.db import Database, sqlite_version_warning

out = Console()
err = Console(stderr=True)


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Server processes: PostgreSQL, or SQLite through APSW's SQLite "
        "(3.51.3 or later).")] = 1,
    tls_cert: Annotated[Path | None, typer.Option(
        help="Speak HTTPS with this certificate chain (PEM, from `coop tls init`; "
             "or COOP_TLS_CERT).")] = None,
    tls_key: Annotated[Path | None, typer.Option(
        help="... and this private key (or COOP_TLS_KEY).")] = None,
    societies: Annotated[Path | None, typer.Option(envvar="COOP_SOCIETIES",
                                                   help=SOCIETIES_HELP)] = None,
) -> None:
    """Run the HTTP API (OpenAPI at /schema) and the counter. Plain HTTP is answered only to
    this machine itself unless COOP_HTTPS_ONLY=0: serve HTTPS (--tls-cert, --tls-key) or run
    behind a proxy that does (COOP_TRUSTED_PROXIES). With --societies: every society of the
    file, each at /s/NAME/ and at its own host names (coop.api.federation)."""
    import uvicorn

    from coop.api import create_app
    from coop.api.federation import create_federation
    from coop.api.server import (
        is_loopback,
        prepare_workers,
        serve_settings,
        server_options,
        tls_refusal,
        tune_malloc,
        workers_refusal,
    )

    settings = serve_settings(Settings.from_env(), os.environ, tls_cert=tls_cert,
                              tls_key=tls_key)
    federation = load_or_exit(societies, settings) if societies else None
    tune_malloc(settings.malloc_arenas)  # before any thread starts
    each = [society.settings for society in federation] if federation else [settings]
    refusal = tls_refusal(settings) or next(filter(None, (workers_refusal(
        workers, database_url=one.database_url, driver=os.environ.get("COOP_SQLITE_DRIVER"))
        for one in each)), None)
    if refusal:
        err.print(f"[red]refused[/]: {refusal}")
        raise typer.Exit(2)
    prepare_workers(workers, settings, societies=societies)
    warning = (sqlite_version_warning() if any(one.database_url.startswith("sqlite")
                                               for one in each)
               and os.environ.get("COOP_SQLITE_DRIVER", "sqlite3") == "sqlite3" else None)
    if warning:
        err.print(f"[yellow]warning[/]: {warning}")
    for one in each:
        db = Database(one.database_url, pool_size=4, failover_wait_s=one.failover_wait_s)
        try:
            indexed = reindex_missing(db, one)
        finally:
            db.dispose()
        if indexed:
            out.print(f"Indexed {indexed:,} members for the search by name and phone.")
    scheme = "https" if settings.tls else "http"
    out.print(f"coop serving on {scheme}://{host}:{port}  (counter /counter/, API /api/v1, "
              "docs /schema; log in with POST /api/v1/auth/token as admin)" if not federation
              else f"coop serving {len(federation)} societies on {scheme}://{host}:{port}/s/"
                   "NAME/ and on their host names (`coop societies list`)")
    if not settings.tls and settings.https_only and not is_loopback(host):
        out.print("Plain HTTP: only this machine is answered; other machines are told to use "
                  "https:// (serve with --tls-cert/--tls-key, see `coop tls init`, or behind a "
                  "proxy set in COOP_TRUSTED_PROXIES).")
    if workers > 1:
        uvicorn.run(f"coop.api.{'federation' if federation else 'server'}:app_from_env",
                    factory=True, workers=workers, host=host, port=port,
                    **server_options(settings))
    else:
        uvicorn.run(create_federation(federation) if federation else create_app(settings),
                    host=host, port=port, **server_options(settings))
