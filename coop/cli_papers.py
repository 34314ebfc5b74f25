"""`coop`'s commands for members' papers: a passbook, a share certificate, a loan card and a
dividend statement printed to PDF, and the passbooks' own group (where a member's open book
stands, a print confirmed, a duplicate, a page's verification code checked). Registered on
the `coop` command by coop.cli."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from coop import members
from coop.clock import Clock
from coop.config import Settings
from coop.db import Database
from coop.errors import CoopError
from coop.members import vault
from coop.passbooks import books, verification
from coop.passbooks.dividend_statement import dividend_statement
from coop.passbooks.documents import share_certificate
from coop.passbooks.loan_card import loan_card
from coop.passbooks.passbook import member_passbook
from coop.society import SocietySettings, require_society

out = Console()
err = Console(stderr=True)
passbooks_app = typer.Typer(help="Members' physical passbooks.", no_args_is_help=True)

LanguageOption = Annotated[str | None, typer.Option(
    help="Print in this language (en, kn, bn, hi, es, sw) instead of hers.")]


def database(settings: Settings) -> Database:
    """The database a command works on (one command, a few connections)."""
    return Database(settings.database_url, pool_size=4,
                    failover_wait_s=settings.failover_wait_s)


def _print_pdf(render: Callable[[Session, date], bytes], out_file: Path, what: str) -> None:
    """Render a member's document from the books as of the business date, write it out."""
    settings = Settings.from_env()
    db = database(settings)
    try:
        content = db.read(lambda s: render(s, settings.clock().today()))
    finally:
        db.dispose()
    out_file.write_bytes(content)
    out.print(f"{what} written to {out_file} ({len(content):,} bytes)")


def passbook_command(
    code: Annotated[str, typer.Argument(help="The member number, e.g. M-7Q4K2X.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
    continue_: Annotated[bool, typer.Option(
        "--continue", help="Only the lines her open book lacks, at their places on the page; "
                           "confirm with `coop passbooks confirm` once printed.")] = False,
    book: Annotated[int | None, typer.Option(help="Only this book (1, 2, ...).")] = None,
    language: LanguageOption = None,
) -> None:
    """Print a member's savings passbook to a PDF (every book, unless told otherwise)."""
    number = members.codes.normalise(code)
    mode = "continue" if continue_ else "book" if book is not None else "all"
    settings = Settings.from_env()
    clock = settings.clock()
    db = database(settings)
    reader = members.Reader("admin", "admin", "passbook printed")
    try:
        printout = db.write(lambda s: member_passbook(
            s, number, printed_on=clock.today(), mode=mode, book_number=book,
            vault=vault.Vault.from_file(settings.data_key_file), reader=reader, clock=clock,
            language=language))
    finally:
        db.dispose()
    out_file.write_bytes(printout.pdf)
    out.print(f"Passbook of {number} written to {out_file} ({len(printout.pdf):,} bytes)")
    if continue_:
        out.print(f"When it has printed right: coop passbooks confirm {number} "
                  f"--book {printout.book} --through {printout.through}")
        if printout.remaining:
            out.print(f"{printout.remaining} more lines need her next book after that.")


def certificate_command(
    code: Annotated[str, typer.Argument(help="The member number.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
    language: LanguageOption = None,
) -> None:
    """Print a member's share certificate to a PDF."""
    number = members.codes.normalise(code)
    _print_pdf(lambda s, today: share_certificate(s, number, printed_on=today,
                                                  language=language), out_file,
               f"Share certificate of {number}")


def loan_card_command(
    loan_id: Annotated[int, typer.Argument(help="The loan number.", min=1, max=2**31 - 1)],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
    language: LanguageOption = None,
) -> None:
    """Print a loan card (key facts, schedule, repayments, discharge) to a PDF."""
    _print_pdf(lambda s, today: loan_card(s, loan_id, printed_on=today, language=language),
               out_file, f"Loan card {loan_id}")


def dividend_statement_command(
    fy: Annotated[int, typer.Argument(help="The fiscal year, e.g. 2025.")],
    code: Annotated[str, typer.Argument(help="The member number.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
    language: LanguageOption = None,
) -> None:
    """Print a member's dividend statement for a year to a PDF."""
    number = members.codes.normalise(code)
    _print_pdf(lambda s, today: dividend_statement(s, fy, number, printed_on=today,
                                                   language=language),
               out_file, f"Dividend statement {fy} of {number}")


def _passbook_work(work: Callable[[Session, SocietySettings, Clock], books.BookState],
                   ) -> None:
    """Run a change to a member's book in one transaction and show where it stands."""
    settings = Settings.from_env()
    clock = settings.clock()
    db = database(settings)
    try:
        def run(session: Session) -> books.BookState:
            society = require_society(session)
            return work(session, society.settings, clock)

        now = db.write(run)
    finally:
        db.dispose()
    book = now.book
    out.print(f"Book {book.serial}{' (DUPLICATE)' if book.duplicate else ''}: "
              f"{book.printed_lines} of {book.capacity} lines printed; the next goes on page "
              f"{now.next_page}, line {now.next_row}; {now.unprinted} waiting to be printed.")


@passbooks_app.command("status")
def passbooks_status(code: Annotated[str, typer.Argument(help="The member number.")]) -> None:
    """Her open book and how far it is printed."""
    number = members.codes.normalise(code)
    _passbook_work(lambda s, rules, clock: books.state(s, members.get_member(s, number), rules))


@passbooks_app.command("confirm")
def passbooks_confirm(
    code: Annotated[str, typer.Argument(help="The member number.")],
    book: Annotated[str, typer.Option(help="The book serial the print was made for.")],
    through: Annotated[int, typer.Option(help="Lines of that book now printed.", min=0)],
) -> None:
    """The print came out right: move her book's pointer (a full book opens the next)."""
    number = members.codes.normalise(code)
    _passbook_work(lambda s, rules, clock: books.confirm_printed(
        s, number, serial=book, through=through, settings=rules, actor="admin", clock=clock))


@passbooks_app.command("duplicate")
def passbooks_duplicate(
    code: Annotated[str, typer.Argument(help="The member number.")],
    because: Annotated[str, typer.Option(help="lost or damaged")] = "lost",
) -> None:
    """Replace her open book with a DUPLICATE that reprints all its lines (an admin's act)."""
    if because not in ("lost", "damaged"):
        raise CoopError("--because is lost or damaged")
    number = members.codes.normalise(code)
    _passbook_work(lambda s, rules, clock: books.issue_duplicate(
        s, number, because="lost" if because == "lost" else "damaged", settings=rules,
        actor="admin", clock=clock))


@passbooks_app.command("check")
def passbooks_check(text: Annotated[str, typer.Argument(
        help="The text of a scanned verification code: COOP-PB1|member|book|entry|hash")],
) -> None:
    """Check a page's verification code against the books."""
    settings = Settings.from_env()
    db = database(settings)
    try:
        result = db.read(lambda s: verification.check(s, text))
    finally:
        db.dispose()
    if result.genuine:
        out.print(f"[green]genuine[/]: {result.book} of {result.member_code}, printed when the "
                  f"books stood at entry {result.head_seq}")
        return
    for problem in result.problems:
        err.print(f"[red]not genuine[/]: {problem}")
    raise typer.Exit(1)
