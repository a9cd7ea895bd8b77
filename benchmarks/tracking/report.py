"""Shared by bench_tracking and bench_load: CPU with a Celery worker beside the server, table cells, results files."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from benchmarks.api import cpu
from benchmarks.api.load import Sample
from benchmarks.api.report import markdown_table
from benchmarks.api.report import show as show  # re-exported: bench_tracking and bench_load call report.show

Snapshot = tuple[dict[str, float], dict[str, float] | None]


def snapshot(server_pid: int, database: str, worker_pid: int | None = None) -> Snapshot:
    """benchmarks/api/cpu.py's snapshot, and a second one rooted at the worker when there is one."""
    return cpu.snapshot(server_pid, database), cpu.snapshot(worker_pid, database) if worker_pid else None


def usage(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Percent of one core per group: server, worker (when there is one), postgres, loadgen, other, busy."""
    use = cpu.usage(before[0], after[0])
    if before[1] is not None and after[1] is not None:
        use["worker"] = cpu.usage(before[1], after[1])["server"]
        use["other"] = max(0.0, use["other"] - use["worker"])
    return use


def ms(sample: Sample, q: float) -> str:
    value = sample.percentile(q) * 1000
    if math.isnan(value):
        return "-"
    return "dropped" if value == math.inf else f"{value:.1f}" if value >= 1 else f"{value:.3f}"


def latency(sample: Sample) -> dict[str, str]:
    return {"p50 ms": ms(sample, 0.5), "p99 ms": ms(sample, 0.99), "max ms": ms(sample, 1.0)}


def cpu_cells(use: dict[str, float], ok_per_s: float, *, worker: bool = False) -> dict[str, str]:
    """CPU time per successful request (robust on a shared machine) and the percent-of-a-core split."""
    if not use:
        return dict.fromkeys(cpu_columns(worker=worker), "-")

    def per(group: str) -> str:
        return f"{10 * use[group] / ok_per_s:.2f}" if ok_per_s else "-"

    cells = {"server CPU ms/req": per("server"), "PG CPU ms/req": per("postgres")}
    groups = ["server", *(["worker"] if worker else []), "postgres", "loadgen", "other", "busy"]
    names = {"busy": "machine"}
    cells |= {f"CPU {names.get(g, g)} %": f"{use.get(g, 0.0):.0f}" for g in groups}
    return cells


def cpu_columns(*, worker: bool = False) -> list[str]:
    groups = ["server", *(["worker"] if worker else []), "postgres", "loadgen", "other", "machine"]
    return ["server CPU ms/req", "PG CPU ms/req", *[f"CPU {g} %" for g in groups]]


def save(
    results: Path,
    name: str,
    *,
    title: str,
    facts: dict[str, str],
    tables: list[tuple[str, list[dict[str, str]]]],
    checks: list[str],
    notes: list[str],
) -> None:
    """results/<name>.md (facts, tables, checks, notes) and results/<name>.csv (every table's rows, with a
    `table` column naming the table)."""
    results.mkdir(exist_ok=True)
    lines = [f"# {title}", "", *[f"* **{key}**: {value}" for key, value in facts.items()], ""]
    for heading, rows in tables:
        lines += [f"## {heading}", "", *markdown_table(rows), ""]
    lines += ["## Checks", "", *[f"* {line}" for line in checks], "", *notes, ""]
    (results / f"{name}.md").write_text("\n".join(lines))
    columns: list[str] = []
    for _, rows in tables:
        for row in rows:
            columns += [c for c in row if c not in columns]
    with (results / f"{name}.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["date", "commit", "table", *columns])
        writer.writeheader()
        stamp = {"date": facts.get("date", ""), "commit": facts.get("commit", "")}
        for heading, rows in tables:
            for row in rows:
                writer.writerow({**stamp, "table": heading, **row})
