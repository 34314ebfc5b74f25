"""The auditor's pack (issue 19): one zip with what an auditor takes away from a fiscal year,
and a manifest of SHA-256 digests by which every file in it can be checked.

The pack is a list of sections, each a name and a function that reads the books (one
consistent snapshot for the whole pack) and yields files. The sections:

- `trial-balance.csv`, `.xlsx` and `.pdf`: every general-ledger account at the year's last
  day (after the closing entry, when the year is closed: income and expense then stand at 0);
- `statements/balance-sheet`, `income-expenditure` and `receipts-payments`, each `.xlsx` and
  `.pdf`, for the year (the balance sheet at its last day) beside the previous year; the
  balance sheet's PDF ends with the year's charts;
- `schedules/savings`, `share-capital` and `loans` (`.csv` and `.xlsx`): member-wise, by
  member number, at the year's last day; the loans with their days overdue, class and
  provision;
- `loan-classification.xlsx` and `.pdf`: the loans by class and the provision required;
- `dividend/report.csv` and `dividend/summary.pdf`: the year's dividend, if one was declared;
- `verify.txt`: `coop verify` over the whole book and every register, the chain head, and the
  chain head witnessed when the year was closed, checked as a checkpoint;
- `book.beancount`: the whole book (GET /ledger/export), which bean-check accepts;
- `manifest.json` (the society, the year, its close, each section's files with their sizes
  and digests) and `MANIFEST.txt`, the digests of every other file in `sha256sum` form, so
  `sha256sum -c MANIFEST.txt` in the unpacked folder checks the lot.

Deterministic: entries in a fixed order, every zip entry dated the year's last day at 00:00,
no time of building anywhere (the PDFs carry no printing date, only the chain head at the
year's close), PDFs in ReportLab's invariant mode, so two builds over the
same book give the same bytes. Files that cover the whole book (verify, beancount) change as
the book grows; the year's own files do not once the year is closed.

Members appear by number only: nothing here reads the identity vault.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coop import registers, statements
from coop.db import Database
from coop.dividends import YearClose, get_declaration, report_csv
from coop.dividends.calc import FiscalYear
from coop.dividends.year_end import closed_row, get_close
from coop.errors import InvalidInput, NotFound
from coop.ledger import queries
from coop.ledger.export import export_beancount
from coop.ledger.orm import entry_table
from coop.ledger.verify import Problem, verify
from coop.loans import provisioning
from coop.money import format_minor
from coop.passbooks import accounts
from coop.passbooks.dividend_report import summary_pdf
from coop.passbooks.sheet import Context, context_of
from coop.passbooks.tables import TableDoc
from coop.society import Society, require_society

Progress = Callable[[str, int, int | None], None]
"""Told (step, done, total or None) as the long steps go."""

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class PackFile:
    name: str
    chunks: Iterable[bytes]


@dataclass(frozen=True)
class PackYear:
    """What a section reads: the snapshot, the society, the year and its close (if closed)."""

    session: Session
    society: Society
    year: FiscalYear
    close: YearClose | None
    progress: Progress
    through: date  # the year's last day, or today while the year runs

    def documents(self) -> Context:
        """Documents in the society's language, under the chain head witnessed at the
        year's close (the book's head while the year is open)."""
        if self.close is not None and self.close.chain_head_seq:
            head = (self.close.chain_head_seq, self.close.chain_head_hash)
        else:
            book = queries.book(self.session)
            head = (book.head_seq, book.head_hash) if book else (0, "")
        return context_of(self.society, self.society.settings.language, head)

    @property
    def date_time(self) -> tuple[int, int, int, int, int, int]:
        end = self.year.end
        return (end.year, end.month, end.day, 0, 0, 0)

    def money(self, minor: int) -> str:
        return format_minor(minor, self.society.currency)


Section = tuple[str, Callable[[PackYear], Iterator[PackFile]]]


def _nothing(_step: str, _done: int, _total: int | None) -> None:
    return None


# --- the sections ---------------------------------------------------------------------------


def _table_files(pack: PackYear, name: str, docs: Sequence[TableDoc],
                 formats: Sequence[accounts.Format] = ("xlsx", "pdf"),
                 charts: accounts.Charts | None = None) -> Iterator[PackFile]:
    ctx = pack.documents()
    for fmt in formats:
        yield PackFile(f"{name}.{fmt}", [accounts.render(fmt, docs, ctx, printed_on=None,
                                                         found=charts, created=pack.year.end)])


def trial_balance_files(pack: PackYear) -> Iterator[PackFile]:
    balance = queries.trial_balance(pack.session, as_of=pack.through)
    doc = accounts.trial_balance_doc(balance, pack.through, pack.documents().type.tr,
                                     pack.society)
    yield from _table_files(pack, "trial-balance", [doc], ("csv", "xlsx", "pdf"))


def statement_files(pack: PackYear) -> Iterator[PackFile]:
    """The three statements for the year (the balance sheet at its last day), each beside
    the previous year, as XLSX and PDF; the balance sheet's PDF ends with the charts."""
    tr, society, first, last = pack.documents().type.tr, pack.society, pack.year.start, \
        pack.through
    sheet = statements.balance_sheet(pack.session, society, as_of=last)
    charts = accounts.gather_charts(pack.session, through=last)
    yield from _table_files(pack, "statements/balance-sheet",
                            [accounts.balance_sheet_doc(sheet, tr, society)], charts=charts)
    account = statements.income_expenditure(pack.session, first=first, last=last)
    yield from _table_files(pack, "statements/income-expenditure",
                            [accounts.income_expenditure_doc(account, tr, society)])
    cash = statements.receipts_payments(pack.session, first=first, last=last)
    yield from _table_files(pack, "statements/receipts-payments",
                            [accounts.receipts_payments_doc(cash, tr, society)])


