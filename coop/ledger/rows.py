"""The ledger's hot path: its few statements on the driver's own cursor, the rows they lock
(the accounts with their control accounts, the book's chain head) and the writes of a post.

`coop.ledger.service` decides what to post; this module takes the locks in their one order
(the book, then the accounts by id) and writes the rows (on PostgreSQL queued to go with the
next statement, coop.db_pg).

The book first: every post takes it, so a transaction that waits for it holds no account yet.
With the accounts first, two processes' group commits deadlocked: a group's later request
locks its accounts after the group's earlier ones, out of id order, and the other group held
one of them while waiting for an account the first group had (tests/integration/
test_group_lock_order.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from coop import db_pg
from coop.db_statements import driver_cursor, transaction_memo
from coop.errors import InvalidInput
from coop.ledger.chart import HOLDS_OWN_POSTINGS
from coop.ledger.model import ControlAccountPosting, PostedEntry, UnknownAccount

LOCK_CHUNK = 400


class _Raw:
    """The hot path's statements on the DBAPI cursor of the session's own connection.

    SQLAlchemy Core costs some tens of microseconds a statement; a posting runs six, and the
    counter target is half of what plain sqlite3 manages, so these six bypass it. The SQL is
    the same on both engines but for the placeholder and FOR UPDATE, and values are stored in
    exactly the representation SQLAlchemy's types use (dates as ISO text on SQLite, instants
    as naive UTC text), so the ORM and the queries read them back unchanged.
    """

    def __init__(self, session: Session) -> None:
        dialect, shared = driver_cursor(session)
        self.session = session
        self.pg = dialect.name == "postgresql"
        self.driver: Any = shared.connection
        self.cursor: Any = self.driver.cursor()
        self.for_update = " FOR UPDATE" if self.pg else ""

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """On PostgreSQL, the statements inside go to the server without waiting for each
        other's answers (psycopg's pipeline mode): the server still runs them one after the
        other, in order, each seeing what the one before did, so nothing changes but the
        round trips. A fetch inside waits for the answers so far."""
        if not self.pg:
            yield
            return
        with self.driver.pipeline():
            yield

    def new_cursor(self) -> Any:
        return self.driver.cursor()

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.pg else statement

    def execute(self, statement: str, params: Sequence[object] = ()) -> Any:
        return self.cursor.execute(self.sql(statement), params)

    def execute_once(self, statement: str, params: Sequence[object]) -> Any:
        """For statements whose shape varies (IN lists): never server-side prepared. psycopg
        prepares a statement run five times, and a generic plan made while a table was small
        (a fresh book being imported) stays a sequential scan as the table grows."""
        if self.pg:
            return self.cursor.execute(self.sql(statement), params, prepare=False)
        return self.cursor.execute(statement, params)

    def executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        self.cursor.executemany(self.sql(statement), rows)

    def defer(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        """Run `statement` for each row, on PostgreSQL with the next statement (coop.db_pg)."""
        if rows:
            db_pg.defer(self.session, self.sql(statement), rows)

    def date_value(self, value: date) -> object:
        return value if self.pg else value.isoformat()

    def read_date(self, value: object) -> date | None:
        if value is None or isinstance(value, date):
            return value
        return date.fromisoformat(str(value))

    def instant_value(self, value: datetime) -> object:
        if self.pg:
            return value
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


_ACCOUNT_FIELDS = (
    "id, code, parent_id, normal_side, may_go_negative, is_control, debits_posted, "
    "credits_posted"
)
_INSERT_ENTRY = (
    "INSERT INTO ledger_entry (id, value_date, posted_at, kind, narration, actor, "
    "idempotency_key, reversal_of, prev_hash, hash, hash_version) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
)
_INSERT_POSTING = (
    "INSERT INTO ledger_posting (entry_id, line, account_id, side, amount_minor, value_date) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_ADD_TO_ACCOUNT = (
    "UPDATE ledger_account SET debits_posted = debits_posted + ?, "
    "credits_posted = credits_posted + ? WHERE id = ?"
)
_MOVE_HEAD = "UPDATE ledger_book SET head_seq = ?, head_hash = ? WHERE id = 1"
_BOOK_LOCK = "SELECT head_seq, head_hash, closed_through, currency FROM ledger_book WHERE id = 1"
_KEY_LOOKUP = "SELECT id FROM ledger_entry WHERE idempotency_key = ?"


_BOOK_LOCK_PG = db_pg.preparable(_BOOK_LOCK + " FOR UPDATE")  # fixed texts: marked once
_KEY_LOOKUP_PG = db_pg.preparable(_KEY_LOOKUP.replace("?", "%s"))
HOT_PARAMS = 16
"""A locking query or one-entry write with at most this many values is prepared on the
server (coop.db_pg.preparable): the counter's entries have two to four postings; an entry
with hundreds (a year's interest) goes as text, planned once."""


def _hot(sql: str, most: int = HOT_PARAMS) -> str:
    """`sql`, prepared on PostgreSQL's server when it goes in a query of several statements
    if it has at most `most` values (a bounded number of shapes)."""
    if sql.count("%s") <= most:
        db_pg.preparable(sql)
    return sql


class BookNotInitialised(InvalidInput):
    code = "book_not_initialised"
    title = "The book has not been set up: run `coop init`"


@dataclass
class _Account:
    """A locked account row and the running totals it will have after this write."""

    id: int
    code: str
    parent_id: int | None
    normal_side: str
    may_go_negative: bool
    is_control: bool
    debits_minor: int
    credits_minor: int
    debit_added: int = 0
    credit_added: int = 0
    netted: int = 0  # taken off both counters, see COUNTER_MINOR_NET_ABOVE
    parent: _Account | None = None


@dataclass
class _Book:
    head_seq: int
    head_hash: str
    closed_through: date | None
    currency: str = "INR"


_HELD = transaction_memo("coop.ledger.held")


@dataclass
class _Held:
    """The ledger rows this transaction has locked, as the database holds them now (its own
    writes, sent or queued, included): a later post in the same transaction (the next request
    of a group commit, coop.db.Database.write_batch) takes them from here, with no statement.

    Nobody else can change a row locked here (FOR UPDATE on PostgreSQL; on SQLite the one
    writer's transaction). Only this module writes the rows, and `_insert` and `forget_book`
    keep this up to date; a savepoint rolled back forgets it (coop.db_statements.forget_memos),
    since its writes and the locks taken inside it went back with it. Accounts are kept as
    their locking query's rows, each with its control account's row."""

    rows: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    book: _Book | None = None

    def take(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.rows[row[0]] = tuple(row)
            self.ids[row[1]] = row[0]

    def missing(self, codes: Sequence[str]) -> list[str]:
        """The codes not held, with their control account (a code held is held with it)."""
        return [code for code in codes if code not in self.ids]

    def rows_for(self, codes: Iterable[str]) -> list[tuple[Any, ...]]:
        """The held rows of `codes` and of their control accounts, in id order."""
        found: dict[int, tuple[Any, ...]] = {}
        for code in codes:
            account_id = self.ids.get(code)
            if account_id is None:
                continue
            row = found[account_id] = self.rows[account_id]
            if row[2] is not None:
                found[row[2]] = self.rows[row[2]]
        return [found[i] for i in sorted(found)]


def _held(session: Session) -> _Held:
    held = session.info.get(_HELD)
    if held is None:
        held = session.info[_HELD] = _Held()
    return held


def forget_book(session: Session) -> None:
    """The book row was changed outside a post (a close moved `closed_through`): the next
    post reads it again."""
    _held(session).book = None


def _lock_accounts(raw: _Raw, codes: Iterable[str], *, field: str = "postings",
                   posting: bool = True) -> dict[str, _Account]:
    """Lock the accounts named and their control accounts, in ascending id order (those this
    transaction holds already are taken as held). `field` and `posting` as for `_linked`."""
    wanted = sorted(set(codes))
    held = _held(raw.session)
    missing = held.missing(wanted)
    if missing:
        held.take(_lock_rows(raw, missing))
    return _linked(held.rows_for(wanted), wanted, field=field, posting=posting)


def _lock_rows(raw: _Raw, wanted: list[str]) -> list[Sequence[Any]]:
    """Lock the accounts `wanted` (sorted) and their control accounts; their rows."""
    if len(wanted) <= LOCK_CHUNK:
        sql, params = _account_lock(raw, wanted)
        if raw.pg:  # as `lock_ahead` sends it, so that its answer is this one
            return raw.cursor.execute(_hot(raw.sql(sql)), params).fetchall()  # type: ignore[no-any-return]
        return raw.execute_once(sql, params).fetchall()  # type: ignore[no-any-return]
    # the bulk path: find the ids first, then lock them chunk by chunk in id order
    ids: set[int] = set()
    for start in range(0, len(wanted), LOCK_CHUNK):
        chunk = wanted[start : start + LOCK_CHUNK]
        found = raw.execute_once(
            f"SELECT id, parent_id FROM ledger_account WHERE code IN "
            f"({', '.join('?' * len(chunk))})",
            chunk,
        ).fetchall()
        ids.update(i for row in found for i in row if i is not None)
    ordered = sorted(ids)
    rows: list[Sequence[Any]] = []
    for start in range(0, len(ordered), LOCK_CHUNK):
        chunk_ids = ordered[start : start + LOCK_CHUNK]
        rows.extend(raw.execute_once(
            f"SELECT {_ACCOUNT_FIELDS} FROM ledger_account WHERE id IN "
            f"({', '.join('?' * len(chunk_ids))}) ORDER BY id{raw.for_update}",
            chunk_ids,
        ).fetchall())
    return rows


def _account_lock(raw: _Raw, wanted: list[str]) -> tuple[str, list[str]]:
    """The statement that locks a few accounts and their control accounts, in id order.

    On PostgreSQL the ids (each account's and its control account's) are found through the
    code index first and the rows then fetched by primary key: `code IN (...) OR id IN
    (SELECT parent_id ...)` is planned there as a scan of the whole chart (0.5 ms at 3,000
    accounts, growing with the members), where SQLite answers the OR from its two indexes."""
    if raw.pg:
        marks = ", ".join("?" * len(wanted))
        return (f"SELECT {_ACCOUNT_FIELDS} FROM ledger_account WHERE id = ANY(ARRAY("
                f"SELECT unnest(ARRAY[id, parent_id]) FROM ledger_account WHERE code IN "
                f"({marks}))) ORDER BY id{raw.for_update}", wanted)
    return sqlite_account_lock(wanted)


def sqlite_account_lock(wanted: list[str]) -> tuple[str, list[str]]:
    """SQLite's form of `_account_lock` (its writer's BEGIN IMMEDIATE is the lock)."""
    marks = ", ".join("?" * len(wanted))
    return (f"SELECT {_ACCOUNT_FIELDS} FROM ledger_account WHERE code IN ({marks}) OR id IN "
            f"(SELECT parent_id FROM ledger_account WHERE code IN ({marks})) "
            f"ORDER BY id", [*wanted, *wanted])


def _linked(rows: Sequence[Sequence[Any]], wanted: list[str], *, field: str = "postings",
            posting: bool = True) -> dict[str, _Account]:
    """The locked rows as accounts linked to their control accounts; each wanted one is
    there (else UnknownAccount, on `field`) and, when they are for a `posting`, may be posted
    to."""
    accounts = {row[1]: _Account(*row) for row in rows}
    by_id = {a.id: a for a in accounts.values()}
    for account in accounts.values():
        if account.parent_id is not None:
            account.parent = by_id[account.parent_id]
    for code in wanted:
        named = accounts.get(code)
        if named is None:
            raise UnknownAccount.said(
                "there is no account {code}",
                code=repr(code[:70]), field=field)
        if posting and named.is_control and code not in HOLDS_OWN_POSTINGS:
            raise ControlAccountPosting.said(
                "account {code} sums its members' accounts; post to one of them",
                code=code, field="postings")
    return accounts


def _lock_book(raw: _Raw, key: str) -> tuple[_Book, int | None]:
    """Lock the book row, then look the idempotency key up under that lock: every writer
    takes this lock, so a key not found now cannot be claimed by anyone else before commit.

    The lookup is its own statement on purpose. At READ COMMITTED, PostgreSQL takes a
    statement's snapshot before it waits for a row lock, so a lookup folded into the locking
    SELECT would not see an entry committed by the writer it waited for.
    """
    held = _held(raw.session)
    if held.book is not None:  # locked by this transaction already: only the lookup
        found = raw.execute(_KEY_LOOKUP, [key]).fetchone() if key else None
        return replace(held.book), found[0] if found else None
    with raw.pipeline():  # the lookup still runs after the lock is held (see above)
        sent = _send_book_lock(raw, key)
        book, found_id = _book_locked(raw, *sent)
    held.book = replace(book)
    return book, found_id


def _lock_for_post(
    raw: _Raw, codes: Iterable[str], key: str, *, field: str = "postings", posting: bool = True,
) -> tuple[dict[str, _Account], _Book, int | None]:
    """`_lock_book` then `_lock_accounts`, in that order, for one entry's few accounts: on
    PostgreSQL the three statements go in one round trip (the server still runs each after
    the one before has its locks). No `key`, no lookup. `field` and `posting` as for
    `_linked`."""
    wanted = sorted(set(codes))
    held = _held(raw.session)
    if held.book is not None or not raw.pg or len(wanted) > LOCK_CHUNK:
        book, found_id = _lock_book(raw, key)
        return _lock_accounts(raw, wanted, field=field, posting=posting), book, found_id
    sql, params = _account_lock(raw, wanted)
    cursor = raw.new_cursor()  # the statements in one query (coop.db_pg.statement)
    cursor.execute(";\n".join((
        db_pg.statement(raw.driver, _BOOK_LOCK_PG, ()),
        db_pg.statement(raw.driver, _hot(raw.sql(sql)), params),
        *([db_pg.statement(raw.driver, _KEY_LOOKUP_PG, [key])] if key else []))))
    book_row = cursor.fetchone()
    cursor.nextset()
    rows = cursor.fetchall()
    found = cursor.fetchone() if key and cursor.nextset() else None
    if book_row is None:
        raise BookNotInitialised("the book has not been set up")
    book = _Book(book_row[0], book_row[1], raw.read_date(book_row[2]), book_row[3])
    held.take(rows)
    held.book = replace(book)
    return _linked(rows, wanted, field=field, posting=posting), book, found[0] if found else None


def lock_ahead(session: Session, codes: Iterable[str]) -> None:
    """On PostgreSQL, when this transaction holds the book already (a group commit's later
    request), send the lock of the accounts among `codes` it does not hold yet with its next
    statement (coop.db_pg.read_ahead), exactly as the post of an entry on `codes` will ask
    for it: that post then takes no round trip of its own. The accounts it locks come after
    the book, as in every post; nothing is sent when the book is not held."""
    held = session.info.get(_HELD)
    if not isinstance(held, _Held) or held.book is None:
        return
    missing = held.missing(sorted(set(codes)))
    if not missing or len(missing) > LOCK_CHUNK:
        return
    raw = _Raw(session)
    if raw.pg:
        sql, params = _account_lock(raw, missing)
        db_pg.read_ahead(session, _hot(raw.sql(sql)), params)


def _send_book_lock(raw: _Raw, key: str) -> tuple[Any, Any]:
    book_cursor = raw.new_cursor()
    book_cursor.execute(raw.sql(_BOOK_LOCK + raw.for_update))
    hit = None
    if key:
        hit = raw.new_cursor()
        hit.execute(raw.sql(_KEY_LOOKUP), [key])
    return book_cursor, hit


def _book_locked(raw: _Raw, book_cursor: Any, hit: Any) -> tuple[_Book, int | None]:
    row = book_cursor.fetchone()
    found = hit.fetchone() if hit is not None else None
    if row is None:
        raise BookNotInitialised("the book has not been set up")
    return _Book(row[0], row[1], raw.read_date(row[2]), row[3]), found[0] if found else None


def _existing_keys(raw: _Raw, keys: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(keys), LOCK_CHUNK):
        chunk = keys[start : start + LOCK_CHUNK]
        rows = raw.execute_once(
            "SELECT idempotency_key, id FROM ledger_entry WHERE idempotency_key IN "
            f"({', '.join('?' * len(chunk))})",
            chunk,
        ).fetchall()
        found.update({k: i for k, i in rows})
    return found


def _insert(raw: _Raw, entries: list[PostedEntry], accounts: dict[str, _Account],
            book: _Book) -> None:
    """Write `entries` (their postings, the accounts' counters, the chain head moved to the
    last of them: `book`, as `_entry` left it) and keep the rows held up to date."""
    _write(raw, entries, accounts)
    held = _held(raw.session)
    held.take(
        (a.id, a.code, a.parent_id, a.normal_side, a.may_go_negative, a.is_control,
         a.debits_minor + a.debit_added - a.netted, a.credits_minor + a.credit_added - a.netted)
        for a in accounts.values())
    held.book = replace(book)


def _write(raw: _Raw, entries: list[PostedEntry], accounts: dict[str, _Account]) -> None:
    entry_rows: list[tuple[object, ...]] = []
    posting_rows: list[tuple[object, ...]] = []
    for e in entries:
        on = raw.date_value(e.value_date)
        entry_rows.append((
            e.id, on, raw.instant_value(e.posted_at), e.kind, e.narration, e.actor,
            e.idempotency_key, e.reversal_of, e.prev_hash, e.hash,
        ))
        posting_rows.extend(
            (e.id, line, accounts[p.account].id, p.side.value, p.amount_minor, on)
            for line, p in enumerate(e.postings, start=1)
        )
    last = entries[-1]
    added = [(a.debit_added - a.netted, a.credit_added - a.netted, a.id)
             for a in accounts.values() if a.debit_added or a.credit_added]
    # four writes whose answers nobody reads: on PostgreSQL they go with the transaction's
    # next statement or its COMMIT (coop.db_pg), no round trip of their own
    if raw.pg and len(entries) == 1:  # the counter's one entry: one statement
        sql, rows = _one_entry_statement(entry_rows[0], posting_rows, added, last)
        raw.defer(_hot(raw.sql(sql), 4 * HOT_PARAMS), rows)
        return
    raw.defer(_INSERT_ENTRY, entry_rows)
    raw.defer(_INSERT_POSTING, posting_rows)
    raw.defer(_ADD_TO_ACCOUNT, added)
    raw.defer(_MOVE_HEAD, [(last.id, last.hash)])


def _one_entry_statement(
    entry: tuple[object, ...], postings: list[tuple[object, ...]],
    added: list[tuple[int, int, int]], last: PostedEntry,
) -> tuple[str, list[tuple[object, ...]]]:
    """PostgreSQL: the entry, its postings, the accounts' counters and the chain head in one
    statement (data-modifying WITH clauses: each runs once, all or nothing with the rest), so
    the driver handles one statement where it handled eight; the same rows as the four
    statements write. The deferred balance triggers still run at COMMIT."""
    postings_values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(postings))
    added_values = ", ".join(["(?::bigint, ?::bigint, ?::bigint)"] * len(added))
    sql = (f"WITH entry AS ({_INSERT_ENTRY}), "
           f"posting AS ({_INSERT_POSTING.split(' VALUES ')[0]} VALUES {postings_values}), "
           "account AS (UPDATE ledger_account AS a SET "
           "debits_posted = a.debits_posted + v.debit, "
           "credits_posted = a.credits_posted + v.credit "
           f"FROM (VALUES {added_values}) AS v (debit, credit, id) WHERE a.id = v.id) "
           f"{_MOVE_HEAD}")
    params = (*entry, *(v for row in postings for v in row), *(v for row in added for v in row),
              last.id, last.hash)
    return sql, [params]
