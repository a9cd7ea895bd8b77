"""Nothing is left running. `diesel demo` leaves no process behind, whatever signal ends it: Ctrl+C (SIGINT),
`docker stop` or systemd (SIGTERM), and a SIGKILL that gives it no chance to stop its worker. The real command runs
(this checkout's code) with its Celery worker and the worker's beat child; the test records the whole process tree
before the signal and waits for every process of it to be gone. And a worker killed outright takes its beat along."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.system.conftest import free_port

pytestmark = pytest.mark.slow  # the demo always runs on SQLite: one run, not one per database

ROOT = Path(__file__).resolve().parents[2]
GONE_WITHIN_S = 40  # the worker's warm shutdown and its beat child's, on a busy machine


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time in clock ticks) of a running process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[19])


def _tree(root: int) -> set[tuple[int, int]]:
    """The process `root` and all its descendants, as (pid, start time): a pid reused later is another process."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[1], []).append((int(entry.name), stat[2]))
    root_stat = _stat(root)
    found = {(root, root_stat[2])} if root_stat else set()
    waiting = [root]
    while waiting:
        for child in children.get(waiting.pop(), []):
            found.add(child)
            waiting.append(child[0])
    return found


def _alive(process: tuple[int, int]) -> bool:
    stat = _stat(process[0])
    return stat is not None and stat[2] == process[1] and stat[0] not in ("Z", "X")  # a zombie has ended


def _kill(processes: set[tuple[int, int]]) -> None:
    for process in processes:
        if _alive(process):
            with contextlib.suppress(ProcessLookupError):
                os.kill(process[0], signal.SIGKILL)


def _describe(processes: set[tuple[int, int]]) -> str:
    lines = []
    for pid, _ in sorted(processes):
        try:
            lines.append(f"{pid}: {Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ').decode()[:120]}")
        except OSError:
            lines.append(f"{pid}: (gone)")
    return "\n".join(lines)


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> set[tuple[int, int]]:
    """Healthy API, worker ready and its beat child started: the whole tree, as the signal will find it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the demo stopped ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            healthy = httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            healthy = False
        tree = _tree(process.pid)
        # the demo, its worker and the worker's beat child
        if healthy and " ready." in log.read_text(errors="replace") and len(tree) >= 3:
            return tree
        time.sleep(0.3)
    raise RuntimeError(f"the demo did not come up:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for the three runs: the first seeds it, the others find the demo data there."""
    return tmp_path_factory.mktemp("demo")


@pytest.fixture
def demo(data_dir: Path, request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[bytes], Path, str]]:
    port = free_port()
    log = data_dir / f"demo-{request.node.callspec.id}.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONPATH"] = str(ROOT)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "demo", "--port", str(port), "--data-dir", str(data_dir)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    seen: set[tuple[int, int]] = set()
    try:
        seen |= _wait_until_up(process, f"http://127.0.0.1:{port}", log)
        yield process, log, _describe(seen)
    finally:
        # Whatever the outcome, nothing of this demo outlives the test.
        _kill(seen | _tree(process.pid))
        process.wait(timeout=10)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_the_demo_leaves_no_process_behind(demo, sig: signal.Signals) -> None:  # type: ignore[no-untyped-def]
    process, log, before = demo
    tree = _tree(process.pid)
    assert len(tree) >= 3, before
    process.send_signal(sig)
    deadline = time.monotonic() + GONE_WITHIN_S
    while any(_alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.2)  # a process that has ended is gone, even as a zombie not yet reaped
    left = {p for p in tree if _alive(p)}
    assert not left, f"running {GONE_WITHIN_S} s after {sig.name}:\n{_describe(left)}\n\n{log.read_text()[-3000:]}"
    if sig != signal.SIGKILL:  # it stopped the API then its worker and exited, rather than dying of the signal
        assert process.wait(timeout=5) >= 0, log.read_text()[-3000:]
        assert "Warm shutdown" in log.read_text(errors="replace")


@pytest.mark.integration
def test_a_worker_killed_outright_takes_its_beat_child_along(make_stack) -> None:  # type: ignore[no-untyped-def]
    """`diesel worker --beat` killed by SIGKILL (the OOM killer, a supervisor's last resort): its embedded beat
    would go on sending the periodic tasks for ever, twice once a new worker is up."""
    stack = make_stack(redis_url=None)
    stack.start()
    worker = stack.processes[1]
    deadline = time.monotonic() + 60
    while len(tree := _tree(worker.pid)) < 2:
        assert time.monotonic() < deadline, "the worker did not start its beat"
        time.sleep(0.3)
    try:
        os.kill(worker.pid, signal.SIGKILL)  # the worker alone, not its process group
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in tree) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not {p for p in tree if _alive(p)}, _describe(tree)
    finally:
        _kill(tree)
