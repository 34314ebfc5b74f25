"""Issue 21: coop behind Caddy, with deploy/Caddyfile as the README tells it.

Caddy (Debian package caddy) runs deploy/Caddyfile on high ports, with the office's
certificate from `coop tls init` in place of /etc/caddy/tls/ and the names this machine
answers to in place of coop.office.lan, in front of `coop serve` on loopback with
COOP_TRUSTED_PROXIES=127.0.0.1. A counter PC's HTTPS request through Caddy gets the login page
with Secure cookies and HSTS; its address reaches coop (the login throttle counts it apart from
this machine's own); plain HTTP to Caddy is redirected to HTTPS.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.integration.office import Office, free_port, lan_address, log_in, make_office

pytestmark = pytest.mark.slow
CADDYFILE = Path(__file__).resolve().parents[2] / "deploy" / "Caddyfile"


@contextmanager
def caddy(office: Office, *, site: str, upstream: int) -> Iterator[tuple[int, int]]:
    """Caddy with deploy/Caddyfile; yields its (http, https) ports."""
    http_port, https_port = free_port(), free_port()
    home = office.root / "caddy"
    home.mkdir(exist_ok=True)
    text = CADDYFILE.read_text()
    assert "coop.office.lan {" in text and "reverse_proxy 127.0.0.1:8000" in text
    text = (text.replace("coop.office.lan {", f"{site} {{")
            .replace("/etc/caddy/tls/", f"{office.tls_dir}/")
            .replace("127.0.0.1:8000", f"127.0.0.1:{upstream}"))
    config = home / "Caddyfile"
    config.write_text(
        "{\n\tadmin off\n\tskip_install_trust\n"
        f"\thttp_port {http_port}\n\thttps_port {https_port}\n"
        f"\tstorage file_system {home / 'data'}\n}}\n\n{text}")
    process = subprocess.Popen(
        ["caddy", "run", "--config", str(config), "--adapter", "caddyfile"],
        env={"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
             "XDG_CONFIG_HOME": str(home / "config"), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"https://127.0.0.1:{https_port}/health", verify=False, timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    output = process.stdout.read() if process.stdout else b""
                    raise AssertionError(output.decode()[-3000:]) from None
                assert time.monotonic() < deadline, "caddy did not answer"
                time.sleep(0.2)
        yield http_port, https_port
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_coop_behind_caddy(tmp_path: Path) -> None:
    if shutil.which("caddy") is None:
        pytest.skip("no caddy (Debian package caddy)")
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no address but loopback to play a counter PC from")
    office = make_office(tmp_path, names=("localhost",), ips=("127.0.0.1", lan))
    with office.serving(env={"COOP_TRUSTED_PROXIES": "127.0.0.1"}) as upstream, \
            caddy(office, site=f"localhost, 127.0.0.1, {lan}", upstream=upstream) as ports:
        http_port, https_port = ports
        base = f"https://{lan}:{https_port}"
        with httpx.Client(verify=office.trust()) as counter:
            page = counter.get(f"{base}/counter/login")
            assert page.status_code == 200 and 'name="password"' in page.text
            assert "; secure" in page.headers["set-cookie"].lower()
            assert page.headers["strict-transport-security"] == "max-age=31536000"
            done = log_in(counter, base)
            assert done.status_code == 303, done.text
            assert "; secure" in done.headers["set-cookie"].lower()

            # the counter PC's address reaches coop: 20 failed logins from it throttle it,
            # and not this machine itself (which coop would see for every request if Caddy's
            # X-Forwarded-For were not believed)
            codes = [counter.post(f"{base}/api/v1/auth/token",
                                  json={"username": f"guess{n}", "password": "not it at all"}
                                  ).status_code for n in range(21)]
            assert codes[:20] == [401] * 20 and codes[20] == 429, codes
        with httpx.Client(verify=office.trust()) as itself:
            answer = itself.post(f"https://127.0.0.1:{https_port}/api/v1/auth/token",
                                 json={"username": "guess-local", "password": "not it"})
            assert answer.status_code == 401, answer.text

        # plain HTTP to Caddy is sent to HTTPS
        moved = httpx.get(f"http://{lan}:{http_port}/counter/login")
        assert moved.status_code in (301, 308)
        location = moved.headers["location"]  # Caddy 2.6 names the default port 443 here
        assert location.startswith(f"https://{lan}") and location.endswith("/counter/login")
        # and coop's own port is on loopback only: the network cannot reach it at all
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://{lan}:{upstream}/counter/login", timeout=5)
