"""Passbooks through the API: the clerk prints her open book, confirms the print with the
response's headers and cannot confirm the wrong thing; an admin replaces a lost book; a member
sees only her own papers; her language and her known-as name; checking a printed page's code;
every document in every language."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from coop.members import AccessLogRow
from tests.api.conftest import Api
from tests.api.loan_helpers import product
from tests.helpers import qr_codes

BASE = "/api/v1"
M = f"{BASE}/members"
TODAY = "30-06-2025"
DATE = re.compile(r"\b\d\d-\d\d-\d{4}\b")


# -- helpers ------------------------------------------------------------------------------------


def _pdf_tool(tool: str, pdf: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(pdf)
        args = [tool, "-layout", str(path), "-"] if tool == "pdftotext" else [tool, str(path)]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def pdf_text(pdf: bytes) -> str:
    return _pdf_tool("pdftotext", pdf)


def pdf_fonts(pdf: bytes) -> str:
    return _pdf_tool("pdffonts", pdf)


def embedded_fonts(pdf: bytes) -> dict[str, bool]:
    """Each font of a PDF (poppler's pdffonts) and whether it is embedded."""
    rows = pdf_fonts(pdf).splitlines()[2:]  # past the heading and its rule
    return {row.split()[0]: row.split()[-5] == "yes" for row in rows if row.strip()}


def line_dates(pdf: bytes) -> list[str]:
    """The dates of the lines printed (today's date only ever says when it was printed)."""
    return [d for d in DATE.findall(pdf_text(pdf)) if d != TODAY]


def is_pdf(response: httpx.Response) -> bytes:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.content.startswith(b"%PDF")
    return response.content


def is_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["type"] == f"urn:coop:problem:{code}", body
    return body


def settings(api: Api, **values: Any) -> None:
    response = api.client.patch(f"{BASE}/society", json={"settings": values},
                                headers=api.headers("admin"))
    assert response.status_code == 200, response.text


def register(api: Api, **body: Any) -> str:
    response = api.post(M, body, role="clerk")
    assert response.status_code == 201, response.text
    return str(response.json()["code"])


def deposit(api: Api, code: str, amount: str, value_date: str | None = None) -> None:
    body = {"amount": amount} | ({"value_date": value_date} if value_date else {})
    response = api.post(f"{M}/{code}/deposits", body, role="clerk")
    assert response.status_code == 201, response.text


def book_state(api: Api, code: str, role: str = "clerk") -> dict[str, Any]:
    response = api.get(f"{M}/{code}/passbook", role=role)
    assert response.status_code == 200, response.text
    return dict(response.json())


def access_log(api: Api, code: str) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in api.db.read(lambda s: s.execute(  # type: ignore[misc]
        select(AccessLogRow.username, AccessLogRow.fields, AccessLogRow.reason)
        .where(AccessLogRow.member_code == code).order_by(AccessLogRow.id)).all())]


def small_books(api: Api) -> None:
    settings(api, passbook_lines_per_page=4, passbook_pages_per_book=2)


# -- the clerk's print run ----------------------------------------------------------------------


