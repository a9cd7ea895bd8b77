"""Memory and CPU of a process tree from /proc (Linux): the Celery worker with the search processes it forks.

* Memory is sampled on a thread every `interval` seconds: the sum of VmRSS over the tree (an upper bound: the
  forked searches share their parent's pages copy-on-write, so those pages count once per process) and the sum
  of Pss (proportional set size: shared pages split between the processes that map them, so the sum is what
  the tree really occupies). A peak shorter than the interval can be missed.
* CPU of the tree is user + system time of every live process in it plus the time of its children that exited
  and were waited for (cutime + cstime): a forked search that ended still counts, through its parent.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its waited-for children), None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), sum(int(x) for x in fields[11:15]) / TICK


def tree(root: int) -> list[int]:
    """`root` and all its descendants that are alive."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) is not None:
            children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def tree_cpu_s(root: int) -> float:
    return sum(st[1] for pid in tree(root) if (st := _stat(pid)) is not None)


def _memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, Pss) in KiB; zeros when the process is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
                break
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
                break
    except OSError:
        pass
    return rss, pss


@dataclass
class Peak:
    rss_mib: float = 0.0
    pss_mib: float = 0.0
    processes: int = 0
    samples: int = 0
    at_s: float = 0.0  # seconds after the sampler started, of the RSS peak
    first_rss_mib: float = 0.0
    series: list[tuple[float, float, float, int]] = field(default_factory=list)  # (s, rss, pss, processes)


class TreeSampler:
    """Samples the tree's memory on a thread until stopped (use as a context manager)."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        self.root, self.interval = root, interval
        self.peak = Peak()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)
        self._t0 = time.monotonic()

    def sample(self) -> None:
        pids = tree(self.root)
        rss = pss = 0
        for pid in pids:
            r, p = _memory_kib(pid)
            rss, pss = rss + r, pss + p
        peak, at = self.peak, time.monotonic() - self._t0
        if not peak.samples:
            peak.first_rss_mib = rss / 1024
        peak.samples += 1
        peak.series.append((at, rss / 1024, pss / 1024, len(pids)))
        if rss / 1024 > peak.rss_mib:
            peak.rss_mib, peak.at_s = rss / 1024, at
        peak.pss_mib = max(peak.pss_mib, pss / 1024)
        peak.processes = max(peak.processes, len(pids))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> TreeSampler:
        self._t0 = time.monotonic()
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy so far (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
