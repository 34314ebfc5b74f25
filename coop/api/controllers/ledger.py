"""The ledger endpoints of CONTRACT.md: accounts, entries, reversals, trial balance, verify,
export; and verify as a background job with its progress, or as a stream of progress lines
(coop.api.verify_jobs). Handlers parse, authorize, call one service function and shape the
response."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, Literal, cast

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter
from litestar.response import Stream

from coop import auth, corrections
from coop.api.deps import app_state, currency, parse_money
from coop.api.idempotency import respond
from coop.api.schemas.common import Page
from coop.api.schemas.ledger import (
    AccountIn,
    AccountOut,
    EntryIn,
    EntryOut,
    ReversalIn,
    TrialBalanceOut,
    VerifyJobOut,
    VerifyOut,
    account_out,
    entry_out,
    trial_balance_out,
    verify_job_out,
)
from coop.api.security import allow, current_principal
from coop.api.verify_jobs import NDJSON, check_books, verify_lines
from coop.auth import Role
from coop.errors import InvalidInput, require
from coop.ledger import EntryDraft, PostingDraft, Side
from coop.ledger import export as ledger_export
from coop.ledger import queries as q
from coop.ledger import service as ledger

A, B, C, D = Role.ADMIN, Role.BOARD, Role.CLERK, Role.AUDITOR
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
EntryId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
JobId = Annotated[str, PathParameter(min_length=1, max_length=64)]


def _cursor(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("cursor is the next_cursor of a previous page", field="cursor")
    return int(text)


class LedgerController(Controller):
    path = "/ledger"
    tags = ("ledger",)

    @get("/accounts", opt=allow(A, B, C, D), sync_to_thread=True)
    def accounts(
        self, request: Request[Any, Any, Any],
        member: Annotated[str | None, QueryParameter(max_length=16)] = None,
    ) -> Page[AccountOut]:
        """General-ledger accounts (control accounts include their members' sub-accounts), or
        with `member` that member's own sub-accounts."""
        state = app_state(request)
        cur = currency(state)

        def read(session: Any) -> list[AccountOut]:
            rows = q.list_accounts(session, owner=member)
            parents = {a.id: a.code for a in q.list_accounts(session)} if member else {}
            return [account_out(a, parent=parents.get(a.parent_id or 0), currency=cur)
                    for a in rows]

        return Page[AccountOut](items=state.db.read(read))

    @post("/accounts", opt=allow(A), sync_to_thread=True)
    def open_account(
        self, request: Request[Any, Any, Any], data: JSONBody[AccountIn]
    ) -> Response[AccountOut]:
        """Open a general-ledger account (four-digit code)."""
        state = app_state(request)
        cur = currency(state)

        def work(session: Any) -> AccountOut:
            ledger.open_account(session, code=data.code, name=data.name, type=data.type,
                                may_go_negative=data.may_go_negative, clock=state.clock)
            account = q.get_account(session, data.code)
            require(account is not None, f"account {data.code} is there once opened")
            return account_out(account, parent=None, currency=cur)  # type: ignore[arg-type]

        return respond(request, current_principal(request), data, work)

    @post("/entries", opt=allow(A), sync_to_thread=True)
    def post_entry(
        self, request: Request[Any, Any, Any], data: JSONBody[EntryIn]
    ) -> Response[EntryOut]:
        """Post a manual, balanced entry."""
        state = app_state(request)
        principal = current_principal(request)
        postings = tuple(
            PostingDraft(
                p.account,
                Side.DEBIT if p.debit is not None else Side.CREDIT,
                parse_money(state, p.debit if p.debit is not None else p.credit or "",
                            field=f"postings[{i}].{'debit' if p.debit is not None else 'credit'}"),
            )
            for i, p in enumerate(data.postings)
        )
        draft = EntryDraft(value_date=data.value_date or state.clock.today(),
                           narration=data.narration, kind="manual", postings=postings,
                           actor=principal.username)
        cur = currency(state)
        return respond(request, principal, data,
                       lambda s: entry_out(ledger.post(s, draft, clock=state.clock), cur))

    @get("/entries", opt=allow(A, B, D), sync_to_thread=True)
    def entries(
        self, request: Request[Any, Any, Any],
        account: Annotated[str | None, QueryParameter(max_length=64)] = None,
        from_on: Annotated[date | None, QueryParameter(name="from")] = None,
        to_on: Annotated[date | None, QueryParameter(name="to")] = None,
        limit: Limit = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Page[EntryOut]:
        """Journal entries in order, optionally for one account and a date range."""
        state = app_state(request)
        after = _cursor(cursor)
        found = state.db.read(lambda s: q.list_entries(
            s, account=account, from_on=from_on, to_on=to_on, after_id=after, limit=limit))
        items = [entry_out(e, currency(state)) for e in found]
        next_cursor = str(found[-1].id) if len(found) == limit else None
        return Page[EntryOut](items=items, next_cursor=next_cursor)

    @get("/entries/{entry_id:int}", opt=allow(A, B, D), sync_to_thread=True)
    def entry(self, request: Request[Any, Any, Any], entry_id: EntryId) -> EntryOut:
        state = app_state(request)
        found = state.db.read(lambda s: q.load_entry(s, entry_id))
        if found is None:
            raise NotFoundException()
        return entry_out(found, currency(state))

    @post("/entries/{entry_id:int}/reversal", opt=allow(A), sync_to_thread=True)
    def reverse_entry(
        self, request: Request[Any, Any, Any], entry_id: EntryId,
        data: JSONBody[ReversalIn],
    ) -> Response[EntryOut]:
        """Undo this entry (once only) the way its room undoes it, every register with it;
        409 naming the operation that undoes entries of its kind instead."""
        state = app_state(request)
        principal = current_principal(request)
        cur = currency(state)
        return respond(request, principal, data, lambda s: entry_out(corrections.correct_now(
            s, entry_id, reason=data.reason, actor=principal.username, clock=state.clock), cur))

    @get("/trial-balance", opt=allow(A, B, D), sync_to_thread=True)
    def trial_balance(
        self, request: Request[Any, Any, Any],
        as_of: Annotated[date | None, QueryParameter()] = None,
    ) -> TrialBalanceOut:
        state = app_state(request)
        on = as_of or state.clock.today()
        if on > state.clock.today():
            raise InvalidInput("as_of may not be after the business date", field="as_of")
        tb = state.db.read_report(lambda s: q.trial_balance(s, as_of=on))
        return trial_balance_out(tb, as_of=on, currency=currency(state))

    @get("/verify", opt=allow(A, D), sync_to_thread=True)
    def verify(self, request: Request[Any, Any, Any]) -> VerifyOut:
        """Recompute the hash chain and every balance from the postings, and check every
        register against the ledger. With `Accept: application/x-ndjson`: lines of progress
        `{"entries_checked", "entries_total"}` while it runs, this answer as the last line
        (or `{"state": "failed", "message"}`)."""
        state = app_state(request)
        wanted = request.accept.best_match(["application/json", NDJSON],
                                           default="application/json")
        if wanted == NDJSON:
            # Litestar sends a Response a handler returns as it is; the annotation documents
            # the JSON answer. Its media type is also a header: Stream would take the
            # handler's (JSON) instead. No proxy buffering: the lines are the point.
            return cast("VerifyOut", Stream(
                verify_lines(state.db, state.clock), media_type=NDJSON,
                headers={"Content-Type": NDJSON, "X-Accel-Buffering": "no"}))
        return check_books(state.db)

    @post("/verify-jobs", opt=allow(A, D), sync_to_thread=True, status_code=202,
          responses={200: ResponseSpec(VerifyJobOut, description=(
              "A check was running already: that one (nothing else starts)"))})
    def start_verify_job(self, request: Request[Any, Any, Any]) -> Response[VerifyJobOut]:
        """Check the books in the background, as GET /ledger/verify does: 202 with the job
        (`Location` says where to follow it); while a check runs, that one (200). Written in
        the audit trail."""
        state = app_state(request)
        principal = current_principal(request)
        action = f"{request.method} {request.url.path}"

        def record() -> None:
            state.db.write(lambda s: auth.record_audit(s, principal, action=action,
                                                       status=202, clock=state.clock))

        job, fresh = state.verify_jobs.start_or_join(state.db, state.clock, record=record)
        return Response(verify_job_out(job), status_code=202 if fresh else 200,
                        headers={"Location": f"{request.url.path.rstrip('/')}/{job.id}"})

    @get("/verify-jobs/{job_id:str}", opt=allow(A, D), sync_to_thread=False)
    def verify_job(self, request: Request[Any, Any, Any], job_id: JobId) -> VerifyJobOut:
        """A check of the books: running (entries checked of the book's, a whole percent),
        done (`result`: the answer of GET /ledger/verify) or failed (`message`). The last
        ten are kept, in this server's memory; another id is 404."""
        job = app_state(request).verify_jobs.get(job_id)
        if job is None:
            raise NotFoundException("no such check of the books here: the last ten are kept, "
                                    "until the server restarts")
        return verify_job_out(job.view())

    @get("/export", opt=allow(A, D), sync_to_thread=True, media_type="text/plain")
    def export(
        self, request: Request[Any, Any, Any],
        format: FromQuery[Literal["beancount"]] = "beancount",
    ) -> Stream:
        """The whole book as a beancount file."""
        state = app_state(request)

        def chunks() -> Iterator[str]:
            with state.db.reading_report() as session:
                yield from ledger_export.export_beancount(session)

        return Stream(chunks(), media_type="text/plain; charset=utf-8",
                      headers={"Content-Disposition": 'attachment; filename="coop.beancount"'})