def test_print_confirm_and_refusals(api: Api) -> None:
    small_books(api)
    code = register(api)
    for day in range(21, 26):
        deposit(api, code, f"{day}00.00", f"2025-06-{day}")
    assert book_state(api, code) == {
        "code": code, "book": f"{code}-1", "number": 1, "duplicate": False, "issued": False,
        "page_size": "A5", "lines_per_page": 4, "pages": 2, "capacity": 8, "printed_lines": 0,
        "next_page": 1, "next_line": 1, "unprinted_lines": 5}

    run = api.get(f"{M}/{code}/passbook.pdf", role="clerk", params={"continue": "true"})
    pdf = is_pdf(run)
    assert (run.headers["Coop-Passbook-Book"], run.headers["Coop-Passbook-Through"],
            run.headers["Coop-Passbook-Remaining"]) == (f"{code}-1", "5", "0")
    assert run.headers["Cache-Control"] == "no-store"
    assert line_dates(pdf) == [f"{day}-06-2025" for day in range(21, 26)]
    whole = api.get(f"{M}/{code}/passbook.pdf", role="clerk")
    assert line_dates(is_pdf(whole)) == line_dates(pdf)
    assert "Coop-Passbook-Book" not in whole.headers
    assert "Coop-Passbook-Through" not in whole.headers
    assert book_state(api, code)["printed_lines"] == 0  # printing alone moves nothing

    body = {"book": run.headers["Coop-Passbook-Book"],
            "through": int(run.headers["Coop-Passbook-Through"])}
    confirmed = api.post(f"{M}/{code}/passbook/printed", body, role="clerk")
    assert confirmed.status_code == 200, confirmed.text
    after = {"code": code, "book": f"{code}-1", "number": 1, "duplicate": False,
             "issued": True, "page_size": "A5", "lines_per_page": 4, "pages": 2, "capacity": 8,
             "printed_lines": 5, "next_page": 2, "next_line": 2, "unprinted_lines": 0}
    assert confirmed.json() == after and book_state(api, code) == after
    again = api.post(f"{M}/{code}/passbook/printed", body, role="clerk")
    assert again.status_code == 200 and again.json() == after
    assert book_state(api, code) == after

    is_problem(api.get(f"{M}/{code}/passbook.pdf", role="clerk", params={"continue": "true"}),
               409, "passbook-up-to-date")
    wrong = is_problem(api.post(f"{M}/{code}/passbook/printed",
                                {"book": f"{code}-2", "through": 5}, role="clerk"),
                       409, "passbook-stale")
    assert wrong["errors"][0]["field"] == "book"
    is_problem(api.post(f"{M}/{code}/passbook/printed", {"book": f"{code}-1", "through": 4},
                        role="clerk"), 409, "passbook-stale")

    deposit(api, code, "2600.00", "2025-06-26")
    too_far = is_problem(api.post(f"{M}/{code}/passbook/printed",
                                  {"book": f"{code}-1", "through": 7}, role="clerk"),
                         422, "invalid-input")
    assert too_far["errors"][0]["field"] == "through"
    for bad in ({}, {"book": f"{code}-1"}, {"through": 6}, {"book": f"{code}-1", "through": -1},
                {"book": f"{code}-1", "through": "six"}, {"book": "", "through": 6},
                {"book": f"{code}-1", "through": 6, "extra": 1},
                {"book": f"{code}-1", "through": 10_001}, {"book": "x" * 41, "through": 6},
                [f"{code}-1", 6]):
        response = api.client.post(f"{M}/{code}/passbook/printed", json=bad,
                                   headers=api.headers("clerk"))
        is_problem(response, 422)
    malformed = api.client.post(f"{M}/{code}/passbook/printed", content=b"{not json",
                                headers=api.headers("clerk", **{
                                    "Content-Type": "application/json"}))
    is_problem(malformed, 422)
    assert book_state(api, code) == after | {"unprinted_lines": 1}

    # The sixth line goes to page 2, slot 2, and only it is printed.
    run = api.get(f"{M}/{code}/passbook.pdf", role="clerk", params={"continue": "true"})
    assert line_dates(is_pdf(run)) == ["26-06-2025"]
    assert (run.headers["Coop-Passbook-Through"], run.headers["Coop-Passbook-Remaining"]) == (
        "6", "0")
    keyed = api.post(f"{M}/{code}/passbook/printed", {"book": f"{code}-1", "through": 6},
                     role="clerk", key="print-6")
    replay = api.post(f"{M}/{code}/passbook/printed", {"book": f"{code}-1", "through": 6},
                      role="clerk", key="print-6")
    assert keyed.status_code == replay.status_code == 200
    assert keyed.json() == replay.json() == after | {"printed_lines": 6, "next_line": 3}
    is_problem(api.post(f"{M}/{code}/passbook/printed", {"book": f"{code}-1", "through": 5},
                        role="clerk", key="print-6"), 422)
    assert book_state(api, code)["printed_lines"] == 6


