"""Backups that restore to the same books, and restores that never overwrite by accident.

A backup is one zip file: `manifest.json` and the database itself. The manifest records the
journal's chain head (entry number and hash) *of the copy*, the number of entries, the schema
revision, the engine and the payload's SHA-256, so a restore can prove it brought back exactly
what was saved.

- SQLite: `VACUUM INTO` a new file: a consistent snapshot taken in one read transaction while
  the server keeps writing, compact, and without the forensic traces of deleted rows (the
  erased identities of reference/reliability.md §6 stay erased). The head is read from the copy.
- PostgreSQL: `pg_dump -Fc` run on a snapshot exported from a REPEATABLE READ transaction in
  which the head was read, so head and dump are of the same instant.

The database inside is encrypted at rest (format coop-backup/2): AES-256-GCM in 1 MiB
chunks, each sealed with its own nonce (a random prefix and the chunk's number) and with the
manifest's digest, its number and whether it is the last as associated data, so a chunk that
is changed, dropped, moved or added makes the restore refuse the file. The key is the backup
key (COOP_BACKUP_KEY_FILE, 32 bytes, mode 0600), kept apart from the vault's data key: a stolen
backup without it is noise, and the ledger in it (amounts, dates, member numbers) stays
unreadable. The manifest (chain head, counts, the key's fingerprint) stays readable.

A restore refuses a target database that already has books in it unless told to (`force`),
checks the payload's hash, restores, then runs `verify` and compares the chain head with the
manifest's. Backups hold the members' identities encrypted, never the vault's key: keep the
key files (COOP_DATA_KEY_FILE and COOP_BACKUP_KEY_FILE) backed up separately, away from the
backup files.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import create_engine, inspect, literal, select, table, text
from sqlalchemy.engine import URL, make_url

from coop.db import Database, require_driver, sqlite_module
from coop.db_failover import libpq_conninfo
from coop.errors import Conflict, InvalidInput
from coop.ledger.verify import verify

FORMAT = "coop-backup/2"
PAYLOAD = {"sqlite": "coop.sqlite.enc", "postgresql": "coop.pgdump.enc"}
CHUNK_BYTES = 1 << 20
NONCE_PREFIX_BYTES = 8
BOOK_TABLES = ("ledger_entry", "member", "society", "auth_user")


@dataclass(frozen=True)
class Manifest:
    format: str
    engine: str
    created_at: str
    head_seq: int
    head_hash: str
    entries: int
    schema_revision: str | None
    payload: str
    payload_sha256: str  # of the database before encryption
    key_id: str = ""  # the backup key's fingerprint (not the key)
    nonce_prefix: str = ""


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    head_seq: int
    head_hash: str
    seconds: float


class BackupRefused(Conflict):
    code = "backup_refused"
    title = "Restore refused"


def key_id(key: bytes) -> str:
    """A fingerprint that tells which key a backup needs without revealing it."""
    return hmac.new(key, b"coop/v1/backup-key-id", hashlib.sha256).hexdigest()[:16]


def _chunk_aad(manifest_digest: bytes, index: int, last: bool) -> bytes:
    return manifest_digest + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


def _manifest_digest(manifest: Manifest) -> bytes:
    fields = asdict(manifest)
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).digest()


def _seal_file(plain: Path, sealed: Path, key: bytes, manifest: Manifest) -> None:
    cipher, digest = AESGCM(key), _manifest_digest(manifest)
    prefix = bytes.fromhex(manifest.nonce_prefix)
    size = plain.stat().st_size
    with plain.open("rb") as source, _private_file(sealed) as target:
        index = 0
        while True:
            block = source.read(CHUNK_BYTES)
            last = source.tell() >= size
            nonce = prefix + index.to_bytes(4, "big")
            target.write(cipher.encrypt(nonce, block, _chunk_aad(digest, index, last)))
            index += 1
            if last:
                return


def _open_file(sealed: Path, plain: Path, key: bytes, manifest: Manifest) -> None:
    cipher, digest = AESGCM(key), _manifest_digest(manifest)
    prefix = bytes.fromhex(manifest.nonce_prefix)
    size, step = sealed.stat().st_size, CHUNK_BYTES + 16
    with sealed.open("rb") as source, _private_file(plain) as target:
        index = 0
        while True:
            block = source.read(step)
            last = source.tell() >= size
            nonce = prefix + index.to_bytes(4, "big")
            try:
                target.write(cipher.decrypt(nonce, block, _chunk_aad(digest, index, last)))
            except InvalidTag as error:
                raise InvalidInput("the backup is damaged: its database does not match its "
                                   "manifest") from error
            index += 1
            if last:
                return


def _private_file(path: Path) -> BinaryIO:
    """A new file only its owner can read (mode 0600)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(descriptor, "wb")


