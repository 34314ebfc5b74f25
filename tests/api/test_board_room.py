"""The board's room through HTTP (issue 18): votes on the board's page (her own vote, who voted
how, the notes to the board only, the applicant's repayment record, a refusal said at the top
of the page), the books with the portfolio at risk and the arrears open to the board, and the
board's meeting pack as a counter page and as a PDF whose PAR30 chart is measured bar by bar.

The loans are those of tests/integration/test_loans_service.py, worked out by hand there:
PAR30 is 57.88 % on 30 June 2025 and 43.17 % on 31 March 2025.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from coop.ledger.verify import verify
from coop.loans import par30_by_month
from coop.society import update_settings
from tests.api.conftest import TEST_VAULT, Api
from tests.api.loan_helpers import make_board
from tests.api.test_counter_pages import Counter, counter  # noqa: F401 (fixture)
from tests.helpers import pdf_text
from tests.integration.test_loans_service import (
    AS_OF,
    INSTALLMENT,
    Desk,
    build_portfolio,
    open_desk,
)

C, BASE = "/counter", "/api/v1"
D = date
NOTE = "Paid April ten days late: ask why"


def portfolio_of_twenty(api: Api) -> dict[str, int]:
    desk = open_desk(api.db, api.clock, TEST_VAULT, start=D(2023, 1, 2))
    loans = build_portfolio(desk)
    assert api.clock.today() == AS_OF
    return loans


# -- the meeting pack -------------------------------------------------------------------------


def bars_of(image: Image.Image, *, wider_than: int) -> list[int]:
    """The heights of the solid dark rectangles standing on one line, wider than
    `wider_than` pixels, left to right. The line is the row most long dark runs end on (the
    chart's baseline); each column's height is its dark run up from that row, and columns
    side by side as tall, give or take a pixel of anti-aliasing, are one bar (letters and
    table rules never make such a block)."""
    gray = image.convert("L")
    width, height = gray.size
    pixels = gray.load()

    def dark(x: int, y: int) -> bool:
        return bool(pixels[x, y] < 100)

    ends: dict[int, int] = {}
    for x in range(width):
        run = 0
        for y in range(height):
            run = run + 1 if dark(x, y) else 0
            if run == 20:
                while y + 1 < height and dark(x, y + 1):
                    y += 1
                ends[y] = ends.get(y, 0) + 1
                break
    baseline = max(ends, key=lambda y: ends[y])
    tall = []
    for x in range(width):
        y = baseline
        while y >= 0 and dark(x, y):
            y -= 1
        tall.append(baseline - y)
    bars, start = [], 0
    for x in range(1, width + 1):
        if x == width or abs(tall[x] - tall[start]) > 1:
            if tall[start] > 2 and x - start > wider_than:
                bars.append(sorted(tall[start:x])[(x - start) // 2])
            start = x
    return bars


def test_the_board_pack_pdf_has_the_par30_chart(api: Api) -> None:
    loans = portfolio_of_twenty(api)
    for role in ("admin", "board"):
        response = api.get(f"{BASE}/reports/board-pack.pdf", role=role,
                           params={"month": "2025-06"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
    for role in ("clerk", "auditor", "member"):
        refused = api.get(f"{BASE}/reports/board-pack.pdf", role=role,
                          params={"month": "2025-06"})
        assert refused.status_code == 403
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "board-pack-2025-06.pdf").write_bytes(response.content)
    text = pdf_text(response.content)
    assert "Board meeting pack, 06-2025" in text
    assert "PAR30 over twelve months, 07-2024 to 06-2025" in text
    assert "57.88 %" in text  # the table of 30 June
    assert "57.9" in text and "43.2" in text  # over the bars of June and March
    # the one loan lent in June (on the 10th), approved by both votes
    assert f"Loan application {loans['first due after as_of']} 2 0 approved" in text
    for loan in ("past maturity 777", "1 day 1"):  # arrears: the longest and the shortest
        assert loan.split()[-1] in text

    # The chart, measured: render the page that has it and find the bars. Scale 0 to 100
    # (the largest is 57.88); the plot is 62 mm - (2 x 9 + 12) - (9 + 7) points tall.
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm is missing: install Debian's poppler-utils")
    pages = [pdf_text_page(response.content, n) for n in (1, 2, 3)]
    on = next(n for n, page in enumerate(pages, 1) if "PAR30 over twelve months" in page)
    png = subprocess.run(["pdftoppm", "-r", "72", "-f", str(on), "-l", str(on), "-png", "-"],
                         input=response.content, capture_output=True, check=True).stdout
    image = Image.open(io.BytesIO(png))
    plot = 62 / 25.4 * 72 - 30 - 16
    months = api.db.read(lambda s: par30_by_month(s, MONTH_ENDS))
    expected = [round(float(m.par30) / 100 * plot) for m in months if m.par30 > 3]
    found = bars_of(image, wider_than=15)
    assert len(found) == len(expected), (found, expected)
    assert all(abs(a - b) <= 2 for a, b in zip(found, expected, strict=True)), (found, expected)


MONTH_ENDS = [("2024-07", D(2024, 7, 31)), ("2024-08", D(2024, 8, 31)),
              ("2024-09", D(2024, 9, 30)), ("2024-10", D(2024, 10, 31)),
              ("2024-11", D(2024, 11, 30)), ("2024-12", D(2024, 12, 31)),
              ("2025-01", D(2025, 1, 31)), ("2025-02", D(2025, 2, 28)),
              ("2025-03", D(2025, 3, 31)), ("2025-04", D(2025, 4, 30)),
              ("2025-05", D(2025, 5, 31)), ("2025-06", D(2025, 6, 30))]


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "board"


def pdf_text_page(content: bytes, number: int) -> str:
    result = subprocess.run(["pdftotext", "-f", str(number), "-l", str(number), "-layout",
                             "-", "-"], input=content, capture_output=True, check=False)
    return result.stdout.decode()


@pytest.mark.parametrize("month", ["", "2025", "2025-13", "2025-07", "June", "2025-06-01"])
def test_a_bad_month_is_a_problem_naming_it(api: Api, month: str) -> None:
    response = api.get(f"{BASE}/reports/board-pack.pdf", role="board", params={"month": month})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] and problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["month"]
    missing = api.get(f"{BASE}/reports/board-pack.pdf", role="admin")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "month"


def test_the_board_pack_page_draws_the_chart_as_inline_svg(
        api: Api, counter: Counter) -> None:  # noqa: F811
    portfolio_of_twenty(api)
    board = counter("board1")
    page = board.get(f"{C}/board-pack", params={"month": "2025-06"})
    assert page.status_code == 200, page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "script-src" not in csp
    html = page.text
    assert "<script" not in html and " style=" not in html and "<style" not in html
    svg = re.search(r'<svg class="chart" id="par30-chart".*?</svg>', html, re.S)
    assert svg, html
    assert len(re.findall(r'<rect class="bar"', svg.group())) == 12
    assert "<title>2025-06: 57.88 %</title>" in svg.group()
    assert "<title>2025-03: 43.17 %</title>" in svg.group()
    assert 'id="par30">57.88 %<' in html and 'id="arrears-list"' in html
    assert html.count("<tr><td>") > 13  # the thirteen loans past due, and more tables
    assert 'href="/counter/board-pack.pdf?month=2025-06"' in html
    pdf = board.get(f"{C}/board-pack.pdf", params={"month": "2025-06"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # the business date's month by default, to date
    today = board.get(f"{C}/board-pack")
    assert today.status_code == 200 and 'value="2025-06"' in today.text
    wrong = board.get(f"{C}/board-pack", params={"month": "2025-13"})
    assert wrong.status_code == 422 and 'id="month-error"' in wrong.text
    assert counter("clerk1").get(f"{C}/board-pack").status_code == 403
    assert counter("admin").get(f"{C}/board-pack").status_code == 200


# -- the books: portfolio at risk and arrears ------------------------------------------------


def test_the_board_sees_the_portfolio_at_risk_and_the_arrears(
        api: Api, counter: Counter) -> None:  # noqa: F811
    loans = portfolio_of_twenty(api)
    board = counter("board1")
    books = board.get(f"{C}/audit")
    assert books.status_code == 200, books.text
    html = books.text
    assert 'id="par30">57.88 %<' in html
    rows = re.findall(r"<tr><td>[^<]*</td><td>(\d+)</td>\s*<td class=\"code\">", html)
    assert [int(r) for r in rows][:2] == [loans["past maturity"], loans["366 days"]]
    assert len(rows) == 13
    assert 'id="verify"' not in html and 'id="verify-result"' not in html  # not the board's
    assert 'href="/counter/audit"' in html  # in her menu
    earlier = board.get(f"{C}/audit", params={"as_of": "2025-03-31"})
    assert 'id="par30">43.17 %<' in earlier.text
    auditor = counter("auditor1").get(f"{C}/audit")
    assert 'id="verify"' in auditor.text and 'id="arrears-list"' in auditor.text
    assert counter("clerk1").get(f"{C}/audit").status_code == 403


# -- votes ------------------------------------------------------------------------------------


def application_with_a_record(api: Api) -> tuple[Desk, str, int, int]:
    """Asha's first loan (12 monthly installments from 10 February 2025): two paid on time,
    April's ten days late, nothing since; on 30 June she applies again."""
    desk = open_desk(api.db, api.clock, TEST_VAULT, start=D(2025, 1, 10),
                     loan_max_open_loans=2)
    asha = desk.register()
    first = desk.lend(asha)
    for day in (D(2025, 2, 10), D(2025, 3, 10), D(2025, 4, 20)):
        desk.at(day).repay(first, INSTALLMENT)
    desk.at(AS_OF)
    api.db.write(lambda s: update_settings(s, {"loan_approvals_required": 3}))
    return desk, asha, first, desk.apply(asha, 60_000)


def test_votes_on_a_card_her_own_who_voted_how_and_notes_to_the_board_only(
        api: Api, counter: Counter) -> None:  # noqa: F811
    _, asha, first, loan = application_with_a_record(api)
    make_board(api, seats=3)
    card = f"application-{loan}"

    board2 = counter("board2")
    before = board2.get(f"{C}/board").text
    record = re.search(rf'<ul class="record" id="{card}-record">(.*?)</ul>', before, re.S)
    assert record, before
    assert re.sub(r"\s+", " ", record.group(1)).strip() == (
        f"<li>Loan {first}, ₹12,000.00, active: installments 2 on time, 1 late, 2 overdue "
        "now; at most 51 days late.</li>")
    voted = board2.post(f"{C}/loans/{loan}/vote", data={
        "csrf": csrf(before), "decision": "approve", "note": NOTE}, follow_redirects=False)
    assert voted.status_code == 303, voted.text
    after = board2.get(voted.headers["location"]).text
    assert f"Loan {loan}: 1 of 3 approvals; pending." in after
    mine = re.search(rf'id="{card}-mine">(.*?)</p>', after, re.S)
    assert mine and "You approved this." in mine.group(1) and NOTE in mine.group(1)
    assert f'action="/counter/loans/{loan}/vote"' in after  # the card, without a vote form
    assert f'id="{card}-note"' not in after

    board3 = counter("board3")
    seen = board3.get(f"{C}/board").text
    votes = re.search(rf'<ul class="votes" id="{card}-votes">.*?</ul>', seen, re.S)
    assert votes and "board2" in votes.group() and NOTE in votes.group()
    assert f'id="{card}-note"' in seen  # she has not voted: her form

    admin = counter("admin").get(f"{C}/board").text
    assert "board2" in admin and NOTE not in admin and f'id="{card}-note"' not in admin
    assert counter("clerk1").get(f"{C}/board").status_code == 403
    assert NOTE not in counter("clerk1").get(f"{C}/members/{asha}").text
    for role in ("clerk", "member"):
        assert api.get(f"{BASE}/loans/{loan}/votes", role=role).status_code == 403
    assert [v["note"] for v in api.get(f"{BASE}/loans/{loan}/votes", role="board").json()[
        "items"]] == [NOTE]
    for role in ("admin", "auditor"):  # they see who voted how, not the board's notes
        seen = api.get(f"{BASE}/loans/{loan}/votes", role=role).json()["items"]
        assert [(v["voter"], v["decision"], v["note"]) for v in seen] == [
            ("board2", "approve", None)]


def test_a_refused_vote_is_said_at_the_top_of_the_page(
        api: Api, counter: Counter) -> None:  # noqa: F811
    _, _, _, loan = application_with_a_record(api)
    make_board(api, seats=3)
    board3 = counter("board3")
    stale = board3.get(f"{C}/board").text
    form = {"csrf": csrf(stale), "decision": "reject", "note": ""}
    assert board3.post(f"{C}/loans/{loan}/vote", data=form,
                       follow_redirects=False).status_code == 303
    again = board3.post(f"{C}/loans/{loan}/vote", data=form)  # the page she scrolled
    assert again.status_code == 409
    html = again.text
    top = html.index('id="refusal"')
    assert top < html.index(f'id="application-{loan}"')  # above every card
    refusal = re.search(r'id="refusal">(.*?)</p>', html, re.S)
    assert refusal and f"Your vote on loan {loan} was not recorded" in refusal.group(1)
    assert "has voted on this already" in refusal.group(1)
    assert f'href="#application-{loan}"' in refusal.group(1)
    assert 'role="alert"' in html[html.rindex("<p", 0, top):top]
    assert api.db.read(verify).ok


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found
    return found.group(1)


def test_a_board_member_does_not_vote_on_her_own_loan(
        api: Api, counter: Counter) -> None:  # noqa: F811
    desk = open_desk(api.db, api.clock, TEST_VAULT, start=AS_OF)
    code = api.member_codes["board-member"]
    assert api.post(f"{BASE}/members/{code}/deposits", {"amount": "5000.00"},
                    role="clerk").status_code == 201
    own = desk.apply(code, 100_000)
    page = counter("board1").get(f"{C}/board").text
    assert "You do not vote on this loan: it is your own." in page
    assert f'id="application-{own}-note"' not in page
    assert f'id="application-{own}-note"' in counter("board2" if make_board(api, seats=2)
                                                     else "").get(f"{C}/board").text


@pytest.mark.parametrize("language", ["kn", "hi", "bn", "es", "sw"])
def test_the_board_pack_prints_in_the_societys_language(api: Api, language: str) -> None:
    portfolio_of_twenty(api)
    api.db.write(lambda s: update_settings(s, {"language": language}))
    response = api.get(f"{BASE}/reports/board-pack.pdf", role="board",
                       params={"month": "2025-06"})
    assert response.status_code == 200, response.text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"board-pack-2025-06-{language}.pdf").write_bytes(response.content)
    if language in ("es", "sw"):  # Latin script: the words can be read back
        words = {"es": "Informe para la reunión del consejo, 06-2025",
                 "sw": "Taarifa ya kikao cha bodi, 06-2025"}[language]
        assert words in pdf_text(response.content)
    png = subprocess.run(["pdftoppm", "-r", "72", "-f", "2", "-l", "2", "-png", "-"],
                         input=response.content, capture_output=True, check=True).stdout
    assert len(bars_of(Image.open(io.BytesIO(png)), wider_than=15)) == 12  # the chart
