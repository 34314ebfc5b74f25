"""State-changing requests: one transaction for the effect, its Idempotency-Key record and its
audit row.

Stored requests are digests keyed from the data key, tagged with the member they were about
(erasing her removes them) and forgotten after IDEMPOTENCY_WINDOW (24 hours).

With an `Idempotency-Key` header the key is claimed first, by inserting its row (the unique
index (user, key) arbitrates; a concurrent duplicate waits on it and then finds the key taken).
The effect runs, its response is stored on the row, and everything commits together. A retry
with the same key and the same body gets the stored status and bytes back and changes nothing;
with a different body it is 422. A request the service refuses rolls back whole, key included,
so nothing is stored and a corrected retry may reuse the key.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any, cast

import anyio.to_thread
from litestar import Request, Response
from pydantic import BaseModel
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coop.api.deps import AppState
from coop.api.schemas.common import Out, dump
from coop.auth import (
    IDEMPOTENCY_WINDOW,
    IdempotencyRow,
    Principal,
    forget_old_requests,
    record_audit,
)
from coop.db_statements import Prepared
from coop.errors import Conflict, InvalidInput
from coop.members.vault import Vault

KEY_LENGTH_MAX = 255
JSON = "application/json"


class _KeyTaken(Exception):
    pass


class IdempotencyMismatch(InvalidInput):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used with a different request"


class IdempotencyInFlight(Conflict):
    code = "idempotency_key_in_flight"
    title = "A request with this Idempotency-Key is still being processed"


def fingerprint(method: str, path: str, body: BaseModel | None, *, vault: Vault) -> str:
    """A digest of the request keyed from the data key (HMAC): a copy of the database shows
    whether two requests were the same, never what they said (a plain hash of a phone search
    gave the phone back to anyone trying every number)."""
    payload = body.model_dump(mode="json") if body is not None else None
    canonical = json.dumps([method, path, payload], sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return vault.keyed_digest("idempotency-request", canonical)


def _member_of(request: Request[Any, Any, Any], content: bytes) -> str | None:
    """The member a request was about: her number in the path, or in the answer."""
    code = request.path_params.get("code")
    if isinstance(code, str):
        return code[:16]
    found = _CODE_IN_ANSWER.search(content[:400])
    return found.group(1).decode() if found else None


_CODE_IN_ANSWER = re.compile(rb'"(?:member_)?code":"(M-[0-9A-Z]{1,14})"')
_SWEEP_EVERY = 600.0


def encode(payload: Out) -> bytes:
    """The bytes of a validated output model: the reply and the stored copy are these."""
    return json.dumps(dump(payload), separators=(",", ":"), ensure_ascii=False).encode()


def respond(
    request: Request[Any, Any, Any],
    principal: Principal,
    body: BaseModel | None,
    work: Callable[[Session], Out],
    *,
    status: int = 201,
    status_of: Callable[[], int] | None = None,
) -> Response[Any]:
    """Run `work` as this request's one transaction. It returns the output model (built by a
    presenter, so validated); it is serialised once, for the reply and the stored copy.
    `status_of`, when given, is asked for the status once `work` has run (an operation that
    answers 201 when it acts and 200 when it finds itself done already)."""
    state = request.app.state.coop
    transaction, key, digest, sweep = _plan(request, principal, body, work, status, status_of)
    try:
        content, status = state.db.write(transaction)
    except _KeyTaken:
        return _replay(state.db, principal, key or "", digest)
    return _answer(state, content, status, sweep)


async def respond_async(
    request: Request[Any, Any, Any],
    principal: Principal,
    body: BaseModel | None,
    work: Callable[[Session], Out],
    *,
    status: int = 201,
    status_of: Callable[[], int] | None = None,
    ahead: Callable[[Session], None] | None = None,
) -> Response[Any]:
    """`respond` for an async handler: the transaction runs through the app's writes
    (coop.api.writes: on SQLite grouped with others' on the event loop, one commit for all;
    on PostgreSQL in a worker thread). Answered only once its commit is durable. `ahead`
    names the reads `work` starts with, to go with the key's claim
    (coop.db_statements.Prepared.ahead)."""
    state = request.app.state.coop
    transaction, key, digest, sweep = _plan(request, principal, body, work, status, status_of,
                                            ahead)
    try:
        content, status = await state.writer().run(transaction)
    except _KeyTaken:
        return await anyio.to_thread.run_sync(
            lambda: _replay(state.db, principal, key or "", digest))
    return _answer(state, content, status, sweep)


def _answer(state: AppState, content: bytes, status: int, sweep: bool) -> Response[Any]:
    if sweep:
        state.swept_at = time.monotonic()
    return Response(content=content, status_code=status, media_type=JSON)


def _plan(
    request: Request[Any, Any, Any], principal: Principal, body: BaseModel | None,
    work: Callable[[Session], Out], status: int, status_of: Callable[[], int] | None,
    ahead: Callable[[Session], None] | None = None,
) -> tuple[Callable[[Session], tuple[bytes, int]], str | None, str, bool]:
    """The request's transaction (its key claimed, the work, the answer stored, the audit
    row), with the key, the request's digest and whether old keys are swept this time."""
    state = request.app.state.coop
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= KEY_LENGTH_MAX:
        raise InvalidInput(f"an Idempotency-Key has 1 to {KEY_LENGTH_MAX} characters",
                           field="Idempotency-Key")
    method, path = request.method, request.url.path
    digest = fingerprint(method, path, body, vault=state.identity_vault()) if key else ""
    sweep = key is not None and time.monotonic() - state.swept_at > _SWEEP_EVERY

    def transaction(session: Session) -> tuple[bytes, int]:
        if sweep:
            forget_old_requests(session, clock=state.clock)
        if ahead is not None:
            ahead(session)
        row = _claim(session, principal, key, digest, state.clock) if key else None
        content = encode(work(session))
        code = status_of() if status_of is not None else status
        if row is not None:
            _STORE_RESPONSE.defer(session, {
                "row_id": row, "status": code, "body": content, "media_type": JSON,
                "member_code": _member_of(request, content)})
        record_audit(session, principal, action=f"{method} {path}", status=code,
                     clock=state.clock)
        return content, code

    return transaction, key, digest, sweep