def _engine_name(url: URL) -> str:
    name = url.get_backend_name()
    if name not in PAYLOAD:
        raise InvalidInput(f"cannot back up a {name} database", field="COOP_DATABASE_URL")
    require_driver(url)
    return name


def _tool(name: str) -> str:
    """The full path of a PostgreSQL client program (arguments go to it as a list, no
    shell)."""
    path = shutil.which(name)
    if path is None:
        raise InvalidInput(f"{name} is not installed (Debian: postgresql-client)")
    return path


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The URL as pg_dump and pg_restore take it (libpq's `key=value` string: several hosts,
    `host=a:5432&host=b:5432&target_session_attrs=read-write`, become libpq's lists), without
    its password, and the environment to run them in: the password goes as PGPASSWORD, never
    on a command line, where every user of the machine could read it in the process list."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return libpq_conninfo(url), env


def _sqlite_snapshot(source: Path, target: Path) -> tuple[int, str, int, str | None]:
    """VACUUM INTO through the SQLite library this process's Database uses (coop.db's
    sqlite_module: never two libraries on one file in one process)."""
    driver = sqlite_module()
    connection = driver.connect(str(source))
    try:
        connection.execute("VACUUM INTO ?", (str(target),))
    finally:
        connection.close()
    copy = driver.connect(str(target))
    try:
        return _read_facts(copy)
    finally:
        copy.close()


def _read_facts(connection: Any) -> tuple[int, str, int, str | None]:
    head = connection.execute("SELECT head_seq, head_hash FROM ledger_book WHERE id = 1")
    row = head.fetchone()
    if row is None:
        raise InvalidInput("the database has no book: run `coop init` first")
    entries = connection.execute("SELECT count(*) FROM ledger_entry").fetchone()[0]
    revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return int(row[0]), str(row[1]), int(entries), revision[0] if revision else None


def _postgres_snapshot(url: URL, target: Path) -> tuple[int, str, int, str | None]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            row = connection.exec_driver_sql(
                "SELECT head_seq, head_hash FROM ledger_book WHERE id = 1").one()
            entries = connection.exec_driver_sql("SELECT count(*) FROM ledger_entry").scalar()
            revision = connection.exec_driver_sql(
                "SELECT version_num FROM alembic_version").scalar()
            # the dump reads the same snapshot while this transaction keeps it alive
            where, env = _libpq(url)
            subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner",  # noqa: S603
                            "--no-privileges", f"--snapshot={snapshot}", f"--file={target}",
                            where], check=True, capture_output=True, env=env)
            connection.exec_driver_sql("ROLLBACK")
    except subprocess.CalledProcessError as error:
        raise InvalidInput(f"pg_dump failed: {error.stderr.decode()[-300:]}") from error
    finally:
        engine.dispose()
    return int(row[0]), str(row[1]), int(entries or 0), revision


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


ROTATED = re.compile(r"^coop-backup-\d{8}T\d{6}Z\.zip$")
"""The backups `coop backup --out FOLDER` names, the only files `rotate` may remove."""


def rotated_name(now: datetime) -> str:
    """coop-backup-20261207T013000Z.zip: the UTC time, so names sort as the backups were
    made."""
    return f"coop-backup-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}.zip"


