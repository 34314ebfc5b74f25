"""Loan classification and provisioning (CONTRACT.md Loans): the loans by class and the
provision they require, the provisioning runs, the board's loss marks, and the member-wise
schedule of loans outstanding behind the balance sheet."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody, PathParameter, QueryParameter
from sqlalchemy.orm import Session

from coop import members
from coop.api.controllers.statements import file_response
from coop.api.deps import AppState, SocietyDep, app_state, currency
from coop.api.idempotency import respond
from coop.api.schemas.common import Page
from coop.api.schemas.provisioning import (
    ClassificationOut,
    LoanScheduleOut,
    LossMarkIn,
    LossMarkOut,
    ProvisioningRunIn,
    ProvisioningRunOut,
    classification_out,
    loan_schedule_out,
    loss_mark_out,
    provisioning_run_out,
    provisioning_runs_out,
)
from coop.api.security import allow, current_principal
from coop.auth import Principal, Role
from coop.errors import Forbidden, InvalidInput
from coop.loans import losses, provisioning
from coop.passbooks import accounts

A, B, D = Role.ADMIN, Role.BOARD, Role.AUDITOR
LoanId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
AsOf = Annotated[date | None, QueryParameter()]


def report_day(state: AppState, as_of: date | None) -> date:
    """The day a report is seen on: the business date, or an earlier day asked for."""
    day = as_of or state.clock.today()
    if day > state.clock.today():
        raise InvalidInput("as_of may not be after the business date", field="as_of")
    return day


class ProvisioningController(Controller):
    path = "/reports"
    tags = ("reports",)

    @get("/loan-classification", opt=allow(A, B, D), sync_to_thread=True)
    def classification(self, request: Request[Any, Any, Any],
                       as_of: AsOf = None) -> ClassificationOut:
        """Loans by class (standard, sub_standard, doubtful_1-3, loss) on a day, with the
        provision each class requires at the society's percents."""
        state = app_state(request)
        day = report_day(state, as_of)
        found = state.db.read(lambda s: provisioning.classification_on(s, day))
        return classification_out(found, currency(state))

    @post("/provisioning-runs", opt=allow(A), sync_to_thread=True)
    def run(self, request: Request[Any, Any, Any],
            data: JSONBody[ProvisioningRunIn]) -> Response[ProvisioningRunOut]:
        """Book the provision required on `as_of`: one entry of the change between 5210 and
        1190 (201); the same day again answers the first run (200) and posts nothing; a day
        before the latest run is 409; a day in a closed year or after today is 422."""
        state = app_state(request)
        principal = current_principal(request)
        cur = currency(state)
        replayed: list[bool] = []

        def work(session: Session) -> ProvisioningRunOut:
            run = provisioning.run_provisioning(session, as_of=data.as_of,
                                                actor=principal.username, clock=state.clock)
            replayed.append(run.replayed)
            return provisioning_run_out(run, cur)

        return respond(request, principal, data, work,
                       status_of=lambda: 200 if replayed[-1] else 201)

    @get("/provisioning-runs", opt=allow(A, B, D), sync_to_thread=True)
    def runs(self, request: Request[Any, Any, Any]) -> Page[ProvisioningRunOut]:
        """Every provisioning run, the latest day first."""
        state = app_state(request)
        return provisioning_runs_out(state.db.read(provisioning.provisioning_runs),
                                     currency(state))

    @get("/schedules/loans", opt=allow(A, B, D), sync_to_thread=True)
    def loans_schedule(
        self, request: Request[Any, Any, Any], as_of: AsOf = None,
        names: Annotated[bool, QueryParameter(
            description="Her known-as name beside her number (admin, board; each read is "
                        "logged).")] = False,
    ) -> LoanScheduleOut:
        """Member-wise loans outstanding on a day: member number, loan, product, paid out
        on, principal outstanding, days overdue, class and provision."""
        state = app_state(request)
        principal = current_principal(request)
        day = report_day(state, as_of)
        cur = currency(state)
        if names and principal.role not in (A, B):
            raise Forbidden("names are shown to the admin and the board only; the schedule "
                            "is by member number")

        def read(session: Session) -> LoanScheduleOut:
            lines = provisioning.loans_schedule(session, day)
            known = _names(state, session, principal, {x.member_code for x in lines}) \
                if names else None
            return loan_schedule_out(day, lines, cur, known)

        return state.db.write(read) if names else state.db.read(read)


