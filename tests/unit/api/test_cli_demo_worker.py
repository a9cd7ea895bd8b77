"""`diesel demo` keeps its worker running: a worker that stops is started again, and stopping the demo stops it."""

from __future__ import annotations

import subprocess
import sys
import time

from api.cli import _KeptRunning


def test_a_worker_that_stops_is_started_again_and_stop_ends_it() -> None:
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        # The first "worker" dies at once; the next ones run until they are stopped.
        code = "pass" if not started else "import time; time.sleep(60)"
        started.append(subprocess.Popen([sys.executable, "-c", code]))
        return started[-1]

    kept = _KeptRunning(start)
    deadline = time.monotonic() + 20
    while len(started) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(started) == 2, "the stopped worker was not started again"
    time.sleep(2.5)  # a running worker is left alone
    assert len(started) == 2
    kept.stop()
    assert started[-1].poll() is not None
