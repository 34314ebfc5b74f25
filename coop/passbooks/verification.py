"""The small verification code printed on each page of her documents.

The QR code says, in plain text: `COOP-PB1|<member number>|<book serial>|<entry>|<hash>`, where
entry and hash are the head of the journal's hash chain when the page was printed (the first
16 hex digits of the hash). A board member scans it and asks the books (`coop passbook check`
or POST /passbook-checks): the member and the book must exist, and the journal must hold that
entry with that hash, which a forged or altered page cannot arrange. The code carries no name
and no amount, so a passbook in the wrong hands gives nothing away.

The code is drawn once per document as a reusable form (a QR costs ~60 ms to draw).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import groupby

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from coop.errors import InvalidInput
from coop.ledger import queries
from coop.ledger.orm import EntryRow
from coop.loans import LoanRow
from coop.members import MemberRow, account_owner
from coop.members.codes import is_valid
from coop.passbooks.books import BookRow

PREFIX = "COOP-PB1"
HASH_DIGITS = 16


def payload(code: str, serial: str, head_seq: int, head_hash: str) -> str:
    return f"{PREFIX}|{code}|{serial}|{head_seq}|{head_hash[:HASH_DIGITS]}"


def draw_qr(canvas: Canvas, text: str, x: float, y: float, size: float) -> None:
    """The code for `text`, `size` points square with its lower left at (x, y); drawn into
    the PDF once, as one filled path of the dark runs of each row, and placed again on every
    later page (ReportLab's widget draws a shape per run, and computes the code twice)."""
    forms: dict[str, str] = getattr(canvas, "_coop_qr_forms", {})
    name = forms.get(text)
    if name is None:
        name = f"coop-qr-{len(forms)}"
        encoder = QrCodeWidget(text, barLevel="M").qr  # ReportLab's encoder (ISO 18004)
        encoder.make()
        rows = encoder.modules
        quiet = 2  # modules of white margin around the code
        box = size / (len(rows) + 2 * quiet)
        canvas.beginForm(name, lowerx=0, lowery=0, upperx=size, uppery=size)
        path = canvas.beginPath()
        for r, row in enumerate(rows):
            column = 0
            for dark, run in groupby(bool(module) for module in row):
                length = len(list(run))
                if dark:
                    path.rect((column + quiet) * box, size - (r + quiet + 1) * box,
                              length * box, box)
                column += length
        canvas.drawPath(path, stroke=0, fill=1)
        canvas.endForm()
        forms[text] = name
        canvas._coop_qr_forms = forms
    canvas.saveState()
    canvas.translate(x, y)
    canvas.doForm(name)
    canvas.restoreState()


@dataclass
class CheckResult:
    genuine: bool
    member_code: str | None = None
    book: str | None = None
    book_status: str | None = None
    head_seq: int | None = None
    problems: list[str] = field(default_factory=list)


def _other_document(session: Session, member: MemberRow, serial: str,
                    result: CheckResult) -> bool:
    """Her share certificate ("shares"), a dividend statement ("dividend-2025"), a loan
    card ("loan-12", which must be her loan) or a receipt ("receipt-41", an entry about her).
    False for a passbook."""
    if serial == "shares" or re.fullmatch(r"dividend-\d{4}", serial):
        return True
    slip = re.fullmatch(r"receipt-(\d{1,18})", serial)
    if slip is not None:  # a receipt names its own entry, which must be about her
        entry = queries.load_entry(session, int(slip.group(1)))
        if entry is None or all(account_owner(p.account) != member.code for p in entry.postings):
            result.problems.append(f"{member.code} has no entry {slip.group(1)}")
        elif result.head_seq != entry.id:
            result.problems.append(f"receipt {entry.id} names entry {result.head_seq}")
        return True
    loan = re.fullmatch(r"loan-(\d{1,10})", serial)
    if loan is None:
        return False
    owner = session.scalar(select(LoanRow.member_id).where(LoanRow.id == int(loan.group(1))))
    if owner != member.id:
        result.problems.append(f"{member.code} has no loan {loan.group(1)}")
    return True


def check(session: Session, text: str) -> CheckResult:
    """Does a scanned code agree with the books?"""
    parts = text.strip().split("|")
    if len(parts) != 5 or parts[0] != PREFIX or not parts[3].isdigit() \
            or len(parts[3]) > 18:
        raise InvalidInput("this is not a coop passbook code (COOP-PB1|member|book|entry|hash)",
                           field="code")
    _, code, serial, seq_text, digest = parts
    result = CheckResult(False, code, serial, head_seq=int(seq_text))
    member = session.scalar(select(MemberRow).where(MemberRow.code == code)) \
        if is_valid(code) else None
    if member is None:
        result.problems.append(f"there is no member {code[:20]}")
        return result
    book = session.scalar(select(BookRow).where(BookRow.serial == serial,
                                                BookRow.member_id == member.id))
    if _other_document(session, member, serial, result):
        pass
    elif book is not None:
        result.book_status = book.status
        if book.status == "lost":
            result.problems.append(f"book {serial} was reported {book.replaced_because}; "
                                   "a duplicate replaced it")
    elif serial != f"{code}-1":  # her first book is printed before it is on record
        result.problems.append(f"{code} has no book {serial[:40]}")
    entry_hash = session.scalar(select(EntryRow.hash).where(EntryRow.id == result.head_seq))
    if entry_hash is None or not entry_hash.startswith(digest.lower()) \
            or len(digest) != HASH_DIGITS:
        result.problems.append(f"the books have no entry {result.head_seq} with hash {digest}")
    result.genuine = not result.problems
    return result


__all__ = ["PREFIX", "CheckResult", "check", "draw_qr", "payload"]
