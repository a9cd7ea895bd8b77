"""`api.lifeline.end_with_parent`: a child ends when its parent is killed outright, by the kernel's parent-death
signal on Linux and by a watching thread elsewhere, and at once when its parent ended before it asked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import os, sys, time
from api import lifeline
if sys.argv[1] == "thread":
    lifeline._ask_the_kernel = lambda sig: False  # as on a system without prctl
    lifeline.WATCH_INTERVAL_S = 0.05
lifeline.end_with_parent(os.getppid())
open(sys.argv[2], "w").write(str(os.getpid()))
time.sleep(60)
"""
PARENT = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]])
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["kernel", "thread"])
def test_a_child_ends_when_its_parent_is_killed_outright(tmp_path: Path, how: str) -> None:
    pid_file = tmp_path / "child.pid"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, how, str(pid_file)], env=env)
    child = 0
    try:
        deadline = time.monotonic() + 20
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the child did not start"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _alive(child)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the child outlived its parent"
    finally:
        parent.kill()
        parent.wait()
        if child and _alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_child_whose_parent_ended_before_it_asked_ends_at_once() -> None:
    """The race: the parent dies between starting the child and the child's request, so the child already has
    another parent (init) and no signal would ever come."""
    code = "import os, time; from api import lifeline; lifeline.end_with_parent(os.getppid() + 1); time.sleep(60)"
    child = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=30, check=False
    )
    assert child.returncode == -signal.SIGTERM
