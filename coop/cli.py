"""The `coop` command. Configuration comes from the environment (see coop.config).

Every command opens the database named by COOP_DATABASE_URL, does one thing through the same
service functions the API uses, and exits 0 on success, 1 when the books are not well (verify),
2 on bad input (with a one-line reason on stderr).
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy.orm import Session

from coop import auth, dividends, members, migrate, registers
from coop.cli_admin import (
    backup_command,
    reindex_command,
    reindex_missing,
    restore_command,
    users_app,
)
from coop.cli_auditpack import audit_pack_command
from coop.cli_dividends import dividends_app
from coop.cli_doctor import doctor_command
from coop.cli_papers import (
    certificate_command,
    database,
    dividend_statement_command,
    loan_card_command,
    passbook_command,
    passbooks_app,
)
from coop.cli_serve import serve_command
from coop.cli_societies import SOCIETIES_HELP, load_or_exit, societies_app
from coop.cli_tls import tls_app
from coop.config import Settings, read_env_file
from coop.demo import book_is_empty, build_demo
from coop.dividends.reopening import reopen_year
from coop.errors import CoopError
from coop.ledger import export, queries, verify
from coop.ledger.chart import CASH
from coop.loans import provisioning
from coop.members import vault
from coop.money import display, parse_minor
from coop.savings import interest_run, money_text
from coop.society import (
    book_currency,
    get_society,
    init_society,
    require_society,
    set_share_face_value,
)

app = typer.Typer(help="coop: the books of a savings and credit co-operative.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
export_app = typer.Typer(help="Export the books.", no_args_is_help=True)
app.add_typer(export_app, name="export")
member_app = typer.Typer(help="Members.", no_args_is_help=True)
app.add_typer(member_app, name="member")
savings_app = typer.Typer(help="Savings.", no_args_is_help=True)
app.add_typer(savings_app, name="savings")
app.add_typer(passbooks_app, name="passbooks")
year_app = typer.Typer(help="The fiscal year.", no_args_is_help=True)
app.add_typer(year_app, name="year")
app.add_typer(dividends_app, name="dividends")
app.add_typer(users_app, name="users")
app.add_typer(tls_app, name="tls")
app.add_typer(societies_app, name="societies")
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.command("reindex")(reindex_command)
app.command("audit-pack")(audit_pack_command)
app.command("doctor")(doctor_command)
app.command("serve")(serve_command)
app.command("passbook")(passbook_command)
app.command("certificate")(certificate_command)
app.command("loan-card")(loan_card_command)
dividends_app.command("statement")(dividend_statement_command)
out = Console()
err = Console(stderr=True)


@app.callback()
def _options(env_file: Annotated[Path | None, typer.Option(
        "--env-file", exists=True, dir_okay=False, help="Read COOP_* settings from this "
        "systemd environment file first (e.g. /etc/coop/coop.env), as the service does.")]
        = None) -> None:
    if env_file is not None:
        os.environ.update(read_env_file(env_file))


@app.command()
def init(
    society_name: Annotated[str, typer.Option(help="The society's neutral printed name.")] = (
        "Co-operative Credit Society"
    ),
    currency: Annotated[str, typer.Option(help="ISO 4217 currency of the book.")] = "INR",
    locale: Annotated[str, typer.Option(help="Locale for numbers and labels.")] = "en_IN",
    share_face_value: Annotated[str | None, typer.Option(
        help="The face value of one share, e.g. 100 (default 10.00); only before the first "
             "share is issued.")] = None,
    societies: Annotated[Path | None, typer.Option(envvar="COOP_SOCIETIES",
                                                   help=SOCIETIES_HELP)] = None,
) -> None:
    """Migrate the database to head and seed the chart of accounts and settings (safe twice).
    With --societies: every society of the file, each with the file's name, currency and
    locale where it gives them, and an admin password of its own."""
    if societies is None:
        _set_up(Settings.from_env(), society_name=society_name, currency=currency,
                locale=locale, share_face_value=share_face_value)
        return
    for each in load_or_exit(societies, Settings.from_env()):
        out.print(f"[bold]{each.name}[/] ({each.prefix}/)", highlight=False)
        _set_up(each.settings, society_name=each.society_name or society_name,
                currency=each.currency or currency, locale=each.locale or locale,
                share_face_value=each.share_face_value or share_face_value)


def _set_up(settings: Settings, *, society_name: str, currency: str, locale: str,
            share_face_value: str | None) -> None:
    if vault.create_key_file(settings.data_key_file):
        out.print(f"Created the identity vault's master key in {settings.data_key_file} "
                  "(mode 0600). Back it up apart from the database: without it, names and "
                  "phone numbers cannot be read.")
    db = database(settings)
    clock = settings.clock()
    try:
        migrate.upgrade(db.writer)
        created = db.write(
            lambda s: init_society(s, name=society_name, currency=currency, locale=locale,
                                   clock=clock)
        )
        if share_face_value is not None:
            db.write(lambda s: set_share_face_value(s, parse_minor(
                share_face_value, book_currency(s), field="share_face_value")))
        passwords = auth.Passwords(memory_kib=settings.argon2_memory_kib)
        generated = db.write(lambda s: auth.ensure_admin(
            s, password=settings.admin_password, passwords=passwords, clock=clock))
        indexed = reindex_missing(db, settings)
    finally:
        db.dispose()
    out.print(
        f"[green]Society set up[/] in {db.url.render_as_string(hide_password=True)}"
        if created else "Database already set up; migrated to the latest schema."
    )
    if indexed:
        out.print(f"Indexed {indexed:,} members for the search by name and phone.")
    if generated:
        out.print(f"User [bold]admin[/] created with password [bold]{generated}[/] "
                  "(shown once: write it down, then change it)")


@app.command(name="verify")
def verify_command(
    checkpoint: Annotated[
        str | None,
        typer.Option(help="A witnessed chain head SEQ:HASH that must still hold."),
    ] = None,
) -> None:
    """Recompute the hash chain and every balance. Exit 0 when all is well, 1 otherwise."""
    witnessed = _parse_checkpoint(checkpoint) if checkpoint else None
    db = database(Settings.from_env())
    columns = (TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    try:
        # On stderr, and only on a terminal: stdout stays the report, a pipe gets no bar.
        with Progress(*columns, console=err, transient=True,
                      disable=not err.is_terminal) as bar:
            def check(session: Session) -> verify.VerifyReport:
                book = queries.book(session)
                task = bar.add_task("entries", total=book.head_seq if book else None)
                report = verify.verify(session, checkpoint=witnessed,
                                       progress=lambda done: bar.update(task, completed=done))
                bar.update(task, completed=report.entries_checked)
                return report

            report = db.read(check)
            task = bar.add_task("registers", total=len(registers.CHECKS))
            for account, message in db.read(lambda s: registers.reconcile_registers(
                    s, progress=lambda done: bar.update(task, completed=done))):
                report.add(verify.Problem(None, account, message))
    finally:
        db.dispose()
    out.print(f"entries checked: {report.entries_checked}")
    out.print(f"chain head: {report.head_seq}:{report.head_hash}")
    if report.ok:
        out.print("[green]ok[/]: the chain and every balance recompute exactly, and every "
                  "loan's payments replay to its ledger balance")
        return
    err.print(f"[red]FAULT[/] {report.problems[0]}")
    for problem in report.problems[1:10]:
        err.print(f"      {problem}")
    raise typer.Exit(1)


def _parse_checkpoint(text: str) -> tuple[int, str]:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise CoopError("a checkpoint is SEQ:HASH, e.g. 1200:<64 hex digits>", field="checkpoint")
    return int(seq), digest.lower()


@export_app.command("beancount")
def export_beancount(
    out_file: Annotated[Path, typer.Option("--out", help="File to write.")],
) -> None:
    """Write the whole book as a beancount file (bean-check accepts it)."""
    db = database(Settings.from_env())
    try:
        with db.reading() as session, out_file.open("w", encoding="utf-8") as handle:
            for chunk in export.export_beancount(session):
                handle.write(chunk)
    finally:
        db.dispose()
    out.print(f"wrote {out_file}")


@member_app.command("erase")
def erase_member(
    code: Annotated[str, typer.Argument(help="The member number, e.g. M-7Q4K2X.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Destroy an exited member's identity for good (her ledger history stays)."""
    settings = Settings.from_env()
    if not yes:
        typer.confirm(f"Erase the name, phone and nominee of {code} for ever?", abort=True)
    db = database(settings)
    try:
        def work(session: Session) -> None:
            members.erase_identity(session, code, clock=settings.clock())
            auth.forget_member_requests(session, code)  # stored requests about her go too

        db.write(work)
    finally:
        db.dispose()
    out.print(f"The identity of {code} is erased; her member number and entries remain.")


