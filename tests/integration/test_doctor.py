"""`coop doctor` (issue 21): each check passes on a machine set up right and fails, with what
to do, on one set up wrong. The database checks run on both engines (the migrated database of
the fixtures); the rest are about files, the disk and the clock."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from coop import doctor, migrate, tls
from coop.cli import app
from coop.config import Settings
from coop.db import Database, wal_reset_safe
from coop.i18n import LANGUAGES
from coop.passbooks.typeset import font_files
from tests.conftest import PG_URL

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SQLITE_URL = "sqlite:///{}"


def _settings(tmp_path: Path, **changes: object) -> Settings:
    base = Settings(database_url=SQLITE_URL.format(tmp_path / "coop.db"),
                    data_key_file=tmp_path / "keys" / "data.key",
                    backup_key_file=tmp_path / "keys" / "backup.key")
    return replace(base, **changes)  # type: ignore[arg-type]


def _statuses(findings: list[doctor.Finding]) -> list[str]:
    return [finding.status for finding in findings]


# -- SQLite's version and journal -------------------------------------------------------

def test_the_wal_reset_bug_is_fixed_in_3_51_3_and_in_two_backports() -> None:
    for safe in [(3, 51, 3), (3, 54, 1), (4, 0, 0), (3, 50, 7), (3, 50, 9), (3, 44, 6)]:
        assert wal_reset_safe(safe), safe
    for unsafe in [(3, 40, 1), (3, 51, 2), (3, 50, 6), (3, 44, 5), (3, 45, 0), (3, 49, 9)]:
        assert not wal_reset_safe(unsafe), unsafe


def test_sqlite_library(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    versions = {"sqlite3": (3, 40, 1), "apsw": (3, 54, 1)}
    warned = doctor.sqlite_library(settings, versions, driver="sqlite3")
    assert warned.status == "WARN" and "WAL-reset" in warned.message
    assert "one coop process" in warned.message and "COOP_SQLITE_DRIVER=apsw" in warned.message
    assert doctor.sqlite_library(settings, versions, driver="apsw").status == "OK"
    backport = doctor.sqlite_library(settings, {"sqlite3": (3, 50, 7)}, driver="sqlite3")
    assert backport.status == "OK"
    assert doctor.sqlite_library(settings, versions, driver="pysqlite").status == "FAIL"
    postgres = replace(settings, database_url="postgresql+psycopg://coop@/coop")
    assert doctor.sqlite_library(postgres, versions, driver="sqlite3").status == "OK"


def test_journal_mode(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    missing = doctor.journal_mode(settings)
    assert missing.status == "FAIL" and "coop init" in missing.message
    db = Database(settings.database_url)  # coop's own connections turn WAL on
    try:
        migrate.upgrade(db.writer)
    finally:
        db.dispose()
    assert doctor.journal_mode(settings).status == "OK"
    with sqlite3.connect(tmp_path / "coop.db") as raw:
        raw.execute("PRAGMA journal_mode=DELETE")
    rollback = doctor.journal_mode(settings)
    assert rollback.status == "FAIL" and "not in WAL mode" in rollback.message
    (tmp_path / "coop.db").write_bytes(b"not a database" * 20)
    assert doctor.journal_mode(settings).status == "FAIL"


# -- the database ------------------------------------------------------------------------

def test_a_migrated_database_passes(database_url: str, tmp_path: Path) -> None:
    found = doctor.database(_settings(tmp_path, database_url=database_url))
    assert found.status == "OK" and "latest revision" in found.message, found


@pytest.mark.skipif(bool(PG_URL), reason="migrates a database of its own down (SQLite)")
def test_a_database_behind_the_code_or_empty_fails(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    db = Database(settings.database_url)
    try:
        migrate.upgrade(db.writer)
        migrate.downgrade(db.writer, "-1")
    finally:
        db.dispose()
    behind = doctor.database(settings)
    assert behind.status == "FAIL" and "this coop expects" in behind.message, behind
    empty = _settings(tmp_path, database_url=SQLITE_URL.format(tmp_path / "empty.db"))
    sqlite3.connect(tmp_path / "empty.db").close()
    assert "no coop tables" in doctor.database(empty).message
    nowhere = _settings(tmp_path, database_url=SQLITE_URL.format(tmp_path / "no" / "x.db"))
    assert doctor.database(nowhere).status == "FAIL"
    assert not (tmp_path / "no").exists()  # the doctor created nothing


def test_an_unreachable_postgresql_fails(tmp_path: Path) -> None:
    settings = _settings(tmp_path, database_url="postgresql+psycopg://coop@127.0.0.1:1/coop")
    found = doctor.database(settings)
    assert found.status == "FAIL" and "cannot read" in found.message, found


# -- key files ---------------------------------------------------------------------------

def _key(path: Path, mode: int = 0o600, size: int = 32) -> None:
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_bytes(os.urandom(size))
    path.chmod(mode)


def test_key_files(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    uid = os.geteuid()
    missing = doctor.key_files(settings, uid=uid)
    assert _statuses(missing) == ["FAIL", "WARN"]  # no data key; the backup key comes later
    _key(settings.data_key_file)
    _key(settings.backup_key_file)
    assert _statuses(doctor.key_files(settings, uid=uid)) == ["OK", "OK"]
    settings.backup_key_file.chmod(0o644)
    readable = doctor.key_files(settings, uid=uid)[1]
    assert readable.status == "FAIL" and "chmod 600" in readable.message
    settings.backup_key_file.chmod(0o600)
    someone_else = doctor.key_files(settings, uid=uid + 1)
    assert _statuses(someone_else) == ["FAIL", "FAIL"]
    assert "chown" in someone_else[0].message
    _key(settings.data_key_file, size=31)
    assert "32-byte" in doctor.key_files(settings, uid=uid)[0].message
    _key(settings.data_key_file)
    (tmp_path / "keys").chmod(0o777)
    assert _statuses(doctor.key_files(settings, uid=uid)) == ["WARN", "WARN"]


# -- fonts -------------------------------------------------------------------------------

def test_fonts(tmp_path: Path) -> None:
    for language in LANGUAGES:
        for name in font_files(language):
            (tmp_path / name).touch()
    assert doctor.fonts(tmp_path).status == "OK"
    (tmp_path / "NotoSansKannada-Bold.ttf").unlink()
    found = doctor.fonts(tmp_path)
    assert found.status == "FAIL" and "documents in kn cannot" in found.message
    assert "NotoSansKannada-Bold.ttf" in found.message and "fonts-noto-core" in found.message
    (tmp_path / "NotoSans-Regular.ttf").unlink()  # every language needs the Latin font
    assert "en, kn, bn, hi, es, sw" in doctor.fonts(tmp_path).message


# -- TLS ---------------------------------------------------------------------------------

def test_tls(tmp_path: Path) -> None:
    written = tls.write_office_tls(tmp_path / "tls", names=["coop.office.lan"], ips=[])
    settings = _settings(tmp_path, tls_cert=written.cert, tls_key=written.key)
    end = x509.load_pem_x509_certificates(written.cert.read_bytes())[0].not_valid_after_utc
    now = datetime.now(UTC)
    good = doctor.tls(settings, now=now)
    assert _statuses(good) == ["OK", "OK"] and "coop.office.lan" in good[0].message
    soon = doctor.tls(settings, now=end - timedelta(days=10))
    assert soon[0].status == "WARN" and "expires in 10 days" in soon[0].message
    expired = doctor.tls(settings, now=end + timedelta(days=1))
    assert expired[0].status == "FAIL" and "expired on" in expired[0].message
    written.key.chmod(0o644)
    assert doctor.tls(settings, now=now)[1].status == "FAIL"
    written.key.chmod(0o600)
    other = tls.write_office_tls(tmp_path / "other", names=["elsewhere.lan"], ips=[])
    wrong = doctor.tls(replace(settings, tls_key=other.key), now=now)[1]
    assert wrong.status == "FAIL" and "not the certificate's" in wrong.message
    assert _statuses(doctor.tls(replace(settings, tls_key=None), now=now)) == ["FAIL"]
    plain = _settings(tmp_path)
    assert _statuses(doctor.tls(plain, now=now)) == ["WARN"]
    assert _statuses(doctor.tls(replace(plain, trusted_proxies=("127.0.0.1",)),
                                now=now)) == ["OK"]


# -- backups -----------------------------------------------------------------------------

def test_the_age_of_the_newest_backup(tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    assert doctor.backups(None, now=NOW).status == "WARN"
    assert doctor.backups(folder, now=NOW).status == "FAIL"  # no such folder
    folder.mkdir()
    (folder / "notes.txt").write_text("not a backup")
    empty = doctor.backups(folder, now=NOW)
    assert empty.status == "FAIL" and "no backup" in empty.message
    (folder / "coop-backup-20261201T023000Z.zip").touch()
    (folder / "coop-backup-20261207T023000Z.zip").touch()
    fresh = doctor.backups(folder, now=NOW)
    assert fresh.status == "OK" and "6.5 hours" in fresh.message, fresh
    assert doctor.backups(folder, now=NOW + timedelta(hours=24)).status == "WARN"
    late = doctor.backups(folder, now=NOW + timedelta(days=3))
    assert late.status == "FAIL" and "3.3 days" in late.message
    assert doctor.backups(folder, now=NOW - timedelta(days=1)).status == "WARN"  # future


def test_a_real_backup_is_found(db: Database, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    monkeypatch.setenv("COOP_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("COOP_BACKUP_KEY_FILE", str(tmp_path / "keys" / "backup.key"))
    made = CliRunner().invoke(app, ["backup", "--out", str(folder), "--keep", "3"])
    assert made.exit_code == 0, made.output
    found = doctor.backups(folder, now=datetime.now(UTC))
    assert found.status == "OK" and "1 in" in found.message, found


# -- disk --------------------------------------------------------------------------------

def test_free_disk(tmp_path: Path) -> None:
    settings = _settings(tmp_path, backup_dir=tmp_path)

    def free(amount: int) -> list[doctor.Finding]:
        return doctor.disk(settings, lambda _: doctor.DiskUsage(100 << 30, 0, amount))

    assert _statuses(free(50 << 30)) == ["OK"]  # one file system: one line
    assert _statuses(free(1 << 30)) == ["WARN"]
    assert _statuses(free(100 << 20)) == ["FAIL"]
    with (tmp_path / "coop.db").open("wb") as book:
        book.truncate(200 << 20)  # a book of 200 MiB: a backup needs about twice that
    big_book = doctor.disk(settings, lambda _: doctor.DiskUsage(0, 0, 300 << 20))
    assert _statuses(big_book) == ["FAIL"]
    postgres = Settings(database_url="postgresql+psycopg://coop@/coop")
    assert _statuses(doctor.disk(postgres, doctor._disk_usage)) == ["OK"]
    real = doctor.disk(settings, doctor._disk_usage)
    assert "GiB free in" in real[0].message


# -- clock -------------------------------------------------------------------------------

def test_clock_and_time_zone(tmp_path: Path) -> None:
    settings = _settings(tmp_path, timezone="Asia/Kolkata")
    agreed = doctor.clock(settings, now=NOW, zone="Asia/Kolkata", synchronized=True)
    assert _statuses(agreed) == ["OK", "OK"] and "2026-12-07" in agreed[0].message
    utc = doctor.clock(settings, now=NOW, zone="Etc/UTC", synchronized=False)
    assert _statuses(utc) == ["WARN", "WARN"]
    assert "timedatectl set-timezone Asia/Kolkata" in utc[0].message
    assert _statuses(doctor.clock(settings, now=NOW, zone=None, synchronized=None)) == [
        "WARN", "WARN"]
    same_offset = doctor.clock(replace(settings, timezone="Asia/Calcutta"), now=NOW,
                               zone="Asia/Kolkata", synchronized=True)
    assert _statuses(same_offset) == ["OK", "OK"]
    pinned = doctor.clock(replace(settings, business_date=date(2025, 6, 30)), now=NOW,
                          zone="Asia/Kolkata", synchronized=True)
    assert _statuses(pinned) == ["WARN", "OK", "OK"]
    assert _statuses(doctor.clock(replace(settings, timezone="Mars/Olympus"), now=NOW,
                                  zone="Asia/Kolkata", synchronized=True)) == ["FAIL"]


def test_the_machine_s_zone_and_ntp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "localtime").symlink_to("/usr/share/zoneinfo/Asia/Kolkata")
    assert doctor.system_zone(tmp_path / "localtime") == "Asia/Kolkata"
    (tmp_path / "timezone").write_text("Africa/Nairobi\n")
    assert doctor.system_zone(tmp_path / "none", tmp_path / "timezone") == "Africa/Nairobi"
    assert doctor.system_zone(tmp_path / "none", tmp_path / "none") is None
    tool = tmp_path / "bin" / "timedatectl"
    tool.parent.mkdir()
    monkeypatch.setenv("PATH", str(tool.parent))
    for script, answer in [("echo yes", True), ("echo no", False), ("exit 1", None)]:
        tool.write_text(f"#!/bin/sh\n{script}\n")
        tool.chmod(0o755)
        assert doctor.ntp_synchronized() is answer, script


# -- the command -------------------------------------------------------------------------

def test_coop_doctor_reads_the_env_file_and_exits_1_on_a_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    for language in LANGUAGES:
        for name in font_files(language):
            (fonts / name).touch()
    backups = tmp_path / "backups"
    backups.mkdir()
    env = tmp_path / "coop.env"
    env.write_text(f"""# as deploy/coop.env
