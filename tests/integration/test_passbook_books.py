"""Her physical passbooks through the services, on SQLite and PostgreSQL.

Three hundred savings lines land once each, in journal order, with running balances that end at
the ledger's; every page brings the balance forward; continuation runs print only what the open
book lacks, each line exactly where a full print of that page puts it; confirmations move the
pointer once; a full book opens the next; a lost book is replaced by a DUPLICATE that reprints
it and whose predecessor no longer verifies; the same request gives the same bytes.
"""

from __future__ import annotations

import random
import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.clock import FixedClock
from coop.db import Database
from coop.errors import Conflict, InvalidInput
from coop.i18n import Translator
from coop.ledger import queries
from coop.members import Identity, get_member, register_member, savings_account
from coop.members.vault import Vault
from coop.passbooks import books, verification
from coop.passbooks.books import BookRow, BookState, PassbookStale, PassbookUpToDate
from coop.passbooks.layout import Line, place
from coop.passbooks.passbook import Printout, member_passbook
from coop.savings import record_deposit, record_withdrawal, shares
from coop.society import SocietySettings, get_society, update_settings
from tests.conftest import BUSINESS_DATE

KEYS = Vault(bytes(range(32)))
TODAY = BUSINESS_DATE
TODAY_TEXT = TODAY.strftime("%d-%m-%Y")
AMOUNT = re.compile(r"\d[\d,]*\.\d\d")
DATE = re.compile(r"\b\d\d-\d\d-\d{4}\b")


# -- reading the PDFs back ----------------------------------------------------------------------


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page (pdftotext -layout)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(pdf)
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                              text=True, check=True).stdout
    pages = text.split("\f")
    assert pages[-1].strip() == ""
    return pages[:-1]


@dataclass(frozen=True)
class Word:
    page: int  # 0-based
    text: str
    x: float
    y: float


def pdf_words(pdf: bytes) -> list[Word]:
    """Every word with its page and top-left corner (pdftotext -bbox)."""
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "doc.pdf", Path(tmp) / "doc.html"
        path.write_bytes(pdf)
        subprocess.run(["pdftotext", "-bbox", str(path), str(out)], capture_output=True,
                       check=True)
        root = ET.fromstring(out.read_text(encoding="utf-8"))
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    words = []
    for number, page in enumerate(root.iter("{http://www.w3.org/1999/xhtml}page")):
        for word in page.findall("h:word", ns):
            words.append(Word(number, word.text or "", float(word.attrib["xMin"]),
                              float(word.attrib["yMin"])))
    return words


def spot(words: list[Word], text: str, page: int) -> tuple[float, float]:
    """Where the one word `text` on `page` is."""
    found = [w for w in words if w.text == text and w.page == page]
    assert len(found) == 1, (text, page, found)
    return found[0].x, found[0].y


def inr(minor: int) -> str:
    """en_IN grouping, written out here rather than borrowed from coop.money."""
    assert minor >= 0
    rupees, paise = divmod(minor, 100)
    digits = str(rupees)
    head, tail = digits[:-3], digits[-3:]
    groups: list[str] = []
    while head:
        groups.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([*groups, tail]) + f".{paise:02d}"


# -- building her books -------------------------------------------------------------------------


def register(db: Database, clock: FixedClock, known_as: str | None = None) -> str:
    return db.write(lambda s: register_member(
        s, identity=Identity(known_as=known_as), joined_on=date(2024, 1, 1), vault=KEYS,
        clock=clock)).code


def passbook_layout(db: Database, per_page: int, pages: int, size: str = "A5") -> None:
    db.write(lambda s: update_settings(s, {"passbook_lines_per_page": per_page,
                                           "passbook_pages_per_book": pages,
                                           "passbook_page_size": size}))


def society_settings(session: Session) -> SocietySettings:
    society = get_society(session)
    assert society is not None
    return society.settings


def put(db: Database, clock: FixedClock, code: str, amount: int, on: date = TODAY,
        *, out: bool = False) -> int:
    """A deposit (or, with `out`, a withdrawal) on value date `on`; its entry id."""
    record = record_withdrawal if out else record_deposit
    entry, _ = db.write(lambda s: record(s, code, amount_minor=amount, value_date=on,
                                         actor="clerk1", clock=clock))
    return int(entry.id)


