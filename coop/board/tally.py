"""The tally rule, a pure function over plain values (DESIGN.md §7).

A subject is *approved* when approvals reach the required number; *rejected* once approval can
no longer be reached: of the board's seats (the bylaws' board size, the society setting
`board_seats`), the seated members with a conflict of interest (the borrower, her guarantors)
cannot vote, and each rejection takes one more seat away, so when

    seats - excluded seated members - rejections < required

no set of votes still to come can approve it. Otherwise it is *pending*. A vacant seat counts
as a seat that may yet vote: the board is as large as its bylaws say, and a vacancy is filled.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Literal

from coop.errors import require

Status = Literal["approved", "rejected", "pending"]


@dataclass(frozen=True, slots=True)
class Tally:
    status: Status
    approvals: int
    rejections: int
    required: int


def decide(*, approvals: int, rejections: int, required: int, seats: int,
           seated_member_ids: Set[int], excluded_member_ids: Set[int]) -> Tally:
    """The status of a subject after `approvals` and `rejections` votes."""
    require(approvals >= 0 and rejections >= 0, "vote counts are never negative")
    require(required >= 1 and seats >= 1, "a board has seats and needs an approval")
    excluded = len(seated_member_ids & excluded_member_ids)
    reachable = seats - excluded - rejections  # the most approvals there can ever be
    status: Status
    if approvals >= required:
        status = "approved"
    elif reachable < required:
        status = "rejected"
    else:
        status = "pending"
    require((status == "approved") == (approvals >= required),
            "approved exactly when approvals reach the requirement")
    require(status != "rejected" or reachable < required,
            "rejected only when approval can no longer be reached")
    return Tally(status, approvals, rejections, required)
