"""The counter pages of a clerk (and an admin), and a member's own page: log in, find a
member by number, her page (shares, savings and what is available, open loans with the next
amount due and days past due, her last ten entries), deposits, withdrawals, shares, a loan
repayment shown allocated before it is confirmed, registering a member, and printing her
passbook into her book. Plain HTML forms: everything works without JavaScript."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.params import FromPath, FromQuery, PathParameter
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from coop import auth, corrections, loans, members, savings
from coop.api.counter import limits
from coop.api.counter.web import (
    LOGIN_CSRF_COOKIE,
    LOGIN_FORM,
    Form,
    LoanId,
    Page,
    field_errors,
    new_login_csrf,
    page,
    write,
)
from coop.api.deps import AppState, app_state, log_in
from coop.api.security import (
    PUBLIC,
    SESSION_COOKIE,
    allow,
    current_principal,
    own_member_or_404,
)
from coop.auth import ANYONE, Principal, Role
from coop.errors import CoopError, InvalidInput, NotFound
from coop.i18n import Translator
from coop.money import count_formatter, format_minor, parse_typed
from coop.passbooks import books
from coop.passbooks.loan_card import loan_card
from coop.passbooks.papers import papers_of
from coop.passbooks.passbook import member_passbook
from coop.passbooks.receipt import receipt
from coop.savings import shares
from coop.society import require_society
from coop.society.limits import AboveCounterMaximum, LargeAmountNotConfirmed

A, C, M = Role.ADMIN, Role.CLERK, Role.MEMBER
Code = FromPath[str]
EntryId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
LAST_ENTRIES = 10
STYLESHEET = (Path(__file__).parent / "static" / "counter.css").read_text()


def _member_view(state: AppState, session: Session, principal: Principal,
                 code: str, language: str) -> dict[str, Any]:
    """Everything her page shows, read in one transaction (her name read is logged), with
    her passbook's words in the page's `language`."""
    member = members.get_member(session, code)
    reader = members.Reader(principal.username, principal.role.value, "counter: member page")
    known_as = members.read_identity(session, code, fields=("known_as",), reader=reader,
                                     vault=state.identity_vault(),
                                     clock=state.clock)["known_as"]
    today = state.clock.today()
    open_loans, approved = [], []
    society = require_society(session)
    settings = society.settings
    for loan in loans.loans_of(session, code):
        if loan.status == "approved":
            approved.append(loan)
        if loan.status != "active":
            continue
        position = loans.position_of(session, loan, as_of=today)
        if position is None:
            continue
        open_loans.append({"id": loan.id, "product": loan.product.name,
                           "outstanding": position.outstanding_principal,
                           "due_now": position.due_now, "days_past_due": position.days_past_due,
                           "due_now_text": format_minor(position.due_now, society.currency)
                           if position.due_now > 0 else "",
                           "next_due_on": position.first_unpaid_due,
                           "payoff": position.payoff})
    lines = books.ledger_lines(session, code, Translator(language),
                               count=count_formatter(society.locale))
    book = books.state(session, member, settings, len(lines))
    shown = list(reversed(lines[-LAST_ENTRIES:]))
    settled = (corrections.not_correctable(session, [line.entry_id for line in shown])
               if principal.role in (A, C) else set())
    return {"member": member, "known_as": known_as, "balance": savings.balances(session, code),
            "holding": shares.holding(session, code), "loans": open_loans,
            "approved": approved, "entries": shown, "settled": settled, "book": book,
            "print_made": books.produced(session, member.id, serial=book.book.serial,
                                         through=book.available),
            "papers": papers_of(session, member, society)}


def _settings(session: Session) -> Any:
    return require_society(session).settings


def _member_page(request: Request[Any, Any, Any], code: str, *, errors: dict[str, Any] | None
                 = None, status: int = 200, **extra: Any) -> Template:
    view = page(request)
    assert view.principal is not None
    own_member_or_404(view.principal, code)
    state = app_state(request)
    data = state.db.write(lambda s: _member_view(state, s, view.principal,  # type: ignore[arg-type]
                                                 code, view.lang))
    return _member_template(request, view, data, errors=errors, status=status, **extra)


def _member_template(request: Request[Any, Any, Any], view: Page, data: dict[str, Any], *,
                     errors: dict[str, Any] | None = None, status: int = 200,
                     **extra: Any) -> Template:
    view.errors = errors or {}
    view.notice = request.query_params.get("done")
    slip = request.query_params.get("receipt", "")
    view.receipt = int(slip) if slip.isdigit() and len(slip) < 19 else None
    staff = view.principal is not None and view.principal.role in (A, C)
    return Template("member.html", context=view.context(**data, **extra, staff=staff),
                    status_code=status)


def _amount(view: Page, form: dict[str, Any], name: str = "amount") -> int:
    """The amount as typed: grouped digits ("1,00,000") and the currency symbol allowed,
    anything ambiguous ("1,5") refused next to the field."""
    return parse_typed(str(form.get(name, "")), view.society.currency, view.society.locale,
                       field=name)


class CounterController(Controller):
    path = "/counter"
    include_in_schema = False

    @get("/counter.css", opt=PUBLIC, sync_to_thread=False, media_type="text/css")
    def stylesheet(self) -> Response[str]:
        """Large type, black on white (kept for a day by the browser: slow lines)."""
        return Response(STYLESHEET, media_type="text/css",
                        headers={"Cache-Control": "public, max-age=86400"})

    @get("/login", opt=PUBLIC, sync_to_thread=True)
    def login_form(self, request: Request[Any, Any, Any]) -> Template:
        view = page(request, anonymous=True)
        csrf = new_login_csrf()
        response = Template("login.html", context=view.context(login_csrf=csrf))
        response.set_cookie(LOGIN_CSRF_COOKIE, csrf, path="/counter", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    @post("/login", opt=LOGIN_FORM, sync_to_thread=True, status_code=303)
    def login(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        state = app_state(request)
        username, password = str(data.get("username", "")), str(data.get("password", ""))
        address = request.client.host if request.client else "unknown"
        try:
            token, _, expires_at = log_in(state, username=username, password=password,
                                          address=address)
        except CoopError as error:
            view = page(request, anonymous=True)
            view.errors = {"password": error}
            csrf = new_login_csrf()
            response: Response[Any] = Template(
                "login.html", context=view.context(login_csrf=csrf, username=username),
                status_code=401 if isinstance(error, auth.LoginFailed) else 429)
            response.set_cookie(LOGIN_CSRF_COOKIE, csrf, path="/counter", httponly=True,
                                samesite="strict", secure=request.url.scheme == "https")
            return response
        response = Redirect("/counter/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, path="/counter", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https",
                            max_age=int((expires_at - state.clock.now()).total_seconds()))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/counter")
        return response

    @post("/logout", opt=allow(ANYONE), sync_to_thread=True, status_code=303)
    def logout(self, request: Request[Any, Any, Any], data: Form) -> Redirect:
        state = app_state(request)
        view = page(request)
        token_id = view.principal.token_id if view.principal else None
        if token_id is not None:
            state.db.write(lambda s: auth.revoke_token(s, token_id, clock=state.clock))
        state.principals.clear()
        response = Redirect("/counter/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/counter")
        return response

    @get("/", opt=allow(ANYONE), sync_to_thread=True)
    def home(self, request: Request[Any, Any, Any]) -> Response[Any]:
        view = page(request)
        assert view.principal is not None
        if view.principal.role is Role.MEMBER and view.principal.member_code:
            return Redirect(f"/counter/members/{view.principal.member_code}")
        if view.principal.role is Role.BOARD:
            return Redirect("/counter/board")
        if view.principal.role is Role.AUDITOR:
            return Redirect("/counter/audit")
        return Template("find.html", context=view.context(code=""))

    @get("/members/{code:str}", opt=allow(A, C, M), sync_to_thread=True)
    def member(self, request: Request[Any, Any, Any], code: Code) -> Template:
        return _member_page(request, code)

    @post("/members/{code:str}/deposit", opt=allow(A, C), sync_to_thread=True,
          status_code=303)
    def deposit(self, request: Request[Any, Any, Any], code: Code,
                data: Form) -> Response[Any]:
        return self._cash(request, code, data, "deposit")

    @post("/members/{code:str}/withdrawal", opt=allow(A, C), sync_to_thread=True,
          status_code=303)
    def withdrawal(self, request: Request[Any, Any, Any], code: Code,
                   data: Form) -> Response[Any]:
        return self._cash(request, code, data, "withdrawal")

    def _cash(self, request: Request[Any, Any, Any], code: str, data: dict[str, Any],
              kind: str) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        service = savings.record_deposit if kind == "deposit" else savings.record_withdrawal
        try:
            amount = _amount(view, data)
            entry, balance = write(request, lambda s: service(
                s, code, amount_minor=amount, value_date=state.clock.today(),
                actor=view.principal.username, clock=state.clock,  # type: ignore[union-attr]
                key=str(data.get("key", "")) or None, confirmed=limits.confirmed(data)))
        except CoopError as error:
            if isinstance(error, members.MemberNotFound):
                raise NotFoundException() from error
            if isinstance(error, LargeAmountNotConfirmed):
                return _member_page(request, code, large=limits.confirmation(
                    view, action=f"/counter/members/{code}/{kind}", amount_minor=amount,
                    what=view.tr("Deposit") if kind == "deposit" else view.tr("Withdrawal"),
                    fields={"key": str(data.get("key", "")),
                            "amount": str(data.get("amount", "")).strip()}))
            if isinstance(error, AboveCounterMaximum):
                return _member_page(request, code, errors={
                    f"{kind}_amount": limits.ceiling_text(view)}, status=422,
                    form={kind: data})
            return _member_page(request, code, errors={
                f"{kind}_{k}": v for k, v in field_errors(error, "amount").items()},
                status=422, form={kind: data})
        words = "Deposited {amount}." if kind == "deposit" else "Paid out {amount}."
        return _done(code, view.tr(words, amount=view.money(amount)) + " " +
                     view.tr("Balance {balance}.", balance=view.money(balance.balance_minor)),
                     receipt=entry.id)

    @post("/members/{code:str}/shares", opt=allow(A, C), sync_to_thread=True,
          status_code=303)
    def buy_shares(self, request: Request[Any, Any, Any], code: Code,
                   data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)
        assert view.principal is not None
        try:
            count = int(str(data.get("count", "")).strip() or "0")
        except ValueError:
            count = 0
        source = "savings" if data.get("source") == "savings" else "cash"
        try:
            if count < 1:
                raise InvalidInput(view.tr("Buy at least one share."), field="count")
            entry, holding = write(request, lambda s: shares.buy_shares(
                s, code, count=count, source=source,  # type: ignore[arg-type]
                face_value_minor=view.society.share_face_value_minor,
                value_date=state.clock.today(), actor=view.principal.username,  # type: ignore[union-attr]
                clock=state.clock, key=str(data.get("key", "")) or None,
                confirmed=limits.confirmed(data)))
        except CoopError as error:
            if isinstance(error, LargeAmountNotConfirmed):
                return _member_page(request, code, large=limits.confirmation(
                    view, action=f"/counter/members/{code}/shares", what=view.tr("Buy shares"),
                    amount_minor=count * view.society.share_face_value_minor,
                    fields={"key": str(data.get("key", "")), "count": str(count),
                            "source": source}))
            if isinstance(error, AboveCounterMaximum):
                error = InvalidInput(limits.ceiling_text(view), field="count")
            return _member_page(request, code, errors={
                f"shares_{k}": v for k, v in field_errors(error, "count").items()},
                status=422, form={"shares": data})
        return _done(code, view.tr("She now has {count} shares.", count=holding.count),
                     receipt=entry.id)

    @post("/loans/{loan_id:int}/repayment", opt=allow(A, C), sync_to_thread=True,
          status_code=303)
    def repayment(self, request: Request[Any, Any, Any], loan_id: LoanId,
                  data: Form) -> Response[Any]:
        """First the allocation is shown; only a second post with `confirm` takes it. Each
        step is one transaction (the preview and her page together), and the loan is replayed
        once: the confirmation and her page after it reuse the preview's replay."""
        if not data.get("confirm"):
            return _repayment_preview(request, loan_id, data)
        state, principal = app_state(request), current_principal(request)
        today = state.clock.today()

        def take(session: Session) -> tuple[Page, str, int, loans.Repayment]:
            view = Page(request, require_society(session), principal)
            code = loans.member_code_of(session, loan_id)
            amount = _amount(view, data)
            return view, code, amount, loans.repay(
                session, loan_id, amount_minor=amount, source=_source(data), on=today,
                actor=principal.username, clock=state.clock,
                key=str(data.get("key", "")) or None, confirmed=limits.confirmed(data))

        try:
            view, code, amount, paid = write(request, take)
        except CoopError as error:
            code = state.db.read(lambda s: loans.member_code_of(s, loan_id))
            return _member_page(request, code, errors={
                f"repay_{loan_id}_{k}": v for k, v in field_errors(error, "amount").items()},
                status=422)
        words = ("Loan {loan}: {amount} taken from her savings; {outstanding} left to repay."
                 if _source(data) == "savings" else
                 "Loan {loan}: {amount} received; {outstanding} left to repay.")
        return _done(code, view.tr(words, loan=loan_id, amount=view.money(amount),
                                   outstanding=view.money(
                                       paid.position.outstanding_principal)),
                     receipt=paid.entry.id)

    @post("/loans/{loan_id:int}/disbursement", opt=allow(A, C), sync_to_thread=True,
          status_code=303)
    def disbursement(self, request: Request[Any, Any, Any], loan_id: LoanId,
                     data: Form) -> Response[Any]:
        """Pay an approved loan out, in cash or into her savings (once: a second press finds
        the loan already paid out and says so)."""
        view, state = page(request), app_state(request)
        assert view.principal is not None
        to = "savings" if data.get("to") == "savings" else "cash"
        code = state.db.read(lambda s: loans.standing(s, loan_id, as_of=state.clock.today())
                             .loan.member_code)
        try:
            entry, loan = write(request, lambda s: loans.disburse(
                s, loan_id, to=to, on=state.clock.today(),  # type: ignore[arg-type]
                actor=view.principal.username, clock=state.clock))  # type: ignore[union-attr]
        except CoopError as error:
            return _member_page(request, code, errors={"counter": error},
                                status=409 if error.kind == "conflict" else 422)
        words = "Loan {loan}: {amount} paid into her savings." if to == "savings" else \
            "Loan {loan}: {amount} paid out in cash."
        return _done(code, view.tr(words, loan=loan_id, amount=view.money(
            loan.principal_minor - loan.fee_minor)), receipt=entry.id)

    @get("/members/{code:str}/passbook.pdf", opt=allow(A, C, M), sync_to_thread=True)
    def passbook_pdf(self, request: Request[Any, Any, Any], code: Code,
                     whole: FromQuery[bool] = False) -> Response[bytes]:
        """What her book lacks (or, `whole`, every book), to print."""
        view, state = page(request), app_state(request)
        assert view.principal is not None
        own_member_or_404(view.principal, code)
        reader = members.Reader(view.principal.username, view.principal.role.value,
                                "counter: passbook printed")
        mode = "all" if whole or view.principal.role is M else "continue"
        printout = state.db.write(lambda s: member_passbook(
            s, code, printed_on=state.clock.today(), mode=mode, vault=state.identity_vault(),
            reader=reader, clock=state.clock))
        return Response(printout.pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="passbook-{code}.pdf"',
            "Cache-Control": "no-store"})

    @get("/members/{code:str}/receipts/{entry_id:int}/slip.pdf", opt=allow(A, C, M),
         sync_to_thread=True)
    def receipt_pdf(self, request: Request[Any, Any, Any], code: Code, entry_id: EntryId,
                    size: FromQuery[Literal["roll", "a6"]] = "roll") -> Response[bytes]:
        """The receipt slip of one of her entries, in her language, to print."""
        view, state = page(request), app_state(request)
        assert view.principal is not None
        own_member_or_404(view.principal, code)
        try:
            content = state.db.read(lambda s: receipt(
                s, code, entry_id, size=size, timezone=state.settings.timezone))
        except NotFound as error:
            raise NotFoundException() from error
        return Response(content, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="receipt-{entry_id}.pdf"',
            "Cache-Control": "no-store"})

    @get("/loans/{loan_id:int}/card.pdf", opt=allow(A, C, M), sync_to_thread=True)
    def loan_card_pdf(self, request: Request[Any, Any, Any],
                      loan_id: LoanId) -> Response[bytes]:
        return _loan_card(request, loan_id)

    @post("/members/{code:str}/passbook/printed", opt=allow(A, C), sync_to_thread=True,
          status_code=303)
    def passbook_printed(self, request: Request[Any, Any, Any], code: Code,
                         data: Form) -> Response[Any]:
        view, state = page(request), app_state(request)

        def confirm(session: Session, serial: str, through: int) -> books.BookState:
            member = members.get_member(session, code)
            if not books.produced(session, member.id, serial=serial, through=through):
                raise books.PassbookStale.said(
                    "Print the new lines first, then say whether they printed right.",
                    field="book")
            return books.confirm_printed(
                session, code, serial=serial, through=through, settings=view.society.settings,
                actor=view.principal.username if view.principal else "counter",
                clock=state.clock)

        try:
            through = int(str(data.get("through", "")))
            now = write(request, lambda s: confirm(s, str(data.get("book", "")), through))
        except (CoopError, ValueError) as error:
            refusal = error if isinstance(error, CoopError) else view.tr(
                "Type the last line printed as a whole number.")
            return _member_page(request, code, errors={"passbook": refusal}, status=409)
        return _done(code, view.tr("Passbook printed: next on page {page}, line {line}.",
                                   page=now.next_page, line=now.next_row))


