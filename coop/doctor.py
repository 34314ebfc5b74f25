"""`coop doctor`: is this machine ready to keep a society's books (issue 21)?

Each check returns findings: OK, WARN (it works, but do this) or FAIL (fix this first), each
one line that says what was found and what to do about it. `coop doctor` exits 1 if any
check fails.

The checks only read. The SQLite database is opened read-only (a read-only connection never
writes nor checkpoints, so it is safe beside a running `coop serve`, even on a SQLite with the
WAL-reset bug); its journal mode is read from the file's header; nothing is created.
What a check asks of the machine (the time, the disk, the time zone, NTP, the SQLite
libraries, the user) comes through `Machine`, which the tests replace.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from coop import backup, db_apsw, migrate
from coop.config import Settings
from coop.db import require_driver, wal_reset_safe
from coop.errors import CoopError
from coop.i18n import LANGUAGES
from coop.passbooks.typeset import font_dir, font_files

Status = Literal["OK", "WARN", "FAIL"]

CERT_DAYS_WARN = 30
BACKUP_AGE_WARN = timedelta(hours=26)
"""A nightly backup is at most a day old, with an hour or two of slack."""
BACKUP_AGE_FAIL = timedelta(hours=72)
DISK_FREE_WARN = 2 << 30
DISK_FREE_FAIL = 256 << 20
"""Below this a write is refused soon (503 storage-unavailable) and a backup may not fit; at
least twice the SQLite file must be free too (a backup copies it, then seals the copy)."""


@dataclass(frozen=True)
class Finding:
    status: Status
    check: str
    message: str


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


def system_zone(localtime: Path = Path("/etc/localtime"),
                timezone_file: Path = Path("/etc/timezone")) -> str | None:
    """The machine's time zone name: where /etc/localtime points, else /etc/timezone."""
    try:
        target = os.readlink(localtime)
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    try:
        return timezone_file.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def ntp_synchronized() -> bool | None:
    """systemd's word on the clock (timedatectl), or None when it cannot be asked."""
    tool = shutil.which("timedatectl")
    if tool is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - a fixed command line, found on PATH
            [tool, "show", "--property=NTPSynchronized", "--value"],
            capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"yes": True, "no": False}.get(done.stdout.strip()) if done.returncode == 0 else None


def sqlite_versions() -> dict[str, tuple[int, ...]]:
    """The SQLite each COOP_SQLITE_DRIVER links."""
    return {"sqlite3": sqlite3.sqlite_version_info, "apsw": db_apsw.sqlite_version_info}


def _disk_usage(path: Path) -> DiskUsage:
    total, used, free = shutil.disk_usage(path)
    return DiskUsage(total, used, free)


@dataclass(frozen=True)
class Machine:
    """What the checks ask of the machine."""

    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    disk_usage: Callable[[Path], DiskUsage] = _disk_usage
    system_zone: Callable[[], str | None] = system_zone
    ntp_synchronized: Callable[[], bool | None] = ntp_synchronized
    sqlite_versions: Callable[[], Mapping[str, tuple[int, ...]]] = sqlite_versions
    uid: Callable[[], int] = os.geteuid


def run_checks(settings: Settings, machine: Machine, *,
               sqlite_driver: str | None = None) -> list[Finding]:
    """Every check, in the order `coop doctor` prints them."""
    now = machine.now()
    return [
        sqlite_library(settings, machine.sqlite_versions(), driver=sqlite_driver or "sqlite3"),
        journal_mode(settings),
        database(settings),
        *key_files(settings, uid=machine.uid()),
        fonts(font_dir()),
        *tls(settings, now=now),
        backups(settings.backup_dir, now=now),
        *disk(settings, machine.disk_usage),
        *clock(settings, now=now, zone=machine.system_zone(),
               synchronized=machine.ntp_synchronized()),
    ]


def _sqlite_file(settings: Settings) -> Path | None:
    url = make_url(settings.database_url)
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:" \
            or name.startswith("file:"):
        return None
    return Path(name)


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def sqlite_library(settings: Settings, versions: Mapping[str, tuple[int, ...]], *,
                   driver: str) -> Finding:
    """The WAL-reset bug of SQLite before 3.51.3: one process per file is safe with it (coop
    writes through one connection), several processes are not."""
    if _sqlite_file(settings) is None:
        return Finding("OK", "sqlite", "not a SQLite file: SQLite's version does not matter")
    version = versions.get(driver)
    if version is None:
        return Finding("FAIL", "sqlite", f"COOP_SQLITE_DRIVER is {driver!r}: it is one of "
                       f"{', '.join(versions)}")
    shown = ".".join(map(str, version))
    if wal_reset_safe(version):
        return Finding("OK", "sqlite", f"SQLite {shown} ({driver}) has no WAL-reset bug: "
                       "several coop processes may share the file (coop serve --workers N)")
    better = [f"COOP_SQLITE_DRIVER={name} (SQLite {'.'.join(map(str, other))})"
              for name, other in versions.items() if wal_reset_safe(other)]
    return Finding("WARN", "sqlite", f"SQLite {shown} ({driver}) has the WAL-reset bug: keep to "
                   "one coop process on this file (coop serve without --workers, no CLI writes "
                   "while it runs)" + (f", or set {better[0]}" if better else ""))


