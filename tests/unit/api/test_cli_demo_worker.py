"""`diesel demo` keeps its worker running: a worker that stops is started again, what it left behind in its
process group (Celery's beat child) goes with it, and stopping the demo stops the worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from api.cli import _KeptRunning


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_stopped_worker_is_started_again_without_leaving_its_children(tmp_path: Path) -> None:
    started: list[subprocess.Popen[bytes]] = []
    orphan_pid = tmp_path / "orphan.pid"

    def start() -> subprocess.Popen[bytes]:
        if not started:
            # The first "worker" starts a child in its group (as `--beat` does) and dies at once.
            code = (
                "import subprocess, sys; "
                "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
                f"open({str(orphan_pid)!r}, 'w').write(str(p.pid))"
            )
        else:
            code = "import time; time.sleep(60)"
        started.append(subprocess.Popen([sys.executable, "-c", code], process_group=0))
        return started[-1]

    kept = _KeptRunning(start)
    deadline = time.monotonic() + 20
    while len(started) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(started) == 2, "the stopped worker was not started again"
    orphan = int(orphan_pid.read_text())
    deadline = time.monotonic() + 5
    while _alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(orphan), "the dead worker's child was left running"
    time.sleep(2.5)  # a running worker is left alone
    assert len(started) == 2
    kept.stop()
    assert started[-1].poll() is not None
