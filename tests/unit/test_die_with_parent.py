"""`coop serve --workers N`: a worker dies with the `coop serve` that started it, even when
that one is killed with SIGKILL (coop.api.server.die_with_parent). Without it (the negative
control) the orphan goes on serving with nobody to stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux prctl")

ROOT = Path(__file__).resolve().parents[2]

# A parent that starts a child and waits; the child writes its pid, then sleeps (calling
# die_with_parent first when asked) until it is killed.
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]])
time.sleep(600)
"""
CHILD = """
import os, sys, time
from coop.api.server import die_with_parent
if sys.argv[1] == "yes":
    assert die_with_parent()
open(sys.argv[2], "w").write(str(os.getpid()))
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _orphan_after_parent_killed(tmp_path: Path, ask: str) -> bool:
    pid_file = tmp_path / f"child-{ask}.pid"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, ask, str(pid_file)],
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = _alive(child)
    if survived:
        os.kill(child, signal.SIGKILL)
    return survived


def test_a_worker_dies_when_its_supervisor_is_killed(tmp_path: Path) -> None:
    assert not _orphan_after_parent_killed(tmp_path, "yes")


@pytest.mark.slow
def test_without_it_the_worker_is_left_running(tmp_path: Path) -> None:
    assert _orphan_after_parent_killed(tmp_path, "no")
