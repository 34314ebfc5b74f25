"""How `coop serve` runs the app under uvicorn.

Forwarded headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from the addresses in
COOP_TRUSTED_PROXIES: uvicorn's own default trusts them from any loopback client, which let
anything on the machine choose its apparent address for the login throttle and the audit
trail. Behind a configured proxy that terminates TLS, the forwarded scheme makes counter
cookies `Secure`.

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
import os
from typing import Any

from coop.config import Settings

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024


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
