"""Corrections through HTTP (issue 16): a clerk asks, another user approves or refuses; the
one who asked cannot approve; a reversal keeps the share register true; the entries of whole
operations are refused with 409 naming what undoes them; the member's passbook shows a plain
line and never the staff's reason."""

from __future__ import annotations

from tests.api.conftest import Api

M = "/api/v1/members"
C = "/api/v1/corrections"
E = "/api/v1/ledger/entries"


def _member(api: Api) -> str:
    created = api.post(M, {"known_as": "Asha", "joined_on": "2025-06-30"}, role="clerk")
    assert created.status_code == 201, created.text
    return str(created.json()["code"])


def test_a_clerk_asks_the_board_approves_and_the_passbook_stays_plain(api: Api) -> None:
    asha = _member(api)
    made = api.post(f"{M}/{asha}/deposits", {"amount": "250.00"}, role="clerk")
    assert made.status_code == 201, made.text
    wrong = api.post(f"{M}/{asha}/deposits", {"amount": "2500.00"}, role="clerk").json()
    asked = api.post(C, {"entry_id": wrong["entry_id"], "reason": "typed 2500 for 250"},
                     role="clerk")
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "pending" and asked.json()["entry_id"] == wrong["entry_id"]
    number = asked.json()["id"]
    again = api.post(C, {"entry_id": wrong["entry_id"], "reason": "again"}, role="admin")
    assert again.status_code == 409, again.text
    queue = api.get(C, params={"status": "pending"}, role="board").json()["items"]
    assert [(i["id"], i["requested_by"], i["amount"], i["entry_kind"]) for i in queue] == [
        (number, "clerk1", "2500.00", "deposit")]
    assert api.post(f"{C}/{number}/approval", None, role="clerk").status_code == 403
    applied = api.post(f"{C}/{number}/approval", None, role="board")
    assert applied.status_code == 201, applied.text
    assert applied.json()["status"] == "applied"
    reversal_id = applied.json()["reversal_entry_id"]
    assert api.get(f"{E}/{reversal_id}").json()["reversal_of"] == wrong["entry_id"]
    assert api.post(f"{C}/{number}/approval", None, role="admin").status_code == 409
    assert api.get(f"{M}/{asha}", role="clerk").json()["savings"]["balance"] == "250.00"
    lines = api.get(f"{M}/{asha}/savings/transactions", role="clerk").json()["items"]
    assert "typed" not in str(lines)
    assert lines[-1]["narration"] == (f"Correction of entry {wrong['entry_id']} (deposit of "
                                      "2025-06-30)")
    assert lines[-1]["withdrawal"] == "2500.00" and lines[-1]["balance"] == "250.00"
    assert api.get("/api/v1/ledger/verify").json()["ok"] is True


def test_the_one_who_asked_cannot_approve_and_a_refusal_posts_nothing(api: Api) -> None:
    asha = _member(api)
    made = api.post(f"{M}/{asha}/deposits", {"amount": "100.00"}, role="clerk").json()
    asked = api.post(C, {"entry_id": made["entry_id"], "reason": "wrong member"}).json()
    own = api.post(f"{C}/{asked['id']}/approval", None, role="admin")
    assert own.status_code == 403, own.text
    assert own.json()["type"].endswith("own-correction")
    head = api.get("/api/v1/ledger/verify").json()["chain_head"]
    refused = api.post(f"{C}/{asked['id']}/refusal", None, role="board")
    assert refused.status_code == 201 and refused.json()["status"] == "refused"
    assert api.get("/api/v1/ledger/verify").json()["chain_head"] == head
    assert api.post(f"{C}/{asked['id']}/refusal", None, role="board").status_code == 409


def test_reversing_a_share_purchase_moves_the_register_back(api: Api) -> None:
    asha = _member(api)
    bought = api.post(f"{M}/{asha}/shares", {"count": 8, "source": "cash"}, role="clerk")
    assert bought.status_code == 201, bought.text
    wrong = api.post(f"{M}/{asha}/shares", {"count": 1000, "source": "cash"}, role="clerk")
    assert wrong.status_code == 201, wrong.text
    undone = api.post(f"{E}/{wrong.json()['entry_id']}/reversal",
                      {"reason": "typed 1000 for 10"})
    assert undone.status_code == 201, undone.text
    member = api.get(f"{M}/{asha}", role="clerk").json()
    assert member["shares"] == {"count": 8, "value": "80.00"}
    verify = api.get("/api/v1/ledger/verify").json()
    assert verify["ok"] is True, verify["problems"]


def test_an_interest_entry_is_refused_naming_the_interest_run(api: Api) -> None:
    asha = _member(api)
    api.post(f"{M}/{asha}/deposits", {"amount": "10000.00", "value_date": "2025-05-01"},
             role="clerk")
    run = api.post("/api/v1/savings/interest-runs",
                   {"period_start": "2025-05-01", "through": "2025-05-31"})
    assert run.status_code == 201, run.text
    lines = api.get(f"{M}/{asha}/savings/transactions", role="clerk").json()["items"]
    interest = next(line for line in lines if line["narration"].startswith("Interest"))
    refused = api.post(f"{E}/{interest['entry_id']}/reversal", {"reason": "rate wrong"})
    assert refused.status_code == 409, refused.text
    assert "interest run" in refused.json()["detail"]
    assert "/savings/interest-runs/" in refused.json()["detail"]
    asked = api.post(C, {"entry_id": interest["entry_id"], "reason": "rate wrong"},
                     role="clerk")
    assert asked.status_code == 409


def test_cash_that_went_through_a_till_closed_since_comes_back_through_the_safe(
        api: Api) -> None:
    asha = _member(api)
    assert api.post(f"{M}/{asha}/deposits", {"amount": "5000.00"}).status_code == 201  # safe
    till = api.post("/api/v1/tills", {"opening_float": "1000.00"}, role="clerk")
    assert till.status_code == 201, till.text
    paid = api.post(f"{M}/{asha}/withdrawals", {"amount": "300.00"}, role="clerk").json()
    closed = api.post(f"/api/v1/tills/{till.json()['id']}/close", {"counted": "700.00"},
                      role="clerk")
    assert closed.status_code == 201 and closed.json()["status"] == "closed", closed.text
    asked = api.post(C, {"entry_id": paid["entry_id"], "reason": "paid to the wrong member"},
                     role="clerk").json()
    applied = api.post(f"{C}/{asked['id']}/approval", None, role="board")
    assert applied.status_code == 201, applied.text
    reversal = api.get(f"{E}/{applied.json()['reversal_entry_id']}").json()
    assert {"account": "1000", "debit": "300.00"} in reversal["postings"], reversal
    verify = api.get("/api/v1/ledger/verify").json()
    assert verify["ok"] is True, verify["problems"]
