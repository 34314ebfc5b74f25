"""A member's own pages at the counter (issue 18): in her language (the society's if she chose
none), her balance today in a box, her share count with the society's digit grouping, and her
papers (passbook, share certificate, loan cards, a dividend statement for each year she was a
member in) as PDFs in her language, hers only. The clerk's view of her page stays in the
society's language."""

from __future__ import annotations

import re

from tests.api.conftest import PASSWORD, Api
from tests.api.test_counter_pages import Counter, balance, counter  # noqa: F401  (fixture)
from tests.api.test_passbooks_api import embedded_fonts
from tests.helpers import qr_codes

C = "/counter"
BASE = "/api/v1"


def _member_with_a_year(api: Api) -> str:
    """A member since 01-04-2024 with 1,23,456 shares, a login "asha1", and the dividend of
    fiscal year 2024 declared."""
    api.clock.instant = api.clock.now()
    assert api.client.patch(f"{BASE}/society", json={"settings": {
        "counter_max_amount": "5000000.00"}}, headers=api.headers("admin")).status_code == 200
    code = api.post(f"{BASE}/members", {"joined_on": "2024-04-01"}).json()["code"]
    for count in (100_000, 23_456):  # a purchase is at most 1,00,000 shares
        bought = api.post(f"{BASE}/members/{code}/shares", {
            "count": count, "value_date": "2024-04-01", "confirm_large_amount": True},
            role="clerk")
        assert bought.status_code == 201, bought.text
    assert api.post(f"{BASE}/ledger/entries", {
        "value_date": "2024-12-01", "narration": "Grant", "postings": [
            {"account": "1000", "debit": "500000.00"},
            {"account": "4200", "credit": "500000.00"}]}).status_code == 201
    assert api.post(f"{BASE}/years/2024/close", {}).status_code == 201
    declared = api.post(f"{BASE}/dividends/2024/declaration", {
        "dividend_rate": "10", "resolution": {"number": "AGM-2025/1", "date": "2025-06-28"}},
        role="board")
    assert declared.status_code == 201, declared.text
    assert declared.json()["status"] == "declared", declared.text  # one approval needed
    user = api.post(f"{BASE}/users", {"username": "asha1", "password": PASSWORD,
                                      "role": "member", "member_code": code})
    assert user.status_code == 201, user.text
    return code


def _language(api: Api, code: str, language: str | None) -> None:
    chosen = api.client.put(f"{BASE}/members/{code}/preferences",
                            json={"language": language}, headers=api.headers("clerk"))
    assert chosen.status_code == 200, chosen.text


def _pdf(response: object) -> bytes:
    assert getattr(response, "status_code", None) == 200, getattr(response, "text", "")
    content: bytes = response.content  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/pdf")  # type: ignore[attr-defined]
    assert content.startswith(b"%PDF")
    return content


def test_her_own_pages_are_in_her_language_with_her_papers(
        api: Api, counter: Counter) -> None:  # noqa: F811  (the fixture)
    code = _member_with_a_year(api)
    _language(api, code, "kn")
    asha = counter("asha1")
    page = asha.get(f"{C}/members/{code}")
    assert page.status_code == 200
    assert '<html lang="kn">' in page.text
    assert "ಇಂದಿನ ಉಳಿತಾಯ" in page.text and "Savings today" not in page.text
    assert 'id="balance-today"' in page.text and balance(page.text) == "₹0.00"
    assert re.search(r'<strong id="shares">1,23,456 · ₹12,34,560\.00</strong>', page.text)
    assert "ನನ್ನ ದಾಖಲೆಗಳು" in page.text  # "My papers"
    links = dict(re.findall(r'<a id="([a-z0-9-]+)" href="([^"]+\.pdf[^"]*)"', page.text))
    assert links == {
        "my-passbook": f"{C}/members/{code}/passbook.pdf?whole=true",
        "share-certificate": f"{C}/members/{code}/share-certificate.pdf",
        "dividend-2024": f"{C}/members/{code}/dividends/2024/statement.pdf"}
    for link in links.values():
        pdf = _pdf(asha.get(link))
        fonts = embedded_fonts(pdf)
        assert any("NotoSansKannada" in name for name in fonts) and all(fonts.values())
    certificate = _pdf(asha.get(links["share-certificate"]))
    assert qr_codes(certificate)[0].startswith(f"COOP-PB1|{code}|shares|")

    # her refusals are in her words too, and another's papers are not hers
    other = api.member_codes["member"]
    for path in (f"{C}/members/{other}", f"{C}/members/{other}/share-certificate.pdf",
                 f"{C}/members/{other}/dividends/2024/statement.pdf"):
        refused = asha.get(path)
        assert refused.status_code == 404 and '<html lang="kn">' in refused.text, path
    assert asha.get(f"{C}/members/{code}/dividends/2023/statement.pdf").status_code == 404

    # the clerk who serves her reads the society's language, and may print them for her
    clerk = counter("clerk1")
    seen = clerk.get(f"{C}/members/{code}")
    assert '<html lang="en">' in seen.text and "Savings today" in seen.text
    assert "Her papers" in seen.text and 'id="my-passbook"' not in seen.text
    _pdf(clerk.get(f"{C}/members/{code}/share-certificate.pdf"))

    # with no language of her own, her pages follow the society's
    _language(api, code, None)
    again = counter("asha1").get(f"{C}/members/{code}")
    assert '<html lang="en">' in again.text and "My papers" in again.text


def test_a_year_before_she_joined_offers_no_statement(
        api: Api, counter: Counter) -> None:  # noqa: F811  (the fixture)
    _member_with_a_year(api)
    newcomer = api.member_codes["member"]  # joined after fiscal year 2024 ended
    page = counter("member1").get(f"{C}/members/{newcomer}")
    assert page.status_code == 200 and 'id="share-certificate"' in page.text
    assert 'id="dividend-2024"' not in page.text
