"""Finding a member by name or phone at scale: 20,000 members in an SQLite file (or the
PostgreSQL database given), known-as names drawn from common given names and family names (so
names repeat, as they do), a phone each, one in fifty shared with another member.

Measures, as medians and 95th percentiles over many queries:
1. the service (coop.members.search.find_members, in its own transaction with its access-log
   rows): a whole name (two words), one common word (the 50-match cap: the worst case, 50
   names decrypted), a phone;
2. the same through the API (POST /api/v1/members/find, in-process client), as a clerk;
3. the plan of the index lookup (it must use ix_member_search_index_lookup).

    .venv/bin/python bench/search.py [--members 20000] [--queries 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from coop import auth, migrate  # noqa: E402
from coop.clock import FixedClock  # noqa: E402
from coop.db import Database  # noqa: E402
from coop.members import Identity, Reader, register_member  # noqa: E402
from coop.members.search import find_members  # noqa: E402
from coop.members.vault import Vault  # noqa: E402
from coop.society import init_society  # noqa: E402

CLOCK = FixedClock(date(2026, 1, 1))
GIVEN = ("Asha", "Bina", "Devi", "Geeta", "Kavya", "Lakshmi", "Meena", "Nandini", "Padma",
    "Rani", "Rekha", "Sarita", "Shanti", "Sita", "Sunita", "Usha", "Vani", "Yamuna", "Anita",
    "Chandra", "Deepa", "Gowri", "Hema", "Indira", "Jyothi", "Kamala", "Leela", "Mala",
    "Nirmala", "Pushpa", "Radha", "Savitri", "Tara", "Uma", "Vasanthi", "Zarina", "Farida",
    "Salma", "Rubina", "Shabana")
FAMILY = ("Devi", "Kumari", "Bai", "Begum", "Shetty", "Gowda", "Naik", "Das", "Roy", "Sen",
    "Pal", "Khatun", "Bibi", "Reddy", "Rao", "Naidu", "Patil", "Jadhav", "More", "Pawar")
READER = Reader("bench", "clerk", "bench: find a member")


def build(db: Database, vault: Vault, members: int, rng: random.Random) -> list[tuple[str, str]]:
    """Registers the members; returns each one's (known-as name, phone)."""
    migrate.upgrade(db.writer)
    db.write(lambda s: init_society(s, name="Bench", currency="INR", locale="en_IN",
                                    clock=CLOCK))
    people: list[tuple[str, str]] = []
    for n in range(members):
        phone = f"9{rng.randrange(10**9):09d}"
        if people and n % 50 == 0:
            phone = people[rng.randrange(len(people))][1]  # a shared phone
        people.append((f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}", phone))
    started = time.perf_counter()
    for first in range(0, members, 1000):
        batch = people[first:first + 1000]

        def register(session: Session, batch: list[tuple[str, str]] = batch) -> None:
            for name, phone in batch:
                register_member(session, identity=Identity(known_as=name, phone=phone),
                                joined_on=date(2025, 1, 1), vault=vault, clock=CLOCK)
        db.write(register)
    print(f"registered {members:,} members in {time.perf_counter() - started:.1f} s",
          flush=True)
    return people


def timed(run: Callable[[], object], queries: int) -> tuple[float, float]:
    times = []
    for _ in range(queries):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def plan(db: Database, vault: Vault) -> str:
    digest = vault.keyed_digest("search-name", "asha")
    sql = ("SELECT member_id FROM member_search_index WHERE kind = 'name' AND digest IN "
           f"('{digest}') GROUP BY member_id")

    def explain(session: Session) -> str:
        if session.get_bind().dialect.name == "postgresql":
            return " | ".join(str(r[0]) for r in session.execute(text("EXPLAIN " + sql)))
        return " | ".join(str(r[-1]) for r in session.execute(text("EXPLAIN QUERY PLAN " + sql)))

    return db.read(explain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    rng = random.Random(42)
    vault = Vault(secrets.token_bytes(32))
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/search.db"
        db = Database(url, pool_size=4)
        people = build(db, vault, args.members, rng)

        def find(query: str) -> Callable[[], object]:
            return lambda: db.write(lambda s: find_members(s, query, vault=vault,
                                                           reader=READER, clock=CLOCK))

        def sample(pick: Callable[[], str]) -> Callable[[], object]:
            return lambda: find(pick())()

        cases = {
            "whole name (2 words)": sample(lambda: rng.choice(people)[0]),
            "one common word (50-match cap)": sample(lambda: rng.choice(GIVEN)),
            "phone": sample(lambda: "+91 " + rng.choice(people)[1]),
        }
        for label, run in cases.items():
            median, p95 = timed(run, args.queries)
            print(f"service  {label:32} median {median:6.1f} ms   p95 {p95:6.1f} ms")
        print(f"through the API: {api_timing(db, vault, people, rng, args.queries)}")
        print(f"plan: {plan(db, vault)}")
        db.dispose()


def api_timing(db: Database, vault: Vault, people: list[tuple[str, str]], rng: random.Random,
               queries: int) -> str:
    from litestar.testing import TestClient

    from coop.api import create_app
    from coop.config import Settings

    passwords = auth.Passwords(memory_kib=1024, time_cost=1, parallelism=1)
    db.write(lambda s: auth.create_user(s, username="clerk1", password="bench clerk phrase",
                                        role="clerk", member_code=None, passwords=passwords,
                                        clock=CLOCK))
    app = create_app(Settings(database_url=str(db.url)), db=db, clock=CLOCK,
                     passwords=passwords, vault=vault)
    with TestClient(app=app) as client:
        token = client.post("/api/v1/auth/token", json={
            "username": "clerk1", "password": "bench clerk phrase"}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def one() -> None:
            response = client.post("/api/v1/members/find", headers=headers,
                                   json={"q": rng.choice(people)[0]})
            assert response.status_code == 200, response.text
            assert response.json()["items"], response.text

        median, p95 = timed(one, queries)
    return f"POST /members/find, whole name: median {median:.1f} ms, p95 {p95:.1f} ms"


if __name__ == "__main__":
    main()
