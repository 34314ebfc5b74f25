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

Memory: glibc's malloc gives each thread that allocates its own arena, up to eight per core,
and memory freed in an arena stays with it; and after the first large buffer is freed it
raises its threshold for serving large buffers from fresh pages (returned when freed) up to
32 MiB, so later large buffers (a long statement's rows, a JSON body) are carved from the
arenas too. The server's threads each kept a heap whose free, fragmented part grew with
every request, while the memory in use stayed level. So `coop serve`, before any thread
starts, caps the arenas at COOP_MALLOC_ARENAS (2) and fixes that threshold at 128 KiB, its
starting value. COOP_MALLOC_ARENAS=0 leaves malloc alone, an operator's own MALLOC_ARENA_MAX or
MALLOC_MMAP_THRESHOLD_ wins, and elsewhere than glibc (musl, macOS) nothing is done.
"""

from __future__ import annotations

import ctypes
import functools
import ipaddress
import os
import signal
import sqlite3
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from litestar import Litestar

from coop.config import Settings
from coop.db import wal_reset_safe

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024


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


@functools.lru_cache(maxsize=1024)
def is_loopback(host: str | None) -> bool:
    """An address of this machine itself (127.0.0.0/8, ::1, an IPv4-mapped 127.x); "localhost"
    as a name to listen on. Anything else (another machine, a name, none) is not. Kept for the
    last thousand hosts asked about: every request from a client asks it (https_only)."""
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
    if wal_reset_safe(version):
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


def prepare_workers(workers: int, settings: Settings, *, societies: Path | None = None) -> None:
    """Before uvicorn starts N > 1 processes: the environment is what the spawned processes
    read their settings from, so `coop serve`'s own settings (and its societies file) go
    there; on SQLite they all use APSW's SQLite."""
    if workers <= 1:
        return
    if settings.database_url.startswith("sqlite") or societies is not None:
        os.environ.setdefault("COOP_SQLITE_DRIVER", "apsw")
    if societies is not None:
        os.environ["COOP_SOCIETIES"] = str(societies.resolve())
    os.environ["COOP_HTTPS_ONLY"] = "1" if settings.https_only else "0"
    if settings.tls_cert is not None and settings.tls_key is not None:
        os.environ["COOP_TLS_CERT"] = str(settings.tls_cert)
        os.environ["COOP_TLS_KEY"] = str(settings.tls_key)


def app_from_env() -> Litestar:
    """The app for each of uvicorn's worker processes (`--workers N`), from the environment."""
    from coop.api.app import create_app

    die_with_parent()
    return create_app(Settings.from_env())


PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Ask Linux to send this worker SIGTERM when the `coop serve` that started it dies, however
    it dies: a supervisor killed with SIGKILL (an out-of-memory kill, `kill -9`) otherwise
    leaves its workers serving on the port, on old code, with nobody to stop them. True if set
    (Linux only)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return False
    parent = os.getppid()
    if prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
    return True


def tune_malloc(arenas: int) -> list[str]:
    """Cap glibc's malloc arenas for this process at `arenas` and fix its mmap threshold
    (`arenas` 0: leave malloc alone). Call it before any thread starts: glibc fixes its arena
    limit when a thread first needs an arena. The settings made, as `name=value`."""
    if arenas <= 0 or not _is_glibc():
        return []
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - glibc always has it
        return []
    made = []
    for name, option, value in (("MALLOC_ARENA_MAX", M_ARENA_MAX, arenas),
                                ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD,
                                 MMAP_THRESHOLD_BYTES)):
        if name not in os.environ and mallopt(option, value):
            made.append(f"{name}={value}")
    return made


def _is_glibc() -> bool:
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):  # not a glibc system (or not POSIX)
        return False
    return version.startswith("glibc")