def _loan_card(request: Request[Any, Any, Any], loan_id: LoanId) -> Response[bytes]:
    view, state = page(request), app_state(request)
    assert view.principal is not None

    def read(session: Session) -> bytes:
        owner = loans.standing(session, loan_id, as_of=state.clock.today()).loan.member_code
        own_member_or_404(view.principal, owner)  # type: ignore[arg-type]
        return loan_card(session, loan_id, printed_on=state.clock.today())

    try:
        content = state.db.read(read)
    except loans.LoanNotFound as error:
        raise NotFoundException() from error
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="loan-{loan_id}.pdf"',
        "Cache-Control": "no-store"})


def _repayment_preview(request: Request[Any, Any, Any], loan_id: int,
                       data: dict[str, Any]) -> Template:
    """Her page with the payment shown allocated (or refused next to the amount), read in
    one transaction: nothing is taken."""
    state, principal = app_state(request), current_principal(request)

    def look(session: Session) -> tuple[Page, dict[str, Any], dict[str, Any]]:
        view = Page(request, require_society(session), principal)
        code = loans.member_code_of(session, loan_id)
        own_member_or_404(principal, code)
        extra: dict[str, Any] = {}
        try:  # a preview writes nothing: a refusal leaves the transaction as it was
            amount = _amount(view, data)
            confirm_above, ceiling = limits.limits(view)
            if amount > ceiling:
                raise InvalidInput(limits.ceiling_text(view), field="amount")
            allocation, position = loans.preview_repayment(
                session, loan_id, amount_minor=amount, on=state.clock.today())
            extra["preview"] = {
                "loan": loan_id, "amount": amount, "text": str(data.get("amount")),
                "allocation": allocation, "after": position.outstanding_principal,
                "key": str(data.get("key", "")), "source": _source(data),
                "large": limits.words(view, amount) if amount > confirm_above else None}
        except CoopError as error:
            extra["errors"] = {f"repay_{loan_id}_{k}": v
                               for k, v in field_errors(error, "amount").items()}
            extra["status"] = 422
        return view, _member_view(state, session, principal, code, view.lang), extra

    view, member, extra = state.db.write(look)
    return _member_template(request, view, member, **extra)


