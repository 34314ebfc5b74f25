"""Corrections: a request to undo an entry, its approval or refusal (CONTRACT.md: Ledger)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from coop.api.schemas.common import In, Out, money, utc_text
from coop.corrections import Correction, QueueItem


class CorrectionIn(In):
    entry_id: int = Field(ge=1, le=2**63 - 1)
    reason: str = Field(min_length=1, max_length=150)


class CorrectionOut(Out):
    id: int
    status: Literal["pending", "applied", "refused"]
    entry_id: int
    requested_by: str
    reason: str
    requested_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    reversal_entry_id: int | None = None


class CorrectionItemOut(CorrectionOut):
    entry_kind: str
    entry_date: date
    amount: str
    narration: str


def correction_out(found: Correction) -> CorrectionOut:
    return CorrectionOut(**_fields(found))


def correction_item_out(item: QueueItem, currency: str) -> CorrectionItemOut:
    return CorrectionItemOut(**_fields(item.correction), entry_kind=item.entry_kind,
                             entry_date=item.entry_date,
                             amount=money(item.amount_minor, currency),
                             narration=item.narration)


def _fields(found: Correction) -> dict[str, object]:
    return {"id": found.id, "status": found.status, "entry_id": found.entry_id,
            "requested_by": found.requested_by, "reason": found.reason,
            "requested_at": utc_text(found.requested_at),
            "decided_by": found.decided_by,
            "decided_at": utc_text(found.decided_at) if found.decided_at else None,
            "reversal_entry_id": found.reversal_entry_id}


__all__ = ["CorrectionIn", "CorrectionItemOut", "CorrectionOut", "correction_item_out",
           "correction_out"]
