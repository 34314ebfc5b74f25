"""Receipts (issue 17): every counter transaction prints a slip (80 mm roll or A6) in the
member's language with the society, date and time, her number, what was done, the amount in
digits and words, the balance after it, the clerk and a verification code that
POST /passbook-checks confirms; another member's entry is 404; a forged code is not genuine.
The English slip is read back as text; the Kannada one is rendered to a PNG for a person to
look at (test-artifacts/receipts/)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from coop.ledger.orm import EntryRow
from tests.api.conftest import Api
from tests.helpers import pdf_text, qr_codes

M = "/api/v1/members"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "receipts"


def _member(api: Api, language: str | None = None) -> str:
    body = {"joined_on": "2025-06-30", **({"language": language} if language else {})}
    created = api.post(M, body, role="clerk")
    assert created.status_code == 201, created.text
    return str(created.json()["code"])


def _code_of(api: Api, entry_id: int, code: str) -> str:
    digest = api.db.read(lambda s: s.scalar(select(EntryRow.hash).where(
        EntryRow.id == entry_id)))
    return f"COOP-PB1|{code}|receipt-{entry_id}|{entry_id}|{digest[:16]}"


def test_a_deposit_receipt_reads_back_and_its_code_checks(
        api: Api, figure: Callable[[str], None]) -> None:
    asha = _member(api)
    api.post(f"{M}/{asha}/deposits", {"amount": "1000.00"}, role="clerk")
    made = api.post(f"{M}/{asha}/deposits", {"amount": "2500.50"}, role="clerk").json()
    api.get(f"{M}/{asha}/receipts/{made['entry_id']}/slip.pdf", role="clerk")  # fonts load
    began = time.perf_counter()
    slip = api.get(f"{M}/{asha}/receipts/{made['entry_id']}/slip.pdf", role="clerk")
    took = time.perf_counter() - began
    figure(f"receipts: one roll slip through the API in {took * 1000:.0f} ms (warm)")
    assert slip.status_code == 200 and slip.headers["content-type"] == "application/pdf"
    text = " ".join(pdf_text(slip.content).split())  # the words, however the lines wrap
    for words in ("Test Society", f"Receipt {made['entry_id']}", asha, "Cash deposit",
                  "2,500.50 INR", "two thousand, five hundred", "50/100", "Savings 3,500.50",
                  "clerk1"):
        assert words in text, (words, text)
    assert re.search(r"\d\d-\d\d-\d{4} \d\d:\d\d", text)
    assert qr_codes(slip.content) == [_code_of(api, made["entry_id"], asha)]  # as scanned
    a6 = api.get(f"{M}/{asha}/receipts/{made['entry_id']}/slip.pdf", role="clerk",
                 params={"size": "a6"})
    assert a6.status_code == 200 and b"/MediaBox [ 0 0 297.6378 419.5276 ]" in a6.content
    assert "#" not in text and _code_of(api, made["entry_id"], asha)[-16:] not in text
    checked = api.post("/api/v1/passbook-checks",
                       {"code": _code_of(api, made["entry_id"], asha)}, role="board")
    assert checked.status_code == 200 and checked.json()["genuine"] is True, checked.text
    forged = _code_of(api, made["entry_id"], asha).replace(f"receipt-{made['entry_id']}",
                                                           f"receipt-{made['entry_id'] - 1}")
    assert api.post("/api/v1/passbook-checks", {"code": forged},
                    role="board").json()["genuine"] is False


def test_a_receipt_is_hers_alone(api: Api) -> None:
    asha, bina = _member(api), _member(api)
    made = api.post(f"{M}/{asha}/deposits", {"amount": "10.00"}, role="clerk").json()
    assert api.get(f"{M}/{bina}/receipts/{made['entry_id']}/slip.pdf",
                   role="clerk").status_code == 404
    other = _code_of(api, made["entry_id"], bina)
    assert api.post("/api/v1/passbook-checks", {"code": other},
                    role="board").json()["genuine"] is False
    assert api.get(f"{M}/{asha}/receipts/999999/slip.pdf", role="clerk").status_code == 404
    assert api.get(f"{M}/{asha}/receipts/{made['entry_id']}/slip.pdf",
                   role="member").status_code == 404  # member1 is someone else


def test_a_kannada_loan_repayment_slip_renders(api: Api) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm is missing: install Debian's poppler-utils (make test does)")
    asha = _member(api, language="kn")
    shares = api.post(f"{M}/{asha}/shares", {"count": 3, "source": "cash"}, role="clerk")
    assert shares.status_code == 201, shares.text
    slip = api.get(f"{M}/{asha}/receipts/{shares.json()['entry_id']}/slip.pdf", role="clerk")
    assert slip.status_code == 200
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    source = ARTIFACTS / "receipt-kn.pdf"
    source.write_bytes(slip.content)
    subprocess.run(["pdftoppm", "-r", "110", "-png", "-singlefile", str(source),
                    str(ARTIFACTS / "receipt-kn")], check=True)
    assert (ARTIFACTS / "receipt-kn.png").stat().st_size > 5_000
