"""Issue 15, finding 5: every file that holds the books or a key is its owner's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coop.cli import app
from coop.db import Database
from coop.ledger import queries


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_wal_keys_and_backups_are_private(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    old = os.umask(0o022)  # a permissive umask, as on many machines
    try:
        folder = tmp_path / "var" / "coop"
        monkeypatch.setenv("COOP_DATABASE_URL", f"sqlite:///{folder / 'coop.db'}")
        monkeypatch.setenv("COOP_DATA_KEY_FILE", str(tmp_path / "etc" / "data.key"))
        monkeypatch.setenv("COOP_BACKUP_KEY_FILE", str(tmp_path / "offsite" / "backup.key"))
        monkeypatch.setenv("COOP_ARGON2_MEMORY_KIB", "1024")
        runner = CliRunner()
        assert runner.invoke(app, ["init"]).exit_code == 0
        db = Database(f"sqlite:///{folder / 'coop.db'}")
        try:
            db.read(queries.book)  # WAL and shared-memory files exist while it is open
            made = runner.invoke(app, ["backup", "--out", str(tmp_path / "b.zip")])
            assert made.exit_code == 0, made.output
            files = [folder / "coop.db", folder / "coop.db-wal", folder / "coop.db-shm",
                     tmp_path / "etc" / "data.key", tmp_path / "offsite" / "backup.key",
                     tmp_path / "b.zip"]
            modes = {path.name: oct(_mode(path)) for path in files if path.exists()}
            assert {"coop.db", "coop.db-wal", "data.key", "backup.key", "b.zip"} <= set(modes)
            assert set(modes.values()) == {"0o600"}, modes
            for created in (folder, tmp_path / "etc", tmp_path / "offsite"):
                assert _mode(created) == 0o700, created
        finally:
            db.dispose()
        restored = runner.invoke(app, ["restore", str(tmp_path / "b.zip")],
                                 env={"COOP_DATABASE_URL":
                                      f"sqlite:///{tmp_path / 'again' / 'coop.db'}"})
        assert restored.exit_code == 0, restored.output
        assert _mode(tmp_path / "again" / "coop.db") == 0o600
    finally:
        os.umask(old)
