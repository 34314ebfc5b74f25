"""The auditor's pack to download (GET /reports/audit-pack.zip?fy=2025, admin and auditor;
the counter's button serves the same through `pack_download`). The pack is built from one
snapshot of the books into a temporary file, streamed, and the file removed once sent; the
download is written in the audit trail (who took the whole book away, and when). A year not
begun, or before the book, is 422 / 404 in words, as the CLI says it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.background_tasks import BackgroundTask
from litestar.params import QueryParameter
from litestar.response import File
from sqlalchemy.orm import Session

from coop import auth
from coop.api.deps import app_state
from coop.api.security import allow, current_principal
from coop.auditpack import build_pack
from coop.auth import Role

A, D = Role.ADMIN, Role.AUDITOR
ZIP = "application/zip"
FiscalYearQuery = Annotated[int, QueryParameter(ge=1900, le=9998,
                                                description="The year it starts in: 2025")]


def pack_download(request: Request[Any, Any, Any], fy: int) -> File:
    """Build the pack of `fy`, note the download in the audit trail, and send it."""
    state = app_state(request)
    principal = current_principal(request)
    folder = Path(tempfile.mkdtemp(prefix="coop-audit-pack-"))
    try:
        path = folder / f"audit-pack-{fy}.zip"
        build_pack(state.db, fy, path, today_on=state.clock.today())

        def audit(session: Session) -> None:
            auth.record_audit(session, principal, status=200, clock=state.clock,
                              action=f"GET {request.url.path}?fy={fy}")

        state.db.write(audit)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return File(path=path, filename=path.name, media_type=ZIP,
                background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


class AuditPackController(Controller):
    path = "/reports"
    tags = ("reports",)

    @get("/audit-pack.zip", opt=allow(A, D), sync_to_thread=True, media_type=ZIP)
    def audit_pack(self, request: Request[Any, Any, Any], fy: FiscalYearQuery) -> File:
        """The auditor's pack of a fiscal year: trial balance (CSV, XLSX), the dividend
        report, verify with the chain head, the book as beancount, and a manifest of SHA-256
        digests (MANIFEST.txt checks with `sha256sum -c`)."""
        return pack_download(request, fy)


__all__ = ["AuditPackController", "pack_download"]