def _source(form: dict[str, Any]) -> Literal["cash", "savings"]:
    """Where a repayment comes from: her savings, or cash (the default)."""
    return "savings" if form.get("source") == "savings" else "cash"


def _done(code: str, notice: str, receipt: int | None = None) -> Redirect:
    """After a post, the member page again (a reload does not post twice), offering a
    receipt for the entry just posted."""
    from urllib.parse import quote

    slip = f"&receipt={receipt}" if receipt else ""
    return Redirect(f"/counter/members/{code}?done={quote(notice)}{slip}", status_code=303)


def unauthenticated(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return Redirect("/counter/login", status_code=303)


def refused(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """403 and 404 as a page in words (a member asking for another's page gets 404)."""
    status = 404 if isinstance(error, NotFoundException) else 403
    view = page(request, anonymous=True)
    title = view.tr("Not found") if status == 404 else view.tr("Not allowed")
    detail = getattr(error, "detail", "") if status == 403 else ""
    return Template("message.html", status_code=status,
                    context=view.context(title=title, message=detail or title))


def trouble(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """Anything else the services refuse, or a storage that cannot write, as a page in words
    with the API's status (the forms catch what belongs next to a field)."""
    from coop.api.problems import STATUS_BY_KIND

    status = STATUS_BY_KIND.get(getattr(error, "kind", "invalid"), 422)
    view = page(request, anonymous=True)
    return Template("message.html", status_code=status, context=view.context(
        title=view.tr("That could not be done"), message=getattr(error, "detail", "")))


CounterController.exception_handlers = {
    NotAuthorizedException: unauthenticated, PermissionDeniedException: refused,
    NotFoundException: refused, members.MemberNotFound: refused, CoopError: trouble}

__all__ = ["CounterController"]
