"""`diesel route …` and `diesel osrm …`: the route planner from the command line.

Registered in api/cli.py with ``main.add_command(route)`` and ``main.add_command(osrm)``.  Only this
module imports click; the planner itself is the pure ``routing`` library.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import click

__all__ = ["osrm", "route"]


def _provider(osrm_dataset: str | None, osrm_url: str | None, cache_dir: str | None) -> Any:
    if osrm_dataset and osrm_url:
        raise click.UsageError("give --osrm or --osrm-url, not both")
    from routing.osrm import OsrmHttp, OsrmLocal

    if osrm_dataset:
        return OsrmLocal(osrm_dataset, cache_dir=cache_dir)
    if osrm_url:
        return OsrmHttp(osrm_url, cache_dir=cache_dir)
    return None


def _load_problem(path: str) -> Any:
    from routing import ProblemError, decode_problem

    try:
        return decode_problem(Path(path).read_bytes())
    except ProblemError as error:
        raise click.ClickException("the problem is not valid:\n  - " + "\n  - ".join(error.errors)) from error
    except ValueError as error:  # msgspec.DecodeError / ValidationError are ValueErrors
        raise click.ClickException(f"{path}: {error}") from error


def _money(minor: int) -> str:
    return f"{minor / 100:,.2f}"


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


@click.group()
def route() -> None:
    """Plan tanker routes: solve a problem file, draw a plan (docs/ROUTING.md)."""


@route.command()
@click.argument("problem_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--time-limit", type=float, default=None, help="Seconds of search [default: the problem's options].")
@click.option("--seed", type=int, default=0, show_default=True, help="Another seed gives another search trajectory.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the solution JSON here.")
@click.option("--clock", type=click.Choice(["wall", "cpu"]), default="wall", show_default=True)
@click.option("--osrm", "osrm_dataset", help="Road matrix from this OSRM dataset (.osrm base path, in-process).")
@click.option("--osrm-url", help="Road matrix from an osrm-routed server, e.g. http://127.0.0.1:5000.")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Keep OSRM matrices here between runs.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def solve(
    problem_file: str,
    time_limit: float | None,
    seed: int,
    out: str | None,
    clock: Literal["wall", "cpu"],  # click.Choice holds it to these
    osrm_dataset: str | None,
    osrm_url: str | None,
    cache_dir: str | None,
    quiet: bool,
) -> None:
    """Plan PROBLEM_FILE (JSON, see docs/ROUTING.md) and print a summary; Ctrl-C stops with the best plan so far."""
    from rich.console import Console

    from routing import OsrmError, SolveParams, encode_solution
    from routing import solve as plan_day

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    problem = _load_problem(problem_file)
    provider = _provider(osrm_dataset, osrm_url, cache_dir)
    limit = time_limit if time_limit is not None else problem.options.time_limit_s
    if limit <= 0:
        raise click.BadParameter("must be positive", param_hint="--time-limit")
    params = SolveParams(time_limit_s=limit, clock=clock)
    cancel = threading.Event()
    best: dict[str, Any] = {"cost": None, "solutions": 0}
    outcome: dict[str, Any] = {}

    def progress(p: Any) -> None:
        best["cost"], best["solutions"] = p.best_cost_minor, p.solutions

    def work() -> None:
        try:
            outcome["result"] = plan_day(
                problem, params=params, seed=seed, on_progress=progress, cancel=cancel, matrix_provider=provider
            )
        except (OsrmError, ValueError) as error:
            outcome["error"] = error

    thread = threading.Thread(target=work, daemon=True)
    started = time.perf_counter()
    thread.start()
    try:
        if quiet or not console.is_terminal:
            thread.join()
        else:
            _watch(console, thread, limit, best, started)
    except KeyboardInterrupt:
        cancel.set()
        console.print("[yellow]stopping: keeping the best plan so far…[/yellow]")
        thread.join()
    if "error" in outcome:
        raise click.ClickException(str(outcome["error"]))
    result = outcome["result"]
    if out:
        Path(out).write_bytes(encode_solution(result.solution))
    _summary(console, problem, result, out)
    if result.violations:
        sys.exit(2)


def _watch(console: Any, thread: threading.Thread, limit: float, best: dict[str, Any], started: float) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("[bold]planning"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[best]}"),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("plan", total=limit, best="searching for a first plan…")
        while thread.is_alive():
            cost = best["cost"]
            text = f"best {_money(cost)} after {best['solutions']} plans" if cost is not None else "searching…"
            bar.update(task, completed=min(limit, time.perf_counter() - started), best=text)
            thread.join(0.1)


def _summary(console: Any, problem: Any, result: Any, out: str | None) -> None:
    from rich.table import Table

    solution, stats = result.solution, result.stats
    tankers = {t.id: t for t in problem.tankers}
    table = Table(title="Plan", title_justify="left")
    for column in ("tanker", "depot", "trips", "stops", "litres", "km", "on duty", "hours", "cost"):
        table.add_column(column, justify="right" if column not in ("tanker", "depot") else "left")
    for r in solution.routes:
        tanker = tankers[r.tanker_id]
        metres = sum(t.distance_m for t in r.trips)
        litres = sum(s.litres for t in r.trips for s in t.stops)
        cost = -(-metres * tanker.cost_per_km_minor // 1000) + tanker.fixed_cost_minor
        table.add_row(
            r.tanker_id,
            tanker.depot_id,
            str(len(r.trips)),
            str(sum(len(t.stops) for t in r.trips)),
            f"{litres:,}",
            f"{metres / 1000:,.1f}",
            f"{_clock(r.trips[0].load_start_s)}–{_clock(r.trips[-1].return_s)}",
            f"{r.duration_s / 3600:.1f}",
            _money(cost),
        )
    if solution.routes:
        console.print(table)
    trips = sum(len(r.trips) for r in solution.routes)
    served = len(solution.served_job_ids())
    console.print(
        f"[bold]{len(solution.routes)}[/bold] of {len(problem.tankers)} tankers, [bold]{trips}[/bold] trips, "
        f"{served} of {len(problem.jobs)} jobs served, {solution.distance_m / 1000:,.1f} km, "
        f"{solution.duration_s / 3600:,.1f} tanker-hours, cost [bold]{_money(solution.cost_minor)}[/bold]"
    )
    if solution.unassigned:
        reasons = Counter(str(u.reason) for u in solution.unassigned)
        console.print(
            f"[yellow]{len(solution.unassigned)} unassigned[/yellow]: "
            + ", ".join(f"{reason} {count}" for reason, count in reasons.most_common())
        )
        for item in solution.unassigned[:15]:
            console.print(f"  {item.job_id}: {item.reason} — {item.detail}")
        if len(solution.unassigned) > 15:
            console.print(f"  … {len(solution.unassigned) - 15} more (see the solution file)")
    first = f"{stats.first_solution_s:.1f} s" if stats.first_solution_s is not None else "none"
    console.print(
        f"search: {stats.stopped_by}, {stats.solutions} plans, first after {first}, "
        f"{stats.wall_s:.1f} s wall / {stats.cpu_s:.1f} s CPU, seed {stats.seed}"
    )
    if result.violations:
        console.print(f"[red bold]checker: {len(result.violations)} violations[/red bold]")
        for v in result.violations[:10]:
            console.print(f"  [red]{v.code}[/red] {v.detail}")
    else:
        console.print("[green]checker: the plan is valid[/green]")
    if out:
        console.print(f"solution written to {out}")


@route.command()
@click.argument("problem_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("solution_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="plan.svg, or plan.png (needs matplotlib).")
@click.option("--title", default="", help="Title over the legend [default: the file name and cost].")
def plot(problem_file: str, solution_file: str, out: str, title: str) -> None:
    """Draw SOLUTION_FILE's routes per tanker over PROBLEM_FILE's sites and depots."""
    from routing import decode_solution
    from routing.plot import save_plot

    problem = _load_problem(problem_file)
    try:
        solution = decode_solution(Path(solution_file).read_bytes())
    except ValueError as error:
        raise click.ClickException(f"{solution_file}: {error}") from error
    known = {j.id for j in problem.jobs} | {t.id for t in problem.tankers}
    strangers = {s.job_id for r in solution.routes for t in r.trips for s in t.stops} | {
        r.tanker_id for r in solution.routes
    }
    if strangers - known:
        raise click.ClickException(
            f"the solution names jobs or tankers the problem lacks: {sorted(strangers - known)[:5]}"
        )
    title = title or f"{Path(problem_file).stem}: cost {_money(solution.cost_minor)}"
    try:
        path = save_plot(problem, solution, out, title=title)
    except ImportError as error:
        raise click.ClickException(
            "PNG output needs matplotlib (pip install matplotlib); .svg needs nothing"
        ) from error
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"plan drawn to {path}")


@click.group()
def osrm() -> None:
    """OSRM road data for the route planner (needs the osrm-bindings wheel: pip install '.[osrm]')."""


@osrm.command()
@click.argument("pbf", type=click.Path(exists=True, dir_okay=False))
@click.option("--profile", default="car", show_default=True, help="car, bicycle, foot, or a .lua profile path.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder [default: beside the file].")
@click.option("--threads", type=int, default=2, show_default=True)
def build(pbf: str, profile: str, out_dir: str | None, threads: int) -> None:
    """Prepare PBF (an .osm.pbf extract) for routing: extract, partition, customize (MLD)."""
    from routing.osrm import OsrmError, build_dataset

    started = time.perf_counter()
    try:
        base = build_dataset(pbf, out_dir, profile=profile, threads=threads, log=click.echo)
    except OsrmError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"built {base} in {time.perf_counter() - started:.1f} s")
    click.echo(f"use it with: diesel route solve PROBLEM.json --osrm {base}")
    click.echo(f"or serve it: python -m osrm routed --algorithm mld {base}")
