"""Members, shares and savings at the counter (CONTRACT.md: Members, shares, savings)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter
from sqlalchemy.orm import Session

from coop import auth, loans, members, savings
from coop.api.deps import AppState, SocietyDep, app_state, currency, parse_money
from coop.api.idempotency import respond, respond_async
from coop.api.schemas.common import LanguageCode, Page
from coop.api.schemas.members import (
    CashIn,
    CashOut,
    HoldIn,
    HoldOut,
    InterestRunIn,
    InterestRunOut,
    InterestRunReversalOut,
    MemberIn,
    MemberMatchesOut,
    MemberMatchOut,
    MemberOut,
    MemberQueryIn,
    MemberSummaryOut,
    PhoneSearchIn,
    SharePurchaseIn,
    SharePurchaseOut,
    ShareRedemptionIn,
    ShareRegisterOut,
    StatementLineOut,
    cash_out,
    hold_out,
    interest_run_out,
    interest_run_reversal_out,
    member_out,
    member_page,
    member_summary_out,
    share_purchase_out,
    share_register_out,
    statement_out,
)
from coop.api.security import allow, current_principal, own_member_or_404
from coop.auth import STAFF, Principal, Role
from coop.members import search
from coop.passbooks.dividend_statement import dividend_statement
from coop.passbooks.documents import share_certificate
from coop.passbooks.receipt import receipt as receipt_pdf
from coop.savings import interest_run, shares

A, B, C, D, M = Role.ADMIN, Role.BOARD, Role.CLERK, Role.AUDITOR, Role.MEMBER
Code = FromPath[str]
Language = Annotated[LanguageCode | None, QueryParameter(
    description="Print in this language instead of hers.")]


def _summary(state: AppState, session: Session, principal: Principal,
             code: str) -> MemberSummaryOut:
    member = members.get_member(session, code)
    known_as = None
    if principal.role is not Role.AUDITOR:  # auditors see member numbers only
        reader = members.Reader(principal.username, principal.role.value, "member summary")
        known_as = members.read_identity(session, code, fields=("known_as",), reader=reader,
                                         vault=state.identity_vault(),
                                         clock=state.clock)["known_as"]
    return member_summary_out(member, known_as=known_as,
                              holding=shares.holding(session, code),
                              balance=savings.balances(session, code),
                              loans=loans.loans_of(session, code), currency=currency(state))


async def _counter_cash(
    request: Request[Any, Any, Any], code: str, data: CashIn, service: Callable[..., Any],
    ahead: Callable[[Session, str, str], None] | None = None,
) -> Response[Any]:
    """A deposit or a withdrawal: parse the amount, run the service in the request's one
    transaction (with its Idempotency-Key), answer the entry and the balances."""
    state = app_state(request)
    principal = current_principal(request)
    amount = parse_money(state, data.amount, field="amount")
    cur = currency(state)

    def work(session: Session) -> CashOut:
        entry, balance = service(
            session, code, amount_minor=amount,
            value_date=data.value_date or state.clock.today(), actor=principal.username,
            clock=state.clock, narration=data.narration, confirmed=data.confirm_large_amount)
        return cash_out(entry.id, balance, cur)

    first = (lambda s: ahead(s, code, principal.username)) if ahead is not None else None
    return await respond_async(request, principal, data, work, ahead=first)


def _member_pdf(request: Request[Any, Any, Any], code: str, filename: str,
                render: Callable[[Session, date], bytes]) -> Response[bytes]:
    """One of her documents, rendered as of the business date; 404 to any other member."""
    state = app_state(request)
    own_member_or_404(current_principal(request), code)
    content = state.db.read(lambda s: render(s, state.clock.today()))
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


class MembersController(Controller):
    path = "/members"
    tags = ("members",)

    @post("/", opt=allow(A, C), sync_to_thread=True)
    def register(
        self, request: Request[Any, Any, Any], data: JSONBody[MemberIn]
    ) -> Response[MemberOut]:
        """Register a member: a random member number, her identity encrypted, her accounts."""
        state = app_state(request)
        principal = current_principal(request)
        identity = members.Identity(known_as=data.known_as, legal_name=data.legal_name,
                                    phone=data.phone, nominee=data.nominee)

        def work(session: Session) -> MemberOut:
            return member_out(members.register_member(
                session, identity=identity, joined_on=data.joined_on,
                vault=state.identity_vault(), clock=state.clock, language=data.language,
                passbook_known_as=data.known_as_on_passbook,
                may_backdate=principal.role is Role.ADMIN))

        return respond(request, current_principal(request), data, work)

    @get("/", opt=allow(A, B, C, D), sync_to_thread=True)
    def list(
        self, request: Request[Any, Any, Any],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=16)] = None,
    ) -> Page[MemberOut]:
        """Members by member number (numbers, status and joining dates only)."""
        state = app_state(request)
        found = state.db.read(lambda s: members.list_members(s, after=cursor, limit=limit))
        return member_page(found, limit=limit)

    @post("/search", opt=allow(A, C), sync_to_thread=True, status_code=200)
    def search(
        self, request: Request[Any, Any, Any], data: JSONBody[PhoneSearchIn]
    ) -> Response[MemberOut]:
        """Find a member by phone (in the body, never in a URL); 404 if none. Logged."""
        state = app_state(request)
        principal = current_principal(request)
        reader = members.Reader(principal.username, principal.role.value, "phone lookup")

        def work(session: Session) -> MemberOut:
            code = members.find_by_phone(session, data.phone, vault=state.identity_vault(),
                                         reader=reader, clock=state.clock)
            if code is None:
                raise members.MemberNotFound("no member has this phone number")
            return member_out(members.get_member(session, code))

        return respond(request, principal, data, work, status=200)

    @post("/find", opt=allow(A, C), sync_to_thread=True, status_code=200)
    def find(
        self, request: Request[Any, Any, Any], data: JSONBody[MemberQueryIn]
    ) -> MemberMatchesOut:
        """Every member a number, a phone (all who share it) or the words of a known-as name
        (all of them, whole words) find, through the blind indexes; each one listed is an
        identity read, logged."""
        state = app_state(request)
        principal = current_principal(request)
        reader = members.Reader(principal.username, principal.role.value, "member search")

        def work(session: Session) -> MemberMatchesOut:
            found = search.find_members(session, data.q, vault=state.identity_vault(),
                                        reader=reader, clock=state.clock)
            # in the audit trail (never the query), and never stored for a retry: the
            # answer holds names
            auth.record_audit(session, principal, action="POST /api/v1/members/find",
                              status=200, clock=state.clock)
            return MemberMatchesOut(found_by=found.by, more=found.more, items=[
                MemberMatchOut(code=m.code, status=m.status, known_as=m.known_as)
                for m in found.matches])

        return state.db.write(work)

    @post("/{code:str}/exit", opt=allow(A, B), sync_to_thread=True, status_code=200)
    def exit(self, request: Request[Any, Any, Any], code: Code) -> Response[MemberOut]:
        """Mark a member exited, once her savings and shares are paid out (409 before)."""
        state = app_state(request)

        def work(session: Session) -> MemberOut:
            return member_out(members.exit_member(session, code, clock=state.clock))

        return respond(request, current_principal(request), None, work, status=200)

    @get("/{code:str}", opt=allow(STAFF, M), sync_to_thread=True)
    def summary(self, request: Request[Any, Any, Any], code: Code) -> MemberSummaryOut:
        """The member's shares, savings (balance and available) and loans."""
        state = app_state(request)
        principal = current_principal(request)
        own_member_or_404(principal, code)
        return state.db.write(lambda s: _summary(state, s, principal, code))

    @post("/{code:str}/shares", opt=allow(A, C), sync_to_thread=True)
    def buy_shares(
        self, request: Request[Any, Any, Any], code: Code, data: JSONBody[SharePurchaseIn],
        society: SocietyDep,
    ) -> Response[SharePurchaseOut]:
        """Buy shares at the face value, for cash or from savings."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> SharePurchaseOut:
            entry, holding = shares.buy_shares(
                session, code, count=data.count, source=data.source,
                face_value_minor=society.share_face_value_minor,
                value_date=data.value_date or state.clock.today(), actor=principal.username,
                clock=state.clock, confirmed=data.confirm_large_amount)
            return share_purchase_out(entry.id, holding, society.currency)

        return respond(request, principal, data, work)

    @post("/{code:str}/share-redemptions", opt=allow(A, B), sync_to_thread=True)
    def redeem_shares(
        self, request: Request[Any, Any, Any], code: Code, data: JSONBody[ShareRedemptionIn],
        society: SocietyDep,
    ) -> Response[SharePurchaseOut]:
        """Pay shares back at the face value; an active member keeps the minimum shares."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> SharePurchaseOut:
            entry, holding = shares.redeem_shares(
                session, code, count=data.count, to=data.to,
                face_value_minor=society.share_face_value_minor,
                min_shares=society.settings.min_shares,
                value_date=data.value_date or state.clock.today(), actor=principal.username,
                clock=state.clock)
            loans.check_share_cover(session, code, society)  # 422 rolls the redemption back
            return share_purchase_out(entry.id, holding, society.currency)

        return respond(request, principal, data, work)

    @get("/{code:str}/share-certificate.pdf", opt=allow(A, C, M), sync_to_thread=True,
         media_type="application/pdf")
    def share_certificate(self, request: Request[Any, Any, Any], code: Code,
                          language: Language = None) -> Response[bytes]:
        """Her share certificate: shares held, face value, paid-up value, today; in her
        language unless `language` asks for another."""
        return _member_pdf(request, code, f"shares-{code}.pdf",
                           lambda s, today: share_certificate(s, code, printed_on=today,
                                                              language=language))

    @get("/{code:str}/receipts/{entry_id:int}/slip.pdf", opt=allow(A, C, M),
         sync_to_thread=True, media_type="application/pdf")
    def receipt(self, request: Request[Any, Any, Any], code: Code,
                entry_id: Annotated[int, PathParameter(ge=1, le=2**63 - 1)],
                size: Annotated[Literal["roll", "a6"], QueryParameter()] = "roll",
                language: Language = None) -> Response[bytes]:
        """A receipt slip for one of her entries (80 mm roll or A6), in her language, with
        a verification code that POST /passbook-checks confirms."""
        zone = app_state(request).settings.timezone
        return _member_pdf(request, code, f"receipt-{entry_id}-{code}.pdf",
                           lambda s, today: receipt_pdf(s, code, entry_id, size=size,
                                                        timezone=zone, language=language))

    @get("/{code:str}/dividends/{fy:int}/statement.pdf", opt=allow(A, C, M),
         sync_to_thread=True, media_type="application/pdf")
    def dividend_statement(self, request: Request[Any, Any, Any], code: Code,
                           fy: Annotated[int, PathParameter(ge=1900, le=9998)],
                           language: Language = None) -> Response[bytes]:
        """Her share of a year's declared dividend and rebate."""
        return _member_pdf(request, code, f"dividend-{fy}-{code}.pdf",
                           lambda s, today: dividend_statement(s, fy, code, printed_on=today,
                                                               language=language))

    @post("/{code:str}/deposits", opt=allow(A, C))
    async def deposit(
        self, request: Request[Any, Any, Any], code: Code, data: JSONBody[CashIn]
    ) -> Response[CashOut]:
        """Cash paid in at the counter, of any size."""
        return await _counter_cash(request, code, data, savings.record_deposit,
                                   savings.read_deposit_ahead)

    @post("/{code:str}/withdrawals", opt=allow(A, C))
    async def withdraw(
        self, request: Request[Any, Any, Any], code: Code, data: JSONBody[CashIn]
    ) -> Response[CashOut]:
        """Cash paid out, never more than the available balance (422 otherwise)."""
        return await _counter_cash(request, code, data, savings.record_withdrawal,
                                   savings.read_withdrawal_ahead)

    @get("/{code:str}/savings/transactions", opt=allow(STAFF, M), sync_to_thread=True)
    def transactions(
        self, request: Request[Any, Any, Any], code: Code,
        from_on: Annotated[date | None, QueryParameter(name="from")] = None,
        to_on: Annotated[date | None, QueryParameter(name="to")] = None,
    ) -> Page[StatementLineOut]:
        """The member's savings entries with the running balance after each."""
        state = app_state(request)
        own_member_or_404(current_principal(request), code)
        lines = state.db.read(lambda s: savings.statement(s, code, from_on=from_on,
                                                          to_on=to_on))
        return statement_out(lines, currency(state))

    @post("/{code:str}/holds", opt=allow(A), sync_to_thread=True)
    def place_hold(
        self, request: Request[Any, Any, Any], code: Code, data: JSONBody[HoldIn]
    ) -> Response[HoldOut]:
        """Set part of the savings aside (a lien): it stays hers but cannot be withdrawn."""
        state = app_state(request)
        principal = current_principal(request)
        amount = parse_money(state, data.amount, field="amount")
        cur = currency(state)

        def work(session: Session) -> HoldOut:
            hold = savings.place_hold(session, code, amount_minor=amount, reason=data.reason,
                                      actor=principal.username, clock=state.clock)
            return hold_out(hold, released=False, currency=cur)

        return respond(request, principal, data, work)

    @post("/{code:str}/holds/{hold_id:int}/release", opt=allow(A), sync_to_thread=True,
          status_code=200)
    def release_hold(
        self, request: Request[Any, Any, Any], code: Code, hold_id: FromPath[int]
    ) -> Response[HoldOut]:
        state = app_state(request)
        cur = currency(state)

        def work(session: Session) -> HoldOut:
            hold = savings.release_hold(session, code, hold_id, clock=state.clock)
            return hold_out(hold, released=True, currency=cur)

        return respond(request, current_principal(request), None, work, status=200)


