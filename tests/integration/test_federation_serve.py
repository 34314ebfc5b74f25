"""Two societies served by one real `coop serve --societies` process, each set up by
`coop init --societies` in its own database (two SQLite files, or two PostgreSQL databases
beside the test database): what one society's admin, token, member and deposit reach in the
other is nothing, by prefix and by host name; `coop societies list` and `env` name each
society's own settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from coop.api.federation import Federation, app_from_env
from coop.cli import app as cli
from tests.api.two_societies import HOSTS, NAMES, Reach, check_isolated
from tests.conftest import PG_URL
from tests.integration.office import free_port


@dataclass
class Party:
    name: str
    member_code: str


def society_urls(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A database that does not exist yet for each society (`coop init` makes it)."""
    if not PG_URL:
        yield {name: f"sqlite:///{tmp_path / f'{name}.db'}" for name in NAMES}
        return
    base = make_url(PG_URL)
    names = {name: f"{base.database}_{name}_serve" for name in NAMES}
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for database in names.values():
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
    try:
        yield {name: base.set(database=database).render_as_string(hide_password=False)
               for name, database in names.items()}
    finally:
        with admin.connect() as conn:
            for database in names.values():
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def societies_file(tmp_path: Path) -> Iterator[Path]:
    for urls in society_urls(tmp_path):
        path = tmp_path / "societies.toml"
        path.write_text("".join(
            f'[society.{name}]\ndatabase_url = "{urls[name]}"\n'
            f'data_key_file = "keys/{name}.key"\nhosts = ["{HOSTS[name]}"]\n'
            f'society_name = "{name.title()} Society"\n\n' for name in NAMES))
        yield path


def environment(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "COOP_ARGON2_MEMORY_KIB": "8192",
           "COOP_ADMIN_PASSWORD": "not used for a federation",
           "COOP_DATABASE_URL": f"sqlite:///{tmp_path / 'not-a-society.db'}"}
    for name in ("COOP_TEST_DATABASE_URL", "COOP_TLS_CERT", "COOP_TLS_KEY", "COOP_HTTPS_ONLY",
                 "COOP_TRUSTED_PROXIES", "COOP_SOCIETIES"):
        env.pop(name, None)
    return env


def coop(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", "from coop.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_two_societies_served_by_one_process(tmp_path: Path, societies_file: Path) -> None:
    env = environment(tmp_path)
    said = coop(env, "init", "--societies", str(societies_file))
    passwords = dict(zip(NAMES, re.findall(r"User admin created with password (\S+)",
                                           said.replace("\n", " ")), strict=True))
    assert passwords["north"] != passwords["south"], said
    assert not (tmp_path / "not-a-society.db").exists()  # COOP_DATABASE_URL is no society's
    again = coop(env, "init", "--societies", str(societies_file))  # safe twice
    assert "already set up" in again and "password" not in again

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from coop.cli import main; main()", "serve", "--port",
         str(port)], env={**env, "COOP_SOCIETIES": str(societies_file)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(server, f"{base}/health")
        with httpx.Client(base_url=base, timeout=30) as client:
            reach = Reach(client)
            codes = {}
            for name in NAMES:
                token = reach.token(name, "admin", passwords[name]).json()["access_token"]
                made = reach.post(name, "/members", {"known_as": name}, token)
                assert made.status_code == 201, made.text
                codes[name] = made.json()["code"]
                assert reach.get(name, "/society", token).json()["name"] \
                    == f"{name.title()} Society"
            north, south = (Party(name, codes[name]) for name in NAMES)
            check_isolated(reach, north, south, passwords=passwords)
            check_isolated(Reach(client, by_host=True), south, north, passwords=passwords)
            assert client.get("/s/east/api/v1/society").status_code == 404

            login = client.get("/s/north/counter/login")
            assert "Path=/s/north/counter" in login.headers["set-cookie"]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    # uvicorn stops gracefully on SIGTERM (each society's app shut down), then re-raises it
    assert server.returncode in (0, -15), output
    assert "serving 2 societies" in output
    assert "Traceback" not in output and "shutdown failed" not in output.lower(), output


def wait_for(server: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            output = server.stdout.read() if server.stdout else b""
            raise AssertionError(output.decode())
        assert time.monotonic() < deadline, "coop serve --societies did not answer"
        time.sleep(0.3)


def test_societies_list_and_env_name_each_societys_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "societies.toml"
    path.write_text('[society.north]\ndatabase_url = "postgresql+psycopg://u:pw@db/n"\n'
                    'data_key_file = "keys/n.key"\nhosts = ["north.coop.test"]\n'
                    '[society.south]\ndatabase_url = "sqlite:///s.db"\n'
                    'data_key_file = "keys/s.key"\n')
    runner = CliRunner()
    listed = runner.invoke(cli, ["societies", "list", "--societies", str(path)])
    assert listed.exit_code == 0, listed.output
    assert "/s/north/, north.coop.test/" in listed.output and "pw" not in listed.output
    names = runner.invoke(cli, ["societies", "list", "--names"], env={
        "COOP_SOCIETIES": str(path)})
    assert names.output.split() == ["north", "south"]
    env = runner.invoke(cli, ["societies", "env", "south", "--societies", str(path)])
    assert env.exit_code == 0, env.output
    assert f"export COOP_DATABASE_URL=sqlite:///{tmp_path.resolve()}/s.db" in env.output
    assert f"export COOP_DATA_KEY_FILE={tmp_path.resolve()}/keys/s.key" in env.output
    assert "unset COOP_SOCIETIES" in env.output
    unknown = runner.invoke(cli, ["societies", "env", "east", "--societies", str(path)])
    assert unknown.exit_code == 2 and "no society 'east'" in unknown.output
    path.write_text(path.read_text().replace('"sqlite:///s.db"',
                                             '"postgresql+psycopg://other@DB/n"'))
    refused = runner.invoke(cli, ["serve", "--societies", str(path)])
    assert refused.exit_code == 2 and "share a database" in refused.output

    # what each of `coop serve --workers N`'s processes builds from the environment
    path.write_text(path.read_text().replace("@DB/n", "@db/s"))
    monkeypatch.setenv("COOP_SOCIETIES", str(path))
    built = app_from_env()
    assert isinstance(built, Federation)
    assert [m.config.name for m in built.members] == ["north", "south"]