def test_a_full_book_continues_in_the_next(api: Api) -> None:
    small_books(api)
    code = register(api)
    for day in range(1, 11):
        deposit(api, code, "1000.00", f"2025-06-{day:02d}")
    run = api.get(f"{M}/{code}/passbook.pdf", role="clerk", params={"continue": "true"})
    assert (run.headers["Coop-Passbook-Book"], run.headers["Coop-Passbook-Through"],
            run.headers["Coop-Passbook-Remaining"]) == (f"{code}-1", "8", "2")
    assert len(line_dates(is_pdf(run))) == 8
    moved = api.post(f"{M}/{code}/passbook/printed", {"book": f"{code}-1", "through": 8},
                     role="clerk").json()
    assert (moved["book"], moved["number"], moved["issued"], moved["printed_lines"],
            moved["unprinted_lines"]) == (f"{code}-2", 2, True, 0, 2)
    repeated = api.post(f"{M}/{code}/passbook/printed", {"book": f"{code}-1", "through": 8},
                        role="clerk")
    assert repeated.status_code == 200 and repeated.json() == moved
    is_problem(api.post(f"{M}/{code}/passbook/printed", {"book": f"{code}-1", "through": 7},
                        role="clerk"), 409, "passbook-stale")
    run = api.get(f"{M}/{code}/passbook.pdf", role="clerk", params={"continue": "true"})
    text = pdf_text(is_pdf(run))
    assert run.headers["Coop-Passbook-Book"] == f"{code}-2"
    assert f"Continuation book 2: {code}-2" in text
    assert re.search(r"Brought forward from book 1\s+8,000\.00", text)
    assert line_dates(run.content) == ["09-06-2025", "10-06-2025"]
    whole = pdf_text(is_pdf(api.get(f"{M}/{code}/passbook.pdf", role="clerk",
                                    params={"book": 1})))
    assert f"{code}-2" not in whole and len(DATE.findall(whole)) - whole.count(TODAY) == 8
    is_problem(api.get(f"{M}/{code}/passbook.pdf", role="clerk", params={"book": 3}), 404)
    is_problem(api.get(f"{M}/{code}/passbook.pdf", role="clerk", params={"book": 0}), 422)


# -- a duplicate for a lost book ----------------------------------------------------------------


def test_only_an_admin_issues_a_duplicate_which_reprints_the_book(api: Api) -> None:
    small_books(api)
    code = register(api)
    for day in (3, 4, 5):
        deposit(api, code, "500.00", f"2025-06-0{day}")
    first = api.get(f"{M}/{code}/passbook.pdf", role="clerk", params={"continue": "true"})
    is_pdf(first)
    api.post(f"{M}/{code}/passbook/printed", {"book": f"{code}-1", "through": 3}, role="clerk")
    before = book_state(api, code)

    is_problem(api.post(f"{M}/{code}/passbook/duplicate", {"because": "lost"}, role="clerk"),
               403)
    is_problem(api.post(f"{M}/{code}/passbook/duplicate", {"because": "stolen"}), 422)
    assert book_state(api, code) == before
    made = api.post(f"{M}/{code}/passbook/duplicate", {"because": "lost"})
    assert made.status_code == 201, made.text
    assert made.json() == before | {"book": f"{code}-1-D1", "duplicate": True,
                                    "printed_lines": 0, "next_page": 1, "next_line": 1,
                                    "unprinted_lines": 3}

    run = api.get(f"{M}/{code}/passbook.pdf", role="clerk", params={"continue": "true"})
    text = pdf_text(is_pdf(run))
    assert (run.headers["Coop-Passbook-Book"], run.headers["Coop-Passbook-Through"]) == (
        f"{code}-1-D1", "3")
    assert text.count("DUPLICATE") == 2  # the front page and page 1
    assert "Balance today" not in text  # a print into her book has no statement's box
    assert line_dates(run.content) == ["03-06-2025", "04-06-2025", "05-06-2025"]

    (scanned,) = qr_codes(first.content)  # the lost book's front page
    assert scanned.startswith(f"COOP-PB1|{code}|{code}-1|")
    old = api.post(f"{BASE}/passbook-checks", {"code": scanned})
    assert old.status_code == 200 and old.json()["genuine"] is False
    assert old.json()["book_status"] == "lost"