class SharesController(Controller):
    path = "/shares"
    tags = ("members",)

    @get("/register", opt=allow(A, B, D), sync_to_thread=True)
    def register(
        self, request: Request[Any, Any, Any],
        as_of: Annotated[date | None, QueryParameter()] = None,
    ) -> ShareRegisterOut:
        """Shares held by each member at the end of a day (member numbers only)."""
        state = app_state(request)
        on = as_of or state.clock.today()
        lines = state.db.read(lambda s: shares.share_register(s, as_of=on))
        return share_register_out(lines, as_of=on)


class SavingsController(Controller):
    path = "/savings"
    tags = ("savings",)

    @post("/interest-runs", opt=allow(A), sync_to_thread=True)
    def post_interest(
        self, request: Request[Any, Any, Any], data: JSONBody[InterestRunIn],
        society: SocietyDep,
    ) -> Response[InterestRunOut]:
        """Post interest on every savings account for a period that has ended (idempotent
        per period; a period overlapping a posted one is 409)."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> InterestRunOut:
            rules = interest_run.interest_rules(session)
            run = interest_run.post_interest(
                session,
                start=data.period_start or interest_run.default_start(session, data.through),
                through=data.through, rate_percent=rules.rate_percent,
                min_balance_minor=rules.min_balance_minor,
                actor=principal.username, clock=state.clock)
            return interest_run_out(run, society.currency)

        return respond(request, principal, data, work)

    @get("/interest-runs", opt=allow(A, B, D), sync_to_thread=True)
    def interest_runs(
        self, request: Request[Any, Any, Any], society: SocietyDep,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    ) -> Page[InterestRunOut]:
        """The interest runs, the latest period first, reversed ones too (with their ids)."""
        state = app_state(request)
        runs = state.db.read(interest_run.interest_runs)
        return Page(items=[interest_run_out(run, society.currency) for run in runs[:limit]])

    @post("/interest-runs/{run_id:int}/reversal", opt=allow(A), sync_to_thread=True)
    def reverse_interest_run(
        self, request: Request[Any, Any, Any],
        run_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
    ) -> Response[InterestRunReversalOut]:
        """Undo an interest run as a whole: every entry reversed on its date, the run marked
        reversed so its period may be run again; 409 in a closed period, while a later run
        stands, or where a member's savings no longer hold the interest."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> InterestRunReversalOut:
            return interest_run_reversal_out(interest_run.reverse_interest_run(
                session, run_id, actor=principal.username, clock=state.clock))

        return respond(request, principal, None, work)
