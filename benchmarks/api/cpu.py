"""Where the CPU went during a step, read from /proc (Linux): server processes, PostgreSQL, this process, all."""

from __future__ import annotations

import os
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[str, int, float] | None:
    """(comm, parent pid, CPU seconds) of a process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def snapshot(server_pid: int) -> dict[str, float]:
    """Cumulative CPU seconds per group; `busy` is the whole machine's, `wall` a monotonic clock."""
    procs = {pid: st for pid in os.listdir("/proc") if pid.isdigit() and (st := _stat(pid)) is not None}
    server = {str(server_pid)}
    server |= {pid for pid, (_, ppid, _) in procs.items() if str(ppid) in server}
    server |= {pid for pid, (_, ppid, _) in procs.items() if str(ppid) in server}  # grandchildren
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return {
        "server": sum(procs[pid][2] for pid in server if pid in procs),
        "postgres": sum(cpu for comm, _, cpu in procs.values() if comm.startswith("postgres")),
        "loadgen": time.process_time(),
        "busy": (sum(fields[:8]) - idle) / TICK,
        "wall": time.monotonic(),
    }


def usage(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Percent of one core per group over the interval (200 % = both cores of a 2-core machine); `other`:
    everything else running on the machine meanwhile."""
    wall = after["wall"] - before["wall"]
    use = {k: 100 * (after[k] - before[k]) / wall for k in before if k != "wall"}
    use["other"] = max(0.0, use["busy"] - use["server"] - use["postgres"] - use["loadgen"])
    return use
