"""The board's refusals. Their codes and titles are part of the API (CONTRACT.md: a vote on
her own loan is 403, a second vote by the same member 409)."""

from __future__ import annotations

from coop.errors import Conflict, Forbidden


class VoteNotAllowed(Forbidden):
    code = "vote_not_allowed"
    title = "This board member may not vote on this loan"


class AlreadyVoted(Conflict):
    code = "already_voted"
    title = "This board member has voted already"
