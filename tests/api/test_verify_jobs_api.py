"""Verify as a background job with its progress, and as a stream of progress lines (issue 20):
POST /ledger/verify-jobs, GET /ledger/verify-jobs/{id}, GET /ledger/verify with
`Accept: application/x-ndjson`; and the counter's "Verify the books", which starts a job and
follows it on a page that reloads itself."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from coop.api import verify_jobs
from coop.ledger import verify as ledger_verify
from tests.api.conftest import Api
from tests.api.test_counter_pages import Counter, counter  # noqa: F401 (fixture)
from tests.integration.test_tamper import tamper

BASE = "/api/v1"
JOBS = f"{BASE}/ledger/verify-jobs"
VERIFY = f"{BASE}/ledger/verify"
C = "/counter"
WAIT_SECONDS = 30.0


def book_of(api: Api, entries: int) -> None:
    """`entries` manual entries: a grant received into the bank."""
    for n in range(entries):
        body = {"narration": f"Grant received {n}", "postings": [
            {"account": "1010", "debit": "100.00"}, {"account": "4200", "credit": "100.00"}]}
        assert api.post(f"{BASE}/ledger/entries", body).status_code == 201


def until_ended(api: Api, location: str, role: str = "admin",
                seen: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Poll a job until it is done or failed; `seen` is shown every answer."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        answer = api.get(location, role=role)
        assert answer.status_code == 200, answer.text
        job = answer.json()
        if seen is not None:
            seen(job)
        if job["state"] != "running":
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.01)


def start(api: Api, role: str = "admin") -> httpx.Response:
    return api.client.post(JOBS, headers=api.headers(role))


def test_a_job_checks_the_books_as_get_verify_does(api: Api) -> None:
    book_of(api, 12)
    started = start(api, role="auditor")
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["state"] == "running" and job["entries_checked"] == 0
    assert job["entries_total"] == 12 and job["percent"] == 0
    assert job["started_at"].endswith("Z") and job["finished_at"] is None
    assert job["result"] is None and job["message"] is None
    location = started.headers["location"]
    assert location == f"{JOBS}/{job['id']}"
    done = until_ended(api, location, role="auditor")
    answer = api.get(VERIFY, role="auditor")
    assert answer.headers["content-type"].startswith("application/json")
    assert done["state"] == "done" and done["result"] == answer.json()
    assert done["result"]["ok"] is True and done["result"]["entries_checked"] == 12
    assert (done["entries_checked"], done["entries_total"], done["percent"]) == (12, 12, 100)
    assert done["finished_at"] is not None and done["message"] is None
    assert api.get(location).json() == done  # the admin follows the same job
    trail = api.get(f"{BASE}/audit-events", params={"action": "POST /api/v1/ledger/verify"})
    assert [(e["username"], e["action"], e["status"]) for e in trail.json()["items"]] == [
        ("auditor1", "POST /api/v1/ledger/verify-jobs", 202)]


def test_progress_only_grows_and_one_check_runs_at_a_time(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verify says its count after every entry here, and stops at the fifth until let go:
    the job is seen running at 5 of 20, a second start answers that job (200), and the
    counts seen while polling never go down."""
    book_of(api, 20)
    monkeypatch.setattr(ledger_verify, "PROGRESS_EVERY", 1)
    at_five, go_on = threading.Event(), threading.Event()
    real = verify_jobs.verify

    def held(session: Any, **options: Any) -> Any:
        told = options.pop("progress")

        def progress(done: int) -> None:
            told(done)
            if done == 5:
                at_five.set()
                assert go_on.wait(WAIT_SECONDS)
            time.sleep(0.005)
        return real(session, progress=progress, **options)

    monkeypatch.setattr(verify_jobs, "verify", held)
    first = start(api)
    assert first.status_code == 202, first.text
    try:
        assert at_five.wait(WAIT_SECONDS)
        location = first.headers["location"]
        running = api.get(location).json()
        assert (running["state"], running["entries_checked"], running["entries_total"],
                running["percent"]) == ("running", 5, 20, 25)
        again = start(api, role="auditor")
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        assert again.headers["location"] == location
    finally:
        go_on.set()
    counts: list[int] = []
    percents: list[int] = []

    def seen(job: dict[str, Any]) -> None:
        counts.append(job["entries_checked"])
        percents.append(job["percent"])
        assert job["state"] == "done" or job["percent"] <= 99

    done = until_ended(api, location, seen=seen)
    assert done["state"] == "done" and done["result"]["ok"] is True
    assert counts == sorted(counts) and counts[0] >= 5 and counts[-1] == 20
    assert percents == sorted(percents) and percents[-1] == 100
    trail = api.get(f"{BASE}/audit-events", params={"action": "POST /api/v1/ledger/verify"})
    assert len(trail.json()["items"]) == 1  # the second start started nothing
    fresh = start(api)  # the first has ended: another may start
    assert fresh.status_code == 202 and fresh.json()["id"] != first.json()["id"]
    until_ended(api, fresh.headers["location"])


