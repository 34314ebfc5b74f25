"""The auditor's pack of fiscal year 2024 (1 April 2024 to 31 March 2025), worked by hand:

* Asha and Bina buy 10,000 shares of 10.00 each for cash on 1 April (1,00,000.00 each),
  Chitra 100 on 20 August (1,000.00); a grant of 1,20,000.00 comes in on 1 December and
  20,000.00 of rent goes out on 15 January;
* cash 1000 = 2,01,000.00 + 1,20,000.00 - 20,000.00 = 3,01,000.00 (debit);
* share capital 3000 = 2,01,000.00 (credit); the close moves income 1,20,000.00 and expense
  20,000.00 into 3900: 1,00,000.00 (credit); 4200 and 5100 stand at nil on 31 March;
* the dividend at 15 % on share-days is declared on 30 June 2025 (the figures of
  tests/integration/test_dividends_service.py: 15,000.00, 15,000.00 and 92.05).

The year is the `year` fixture of tests/integration/test_dividends_service.py. The pack is
checked file by file, its digests re-hashed, built twice to the same bytes, and
refused in words for a year not begun, a year before the book, a file there already and a
folder that is not there."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pytest

from coop import dividends
from coop.auditpack import build_pack
from coop.clock import FixedClock
from coop.db import Database
from coop.errors import InvalidInput, NotFound
from coop.ledger import EntryDraft, credit, debit, post, queries
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.society import require_society
from tests.helpers import pdf_text
from tests.integration.test_dividends_service import year  # noqa: F401 (the fixture)

FY = 2024
TODAY = date(2025, 6, 30)
VAULT = Vault(b"p" * 32)
YEARS_OWN = ["trial-balance.csv", "trial-balance.xlsx", "trial-balance.pdf",
             *(f"statements/{name}.{fmt}" for name in ("balance-sheet", "income-expenditure",
                                                      "receipts-payments")
               for fmt in ("xlsx", "pdf")),
             *(f"schedules/{name}.{fmt}" for name in ("savings", "share-capital", "loans")
               for fmt in ("csv", "xlsx")),
             "loan-classification.xlsx", "loan-classification.pdf", "dividend/report.csv"]
NAMES = [*YEARS_OWN, "dividend/summary.pdf", "verify.txt", "book.beancount", "manifest.json",
         "MANIFEST.txt"]


def _year(db: Database, clock: FixedClock, *, close: bool = True,
          declare: bool = True) -> None:
    """The year of the `year` fixture (members without names), one member with a name
    (who must not appear in the pack), closed and declared as asked."""
    db.write(lambda s: register_member(s, identity=Identity(known_as="Lakshmi Devi"),
                                       joined_on=date(2024, 4, 1), vault=VAULT, clock=clock))
    if close:
        db.write(lambda s: dividends.close_year(s, FY, society=require_society(s),
                                                actor="admin", clock=clock))
    if declare:
        db.write(lambda s: dividends.declare_dividend(
            s, FY, dividends.Request(Decimal("15")), society=require_society(s),
            resolution=dividends.Resolution("AGM-2025/4", date(2025, 6, 28)),
            actor="board1", clock=clock))


def _build(db: Database, path: Path, fy: int = FY, **kw: object) -> zipfile.ZipFile:
    build_pack(db, fy, path, today_on=TODAY, **kw)  # type: ignore[arg-type]
    return zipfile.ZipFile(path)


def test_the_pack_holds_the_years_files_and_their_digests(
        db: Database, clock: FixedClock, tmp_path: Path, year: dict[str, str]) -> None:  # noqa: F811
    codes = year
    _year(db, clock)
    pack = _build(db, tmp_path / "pack.zip")
    assert pack.namelist() == NAMES
    assert {info.date_time for info in pack.infolist()} == {(2025, 3, 31, 0, 0, 0)}

    rows = list(csv.reader(io.StringIO(pack.read("trial-balance.csv").decode())))
    assert rows[0] == ["Account", "Name", "Type", "Debit", "Credit"]
    by_code = {row[0]: row[3:] for row in rows[1:]}
    assert by_code["1000"] == ["3,01,000.00", "0.00"]  # the society's format (en_IN)
    assert by_code["3000"] == ["0.00", "2,01,000.00"]
    assert by_code["3900"] == ["0.00", "1,00,000.00"]
    assert by_code["4200"] == by_code["5100"] == ["0.00", "0.00"]
    assert by_code["Total"] == ["3,01,000.00", "3,01,000.00"]

    sheet = zipfile.ZipFile(io.BytesIO(pack.read("trial-balance.xlsx")))
    xml = ElementTree.fromstring(sheet.read("xl/worksheets/sheet1.xml"))
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    numbers = {c.findtext(f"{main}v") for c in xml.iter(f"{main}c") if c.get("t") != "s"}
    assert "301000.00" in numbers  # a number an auditor can add up, not text
    assert b'name="Trial balance"' in sheet.read("xl/workbook.xml")
    assert b"2025-03-31T00:00:00Z" in sheet.read("docProps/core.xml")  # made "then", not now

    # the statements: the balance sheet at the year's end balances, the surplus is the close's
    sheet_text = pdf_text(pack.read("statements/balance-sheet.pdf"))
    assert "Balance sheet" in sheet_text and "As at 31-03-2025" in sheet_text
    assert "Members' savings at each month's end" in sheet_text  # the charts page
    income = pdf_text(pack.read("statements/income-expenditure.pdf"))
    assert "1,00,000.00" in income  # the net surplus, as the close's
    savings = list(csv.reader(io.StringIO(pack.read("schedules/savings.csv").decode())))
    assert savings[0] == ["Member", "Amount"] and savings[-1][0].startswith("Total, ")
    loans = list(csv.reader(io.StringIO(pack.read("schedules/loans.csv").decode())))
    assert loans[0][:2] == ["Member", "Loan"]
    assert "Loans by class" in pdf_text(pack.read("loan-classification.pdf"))

    dividend = pack.read("dividend/report.csv").decode().splitlines()
    assert dividend[0] == "member_code,basis_value,dividend,rebate,total"
    assert f"{codes['chitra']},224000.00,92.05,0.00,92.05" in dividend
    assert pack.read("dividend/summary.pdf").startswith(b"%PDF")

    book = db.read(queries.book)
    assert book is not None
    close = db.read(lambda s: dividends.get_close(s, FY))
    verified = pack.read("verify.txt").decode()
    assert f"chain head: {book.head_seq}:{book.head_hash}" in verified
    assert (f"chain head when the year was closed: {close.chain_head_seq}:"
            f"{close.chain_head_hash}") in verified
    assert "\nok: the chain and every balance recompute exactly" in verified
    bean = pack.read("book.beancount").decode()
    assert "Assets:1000-Cash-on-hand" in bean and f"Equity:3000-Share-capital:{codes['asha']}" \
        in bean

    everything = (pack.read("manifest.json").decode() + verified + bean + dividend[1]
                  + "".join(pack.read(f"schedules/{n}.csv").decode()
                            for n in ("savings", "share-capital", "loans")))
    assert "Lakshmi" not in everything  # numbers, never names


def test_every_digest_in_the_manifests_is_the_files_own(
        db: Database, clock: FixedClock, tmp_path: Path, year: dict[str, str]) -> None:  # noqa: F811
    _year(db, clock)
    pack = _build(db, tmp_path / "pack.zip")
    sums = dict(reversed(line.split("  ", 1)) for line in
                pack.read("MANIFEST.txt").decode().splitlines())  # type: ignore[misc]
    assert sorted(sums) == sorted(NAMES[:-1])
    for name, digest in sums.items():
        assert hashlib.sha256(pack.read(name)).hexdigest() == digest, name
    manifest = json.loads(pack.read("manifest.json"))
    assert [f["name"] for f in manifest["files"]] == NAMES[:-2]
    for entry in manifest["files"]:
        content = pack.read(entry["name"])
        assert (entry["bytes"], entry["sha256"]) == (
            len(content), hashlib.sha256(content).hexdigest())
    assert manifest["status"] == "closed" and manifest["close"]["net_surplus"] == "100000.00"
    assert manifest["sections"] == {
        "trial balance": ["trial-balance.csv", "trial-balance.xlsx", "trial-balance.pdf"],
        "statements": [n for n in NAMES if n.startswith("statements/")],
        "schedules": [n for n in NAMES if n.startswith("schedules/")],
        "loan classification": ["loan-classification.xlsx", "loan-classification.pdf"],
        "dividend": ["dividend/report.csv", "dividend/summary.pdf"],
        "verify": ["verify.txt"], "beancount": ["book.beancount"]}
    # negative control: one byte changed in a file no longer matches its digest
    changed = bytearray(pack.read("trial-balance.csv"))
    changed[-2:-1] = b"1"
    assert hashlib.sha256(bytes(changed)).hexdigest() != sums["trial-balance.csv"]


def test_two_builds_of_a_closed_year_are_the_same_bytes(
        db: Database, clock: FixedClock, tmp_path: Path, year: dict[str, str]) -> None:  # noqa: F811
    _year(db, clock)
    first = (tmp_path / "a.zip")
    second = (tmp_path / "b.zip")
    build_pack(db, FY, first, today_on=TODAY)
    clock.instant = None
    build_pack(db, FY, second, today_on=TODAY)
    assert first.read_bytes() == second.read_bytes()
    # the next year's business changes the whole-book files, never the year's own
    post_later = EntryDraft(value_date=TODAY, narration="Rent", kind="rent", actor="admin",
                            postings=(debit("5100", 100_000), credit("1000", 100_000)))
    db.write(lambda s: post(s, post_later, clock=clock))
    third = tmp_path / "c.zip"
    build_pack(db, FY, third, today_on=TODAY)
    digests = [json.loads(zipfile.ZipFile(p).read("manifest.json"))["files"]
               for p in (first, third)]
    same = {a["name"] for a, b in zip(*digests, strict=True) if a["sha256"] == b["sha256"]}
    assert same == set(YEARS_OWN)


def test_an_open_year_without_a_dividend(db: Database, clock: FixedClock, tmp_path: Path,
                                         year: dict[str, str]) -> None:  # noqa: F811
    _year(db, clock, close=False, declare=False)
    pack = _build(db, tmp_path / "open.zip")
    assert "dividend/report.csv" not in pack.namelist()
    manifest = json.loads(pack.read("manifest.json"))
    assert manifest["status"] == "open" and manifest["sections"]["dividend"] == []
    assert "the year is not closed" in pack.read("verify.txt").decode()
    rows = {row[0]: row[3:] for row in csv.reader(io.StringIO(
        pack.read("trial-balance.csv").decode()))}
    assert rows["4200"] == ["0.00", "1,20,000.00"] and rows["5100"] == ["20,000.00", "0.00"]


def test_refusals_in_words(db: Database, clock: FixedClock, tmp_path: Path,
                           year: dict[str, str]) -> None:  # noqa: F811
    _year(db, clock, declare=False)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InvalidInput, match=r"fiscal year 2025 has not begun"):
        build_pack(db, 2025, out / "x.zip", today_on=date(2025, 3, 31))
    with pytest.raises(NotFound, match=r"no entries in or before fiscal year 2020"):
        build_pack(db, 2020, out / "x.zip", today_on=TODAY)
    with pytest.raises(InvalidInput, match="a fiscal year is named"):
        build_pack(db, 1800, out / "x.zip", today_on=TODAY)
    there = out / "there.zip"
    there.write_bytes(b"keep me")
    with pytest.raises(InvalidInput, match="exists already"):
        build_pack(db, FY, there, today_on=TODAY)
    assert there.read_bytes() == b"keep me"
    build_pack(db, FY, there, today_on=TODAY, replace=True)
    assert zipfile.is_zipfile(there)
    with pytest.raises(InvalidInput, match="cannot write in"):
        build_pack(db, FY, out / "no-such-folder" / "x.zip", today_on=TODAY)
    assert [p.name for p in out.iterdir()] == ["there.zip"]  # no half-written zip
