"""The board's tally rule (coop.board.tally.decide), as worked examples and as properties.

Properties over generated boards and vote sequences: approved exactly when approvals reach the
requirement; rejected exactly when, with every seat still free to vote approving, approval is
out of reach; a decision never changes as more votes come (monotone: no approved subject turns
pending, no rejected one turns pending); and a pending subject can still go either way.
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from coop.board.tally import Tally, decide


def tally(approvals: int, rejections: int, *, required: int = 6, seats: int = 11,
          seated: frozenset[int] = frozenset(), excluded: frozenset[int] = frozenset()) -> Tally:
    return decide(approvals=approvals, rejections=rejections, required=required, seats=seats,
                  seated_member_ids=seated, excluded_member_ids=excluded)


# -- worked examples: the bylaws' 11 seats, 6 approvals required -------------------------------


def test_six_approvals_of_eleven_approve() -> None:
    assert tally(5, 0).status == "pending"
    assert tally(6, 0) == Tally("approved", 6, 0, 6)


def test_six_rejections_leave_five_seats_and_reject() -> None:
    assert tally(0, 5).status == "pending"  # six seats can still approve
    assert tally(0, 6) == Tally("rejected", 0, 6, 6)


def test_a_borrower_who_sits_on_the_board_takes_her_seat_out_of_the_count() -> None:
    # her seat cannot approve, so five rejections already leave only five possible approvals
    assert tally(3, 5, seated=frozenset({1, 2, 3}), excluded=frozenset({2})).status == "rejected"
    assert tally(3, 5, seated=frozenset({1, 3}), excluded=frozenset({2})).status == "pending"


def test_a_guarantor_on_the_board_counts_like_the_borrower() -> None:
    seated = frozenset(range(1, 12))
    # 11 seats, less the borrower and one guarantor, less 3 rejections: 6 may still approve
    assert tally(0, 3, seated=seated, excluded=frozenset({1, 2})).status == "pending"
    # a second guarantor on the board leaves 5: approval is out of reach
    assert tally(0, 3, seated=seated, excluded=frozenset({1, 2, 3})).status == "rejected"


def test_a_small_board_that_cannot_reach_the_requirement_rejects_at_once() -> None:
    assert tally(0, 1, required=3, seats=3).status == "rejected"
    assert tally(0, 0, required=3, seats=3).status == "pending"


# -- properties ---------------------------------------------------------------------------------

@st.composite
def boards(draw: st.DrawFn) -> tuple[int, int, frozenset[int], frozenset[int]]:
    seats = draw(st.integers(1, 25))
    required = draw(st.integers(1, seats))
    seated = frozenset(draw(st.sets(st.integers(1, 40), max_size=seats)))
    excluded = frozenset(draw(st.sets(st.integers(1, 40), max_size=4)))
    return seats, required, seated, excluded


@given(boards(), st.lists(st.sampled_from(("approve", "reject")), max_size=25))
def test_the_status_follows_the_rule_and_never_goes_back(
    board: tuple[int, int, frozenset[int], frozenset[int]], votes: list[str]
) -> None:
    seats, required, seated, excluded = board
    voters = seats - len(seated & excluded)
    votes = votes[:max(voters, 0)]  # no more votes than members who may vote
    approvals = rejections = 0
    decided: str | None = None
    for vote in votes:
        approvals += vote == "approve"
        rejections += vote == "reject"
        result = decide(approvals=approvals, rejections=rejections, required=required,
                        seats=seats, seated_member_ids=seated, excluded_member_ids=excluded)
        assert (result.approvals, result.rejections, result.required) == (
            approvals, rejections, required)
        assert (result.status == "approved") == (approvals >= required)
        if result.status != "approved":
            # rejected exactly when every remaining voter approving still falls short
            still = voters - approvals - rejections
            assert (result.status == "rejected") == (approvals + still < required)
        if decided is not None and decided == "rejected":
            assert result.status == "rejected"  # more rejections never revive it
        decided = result.status if result.status != "pending" else decided
        if decided == "approved":
            break


@given(boards(), st.data())
def test_a_pending_subject_can_still_go_either_way(
    board: tuple[int, int, frozenset[int], frozenset[int]], data: st.DataObject
) -> None:
    seats, required, seated, excluded = board
    voters = seats - len(seated & excluded)
    assume(voters >= required)
    approvals = data.draw(st.integers(0, required - 1), label="approvals")
    rejections = data.draw(st.integers(0, voters - required), label="rejections")

    def status(approvals: int, rejections: int) -> str:
        return decide(approvals=approvals, rejections=rejections, required=required,
                      seats=seats, seated_member_ids=seated,
                      excluded_member_ids=excluded).status

    assert status(approvals, rejections) == "pending"
    assert status(required, rejections) == "approved"  # the missing approvals come
    assert status(approvals, voters - required + 1) == "rejected"  # or one rejection too many


@given(boards(), st.integers(0, 25), st.integers(0, 25))
def test_only_seated_members_with_a_conflict_reduce_the_count(
    board: tuple[int, int, frozenset[int], frozenset[int]], approvals: int, rejections: int
) -> None:
    seats, required, seated, excluded = board
    outsiders = frozenset(n + 100 for n in excluded)  # excluded but not seated
    with_outsiders = decide(approvals=approvals, rejections=rejections, required=required,
                            seats=seats, seated_member_ids=seated,
                            excluded_member_ids=outsiders)
    nobody = decide(approvals=approvals, rejections=rejections, required=required, seats=seats,
                    seated_member_ids=seated, excluded_member_ids=frozenset())
    assert with_outsiders == nobody
