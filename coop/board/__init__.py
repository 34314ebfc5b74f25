"""The board: seats (who sits, from when, until when), votes on any subject, and the tally
rule (DESIGN.md §2, §7).

- `orm`: the tables `board_seat` and `board_vote`.
- `seats`: take and vacate seats; `seated()` answers who sits; `sync_seat()` keeps a board
  user's seat in step with her user (called by the API and the CLI, never by auth).
- `tally`: the pure rule, approved / rejected / pending.
- `votes`: cast a vote on a subject (kind, id) and read the votes and their counts.

The board knows subjects only by kind and id: it never imports loans or dividends, which sit
above it and ask it for votes.
"""

from coop.board.errors import AlreadyVoted, VoteNotAllowed
from coop.board.orm import DECISIONS, SUBJECT_KINDS, SeatRow, VoteRow
from coop.board.seats import (
    seated,
    seated_member_ids,
    seats_of,
    sync_seat,
    take_seat,
    vacate_seat,
)
from coop.board.tally import Status, Tally, decide
from coop.board.votes import Counts, Subject, cast_vote, tally_of, votes_between, votes_on

__all__ = [
    "DECISIONS",
    "SUBJECT_KINDS",
    "AlreadyVoted",
    "Counts",
    "SeatRow",
    "Status",
    "Subject",
    "Tally",
    "VoteNotAllowed",
    "VoteRow",
    "cast_vote",
    "decide",
    "seated",
    "seated_member_ids",
    "seats_of",
    "sync_seat",
    "take_seat",
    "tally_of",
    "vacate_seat",
    "votes_between",
    "votes_on",
]
