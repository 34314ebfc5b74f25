"""A societies file: several societies served by one server process (a federation).

```toml
[society.north]                     # the name: a-z, 0-9 and "-"; reached at /s/north/...
database_url = "postgresql+psycopg://coop@db.lan/coop_north"
data_key_file = "/etc/coop/north/data.key"
hosts = ["north.coop.example"]      # optional: also reached at https://north.coop.example/
# optional: backup_key_file, timezone, pool_size; for `coop init --societies`:
# society_name, currency, locale, share_face_value

[society.south]
database_url = "sqlite:////var/lib/coop/south.db"
data_key_file = "/etc/coop/south/data.key"
```

Nothing is shared between societies but the code: each has its own database (a PostgreSQL
database of its own, or a SQLite file of its own) and its own master key for the identity
vault, and the file is refused when two societies name the same database, the same key file
or the same host. Relative paths (key files, SQLite files) are the file's folder's; a
society's backup key is by default `<data key>-backup<suffix>` beside its data key. What is
not a society's own comes from the environment as for one society
(COOP_WORKER_THREADS, COOP_TRUSTED_PROXIES, TLS, COOP_HTTPS_ONLY, COOP_BUSINESS_DATE, ...).
COOP_ADMIN_PASSWORD is not used for a federation: one password for every society's admin
would be something shared (`coop init --societies` prints each admin's own password once).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from coop.config import Settings
from coop.errors import InvalidInput

NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                  r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
PREFIX = "/s/"
"""A society is reached at /s/<name>/... (CONTRACT.md)."""
SOCIETIES_MAX = 200
KEYS = frozenset({"database_url", "data_key_file", "backup_key_file", "hosts", "timezone",
                  "pool_size", "society_name", "currency", "locale", "share_face_value"})
POOL_SIZE_DEFAULT = 10
"""Reader connections per society unless the file says: several societies share the server's
worker threads (COOP_WORKER_THREADS), so each needs fewer than one society alone."""


@dataclass(frozen=True)
class SocietyConfig:
    """One society of the file: its name, its own settings and how it is reached."""

    name: str
    settings: Settings
    hosts: tuple[str, ...] = ()
    society_name: str | None = None
    currency: str | None = None
    locale: str | None = None
    share_face_value: str | None = None

    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.name}"


def load_societies(path: Path, base: Settings) -> list[SocietyConfig]:
    """The societies of the file at `path`, each with `base` (from the environment) for what
    is not its own. Refuses (InvalidInput naming the society and the key) a file that is not
    TOML, an unknown key, a missing database or key file, and anything two societies share."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read the societies file {path}: {exc.strerror}",
                           field="societies") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"the societies file {path} is not TOML: {exc}",
                           field="societies") from exc
    tables = document.get("society")
    if set(document) - {"society"} or not isinstance(tables, dict) or not tables:
        raise InvalidInput(f"{path} needs [society.NAME] tables (and nothing else)",
                           field="societies")
    if len(tables) > SOCIETIES_MAX:
        raise InvalidInput(f"{path} names more than {SOCIETIES_MAX} societies",
                           field="societies")
    base_dir = path.resolve().parent
    societies = [_society(name, table, base, base_dir) for name, table in tables.items()]
    _refuse_shared(societies)
    return societies


def _society(name: str, table: Any, base: Settings, base_dir: Path) -> SocietyConfig:
    if not NAME.match(name):
        raise InvalidInput(f"society name {name!r}: 1 to 32 of a-z, 0-9 and '-' (not first "
                           "or last)", field="societies")
    if not isinstance(table, dict):
        raise InvalidInput(f"[society.{name}] is not a table", field="societies")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise InvalidInput(f"[society.{name}]: unknown key {unknown[0]!r} (known: "
                           f"{', '.join(sorted(KEYS))})", field="societies")
    text = {key: _text(name, table, key) for key in KEYS - {"hosts", "pool_size"}}
    url, data_key = text["database_url"], text["data_key_file"]
    if url is None or data_key is None:
        raise InvalidInput(f"[society.{name}] needs database_url and data_key_file "
                           "(its own database and its own vault key)", field="societies")
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInput(f"[society.{name}] database_url is not a database URL",
                           field="societies") from exc
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database and database != ":memory:" \
            and not database.startswith("file:") and not Path(database).is_absolute():
        url = parsed.set(database=str(_file(database, base_dir))).render_as_string(
            hide_password=False)
    key_file = _file(data_key, base_dir)
    backup = text["backup_key_file"]
    settings = replace(
        base, database_url=url, data_key_file=key_file,
        backup_key_file=_file(backup, base_dir) if backup else key_file.with_name(
            f"{key_file.stem}-backup{key_file.suffix}"),
        admin_password=None, timezone=text["timezone"] or base.timezone,
        pool_size=_pool_size(name, table.get("pool_size", POOL_SIZE_DEFAULT)))
    return SocietyConfig(name=name, settings=settings, hosts=_hosts(name, table.get("hosts")),
                         society_name=text["society_name"], currency=text["currency"],
                         locale=text["locale"], share_face_value=text["share_face_value"])


def _text(name: str, table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"[society.{name}] {key} is not a non-empty string",
                           field="societies")
    return value.strip()


def _file(text: str, base_dir: Path) -> Path:
    """A path in the file (a key file, a SQLite file), relative to the file's folder."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else base_dir / path


def _pool_size(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 200:
        raise InvalidInput(f"[society.{name}] pool_size is a whole number from 1 to 200",
                           field="societies")
    return value


def _hosts(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(host, str) for host in value):
        raise InvalidInput(f"[society.{name}] hosts is a list of host names",
                           field="societies")
    hosts = tuple(host.strip().lower().rstrip(".") for host in value)
    for host in hosts:
        if not HOST.match(host):
            raise InvalidInput(f"[society.{name}] host {host!r} is not a host name (no "
                               "scheme, port or path)", field="societies")
    return hosts


def database_identity(url: str) -> str:
    """What makes two URLs the same database: the file of a SQLite URL; the server, port and
    database of another (whoever logs in)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return f"sqlite:{database}"
        return f"sqlite:{Path(database).expanduser().resolve()}"
    return (f"{parsed.get_backend_name()}://{(parsed.host or '').lower()}:{parsed.port or ''}/"
            f"{parsed.database or ''}")


def _key_contents(society: SocietyConfig) -> list[tuple[str, str, str]]:
    """The digests of the society's key files that exist: a copy of another society's key
    under another name is a shared key too."""
    found = []
    for path in (society.settings.data_key_file, society.settings.backup_key_file):
        try:
            key = path.read_bytes()
        except OSError:  # not made yet (`coop init --societies` makes it) or unreadable
            continue
        found.append(("key", hashlib.sha256(key).hexdigest(), f"{path} holds a copy"))
    return found


def _refuse_shared(societies: list[SocietyConfig]) -> None:
    """No database, key file, key or host is any two societies'."""
    seen: dict[tuple[str, str], str] = {}
    for society in societies:
        settings = society.settings
        url = database_identity(settings.database_url)
        own = [("database", url, url),
               *(("key file", str(path.resolve()), str(path))
                 for path in (settings.data_key_file, settings.backup_key_file)),
               *(("host", host, host) for host in society.hosts),
               *_key_contents(society)]
        for what, identity, shown in own:
            other = seen.setdefault((what, identity), society.name)
            if other != society.name:
                raise InvalidInput(f"societies {other!r} and {society.name!r} share a {what} "
                                   f"({shown}): nothing is shared between societies",
                                   field="societies")


__all__ = ["HOST", "NAME", "PREFIX", "SocietyConfig", "database_identity", "load_societies"]