@app.command()
def demo(
    members: Annotated[int, typer.Option(help="How many members (at least 11).")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed (the same seed, the same book).")] = 42,
    if_empty: Annotated[bool, typer.Option(
        "--if-empty", help="Do nothing (and succeed) when the book has entries.")] = False,
) -> None:
    """Fill an empty book with a demo society: ₹100 shares, savings, loans and costs from the
    start of the last fiscal year that has ended to yesterday, and logins to try it with."""
    settings = Settings.from_env()
    db = database(settings)
    try:
        if if_empty and not db.read(book_is_empty):
            out.print("The book has entries: no demo added.")
            return
        keys = vault.Vault.from_file(settings.data_key_file)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=out) as bar:
            task = bar.add_task("counter days", total=None)
            result = build_demo(
                db, vault=keys, passwords=auth.Passwords(memory_kib=settings.argon2_memory_kib),
                today=settings.clock().today(), members=members, seed=seed,
                progress=lambda done, total: bar.update(task, completed=done, total=total))
    finally:
        db.dispose()
    out.print(f"Demo society: {result.members} members, {result.entries} entries from "
              f"{result.first_day} to {result.last_day}.")
    out.print(f"Fiscal year {result.fiscal_year} has ended and is open: "
              f"`coop year close {result.fiscal_year}`.")
    table = Table("login", "role", "password", "member", title="Demo logins (public: a demo "
                  "book only)")
    for login in result.logins:
        table.add_row(login.username, login.role, login.password, login.member_code or "")
    out.print(table)


