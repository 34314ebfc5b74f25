"""The restore drill (reference/reliability.md §3.2, G9): a backup taken while deposits keep
coming restores into a fresh database that verifies, whose chain head is the one its manifest
recorded and whose balances are the source's at that entry; a restore never replaces books
unless told to; a damaged backup is refused."""

from __future__ import annotations

import subprocess
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from coop import backup
from coop.clock import FixedClock
from coop.db import Database
from coop.errors import Conflict, InvalidInput
from coop.ledger.orm import account_table, entry_table, posting_table
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings import record_deposit
from tests.conftest import is_postgres
from tests.helpers import closed_port, multi_host

KEY = bytes(range(100, 132))
MEMBERS = 20
SEED_DEPOSITS = 1000


@pytest.fixture
def target_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database to restore into: a new file, or a new PostgreSQL database."""
    if not is_postgres():
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    url = make_url(database_url)
    name = f"{url.database}_restore_drill"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _members(db: Database, clock: FixedClock) -> list[str]:
    keys = Vault(b"r" * 32)
    return db.write(lambda s: [register_member(s, identity=Identity(), vault=keys, clock=clock,
                                               joined_on=date(2025, 1, 1)).code
                               for _ in range(MEMBERS)])


def _deposit(db: Database, clock: FixedClock, code: str, amount: int) -> None:
    db.write(lambda s: record_deposit(s, code, amount_minor=amount, value_date=clock.today(),
                                      actor="clerk", clock=clock))


def _balances_through(db: Database, seq: int) -> dict[str, int]:
    """Every account's debits minus credits over the entries up to `seq`."""
    def work(session: object) -> dict[str, int]:
        side = func.sum(posting_table.c.amount_minor).filter(posting_table.c.side == "debit")
        other = func.sum(posting_table.c.amount_minor).filter(posting_table.c.side == "credit")
        rows = session.execute(  # type: ignore[attr-defined]
            select(account_table.c.code, side, other)
            .join(posting_table, posting_table.c.account_id == account_table.c.id)
            .where(posting_table.c.entry_id <= seq).group_by(account_table.c.code))
        return {code: (debit or 0) - (credit or 0) for code, debit, credit in rows}
    return db.read(work)


@pytest.mark.slow
def test_the_restore_drill(db: Database, clock: FixedClock, database_url: str,
                           target_url: str, tmp_path: Path,
                           figure: Callable[[str], None]) -> None:
    codes = _members(db, clock)
    db.write(lambda s: [record_deposit(s, codes[n % MEMBERS], amount_minor=1000 + n,
                                       value_date=clock.today(), actor="clerk", clock=clock)
                        for n in range(SEED_DEPOSITS)])
    stop = threading.Event()
    during = [0]

    def counter() -> None:  # the server keeps taking deposits while the backup runs
        while not stop.is_set():
            _deposit(db, clock, codes[during[0] % MEMBERS], 500)
            during[0] += 1

    writer = threading.Thread(target=counter)
    writer.start()
    try:
        time.sleep(0.05)
        started = time.perf_counter()
        manifest = backup.create(database_url, tmp_path / "books.zip", key=KEY)
        took = time.perf_counter() - started
        time.sleep(0.05)
    finally:
        stop.set()
        writer.join()
    assert during[0] > 0
    source_hash = db.read(lambda s: s.execute(select(entry_table.c.hash).where(
        entry_table.c.id == manifest.head_seq)).scalar())
    assert manifest.head_hash == source_hash  # the copy is the books as of one instant
    assert manifest.entries == manifest.head_seq

    restored = backup.restore(tmp_path / "books.zip", target_url, key=KEY)
    assert (restored.head_seq, restored.head_hash) == (manifest.head_seq, manifest.head_hash)
    copy = Database(target_url, pool_size=2)
    try:
        assert _balances_through(copy, manifest.head_seq) == _balances_through(
            db, manifest.head_seq)
    finally:
        copy.dispose()
    live = db.read(lambda s: s.scalar(select(func.max(entry_table.c.id))))
    engine = "postgresql" if is_postgres() else "sqlite"
    figure(f"restore drill ({engine}): {manifest.entries} entries backed up in {took:.2f} s while "
          f"{during[0]} deposits went on; restored and verified in {restored.seconds:.2f} s; "
          f"chain head equal ({manifest.head_seq}); {live - manifest.head_seq} entries behind "
          "the live books at the end (RPO)")

    with pytest.raises(backup.BackupRefused):
        backup.restore(tmp_path / "books.zip", target_url, key=KEY)  # it has books now
    assert backup.restore(tmp_path / "books.zip", target_url, force=True, key=KEY).head_seq == \
        manifest.head_seq