# -- what a member sees -------------------------------------------------------------------------


def test_a_member_sees_her_own_papers_and_nobody_elses(api: Api) -> None:
    settings(api, loan_min_membership_days=0)
    product(api)
    mine = api.member_codes["member"]
    other = register(api)
    for code in (mine, other):
        deposit(api, code, "1000.00", "2025-06-10")
    loans = {}
    for code in (mine, other):
        applied = api.post(f"{BASE}/loans", {"member_code": code, "product": "WEEKLY",
                                             "principal": "2000.00"}, role="clerk")
        assert applied.status_code == 201, applied.text
        loans[code] = applied.json()["id"]

    text = pdf_text(is_pdf(api.get(f"{M}/{mine}/passbook.pdf", role="member")))
    assert mine in text and "10-06-2025" in text and "1,000.00" in text
    assert book_state(api, mine, role="member")["book"] == f"{mine}-1"
    preferences = api.get(f"{M}/{mine}/preferences", role="member")
    assert preferences.status_code == 200 and preferences.json() == {
        "code": mine, "language": None, "document_language": "en",
        "known_as_on_passbook": False}
    card = pdf_text(is_pdf(api.get(f"{BASE}/loans/{loans[mine]}/card.pdf", role="member")))
    assert "Loan card" in card and mine in card and "2,000.00" in card

    for path in (f"{M}/{other}/passbook.pdf", f"{M}/{other}/passbook",
                 f"{M}/{other}/preferences", f"{BASE}/loans/{loans[other]}/card.pdf"):
        is_problem(api.get(path, role="member"), 404)
    is_problem(api.get(f"{M}/{other}/passbook.pdf", role="member",
                       params={"continue": "true"}), 404)
    is_problem(api.post(f"{M}/{mine}/passbook/printed", {"book": f"{mine}-1", "through": 1},
                        role="member"), 403)
    is_problem(api.post(f"{M}/{mine}/passbook/duplicate", {"because": "lost"}, role="member"),
               403)
    put = api.client.put(f"{M}/{mine}/preferences", json={"language": "hi"},
                         headers=api.headers("member"))
    is_problem(put, 403)
    assert book_state(api, mine)["printed_lines"] == 0
    assert api.get(f"{M}/{mine}/preferences").json()["language"] is None


# -- her language and her known-as name ---------------------------------------------------------


def put_preferences(api: Api, code: str, body: dict[str, Any]) -> httpx.Response:
    return api.client.put(f"{M}/{code}/preferences", json=body, headers=api.headers("clerk"))


def test_her_language_and_the_societys(api: Api) -> None:
    code = register(api)
    deposit(api, code, "750.00", "2025-06-12")
    chosen = put_preferences(api, code, {"language": "kn"})
    assert chosen.status_code == 200, chosen.text
    expected = {"code": code, "language": "kn", "document_language": "kn",
                "known_as_on_passbook": False}
    assert chosen.json() == expected
    assert api.get(f"{M}/{code}/preferences", role="clerk").json() == expected
    kannada = is_pdf(api.get(f"{M}/{code}/passbook.pdf", role="clerk"))
    assert "NotoSansKannada" in pdf_fonts(kannada)
    assert "Savings passbook" not in pdf_text(kannada)

    is_problem(put_preferences(api, code, {"language": "fr"}), 422)
    is_problem(put_preferences(api, code, {"language": "kn", "colour": "red"}), 422)
    is_problem(put_preferences(api, code, {"known_as_on_passbook": "perhaps"}), 422)
    assert api.get(f"{M}/{code}/preferences").json() == expected
    assert put_preferences(api, code, {}).json() == expected

    back = put_preferences(api, code, {"language": None})
    assert back.status_code == 200
    assert back.json() == expected | {"language": None, "document_language": "en"}
    english = pdf_text(is_pdf(api.get(f"{M}/{code}/passbook.pdf", role="clerk")))
    assert "Savings passbook" in english and "750.00" in english
    settings(api, language="es")
    assert api.get(f"{M}/{code}/preferences").json()["document_language"] == "es"
    spanish = pdf_text(is_pdf(api.get(f"{M}/{code}/passbook.pdf", role="clerk")))
    assert "Libreta de ahorro" in spanish and "Saldo" in spanish
    is_problem(put_preferences(api, "M-ZZZZZZ", {"language": "kn"}), 404)


