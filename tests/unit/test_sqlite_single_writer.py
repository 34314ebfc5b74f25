"""SQLite deployments write through one connection (the WAL-reset bug of SQLite < 3.51.3
corrupts a database when two connections write or checkpoint at once), and `coop serve`
warns at start-up when the linked SQLite has the bug."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coop import cli, db
from coop.db import Database, sqlite_version_warning


def test_the_warning_names_the_bug_only_for_an_affected_sqlite(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 40, 1))
    assert "WAL-reset" in (sqlite_version_warning() or "")
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 51, 3))
    assert sqlite_version_warning() is None


def test_serve_warns_at_start_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: started.append(app))
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 40, 1))
    monkeypatch.delenv("COOP_SQLITE_DRIVER", raising=False)  # Python's own sqlite3 warns
    monkeypatch.setenv("COOP_DATABASE_URL", f"sqlite:///{tmp_path / 'coop.db'}")
    # no data key: whatever keys the machine's own ~/.config/coop holds are not this test's
    monkeypatch.setenv("COOP_DATA_KEY_FILE", str(tmp_path / "no" / "data.key"))
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 0, result.output
    assert "WAL-reset bug" in result.output and started


def test_writes_go_through_one_connection(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'one.db'}", pool_size=8)
    try:
        assert database.writer.pool.size() == 1  # type: ignore[attr-defined]
        seen: set[int] = set()
        lock = threading.Lock()

        def write() -> None:
            def work(session: object) -> None:
                raw = session.connection().connection.driver_connection  # type: ignore[attr-defined]
                with lock:
                    seen.add(id(raw))
            for _ in range(20):
                database.write(work)

        threads = [threading.Thread(target=write) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 1  # six threads, one writer connection
    finally:
        database.dispose()
    assert db.SQLITE_SAFE_VERSION == (3, 51, 3)
