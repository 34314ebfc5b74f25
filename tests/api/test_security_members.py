"""Security review findings on registering members (issue 15, findings 7 and 9)."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import Api

M = "/api/v1/members"


def test_only_an_admin_back_dates_a_joining(api: Api) -> None:
    today = api.clock.today()
    long_ago = (today - timedelta(days=31)).isoformat()
    refused = api.post(M, {"joined_on": long_ago}, role="clerk")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "joined_on"
    recent = api.post(M, {"joined_on": (today - timedelta(days=30)).isoformat()}, role="clerk")
    assert recent.status_code == 201
    assert api.post(M, {"joined_on": long_ago}, role="admin").status_code == 201
    for bad in ("0001-01-01", "1899-12-31", (today + timedelta(days=1)).isoformat()):
        for role in ("clerk", "admin"):
            response = api.post(M, {"joined_on": bad}, role=role)
            assert response.status_code == 422, (bad, role, response.text)
            assert response.json()["errors"][0]["field"] == "joined_on"
    codes = [m["code"] for m in api.get(f"{M}?limit=500").json()["items"]]
    assert len(codes) == 2 + 2  # the two above, and the board and member users' own


def test_a_phone_must_have_digits(api: Api) -> None:
    for phone in ("none", "n/a", "-", "12"):
        response = api.post(M, {"phone": phone}, role="clerk")
        assert response.status_code == 422, phone
        assert response.json()["errors"][0]["field"] == "phone"
        assert api.post(f"{M}/search", {"phone": phone}, role="clerk").status_code == 422
    made = api.post(M, {"phone": "+91 98450 12345"}, role="clerk")
    assert made.status_code == 201
    for written in ("98450 12345", "098450-12345", "+919845012345"):
        found = api.post(f"{M}/search", {"phone": written}, role="clerk")
        assert found.status_code == 200 and found.json()["code"] == made.json()["code"]


def test_invisible_and_direction_changing_characters_are_refused(api: Api) -> None:
    """Finding 10: a bidi override, a C1 control or a zero-width space could make a
    narration or a name read otherwise than it is stored. The joiners that shape Indic
    scripts stay allowed."""
    code = api.post(M, {"known_as": "ರಾಧಾ"}, role="clerk").json()["code"]
    for bad, name in (("Deposit \u202egnp.exe", "U+202E"), ("ca\u0085sh", None),
                      ("zero\u200bwidth", "U+200B"), ("\ufeffbom", "U+FEFF")):
        refused = api.post(f"{M}/{code}/deposits", {"amount": "10.00", "narration": bad},
                           role="clerk")
        assert refused.status_code == 422, bad
        problem = refused.json()
        assert problem["errors"][0]["field"] == "narration"
        if name:
            assert name in problem["detail"]
        assert api.post(M, {"known_as": bad}, role="clerk").status_code == 422
    shaped = "ಕ್\u200dರ"  # a Kannada conjunct written with a zero-width joiner
    assert api.post(M, {"known_as": shaped}, role="clerk").status_code == 201
    assert api.post(f"{M}/{code}/deposits", {"amount": "10.00", "narration": "ದಿನದ " + shaped},
                    role="clerk").status_code == 201


def test_the_board_sees_when_she_joined_and_when_that_was_entered(api: Api) -> None:
    from litestar.testing import TestClient

    from tests.api.loan_helpers import borrower, product
    from tests.api.test_counter_pages import _logged_in

    product(api)
    code = borrower(api)  # joined 2024-01-01, entered by an admin today
    applied = api.post("/api/v1/loans", {"member_code": code, "product": "WEEKLY",
                                         "principal": "1000.00"}, role="clerk")
    assert applied.status_code == 201, applied.text
    with TestClient(app=api.app) as client:
        board = _logged_in(client, "board1").get("/counter/board")
    today = api.clock.today().strftime("%d-%m-%Y")
    assert f"Member since 01-01-2024, entered on {today}" in board.text