def schedule_files(pack: PackYear) -> Iterator[PackFile]:
    """Member-wise savings, share capital and loans outstanding at the year's last day, by
    member number (no names: the pack reads nothing from the identity vault), as CSV and
    XLSX (twenty thousand members are a spreadsheet's work, not a printout's)."""
    tr = pack.documents().type.tr
    for name in statements.SCHEDULES:
        found = statements.schedule(pack.session, name, as_of=pack.through,
                                    face_value_minor=pack.society.share_face_value_minor)
        yield from _table_files(pack, f"schedules/{name}",
                                [accounts.schedule_doc(found, tr, pack.society)], ("csv", "xlsx"))
    lines = provisioning.loans_schedule(pack.session, pack.through)
    yield from _table_files(pack, "schedules/loans", [accounts.loans_schedule_doc(
        pack.through, lines, tr, pack.society)], ("csv", "xlsx"))


def classification_files(pack: PackYear) -> Iterator[PackFile]:
    """The loans by class at the year's last day with the provision they require at the
    society's percents (what the year's last provisioning run should have booked)."""
    found = provisioning.classification_on(pack.session, pack.through)
    yield from _table_files(pack, "loan-classification", [accounts.classification_doc(
        found, pack.documents().type.tr, pack.society)])


def dividend_files(pack: PackYear) -> Iterator[PackFile]:
    try:
        declared = get_declaration(pack.session, pack.year.name)
    except NotFound:
        return
    yield PackFile("dividend/report.csv",
                   [report_csv(pack.session, pack.year.name).encode("utf-8")])
    given = declared.resolution
    resolution = (f"{given.number} of {given.on.isoformat()}" if given and given.on
                  else given.number if given else "")
    book = queries.book(pack.session)
    yield PackFile("dividend/summary.pdf", [summary_pdf(
        declared.preview, society_name=pack.society.name, currency=pack.society.currency,
        locale=pack.society.locale, status=declared.status, resolution=resolution,
        chain_head=(book.head_seq, book.head_hash) if book else (0, ""))])


def verify_files(pack: PackYear) -> Iterator[PackFile]:
    book = queries.book(pack.session)
    total = book.head_seq if book else 0
    pack.progress("verify", 0, total)
    witnessed = ((pack.close.chain_head_seq, pack.close.chain_head_hash)
                 if pack.close is not None and pack.close.chain_head_seq else None)
    report = verify(pack.session, checkpoint=witnessed,
                    progress=lambda done: pack.progress("verify", done, total))
    pack.progress("verify", total, total)
    pack.progress("registers", 0, None)
    for account, message in registers.reconcile_registers(pack.session):
        report.add(Problem(None, account, message))
    pack.progress("registers", 1, 1)
    lines = [f"coop verify, for fiscal year {pack.year.name} "
             f"({pack.year.start.isoformat()} to {pack.year.end.isoformat()})",
             f"entries checked: {report.entries_checked}",
             f"chain head: {report.head_seq}:{report.head_hash}"]
    if witnessed is not None:
        lines.append(f"chain head when the year was closed: {witnessed[0]}:{witnessed[1]} "
                     "(checked: the chain still passes through it)")
    else:
        lines.append("the year is not closed: no chain head was witnessed at its close")
    if report.ok:
        lines.append("ok: the chain and every balance recompute exactly, and every register "
                     "agrees with the ledger")
    else:
        lines.append(f"FAULTS: {len(report.problems)}")
        lines += [f"  {problem}" for problem in report.problems]
    yield PackFile("verify.txt", [("\n".join(lines) + "\n").encode("utf-8")])


def beancount_files(pack: PackYear) -> Iterator[PackFile]:
    book = queries.book(pack.session)
    total = book.head_seq if book else 0

    def chunks() -> Iterator[bytes]:
        done = 0
        pack.progress("beancount", 0, total)
        for text in export_beancount(pack.session):
            done += text.count("\n  seq: ")
            pack.progress("beancount", done, total)
            yield text.encode("utf-8")

    yield PackFile("book.beancount", chunks())


SECTIONS: tuple[Section, ...] = (
    ("trial balance", trial_balance_files),
    ("statements", statement_files),
    ("schedules", schedule_files),
    ("loan classification", classification_files),
    ("dividend", dividend_files),
    ("verify", verify_files),
    ("beancount", beancount_files),
)


