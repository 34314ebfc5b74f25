import logging
from tests.api.conftest import Api

def test_probe(api: Api, caplog) -> None:
    for path in ["/api/v1/ledger/entries/9223372036854775807", "/api/v1/ledger/entries/9223372036854775808"]:
        r = api.get(path)
        print(path, r.status_code, r.text)
    r = api.post("/api/v1/ledger/entries/9223372036854775808/reversal", {"reason": "x"})
    print(r.status_code, r.text)
    r = api.client.options("/api/v1/me")
    print("options no token", r.status_code, r.headers, r.text)
    r = api.client.options("/api/v1/me", headers={"Origin": "http://x", "Access-Control-Request-Method": "GET"})
    print("preflight", r.status_code, r.text)
    for rec in caplog.records:
        print("LOG", rec.getMessage(), rec.exc_text or (rec.exc_info and repr(rec.exc_info[1])))
