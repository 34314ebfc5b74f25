"""How `coop serve` runs the app under uvicorn.

Forwarded headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from the addresses in
COOP_TRUSTED_PROXIES: uvicorn's own default trusts them from any loopback client, which let
anything on the machine choose its apparent address for the login throttle and the audit
trail. Behind a configured proxy that terminates TLS, the forwarded scheme makes counter
cookies `Secure`.
"""

from __future__ import annotations

from typing import Any

from coop.config import Settings


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
