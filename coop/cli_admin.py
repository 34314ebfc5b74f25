"""The machine's own commands: `coop reindex` (the members' search indexes, rebuilt from the
vault), `coop users` (user management on the machine itself, for
recovery when nobody can log in: the only admin forgot her password, or every admin is
disabled; whoever can run this can read the database file anyway; every change is written to
the audit trail as `cli`), and `coop backup` / `coop restore` with the backup key."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from coop import auth, backup
from coop.config import Settings
from coop.db import Database
from coop.errors import CoopError
from coop.members import search, vault

users_app = typer.Typer(help="Users and passwords (on this machine, for recovery).",
                        no_args_is_help=True)
out = Console()
CLI = auth.Principal(0, "cli", auth.Role.ADMIN, None)


def _run(work: Callable[[Session, auth.Passwords, Settings], str]) -> None:
    settings = Settings.from_env()
    passwords = auth.Passwords(memory_kib=settings.argon2_memory_kib)
    db = Database(settings.database_url, pool_size=2)
    try:
        out.print(db.write(lambda s: work(s, passwords, settings)))
    finally:
        db.dispose()


def _audit(session: Session, settings: Settings, action: str) -> None:
    auth.record_audit(session, CLI, action=action, status=200, clock=settings.clock())


def _password(given: str | None) -> tuple[str, str]:
    """The password to set, and how to tell it: a generated one is shown once."""
    if given:
        return given, ""
    generated = secrets.token_urlsafe(12)
    return generated, f" Password: [bold]{generated}[/] (shown once: hand it over, then it " \
                      "should be changed)."


@users_app.command("list")
def list_users() -> None:
    """Every user with her role, member number and whether she is disabled."""
    settings = Settings.from_env()
    db = Database(settings.database_url, pool_size=2)
    try:
        rows = db.read(lambda s: [(u.username, u.role, u.member_code or "", u.disabled)
                                  for u in auth.list_users(s)])
    finally:
        db.dispose()
    table = Table("username", "role", "member", "status")
    for username, role, code, disabled in rows:
        table.add_row(username, role, code, "disabled" if disabled else "active")
    out.print(table)


@users_app.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="2-32 lowercase letters, digits, . _ -")],
    role: Annotated[str, typer.Option(help="admin, board, clerk, auditor or member")],
    member: Annotated[str | None, typer.Option(help="Her member number (board, member).")] = None,
    password: Annotated[str | None, typer.Option(
        envvar="COOP_NEW_PASSWORD", help="Default: generated and shown once.")] = None,
) -> None:
    """Create a user."""
    secret, shown = _password(password)

    def work(session: Session, passwords: auth.Passwords, settings: Settings) -> str:
        auth.create_user(session, username=username, password=secret, role=role,
                         member_code=member, passwords=passwords, clock=settings.clock())
        _audit(session, settings, f"cli users add {username} {role}")
        return f"User [bold]{username}[/] ({role}) created.{shown}"

    _run(work)


@users_app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Argument()],
    password: Annotated[str | None, typer.Option(
        envvar="COOP_NEW_PASSWORD", help="Default: generated and shown once.")] = None,
) -> None:
    """Set a user's password; every token she holds is revoked."""
    secret, shown = _password(password)

    def work(session: Session, passwords: auth.Passwords, settings: Settings) -> str:
        auth.update_user(session, username, password=secret, passwords=passwords,
                         clock=settings.clock())
        _audit(session, settings, f"cli users reset-password {username}")
        return f"The password of [bold]{username}[/] is reset.{shown}"

    _run(work)