def test_a_damaged_or_foreign_backup_is_refused(db: Database, clock: FixedClock,
                                                database_url: str, target_url: str,
                                                tmp_path: Path) -> None:
    _deposit(db, clock, _members(db, clock)[0], 100)
    good = tmp_path / "books.zip"
    manifest = backup.create(database_url, good, key=KEY)
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(damaged, "w") as copy:
        copy.writestr("manifest.json", source.read("manifest.json"))
        payload = bytearray(source.read(manifest.payload))
        payload[len(payload) // 2] ^= 0xFF
        copy.writestr(manifest.payload, bytes(payload))
    with pytest.raises(InvalidInput, match="damaged"):
        backup.restore(damaged, target_url, key=KEY)
    (tmp_path / "not.zip").write_bytes(b"hello")
    with pytest.raises(InvalidInput, match="not a coop backup"):
        backup.restore(tmp_path / "not.zip", target_url, key=KEY)
    other = "postgresql+psycopg://nobody@127.0.0.1:1/none" if not is_postgres() \
        else f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(InvalidInput, match="backup; the target is"):
        backup.restore(good, other, key=KEY)


def test_a_backup_is_encrypted_at_rest_and_needs_its_key(
        db: Database, clock: FixedClock, database_url: str, target_url: str,
        tmp_path: Path) -> None:
    """Issue 15, finding 5: a stolen backup file shows no ledger and no schema without the
    backup key; another key is refused by name before anything is touched."""
    _deposit(db, clock, _members(db, clock)[0], 12345)
    made = tmp_path / "books.zip"
    manifest = backup.create(database_url, made, key=KEY)
    assert made.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(made) as archive:
        sealed = archive.read(manifest.payload)
    for clear in (b"SQLite format 3", b"ledger_entry", b"PGDMP", b"Savings ", b"CREATE TABLE"):
        assert clear not in sealed
    with pytest.raises(InvalidInput, match="another backup key"):
        backup.restore(made, target_url, key=bytes(32))
    assert backup.restore(made, target_url, key=KEY).head_seq == manifest.head_seq


def test_chunks_cut_from_a_backup_are_caught(db: Database, clock: FixedClock,
                                             database_url: str, target_url: str,
                                             tmp_path: Path) -> None:
    _deposit(db, clock, _members(db, clock)[0], 100)
    good = tmp_path / "books.zip"
    manifest = backup.create(database_url, good, key=KEY)
    cut = tmp_path / "cut.zip"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(cut, "w") as copy:
        copy.writestr("manifest.json", source.read("manifest.json"))
        payload = source.read(manifest.payload)
        copy.writestr(manifest.payload, payload[:-100])
    with pytest.raises(InvalidInput, match="damaged"):
        backup.restore(cut, target_url, key=KEY)


def test_the_database_password_never_goes_on_a_command_line(
        db: Database, clock: FixedClock, database_url: str, target_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """pg_dump and pg_restore get the password as PGPASSWORD in their environment, never in
    their arguments (which every user of the machine can read in the process list). The
    test's PostgreSQL trusts local connections, so any password is accepted."""
    if not is_postgres():
        pytest.skip("pg_dump and pg_restore run only for PostgreSQL")
    _members(db, clock)
    calls: list[tuple[list[str], dict[str, str]]] = []
    real_run = subprocess.run

    def recording_run(args: list[str], **kw: object) -> object:
        calls.append((list(args), dict(kw.get("env") or {})))  # type: ignore[call-overload]
        return real_run(args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "run", recording_run)
    secret = "s3cret-Passw0rd"
    with_password = make_url(database_url).set(password=secret).render_as_string(
        hide_password=False)
    target = make_url(target_url).set(password=secret).render_as_string(hide_password=False)
    backup.create(with_password, tmp_path / "books.zip", key=KEY)
    backup.restore(tmp_path / "books.zip", target, key=KEY)
    assert [Path(args[0]).name for args, _ in calls] == ["pg_dump", "pg_restore"]
    for args, env in calls:
        assert not any(secret in arg for arg in args), args
        assert env["PGPASSWORD"] == secret


@pytest.mark.parametrize("fault", ["the tool fails half-way", "the copy does not verify"])
def test_a_restore_that_fails_half_way_leaves_the_old_books_untouched(
        db: Database, clock: FixedClock, database_url: str, target_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    """All or nothing: the copy is restored beside the target and proven there; when the
    restore fails on the way (pg_restore dies after writing part of it; or the copy does not
    verify), the target still holds its own books, whole, and nothing is left beside it."""
    codes = _members(db, clock)
    _deposit(db, clock, codes[0], 700)
    backup.create(database_url, tmp_path / "books.zip", key=KEY)
    # the target holds other books: a society restored earlier, then worked on
    backup.restore(tmp_path / "books.zip", target_url, key=KEY)
    before = Database(target_url, pool_size=2)
    try:
        _deposit(before, clock, codes[0], 300)
        head = before.read(lambda s: s.scalar(select(func.max(entry_table.c.id))))
        balances = _balances_through(before, head)
    finally:
        before.dispose()

    if fault == "the tool fails half-way":
        real_run = subprocess.run

        def dies_after_writing(args: list[str], **kw: object) -> object:
            real_run(args, **kw)  # type: ignore[call-overload]
            raise subprocess.CalledProcessError(1, args, stderr=b"connection lost")

        monkeypatch.setattr(subprocess, "run", dies_after_writing)
        if not is_postgres():
            pytest.skip("SQLite's restore runs no tool")
        with pytest.raises(InvalidInput, match="left as it was"):
            backup.restore(tmp_path / "books.zip", target_url, key=KEY, force=True)
    else:
        def refuses(*_args: object) -> None:
            raise Conflict("the restored books do not verify: entry 3: tampered")

        monkeypatch.setattr(backup, "_prove", refuses)
        with pytest.raises(Conflict):
            backup.restore(tmp_path / "books.zip", target_url, key=KEY, force=True)

    after = Database(target_url, pool_size=2)
    try:
        assert after.read(lambda s: s.scalar(select(func.max(entry_table.c.id)))) == head
        assert _balances_through(after, head) == balances
    finally:
        after.dispose()
    if is_postgres():
        url = make_url(target_url)
        admin = create_engine(url.set(database="postgres"))
        try:
            with admin.connect() as connection:
                left = connection.exec_driver_sql(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s",
                    (f"{url.database}_%",)).scalars().all()
        finally:
            admin.dispose()
        assert left == []
    else:
        assert not Path(str(make_url(target_url).database) + ".restoring").exists()


def test_backup_and_restore_take_a_url_with_several_hosts(
        db: Database, clock: FixedClock, database_url: str, target_url: str,
        tmp_path: Path) -> None:
    """A primary and its standby in one URL (issue 21): pg_dump and pg_restore are given
    libpq's own multi-host string (handed the URL with `host=a:p&host=b:p`, pg_dump took
    "127.0.0.1:5432" for a host name and failed)."""
    if not is_postgres():
        pytest.skip("pg_dump and pg_restore run only for PostgreSQL")
    codes = _members(db, clock)
    _deposit(db, clock, codes[0], 1234)
    closed = closed_port()
    manifest = backup.create(multi_host(database_url, first_port=closed),
                             tmp_path / "books.zip", key=KEY)
    restored = backup.restore(tmp_path / "books.zip",
                              multi_host(target_url, first_port=closed), key=KEY)
    assert (restored.head_seq, restored.head_hash) == (manifest.head_seq, manifest.head_hash)
    copy = Database(target_url, pool_size=1)
    try:
        assert _balances_through(copy, manifest.head_seq) == \
            _balances_through(db, manifest.head_seq)
    finally:
        copy.dispose()
