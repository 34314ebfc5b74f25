"""Many societies on one server (coop.societies, coop.api.federation) from the command line.

`coop serve --societies FILE` and `coop init --societies FILE` (or COOP_SOCIETIES) serve and
set up every society of the file. Every other command works on one society, named by the
environment as ever; `coop societies env NAME` prints that environment for one society of
the file, so a loop runs a command for each:

    for name in $(coop societies list --names); do
      (eval "$(coop societies env "$name")" && coop verify) || echo "$name: NOT WELL"
    done
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from coop.config import Settings
from coop.errors import CoopError
from coop.societies import SocietyConfig, load_societies

societies_app = typer.Typer(help="Many societies on one server (a societies file).",
                            no_args_is_help=True)
out = Console()
err = Console(stderr=True)

SocietiesFile = Annotated[Path, typer.Option(
    "--societies", envvar="COOP_SOCIETIES", help="The societies file (TOML).")]
SOCIETIES_HELP = ("A societies file (TOML, or COOP_SOCIETIES): every society in it, each with "
                  "its own database and vault key (see `coop societies --help`).")


def load_or_exit(path: Path, base: Settings) -> list[SocietyConfig]:
    """The file's societies, or exit 2 with the reason (which society, which key)."""
    try:
        return load_societies(path, base)
    except CoopError as error:
        err.print(f"[red]refused[/]: {error.detail}")
        raise typer.Exit(2) from error


def _named(path: Path, name: str) -> SocietyConfig:
    for society in load_or_exit(path, Settings.from_env()):
        if society.name == name:
            return society
    err.print(f"[red]refused[/]: {path} has no society {name!r}")
    raise typer.Exit(2)


@societies_app.command("list")
def list_command(
    societies: SocietiesFile,
    names: Annotated[bool, typer.Option("--names", help="Only the names, one a line.")]
    = False,
) -> None:
    """The societies of the file: name, where each is reached, its database (no password)."""
    for society in load_or_exit(societies, Settings.from_env()):
        if names:
            print(society.name)
            continue
        url = make_url(society.settings.database_url).render_as_string(hide_password=True)
        reached = ", ".join([f"{society.prefix}/", *(f"{h}/" for h in society.hosts)])
        out.print(f"[bold]{society.name}[/]  {reached}  {url}", highlight=False)


@societies_app.command("env")
def env_command(
    name: Annotated[str, typer.Argument(help="The society's name in the file.")],
    societies: SocietiesFile,
) -> None:
    """Shell lines that point every `coop` command at one society: eval them, then run it."""
    settings = _named(societies, name).settings
    for variable, value in (("COOP_DATABASE_URL", settings.database_url),
                            ("COOP_DATA_KEY_FILE", str(settings.data_key_file)),
                            ("COOP_BACKUP_KEY_FILE", str(settings.backup_key_file)),
                            ("COOP_TIMEZONE", settings.timezone),
                            ("COOP_DB_POOL_SIZE", str(settings.pool_size))):
        print(f"export {variable}={shlex.quote(value)}")
    print("unset COOP_SOCIETIES COOP_ADMIN_PASSWORD")


__all__ = ["SOCIETIES_HELP", "load_or_exit", "societies_app"]
