"""Where the CPU went during a step, read from /proc (Linux): server processes, PostgreSQL, this process, the rest.

PostgreSQL counts its background processes and the backends connected to the benchmark's database; backends of
other databases (someone running the test suite meanwhile) land in `other`. A process that exits during a step
takes its CPU time with it; the server's pooled connections live for the whole run.
"""

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
    fields = raw[raw.rindex(")") + 2 :].split()
    return raw[raw.index("(") + 1 : raw.rindex(")")], int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _is_ours(pid: str, database: str) -> bool:
    """A PostgreSQL process of the benchmark: a background process, or a backend connected to `database`."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return "(" not in title or f" {database} " in title  # backends read "postgres: user db host(port) state"


def snapshot(server_pid: int, database: str) -> dict[str, float]:
    """CPU seconds so far per process, keyed "group:pid"; `busy` is the whole machine's, `wall` a clock."""
    procs = {pid: st for pid in os.listdir("/proc") if pid.isdigit() and (st := _stat(pid)) is not None}
    server = {str(server_pid)}
    for _ in range(2):  # uvicorn's workers and their helpers
        server |= {pid for pid, (_, ppid, _) in procs.items() if str(ppid) in server}
    cpu = {f"server:{pid}": procs[pid][2] for pid in server if pid in procs}
    cpu |= {
        f"postgres:{pid}": seconds
        for pid, (comm, _, seconds) in procs.items()
        if comm.startswith("postgres") and _is_ours(pid, database)
    }
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return cpu | {"loadgen:": time.process_time(), "busy": (sum(fields[:8]) - idle) / TICK, "wall": time.monotonic()}


def usage(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Percent of one core per group over the interval (200 % = both cores of a 2-core machine); `other`:
    everything else that ran on the machine meanwhile."""
    wall = after["wall"] - before["wall"]
    use = {"server": 0.0, "postgres": 0.0, "loadgen": 0.0, "busy": 100 * (after["busy"] - before["busy"]) / wall}
    for key, seconds in after.items():
        if ":" in key:
            use[key.split(":")[0]] += 100 * (seconds - before.get(key, 0.0)) / wall
    use["other"] = max(0.0, use["busy"] - use["server"] - use["postgres"] - use["loadgen"])
    return use