COOP_DATABASE_URL=sqlite:///{tmp_path / 'coop.db'}
COOP_DATA_KEY_FILE={tmp_path / 'keys' / 'data.key'}
COOP_BACKUP_KEY_FILE="{tmp_path / 'keys' / 'backup.key'}"
COOP_BACKUP_DIR={backups}
COOP_FONT_DIR={fonts}
COOP_ARGON2_MEMORY_KIB=1024
""")
    for name in ("COOP_DATABASE_URL", "COOP_DATA_KEY_FILE", "COOP_BACKUP_KEY_FILE",
                 "COOP_BACKUP_DIR", "COOP_FONT_DIR", "COOP_TLS_CERT", "COOP_TLS_KEY",
                 "COOP_BUSINESS_DATE", "COOP_SQLITE_DRIVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # --env-file writes os.environ
    runner = CliRunner()
    for command in (["init"], ["backup", "--out", str(backups), "--keep", "2"]):
        done = runner.invoke(app, ["--env-file", str(env), *command])
        assert done.exit_code == 0, done.output
    healthy = runner.invoke(app, ["--env-file", str(env), "doctor"])
    assert healthy.exit_code == 0, healthy.output
    assert "FAIL" not in healthy.output and "OK   database" in healthy.output
    assert "0 failed" in healthy.output
    (tmp_path / "keys" / "data.key").chmod(0o644)
    sick = runner.invoke(app, ["--env-file", str(env), "doctor"])
    assert sick.exit_code == 1 and "FAIL keys" in sick.output and "chmod 600" in sick.output
    assert stat.S_IMODE((tmp_path / "keys" / "data.key").stat().st_mode) == 0o644  # only read
    shutil.rmtree(backups)
    assert "FAIL backups" in runner.invoke(app, ["--env-file", str(env), "doctor"]).output
