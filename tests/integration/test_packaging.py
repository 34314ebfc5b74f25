"""Packaging (issue 21): the lock files that `make run` and `make test` install from agree with
pyproject.toml and with each other, the Makefile installs again when a lock changes and
`make run` installs the run lock only, and coop runs without any package that only the tests
and linters need (and without psycopg on SQLite, with a clear word on PostgreSQL)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
RUN_LOCK, DEV_LOCK = ROOT / "requirements" / "run.txt", ROOT / "requirements" / "dev.txt"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
NOT_FOR_RUNNING = {"pytest", "pytest-xdist", "hypothesis", "playwright", "schemathesis", "mypy",
                   "ruff", "import-linter", "beancount", "opencv-python-headless", "uv"}
LINUX = {"sys_platform": "linux", "platform_system": "Linux", "python_version": "3.11",
         "python_full_version": "3.11.0", "platform_machine": "x86_64",
         "implementation_name": "cpython", "platform_python_implementation": "CPython",
         "os_name": "posix", "extra": ""}


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def parse_lock(path: Path) -> dict[str, tuple[str, int]]:
    """{name: (version, number of hashes)} of a pip-compile style lock with hashes; refuses a
    requirement that is not pinned with == or carries no hash."""
    pins: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=[^\s#])", path.read_text()):
        first = block.split("\\", 1)[0].strip()
        if not first or first.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)", first)
        assert match, f"{path.name}: {first!r} is not pinned with =="
        hashes = block.count("--hash=sha256:")
        assert hashes, f"{path.name}: {first} has no hash"
        pins[_name(match[1])] = (match[3], hashes)
    return pins


def _direct(requirements: list[str]) -> list[Requirement]:
    wanted = [Requirement(text) for text in requirements]
    return [r for r in wanted if r.marker is None or r.marker.evaluate(LINUX)]


def _check_pinned(requirements: list[Requirement], lock: dict[str, tuple[str, int]],
                  where: str) -> None:
    for requirement in requirements:
        if _name(requirement.name) == "coop":
            continue  # coop[pg] in the dev extra: the package itself, installed editable
        name = _name(requirement.name)
        assert name in lock, f"{requirement} ({where}) is not in the lock: make lock"
        version = lock[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"the lock pins {name}=={version}, outside {requirement} ({where}): make lock")


def test_the_run_lock_has_every_dependency_and_nothing_for_tests() -> None:
    run = parse_lock(RUN_LOCK)
    project = PYPROJECT["project"]
    _check_pinned(_direct(project["dependencies"]), run, "dependencies")
    _check_pinned(_direct(project["optional-dependencies"]["pg"]), run, "extra pg")
    _check_pinned(_direct(PYPROJECT["build-system"]["requires"]), run, "build-system")
    assert "uvloop" in run and "psycopg-binary" in run
    assert not NOT_FOR_RUNNING & set(run), NOT_FOR_RUNNING & set(run)
    header = RUN_LOCK.read_text().splitlines()[:3]
    assert any("make lock" in line for line in header)


def test_the_dev_lock_holds_the_run_lock_and_pins_the_linters() -> None:
    run, dev = parse_lock(RUN_LOCK), parse_lock(DEV_LOCK)
    _check_pinned(_direct(PYPROJECT["project"]["optional-dependencies"]["dev"]), dev, "dev")
    differ = {name: (version, dev.get(name, ("missing",))[0])
              for name, (version, _) in run.items() if dev.get(name, ("",))[0] != version}
    assert not differ, f"run lock vs dev lock: {differ}"
    linters = {Requirement(text).name: Requirement(text)
               for text in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    for linter in ("ruff", "mypy"):
        (spec,) = linters[linter].specifier
        assert spec.operator == "==", f"{linter} is pinned exactly in pyproject.toml"
        assert dev[linter][0] == spec.version


def test_the_lock_checks_can_fail(tmp_path: Path) -> None:
    loose = tmp_path / "loose.txt"
    loose.write_text("alembic>=1.14 \\\n    --hash=sha256:00\n")
    with pytest.raises(AssertionError, match="not pinned"):
        parse_lock(loose)
    loose.write_text("alembic==1.14.0\n")
    with pytest.raises(AssertionError, match="no hash"):
        parse_lock(loose)
    with pytest.raises(AssertionError, match="outside"):
        _check_pinned([Requirement("alembic>=99")], {"alembic": ("1.14.0", 2)}, "test")
    with pytest.raises(AssertionError, match="not in the lock"):
        _check_pinned([Requirement("litestar")], {}, "test")


def test_the_installed_linters_are_the_locked_ones() -> None:
    dev = parse_lock(DEV_LOCK)
    for linter in ("ruff", "mypy"):
        assert importlib.metadata.version(linter) == dev[linter][0], (
            f"{linter} here is not the locked one: make setup")


# -- the Makefile ------------------------------------------------------------------------

BASE_TIME = 1_700_000_000


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The Makefile and what its stamps depend on, beside a stand-in virtual environment."""
    for name in ("Makefile", "pyproject.toml", "requirements/run.txt", "requirements/dev.txt",
                 "requirements/build.in"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
        os.utime(tmp_path / name, (BASE_TIME, BASE_TIME))
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").touch()
    return tmp_path


def _would_run(checkout: Path, target: str) -> str:
    done = subprocess.run(["make", "-n", target], cwd=checkout, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _age(checkout: Path, name: str, seconds: int) -> None:
    """Give a file the time `seconds` after the checkout's files."""
    stamp = BASE_TIME + seconds
    os.utime(checkout / name, (stamp, stamp))


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_installs_again_when_a_lock_changes(checkout: Path) -> None:
    fresh = _would_run(checkout, "setup")
    assert "--require-hashes -r requirements/run.txt" in fresh
    assert "--require-hashes -r requirements/dev.txt" in fresh
    assert "--no-build-isolation -e ." in fresh
    for stamp in (".venv/.run-stamp", ".venv/.dev-stamp"):
        (checkout / stamp).touch()
        _age(checkout, stamp, 60)
    assert "pip" not in _would_run(checkout, "setup")  # nothing changed: nothing installed
    _age(checkout, "requirements/dev.txt", 120)
    dev_changed = _would_run(checkout, "setup")
    assert "requirements/dev.txt" in dev_changed and "requirements/run.txt" not in dev_changed
    _age(checkout, "requirements/run.txt", 180)
    run_changed = _would_run(checkout, "setup")
    assert "requirements/run.txt" in run_changed and "requirements/dev.txt" in run_changed


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_installs_the_run_lock_only(checkout: Path) -> None:
    run = _would_run(checkout, "run")
    assert "--require-hashes -r requirements/run.txt" in run
    assert "requirements/dev.txt" not in run and "[dev]" not in run
    assert "system-deps.sh --run" in run and "coop serve" in run


# -- running without the tests' packages -------------------------------------------------

def _dev_only_modules() -> list[str]:
    """Top-level modules whose every distribution is in the dev lock but not the run lock."""
    run, dev = set(parse_lock(RUN_LOCK)), set(parse_lock(DEV_LOCK))
    dev_only = dev - run
    return sorted(module for module, dists in importlib.metadata.packages_distributions().items()
                  if all(_name(dist) in dev_only for dist in dists)
                  and module.isidentifier())


def _without(blocked: list[str], code: str, env: dict[str, str],
             cwd: Path) -> subprocess.CompletedProcess[str]:
    prelude = f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_coop_runs_without_the_dev_packages_and_without_psycopg_on_sqlite(
        tmp_path: Path) -> None:
    blocked = [*_dev_only_modules(), "psycopg", "psycopg_binary"]
    assert {"pytest", "hypothesis", "playwright", "schemathesis", "mypy"} <= set(blocked)
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "COOP_DATABASE_URL": f"sqlite:///{tmp_path / 'coop.db'}",
           "COOP_DATA_KEY_FILE": str(tmp_path / "data.key"),
           "COOP_ARGON2_MEMORY_KIB": "1024"}
    env.pop("COOP_TEST_DATABASE_URL", None)
    every_module = _without(blocked, """
        import pkgutil, importlib, coop
        for module in pkgutil.walk_packages(coop.__path__, "coop."):
            if not module.name.startswith("coop.migrations"):
                importlib.import_module(module.name)
        from coop.api import create_app
        from coop.config import Settings
        create_app(Settings.from_env())
        print("imported")
    """, env, tmp_path)
    assert every_module.returncode == 0 and "imported" in every_module.stdout, (
        every_module.stderr[-3000:])
    for command in ("init", "verify", "doctor"):
        done = _without(blocked, f"""
            from coop.cli import main
            sys.argv = ["coop", "{command}"]
            main()
        """, env, tmp_path)
        assert done.returncode in ((0, 1) if command == "doctor" else (0,)), (
            command, done.stdout, done.stderr[-3000:])
    on_postgres = _without(blocked, """
        from coop.cli import main
        sys.argv = ["coop", "init"]
        main()
    """, {**env, "COOP_DATABASE_URL": "postgresql+psycopg://coop@127.0.0.1:1/coop"}, tmp_path)
    assert on_postgres.returncode == 2, on_postgres.stderr
    assert "install coop[pg]" in on_postgres.stderr and "Traceback" not in on_postgres.stderr
    # the negative control: a module that imported a test package would have failed here
    control = _without(blocked, "import hypothesis", env, tmp_path)
    assert control.returncode == 1 and "import of hypothesis halted" in control.stderr
