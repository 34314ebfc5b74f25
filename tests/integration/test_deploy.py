"""deploy/ (issue 21): the systemd units start commands that coop accepts, with the settings
of deploy/coop.env, each of which coop reads; the service is hardened as README says; and
systemd itself accepts the units where systemd-analyze is installed."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from coop import tls
from coop.cli import app
from coop.config import Settings, read_env_file
from coop.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = ("coop.service", "coop-backup.service", "coop-backup.timer")
BINARY = "/opt/coop/.venv/bin/coop"


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A unit file's sections as (key, value) lists: keys may repeat, as systemd allows."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, equals, value = line.partition("=")
        assert current is not None and equals, f"{path.name}: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


def _values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [value for name, value in section if name == key]


def _command(line: str, environment: dict[str, str]) -> list[str]:
    """ExecStart as systemd runs it: ${NAME} replaced by the environment file's value."""
    words = shlex.split(line)
    return [re.sub(r"\$\{(\w+)\}", lambda m: environment[m[1]], word) for word in words]


def _accepted(words: list[str]) -> Any:
    """Parse a coop command line with coop's own options, as `coop` would (nothing runs);
    the parsing context, whose params are the options' values. (Typer may bring its own copy
    of Click: only its methods are used here.)"""
    assert words[0] == BINARY
    group: Any = typer.main.get_command(app)
    context = group.make_context("coop", [words[1]], resilient_parsing=True)
    command = group.get_command(context, words[1])
    assert command is not None, words[1]
    return command.make_context(words[1], words[2:], parent=context)


def _refused(words: list[str]) -> str:
    """The usage error (Click's exit code 2) a command line gets."""
    try:
        _accepted(words)
    except Exception as exc:  # Click's UsageError, from whichever Click Typer uses
        assert getattr(exc, "exit_code", None) == 2, exc
        return str(exc)
    raise AssertionError(f"{words} was accepted")


def coop_reads() -> set[str]:
    """Every COOP_* name coop's code reads."""
    return {name for path in (ROOT / "coop").rglob("*.py")
            for name in re.findall(r"\"(COOP_[A-Z0-9_]+)\"", path.read_text())}


ENV = read_env_file(DEPLOY / "coop.env")


def test_the_environment_file_names_only_real_settings() -> None:
    text = (DEPLOY / "coop.env").read_text()
    commented = set(re.findall(r"^#\s*(COOP_[A-Z0-9_]+)=", text, flags=re.M))
    assert set(ENV) | commented <= coop_reads(), (set(ENV) | commented) - coop_reads()
    assert {"COOP_DATABASE_URL", "COOP_DATA_KEY_FILE", "COOP_BACKUP_KEY_FILE",
            "COOP_BACKUP_DIR", "COOP_TLS_CERT", "COOP_TLS_KEY"} <= set(ENV)
    assert "COOP_ADMIN_PASSWORD" not in ENV  # no secret in it
    settings = Settings.from_env(ENV)
    assert settings.database_url == "sqlite:////var/lib/coop/coop.db"
    data = Path("/var/lib/coop")
    for path in (settings.data_key_file, settings.backup_key_file, settings.tls_cert,
                 settings.tls_key):
        assert path is not None and data in path.parents, path  # inside ReadWritePaths
    assert settings.tls_cert == data / "tls" / tls.SERVER_FILE  # as `coop tls init` names it
    assert settings.tls_key == data / "tls" / tls.SERVER_KEY_FILE


def test_the_service_runs_coop_serve_hardened() -> None:
    unit = parse_unit(DEPLOY / "coop.service")
    service = dict(unit["Service"])
    assert service["User"] == "coop" and service["EnvironmentFile"] == "/etc/coop/coop.env"
    expected = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                "UMask": "0077", "Restart": "on-failure", "ProtectHome": "yes"}
    assert {key: service.get(key) for key in expected} == expected
    assert "/var/lib/coop" in " ".join(_values(unit["Service"], "ReadWritePaths")).split()
    words = _command(service["ExecStart"], ENV)
    context = _accepted(words)
    assert words[1] == "serve"
    assert context.params["tls_cert"] == Path("/var/lib/coop/tls/server.pem")
    assert context.params["host"] == "0.0.0.0" and context.params["workers"] == 1
    assert unit["Install"] == [("WantedBy", "multi-user.target")]


def test_the_backup_service_and_its_timer() -> None:
    unit = parse_unit(DEPLOY / "coop-backup.service")
    service = dict(unit["Service"])
    assert service["User"] == "coop" and service["Type"] == "oneshot"
    words = _command(service["ExecStart"], ENV)
    context = _accepted(words)
    assert words[1] == "backup" and context.params["keep"] == 14
    assert context.params["out_file"] == Path(ENV["COOP_BACKUP_DIR"])
    writable = " ".join(_values(unit["Service"], "ReadWritePaths")).split()
    assert {"/var/lib/coop", ENV["COOP_BACKUP_DIR"]} <= set(writable)
    timer = dict(parse_unit(DEPLOY / "coop-backup.timer")["Timer"])
    assert timer["Persistent"] == "true" and timer["OnCalendar"].startswith("*-*-*")


def test_the_checks_can_fail(tmp_path: Path) -> None:
    assert "--tls-certificate" in _refused([BINARY, "serve", "--tls-certificate", "x"])
    assert "out_file" in _refused([BINARY, "backup", "--keep", "14"])  # --out is required
    bad = tmp_path / "bad.env"
    bad.write_text("COOP_DATABASE_URL = sqlite:///x.db\nexport COOP_TIMEZONE=UTC\n")
    with pytest.raises(InvalidInput, match="line 2"):
        read_env_file(bad)
    bad.write_text("# a comment\n; another\n\nCOOP_A='quoted value'\nCOOP_B=\"x\"\nCOOP_C=\n")
    assert read_env_file(bad) == {"COOP_A": "quoted value", "COOP_B": "x", "COOP_C": ""}
    assert "COOP_TLS_CRT" not in coop_reads()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """systemd-analyze verify, with the paths pointed at this checkout (it checks that the
    program and the environment file exist); an unknown key or a bad value is reported on
    stderr, which must stay empty."""
    coop = str(Path(sys.executable).with_name("coop"))  # this environment's own
    for name in UNITS:
        text = (DEPLOY / name).read_text().replace(BINARY, coop)
        (tmp_path / name).write_text(text.replace("/etc/coop/coop.env",
                                                  str(DEPLOY / "coop.env")))
    done = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in UNITS)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    (tmp_path / "broken.service").write_text(
        (tmp_path / "coop.service").read_text().replace("ProtectSystem=strict",
                                                        "ProtectSystem=very"))
    broken = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "broken.service")],
                            capture_output=True, text=True, timeout=120)
    assert "protect system" in broken.stderr.lower()