@users_app.command("enable")
def enable(username: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled user (for example the admin, after every admin was disabled)."""
    def work(session: Session, passwords: auth.Passwords, settings: Settings) -> str:
        auth.update_user(session, username, disabled=False, passwords=passwords,
                         clock=settings.clock())
        _audit(session, settings, f"cli users enable {username}")
        return f"User [bold]{username}[/] is enabled."

    _run(work)


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user (never the last active admin)."""
    def work(session: Session, passwords: auth.Passwords, settings: Settings) -> str:
        auth.update_user(session, username, disabled=True, passwords=passwords,
                         clock=settings.clock())
        _audit(session, settings, f"cli users disable {username}")
        return f"User [bold]{username}[/] is disabled."

    _run(work)


def reindex_missing(db: Database, settings: Settings) -> int:
    """Index the members who have a name or phone and no index rows yet (after the upgrade
    that brought the indexes; cheap when there are none: one query). 0 without the key."""
    try:
        keys = vault.Vault.from_file(settings.data_key_file)
    except vault.VaultUnavailable:
        return 0
    return db.write(lambda s: search.reindex(s, vault=keys, only_missing=True))


def reindex_command(
    missing: Annotated[bool, typer.Option(
        "--missing", help="Only members with no index rows yet.")] = False,
) -> None:
    """Rebuild the blind indexes that find a member by name or phone, from the vault (a
    migration cannot read the key). Run after restoring onto a new data key, or any time:
    the search then finds exactly what the vault holds."""
    settings = Settings.from_env()
    keys = vault.Vault.from_file(settings.data_key_file)
    db = Database(settings.database_url, pool_size=2)
    started = time.perf_counter()
    try:
        def work(session: Session) -> int:
            done = search.reindex(session, vault=keys, only_missing=missing)
            _audit(session, settings, "cli reindex" + (" --missing" if missing else ""))
            return done

        done = db.write(work)
    finally:
        db.dispose()
    out.print(f"Indexed {done:,} members in {time.perf_counter() - started:.1f} s.")


def _backup_key(settings: Settings, *, create: bool) -> bytes:
    path = settings.backup_key_file
    if create and vault.create_key_file(path):
        out.print(f"Created the backup key in {path} (mode 0600). Keep a copy of it away from "
                  "this machine and away from the backups: a backup cannot be restored "
                  "without it.")
    try:
        key = path.read_bytes()
    except OSError as error:
        raise CoopError(f"cannot read the backup key file {path} (COOP_BACKUP_KEY_FILE): "
                        "a backup is restored with the key it was made with") from error
    if len(key) != vault.KEY_BYTES:
        raise CoopError(f"the backup key file {path} does not hold a 32-byte key")
    return key


def backup_command(
    out_file: Annotated[Path, typer.Option(
        "--out", help="The backup file to write (.zip), or a folder: the backup is then "
                      "named by the time (coop-backup-YYYYMMDDTHHMMSSZ.zip).")],
    keep: Annotated[int | None, typer.Option(
        "--keep", help="With a folder: keep only the newest N backups there (others named "
                       "as coop names them are removed once this one is written).")] = None,
) -> None:
    """A consistent copy of the books while the server keeps working (SQLite VACUUM INTO,
    PostgreSQL pg_dump on one snapshot), encrypted with the backup key, with the chain head
    recorded in its manifest."""
    settings = Settings.from_env()
    folder = out_file if out_file.is_dir() else None
    if keep is not None and folder is None:
        raise CoopError(f"--keep rotates the backups in a folder: {out_file} is not a folder")
    if keep is not None and keep < 1:
        raise CoopError("--keep is the number of backups to keep: at least 1")
    if folder is not None:
        out_file = folder / backup.rotated_name(settings.clock().now())
    key = _backup_key(settings, create=True)
    started = time.perf_counter()
    manifest = backup.create(settings.database_url, out_file, key=key)
    out.print(f"Backed up {manifest.entries:,} entries to {out_file} "
              f"({out_file.stat().st_size:,} bytes, {time.perf_counter() - started:.1f} s, "
              f"encrypted with backup key {manifest.key_id}); "
              f"chain head {manifest.head_seq}:{manifest.head_hash}")
    out.print("Neither key file is in it: keep COOP_DATA_KEY_FILE and COOP_BACKUP_KEY_FILE "
              "backed up separately.")
    if folder is not None and keep is not None:
        removed = backup.rotate(folder, keep)
        out.print(f"Kept the newest {keep} backups in {folder}; removed {len(removed)}"
                  + (": " + ", ".join(path.name for path in removed) if removed else "."))


def restore_command(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `coop backup`.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Replace the books already in the target database.")] = False,
) -> None:
    """Restore a backup into COOP_DATABASE_URL (stop the server first) with the backup key it
    was made with; refuses a database that has books in it unless --force; verifies the result
    against the manifest."""
    settings = Settings.from_env()
    restored = backup.restore(backup_file, settings.database_url,
                              key=_backup_key(settings, create=False), force=force)
    out.print(f"Restored {restored.manifest.entries:,} entries in {restored.seconds:.1f} s; "
              f"verify passed and the chain head {restored.head_seq}:{restored.head_hash} "
              "is the one recorded in the backup.")
