"""How `coop serve` runs the app under uvicorn.

Forwarded headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from the addresses in
COOP_TRUSTED_PROXIES: uvicorn's own default trusts them from any loopback client, which let
anything on the machine choose its apparent address for the login throttle and the audit
trail. Behind a configured proxy that terminates TLS, the forwarded scheme makes counter
cookies `Secure`.

With COOP_TLS_CERT / COOP_TLS_KEY (`coop serve --tls-cert --tls-key`, files from `coop tls
init`) uvicorn itself speaks HTTPS, and only HTTPS, on its port: every cookie is `Secure` and
responses carry HSTS (coop.api.security). Without TLS, `coop serve` answers plain HTTP only
to the machine itself (coop.api.transport): a counter on the network is told to use https://.
"""

from __future__ import annotations

import ipaddress
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from litestar import Litestar

from coop.config import Settings
from coop.db import SQLITE_SAFE_VERSION


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn keyword arguments for these settings (besides the app, host and port)."""
    trusted = list(settings.trusted_proxies)
    tls = ({"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
           if settings.tls else {})
    return {
        **tls,
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or [],
        "server_header": False,
    }


def is_loopback(host: str | None) -> bool:
    """An address of this machine itself (127.0.0.0/8, ::1, an IPv4-mapped 127.x); "localhost"
    as a name to listen on. Anything else (another machine, a name, none) is not."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def tls_refusal(settings: Settings) -> str | None:
    """Why these TLS settings cannot serve, or None: both files or neither, each readable."""
    if (settings.tls_cert is None) != (settings.tls_key is None):
        return ("give both --tls-cert and --tls-key (or COOP_TLS_CERT and COOP_TLS_KEY), "
                "or neither")
    for path in (settings.tls_cert, settings.tls_key):
        if path is not None and not path.is_file():
            return f"{path} is not a file (make the certificates with `coop tls init`)"
    return None


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


def serve_settings(settings: Settings, environ: Mapping[str, str], *,
                   tls_cert: Path | None, tls_key: Path | None) -> Settings:
    """The settings `coop serve` runs with: its --tls-cert/--tls-key over COOP_TLS_*, and
    plain HTTP only for the machine itself unless COOP_HTTPS_ONLY says otherwise."""
    return replace(
        settings,
        tls_cert=tls_cert or settings.tls_cert, tls_key=tls_key or settings.tls_key,
        https_only=settings.https_only if "COOP_HTTPS_ONLY" in environ else True)


def prepare_workers(workers: int, settings: Settings) -> None:
    """Before uvicorn starts N > 1 processes: the environment is what the spawned processes
    read their settings from, so `coop serve`'s own settings go there; on SQLite they all use
    APSW's SQLite."""
    if workers <= 1:
        return
    if settings.database_url.startswith("sqlite"):
        os.environ.setdefault("COOP_SQLITE_DRIVER", "apsw")
    os.environ["COOP_HTTPS_ONLY"] = "1" if settings.https_only else "0"
    if settings.tls_cert is not None and settings.tls_key is not None:
        os.environ["COOP_TLS_CERT"] = str(settings.tls_cert)
        os.environ["COOP_TLS_KEY"] = str(settings.tls_key)


def app_from_env() -> Litestar:
    """The app for each of uvicorn's worker processes (`--workers N`), from the environment."""
    from coop.api.app import create_app

    return create_app(Settings.from_env())
