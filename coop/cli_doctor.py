"""`coop doctor`: the checks of coop.doctor, one line each, OK / WARN / FAIL; exit 1 if any
check failed. Run it as the user coop runs as, with the service's settings:
`coop --env-file /etc/coop/coop.env doctor`."""

from __future__ import annotations

import os

import typer
from rich.console import Console
from rich.markup import escape

from coop import doctor
from coop.config import Settings

out = Console()
STYLE = {"OK": "[green]OK  [/]", "WARN": "[yellow]WARN[/]", "FAIL": "[red]FAIL[/]"}


def doctor_command() -> None:
    """Check this machine: SQLite and its journal, the database's migrations, the key files,
    fonts, TLS, the last backup's age, free disk, the clock. Exit 1 if any check fails."""
    findings = doctor.run_checks(Settings.from_env(), doctor.Machine(),
                                 sqlite_driver=os.environ.get("COOP_SQLITE_DRIVER"))
    for finding in findings:
        out.print(f"{STYLE[finding.status]} {finding.check:<8} {escape(finding.message)}",
                  soft_wrap=True, highlight=False)
    counts = {status: sum(f.status == status for f in findings) for status in STYLE}
    out.print(f"{counts['OK']} ok, {counts['WARN']} warnings, {counts['FAIL']} failed",
              highlight=False)
    if counts["FAIL"]:
        raise typer.Exit(1)
