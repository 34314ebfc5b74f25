"""`coop users`: user management on the machine itself, for recovery when nobody can log in
(the only admin forgot her password, or every admin is disabled). Whoever can run this can
read the database file anyway; every change is written to the audit trail as `cli`."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from coop import auth
from coop.config import Settings
from coop.db import Database

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