def rotate(folder: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` backups in `folder` (only files named as
    `rotated_name` names them; anything else there is left alone); the removed, oldest
    first."""
    if keep < 1:
        raise InvalidInput("keep at least one backup", field="keep")
    ours = sorted(path for path in folder.iterdir()
                  if path.is_file() and ROTATED.match(path.name))
    removed = ours[:-keep]
    for path in removed:
        path.unlink()
    return removed


def create(database_url: str, out: Path, *, key: bytes) -> Manifest:
    """Back the database up into `out`, encrypted under the backup `key` (written whole,
    mode 0600, then renamed into place)."""
    url = make_url(database_url)
    engine = _engine_name(url)
    with tempfile.TemporaryDirectory(prefix="coop-backup-") as work:
        plain = Path(work) / "database"
        if engine == "sqlite":
            source = Path(url.database or "")
            if not source.is_file():
                raise InvalidInput(f"there is no database file {source}")
            seq, digest, entries, revision = _sqlite_snapshot(source, plain)
        else:
            seq, digest, entries, revision = _postgres_snapshot(url, plain)
        manifest = Manifest(FORMAT, engine, datetime.now(UTC).isoformat(timespec="seconds"),
                            seq, digest, entries, revision, PAYLOAD[engine], _sha256(plain),
                            key_id(key), secrets.token_bytes(NONCE_PREFIX_BYTES).hex())
        payload = Path(work) / manifest.payload
        _seal_file(plain, payload, key, manifest)
        plain.unlink()
        partial = out.with_name(out.name + ".partial")
        with _private_file(partial) as handle, zipfile.ZipFile(handle, "w") as archive:
            archive.writestr("manifest.json", json.dumps(asdict(manifest), indent=2))
            archive.write(payload, payload.name)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        partial.replace(out)
    return manifest


def read_manifest(backup: Path) -> Manifest:
    try:
        with zipfile.ZipFile(backup) as archive:
            fields = json.loads(archive.read("manifest.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise InvalidInput(f"{backup} is not a coop backup: {error}") from error
    if fields.get("format") != FORMAT:
        raise InvalidInput(f"{backup} is not a {FORMAT} backup (an unencrypted coop-backup/1 "
                           "is not restored: make a new backup)")
    try:
        return Manifest(**fields)
    except TypeError as error:
        raise InvalidInput(f"{backup} is not a coop backup: {error}") from error


def _has_books(url: URL) -> bool:
    """True when the target already holds a society's data (any table with rows in it)."""
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not path.is_file() or path.stat().st_size == 0:
            return False
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            return any(connection.execute(select(literal(1)).select_from(table(name))
                                          .limit(1)).first()
                       for name in BOOK_TABLES if name in present)
    finally:
        engine.dispose()


def restore(backup: Path, database_url: str, *, key: bytes, force: bool = False) -> Restored:
    """Restore `backup` into the database at `database_url` and prove it: verify passes and
    the chain head is the manifest's. A target with books in it needs `force`."""
    started = time.perf_counter()
    manifest = read_manifest(backup)
    if manifest.key_id != key_id(key):
        raise InvalidInput(f"{backup} was made with another backup key (fingerprint "
                           f"{manifest.key_id}); give COOP_BACKUP_KEY_FILE the key it was "
                           "made with", field="COOP_BACKUP_KEY_FILE")
    url = make_url(database_url)
    engine = _engine_name(url)
    if engine != manifest.engine:
        raise InvalidInput(f"this is a {manifest.engine} backup; the target is {engine}")
    if _has_books(url) and not force:
        raise BackupRefused("the target database already has books in it; restoring would "
                            "replace them (say --force to do so)")
    with tempfile.TemporaryDirectory(prefix="coop-restore-") as work:
        with zipfile.ZipFile(backup) as archive:
            archive.extract(manifest.payload, work)
        payload = Path(work) / "database"
        _open_file(Path(work) / manifest.payload, payload, key, manifest)
        if _sha256(payload) != manifest.payload_sha256:
            raise InvalidInput(f"{backup} is damaged: its database does not match its manifest")
        if engine == "sqlite":
            return _restore_sqlite(payload, Path(url.database or ""), manifest, started)
        return _restore_postgres(payload, url, manifest, started)


def _restore_sqlite(payload: Path, target: Path, manifest: Manifest,
                    started: float) -> Restored:
    """All or nothing: the copy is written beside the target and proven there (verify, the
    manifest's chain head); only then does it replace the target, in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged = target.with_name(target.name + ".restoring")
    try:
        with payload.open("rb") as source, _private_file(staged) as handle:
            shutil.copyfileobj(source, handle)
            handle.flush()
            os.fsync(handle.fileno())
        proven = _prove(manifest, f"sqlite:///{staged}", started)
    except BaseException:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(staged) + suffix).unlink(missing_ok=True)
        raise
    for suffix in ("-wal", "-shm", "-journal"):
        Path(str(target) + suffix).unlink(missing_ok=True)
        Path(str(staged) + suffix).unlink(missing_ok=True)
    staged.replace(target)
    return proven


def _restore_postgres(payload: Path, url: URL, manifest: Manifest,
                      started: float) -> Restored:
    """All or nothing: pg_restore into a new database beside the target (`<name>_restoring`),
    proven there (verify, the manifest's chain head); only then are the names switched (the
    target's open connections are ended: restoring replaces its books) and the old books
    dropped. A restore that fails on the way drops the new database and leaves the target as
    it was."""
    name = str(url.database or "")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quote = admin.dialect.identifier_preparer.quote
    staging, replaced = quote(f"{name[:50]}_restoring"), quote(f"{name[:50]}_replaced")
    target = quote(name)
    staged = url.set(database=f"{name[:50]}_restoring")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {staging} WITH (FORCE)")
            connection.exec_driver_sql(f"CREATE DATABASE {staging}")
        try:
            where, env = _libpq(staged)
            subprocess.run([_tool("pg_restore"), "--no-owner", "--no-privileges",  # noqa: S603
                            "--exit-on-error", f"--dbname={where}", str(payload)],
                           check=True, capture_output=True, env=env)
            proven = _prove(manifest, staged.render_as_string(hide_password=False), started)
        except BaseException as error:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {staging} WITH (FORCE)")
            if isinstance(error, subprocess.CalledProcessError):
                raise InvalidInput("pg_restore failed (the database was left as it was): "
                                   f"{error.stderr.decode()[-300:]}") from error
            raise
        with admin.connect() as connection:
            try:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {replaced} WITH (FORCE)")
                connection.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
                connection.exec_driver_sql(f"ALTER DATABASE {target} RENAME TO {replaced}")
                try:
                    connection.exec_driver_sql(f"ALTER DATABASE {staging} RENAME TO {target}")
                except BaseException:
                    connection.exec_driver_sql(f"ALTER DATABASE {replaced} RENAME TO {target}")
                    raise
            except BaseException:  # the target keeps its name and its books
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {staging} WITH (FORCE)")
                raise
            connection.exec_driver_sql(f"DROP DATABASE {replaced} WITH (FORCE)")
    finally:
        admin.dispose()
    return proven


def _prove(manifest: Manifest, database_url: str, started: float) -> Restored:
    db = Database(database_url, pool_size=2)
    try:
        witnessed = (manifest.head_seq, manifest.head_hash) if manifest.head_seq else None
        report = db.read(lambda s: verify(s, checkpoint=witnessed))
    finally:
        db.dispose()
    if not report.ok or (report.head_seq, report.head_hash) != (manifest.head_seq,
                                                                 manifest.head_hash):
        first = report.problems[0] if report.problems else "the chain head differs"
        raise Conflict(f"the restored books do not verify: {first}")
    return Restored(manifest, report.head_seq, report.head_hash,
                    time.perf_counter() - started)


__all__ = ["BackupRefused", "Manifest", "Restored", "create", "key_id", "read_manifest",
           "restore"]
