"""Her passbook: printing it (whole, one book, or continuing her open book), confirming a
print, a duplicate for a lost book, her language, and checking a scanned verification code."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.orm import Session

from coop import members
from coop.api.deps import SocietyDep, app_state
from coop.api.idempotency import respond
from coop.api.schemas.passbooks import (
    PassbookCheckIn,
    PassbookCheckOut,
    PassbookDuplicateIn,
    PassbookOut,
    PassbookPrintedIn,
    PreferencesIn,
    PreferencesOut,
    passbook_check_out,
    passbook_out,
    preferences_out,
)
from coop.api.security import allow, current_principal, own_member_or_404
from coop.auth import Role
from coop.passbooks import books, verification
from coop.passbooks.passbook import member_passbook

A, B, C, D, M = Role.ADMIN, Role.BOARD, Role.CLERK, Role.AUDITOR, Role.MEMBER
Code = FromPath[str]


class PassbooksController(Controller):
    path = "/members"
    tags = ("passbooks",)

    @get("/{code:str}/passbook.pdf", opt=allow(A, C, M), sync_to_thread=True,
         media_type="application/pdf")
    def passbook(
        self, request: Request[Any, Any, Any], code: Code,
        continue_: Annotated[bool, QueryParameter(name="continue")] = False,
        book: Annotated[int | None, QueryParameter(ge=1, le=10_000)] = None,
    ) -> Response[bytes]:
        """Her passbook: every book (default), one `book`, or with `continue=true` only the
        lines her open book lacks, each at its place, for the clerk to feed the same book back
        into the printer. Then POST .../passbook/printed with the `Coop-Passbook-Book` and
        `Coop-Passbook-Through` headers of this response."""
        state = app_state(request)
        principal = current_principal(request)
        own_member_or_404(principal, code)
        reader = members.Reader(principal.username, principal.role.value, "passbook printed")
        mode = "continue" if continue_ else "book" if book is not None else "all"
        printout = state.db.write(lambda s: member_passbook(
            s, code, printed_on=state.clock.today(), mode=mode, book_number=book,
            vault=state.identity_vault(), reader=reader, clock=state.clock))
        headers = {"Content-Disposition": f'inline; filename="passbook-{code}.pdf"',
                   "Cache-Control": "no-store"}
        if continue_:
            headers |= {"Coop-Passbook-Book": printout.book,
                        "Coop-Passbook-Through": str(printout.through),
                        "Coop-Passbook-Remaining": str(printout.remaining)}
        return Response(printout.pdf, media_type="application/pdf", headers=headers)

    @get("/{code:str}/passbook", opt=allow(A, C, M), sync_to_thread=True)
    def open_book(self, request: Request[Any, Any, Any], code: Code,
                  society: SocietyDep) -> PassbookOut:
        """Her open book and how far it is printed."""
        state = app_state(request)
        own_member_or_404(current_principal(request), code)

        def read(session: Session) -> PassbookOut:
            member = members.get_member(session, code)
            return passbook_out(code, books.state(session, member, society.settings))

        return state.db.read(read)

    @post("/{code:str}/passbook/printed", opt=allow(A, C), sync_to_thread=True,
          status_code=200)
    def printed(self, request: Request[Any, Any, Any], code: Code,
                data: JSONBody[PassbookPrintedIn], society: SocietyDep) -> Response[PassbookOut]:
        """The print came out right: her book is printed through line `through`. Saying it
        twice changes nothing; a full book opens her continuation book."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> PassbookOut:
            return passbook_out(code, books.confirm_printed(
                session, code, serial=data.book, through=data.through,
                settings=society.settings, actor=principal.username,
                clock=state.clock))

        return respond(request, principal, data, work, status=200)

    @post("/{code:str}/passbook/duplicate", opt=allow(A), sync_to_thread=True)
    def duplicate(self, request: Request[Any, Any, Any], code: Code,
                  data: JSONBody[PassbookDuplicateIn],
                  society: SocietyDep) -> Response[PassbookOut]:
        """Her open book was lost or spoiled: a duplicate replaces it (admin only). Its next
        print repeats every line of the old book, marked DUPLICATE."""
        state = app_state(request)
        principal = current_principal(request)

        def work(session: Session) -> PassbookOut:
            return passbook_out(code, books.issue_duplicate(
                session, code, because=data.because, settings=society.settings,
                actor=principal.username, clock=state.clock))

        return respond(request, principal, data, work)

    @put("/{code:str}/preferences", opt=allow(A, C), sync_to_thread=True)
    def preferences(self, request: Request[Any, Any, Any], code: Code,
                    data: JSONBody[PreferencesIn],
                    society: SocietyDep) -> Response[PreferencesOut]:
        """Her language for documents (null: the society's) and whether her known-as name
        is printed on her passbook's front page."""
        principal = current_principal(request)
        given = data.model_fields_set

        def work(session: Session) -> PreferencesOut:
            changes: dict[str, Any] = {}
            if "language" in given:
                changes["language"] = data.language
            if "known_as_on_passbook" in given and data.known_as_on_passbook is not None:
                changes["passbook_known_as"] = data.known_as_on_passbook
            member = members.set_preferences(session, code, **changes)
            return preferences_out(member, society)

        return respond(request, principal, data, work, status=200)

    @get("/{code:str}/preferences", opt=allow(A, C, M), sync_to_thread=True)
    def get_preferences(self, request: Request[Any, Any, Any], code: Code,
                        society: SocietyDep) -> PreferencesOut:
        state = app_state(request)
        own_member_or_404(current_principal(request), code)
        return state.db.read(lambda s: preferences_out(members.get_member(s, code), society))


class PassbookChecksController(Controller):
    path = "/passbook-checks"
    tags = ("passbooks",)

    @post("/", opt=allow(A, B, D), sync_to_thread=True, status_code=200)
    def check(self, request: Request[Any, Any, Any],
              data: JSONBody[PassbookCheckIn]) -> PassbookCheckOut:
        """Check a scanned verification code against the books: the member, the book (or
        document) and the chain head it names must all be there."""
        state = app_state(request)
        result = state.db.read(lambda s: verification.check(s, data.code))
        return passbook_check_out(result)
