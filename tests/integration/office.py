"""An office as `coop` runs in it, for the TLS tests: a society set up with `coop init`, the
certificates of `coop tls init`, and `coop serve` as a process of its own."""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ADMIN_PASSWORD = "a long office passphrase 2025"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lan_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = str(sock.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@dataclass
class Office:
    root: Path
    env: dict[str, str]

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def ca(self) -> Path:
        return self.tls_dir / "ca.pem"

    def trust(self) -> ssl.SSLContext:
        """A client that trusts the office's authority and nothing else."""
        return ssl.create_default_context(cafile=str(self.ca))

    def coop(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-c", "from coop.cli import main; main()",
                               *args], env=self.env, cwd=self.root, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    @contextmanager
    def serving(self, *args: str, host: str = "127.0.0.1",
                env: dict[str, str] | None = None) -> Iterator[int]:
        """`coop serve --host HOST --port P ARGS` until the block ends; yields P once its
        /health answers (over HTTPS when ARGS has --tls-cert)."""
        port = free_port()
        scheme = "https" if "--tls-cert" in args else "http"
        server = subprocess.Popen(
            [sys.executable, "-c", "from coop.cli import main; main()", "serve", "--host",
             host, "--port", str(port), *args],
            env={**self.env, **(env or {})}, cwd=self.root, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        probe = "127.0.0.1" if host in ("0.0.0.0", "127.0.0.1") else host
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    # only whether it listens yet: the tests check the certificate
                    httpx.get(f"{scheme}://{probe}:{port}/health", verify=False, timeout=2)
                    break
                except httpx.TransportError:
                    if server.poll() is not None:
                        output = server.stdout.read() if server.stdout else b""
                        raise AssertionError(output.decode()) from None
                    assert time.monotonic() < deadline, "coop serve did not answer"
                    time.sleep(0.3)
            yield port
        finally:
            server.terminate()
            server.wait(timeout=20)


def make_office(root: Path, *, names: tuple[str, ...] = ("localhost",),
                ips: tuple[str, ...] = ("127.0.0.1",)) -> Office:
    """A society (`coop init`) and the office's certificates (`coop tls init`) in `root`."""
    env = {**os.environ,
           "COOP_DATABASE_URL": f"sqlite:///{root / 'society.db'}",
           "COOP_DATA_KEY_FILE": str(root / "keys" / "data.key"),
           "COOP_BACKUP_KEY_FILE": str(root / "keys" / "backup.key"),
           "COOP_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "COOP_ARGON2_MEMORY_KIB": "8192"}
    for name in ("COOP_TEST_DATABASE_URL", "COOP_TLS_CERT", "COOP_TLS_KEY", "COOP_HTTPS_ONLY",
                 "COOP_TRUSTED_PROXIES"):
        env.pop(name, None)
    root.mkdir(parents=True, exist_ok=True)
    office = Office(root, env)
    office.coop("init")
    args = ["tls", "init", "--out", str(office.tls_dir)]
    for name in names:
        args += ["--name", name]
    for ip in ips:
        args += ["--ip", ip]
    office.coop(*args)
    return office


def tls_args(office: Office) -> tuple[str, ...]:
    return ("--tls-cert", str(office.tls_dir / "server.pem"),
            "--tls-key", str(office.tls_dir / "server-key.pem"))


def log_in(client: httpx.Client, base: str, *, password: str = ADMIN_PASSWORD,
           **headers: str) -> httpx.Response:
    """The counter's login form, filled in as a browser does; returns the POST's answer."""
    form = client.get(f"{base}/counter/login", headers=headers)
    assert form.status_code == 200, form.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf, form.text
    return client.post(f"{base}/counter/login", data={
        "csrf": csrf.group(1), "username": "admin", "password": password},
        headers={"Origin": base, **headers}, follow_redirects=False)
