"""How `coop serve` runs the app under uvicorn.

Forwarded headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from the addresses in
COOP_TRUSTED_PROXIES: uvicorn's own default trusts them from any loopback client, which let
anything on the machine choose its apparent address for the login throttle and the audit
trail. Behind a configured proxy that terminates TLS, the forwarded scheme makes counter
cookies `Secure`.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from litestar import Litestar

from coop.config import Settings
from coop.db import SQLITE_SAFE_VERSION


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn keyword arguments for these settings (besides the app, host and port)."""
    trusted = list(settings.trusted_proxies)
    return {
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or [],
        "server_header": False,
    }


def sqlite_library(driver: str) -> tuple[int, ...]:
    """The version of the SQLite a COOP_SQLITE_DRIVER links."""
    if driver == "apsw":
        from coop import db_apsw

        return db_apsw.sqlite_version_info
    return sqlite3.sqlite_version_info


def workers_refusal(workers: int, *, database_url: str, driver: str | None) -> str | None:
    """Why `coop serve --workers N` may not run, or None. On SQLite, several processes write
    one file only through a SQLite without the WAL-reset bug (3.51.3 or later): APSW's, the
    default for N > 1; Python's own sqlite3 (3.40 on Debian 12) is refused."""
    if workers <= 1 or not database_url.startswith("sqlite"):
        return None
    chosen = driver or "apsw"
    version = sqlite_library(chosen)
    if version >= SQLITE_SAFE_VERSION:
        return None
    shown = ".".join(str(part) for part in version)
    return (f"--workers {workers} on SQLite needs a SQLite without the WAL-reset bug (3.51.3 or "
            f"later), and COOP_SQLITE_DRIVER={chosen} links SQLite {shown}: run one process "
            "(leave out --workers), or unset COOP_SQLITE_DRIVER to use APSW's SQLite")


def prepare_workers(workers: int, settings: Settings) -> None:
    """Before uvicorn starts N > 1 processes on SQLite: they all use APSW's SQLite (the
    environment is what the spawned processes read their settings from)."""
    if workers > 1 and settings.database_url.startswith("sqlite"):
        os.environ.setdefault("COOP_SQLITE_DRIVER", "apsw")


def app_from_env() -> Litestar:
    """The app for each of uvicorn's worker processes (`--workers N`), from the environment."""
    from coop.api.app import create_app

    return create_app(Settings.from_env())
