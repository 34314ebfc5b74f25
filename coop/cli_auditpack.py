"""`coop audit-pack FY --out pack.zip`: the auditor's pack of a fiscal year (coop.auditpack),
with a progress bar for each step (verify and the beancount export are the long ones).

Refused before anything is read, with a one-line reason and exit 2: a file at --out without
--force, a folder that does not exist or cannot be written; then, from the books, a year that
has not begun or that the book has no entries for."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from coop.auditpack import build_pack
from coop.config import Settings
from coop.db import Database

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # a path is never broken across lines


def _refuse(reason: str) -> None:
    err.print(f"[red]error[/]: {reason}")
    raise typer.Exit(2)


def _check_out(path: Path, force: bool) -> None:
    if path.is_dir():
        _refuse(f"{path} is a folder: name the zip file to write")
    if path.exists() and not force:
        _refuse(f"{path} exists already: give --force to replace it")
    folder = path.parent
    if not folder.is_dir():
        _refuse(f"there is no folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        _refuse(f"cannot write in {folder}")


def audit_pack_command(
    fy: Annotated[int, typer.Argument(help="The fiscal year, named by the year it starts in.")],
    out_file: Annotated[Path, typer.Option("--out", help="The zip file to write.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write the auditor's pack of a fiscal year: trial balance, the statements (balance
    sheet, income and expenditure, receipts and payments), the member-wise schedules, the
    loan classification, the dividend report, verify with the chain head, the book as
    beancount, and a manifest of SHA-256 digests."""
    _check_out(out_file, force)
    settings = Settings.from_env()
    db = Database(settings.database_url, pool_size=2)
    columns = (TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=out) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(step: str, done: int, total: int | None) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(step, total=total)
                bar.update(tasks[step], completed=done, total=total)

            result = build_pack(db, fy, out_file, progress, today_on=settings.clock().today(),
                                replace=force)
    finally:
        db.dispose()
    state = "closed" if result.closed else "not closed yet"
    out.print(f"Auditor's pack of fiscal year {fy} ({state}) written to {out_file}: "
              f"{len(result.files)} files, digests in MANIFEST.txt "
              f"(check with `sha256sum -c MANIFEST.txt` in the unpacked folder)")