# --- building the zip -----------------------------------------------------------------------


@dataclass
class Manifest:
    files: list[dict[str, object]] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PackResult:
    path: Path | None  # None: written to a file object
    fiscal_year: int
    closed: bool
    files: dict[str, str]  # name -> SHA-256, every file but MANIFEST.txt


def _year_of(session: Session, name: int, *, today_on: date) -> tuple[Society, FiscalYear]:
    society = require_society(session)
    year = FiscalYear.of(name, society.fiscal_year_start)
    if year.start > today_on:
        raise InvalidInput.said("fiscal year {year} has not begun: it starts on {start}",
                                year=name, start=year.start, field="fy")
    first = session.execute(select(func.min(entry_table.c.value_date))).scalar()
    if first is None or first > year.end:
        raise NotFound.said("the book has no entries in or before fiscal year {year}",
                            year=name, field="fy")
    return society, year


class _Writer:
    """Zip entries in order, each dated the same, hashed as they are written."""

    def __init__(self, archive: zipfile.ZipFile, date_time: tuple[int, ...]) -> None:
        self.archive, self.date_time = archive, date_time
        self.digests: dict[str, str] = {}
        self.sizes: dict[str, int] = {}

    def add(self, name: str, chunks: Iterable[bytes]) -> None:
        info = zipfile.ZipInfo(name, date_time=self.date_time)  # type: ignore[arg-type]
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        info.create_system = 3
        digest, size = hashlib.sha256(), 0
        with self.archive.open(info, "w", force_zip64=True) as handle:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
        self.digests[name], self.sizes[name] = digest.hexdigest(), size


def _manifest(pack: PackYear, sections: dict[str, list[str]], writer: _Writer) -> bytes:
    close = pack.close
    body = {
        "society": pack.society.name, "currency": pack.society.currency,
        "fiscal_year": pack.year.name, "start": pack.year.start.isoformat(),
        "end": pack.year.end.isoformat(), "status": "closed" if close else "open",
        "close": None if close is None else {
            "net_surplus": pack.money(close.net_surplus_minor),
            "closing_entry_id": close.closing_entry_id,
            "chain_head": f"{close.chain_head_seq}:{close.chain_head_hash}"},
        "sections": sections,
        "files": [{"name": name, "bytes": writer.sizes[name], "sha256": digest}
                  for name, digest in writer.digests.items()],
    }
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_pack(session: Session, name: int, handle: IO[bytes], *, today_on: date,
               progress: Progress = _nothing,
               sections: Sequence[Section] = SECTIONS) -> PackResult:
    """Write the pack of fiscal year `name` to a seekable binary file `handle`."""
    society, year = _year_of(session, name, today_on=today_on)
    close = get_close(session, name) if closed_row(session, name) is not None else None
    pack = PackYear(session, society, year, close, progress, min(year.end, today_on))
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        writer = _Writer(archive, pack.date_time)
        made: dict[str, list[str]] = {}
        for title, produce in sections:
            progress(title, 0, None)
            made[title] = []
            for file in produce(pack):
                writer.add(file.name, file.chunks)
                made[title].append(file.name)
            progress(title, 1, 1)
        writer.add("manifest.json", [_manifest(pack, made, writer)])
        sums = "".join(f"{digest}  {file}\n" for file, digest in writer.digests.items())
        writer.add("MANIFEST.txt", [sums.encode("utf-8")])
    files = {file: digest for file, digest in writer.digests.items() if file != "MANIFEST.txt"}
    return PackResult(None, name, close is not None, files)


def build_pack(db: Database, fiscal_year: int, out_path: Path, progress: Progress = _nothing,
               *, today_on: date, replace: bool = False,
               sections: Sequence[Section] = SECTIONS) -> PackResult:
    """Build the pack of `fiscal_year` into `out_path` from one snapshot of the books. The
    zip is written beside it and moved into place only when whole; an existing file is
    replaced only when `replace`."""
    out_path = Path(out_path)
    if out_path.exists() and not replace:
        raise InvalidInput.said("the file {path} exists already", path=str(out_path),
                                field="out")
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - moved into place below
            dir=out_path.parent, prefix=".audit-pack-", suffix=".zip", delete=False)
    except OSError as exc:
        raise InvalidInput.said("cannot write in {folder}: {reason}",
                                folder=str(out_path.parent), reason=exc.strerror or str(exc),
                                field="out") from exc
    try:
        with handle, db.reading() as session:
            result = write_pack(session, fiscal_year, handle, today_on=today_on,
                                progress=progress, sections=sections)
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, out_path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return PackResult(out_path, result.fiscal_year, result.closed, result.files)


__all__ = ["SECTIONS", "PackFile", "PackResult", "PackYear", "Progress", "Section",
           "beancount_files", "build_pack", "classification_files", "dividend_files",
           "schedule_files", "statement_files", "trial_balance_files", "verify_files",
           "write_pack"]
