"""The counter in a browser at scale: from pressing Enter on a deposit to her updated page.

1. builds an SQLite book with 20,000 registered members (random numbers, encrypted identities,
   their ledger accounts; in batches of 1,000 as bench/members.py does, with a key file of its
   own), a clerk, and a short savings history for the members the deposits will be made for;
2. serves it with `coop serve` (a subprocess, as bench/api.py does);
3. logs the clerk in with headless Chromium (Debian's, /usr/bin/chromium) and, for N deposits
   on N different members: opens her page, types the amount in #deposit-amount (it has the
   focus), and times pressing Enter until the updated member page has loaded (the post, the
   303, the page again). Two clocks: the driver's (Enter pressed until the load event reached
   Playwright) and the browser's own navigation timing of the new page (navigation start to
   loadEventEnd). Target: median under 300 ms.

    .venv/bin/python bench/counter_browser.py [--members 20000] [--deposits 50]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coop import auth, migrate, savings  # noqa: E402
from coop.clock import FixedClock  # noqa: E402
from coop.db import Database  # noqa: E402
from coop.members import Identity, register_member  # noqa: E402
from coop.members.vault import Vault, create_key_file  # noqa: E402
from coop.society import init_society  # noqa: E402

CLOCK = FixedClock(date(2026, 1, 1))
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
ADMIN_PASSWORD = "bench-admin-password"
CLERK, CLERK_PASSWORD = "clerk1", "bench-clerk-password"
TARGET_MS = 300.0
WARM_UP = 3


def build(db: Database, vault: Vault, members: int) -> list[str]:
    migrate.upgrade(db.writer)
    db.write(lambda s: init_society(s, name="Bench", currency="INR", locale="en_IN",
                                    clock=CLOCK))
    codes: list[str] = []
    started = time.perf_counter()
    for first in range(0, members, 1000):
        def register(session: object, first: int = first,
                     n: int = min(1000, members - first)) -> list[str]:
            return [register_member(session, identity=Identity(known_as=f"Member {first + i}"),  # type: ignore[arg-type]
                                    joined_on=date(2025, 1, 1), vault=vault, clock=CLOCK).code
                    for i in range(n)]
        codes.extend(db.write(register))
    print(f"registered {len(codes)} members in {time.perf_counter() - started:.1f} s",
          flush=True)
    db.write(lambda s: auth.create_user(s, username=CLERK, password=CLERK_PASSWORD,
                                        role="clerk", member_code=None,
                                        passwords=auth.Passwords(), clock=CLOCK))
    return codes


def history(db: Database, codes: list[str], entries: int) -> None:
    """A savings history for each of `codes` (her page shows her last ten entries)."""
    def post(session: object) -> None:
        for code in codes:
            for n in range(entries):
                savings.record_deposit(session, code, amount_minor=10_000 + n * 100,  # type: ignore[arg-type]
                                       value_date=date(2025, 1 + n % 12, 1 + n % 28),
                                       actor="bench", clock=CLOCK, key=uuid.uuid4().hex)
    started = time.perf_counter()
    db.write(post)
    print(f"posted {entries} deposits for each of {len(codes)} members in "
          f"{time.perf_counter() - started:.1f} s", flush=True)


def serve(url: str, key_file: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "COOP_DATABASE_URL": url, "COOP_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "COOP_DATA_KEY_FILE": str(key_file), "COOP_BUSINESS_DATE": CLOCK.today().isoformat()}
    subprocess.run([str(BIN / "coop"), "init"], env=env, check=True, capture_output=True)
    process = subprocess.Popen([str(BIN / "coop"), "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def log_in(page: Page) -> None:
    page.goto("/counter/login")
    page.fill("#username", CLERK)
    page.fill("#password", CLERK_PASSWORD)
    with page.expect_navigation():
        page.press("#password", "Enter")
    if "/counter/login" in page.url:
        raise RuntimeError("the clerk could not log in")


def deposit(page: Page, code: str, rupees: int) -> tuple[float, float]:
    """One deposit at her page; (driver ms, browser ms) from Enter to the updated page."""
    page.goto(f"/counter/members/{code}")
    field = page.locator("#deposit-amount")
    field.wait_for()
    before = page.locator("#balance").inner_text()
    field.focus()  # it has autofocus; made certain so that Enter is the only thing timed
    page.keyboard.type(str(rupees))
    started = time.perf_counter()
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    driver = (time.perf_counter() - started) * 1000
    browser = float(page.evaluate(
        "performance.getEntriesByType('navigation')[0].loadEventEnd"))
    notice = page.locator("p.notice[role=status]").inner_text()
    after = page.locator("#balance").inner_text()
    if not notice.startswith(f"Deposited ₹{rupees}.00.") or after == before:
        raise RuntimeError(f"the deposit for {code} did not show: {notice!r} {after!r}")
    return driver, browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--deposits", type=int, default=50)
    parser.add_argument("--history", type=int, default=20,
                        help="earlier deposits of each member deposited for")
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    (ROOT / "bench" / "data").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "bench" / "data") as tmp:
        url = f"sqlite:///{tmp}/counter.db"
        key_file = Path(tmp) / "data.key"
        create_key_file(key_file)
        db = Database(url, pool_size=4)
        codes = build(db, Vault.from_file(key_file), args.members)
        chosen = random.Random(args.seed).sample(codes, WARM_UP + args.deposits)
        history(db, chosen, args.history)
        db.dispose()

        port = args.port or free_port()
        server = serve(url, key_file, port)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
                context = browser.new_context(base_url=f"http://127.0.0.1:{port}",
                                              viewport={"width": 1024, "height": 600})
                context.set_default_timeout(30_000)
                page = context.new_page()
                log_in(page)
                for n, code in enumerate(chosen[:WARM_UP]):
                    deposit(page, code, 100 + n)
                driver, in_browser = [], []
                for n, code in enumerate(chosen[WARM_UP:]):
                    wall, nav = deposit(page, code, 200 + n)
                    driver.append(wall)
                    in_browser.append(nav)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)

    median = statistics.median(driver)
    print(f"{args.members} members; {len(driver)} deposits on {len(driver)} different members "
          f"(after {WARM_UP} warm-up), SQLite, `coop serve`, headless Chromium")
    print(f"Enter -> updated member page loaded (driver): median {median:.1f} ms, "
          f"p90 {percentile(driver, 90):.1f} ms, min {min(driver):.1f} ms, "
          f"max {max(driver):.1f} ms")
    print(f"browser navigation timing (start -> loadEventEnd): median "
          f"{statistics.median(in_browser):.1f} ms, p90 {percentile(in_browser, 90):.1f} ms")
    print(f"target: median < {TARGET_MS:.0f} ms: {'met' if median < TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
