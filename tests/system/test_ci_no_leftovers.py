"""`.ci/no-leftovers` (how `.ci/run` runs `make test`): a process the command started and left running fails the
run and is stopped; what ran before is left alone; the command's own exit status is kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "no-leftovers"
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`.ci/no-leftovers python -c CODE`; CODE may write the pids it leaves behind to `pids`, one a line."""
    command = [str(SCRIPT), sys.executable, "-c", code, str(tmp_path / "pids")]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def pids(tmp_path: Path) -> Iterator[list[int]]:
    """The processes a test left or started; killed afterwards whatever the outcome."""
    started: list[int] = []
    yield started
    listed = tmp_path / "pids"
    for pid in started + ([int(p) for p in listed.read_text().split()] if listed.exists() else []):
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


LEAVE = """
import subprocess, sys
sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
here = subprocess.Popen(sleeper, start_new_session=True)  # a python in the checkout, detached
elsewhere = subprocess.Popen(["sleep", "120"], cwd="/tmp", start_new_session=True)  # neither: found by the mark
open(sys.argv[1], "w").write(f"{here.pid}\\n{elsewhere.pid}\\n")
"""


def test_processes_the_command_left_running_fail_the_run_and_are_stopped(tmp_path: Path, pids: list[int]) -> None:
    run = _run(LEAVE, tmp_path)
    left = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert run.returncode == 1, run.stderr
    for pid in left:
        assert f"  {pid} " in run.stderr, run.stderr
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in left) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in left if _alive(p)], "the leftovers were not stopped"


def test_a_failing_command_keeps_its_status_even_with_leftovers(tmp_path: Path, pids: list[int]) -> None:
    assert _run(LEAVE + "sys.exit(3)", tmp_path).returncode == 3


def test_a_clean_command_passes_with_its_status_and_what_ran_before_is_left_alone(
    tmp_path: Path, pids: list[int]
) -> None:
    before = subprocess.Popen(SLEEPER, cwd=ROOT, start_new_session=True)  # e.g. a demo someone runs here
    pids.append(before.pid)
    finished = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'pass'], check=True)"
    ok = _run(finished, tmp_path)
    assert ok.returncode == 0 and ok.stderr == "", ok.stderr
    assert _run("import sys; sys.exit(2)", tmp_path).returncode == 2
    assert _alive(before.pid)
    before.kill()
    before.wait()
