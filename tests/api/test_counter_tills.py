"""The tills at the counter without JavaScript: open with a float, a deposit counts in the
till, counted by notes and coins with expected against counted shown before closing, the
difference approved by another user from the day's screen (never by the till's user); with
`require_open_till` on, a refused deposit offers to open the till in one step."""

from __future__ import annotations

import re

from coop import tills
from coop.society import update_settings
from tests.api.conftest import Api
from tests.api.test_counter_pages import Counter, counter, fields  # noqa: F401 - a fixture

C = "/counter"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def _strong(html: str, ident: str) -> str:
    found = re.search(rf'id="{ident}">([^<]+)<', html)
    assert found, html
    return found.group(1)


def test_a_till_at_the_counter(api: Api, counter: Counter) -> None:  # noqa: F811
    code = api.member_codes["member"]
    assert api.post(f"/api/v1/members/{code}/deposits", {"amount": "2000.00"}).status_code == 201
    clerk = counter("clerk1")
    mine = clerk.get(f"{C}/tills/")
    assert mine.status_code == 200 and 'id="open-till"' in mine.text and "₹2,000.00" in mine.text
    too_much = clerk.post(f"{C}/tills/open", data={"csrf": _csrf(mine.text),
                                                   "opening_float": "3000"})
    assert too_much.status_code == 422 and "The float is more than the safe holds." in \
        too_much.text
    opened = clerk.post(f"{C}/tills/open", data={"csrf": _csrf(mine.text),
                                                 "opening_float": "1000"})
    assert opened.status_code == 200 and _strong(opened.text, "till-float") == "₹1,000.00"
    page = clerk.get(f"{C}/members/{code}")
    deposit = fields(page.text, "deposit-form")
    assert clerk.post(f"{C}/members/{code}/deposit",
                      data={**deposit, "amount": "500"}).status_code == 200
    mine = clerk.get(f"{C}/tills/")
    assert (_strong(mine.text, "till-in"), _strong(mine.text, "till-expected")) == (
        "₹500.00", "₹1,500.00")
    till_id = _strong(mine.text, "till-id")
    form = {"csrf": _csrf(mine.text), "n_500": "2", "n_200": "2", "n_50": "1", "n_20": "1",
            "n_10": "1", "other": ""}  # 1,480.00
    bad = clerk.post(f"{C}/tills/{till_id}/count", data={**form, "n_100": "x"})
    assert bad.status_code == 422 and "in digits" in bad.text
    check = clerk.post(f"{C}/tills/{till_id}/count", data=form)
    assert check.status_code == 200
    assert (_strong(check.text, "check-expected"), _strong(check.text, "check-counted"),
            _strong(check.text, "check-variance")) == ("₹1,500.00", "₹1,480.00", "₹20.00")
    closed = clerk.post(f"{C}/tills/{till_id}/close", data=fields(check.text, "close-check"))
    twice = clerk.post(f"{C}/tills/{till_id}/close", data=fields(check.text, "close-check"))
    assert twice.status_code == 409 and "This till is not open." in twice.text
    assert closed.status_code == 200 and "₹20.00 short" in closed.text
    assert 'id="open-till"' in closed.text  # she may open a new one

    admin = counter("admin")
    day = admin.get(f"{C}/tills/day")
    assert day.status_code == 200 and f'id="pending-{till_id}"' in day.text
    assert _strong(day.text, "safe") == "₹2,480.00"
    clerk_day = clerk.get(f"{C}/tills/day")
    assert clerk_day.status_code == 403
    approved = admin.post(f"{C}/tills/{till_id}/approve", data={"csrf": _csrf(day.text)})
    assert approved.status_code == 200 and f'id="pending-{till_id}"' not in approved.text
    again = admin.post(f"{C}/tills/{till_id}/approve", data={"csrf": _csrf(day.text)})
    assert again.status_code == 409 and "already approved" in again.text
    assert api.db.read(lambda s: tills.get_till(s, int(till_id))).status == "closed"


def test_a_refused_deposit_offers_to_open_the_till(
        api: Api, counter: Counter) -> None:  # noqa: F811
    api.db.write(lambda s: update_settings(s, {"require_open_till": True}))
    code = api.member_codes["member"]
    clerk = counter("clerk1")
    page = clerk.get(f"{C}/members/{code}")
    refused = clerk.post(f"{C}/members/{code}/deposit",
                         data={**fields(page.text, "deposit-form"), "amount": "50"})
    assert refused.status_code == 422 and 'id="till-offer"' in refused.text
    offer = fields(refused.text, "till-offer")
    assert offer["back"] == f"{C}/members/{code}/deposit"
    opened = clerk.post(f"{C}/tills/open", data={**offer, "opening_float": "0"},
                        follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"].startswith(f"{C}/members/{code}?done=")
    page = clerk.get(f"{C}/members/{code}")
    assert clerk.post(f"{C}/members/{code}/deposit",
                      data={**fields(page.text, "deposit-form"), "amount": "50"}).status_code \
        == 200