def journal_mode(settings: Settings) -> Finding:
    """WAL, from the file's header (bytes 18 and 19 are 2 in WAL mode): coop's single writer
    and concurrent readers rely on it."""
    path = _sqlite_file(settings)
    if path is None:
        return Finding("OK", "journal", "not a SQLite file: PostgreSQL keeps its own log")
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except FileNotFoundError:
        return Finding("FAIL", "journal", f"no database at {path}: run `coop init` (or correct "
                       "COOP_DATABASE_URL)")
    except OSError as exc:
        return Finding("FAIL", "journal", f"cannot read {path}: {exc.strerror}")
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return Finding("FAIL", "journal", f"{path} is empty or not a SQLite database: run "
                       "`coop init` for a new one, or `coop restore` a backup")
    if header[18] != 2 or header[19] != 2:
        return Finding("FAIL", "journal", f"{path} is not in WAL mode: `coop init` turns it on "
                       "(coop opens every connection with journal_mode=WAL)")
    return Finding("OK", "journal", "WAL mode; coop writes through one connection per process "
                   "(single writer) with synchronous=FULL")


def _current_revisions(url: URL) -> tuple[str, ...]:
    path = Path(url.database or "")
    if url.get_backend_name() == "sqlite":
        if not path.is_file():
            raise CoopError(f"no database at {path}: run `coop init`")
        uri = f"{path.resolve().as_uri()}?mode=ro"
        engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True),
                               poolclass=NullPool)
    else:
        require_driver(url)
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as connection:
            return tuple(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def database(settings: Settings) -> Finding:
    """The database answers and is migrated to this code's head revision."""
    url = make_url(settings.database_url)
    try:
        current = set(_current_revisions(url))
    except CoopError as exc:
        return Finding("FAIL", "database", exc.detail)
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Finding("FAIL", "database", f"cannot read {_shown(url)}: {reason} (is the "
                       "server running? is COOP_DATABASE_URL right?)")
    heads = set(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())
    if not current:
        return Finding("FAIL", "database", f"{_shown(url)} has no coop tables: run `coop init`")
    if current != heads:
        return Finding("FAIL", "database", f"{_shown(url)} is at revision "
                       f"{', '.join(sorted(current))}, this coop expects "
                       f"{', '.join(sorted(heads))}: run `coop init` (it migrates)")
    return Finding("OK", "database", f"{_shown(url)} answers, migrated to the latest revision "
                   f"({', '.join(sorted(heads))})")


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _key_file(name: str, path: Path, *, uid: int, missing: Finding) -> Finding:
    try:
        info = path.stat()
    except FileNotFoundError:
        return missing
    except OSError as exc:
        return Finding("FAIL", "keys", f"cannot look at the {name} {path}: {exc.strerror}")
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode):
        return Finding("FAIL", "keys", f"the {name} {path} is not a file")
    if mode & 0o077:
        return Finding("FAIL", "keys", f"the {name} {path} has mode {mode:04o}, others may "
                       f"read it: chmod 600 {path}")
    if info.st_uid != uid:
        return Finding("FAIL", "keys", f"the {name} {path} belongs to {_user(info.st_uid)}, "
                       f"not {_user(uid)}: chown {_user(uid)} {path} (run coop doctor as the "
                       "user coop runs as)")
    if info.st_size != 32:
        return Finding("FAIL", "keys", f"the {name} {path} holds {info.st_size} bytes, not a "
                       "32-byte key: put back its copy")
    if stat.S_IMODE(path.parent.stat().st_mode) & 0o022:
        return Finding("WARN", "keys", f"others may write in {path.parent}, the {name}'s "
                       f"folder: chmod 700 {path.parent}")
    return Finding("OK", "keys", f"the {name} {path}: mode 0600, {_user(uid)}'s, 32 bytes")


def key_files(settings: Settings, *, uid: int) -> list[Finding]:
    """Both keys are the coop user's alone (0600); neither is in the database or a backup."""
    data = settings.data_key_file
    backup_key = settings.backup_key_file
    return [
        _key_file("data key", data, uid=uid, missing=Finding(
            "FAIL", "keys", f"no data key at {data} (COOP_DATA_KEY_FILE): `coop init` makes "
            "one for a new society; otherwise put back its copy (without it names and phones "
            "cannot be read)")),
        _key_file("backup key", backup_key, uid=uid, missing=Finding(
            "WARN", "keys", f"no backup key at {backup_key} yet (COOP_BACKUP_KEY_FILE): the "
            "first `coop backup` makes it; then copy it off this machine")),
    ]


