"""Backups that happen (issue 21): `coop backup --out FOLDER --keep N` names each backup by
the time and keeps the newest N there, removing only files named as it names them, and only
once the new one is written; `--keep` without a folder, or below 1, is refused in words (the
CLI's error, which `coop` prints as one line)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coop import backup
from coop.cli import app
from coop.errors import InvalidInput


def test_rotate_keeps_the_newest_and_nothing_else_is_touched(tmp_path: Path) -> None:
    names = [backup.rotated_name(datetime(2026, 12, day, 1, 30, tzinfo=UTC))
             for day in (3, 1, 4, 2)]
    assert names[1] == "coop-backup-20261201T013000Z.zip"
    for name in [*names, "notes.txt", "coop-backup-old.zip"]:
        (tmp_path / name).write_bytes(b"x")
    removed = backup.rotate(tmp_path, 2)
    assert [path.name for path in removed] == ["coop-backup-20261201T013000Z.zip",
                                               "coop-backup-20261202T013000Z.zip"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "coop-backup-20261203T013000Z.zip", "coop-backup-20261204T013000Z.zip",
        "coop-backup-old.zip", "notes.txt"]
    assert backup.rotate(tmp_path, 2) == []
    with pytest.raises(InvalidInput):
        backup.rotate(tmp_path, 0)


def test_coop_backup_into_a_folder_keeps_n(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOP_DATABASE_URL", f"sqlite:///{tmp_path / 'coop.db'}")
    monkeypatch.setenv("COOP_DATA_KEY_FILE", str(tmp_path / "keys" / "data.key"))
    monkeypatch.setenv("COOP_BACKUP_KEY_FILE", str(tmp_path / "keys" / "backup.key"))
    monkeypatch.setenv("COOP_ARGON2_MEMORY_KIB", "1024")
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    folder = tmp_path / "backups"
    folder.mkdir()
    old = [folder / backup.rotated_name(datetime(2026, 1, day, tzinfo=UTC)) for day in (1, 2)]
    for path in old:
        path.write_bytes(b"an old backup")
    made = runner.invoke(app, ["backup", "--out", str(folder), "--keep", "2"])
    assert made.exit_code == 0, made.output
    left = sorted(path.name for path in folder.iterdir())
    assert len(left) == 2 and left[0] == old[1].name  # the oldest went, the new one stayed
    assert backup.read_manifest(folder / left[1]).entries == 0  # a real, readable backup
    assert "removed 1" in " ".join(made.output.split())  # the console wraps lines

    refused = runner.invoke(app, ["backup", "--out", str(tmp_path / "one.zip"), "--keep", "2"])
    assert refused.exit_code != 0 and "is not a folder" in str(refused.exception)
    assert not (tmp_path / "one.zip").exists()
    nought = runner.invoke(app, ["backup", "--out", str(folder), "--keep", "0"])
    assert nought.exit_code != 0 and "at least 1" in str(nought.exception)
    assert len(list(folder.iterdir())) == 2