def test_her_known_as_name_is_printed_only_when_she_asks(api: Api) -> None:
    quiet = register(api, known_as="Parvathi Devaraj")
    deposit(api, quiet, "100.00")
    for mode in ({}, {"continue": "true"}):
        text = pdf_text(is_pdf(api.get(f"{M}/{quiet}/passbook.pdf", role="clerk",
                                       params=mode)))
        assert "Parvathi" not in text and "Known as" not in text
    assert access_log(api, quiet) == []

    asked = put_preferences(api, quiet, {"known_as_on_passbook": True})
    assert asked.json()["known_as_on_passbook"] is True and asked.json()["language"] is None
    front = pdf_text(is_pdf(api.get(f"{M}/{quiet}/passbook.pdf", role="clerk"))).split("\f")[0]
    assert "Known as: Parvathi Devaraj" in front
    assert access_log(api, quiet) == [("clerk1", "known_as", "passbook printed")]

    proud = register(api, known_as="Lakshmi Amma", known_as_on_passbook=True)
    assert api.get(f"{M}/{proud}/preferences").json()["known_as_on_passbook"] is True
    front = pdf_text(is_pdf(api.get(f"{M}/{proud}/passbook.pdf"))).split("\f")[0]
    assert "Known as: Lakshmi Amma" in front and "Parvathi" not in front
    assert access_log(api, proud) == [("admin", "known_as", "passbook printed")]

    assert put_preferences(api, quiet, {"known_as_on_passbook": False}).status_code == 200
    text = pdf_text(is_pdf(api.get(f"{M}/{quiet}/passbook.pdf", role="clerk")))
    assert "Parvathi" not in text
    assert len(access_log(api, quiet)) == 1


# -- checking a printed page --------------------------------------------------------------------


def test_a_code_read_off_a_printed_page_checks_out(api: Api) -> None:
    """The page shows her number, the book and the page in words she can read, and no hash:
    the chain head is in the QR code, which a board member's phone scans."""
    code = register(api)
    deposit(api, code, "4321.00", "2025-06-15")
    pdf = is_pdf(api.get(f"{M}/{code}/passbook.pdf", role="clerk"))
    text = pdf_text(pdf)
    where = re.search(rf"({re.escape(code)})\s+({re.escape(code)}-\d+)\s+Page 1", text)
    assert where is not None and re.search(r"Printed 30-06-2025\s*$", text, re.M)
    # the whole passbook is a statement: her balance today up front, in large type
    assert re.search(r"Balance today \(30-06-2025\)\s+4,321\.00", text), text
    head = api.get(f"{BASE}/ledger/verify").json()["chain_head"]
    assert head["hash"][:16] not in text and "2000:" not in text and "#" not in text
    scanned = f"COOP-PB1|{where[1]}|{where[2]}|{head['seq']}|{head['hash'][:16]}"
    assert qr_codes(pdf) == [scanned]  # on the front page as on every page
    seq, digest = head["seq"], head["hash"][:16]
    for role in ("admin", "board", "auditor"):
        checked = api.post(f"{BASE}/passbook-checks", {"code": scanned}, role=role)
        assert checked.status_code == 200, checked.text
        assert checked.json() == {"genuine": True, "member_code": code,
                                  "book": f"{code}-1", "book_status": None, "head_seq": seq,
                                  "problems": []}
    forged = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    changed = api.post(f"{BASE}/passbook-checks",
                       {"code": f"COOP-PB1|{code}|{code}-1|{seq}|{forged}"}).json()
    assert changed["genuine"] is False and len(changed["problems"]) == 1
    assert str(seq) in changed["problems"][0]
    nobody = api.post(f"{BASE}/passbook-checks",
                      {"code": f"COOP-PB1|M-ZZZZZZ|M-ZZZZZZ-1|{seq}|{digest}"}).json()
    assert nobody["genuine"] is False and nobody["problems"]
    for garbage in ("hello", "COOP-PB1|a|b|c", f"COOP-PB1|{code}|{code}-1|x|{digest}",
                    f"COOP-PB2|{code}|{code}-1|{seq}|{digest}"):
        is_problem(api.post(f"{BASE}/passbook-checks", {"code": garbage}), 422)
    is_problem(api.post(f"{BASE}/passbook-checks", {}), 422)
    is_problem(api.post(f"{BASE}/passbook-checks", {"code": scanned}, role="clerk"), 403)
    is_problem(api.post(f"{BASE}/passbook-checks", {"code": scanned}, role="member"), 403)