@app.command("day-end")
def day_end(
    on: Annotated[str | None, typer.Option("--date", help="The day (default: today).")] = None,
) -> None:
    """The day's cash movements by kind, the cash that should be in the drawer, and the chain
    head to write in the day book and sign."""
    settings = Settings.from_env()
    day = date.fromisoformat(on) if on else settings.clock().today()
    db = database(settings)
    try:
        with db.reading() as session:
            society = require_society(session)
            moves = queries.movements_by_kind(session, CASH, day)
            expected = queries.balance_as_of(session, CASH, day) or 0
            book = queries.book(session)
    finally:
        db.dispose()
    cur, loc = society.currency, society.locale
    table = Table(title=f"{society.name}: cash on {day.isoformat()}")
    for column in ("kind", "entries", "cash in", "cash out"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for move in moves:
        table.add_row(move.kind.replace("_", " "), str(move.entries),
                      display(move.debit_minor, cur, loc), display(move.credit_minor, cur, loc))
    out.print(table)
    out.print(f"Cash that should be in the drawer at the end of the day: "
              f"[bold]{display(expected, cur, loc)}[/]")
    if book is not None:
        out.print(f"Chain head (write it in the day book and sign): "
                  f"[bold]{book.head_seq}:{book.head_hash}[/]")


@savings_app.command("post-interest")
def post_interest(
    through: Annotated[str, typer.Option("--through", help="Last day of the period.")],
    start: Annotated[str | None, typer.Option(
        "--from", help="First day (default: the day after the last run, or the month's "
        "first day).")] = None,
) -> None:
    """Post interest on every savings account for a period (idempotent per period)."""
    settings = Settings.from_env()
    clock = settings.clock()
    try:
        end = date.fromisoformat(through)
        first = date.fromisoformat(start) if start else None
    except ValueError as exc:
        raise CoopError("dates are YYYY-MM-DD", field="through") from exc
    db = database(settings)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    try:
        with Progress(*columns, console=out) as bar:
            task = bar.add_task("savings accounts", total=None)

            def work(session: Session) -> interest_run.InterestRun:
                rules = interest_run.interest_rules(session)
                return interest_run.post_interest(
                    session, start=first or interest_run.default_start(session, end),
                    through=end, rate_percent=rules.rate_percent,
                    min_balance_minor=rules.min_balance_minor, actor="admin", clock=clock,
                    progress=lambda done, total: bar.update(task, completed=done, total=total))

            run = db.write(work)
        total = db.read(lambda s: money_text(s, run.total_minor))
    finally:
        db.dispose()
    verb = "was already posted" if run.replayed else "posted"
    out.print(f"Interest {run.period_start} to {run.period_end} at {run.rate_percent}% {verb}:"
              f" {run.accounts} accounts, {total} in all.")


@savings_app.command("reverse-interest")
def reverse_interest(
    run_id: Annotated[int, typer.Argument(help="The run's id (GET /savings/interest-runs).")],
) -> None:
    """Undo an interest run as a whole: every entry reversed, the period may be run again."""
    settings = Settings.from_env()
    db = database(settings)
    try:
        done = db.write(lambda s: interest_run.reverse_interest_run(
            s, run_id, actor="admin", clock=settings.clock()))
    finally:
        db.dispose()
    out.print(f"Interest run {done.id} reversed: {done.entries_reversed} entries.")


@year_app.command("reopen")
def year_reopen(fy: Annotated[int, typer.Argument(help="The year it starts in, e.g. 2025.")]
                ) -> None:
    """Reopen a closed fiscal year: its closing entry reversed, its days open again."""
    settings = Settings.from_env()
    db = database(settings)
    try:
        done = db.write(lambda s: reopen_year(s, fy, society=require_society(s), actor="admin",
                                              clock=settings.clock()))
    finally:
        db.dispose()
    undone = (f"closing entry reversed by entry {done.reversal_entry_id}"
              if done.reversal_entry_id else "no closing entry to reverse")
    out.print(f"Fiscal year {fy} reopened: {undone}.")


@year_app.command("close")
def year_close(fy: Annotated[int, typer.Argument(help="The year it starts in, e.g. 2025.")]
               ) -> None:
    """Close a fiscal year: income and expense to 3900 on its last day, the period locked."""
    settings = Settings.from_env()
    db = database(settings)
    try:
        def work(session: Session) -> dividends.YearClose:
            return dividends.close_year(session, fy, society=require_society(session),
                                        actor="admin", clock=settings.clock())

        closed = db.write(work)
        society = db.read(get_society)
        surplus = display(closed.net_surplus_minor, society.currency, society.locale) if (
            society) else str(closed.net_surplus_minor)
    finally:
        db.dispose()
    out.print(f"Fiscal year {fy} ({closed.start} to {closed.end}) closed: net surplus "
              f"{surplus}; chain head {closed.chain_head_seq}:{closed.chain_head_hash}")


@app.command("provision")
def provision(
    as_of: Annotated[str, typer.Option("--as-of", help="The day, YYYY-MM-DD (the year's last "
                                       "day, before the year close).")],
) -> None:
    """Book the provision for bad and doubtful debts the loans require on a day: one entry of
    the change between 5210 and 1190 (the same day again books nothing)."""
    try:
        day = date.fromisoformat(as_of)
    except ValueError as exc:
        raise CoopError(f"--as-of is a date written YYYY-MM-DD, not {as_of!r}") from exc
    settings = Settings.from_env()
    db = database(settings)
    try:
        run = db.write(lambda s: provisioning.run_provisioning(
            s, as_of=day, actor="admin", clock=settings.clock()))
        society = db.read(require_society)
    finally:
        db.dispose()

    def shown(minor: int) -> str:
        return display(minor, society.currency, society.locale)

    if run.replayed:
        out.print(f"The provision as of {day} was booked already: {shown(run.required_minor)}"
                  f" (entry {run.entry_id or 'none'}).")
    elif run.change_minor:
        verb = "raised" if run.change_minor > 0 else "lowered"
        out.print(f"Provision as of {day}: {shown(run.required_minor)}, {verb} by "
                  f"{shown(abs(run.change_minor))} from {shown(run.previous_minor)} "
                  f"(entry {run.entry_id}).")
    else:
        out.print(f"Provision as of {day}: {shown(run.required_minor)}, as before; nothing "
                  "to book.")


@member_app.command("language")
def member_language(
    code: Annotated[str, typer.Argument(help="The member number.")],
    language: Annotated[str, typer.Argument(
        help="en, kn, bn, hi, es or sw; 'society' for the society's language")],
) -> None:
    """Set the language her passbook and documents are printed in."""
    number = members.codes.normalise(code)
    settings = Settings.from_env()
    db = database(settings)
    try:
        db.write(lambda s: members.set_preferences(
            s, number, language=None if language == "society" else language))
    finally:
        db.dispose()
    out.print(f"{number} will get her documents in {language}.")


def main() -> None:
    try:
        app()
    except CoopError as exc:
        err.print(f"[red]error[/]: {escape(exc.detail)}")
        sys.exit(2)


if __name__ == "__main__":
    main()
