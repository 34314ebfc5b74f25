"""Corrections at the counter (issue 16): a clerk asks for one of a member's last entries to
be corrected, with a reason; an admin or a board member (never the one who asked) sees the
queue and approves or refuses. A refusal of the undo itself (the deposit is on hold, the year
is closed, a whole operation) is shown in words on the request it is about, and the request
stays waiting. Plain forms, no JavaScript; the CSRF check is the counter's global guard."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from coop import corrections
from coop.api.counter.clerk import CounterController
from coop.api.counter.web import Form, Page, field_errors, page, write
from coop.api.deps import app_state
from coop.api.security import allow
from coop.auth import Role
from coop.errors import CoopError, InvalidInput
from coop.ledger import PostedEntry, queries
from coop.members import account_owner
from coop.passbooks.narrations import particulars

A, B, C = Role.ADMIN, Role.BOARD, Role.CLERK
CorrectionId = FromPath[int]


def _member_of(entry: PostedEntry) -> str | None:
    """The member an entry is about: the owner of a savings, share or loan account it moves."""
    return next((o for o in (account_owner(p.account) for p in entry.postings) if o), None)


def _entry_facts(view: Page, entry: PostedEntry) -> dict[str, Any]:
    amount = sum(p.amount_minor for p in entry.postings if p.side.value == "debit")
    return {"id": entry.id, "on": entry.value_date, "amount": amount,
            "words": particulars(view.tr, entry.kind, entry.narration),
            "member": _member_of(entry)}


def _ask_page(request: Request[Any, Any, Any], entry_id: int, *, reason: str = "",
              errors: dict[str, Any] | None = None, status: int = 200) -> Template:
    view, state = page(request), app_state(request)
    view.errors = errors or {}

    def look(session: Session) -> tuple[dict[str, Any] | None, str | None]:
        entry = queries.load_entry(session, entry_id)
        if entry is None:
            return None, view.tr("There is no entry {entry}.", entry=entry_id)
        facts = _entry_facts(view, entry)
        try:
            corrections.load_correctable(session, entry_id)
        except CoopError as error:
            return facts, view.explain(error)
        return facts, None

    entry, cannot = state.db.read(look)
    return Template("corrections.html", status_code=404 if entry is None else status,
                    context=view.context(mode="ask", entry=entry, cannot=cannot,
                                         reason=reason))


def _queue_page(request: Request[Any, Any, Any], *, errors: dict[str, Any] | None = None,
                status: int = 200) -> Template:
    view, state = page(request), app_state(request)
    view.errors = errors or {}
    view.notice = request.query_params.get("done")

    def look(session: Session) -> list[dict[str, Any]]:
        items = corrections.list_corrections(session, status="pending")
        entries = {e.id: e for e in queries.load_entries(
            session, [i.correction.entry_id for i in items])}
        return [{"correction": i.correction,
                 "entry": _entry_facts(view, entries[i.correction.entry_id])} for i in items]

    return Template("corrections.html", status_code=status,
                    context=view.context(mode="queue", items=state.db.read(look)))


class CorrectionPages(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/corrections/new", opt=allow(A, C), sync_to_thread=True)
    def ask_form(self, request: Request[Any, Any, Any],
                 entry: FromQuery[int] = 0) -> Template:
        """The entry, in the words of her passbook, and a box for the reason."""
        return _ask_page(request, entry)

    @post("/corrections", opt=allow(A, C), sync_to_thread=True, status_code=303)
    def ask(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        reason = str(data.get("reason", "")).strip()
        try:
            entry_id = int(str(data.get("entry_id", "")))
        except ValueError:
            entry_id = 0
        try:
            if not reason:
                raise InvalidInput(view.tr("Say why it is wrong."), field="reason")
            asked = write(request, lambda s: corrections.request_correction(
                s, entry_id, reason=reason, actor=view.principal.username,  # type: ignore[union-attr]
                clock=state.clock))
            member = state.db.read(lambda s: _member_of(
                queries.load_entry(s, entry_id)))  # type: ignore[arg-type]
        except CoopError as error:
            return _ask_page(request, entry_id, reason=reason,
                             errors=field_errors(error, "reason"), status=422)
        notice = view.tr("Correction {number} asked for. Another user approves it.",
                         number=asked.id)
        where = f"/counter/members/{member}" if member else "/counter/corrections/new"
        return Redirect(f"{where}?done={quote(notice)}", status_code=303)

    @get("/corrections", opt=allow(A, B), sync_to_thread=True)
    def queue(self, request: Request[Any, Any, Any]) -> Template:
        """The corrections waiting for a second pair of eyes."""
        return _queue_page(request)

    @post("/corrections/{correction_id:int}/approval", opt=allow(A, B), sync_to_thread=True,
          status_code=303)
    def approve(self, request: Request[Any, Any, Any], correction_id: CorrectionId,
                data: Form) -> Response[Any]:
        return self._decide(request, correction_id, approve=True)

    @post("/corrections/{correction_id:int}/refusal", opt=allow(A, B), sync_to_thread=True,
          status_code=303)
    def refuse(self, request: Request[Any, Any, Any], correction_id: CorrectionId,
               data: Form) -> Response[Any]:
        return self._decide(request, correction_id, approve=False)

    def _decide(self, request: Request[Any, Any, Any], correction_id: int, *,
                approve: bool) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        decide = corrections.approve_correction if approve else corrections.refuse_correction
        try:
            write(request, lambda s: decide(s, correction_id, actor=view.principal.username,  # type: ignore[union-attr]
                                            clock=state.clock))
        except CoopError as error:
            status = 403 if error.kind == "forbidden" else 409 if error.kind == "conflict" \
                else 422
            return _queue_page(request, errors={f"correction_{correction_id}": error},
                               status=status)
        words = "Correction {number} applied." if approve else "Correction {number} refused."
        return Redirect(f"/counter/corrections?done={quote(view.tr(words, number=correction_id))}",
                        status_code=303)


CorrectionPages.exception_handlers = CounterController.exception_handlers

__all__ = ["CorrectionPages"]