# -- every document in every language -----------------------------------------------------------


WORDS = {"en": ("Share certificate", "Loan card"),
         "es": ("Certificado de aportaciones", "Tarjeta de préstamo"),
         "sw": ("Cheti cha hisa", "Kadi ya mkopo")}
SCRIPTS = {"kn": "NotoSansKannada", "bn": "NotoSansBengali", "hi": "NotoSansDevanagari"}


def test_documents_render_in_every_language(api: Api) -> None:
    settings(api, loan_min_membership_days=0)
    product(api)
    code = register(api)
    deposit(api, code, "5000.00")
    assert api.post(f"{M}/{code}/shares", {"count": 3}, role="clerk").status_code == 201
    applied = api.post(f"{BASE}/loans", {"member_code": code, "product": "WEEKLY",
                                         "principal": "1500.00"}, role="clerk")
    assert applied.status_code == 201, applied.text
    loan_id = applied.json()["id"]
    seen: set[bytes] = set()
    for language in ("en", "es", "sw", "kn", "bn", "hi"):
        certificate = is_pdf(api.get(f"{M}/{code}/share-certificate.pdf", role="clerk",
                                     params={"language": language}))
        card = is_pdf(api.get(f"{BASE}/loans/{loan_id}/card.pdf", role="clerk",
                              params={"language": language}))
        seen |= {certificate, card}
        if language in WORDS:
            title, heading = WORDS[language]
            assert title in pdf_text(certificate) and code in pdf_text(certificate)
            assert heading in pdf_text(card) and "1,500.00" in pdf_text(card)
        for document in (certificate, card):  # every font embedded, Latin ones too
            fonts = embedded_fonts(document)
            assert all(fonts.values()), fonts
            assert any(name.endswith("NotoSans-Regular") for name in fonts), fonts
            assert not any("Helvetica" in name for name in fonts), fonts
            if language in SCRIPTS:
                assert any(SCRIPTS[language] in name for name in fonts), fonts
                assert all(other not in name for name in fonts for other in SCRIPTS.values()
                           if other != SCRIPTS[language])
    assert len(seen) == 12

    # Their codes check out too, naming her certificate and her own loan only.
    (scanned,) = qr_codes(is_pdf(api.get(f"{M}/{code}/share-certificate.pdf",
                                              role="clerk")))
    prefix, member, paper_name, seq, digest = scanned.split("|")
    assert (prefix, member, paper_name) == ("COOP-PB1", code, "shares")
    for paper, genuine in (("shares", True), (f"loan-{loan_id}", True),
                           (f"loan-{loan_id + 1}", False)):
        checked = api.post(f"{BASE}/passbook-checks",
                           {"code": f"COOP-PB1|{code}|{paper}|{seq}|{digest}"})
        assert checked.status_code == 200 and checked.json()["genuine"] is genuine, paper
    is_problem(api.get(f"{M}/{code}/share-certificate.pdf", params={"language": "fr"}), 422)
    is_problem(api.get(f"{BASE}/loans/{loan_id}/card.pdf", params={"language": "xx"}), 422)