def fonts(directory: Path) -> Finding:
    """The Noto fonts each language's documents embed (coop.passbooks.typeset)."""
    missing = {language: [name for name in font_files(language)
                          if not os.access(directory / name, os.R_OK)]
               for language in LANGUAGES}
    lacking = {language: names for language, names in missing.items() if names}
    if not lacking:
        return Finding("OK", "fonts", f"the fonts of documents in {', '.join(LANGUAGES)} are "
                       f"in {directory}")
    files = sorted({name for names in lacking.values() for name in names})
    return Finding("FAIL", "fonts", f"documents in {', '.join(lacking)} cannot be printed: "
                   f"{', '.join(files)} missing from {directory}: apt-get install "
                   "fonts-noto-core (or set COOP_FONT_DIR)")



def tls(settings: Settings, *, now: datetime) -> list[Finding]:
    """The files `coop serve` speaks HTTPS with: readable, the key 0600 and the certificate's
    own, the certificate valid for a while yet."""
    cert, key = settings.tls_cert, settings.tls_key
    if cert is None and key is None:
        if settings.trusted_proxies:
            return [Finding("OK", "tls", "no TLS of coop's own: behind the proxy at "
                            f"{', '.join(settings.trusted_proxies)}, which speaks HTTPS")]
        return [Finding("WARN", "tls", "no TLS: coop serve answers plain HTTP to this machine "
                        "only; for the counters set COOP_TLS_CERT and COOP_TLS_KEY (`coop tls "
                        "init`) or run behind a proxy (deploy/Caddyfile)")]
    if cert is None or key is None:
        return [Finding("FAIL", "tls", "set both COOP_TLS_CERT and COOP_TLS_KEY, or neither")]
    certificate, finding = _certificate(cert, now)
    return [finding, _tls_key(key, certificate)]


def _certificate(path: Path, now: datetime) -> tuple[x509.Certificate | None, Finding]:
    try:
        leaf = x509.load_pem_x509_certificates(path.read_bytes())[0]
    except OSError as exc:
        return None, Finding("FAIL", "tls", f"cannot read the certificate {path}: "
                             f"{exc.strerror}")
    except ValueError:
        return None, Finding("FAIL", "tls", f"{path} holds no PEM certificate: make one with "
                             "`coop tls init`")
    end = leaf.not_valid_after_utc
    renew = "renew it with `coop tls init --name ...` (the authority is kept), then restart coop"
    if end <= now:
        return leaf, Finding("FAIL", "tls", f"the certificate {path} expired on {end:%Y-%m-%d}: "
                             f"{renew}")
    if leaf.not_valid_before_utc > now:
        return leaf, Finding("FAIL", "tls", f"the certificate {path} is valid only from "
                             f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC: is the clock "
                             "right?")
    days = (end - now).days
    if days < CERT_DAYS_WARN:
        return leaf, Finding("WARN", "tls", f"the certificate {path} expires in {days} days "
                             f"({end:%Y-%m-%d}): {renew}")
    return leaf, Finding("OK", "tls", f"the certificate {path} is valid until {end:%Y-%m-%d} "
                         f"({days} days) for {', '.join(_names(leaf)) or 'no name'}")


def _names(leaf: x509.Certificate) -> list[str]:
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(name.value) for name in names]


def _tls_key(path: Path, certificate: x509.Certificate | None) -> Finding:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        return Finding("FAIL", "tls", f"cannot read the TLS key {path}: {exc.strerror}")
    except (ValueError, TypeError):
        return Finding("FAIL", "tls", f"{path} holds no PEM private key without a password")
    if mode & 0o077:
        return Finding("FAIL", "tls", f"the TLS key {path} has mode {mode:04o}, others may "
                       f"read it: chmod 600 {path}")
    spki = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate is not None and \
            certificate.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        return Finding("FAIL", "tls", f"the TLS key {path} is not the certificate's: give the "
                       "pair `coop tls init` wrote together")
    return Finding("OK", "tls", f"the TLS key {path}: mode 0600, the certificate's")