def _names(state: AppState, session: Session, principal: Principal,
           codes: set[str]) -> dict[str, str | None]:
    """Each member's known-as name, every read written to the access log."""
    reader = members.Reader(principal.username, principal.role.value, "loans schedule")
    return {code: members.read_identity(session, code, fields=("known_as",), reader=reader,
                                        vault=state.identity_vault(),
                                        clock=state.clock)["known_as"]
            for code in sorted(codes)}


class LossMarksController(Controller):
    path = "/loans"
    tags = ("loans",)

    @post("/{loan_id:int}/loss-mark", opt=allow(A, B), sync_to_thread=True)
    def mark(self, request: Request[Any, Any, Any], loan_id: LoanId,
             data: JSONBody[LossMarkIn]) -> Response[LossMarkOut]:
        """The board marks an active loan a loss (class `loss` whatever its days overdue)
        from `on` (default today); no money moves until the next provisioning run."""
        state = app_state(request)
        principal = current_principal(request)
        return respond(request, principal, data, lambda s: loss_mark_out(losses.mark_loss(
            s, loan_id, reason=data.reason, on=data.on, actor=principal.username,
            clock=state.clock)))

    @post("/{loan_id:int}/loss-mark/reversal", opt=allow(A, B), sync_to_thread=True)
    def reverse(self, request: Request[Any, Any, Any], loan_id: LoanId,
                data: JSONBody[LossMarkIn]) -> Response[LossMarkOut]:
        """End the loan's loss mark from `on` (default today); 409 when none stands."""
        state = app_state(request)
        principal = current_principal(request)
        return respond(request, principal, data, lambda s: loss_mark_out(
            losses.reverse_loss_mark(s, loan_id, reason=data.reason, on=data.on,
                                     actor=principal.username, clock=state.clock)))


# -- the same as files ---------------------------------------------------------------------
# One handler per path (a sync handler on several paths answered 500), as the statements'.


def _classification_file(fmt: accounts.Format) -> HTTPRouteHandler:
    def classification_file(request: Request[Any, Any, Any], society: SocietyDep,
                            as_of: AsOf = None) -> Response[bytes]:
        state = app_state(request)
        day = report_day(state, as_of)
        found = state.db.read(lambda s: provisioning.classification_on(s, day))
        return file_response(state, society, fmt, f"loan-classification-{day}",
                             lambda tr: [accounts.classification_doc(found, tr, society)], None)

    classification_file.__doc__ = f"The loans by class on a day as {fmt.upper()}."
    return get(f"/reports/loan-classification.{fmt}", opt=allow(A, B, D), sync_to_thread=True,
               tags=["reports"], media_type=accounts.MEDIA_TYPES[fmt],
               name=f"loan-classification-{fmt}")(classification_file)


def _loans_schedule_file(fmt: accounts.Format) -> HTTPRouteHandler:
    def loans_schedule_file(
        request: Request[Any, Any, Any], society: SocietyDep, as_of: AsOf = None,
        names: Annotated[bool, QueryParameter(
            description="Her known-as name beside her number (admin, board; each read is "
                        "logged).")] = False,
    ) -> Response[bytes]:
        state = app_state(request)
        principal = current_principal(request)
        day = report_day(state, as_of)
        if names and principal.role not in (A, B):
            raise Forbidden("names are shown to the admin and the board only; the schedule "
                            "is by member number")

        def read(session: Session) -> tuple[list[provisioning.ScheduleLine],
                                             dict[str, str] | None]:
            lines = provisioning.loans_schedule(session, day)
            if not names:
                return lines, None
            known = _names(state, session, principal, {x.member_code for x in lines})
            return lines, {code: name or "" for code, name in known.items()}

        lines, known = state.db.write(read) if names else state.db.read(read)
        return file_response(state, society, fmt, f"schedule-loans-{day}", lambda tr: [
            accounts.loans_schedule_doc(day, lines, tr, society, known)], None)

    loans_schedule_file.__doc__ = f"The schedule of loans outstanding as {fmt.upper()}."
    return get(f"/reports/schedules/loans.{fmt}", opt=allow(A, B, D), sync_to_thread=True,
               tags=["reports"], media_type=accounts.MEDIA_TYPES[fmt],
               name=f"schedule-loans-{fmt}")(loans_schedule_file)


PROVISIONING_FILE_HANDLERS: list[HTTPRouteHandler] = [
    *(_classification_file(fmt) for fmt in accounts.FORMATS),
    *(_loans_schedule_file(fmt) for fmt in accounts.FORMATS),
]

__all__ = ["PROVISIONING_FILE_HANDLERS", "LossMarksController", "ProvisioningController",
           "report_day"]