@pytest.mark.parametrize("role", ["clerk", "member", "board"])
def test_only_the_admin_and_the_auditor_verify(api: Api, role: str) -> None:
    assert start(api, role=role).status_code == 403
    job = start(api).json()
    assert api.get(f"{JOBS}/{job['id']}", role=role).status_code == 403
    assert api.client.post(JOBS).status_code == 401
    assert api.client.get(f"{JOBS}/{job['id']}").status_code == 401
    until_ended(api, f"{JOBS}/{job['id']}")


def test_an_unknown_job_is_404_as_a_problem(api: Api) -> None:
    answer = api.get(f"{JOBS}/0123456789abcdef0123456789abcdef", role="auditor")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 404 and {"type", "title", "detail"} <= problem.keys()
    assert api.get(f"{JOBS}/{'x' * 65}").status_code in (404, 422)


def test_a_tampered_entry_is_done_not_ok_with_the_problem(api: Api) -> None:
    book_of(api, 6)
    tamper(api.db, "UPDATE ledger_entry SET narration = 'Grant received 999' WHERE id = 3")
    started = start(api)
    assert started.status_code == 202
    done = until_ended(api, started.headers["location"])
    assert done["state"] == "done" and done["result"]["ok"] is False
    assert {"seq": 3, "account": None, "message": "its hash does not match its contents"} \
        in done["result"]["problems"]
    assert done["result"] == api.get(VERIFY).json()


