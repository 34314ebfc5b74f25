"""The audit trail on the counter (GET /counter/audit-trail): the same lines and filters as
the API's, in the society's time, 50 a page with a link to the older ones; an auditor sees
no free-text detail; a bad date is said in words (422) and nothing is listed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from coop.api.counter.audit_trail import WORDS, action_words
from tests.api.conftest import Api
from tests.api.test_audit_events_api import _record, _trail
from tests.api.test_counter_pages import Counter, counter  # noqa: F401 (fixture)

PAGE = "/counter/audit-trail"


def _rows(html: str) -> list[str]:
    return [re.sub(r"<wbr>", "", row) for row in re.findall(r"<code>(.*?)</code>", html)]


def test_the_admin_filters_the_trail_and_reads_it_in_the_societys_time(
        api: Api, counter: Counter) -> None:  # noqa: F811
    _trail(api)
    admin = counter("admin")
    everything = admin.get(PAGE)
    assert everything.status_code == 200
    # the counter's own login is no change, so the trail holds only the five lines
    assert _rows(everything.text)[:2] == ["POST /api/v1/members/M-BBBBB/shares",
                                          "POST /counter/members/M-BBBBB/deposit"]
    assert re.search(r"02-05-2025</span> <span[^>]*>14:30", everything.text)  # 09:00 UTC in India
    assert "Lakshmi Devi" in everything.text  # the admin reads the free-text note
    clerks = admin.get(PAGE, params={"user": "clerk1", "from": "2025-05-01",
                                     "to": "2025-05-01"})
    assert _rows(clerks.text) == ["POST /api/v1/members/M-AAAAA/withdrawals",
                                  "POST /api/v1/members/M-AAAAA/deposits"]
    none = admin.get(PAGE, params={"action": "DELETE"})
    assert 'id="trail-empty"' in none.text


def test_the_auditor_sees_no_free_text_and_other_roles_none_of_it(
        api: Api, counter: Counter) -> None:  # noqa: F811
    _trail(api)
    page = counter("auditor1").get(PAGE)
    assert page.status_code == 200 and len(_rows(page.text)) == 5
    assert "Lakshmi" not in page.text and "98450" not in page.text
    assert 'href="/counter/audit-trail"' in page.text  # in her menu
    assert counter("clerk1").get(PAGE).status_code == 403
    assert counter("board1").get(PAGE).status_code == 403


def test_fifty_lines_a_page_and_a_link_to_the_older_ones(api: Api, counter: Counter) -> None:  # noqa: F811
    for n in range(53):
        _record(api, datetime(2025, 5, 1, 9, n, tzinfo=UTC), "clerk1", "clerk",
                f"POST /api/v1/members/M-{n:05d}/deposits")
    auditor = counter("auditor1")
    first = auditor.get(PAGE, params={"user": "clerk1"})
    assert len(_rows(first.text)) == 50
    older = re.search(r'href="([^"]+)" id="older"', first.text)
    assert older is not None and "user=clerk1" in older.group(1)
    second = auditor.get(older.group(1).replace("&amp;", "&"))
    assert _rows(second.text) == [f"POST /api/v1/members/M-{n:05d}/deposits"
                                  for n in (2, 1, 0)]
    assert 'id="older"' not in second.text and 'id="newest"' in second.text


def test_a_bad_date_is_said_in_words(api: Api, counter: Counter) -> None:  # noqa: F811
    _trail(api)
    auditor = counter("auditor1")
    bad = auditor.get(PAGE, params={"from": "01/05/2025"})
    assert bad.status_code == 422
    assert "A date is written YYYY-MM-DD." in bad.text and _rows(bad.text) == []
    backwards = auditor.get(PAGE, params={"from": "2025-05-02", "to": "2025-05-01"})
    assert backwards.status_code == 422
    assert "is before the first day" in backwards.text
    long = auditor.get(PAGE, params={"user": "x" * 40})
    assert long.status_code == 422 and "At most 32 characters." in long.text
    assert auditor.get(PAGE, params={"cursor": "abc"}).status_code == 422


def test_what_was_done_is_said_in_words_above_its_path(api: Api, counter: Counter) -> None:  # noqa: F811
    _trail(api)
    page = counter("admin").get(PAGE).text
    assert re.search(r"<strong>Deposit</strong><br><code>POST /<wbr>counter/<wbr>", page)
    assert "<strong>Shares bought</strong>" in page and "<strong>Withdrawal</strong>" in page
    assert action_words("POST /api/v1/loans/7/repayments") == "Loan repayment"
    assert action_words("POST /counter/loans/7/repayment") == "Loan repayment"
    assert action_words("POST /api/v1/loans/7/reschedules/2/votes") == "Board vote"
    assert action_words("POST /api/v1/ledger/entries") is None  # only the path is shown


def test_every_pattern_of_words_names_a_route_of_the_app(api: Api) -> None:
    """Words for an action no route answers would never show: each pattern matches at least
    one of the app's own paths (with its parameters filled in)."""
    paths = [f"{method} " + re.sub(r"\{(\w+):int\}", "7", re.sub(r"\{(\w+):str\}", "M-AAAAA",
                                                                    route.path))
             for route in api.app.routes for method in getattr(route, "methods", ())]
    unused = [pattern.pattern for pattern, _ in WORDS
              if not any(pattern.search(path) for path in paths)]
    assert not unused
