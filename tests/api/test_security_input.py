"""Issue 15, findings 10 and 13: loose input and forms from elsewhere."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_counter_pages import Counter, counter  # noqa: F401 - the fixture
from tests.api.test_security_no_500 import _post

M = "/api/v1/members"


def test_a_count_is_a_json_integer(api: Api) -> None:
    code = api.member_codes["member"]
    for count in ("1", True, 1.0, "true"):
        refused = api.post(f"{M}/{code}/shares", {"count": count}, role="clerk")
        assert refused.status_code == 422, (count, refused.text)
        assert refused.json()["errors"][0]["field"] == "count"
    assert api.post(f"{M}/{code}/shares", {"count": 1}, role="clerk").status_code == 201
    shares = api.get(f"{M}/{code}", role="clerk").json()["shares"]["count"]
    assert shares == 1  # only the integer bought a share


def test_a_body_that_is_not_json_is_415(api: Api) -> None:
    code = api.member_codes["member"]
    body = '{"amount": "10.00"}'
    for media_type in ("text/plain", "application/x-www-form-urlencoded",
                       "application/xml", "multipart/form-data; boundary=x", ""):
        response = api.client.post(f"{M}/{code}/deposits", content=body, headers={
            **api.headers("clerk"), "content-type": media_type})
        assert response.status_code == 415, (media_type, response.text)
        assert response.json()["type"].endswith("unsupported-media-type")
    fine = api.client.post(f"{M}/{code}/deposits", content=body, headers={
        **api.headers("clerk"), "content-type": "application/json; charset=utf-8"})
    assert fine.status_code == 201
    balance = api.get(f"{M}/{code}", role="clerk").json()["savings"]["balance"]
    assert balance == "10.00"  # the 415s posted nothing


def test_a_counter_form_from_another_origin_is_refused(api: Api,
                                                       counter: Counter) -> None:  # noqa: F811
    clerk = counter("clerk1")
    code = api.member_codes["member"]
    path = f"/counter/members/{code}/deposit"
    page = clerk.get(f"/counter/members/{code}")
    assert page.headers["referrer-policy"] == "same-origin"
    for header, value in (("origin", "https://elsewhere.example"), ("origin", "null"),
                          ("referer", "https://elsewhere.example/page")):
        clerk.headers[header] = value
        try:
            assert _post(clerk, path, {"amount": "10.00", "key": value}) == 403, value
        finally:
            del clerk.headers[header]
    clerk.headers["origin"] = "http://testserver.local"
    assert _post(clerk, path, {"amount": "10.00", "key": "own"}) == 303
    balance = api.get(f"{M}/{code}", role="clerk").json()["savings"]["balance"]
    assert balance == "10.00"
