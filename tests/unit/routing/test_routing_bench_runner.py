"""The routing benchmark runner (benchmarks/routing/run.py, run by `make bench-routing`) on one small instance."""

from __future__ import annotations

from pathlib import Path

from benchmarks.routing.run import main as run_benchmark


def test_the_runner_solves_an_instance_and_appends_a_row(tmp_path: Path) -> None:
    csv = tmp_path / "routing.csv"
    args = ["--suite", "solomon", "--instances", "C101", "--budget", "1", "--solvers", "ours", "--out", str(csv)]
    run_benchmark(args)
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("suite,instance,solver,budget_s,cpu_s,wall_s,cost,bks,gap_pct,feasible")
    assert lines[1].startswith("solomon,C101,ours,1.0,") and lines[1].endswith("True")
