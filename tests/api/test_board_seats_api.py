"""Board seats through the API (CONTRACT.md, Authentication and users): a user with role
`board` and a `member_code` holds a seat from her creation until she is disabled; enabled
again, she sits again, and her vote counts; while disabled she has no seat."""

from __future__ import annotations

from coop import board
from tests.api.conftest import PASSWORD, Api

BASE = "/api/v1"


def test_a_board_user_sits_from_her_creation_until_she_is_disabled(api: Api) -> None:
    board1 = api.member_codes["board-member"]
    assert api.db.read(board.seated) == {board1}  # the fixture's board1, made as POST /users
    made = api.post(f"{BASE}/members", {"joined_on": "2020-01-01"}, role="admin")
    code = str(made.json()["code"])
    created = api.post(f"{BASE}/users", {"username": "rani", "password": PASSWORD,
                                         "role": "board", "member_code": code})
    assert created.status_code == 201, created.text
    assert api.db.read(board.seated) == {board1, code}
    clerk = api.post(f"{BASE}/users", {"username": "clerk9", "password": PASSWORD,
                                       "role": "clerk"})
    assert clerk.status_code == 201
    assert api.db.read(board.seated) == {board1, code}

    off = api.client.patch(f"{BASE}/users/rani", json={"disabled": True},
                           headers=api.headers("admin"))
    assert off.status_code == 200, off.text
    assert api.db.read(board.seated) == {board1}
    on = api.client.patch(f"{BASE}/users/rani", json={"disabled": False},
                          headers=api.headers("admin"))
    assert on.status_code == 200, on.text
    assert api.db.read(board.seated) == {board1, code}
    today = api.clock.today()
    assert [(s.username, s.from_on, s.to_on) for s in api.db.read(
        lambda s: board.seats_of(s, code))] == [("rani", today, today), ("rani", today, None)]
    # a refused request takes no seat
    again = api.post(f"{BASE}/users", {"username": "rani", "password": PASSWORD,
                                       "role": "board", "member_code": code})
    assert again.status_code == 409
    assert len(api.db.read(lambda s: board.seats_of(s, code))) == 2
