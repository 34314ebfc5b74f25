"""`coop serve` caps glibc's malloc arenas before its threads start (coop.api.server): with
eight arenas a core, each thread's heap kept a growing, fragmented free part and the soak's
server memory crept up. Checked in a fresh interpreter, as `coop serve` starts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from coop.api import server
from coop.api.server import _is_glibc, tune_malloc

pytestmark = pytest.mark.skipif(not _is_glibc(), reason="glibc's malloc only")

THREADS_THEN_HEAPS = textwrap.dedent("""
    import ctypes, importlib.util, sys, tempfile, threading
    # coop/api/server.py alone: the package would import the whole app first (a second)
    spec = importlib.util.spec_from_file_location("server", sys.argv[2])
    server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(server)
    made = server.tune_malloc(int(sys.argv[1]))
    barrier = threading.Barrier(8)
    def work():
        kept = [bytearray(4096) for _ in range(50)]  # from malloc, in this thread's arena
        barrier.wait()  # all eight at once: each would take an arena of its own
    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        handle = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, handle)
        libc.fclose(handle)
        heaps = open(out.name).read().count("<heap ")
    print(heaps, ",".join(made))
""")


def _heaps(arenas: int, **environ: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(environ)
    done = subprocess.run([sys.executable, "-c", THREADS_THEN_HEAPS, str(arenas),
                           server.__file__], env=env,
                          capture_output=True, text=True, check=True)
    heaps, _, made = done.stdout.strip().partition(" ")
    return int(heaps), made


def test_the_server_keeps_to_two_arenas_however_many_threads() -> None:
    assert _heaps(2) == (2, "MALLOC_ARENA_MAX=2,MALLOC_MMAP_THRESHOLD_=131072")
    unbounded, made = _heaps(0)
    assert made == "" and unbounded > 2  # glibc's own way: an arena for each busy thread


def test_an_operators_own_malloc_setting_wins() -> None:
    assert _heaps(2, MALLOC_ARENA_MAX="3") == (3, "MALLOC_MMAP_THRESHOLD_=131072")


def test_nothing_is_set_when_turned_off() -> None:
    assert tune_malloc(0) == []