def test_a_failure_is_failed_in_plain_words(api: Api, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    book_of(api, 3)

    def broken(session: Any, **options: Any) -> Any:
        raise OperationalError("SELECT id, hash FROM ledger_entry", {}, Exception("gone"))

    monkeypatch.setattr(verify_jobs, "verify", broken)
    started = start(api)
    assert started.status_code == 202
    failed = until_ended(api, started.headers["location"])
    assert failed["state"] == "failed" and failed["result"] is None
    assert failed["message"] == verify_jobs.FAILED_WORDS
    assert "SELECT" not in json.dumps(failed) and "Traceback" not in json.dumps(failed)
    assert failed["finished_at"] is not None and failed["percent"] < 100
    assert "verify job" in caplog.text  # the cause is in the server's log
    lines = api.client.get(VERIFY, headers=api.headers("admin", Accept="application/x-ndjson"))
    assert lines.status_code == 200
    last = json.loads(lines.text.splitlines()[-1])
    assert last == {"state": "failed", "message": verify_jobs.FAILED_WORDS}


def test_the_last_ten_jobs_are_kept(api: Api) -> None:
    book_of(api, 2)
    ids = []
    for _ in range(verify_jobs.JOBS_KEPT + 1):
        started = start(api)
        assert started.status_code == 202
        ids.append(started.json()["id"])
        until_ended(api, started.headers["location"])
    assert api.get(f"{JOBS}/{ids[0]}").status_code == 404
    assert all(api.get(f"{JOBS}/{i}").status_code == 200 for i in ids[1:])


def test_a_big_book_checked_in_two_processes_as_a_job(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second process verify takes for a big book (here: any book, a core said idle)
    works from the job's thread, and the count adds both halves."""
    book_of(api, 30)
    monkeypatch.setattr(ledger_verify, "PARALLEL_ABOVE", 1)
    monkeypatch.setattr(ledger_verify, "_spare_core", lambda: True)
    monkeypatch.setattr(ledger_verify, "PROGRESS_EVERY", 4)
    halves: list[int] = []
    real = ledger_verify._check_in_two

    def spied(*args: Any, **kwargs: Any) -> Any:
        stretches = real(*args, **kwargs)
        halves.extend(stretch.checked for stretch in stretches)
        return stretches

    monkeypatch.setattr(ledger_verify, "_check_in_two", spied)
    started = start(api)
    counts: list[int] = []
    done = until_ended(api, started.headers["location"],
                       seen=lambda job: counts.append(job["entries_checked"]))
    assert halves == [15, 15]  # checked in two
    assert done["state"] == "done" and done["result"]["ok"] is True, done
    assert done["result"]["entries_checked"] == 30 and counts == sorted(counts)
    assert done["result"] == api.get(VERIFY).json()


def test_get_verify_streams_its_progress_as_ndjson(api: Api,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    book_of(api, 9)
    monkeypatch.setattr(ledger_verify, "PROGRESS_EVERY", 2)
    streamed = api.client.get(VERIFY, headers=api.headers("auditor",
                                                          Accept="application/x-ndjson"))
    assert streamed.status_code == 200, streamed.text
    assert streamed.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    progress, last = lines[:-1], lines[-1]
    assert progress[0] == {"entries_checked": 0, "entries_total": 9}
    assert all(line.keys() == {"entries_checked", "entries_total"} for line in progress)
    counts = [line["entries_checked"] for line in progress]
    assert counts == sorted(counts) and set(counts) <= {0, 2, 4, 6, 8}
    plain = api.get(VERIFY, role="auditor")
    assert plain.headers["content-type"].startswith("application/json")
    assert last == plain.json() and last["entries_checked"] == 9
    for accept in ("application/json", "*/*", "application/json, application/x-ndjson;q=0.5"):
        same = api.client.get(VERIFY, headers=api.headers("admin", Accept=accept))
        assert same.headers["content-type"].startswith("application/json")
        assert same.json() == plain.json()
    refused = api.client.get(VERIFY, headers=api.headers("clerk",
                                                         Accept="application/x-ndjson"))
    assert refused.status_code == 403


def test_get_verify_streams_a_tampered_books_problems(api: Api) -> None:
    book_of(api, 4)
    tamper(api.db, "UPDATE ledger_entry SET narration = 'Grant received 999' WHERE id = 2")
    streamed = api.client.get(VERIFY, headers=api.headers("admin",
                                                          Accept="application/x-ndjson"))
    last = json.loads(streamed.text.splitlines()[-1])
    assert last["ok"] is False and last == api.get(VERIFY).json()


# -- the counter -------------------------------------------------------------------------------


def _csrf(html: str) -> str:
    form = re.search(r'<form[^>]*id="verify-books".*?</form>', html, re.S)
    assert form, html
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', form.group())
    assert found
    return found.group(1)


def test_the_counter_verifies_as_a_job_with_its_progress(
        api: Api, counter: Counter) -> None:  # noqa: F811
    book_of(api, 5)
    auditor = counter("auditor1")
    books = auditor.get(f"{C}/audit")
    assert 'id="verify"' in books.text and "verify-result" not in books.text
    started = auditor.post(f"{C}/verify-jobs", data={"csrf": _csrf(books.text)},
                           follow_redirects=False)
    assert started.status_code == 303, started.text
    job_page = started.headers["location"]
    assert re.fullmatch(r"/counter/verify-jobs/[0-9a-f]{32}", job_page)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        shown = auditor.get(job_page)
        assert shown.status_code == 200
        if 'id="verify-progress"' not in shown.text:
            break
        assert '<meta http-equiv="refresh" content="1">' in shown.text
        assert "<progress" in shown.text and "<script" not in shown.text
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert 'http-equiv="refresh"' not in shown.text  # done: it stops reloading
    assert "Verified: the chain and every balance recompute exactly." in shown.text
    assert 'id="verify-result"' in shown.text and "Entries checked: 5." in shown.text
    head = api.get(VERIFY).json()["chain_head"]
    assert f"{head['seq']}:{head['hash']}" in shown.text
    job_id = job_page.rsplit("/", 1)[1]
    assert api.get(f"{JOBS}/{job_id}").json()["result"]["ok"] is True  # the API's job
    assert auditor.get(f"{C}/verify-jobs/{'0' * 32}").status_code == 404
    trail = api.get(f"{BASE}/audit-events", params={"action": "POST /counter/verify-jobs"})
    assert [e["username"] for e in trail.json()["items"]] == ["auditor1"]


def test_the_counter_says_a_tampered_book_and_a_failed_check(
        api: Api, counter: Counter, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    book_of(api, 4)
    tamper(api.db, "UPDATE ledger_entry SET narration = 'Grant received 999' WHERE id = 2")
    admin = counter("admin")
    csrf = _csrf(admin.get(f"{C}/audit").text)
    job_page = admin.post(f"{C}/verify-jobs", data={"csrf": csrf}).url.path
    until_ended(api, f"{JOBS}/{job_page.rsplit('/', 1)[1]}")
    shown = admin.get(job_page).text
    assert "Problems" in shown and "Entry 2: its hash does not match its contents" in shown

    def broken(session: Any, **options: Any) -> Any:
        raise OperationalError("SELECT secret", {}, Exception("gone"))

    monkeypatch.setattr(verify_jobs, "verify", broken)
    job_page = admin.post(f"{C}/verify-jobs", data={"csrf": csrf}).url.path
    until_ended(api, f"{JOBS}/{job_page.rsplit('/', 1)[1]}")
    shown = admin.get(job_page).text
    assert 'id="verify-failed"' in shown and "SELECT" not in shown


def test_the_board_does_not_verify_at_the_counter(api: Api, counter: Counter) -> None:  # noqa: F811
    board = counter("board1")
    books = board.get(f"{C}/audit")
    assert books.status_code == 200 and 'id="verify"' not in books.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', books.text)
    token = csrf.group(1) if csrf else ""
    assert board.post(f"{C}/verify-jobs", data={"csrf": token},
                      follow_redirects=False).status_code == 403
    assert counter("clerk1").get(f"{C}/verify-jobs/{'0' * 32}").status_code == 403
