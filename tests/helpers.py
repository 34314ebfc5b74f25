"""Small builders for tests: member-like sub-accounts and common entries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from coop.clock import Clock
from coop.db import Database
from coop.ledger import EntryDraft, credit, debit, open_account, post
from coop.ledger.chart import CASH, SAVINGS
from coop.ledger.model import PostedEntry


def open_savings(db: Database, clock: Clock, suffix: str) -> str:
    code = f"{SAVINGS}:{suffix}"
    db.write(
        lambda s: open_account(
            s, code=code, name=f"Savings {suffix}", type="liability", parent=SAVINGS,
            owner=suffix, clock=clock,
        )
    )
    return code


def deposit(
    db: Database, clock: Clock, account: str, amount_minor: int, *,
    key: str | None = None, on: date | None = None,
) -> PostedEntry:
    draft = EntryDraft(
        value_date=on or clock.today(), narration="Deposit", kind="deposit",
        postings=(debit(CASH, amount_minor), credit(account, amount_minor)),
        actor="clerk", idempotency_key=key,
    )
    return db.write(lambda s: post(s, draft, clock=clock))


def withdraw(
    db: Database, clock: Clock, account: str, amount_minor: int, *, key: str | None = None
) -> PostedEntry:
    draft = EntryDraft(
        value_date=clock.today(), narration="Withdrawal", kind="withdrawal",
        postings=(debit(account, amount_minor), credit(CASH, amount_minor)),
        actor="clerk", idempotency_key=key,
    )
    return db.write(lambda s: post(s, draft, clock=clock))


def pdf_text(content: bytes) -> str:
    """The text of a PDF as poppler's pdftotext reads it (Latin-script documents only: shaped
    Indic text does not extract), with runs of spaces made single."""
    import re
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        raise AssertionError("pdftotext is missing: install Debian's poppler-utils")
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=content,
                            capture_output=True, check=True)
    return re.sub(r"[ \t]+", " ", result.stdout.decode())


def qr_codes(content: bytes) -> list[str]:
    """What the QR codes on the first page of a PDF say, read as a scanner would: the page
    rendered by poppler's pdftoppm, decoded by OpenCV's QR detectors. Like a phone held a
    little nearer or further, it tries 300, 200 and 400 dpi and both of OpenCV's detectors
    (the classic one misses some codes at some sizes) and answers the first reading."""
    import shutil
    import subprocess

    import cv2
    import numpy as np

    if shutil.which("pdftoppm") is None:
        raise AssertionError("pdftoppm is missing: install Debian's poppler-utils")
    detectors = [cv2.QRCodeDetector()]
    if hasattr(cv2, "QRCodeDetectorAruco"):
        detectors.append(cv2.QRCodeDetectorAruco())
    for dpi in ("300", "200", "400"):
        png = subprocess.run(["pdftoppm", "-r", dpi, "-singlefile", "-png", "-"],
                             input=content, capture_output=True, check=True).stdout
        image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
        for detector in detectors:
            found, texts, _, _ = detector.detectAndDecodeMulti(image)
            read = [str(text) for text in texts if text] if found else []
            if read:
                return read
    return []


@contextmanager
def scratch_database(tmp_path: Path, name: str) -> Iterator[Database]:
    """A database of its own for a migration test, migrated by the test itself: SQLite in
    `tmp_path`, or the worker's PostgreSQL database emptied first and left migrated to head
    for the other tests."""
    from coop import migrate
    from tests.conftest import PG_URL, reset_postgres

    if PG_URL:
        reset_postgres(PG_URL)
    db = Database(PG_URL or f"sqlite:///{tmp_path}/{name}.db", pool_size=1)
    try:
        yield db
    finally:
        db.dispose()
        if PG_URL:
            reset_postgres(PG_URL)
            engine = Database(PG_URL, pool_size=1)
            migrate.upgrade(engine.writer)
            engine.dispose()


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def multi_host(database_url: str, *, first_port: int) -> str:
    """`database_url` in libpq's multi-host form, a host that answers nothing before its own:
    a connection keeps the one that takes writes (`target_session_attrs=read-write`)."""
    url = make_url(database_url)
    hosts = (f"127.0.0.1:{first_port}", f"{url.host or '127.0.0.1'}:{url.port or 5432}")
    return url._replace(host=None, port=None).update_query_dict(
        {"host": hosts, "target_session_attrs": "read-write"}).render_as_string(
        hide_password=False)


class QueriesSent:
    """How many queries psycopg sent to the server: each `Cursor.execute` on the app's
    connections is one round trip (a query of several statements is one), the queued writes
    and their COMMIT included. Count while `counting()` is open; `n` is the running total."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        self._monkeypatch = monkeypatch

    @contextmanager
    def counting(self) -> Iterator[QueriesSent]:
        import psycopg

        original = psycopg.Cursor.execute

        def counted(cursor: object, *args: object, **kwargs: object) -> object:
            self.n += 1
            return original(cursor, *args, **kwargs)  # type: ignore[arg-type]

        self._monkeypatch.setattr(psycopg.Cursor, "execute", counted)
        try:
            yield self
        finally:
            self._monkeypatch.setattr(psycopg.Cursor, "execute", original)