def printout(db: Database, code: str, mode: str = "continue", **kw: object) -> Printout:
    return db.write(lambda s: member_passbook(s, code, printed_on=TODAY, mode=mode,
                                              **kw))  # type: ignore[arg-type]


def confirm(db: Database, clock: FixedClock, code: str, serial: str, through: int) -> BookState:
    return db.write(lambda s: books.confirm_printed(
        s, code, serial=serial, through=through, settings=society_settings(s),
        actor="clerk1", clock=clock))


def open_book(db: Database, code: str) -> BookState:
    return db.read(lambda s: books.state(s, get_member(s, code), society_settings(s)))


def her_lines(db: Database, code: str) -> list[Line]:
    return db.read(lambda s: books.ledger_lines(s, code, Translator("en")))


def rows(db: Database, code: str) -> list[tuple[str, int, str, int, bool]]:
    member_id = db.read(lambda s: get_member(s, code).id)
    return [tuple(r) for r in db.read(lambda s: s.execute(  # type: ignore[misc]
        select(BookRow.serial, BookRow.number, BookRow.status, BookRow.printed_lines,
               BookRow.front_printed).where(BookRow.member_id == member_id)
        .order_by(BookRow.id)).all())]


def dates_in(pdf: bytes) -> list[str]:
    """The line dates printed (today's date is only ever the printing or issue date here)."""
    return [d for page in pdf_pages(pdf) for d in DATE.findall(page) if d != TODAY_TEXT]


# -- three hundred lines ------------------------------------------------------------------------


