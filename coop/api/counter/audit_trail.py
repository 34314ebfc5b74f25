"""The audit trail on the counter (admin and auditor, issue 19): who did what and when,
newest first, 50 lines a page, filtered as GET /audit-events is (a user, the start of an
action, the first and last day, in the society's days), with a link to the older lines.
Times are shown in the society's time zone. An auditor's lines are shown without their
free-text detail, as the API gives them; a date that is not a date is said in words next to
its box, and nothing is listed until it is put right. The auditor's pack is downloaded here
too (the button is on the books' page)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get
from litestar.response import File, Template

from coop.api.controllers.audit import audit_cursor, audit_filter
from coop.api.controllers.audit_pack import pack_download
from coop.api.counter.clerk import CounterController
from coop.api.counter.web import page
from coop.api.deps import app_state
from coop.api.security import allow
from coop.auth import AuditEvent, Role, list_audit_events
from coop.errors import CoopError, InvalidInput

A, D = Role.ADMIN, Role.AUDITOR
PAGE_LINES = 50
FIELD_MAX = {"user": 32, "action": 120, "from": 10, "to": 10, "cursor": 20}


WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words) for pattern, words in (
    (r"^POST /(api/v1|counter)/members/[^/]+/deposits?$", "Deposit"),
    (r"^POST /(api/v1|counter)/members/[^/]+/withdrawals?$", "Withdrawal"),
    (r"^POST /(api/v1|counter)/members/[^/]+/shares$", "Shares bought"),
    (r"^POST /(api/v1|counter)/members/[^/]+/share-redemptions?$", "Shares given back"),
    (r"^POST /(api/v1|counter)/members/[^/]+/holds$", "Hold on savings"),
    (r"^POST /(api/v1|counter)/members/[^/]+/holds/\d+/release$", "Hold released"),
    (r"^POST /(api/v1|counter)/members/[^/]+/exit$", "Member left"),
    (r"^POST /(api/v1/members|counter/register)$", "Member registered"),
    (r"^POST /(api/v1/members|counter)/(find|search)$", "Member looked up"),
    (r"^POST /(api/v1|counter)/members/[^/]+/passbook/printed$", "Passbook printed"),
    (r"^POST /(api/v1|counter/members/[^/]+)/loans?(-application)?$", "Loan applied for"),
    (r"^POST /(api/v1|counter)/loans/\d+/disbursement$", "Loan paid out"),
    (r"^POST /(api/v1|counter)/loans/\d+/repayments?$", "Loan repayment"),
    (r"^POST /(api/v1|counter)/loans/\d+/(reschedules?)$", "Loan rescheduled"),
    (r"^POST /(api/v1|counter)/loans/\d+/(votes?|reschedules/\d+/votes)$", "Board vote"),
    (r"^POST /api/v1/loans/\d+/write-off$", "Loan written off"),
    (r"^POST /api/v1/loans/\d+/loss-mark$", "Loan marked a loss"),
    (r"^POST /(api/v1|counter)/moratori(a|um)$", "Moratorium"),
    (r"^POST /(api/v1|counter)/corrections$", "Correction asked for"),
    (r"^POST /(api/v1|counter)/corrections/\d+/approval$", "Correction approved"),
    (r"^POST /(api/v1|counter)/corrections/\d+/refusal$", "Correction refused"),
    (r"^POST /(api/v1|counter)/tills(/open)?$", "Till opened"),
    (r"^POST /(api/v1|counter)/tills/\d+/(close|count)$", "Till counted and closed"),
    (r"^POST /(api/v1|counter)/users$", "User created"),
    (r"^POST /(api/v1/auth/token|counter/login)$", "Logged in"),
    (r"^POST /(api/v1/auth|counter)/logout$", "Logged out"),
    (r"^POST /(api/v1/auth|counter)/password$", "Password changed"),
    (r"^POST /api/v1/years/\d+/close$", "Year closed"),
    (r"^POST /(api/v1|counter)/dividends/\d+/(declaration|vote|declaration/votes)$",
     "Dividend declared or voted"),
    (r"^POST /(api/v1|counter)/dividends/\d+/payment$", "Dividend paid"),
    (r"^POST /(api/v1|counter)/reports/provisioning-runs$|^POST /counter/provisioning-runs$",
     "Provisioning run"),
    (r"^GET /(api/v1/reports|counter)/audit-pack\.zip", "Auditor's pack downloaded"),
    (r"^POST /(api/v1/ledger|counter)/verify-jobs$", "Check of the books started"),
))
"""What an action was, in words, for the usual ones (the path is shown under them)."""


def action_words(action: str) -> str | None:
    """The words for an action ("POST /counter/members/M-AAAAA/deposit": "Deposit")."""
    return next((words for pattern, words in WORDS if pattern.search(action)), None)


def _parts(action: str) -> list[str]:
    """The action cut after each "/", so a phone may wrap a long path there (<wbr>)."""
    return re.findall(r"[^/]*/?", action)[:-1] or [action]


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


class AuditTrailPages(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/audit-trail", opt=allow(A, D), sync_to_thread=True)
    def audit_trail(self, request: Request[Any, Any, Any]) -> Template:
        view, state = page(request), app_state(request)
        sent = {name: str(request.query_params.get(name, "")).strip() for name in FIELD_MAX}
        cursor = sent.pop("cursor")
        asked = sent
        errors: dict[str, Any] = {name: view.tr("At most {count} characters.", count=most)
                                  for name, most in FIELD_MAX.items()
                                  if len(asked.get(name, cursor)) > most}
        days: dict[str, date | None] = {}
        for name in ("from", "to"):
            try:
                days[name] = _day(asked[name])
            except ValueError:
                errors.setdefault(name, view.tr("A date is written YYYY-MM-DD."))
        events: list[AuditEvent] = []
        if not errors:
            try:
                wanted = audit_filter(user=asked["user"], action=asked["action"],
                                      from_on=days["from"], to_on=days["to"],
                                      timezone=state.settings.timezone)
                before = audit_cursor(cursor)
                events = state.db.read(lambda s: list_audit_events(
                    s, wanted, before_id=before, limit=PAGE_LINES))
            except CoopError as error:
                errors[error.field or "to"] = error
        view.errors = errors
        older = (f"/counter/audit-trail?{urlencode({**asked, 'cursor': events[-1].id})}"
                 if len(events) == PAGE_LINES else None)
        zone = ZoneInfo(state.settings.timezone)
        return Template("audit_trail.html", status_code=422 if errors else 200,
                        context=view.context(
                            asked=asked, older=older, paged=bool(cursor),
                            detail=view.principal is not None and view.principal.role is A,
                            lines=[(e, e.at.astimezone(zone), _parts(e.action),
                                    action_words(e.action)) for e in events]))

    @get("/audit-pack.zip", opt=allow(A, D), sync_to_thread=True)
    def audit_pack(self, request: Request[Any, Any, Any]) -> File:
        """The auditor's pack of the year asked for on the books' page (a year not begun,
        or before the book, is a page in words)."""
        sent = str(request.query_params.get("fy", "")).strip()
        if not (sent.isdigit() and len(sent) == 4):
            raise InvalidInput("a fiscal year is named by the year it starts in, e.g. 2025",
                               field="fy")
        return pack_download(request, int(sent))


AuditTrailPages.exception_handlers = CounterController.exception_handlers

__all__ = ["AuditTrailPages"]
