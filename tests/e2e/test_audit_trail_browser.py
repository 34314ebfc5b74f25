"""Issue 19, the audit trail in a real browser (headless Chromium): the auditor opens it from
her menu, filters one clerk's lines of one day, and the page fits a desk screen (1024x600)
and a phone (360 px) without sideways scrolling of the page itself (the table scrolls in its
own box). Screenshots in test-artifacts/counter/."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.api.conftest import LiveServer
from tests.api.test_audit_events_api import _trail
from tests.e2e.conftest import OpenAs, Shot
from tests.e2e.test_counter_browser import within_width

DESK = {"width": 1024, "height": 600}
PHONE = {"width": 360, "height": 740}


def test_the_auditor_filters_the_trail_at_a_desk_and_on_a_phone(
        live: LiveServer, open_as: OpenAs, shot: Shot) -> None:
    _trail(live.api)
    desk = open_as("auditor1", viewport=DESK)
    desk.get_by_role("link", name="Audit trail").click()
    expect(desk.locator("#trail tr")).to_have_count(6)  # a heading and five lines
    desk.locator("#user").fill("clerk1")
    desk.locator("#from").fill("2025-05-01")
    desk.locator("#to").fill("2025-05-01")
    with desk.expect_navigation():
        desk.locator("#trail-filter button[type=submit]").click()
    expect(desk.locator("#trail tr")).to_have_count(3)
    expect(desk.locator("#trail")).to_contain_text("POST /api/v1/members/M-AAAAA/withdrawals")
    expect(desk.locator("#trail")).not_to_contain_text("Lakshmi")
    assert desk.evaluate("document.documentElement.scrollWidth") <= DESK["width"]
    shot(desk, "audit-trail-01-filtered-1024")

    phone = open_as("admin", viewport=PHONE, is_mobile=True)
    phone.goto("/counter/audit-trail")
    expect(phone.locator("#trail tr")).to_have_count(6)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for selector in ("#user", "#action", "#from", "#to", "#trail-filter button[type=submit]"):
        within_width(phone, selector, PHONE["width"])
    shot(phone, "audit-trail-02-admin-360")
    phone.locator("#from").fill("2025-05-03")
    phone.locator("#to").fill("2025-05-01")
    with phone.expect_navigation() as refused:
        phone.locator("#trail-filter button[type=submit]").click()
    assert refused.value.status == 422
    expect(phone.locator("#to-error")).to_contain_text("is before the first day")
    shot(phone, "audit-trail-03-refused-360")