@pytest.mark.slow
def test_three_hundred_lines_each_once_with_balances_brought_forward(
        db: Database, clock: FixedClock) -> None:
    code = register(db, clock)
    rng = random.Random(300)
    posted: list[int] = []
    back_dated: set[int] = set()

    def post_all(session: Session) -> None:
        balance = 0
        for n in range(299):
            on = TODAY
            if n % 37 == 5:
                on = TODAY - timedelta(days=rng.randint(3, 40))
            if n == 150:  # one share purchase paid from her savings
                entry, _ = shares.buy_shares(
                    session, code, count=7, source="savings", face_value_minor=1000,
                    value_date=TODAY, actor="clerk1", clock=clock)
                posted.append(int(entry.id))
                balance -= 7000
            if n % 3 == 2 and balance > 1000:
                amount = rng.randint(100, balance // 3)
                entry, after = record_withdrawal(session, code, amount_minor=amount,
                                                 value_date=on, actor="clerk1", clock=clock)
                balance -= amount
            else:
                amount = rng.randint(50_000, 2_500_000)
                entry, after = record_deposit(session, code, amount_minor=amount,
                                              value_date=on, actor="clerk1", clock=clock)
                balance += amount
            assert after.balance_minor == balance
            posted.append(int(entry.id))
            if on != TODAY:
                back_dated.add(int(entry.id))

    db.write(post_all)
    lines = her_lines(db, code)
    ledger_balance = db.read(lambda s: queries.balance(s, savings_account(code)))
    assert len(lines) == 300 and len(back_dated) >= 5
    assert [line.entry_id for line in lines] == posted  # journal order, not value-date order
    assert lines[-1].balance_minor == ledger_balance and ledger_balance > 10_000_000
    running = 0
    for line in lines:
        assert (line.deposit_minor == 0) != (line.withdrawal_minor == 0)
        running += line.deposit_minor - line.withdrawal_minor
        assert line.balance_minor == running
    purchase = lines[150]
    assert (purchase.withdrawal_minor, purchase.deposit_minor) == (7000, 0)
    assert any(lines[i].on < lines[i - 1].on for i in range(1, 300))

    # The default layout, 14 lines x 20 pages, needs two books for 300 lines.
    settings = db.read(society_settings)
    chain = db.read(lambda s: books.books(s, get_member(s, code), 300, settings))
    assert [(b.serial, b.first_line, b.capacity) for b in chain] == [
        (f"{code}-1", 0, 280), (f"{code}-2", 280, 280)]
    plans = [(book, plan) for book in chain
             for plan in place(book, lines, 0, min(book.capacity, 300 - book.first_line))]
    assert [slot.index for _, plan in plans for slot in plan.slots] == list(range(300))
    assert all(slot.line == lines[slot.index] for _, plan in plans for slot in plan.slots)
    assert len(plans) == 20 + 2
    for book, plan in plans:
        first = plan.slots[0].index
        if first == 0:
            assert plan.brought_forward_minor is None
        else:
            assert plan.brought_forward_minor == lines[first - 1].balance_minor
        assert plan.from_book == (1 if (book.number, plan.page) == (2, 1) else None)

    # Every page of the full English print: its amounts are exactly the brought-forward and
    # each line's amount and balance, in en_IN digits.
    full = printout(db, code, mode="all")
    assert (full.book, full.through, full.remaining) == (f"{code}-2", 0, 0)
    pages = pdf_pages(full.pdf)
    assert len(pages) == 2 + 22  # two front pages, 20 + 2 pages of lines
    assert "Continuation book 2: " + f"{code}-2" in pages[21]
    text_pages = pages[1:21] + pages[22:]
    for (_, plan), text in zip(plans, text_pages, strict=True):
        expected = [] if plan.brought_forward_minor is None else [
            inr(plan.brought_forward_minor)]
        for slot in plan.slots:
            expected += [inr(slot.line.withdrawal_minor or slot.line.deposit_minor),
                         inr(slot.line.balance_minor)]
        assert AMOUNT.findall(text) == expected
    assert sum("Brought forward from book 1" in text for text in pages) == 1
    assert sum("Brought forward" in text for text in pages) == 21
    assert inr(ledger_balance) in pages[-1]
    assert re.fullmatch(r"\d{1,2}(,\d\d)*,\d{3}\.\d\d", inr(ledger_balance))


# -- continuation runs --------------------------------------------------------------------------


def test_a_continuation_run_prints_only_new_lines_in_their_places(
        db: Database, clock: FixedClock) -> None:
    passbook_layout(db, per_page=4, pages=2)
    code = register(db, clock)
    day = iter(range(1, 100))

    def add(count: int) -> list[Line]:
        for _ in range(count):
            n = next(day)
            put(db, clock, code, 100_000 + 1_111 * n, TODAY - timedelta(days=n))
        return her_lines(db, code)

    lines = add(3)
    first = printout(db, code)
    assert (first.book, first.through, first.remaining) == (f"{code}-1", 3, 0)
    pages = pdf_pages(first.pdf)
    assert len(pages) == 2 and "Savings passbook" in pages[0] and f"{code}-1" in pages[0]
    assert dates_in(first.pdf) == [x.on.strftime("%d-%m-%Y") for x in lines]
    assert open_book(db, code).book.printed_lines == 0  # nothing moves before confirming
    moved = confirm(db, clock, code, f"{code}-1", 3)
    assert (moved.book.printed_lines, moved.next_page, moved.next_row, moved.issued) == (
        3, 1, 4, True)
    assert rows(db, code) == [(f"{code}-1", 1, "open", 3, True)]

    # Four more: slot 4 of page 1, then page 2 with its headings and brought-forward.
    lines = add(4)
    second = printout(db, code)
    assert (second.book, second.through, second.remaining) == (f"{code}-1", 7, 0)
    new = lines[3:7]
    assert dates_in(second.pdf) == [x.on.strftime("%d-%m-%Y") for x in new]
    page1, page2 = pdf_pages(second.pdf)
    assert "Savings passbook" not in page1 and "Date" not in page1  # page 1 is half printed
    assert AMOUNT.findall(page1) == [inr(new[0].deposit_minor), inr(new[0].balance_minor)]
    assert "Particulars" in page2 and re.search(rf"{code}-1\s+Page 2", page2)
    assert AMOUNT.findall(page2) == [inr(lines[3].balance_minor)] + [
        a for x in new[1:] for a in (inr(x.deposit_minor), inr(x.balance_minor))]

    # Each new line sits where a full print of book 1 puts it (after its front page), and
    # so does page 2's brought-forward.
    whole = pdf_words(printout(db, code, mode="book", book_number=1).pdf)
    part = pdf_words(second.pdf)
    for index, line in enumerate(new, start=3):
        page = index // 4  # this run starts on book page 1
        for text in (line.on.strftime("%d-%m-%Y"), inr(line.deposit_minor),
                     inr(line.balance_minor)):
            assert spot(part, text, page) == pytest.approx(spot(whole, text, page + 1),
                                                           abs=0.01)
    forward = inr(lines[3].balance_minor)
    assert spot(part, forward, 1) == pytest.approx(spot(whole, forward, 2), abs=0.01)
    assert spot(part, forward, 1)[1] < spot(part, new[1].on.strftime("%d-%m-%Y"), 1)[1]

    moved = confirm(db, clock, code, f"{code}-1", 7)
    assert (moved.book.printed_lines, moved.next_page, moved.next_row) == (7, 2, 4)

    # Three more: one fills book 1, two wait for book 2.
    lines = add(3)
    third = printout(db, code)
    assert (third.book, third.through, third.remaining) == (f"{code}-1", 8, 2)
    assert dates_in(third.pdf) == [lines[7].on.strftime("%d-%m-%Y")]
    moved = confirm(db, clock, code, f"{code}-1", 8)
    assert (moved.book.serial, moved.book.number, moved.book.first_line, moved.issued,
            moved.book.printed_lines, moved.next_page, moved.next_row, moved.unprinted) == (
        f"{code}-2", 2, 8, True, 0, 1, 1, 2)
    assert rows(db, code) == [(f"{code}-1", 1, "full", 8, True),
                              (f"{code}-2", 2, "open", 0, False)]

    # Book 2: its front page, then page 1 bringing forward book 1's last balance.
    fourth = printout(db, code)
    assert (fourth.book, fourth.through, fourth.remaining) == (f"{code}-2", 2, 0)
    front, opening = pdf_pages(fourth.pdf)
    assert f"Continuation book 2: {code}-2" in front
    assert "Brought forward from book 1" in opening
    assert AMOUNT.findall(opening) == [inr(lines[7].balance_minor)] + [
        a for x in lines[8:] for a in (inr(x.deposit_minor), inr(x.balance_minor))]
    assert dates_in(fourth.pdf) == [x.on.strftime("%d-%m-%Y") for x in lines[8:]]
    assert confirm(db, clock, code, f"{code}-2", 2).next_row == 3
    with pytest.raises(PassbookUpToDate):
        printout(db, code)


@pytest.mark.slow
def test_random_runs_print_every_line_exactly_once(db: Database, clock: FixedClock) -> None:
    passbook_layout(db, per_page=4, pages=2)
    code = register(db, clock)
    rng = random.Random(20250630)
    count, balance = 0, 0
    printed: list[str] = []  # the dates of lines confirmed printed, in order
    serials: list[str] = []

    def run() -> None:
        before = open_book(db, code)
        try:
            out = printout(db, code)
        except PassbookUpToDate:
            assert before.unprinted == 0 and before.book.front_printed
            return
        assert out.book == before.book.serial
        assert out.through == before.available
        assert out.remaining == before.unprinted - (before.available - before.book.printed_lines)
        dates = dates_in(out.pdf)
        assert len(dates) == out.through - before.book.printed_lines
        lines = her_lines(db, code)
        plans = place(before.book, lines, before.book.printed_lines, out.through)
        expected: list[str] = []
        for plan in plans:
            if plan.brought_forward_minor is not None:
                expected.append(inr(plan.brought_forward_minor))
            for slot in plan.slots:
                expected += [inr(slot.line.withdrawal_minor or slot.line.deposit_minor),
                             inr(slot.line.balance_minor)]
        assert [a for page in pdf_pages(out.pdf) for a in AMOUNT.findall(page)] == expected
        if rng.random() < 0.25:  # the printer jammed: print again, same bytes, no confirm
            assert printout(db, code).pdf == out.pdf
        after = confirm(db, clock, code, out.book, out.through)
        printed.extend(dates)
        serials.append(out.book)
        if out.through == before.book.capacity:
            assert after.book.number == before.book.number + 1
        else:
            assert after.book.serial == out.book and after.book.printed_lines == out.through

    for _ in range(14):
        for _ in range(rng.randint(0, 7)):
            count += 1
            if balance > 5_000 and rng.random() < 0.3:
                amount = rng.randint(1, balance)
                put(db, clock, code, amount, TODAY - timedelta(days=count), out=True)
                balance -= amount
            else:
                amount = rng.randint(1, 9_999_999)
                put(db, clock, code, amount, TODAY - timedelta(days=count))
                balance += amount
        if rng.random() < 0.8:
            run()
    for _ in range(count // 8 + 3):  # then print until she is up to date
        run()
    lines = her_lines(db, code)
    assert count > 40 and len(lines) == count
    assert printed == [x.on.strftime("%d-%m-%Y") for x in lines]
    full, rest = divmod(count, 8)
    states = rows(db, code)
    assert [s[2] for s in states] == ["full"] * full + ["open"]
    assert [s[3] for s in states] == [8] * full + [rest]
    assert {s[0] for s in states} == {f"{code}-{n}" for n in range(1, full + 2)}
    assert set(serials) <= {s[0] for s in states}
    with pytest.raises(PassbookUpToDate):
        printout(db, code)


def test_a_book_keeps_its_layout_when_the_settings_change(
        db: Database, clock: FixedClock) -> None:
    passbook_layout(db, per_page=4, pages=1, size="A5")
    code = register(db, clock)
    for n in range(1, 6):
        put(db, clock, code, 10_000 * n, TODAY - timedelta(days=n))
    out = printout(db, code)
    assert (out.through, out.remaining) == (4, 1)
    confirm(db, clock, code, out.book, 4)
    passbook_layout(db, per_page=11, pages=3, size="A6")
    later = open_book(db, code)
    assert (later.book.serial, later.book.per_page, later.book.pages, later.book.page_size) == (
        f"{code}-2", 4, 1, "A5")  # opened when book 1 filled, under the old settings
    for n in range(6, 12):
        put(db, clock, code, 10_000 * n, TODAY - timedelta(days=n))
    full = printout(db, code, mode="all")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "all.pdf"
        path.write_bytes(full.pdf)
        info = subprocess.run(["pdfinfo", "-f", "1", "-l", "99", str(path)],
                              capture_output=True, text=True, check=True).stdout
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)
    a5, a6 = ("595.28", "419.53"), ("419.53", "297.64")
    # books 1 and 2 (A5: a front and one page each), book 3 (A6: a front and one page)
    assert [tuple(f"{float(v):.2f}" for v in s) for s in sizes] == [a5] * 4 + [a6] * 2
    pages = pdf_pages(full.pdf)
    assert AMOUNT.findall(pages[5]) == [inr(sum(10_000 * n for n in range(1, 9)))] + [
        a for n in range(9, 12)
        for a in (inr(10_000 * n), inr(sum(10_000 * k for k in range(1, n + 1))))]


# -- confirmations ------------------------------------------------------------------------------


def test_confirming_is_idempotent_and_refuses_stale_or_impossible_pointers(
        db: Database, clock: FixedClock) -> None:
    passbook_layout(db, per_page=4, pages=2)
    code = register(db, clock)
    for n in range(1, 6):
        put(db, clock, code, 1_000 * n)
    once = confirm(db, clock, code, f"{code}-1", 3)
    twice = confirm(db, clock, code, f"{code}-1", 3)
    assert once == twice and twice.book.printed_lines == 3
    assert rows(db, code) == [(f"{code}-1", 1, "open", 3, True)]

    for serial, through in ((f"{code}-2", 5), (f"{code}-1-D1", 5), (f"{code}-1", 2)):
        with pytest.raises(PassbookStale) as stale:
            confirm(db, clock, code, serial, through)
        assert stale.value.kind == "conflict" and stale.value.code == "passbook_stale"
    with pytest.raises(InvalidInput) as beyond:
        confirm(db, clock, code, f"{code}-1", 6)
    assert beyond.value.field == "through"
    assert rows(db, code) == [(f"{code}-1", 1, "open", 3, True)]

    assert confirm(db, clock, code, f"{code}-1", 5).book.printed_lines == 5
    with pytest.raises(PassbookUpToDate) as current:
        printout(db, code)
    assert current.value.kind == "conflict"
    assert rows(db, code) == [(f"{code}-1", 1, "open", 5, True)]


def test_a_first_print_with_no_lines_is_just_the_front_page(
        db: Database, clock: FixedClock) -> None:
    code = register(db, clock)
    out = printout(db, code)
    assert (out.book, out.through, out.remaining) == (f"{code}-1", 0, 0)
    [front] = pdf_pages(out.pdf)
    assert f"Book: {code}-1" in front and AMOUNT.findall(front) == []
    assert confirm(db, clock, code, f"{code}-1", 0).issued
    assert rows(db, code) == [(f"{code}-1", 1, "open", 0, True)]
    with pytest.raises(PassbookUpToDate):
        printout(db, code)


def test_repeating_the_confirmation_that_filled_a_book_changes_nothing(
        db: Database, clock: FixedClock) -> None:
    passbook_layout(db, per_page=4, pages=1)
    code = register(db, clock)
    for n in range(1, 5):
        put(db, clock, code, 1_000 * n)
    first = confirm(db, clock, code, f"{code}-1", 4)
    assert first.book.serial == f"{code}-2"
    again = confirm(db, clock, code, f"{code}-1", 4)  # the clerk's browser sent it twice
    assert again == first
    assert rows(db, code) == [(f"{code}-1", 1, "full", 4, True),
                              (f"{code}-2", 2, "open", 0, False)]
    for through in (3, 2):  # but an older pointer in that book is still stale
        with pytest.raises(PassbookStale):
            confirm(db, clock, code, f"{code}-1", through)


# -- duplicates and verification ----------------------------------------------------------------


def test_a_lost_book_is_replaced_by_a_duplicate_and_no_longer_verifies(
        db: Database, clock: FixedClock) -> None:
    passbook_layout(db, per_page=4, pages=2)
    code = register(db, clock)

    def settings_and_issue(session: Session) -> BookState:
        return books.issue_duplicate(session, code, because="lost",
                                     settings=society_settings(session), actor="admin",
                                     clock=clock)

    with pytest.raises(Conflict):  # nothing printed yet: print her first book instead
        db.write(settings_and_issue)
    for n in range(1, 7):
        put(db, clock, code, 10_000 * n, TODAY - timedelta(days=n))
    out = printout(db, code)
    confirm(db, clock, code, out.book, out.through)
    head = db.read(queries.book)
    assert head is not None

    def check(serial: str) -> verification.CheckResult:
        text = verification.payload(code, serial, head.head_seq, head.head_hash)
        return db.read(lambda s: verification.check(s, text))

    assert check(f"{code}-1").genuine

    now = db.write(settings_and_issue)
    assert (now.book.serial, now.book.number, now.book.duplicate, now.issued,
            now.book.printed_lines, now.unprinted) == (f"{code}-1-D1", 1, True, True, 0, 6)
    assert rows(db, code) == [(f"{code}-1", 1, "lost", 6, True),
                              (f"{code}-1-D1", 1, "open", 0, False)]
    lost = check(f"{code}-1")
    assert not lost.genuine and lost.book_status == "lost"
    assert any("reported lost" in problem for problem in lost.problems)
    with pytest.raises(PassbookStale):
        confirm(db, clock, code, f"{code}-1", 6)

    copy = printout(db, code)
    assert (copy.book, copy.through, copy.remaining) == (f"{code}-1-D1", 6, 0)
    pages = pdf_pages(copy.pdf)
    assert len(pages) == 3 and all("DUPLICATE" in page for page in pages)
    assert f"Book: {code}-1-D1" in pages[0]
    lines = her_lines(db, code)
    assert dates_in(copy.pdf) == [x.on.strftime("%d-%m-%Y") for x in lines]
    assert AMOUNT.findall(pages[1]) == [
        a for x in lines[:4] for a in (inr(x.deposit_minor), inr(x.balance_minor))]
    assert confirm(db, clock, code, f"{code}-1-D1", 6).book.printed_lines == 6
    assert check(f"{code}-1-D1").genuine
    assert not check(f"{code}-1").genuine

    # The duplicate fills up like the book it replaced, and book 2 follows it.
    for n in range(7, 9):
        put(db, clock, code, 10_000 * n, TODAY - timedelta(days=n))
    assert confirm(db, clock, code, f"{code}-1-D1", 8).book.serial == f"{code}-2"
    assert rows(db, code)[1:] == [(f"{code}-1-D1", 1, "full", 8, True),
                                  (f"{code}-2", 2, "open", 0, False)]


# -- the same bytes ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "kn"])
def test_the_same_request_gives_the_same_bytes(db: Database, clock: FixedClock,
                                               language: str) -> None:
    passbook_layout(db, per_page=4, pages=2)
    code = register(db, clock)
    for n in range(1, 11):
        put(db, clock, code, 12_345 * n, TODAY - timedelta(days=n))
    confirm(db, clock, code, f"{code}-1", 3)
    for mode in ("all", "continue"):
        one = printout(db, code, mode=mode, language=language).pdf
        two = printout(db, code, mode=mode, language=language).pdf
        assert one.startswith(b"%PDF") and one == two
    other_day = db.write(lambda s: member_passbook(s, code, printed_on=TODAY - timedelta(1),
                                                   mode="all", language=language)).pdf
    assert other_day != printout(db, code, mode="all", language=language).pdf
