"""`coop dividends preview` and `coop dividends declare`: the year's distribution worked out
on the machine itself, printed in words (the surplus, each statutory fund by name, the
distributable surplus, the dividend and rebate pools, the residues, and where all of the
distributable surplus goes), and, for `declare`, declared as printed.

`declare` computes the preview, shows it, asks before it declares (unless `--yes`), and
declares those very figures: it names the preview's digest, so if anything changed in
between it is refused. It records the general body's resolution (number and date). With
the society's `dividend_approvals_required` at 1 it is declared; above 1 it is put forward
and waits for the board's votes at the counter or the API (the machine is no board member).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from sqlalchemy.orm import Session

from coop import dividends
from coop.config import Settings
from coop.db import Database
from coop.dividends.previews import FUND_NAMES
from coop.errors import CoopError
from coop.money import format_minor, parse_minor
from coop.society import Society, require_society

dividends_app = typer.Typer(help="Dividends.", no_args_is_help=True)
out = Console()
ACTOR = "cli"

Rate = Annotated[str | None, typer.Option("--rate", help="Percent a year, e.g. 10.")]
Amount = Annotated[str | None, typer.Option("--amount", help="A total instead.")]
Rebate = Annotated[str | None, typer.Option(
    "--rebate", help="Patronage rebate, percent of loan interest paid.")]
BasisOption = Annotated[str | None, typer.Option(
    "--basis", help="share_days, months_held or closing_register.")]
Year = Annotated[int, typer.Argument(help="The fiscal year, e.g. 2025.")]


def _request(society: Society, rate: str | None, amount: str | None, rebate: str | None,
             basis: str | None) -> dividends.Request:
    try:
        return dividends.Request(
            dividend_rate=Decimal(rate) if rate is not None else None,
            dividend_amount=(parse_minor(amount, society.currency, field="amount")
                             if amount is not None else None),
            patronage_rebate_percent=Decimal(rebate) if rebate else None,
            basis=dividends.Basis(basis) if basis else None)
    except (ArithmeticError, ValueError) as exc:
        raise CoopError(f"not a valid request: {exc}", field="rate") from exc


def totals(result: dividends.Preview, currency: str) -> str:
    """The distribution in words, every figure to the minor unit."""
    def m(amount: int) -> str:
        return format_minor(amount, currency)

    funds = "".join(f"\n  {FUND_NAMES.get(a.fund, a.fund)} ({a.percent} %): {m(a.amount)}"
                    for a in result.appropriations)
    return (
        f"Fiscal year {result.fiscal_year}: net surplus {m(result.net_surplus)}{funds}\n"
        f"  distributable surplus: {m(result.distributable)}\n"
        f"Dividend pool: {result.rate} % a year on {result.basis.value}: {m(result.pool)}\n"
        f"Patronage rebate pool: {result.rebate_percent} % of the loan interest members "
        f"paid: {m(result.rebate_pool)}\n"
        f"Where the distributable surplus goes: dividend {m(result.allocated)} and rebate "
        f"{m(result.rebate_allocated)} to {len(result.members)} members "
        f"({m(result.to_members)}); residue {m(result.residue + result.rebate_residue)} "
        f"and {m(result.left_over)} not distributed stay in the society "
        f"({m(result.undistributed)})\n"
        f"Preview digest: {dividends.preview_digest(result)}")


def _previewed(settings: Settings, fy: int, rate: str | None, amount: str | None,
               rebate: str | None, basis: str | None
               ) -> tuple[dividends.Preview, dividends.Request, str]:
    """The preview (with a progress bar over the members), the request and the currency."""
    db = Database(settings.database_url, pool_size=2)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    try:
        with Progress(*columns, console=out, transient=True) as bar:
            task = bar.add_task("members", total=None)

            def work(session: Session) -> tuple[dividends.Preview, dividends.Request, str]:
                society = require_society(session)
                wanted = _request(society, rate, amount, rebate, basis)
                result = dividends.preview(
                    session, fy, wanted, society=society,
                    progress=lambda done, total: bar.update(task, completed=done,
                                                            total=total))
                return result, wanted, society.currency

            return db.read(work)
    finally:
        db.dispose()


@dividends_app.command("preview")
def preview_command(
    fy: Year,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the CSV.")],
    rate: Rate = None, amount: Amount = None, rebate: Rebate = None,
    basis: BasisOption = None,
) -> None:
    """Re-run the year's dividend for an auditor: the CSV of every member's share, and the
    totals in words; nothing is written to the books."""
    result, _, currency = _previewed(Settings.from_env(), fy, rate, amount, rebate, basis)
    out_file.write_text(dividends.preview_csv(result, currency), encoding="utf-8")
    out.print(totals(result, currency), highlight=False)
    out.print(f"Every member's share: {out_file}")


@dividends_app.command("declare")
def declare_command(
    fy: Year,
    resolution_number: Annotated[str, typer.Option(
        "--resolution-number", help="The general body's resolution, e.g. GB-7/2026.")],
    resolution_date: Annotated[str, typer.Option(
        "--resolution-date", help="The day the general body passed it, YYYY-MM-DD.")],
    rate: Rate = None, amount: Amount = None, rebate: Rebate = None,
    basis: BasisOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Declare without asking.")] = False,
) -> None:
    """Declare the year's dividend as previewed here, on the general body's resolution."""
    settings = Settings.from_env()
    clock = settings.clock()
    try:
        passed = date.fromisoformat(resolution_date)
    except ValueError as exc:
        raise CoopError("--resolution-date is YYYY-MM-DD", field="resolution_date") from exc
    resolution = dividends.check_resolution(resolution_number, passed, today=clock.today())
    result, wanted, currency = _previewed(settings, fy, rate, amount, rebate, basis)
    out.print(totals(result, currency), highlight=False)
    if not yes and not typer.confirm(f"Declare these figures on resolution "
                                     f"{resolution.number} of {resolution.on}?"):
        out.print("Nothing declared.")
        raise typer.Exit(1)
    declared = _write(settings, lambda s: dividends.declare_dividend(
        s, fy, wanted, society=require_society(s), resolution=resolution, actor=ACTOR,
        clock=clock, preview_digest=dividends.preview_digest(result)))
    if declared.status == "pending":
        out.print(f"Dividend for {fy} put forward: it waits for "
                  f"{declared.approvals_required - declared.approvals} board approvals "
                  f"(dividend_approvals_required is {declared.approvals_required}).")
    else:
        out.print(f"Dividend for {fy} declared: {format_minor(result.to_members, currency)} "
                  f"to {len(result.members)} members; appropriation entry "
                  f"{declared.appropriation_entry_id}.")


def _write(settings: Settings, work: Callable[[Session], dividends.Declaration]
           ) -> dividends.Declaration:
    db = Database(settings.database_url, pool_size=2)
    try:
        return db.write(work)
    finally:
        db.dispose()


__all__ = ["dividends_app", "totals"]
