"""The reference for bench/deposits.py: the same HTTP stack (uvicorn, uvloop, httptools) with
the least a durable deposit can do, written plainly: parse the JSON body, one transaction of
one INSERT (plain sqlite3 in WAL with synchronous=FULL, or plain psycopg), answer 201 with a
small JSON body. No framework, no validation, no ledger: the ceiling coop is measured against.

    COOP_REFERENCE_URL=sqlite:///FILE | postgresql://... uvicorn bench.reference_server:app
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from typing import Any

URL = os.environ["COOP_REFERENCE_URL"]
PG = URL.startswith("postgresql")
_local = threading.local()
SCHEMA = ("CREATE TABLE IF NOT EXISTS deposit (id INTEGER PRIMARY KEY, idem TEXT UNIQUE, "
          "code TEXT, amount TEXT)")


def _connection() -> Any:
    conn = getattr(_local, "conn", None)
    if conn is None:
        if PG:
            import psycopg

            conn = psycopg.connect(URL, autocommit=False)
        else:
            conn = sqlite3.connect(URL.removeprefix("sqlite:///"), isolation_level=None,
                                   check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        _local.conn = conn
    return conn


def _insert(key: str, code: str, amount: str) -> int:
    conn = _connection()
    if PG:
        with conn.transaction():
            row = conn.execute("INSERT INTO deposit (idem, code, amount) VALUES (%s, %s, %s) "
                               "RETURNING id", (key, code, amount)).fetchone()
        return int(row[0])
    conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = conn.execute("INSERT INTO deposit (idem, code, amount) VALUES (?, ?, ?)",
                              (key, code, amount))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(cursor.lastrowid or 0)


_LOCK = threading.Lock()


def setup() -> None:
    conn = _connection()
    if PG:
        with conn.transaction():
            conn.execute(SCHEMA.replace("INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY"))
    else:
        conn.execute(SCHEMA)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                setup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = dict(scope["headers"])
    key = headers.get(b"idempotency-key", b"").decode()
    code = scope["path"].rsplit("/", 2)[-2]
    amount = json.loads(body)["amount"]
    import asyncio

    def work() -> int:
        with _LOCK:  # one writer per process, as coop's
            return _insert(key, code, amount)

    entry = await asyncio.get_running_loop().run_in_executor(None, work)
    payload = json.dumps({"entry_id": entry, "balance": amount}).encode()
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
