"""The SQLite writer's lock hands over strictly in arrival order."""

from __future__ import annotations

import threading
import time

from coop.db import FairLock


def test_waiters_get_the_lock_in_the_order_they_arrived() -> None:
    lock = FairLock()
    order: list[int] = []
    lock.acquire()
    threads = []
    for n in range(8):
        thread = threading.Thread(target=lambda n=n: (lock.acquire(), order.append(n),
                                                      lock.release()))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while len(lock._waiters) < n + 1 and time.monotonic() < deadline:
            time.sleep(0.001)  # let thread n queue up before the next arrives
    # A newcomer that arrives after the lock is released must still queue behind them all.
    lock.release()
    lock.acquire()
    order.append(99)
    lock.release()
    for thread in threads:
        thread.join(timeout=5)
    assert order == [0, 1, 2, 3, 4, 5, 6, 7, 99]


def test_an_uncontended_lock_is_taken_and_released() -> None:
    lock = FairLock()
    with lock:
        assert lock._held
    assert not lock._held and not lock._waiters
