"""Routing benchmark: our planner against PyVRP and VROOM on the same data and budget.

    python -m benchmarks.routing.run --suite solomon --budget 10 --solvers ours,pyvrp,vroom
    python -m benchmarks.routing.run --suite gh --budget 60 --solvers ours --instances 'R1*,RC1*'
    python -m benchmarks.routing.run --solvers ours --params '{"sa_initial": 1.0}' --label sa1 --parallel 2

``--params`` overrides our SolveParams (tuning; the rows are labelled ``ours:LABEL``); ``--parallel 2`` runs
two single-core solves at once (fair with CPU budgets; do not combine with ``ours2``, which takes both cores).

``--variant LABEL=JSON`` (repeatable) compares settings in one run: every instance is solved once per variant,
the variants of one instance side by side (with ``--parallel 2`` and two variants, at the same time, so both
see the same load of a shared machine), e.g.

    python -m benchmarks.routing.run --solvers ours --parallel 2 --variant base='{}' \
        --variant r12='{"local_routes": 12}'

Each (instance, solver) runs in its own subprocess (bounded memory, no shared state); CPU seconds are
the subprocess tree's rusage (what the budget means on a shared machine), wall seconds are measured
around it.  Rows are appended to benchmarks/results/routing.csv.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.routing.instances import solomon_class, suite_paths

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "routing.csv"
COLUMNS = ["suite", "instance", "solver", "budget_s", "cpu_s", "wall_s", "cost", "bks", "gap_pct", "feasible"]


def run_one(
    solver: str, suite: str, path: Path, budget: float, *, params: str = "", seed: int = 0, label: str = ""
) -> dict[str, object]:
    env = {**os.environ, "BENCH_OURS_PARAMS": params, "BENCH_SEED": str(seed)}
    wall0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.routing.worker", solver, suite, str(path), str(budget)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=budget * 4 + 120)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - wall0
    name = f"{solver}:{label}" if label else solver
    row: dict[str, object] = {"suite": suite, "instance": path.stem.upper(), "solver": name, "budget_s": budget}
    row["cls"] = "X" if suite == "x" else solomon_class(path.stem)
    row.update(cpu_s="", wall_s=round(wall, 2))
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        row.update(cost="", bks="", gap_pct="", feasible=False, error=(stderr.strip().splitlines() or ["?"])[-1])
        return row
    out = json.loads(lines[-1])
    # The worker's own process tree (itself and its reaped searches): parallel runs do not mix CPU seconds.
    row["cpu_s"] = out["tree_cpu_s"]
    bks = out["bks"]
    gap = round(100 * (out["cost"] / bks - 1), 3) if bks else ""
    row.update(instance=out["instance"], cost=out["cost"], bks=bks or "", gap_pct=gap, feasible=out["feasible"])
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="solomon", help="solomon, gh or x (comma-separated)")
    parser.add_argument("--budget", type=float, default=10.0, help="CPU seconds per instance and solver")
    parser.add_argument("--solvers", default="ours,pyvrp,vroom")
    parser.add_argument("--instances", default="*", help="glob(s) on instance names, comma-separated")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--params", default="", help="JSON object of SolveParams overrides for ours/ours2")
    parser.add_argument("--label", default="", help="name the rows solver:LABEL (tuning runs)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="LABEL=JSON: SolveParams overrides of one variant of ours/ours2 (repeatable; replaces --params/--label)",
    )
    parser.add_argument("--seed", type=int, default=0, help="our relabelling seed")
    parser.add_argument("--parallel", type=int, default=1, help="solves at once (each is single-core)")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200)  # a log file gets the whole table
    solvers = args.solvers.split(",")
    patterns = [p.strip().upper() for p in args.instances.split(",")]
    variants = [_variant(text) for text in args.variant] or [(args.label, args.params)]
    tasks = [
        (solver, suite, path, variant)
        for suite in args.suite.split(",")
        for path in suite_paths(suite)
        if any(fnmatch.fnmatch(path.stem.upper(), pat) for pat in patterns)
        for solver in solvers
        for variant in (variants if solver.startswith("ours") else [("", "")])
    ]

    def one(task: tuple[str, str, Path, tuple[str, str]]) -> dict[str, object]:
        solver, suite, path, (label, params) = task
        return run_one(solver, suite, path, args.budget, params=params, seed=args.seed, label=label)

    rows: list[dict[str, object]] = []
    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        for row in pool.map(one, tasks):
            rows.append(row)
            _append(args.out, row)
            status = "ok" if row["feasible"] else f"FAIL {row.get('error', 'infeasible')}"
            console.print(
                f"{row['instance']:>12} {row['solver']!s:>10} cost {row['cost']!s:>10} gap {row['gap_pct']!s:>7}% "
                f"cpu {row['cpu_s']!s:>6} wall {row['wall_s']:>6} {status}"
            )
    names = list(dict.fromkeys(str(row["solver"]) for row in rows))
    _print_tables(console, rows, names, args.budget)


def _variant(text: str) -> tuple[str, str]:
    label, sep, params = text.partition("=")
    if not sep or not label:
        raise SystemExit(f"--variant wants LABEL=JSON, not {text!r}")
    try:
        json.loads(params)  # a typo fails here, not in every worker
    except json.JSONDecodeError as error:
        raise SystemExit(f"--variant {label}: not JSON ({error})") from None
    return label, params


def _append(path: Path, row: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _print_tables(console: Console, rows: list[dict[str, object]], solvers: list[str], budget: float) -> None:
    by_instance: dict[str, dict[str, dict[str, object]]] = defaultdict(dict)
    for row in rows:
        by_instance[str(row["instance"])][str(row["solver"])] = row
    table = Table(title=f"Gap to best known (%), budget {budget:g} CPU-s")
    table.add_column("instance")
    for solver in solvers:
        table.add_column(solver, justify="right")
    for name, results in by_instance.items():
        cells = []
        for solver in solvers:
            row = results.get(solver)
            if row is None or not row["feasible"]:
                cells.append("[red]fail[/red]")
            else:
                cells.append(f"{row['gap_pct']}")
        table.add_row(name, *cells)
    console.print(table)

    summary = Table(title="Mean gap per class (%) · failures · mean CPU-s / wall-s")
    summary.add_column("class")
    for solver in solvers:
        summary.add_column(solver, justify="right")
    classes: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        classes[str(row.get("cls", "?"))].append(row)
        classes["ALL"].append(row)
    for cls, members in sorted(classes.items(), key=lambda kv: (kv[0] == "ALL", kv[0])):
        cells = []
        for solver in solvers:
            mine = [r for r in members if r["solver"] == solver]
            ok = [r for r in mine if r["feasible"] and r["gap_pct"] != ""]
            fails = len(mine) - len(ok)
            mean_gap = statistics.mean(float(str(r["gap_pct"])) for r in ok) if ok else float("nan")
            cpu = statistics.mean(float(str(r["cpu_s"])) for r in mine) if mine else 0.0
            wall = statistics.mean(float(str(r["wall_s"])) for r in mine) if mine else 0.0
            cells.append(f"{mean_gap:.2f} · {fails} · {cpu:.1f}/{wall:.1f}")
        summary.add_row(cls, *cells)
    console.print(summary)


if __name__ == "__main__":
    main()
