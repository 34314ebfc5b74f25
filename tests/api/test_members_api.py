"""A clerk's morning through the API: register members, shares, deposits, a refused
withdrawal, the summary and the statement; members see only themselves, auditors no names."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from coop.ledger.verify import verify
from coop.members import AccessLogRow
from tests.api.conftest import Api

M = "/api/v1/members"


def register(api: Api, **identity: Any) -> str:
    response = api.post(M, identity, role="clerk")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "active" and body["joined_on"] == "2025-06-30"
    return str(body["code"])


def test_a_clerks_morning(api: Api) -> None:
    asha = register(api, known_as="Asha", phone="+91 98450 00000")
    bina = register(api)
    assert asha != bina and asha.startswith("M-")

    shares = api.post(f"{M}/{asha}/shares", {"count": 2, "source": "cash"}, role="clerk")
    assert shares.status_code == 201, shares.text
    assert shares.json()["shares"] == {"count": 2, "value": "20.00"}
    for amount in ("10", "250.50", "500.00"):
        made = api.post(f"{M}/{asha}/deposits", {"amount": amount}, role="clerk")
        assert made.status_code == 201, made.text
    assert made.json()["balance"] == "760.50"

    refused = api.post(f"{M}/{asha}/withdrawals", {"amount": "760.51"}, role="clerk")
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("insufficient-funds")
    paid = api.post(f"{M}/{asha}/withdrawals", {"amount": "60.50"}, role="clerk")
    assert paid.json()["balance"] == "700.00"
    bought = api.post(f"{M}/{asha}/shares", {"count": 1, "source": "savings"}, role="clerk")
    assert bought.json()["shares"] == {"count": 3, "value": "30.00"}

    summary = api.get(f"{M}/{asha}", role="clerk").json()
    assert summary == {"code": asha, "status": "active", "joined_on": "2025-06-30",
                       "known_as": "Asha", "shares": {"count": 3, "value": "30.00"},
                       "savings": {"balance": "690.00", "available": "690.00"}, "loans": []}
    lines = api.get(f"{M}/{asha}/savings/transactions", role="clerk").json()["items"]
    assert [(x["deposit"], x["withdrawal"], x["balance"]) for x in lines] == [
        ("10.00", "0.00", "10.00"), ("250.50", "0.00", "260.50"), ("500.00", "0.00", "760.50"),
        ("0.00", "60.50", "700.00"), ("0.00", "10.00", "690.00")]
    accounts = {a["code"]: a["balance"]
                for a in api.get("/api/v1/ledger/accounts").json()["items"]}
    assert accounts["2000"] == "690.00" and accounts["3000"] == "30.00"
    assert accounts["1000"] == "720.00"  # 20.00 for shares + 760.50 in - 60.50 out
    assert api.db.read(verify).ok


def test_holds_reduce_what_can_be_withdrawn(api: Api) -> None:
    asha = register(api)
    api.post(f"{M}/{asha}/deposits", {"amount": "1000"}, role="clerk")
    hold = api.post(f"{M}/{asha}/holds", {"amount": "400", "reason": "guarantee"})
    assert hold.status_code == 201, hold.text
    summary = api.get(f"{M}/{asha}", role="clerk").json()
    assert summary["savings"] == {"balance": "1000.00", "available": "600.00"}
    assert api.post(f"{M}/{asha}/withdrawals", {"amount": "600.01"},
                    role="clerk").status_code == 422
    released = api.post(f"{M}/{asha}/holds/{hold.json()['id']}/release", {})
    assert released.status_code == 200 and released.json()["released"] is True
    assert api.post(f"{M}/{asha}/withdrawals", {"amount": "1000"},
                    role="clerk").status_code == 201


def test_auditors_see_no_names_and_members_only_themselves(api: Api) -> None:
    from coop import auth
    from tests.api.conftest import PASSWORD, TEST_PASSWORDS

    asha = register(api, known_as="Asha")
    other = register(api, known_as="Bina")
    api.db.write(lambda s: auth.create_user(
        s, username="asha", password=PASSWORD, role="member", member_code=asha,
        passwords=TEST_PASSWORDS, clock=api.clock))
    token = api.client.post("/api/v1/auth/token",
                            json={"username": "asha", "password": PASSWORD}).json()
    mine = {"Authorization": f"Bearer {token['access_token']}"}

    audited = api.get(f"{M}/{asha}", role="auditor")
    assert audited.status_code == 200 and audited.json()["known_as"] is None
    assert "Asha" not in audited.text
    assert api.client.get(f"{M}/{asha}", headers=mine).json()["known_as"] == "Asha"
    for path in (f"{M}/{other}", f"{M}/{other}/savings/transactions",
                 f"{M}/{other}/passbook.pdf"):
        assert api.client.get(path, headers=mine).status_code == 404
    assert api.client.get(f"{M}/M-ZZZZZZ", headers=mine).status_code == 404
    own = api.client.get(f"{M}/{asha}/passbook.pdf", headers=mine)
    assert own.status_code == 200 and own.content.startswith(b"%PDF")
    assert b"Asha" not in own.content  # the passbook never carries her name

    log = api.db.read(lambda s: s.execute(
        select(AccessLogRow.username, AccessLogRow.member_code, AccessLogRow.fields)).all())
    assert [tuple(r) for r in log] == [("asha", asha, "known_as")]


def test_names_and_phones_are_not_in_the_database_file(api: Api) -> None:
    from tests.conftest import is_postgres

    code = register(api, known_as="Zarina Kaleidoscope", phone="+91 99887 76655",
                    legal_name="Legalname Unusual")
    assert api.get(f"{M}/{code}", role="clerk").json()["known_as"] == "Zarina Kaleidoscope"
    if is_postgres():
        return  # the raw-bytes check reads the SQLite file
    api.db.dispose()
    path = str(api.db.url.database)
    from pathlib import Path

    raw = b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if Path(p).exists())
    for secret in (b"Zarina", b"Kaleidoscope", b"99887", b"Legalname"):
        assert secret not in raw


def test_member_and_board_users_must_name_a_registered_member(api: Api) -> None:
    unknown = api.post("/api/v1/users", {"username": "ghost", "password": "long enough pw",
                                         "role": "member", "member_code": "M-ZZZZZZ"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "member_code"
    code = register(api)
    made = api.post("/api/v1/users", {"username": "newmember", "password": "long enough pw",
                                      "role": "member", "member_code": code})
    assert made.status_code == 201 and made.json()["member_code"] == code


def test_interest_run_through_the_api(api: Api) -> None:
    from datetime import date

    asha = register(api)
    api.post(f"{M}/{asha}/deposits", {"amount": "36500", "value_date": "2025-06-01"},
             role="clerk")
    api.clock.business_date = date(2025, 7, 1)  # a day later: yesterday's tokens expired
    from tests.api.conftest import PASSWORD

    token = api.client.post("/api/v1/auth/token",
                            json={"username": "admin", "password": PASSWORD}).json()
    api.tokens["admin"] = token["access_token"]
    run = api.post("/api/v1/savings/interest-runs", {"from": "2025-06-01",
                                                     "through": "2025-06-30"})
    assert run.status_code == 201, run.text
    assert run.json() == {"id": run.json()["id"], "status": "posted",
                          "period_start": "2025-06-01", "period_end": "2025-06-30",
                          "rate": "4", "accounts": 1, "total": "120.00", "replayed": False}
    again = api.post("/api/v1/savings/interest-runs", {"through": "2025-06-30",
                                                       "from": "2025-06-01"})
    assert again.status_code == 201 and again.json()["replayed"] is True
    overlap = api.post("/api/v1/savings/interest-runs", {"from": "2025-06-20",
                                                         "through": "2025-06-30"})
    assert overlap.status_code == 409
    assert api.get(f"{M}/{asha}").json()["savings"]["balance"] == "36620.00"


def test_share_redemption_keeps_the_minimum_and_the_register_follows(api: Api) -> None:
    asha = register(api)
    api.post(f"{M}/{asha}/shares", {"count": 3}, role="clerk")
    too_many = api.post(f"{M}/{asha}/share-redemptions", {"count": 3}, role="board")
    assert too_many.status_code == 422
    assert too_many.json()["type"].endswith("below-minimum-shares")
    assert api.post(f"{M}/{asha}/share-redemptions", {"count": 2},
                    role="clerk").status_code == 403
    paid = api.post(f"{M}/{asha}/share-redemptions", {"count": 2, "to": "savings"},
                    role="board")
    assert paid.status_code == 201, paid.text
    assert paid.json()["shares"] == {"count": 1, "value": "10.00"}
    summary = api.get(f"{M}/{asha}", role="clerk").json()
    assert summary["savings"]["balance"] == "20.00"
    book = api.get("/api/v1/shares/register", role="auditor").json()
    assert book == {"as_of": "2025-06-30", "items": [{"member_code": asha, "count": 1}],
                    "total_count": 1}


def test_find_by_phone_and_exit(api: Api) -> None:
    asha = register(api, phone="+91 98450 12345")
    found = api.post(f"{M}/search", {"phone": "9845012345"}, role="clerk")
    assert found.status_code == 200 and found.json()["code"] == asha
    assert api.post(f"{M}/search", {"phone": "0000000"}, role="clerk").status_code == 404
    log = api.db.read(lambda s: s.execute(
        select(AccessLogRow.username, AccessLogRow.fields, AccessLogRow.reason)).all())
    assert [tuple(r) for r in log] == [("clerk1", "phone", "phone lookup")]
    api.post(f"{M}/{asha}/deposits", {"amount": "5"}, role="clerk")
    assert api.post(f"{M}/{asha}/exit", {}, role="board").status_code == 409
    api.post(f"{M}/{asha}/withdrawals", {"amount": "5"}, role="clerk")
    left = api.post(f"{M}/{asha}/exit", {}, role="board")
    assert left.status_code == 200 and left.json()["status"] == "exited"
    assert api.post(f"{M}/{asha}/deposits", {"amount": "5"}, role="clerk").status_code == 409