_IDEMPOTENCY = cast(Table, IdempotencyRow.__table__)
_INSERT_KEY = Prepared(insert(_IDEMPOTENCY).returning(_IDEMPOTENCY.c.id))
_EXPIRE_KEY = Prepared(delete(_IDEMPOTENCY).where(
    _IDEMPOTENCY.c.user_id == bindparam("user_id"), _IDEMPOTENCY.c.key == bindparam("key"),
    _IDEMPOTENCY.c.created_at < bindparam("before")))
_STORE_RESPONSE = Prepared(
    update(_IDEMPOTENCY).where(_IDEMPOTENCY.c.id == bindparam("row_id"))
    .values(status=bindparam("status"), body=bindparam("body"),
            media_type=bindparam("media_type"), member_code=bindparam("member_code"))
)


def _claim(session: Session, principal: Principal, key: str, digest: str, clock: Any) -> int:
    _EXPIRE_KEY.defer(session, {  # an old use of the key answers no more
        "user_id": principal.user_id, "key": key, "before": clock.now() - IDEMPOTENCY_WINDOW})
    try:
        row = _INSERT_KEY.execute(session, {
            "user_id": principal.user_id, "key": key, "request_hash": digest,
            "created_at": clock.now()}).fetchone()
    except IntegrityError as exc:  # the whole transaction rolls back on the way out
        raise _KeyTaken from exc
    return int(row[0])


def _replay(db: Any, principal: Principal, key: str, digest: str) -> Response[Any]:
    row = db.read(lambda s: s.execute(
        select(IdempotencyRow.request_hash, IdempotencyRow.status, IdempotencyRow.body,
               IdempotencyRow.media_type)
        .where(IdempotencyRow.user_id == principal.user_id, IdempotencyRow.key == key)
    ).first())
    if row is None or row.status is None:
        raise IdempotencyInFlight("try again in a moment", field="Idempotency-Key")
    if row.request_hash != digest:
        raise IdempotencyMismatch(
            "this Idempotency-Key was already used with a different request",
            field="Idempotency-Key",
        )
    return Response(content=row.body, status_code=row.status, media_type=row.media_type or JSON,
                    headers={"Idempotent-Replayed": "true"})
