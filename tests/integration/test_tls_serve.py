"""Issue 21: `coop serve --tls-cert --tls-key` with the certificates of `coop tls init`, as a
counter PC on the office network reaches it; and plain HTTP refused to other machines."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from tests.integration.office import Office, lan_address, log_in, make_office, tls_args

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Office:
    return make_office(tmp_path_factory.mktemp("office"))


def test_https_with_the_offices_authority(office: Office) -> None:
    with office.serving(*tls_args(office)) as port:
        for host in ("localhost", "127.0.0.1"):
            base = f"https://{host}:{port}"
            with httpx.Client(verify=office.trust()) as trusting:
                page = trusting.get(f"{base}/counter/login")
                assert page.status_code == 200 and 'name="password"' in page.text
                assert page.headers["strict-transport-security"] == "max-age=31536000"
                assert "; secure" in page.headers["set-cookie"].lower()
                done = log_in(trusting, base)
                assert done.status_code == 303, done.text
                session = done.headers["set-cookie"]
                assert session.startswith("coop_session=")
                assert "; secure" in session.lower() and "httponly" in session.lower()
                assert done.headers["strict-transport-security"] == "max-age=31536000"

        # a PC that was not told to trust the office's authority is refused by its own client
        with pytest.raises(httpx.ConnectError) as refused, httpx.Client() as stranger:
            stranger.get(f"https://localhost:{port}/counter/login")
        assert isinstance(refused.value.__cause__ or refused.value.__context__,
                          ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            refused.value)
        # the port speaks only TLS: plain HTTP gets no page at all
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/counter/login", timeout=5)


def test_a_name_the_certificate_does_not_carry_is_refused(tmp_path: Path) -> None:
    office = make_office(tmp_path, names=("coop.office.lan",), ips=())
    with office.serving(*tls_args(office), env={}) as port, \
            pytest.raises(httpx.ConnectError):
        # served fine to coop.office.lan; 127.0.0.1 is not in the certificate
        httpx.get(f"https://127.0.0.1:{port}/health", verify=office.trust())


def test_plain_http_is_for_the_machine_itself(office: Office) -> None:
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no address but loopback")
    with office.serving(host="0.0.0.0") as port:
        local = httpx.get(f"http://127.0.0.1:{port}/counter/login")
        assert local.status_code == 200 and 'name="password"' in local.text
        other = httpx.get(f"http://{lan}:{port}/counter/login")
        assert other.status_code == 403, other.text
        assert f"https://{lan}/counter/login" in other.text
        assert "set-cookie" not in other.headers
        api = httpx.post(f"http://{lan}:{port}/api/v1/auth/token",
                         json={"username": "admin", "password": "x"})
        assert api.status_code == 403
        assert api.json()["type"] == "urn:coop:problem:https-required"
        assert httpx.get(f"http://{lan}:{port}/health").status_code == 200
    # told otherwise, it answers plain HTTP to the network as before
    with office.serving(host="0.0.0.0", env={"COOP_HTTPS_ONLY": "0"}) as port:
        assert httpx.get(f"http://{lan}:{port}/counter/login").status_code == 200
