"""Who sits on the board: seats with a from and a to date.

CONTRACT.md: "A user with role `board` and a `member_code` holds a board seat from her creation
until she is disabled or her role changes". The seat is taken or vacated in the same
transaction as the user change that causes it: the API and the CLI call `sync_seat` after
creating or changing a user (auth sits below the board and never calls it). A seat is a board
*user's*: her username and the member she is. Two users naming one member would be two seats
of one member; `seated` answers with member numbers, so she counts once.

The number of seats the tally counts is the bylaws' board size (the society setting
`board_seats`); these rows say who fills them and since when.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from coop import auth
from coop.board.orm import SeatRow
from coop.members import MemberRow, get_member


def _open_seat(session: Session, username: str) -> SeatRow | None:
    return session.scalars(select(SeatRow).where(
        SeatRow.username == username, SeatRow.to_on.is_(None)).order_by(SeatRow.id)).first()


def take_seat(session: Session, *, member_code: str, username: str, on: date) -> SeatRow:
    """Seat `username`, who is member `member_code`, from `on`. Taking a seat she holds
    already changes nothing; if she held one as another member, that one ends on `on`."""
    member = get_member(session, member_code)
    current = _open_seat(session, username)
    if current is not None and current.member_id == member.id:
        return current
    if current is not None:
        current.to_on = max(on, current.from_on)
    seat = SeatRow(member_id=member.id, username=username, from_on=on, to_on=None)
    session.add(seat)
    session.flush()
    return seat


def vacate_seat(session: Session, *, username: str, on: date) -> bool:
    """End `username`'s seat on `on` (she no longer sits that day). False if she held none."""
    seat = _open_seat(session, username)
    if seat is None:
        return False
    seat.to_on = max(on, seat.from_on)
    session.flush()
    return True


def sync_seat(session: Session, *, username: str, on: date) -> None:
    """Make `username`'s seat agree with her user: seated while she is an enabled board user
    with a member number, not otherwise. Call it after creating a user, disabling or enabling
    her, or changing her role or member number."""
    user = auth.find_user(session, username)
    if (user is not None and user.role == auth.Role.BOARD.value and not user.disabled
            and user.member_code is not None):
        take_seat(session, member_code=user.member_code, username=username, on=on)
    else:
        vacate_seat(session, username=username, on=on)


def _sitting(on: date | None) -> Select[int, str]:
    query = select(SeatRow.member_id, MemberRow.code).join(
        MemberRow, MemberRow.id == SeatRow.member_id)
    if on is None:
        return query.where(SeatRow.to_on.is_(None))
    return query.where(SeatRow.from_on <= on, (SeatRow.to_on.is_(None)) | (SeatRow.to_on > on))


def seated(session: Session, on: date | None = None) -> frozenset[str]:
    """Member numbers of the board sitting on `on` (None: sitting now, every open seat)."""
    return frozenset(code for _, code in session.execute(_sitting(on)))


def seated_member_ids(session: Session, on: date | None = None) -> frozenset[int]:
    """As `seated`, by member id (what votes and conflicts of interest are recorded by)."""
    return frozenset(member_id for member_id, _ in session.execute(_sitting(on)))


def seats_of(session: Session, member_code: str) -> list[SeatRow]:
    """Every seat she has held, the earliest first."""
    member = get_member(session, member_code)
    return list(session.scalars(select(SeatRow).where(SeatRow.member_id == member.id)
                                .order_by(SeatRow.from_on, SeatRow.id)))
