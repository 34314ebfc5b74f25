"""Settings from the environment. Nothing secret is ever stored in the database.

| variable | default | meaning |
|---|---|---|
| COOP_DATABASE_URL | sqlite:///coop.db | SQLAlchemy URL (sqlite:///FILE, postgresql+psycopg://) |
| COOP_REPLICA_URL | (none) | a read-only replica for reports and the auditor's checks |
| COOP_FAILOVER_WAIT_S | 10 | how long a write waits for a primary after a lost connection |
| COOP_DATA_KEY_FILE | ~/.config/coop/data.key | master key for the identity vault (0600) |
| COOP_ADMIN_PASSWORD | (generated) | password for user `admin` at `coop init` |
| COOP_TIMEZONE | Asia/Kolkata | the society's time zone (it decides the business date) |
| COOP_BUSINESS_DATE | (today) | pin the business date (YYYY-MM-DD) |
| COOP_DB_POOL_SIZE | 40 | connection pool size (>= the server's worker threads) |
| COOP_ARGON2_MEMORY_KIB | 65536 | argon2id memory cost of password hashes |
| COOP_WORKER_THREADS | 8 | threads for database work (anyio's, and the loop's executor) |
| COOP_GROUP_COMMIT | 1 | PostgreSQL: counter writes grouped in one transaction (coop.api.writes) |
| COOP_MALLOC_ARENAS | 2 | malloc arenas of `coop serve` (0: as glibc sets it; coop.api.server) |
| COOP_TRUSTED_PROXIES | (none) | proxies whose X-Forwarded-For/-Proto are believed (a,b) |
| COOP_TLS_CERT | (none) | `coop serve` speaks HTTPS: certificate chain (`coop tls init`) |
| COOP_TLS_KEY | (none) | ... and its private key (PEM) |
| COOP_HTTPS_ONLY | 1 (serve) | plain HTTP only from loopback; others: 403 "use https://" |
| COOP_BACKUP_DIR | (none) | where the nightly backups go (`coop doctor` checks their age) |

COOP_HTTPS_ONLY is 1 under `coop serve` unless set: a request that came over plain HTTP (not
through our TLS, nor forwarded as https by a trusted proxy) from any address but the machine
itself is refused. 0 allows plain HTTP from anywhere (only on a network you trust entirely).

COOP_DATABASE_URL may name a primary and its standby, libpq's way:
`postgresql+psycopg://coop@/coop?host=a:5432&host=b:5432&target_session_attrs=read-write`
(coop.db_failover). COOP_REPLICA_URL (a hot standby; with `target_session_attrs=prefer-standby`
and both hosts, the primary when no standby answers) takes the reads that may lag a moment:
the JSON reports (balance sheet, income and expenditure, receipts and payments, portfolio), the
trial balance, the export and GET /ledger/verify. Writes never go there.

`coop --env-file FILE` reads these from a systemd environment file (`read_env_file`), so a
command run by hand sees what the service sees (deploy/coop.env).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from coop.clock import SystemClock
from coop.errors import InvalidInput


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///coop.db"
    replica_url: str | None = None
    failover_wait_s: float = 10.0
    data_key_file: Path = field(default_factory=lambda: Path("~/.config/coop/data.key"))
    backup_key_file: Path = field(default_factory=lambda: Path("~/.config/coop/backup.key"))
    admin_password: str | None = None
    timezone: str = "Asia/Kolkata"
    business_date: date | None = None
    pool_size: int = 40
    argon2_memory_kib: int = 65536
    worker_threads: int = 8
    malloc_arenas: int = 2
    group_commit: bool = True
    trusted_proxies: tuple[str, ...] = ()
    """Addresses whose X-Forwarded-For / X-Forwarded-Proto are believed (COOP_TRUSTED_PROXIES,
    comma-separated; default none: the client's own address is the only one used)."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    backup_dir: Path | None = None
    https_only: bool = False
    """Refuse plain HTTP from any client but loopback (COOP_HTTPS_ONLY; `coop serve` turns it
    on unless it is set to 0). Behind a trusted proxy the forwarded scheme counts."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        pinned = env.get("COOP_BUSINESS_DATE") or None
        try:
            business_date = date.fromisoformat(pinned) if pinned else None
        except ValueError as exc:
            raise InvalidInput(
                f"COOP_BUSINESS_DATE {pinned!r} is not a YYYY-MM-DD date",
                field="COOP_BUSINESS_DATE",
            ) from exc
        return cls(
            database_url=env.get("COOP_DATABASE_URL", cls.database_url),
            replica_url=env.get("COOP_REPLICA_URL") or None,
            failover_wait_s=_seconds(env, "COOP_FAILOVER_WAIT_S", cls.failover_wait_s),
            data_key_file=Path(
                env.get("COOP_DATA_KEY_FILE", "~/.config/coop/data.key")
            ).expanduser(),
            backup_key_file=Path(
                env.get("COOP_BACKUP_KEY_FILE", "~/.config/coop/backup.key")
            ).expanduser(),
            admin_password=env.get("COOP_ADMIN_PASSWORD") or None,
            timezone=env.get("COOP_TIMEZONE", cls.timezone),
            business_date=business_date,
            pool_size=int(env.get("COOP_DB_POOL_SIZE", str(cls.pool_size))),
            worker_threads=int(env.get("COOP_WORKER_THREADS", str(cls.worker_threads))),
            malloc_arenas=int(env.get("COOP_MALLOC_ARENAS", str(cls.malloc_arenas))),
            group_commit=env.get("COOP_GROUP_COMMIT", "1").strip().lower()
            not in ("0", "false", "no"),
            trusted_proxies=tuple(
                part.strip() for part in env.get("COOP_TRUSTED_PROXIES", "").split(",")
                if part.strip()),
            tls_cert=_path(env.get("COOP_TLS_CERT")),
            tls_key=_path(env.get("COOP_TLS_KEY")),
            backup_dir=_path(env.get("COOP_BACKUP_DIR")),
            https_only=env.get("COOP_HTTPS_ONLY", "0").strip().lower() in ("1", "true", "yes"),
            argon2_memory_kib=int(
                env.get("COOP_ARGON2_MEMORY_KIB", str(cls.argon2_memory_kib))
            ),
        )

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    def clock(self) -> SystemClock:
        return SystemClock(timezone=self.timezone, pinned_date=self.business_date)


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise InvalidInput(f"{name} {text!r} is not a number of seconds (0 to 3600)",
                           field=name)
    return value


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of a systemd EnvironmentFile: `NAME=value` lines; blank lines and lines
    starting with # or ; are skipped, a value in matching single or double quotes loses them.
    (systemd also joins lines ending in a backslash and unescapes quoted values: coop's
    settings need neither, so a line like that is refused rather than read differently.)"""
    variables: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        name, equals, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not _NAME.fullmatch(name) or value.endswith("\\"):
            raise InvalidInput(f"{path}, line {number}: not a NAME=value line",
                               field="env_file")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        variables[name] = value
    return variables
