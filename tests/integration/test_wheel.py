"""The package as a society installs it (issue 21): the wheel built from this checkout,
installed apart from the checkout, migrates a new database with its own migrations (inside
the package, found by importlib.resources), sets the society up, verifies, and serves the
counter's login page with its templates and style sheet. The checkout is nowhere on the path:
the installed copy is what runs.

Needs pip to build the wheel (build isolation: setuptools from PyPI or pip's cache)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_built_wheel_installs_migrates_and_serves(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
         str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("coop-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"coop/migrations/env.py", "coop/migrations/script.py.mako"} <= names
    assert any(n.startswith("coop/migrations/versions/0001_") for n in names)
    assert "coop/i18n/locales/kn/LC_MESSAGES/coop.po" in names
    assert "coop/api/counter/templates/base.html" in names
    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
         str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]

    # the installed copy first on the path; the checkout's folder is not the working one
    env = {**os.environ, "PYTHONPATH": str(site),
           "COOP_DATABASE_URL": f"sqlite:///{tmp_path / 'society.db'}",
           "COOP_DATA_KEY_FILE": str(tmp_path / "keys" / "data.key"),
           "COOP_BACKUP_KEY_FILE": str(tmp_path / "keys" / "backup.key")}
    env.pop("COOP_TEST_DATABASE_URL", None)

    def coop(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from coop.cli import main; main()",
                               *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)

    where = subprocess.run([sys.executable, "-c", "import coop; print(coop.__file__)"],
                           env=env, cwd=tmp_path, capture_output=True, text=True)
    assert where.stdout.strip() == str(site / "coop" / "__init__.py")
    init = coop("init")
    assert init.returncode == 0, init.stdout + init.stderr
    assert "Society set up" in init.stdout
    verified = coop("verify")
    assert verified.returncode == 0 and "ok: the chain" in verified.stdout, verified.stderr

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", "from coop.cli import main; main()",
                               "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/counter/login", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the installed server did not answer"
                time.sleep(0.3)
        assert page.status_code == 200 and 'name="password"' in page.text
        style = httpx.get(f"http://127.0.0.1:{port}/counter/counter.css", timeout=5)
        assert style.status_code == 200 and "font" in style.text
    finally:
        server.terminate()
        server.wait(timeout=20)