def backups(directory: Path | None, *, now: datetime) -> Finding:
    """The newest backup `coop backup --out DIR --keep N` wrote (its name is its UTC time)."""
    if directory is None:
        return Finding("WARN", "backups", "COOP_BACKUP_DIR is not set: set it to the folder the "
                       "nightly backup writes to (deploy/coop-backup.service)")
    try:
        names = sorted(path.name for path in directory.iterdir()
                       if backup.ROTATED.match(path.name))
    except FileNotFoundError:
        return Finding("FAIL", "backups", f"{directory} does not exist: make it (mode 0700, the "
                       "coop user's) and enable coop-backup.timer")
    except OSError as exc:
        return Finding("FAIL", "backups", f"cannot read {directory}: {exc.strerror}")
    if not names:
        return Finding("FAIL", "backups", f"no backup in {directory}: run `coop backup --out "
                       f"{directory} --keep 14` and enable coop-backup.timer")
    made = datetime.strptime(names[-1], "coop-backup-%Y%m%dT%H%M%SZ.zip").replace(tzinfo=UTC)
    age = now - made
    told = f"the newest backup {names[-1]} is {_age(age)} old"
    look = "see `systemctl status coop-backup.timer` and `journalctl -u coop-backup`"
    if age < -timedelta(minutes=5):
        return Finding("WARN", "backups", f"the newest backup {names[-1]} is dated "
                       f"{_age(-age)} in the future: is the clock right?")
    if age > BACKUP_AGE_FAIL:
        return Finding("FAIL", "backups", f"{told}: {look}")
    if age > BACKUP_AGE_WARN:
        return Finding("WARN", "backups", f"{told}: the nightly one did not run; {look}")
    return Finding("OK", "backups", f"{told} ({len(names)} in {directory})")


def _age(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def disk(settings: Settings, usage: Callable[[Path], DiskUsage]) -> list[Finding]:
    """Free space where the SQLite file and the backups are (each file system once)."""
    sqlite_file = _sqlite_file(settings)
    folders = [folder for folder in (sqlite_file.parent if sqlite_file else None,
                                     settings.backup_dir) if folder is not None]
    if not folders:
        return [Finding("OK", "disk", "no SQLite file nor backup folder here: watch the disk "
                        "of the PostgreSQL server on its machine")]
    book = sqlite_file.stat().st_size if sqlite_file and sqlite_file.is_file() else 0
    findings: list[Finding] = []
    seen: set[int] = set()
    for folder in folders:
        if not folder.is_dir():
            findings.append(Finding("WARN", "disk", f"{folder} does not exist: no free space "
                                    "to measure there"))
            continue
        if folder.stat().st_dev in seen:
            continue
        seen.add(folder.stat().st_dev)
        free = usage(folder).free
        shown = f"{free / (1 << 30):.1f} GiB free in {folder}"
        if free < max(DISK_FREE_FAIL, 2 * book):
            findings.append(Finding("FAIL", "disk", f"only {shown}: writes will soon be "
                                    "refused and a backup may not fit; make room"))
        elif free < max(DISK_FREE_WARN, 10 * book):
            findings.append(Finding("WARN", "disk", f"{shown}: make room before it runs out"))
        else:
            findings.append(Finding("OK", "disk", shown))
    return findings


def clock(settings: Settings, *, now: datetime, zone: str | None,
          synchronized: bool | None) -> list[Finding]:
    """The society's time zone decides the business date; the machine's, the timer's hour."""
    try:
        society = ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return [Finding("FAIL", "clock", f"COOP_TIMEZONE {settings.timezone!r} is not a time "
                        "zone (e.g. Asia/Kolkata): the business date cannot be known")]
    today = now.astimezone(society).date()
    findings = []
    if settings.business_date is not None:
        findings.append(Finding("WARN", "clock", f"COOP_BUSINESS_DATE pins the business date "
                                f"to {settings.business_date} (for demos and tests): remove "
                                "it from the environment file"))
    try:
        machine = ZoneInfo(zone) if zone else None
    except (ZoneInfoNotFoundError, ValueError):
        machine = None
    if machine is None:
        findings.append(Finding("WARN", "clock", f"the machine's time zone is unknown "
                                f"({zone or '/etc/localtime'}): timedatectl set-timezone "
                                f"{settings.timezone}"))
    elif now.astimezone(machine).utcoffset() != now.astimezone(society).utcoffset():
        findings.append(Finding("WARN", "clock", f"the machine's time zone is {zone}, the "
                                f"society's {settings.timezone}: business dates follow the "
                                "society's, the backup timer and logs the machine's: "
                                f"timedatectl set-timezone {settings.timezone}"))
    else:
        findings.append(Finding("OK", "clock", f"time zone {settings.timezone} (the machine's "
                                f"{zone} agrees); the business date is {today}"))
    if synchronized is None:
        findings.append(Finding("WARN", "clock", "cannot ask timedatectl whether the clock is "
                                "synchronised (no systemd?): make sure something keeps it "
                                "right (NTP)"))
    elif not synchronized:
        findings.append(Finding("WARN", "clock", "the clock is not synchronised: apt-get "
                                "install systemd-timesyncd (a wrong clock gives wrong business "
                                "dates and certificates that look expired)"))
    else:
        findings.append(Finding("OK", "clock", "the clock is synchronised (NTP)"))
    return findings
