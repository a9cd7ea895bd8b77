"""A generated fuel-delivery day, and the two references we compare our planner with on it.

* ``generate(jobs, seed)``: depots, a mixed fleet with compartments, 4 diesel grades, one or two
  receiving windows, several trips per shift, a few small-road sites (vehicle class) and preferred
  tankers — a day like the ones the planner is built for, at any size (benchmarks use 200/1,000/2,000).
* ``greedy(problem)``: what a dispatcher might do by hand — each tanker in turn fills trips with the
  nearest site that still fits (compartments, windows, shift), opening a new trip when none does.
* ``pyvrp_relaxation(problem)``: the part of the day PyVRP can express — total litres instead of
  compartments and grades, the hull of a site's windows, the fixed part of the loading time, reloads at
  the home depot, vehicle classes dropped.  Its optimum is a lower bound on ours (up to rounding);
  its cost is in the same unit as ours.

    python -m benchmarks.routing.fuelday --jobs 200,1000,2000 --budget 60 --pyvrp-budget 30 \
        --solvers greedy,ours2,ours-relaxed,pyvrp

Solvers: ``greedy``; ``ours`` (one search, one core); ``ours2`` (the default: two parallel searches, each
with the full CPU budget); ``pyvrp`` (on the relaxation); ``X-relaxed`` runs solver X on the relaxation
too (``relax``), which separates the search's gap from the modelling gap.
    python -m benchmarks.routing.fuelday --write-example docs/examples/fuel-day-small.json --jobs 30

Rows go to benchmarks/results/routing.csv (suite "fuelday"; bks = PyVRP's relaxation cost) with the
time to the first plan and the peak memory printed alongside.

Memory, in MB (MiB), per run: ``self`` = peak RSS of the process that plans (it builds the matrix, the
construction and the final plan); ``search`` = peak RSS of one forked search (the largest; it counts the
pages it shares with its parent); ``tree`` = peak of the summed RSS of the planning process and its
searches, sampled every 0.1 s from /proc (shared pages counted once per process: an upper bound);
``tree PSS`` = peak of the summed proportional set size (shared pages split between the processes that
share them: what the tree really occupies).  Only ``ours``/``ours2`` fork.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from routing.matrix import Matrix, matrix_for
from routing.problem import DAY_S, Depot, Job, Options, Problem, Tanker, discharge_time_s, encode_problem
from routing.solution import Solution

H = 3600
LAT0, LON0 = 31.20, 121.50
BOX_KM = 80.0
# Leaving a site out costs about three dedicated truck trips (it must be served tomorrow or by a
# subcontractor): high enough that every planner serves what it can, low enough to compare plans.
PENALTY = 300_000
GRADES = (("0#", 0.55), ("-10#", 0.25), ("-20#", 0.12), ("-35#", 0.08))
# (compartments, class, cost per km in fen, fixed cost in fen)
TANKER_TYPES = (
    ((10_000, 10_000, 8_000, 8_000), 2, 650, 30_000),
    ((8_000, 8_000, 6_000, 6_000), 2, 600, 25_000),
    ((5_000, 5_000, 5_000), 1, 450, 18_000),
)


def _at(east_km: float, north_km: float) -> tuple[float, float]:
    lat = LAT0 + north_km / 111.195
    lon = LON0 + east_km / (111.195 * math.cos(math.radians(LAT0)))
    return round(lat, 6), round(lon, 6)


def generate(jobs: int, seed: int = 1) -> Problem:
    rng = random.Random(seed * 7919 + jobs)
    n_depots = 1 + jobs // 1000
    depot_xy = (
        [(0.0, 0.0)]
        if n_depots == 1
        else [
            (18 * math.cos(2 * math.pi * k / n_depots), 18 * math.sin(2 * math.pi * k / n_depots))
            for k in range(n_depots)
        ]
    )
    depots = tuple(
        Depot(
            id=f"D{k + 1}",
            lat=_at(*xy)[0],
            lon=_at(*xy)[1],
            open_s=4 * H,
            close_s=22 * H,
            load_fixed_s=900,
            load_rate_l_per_min=2400,
        )
        for k, xy in enumerate(depot_xy)
    )
    fleet = max(4, jobs // 7)
    tankers = []
    for i in range(fleet):
        compartments, vclass, per_km, fixed = TANKER_TYPES[i % len(TANKER_TYPES)]
        early = i % 2 == 0
        tankers.append(
            Tanker(
                id=f"T{i + 1:03d}",
                depot_id=depots[i % n_depots].id,
                compartments=compartments,
                vehicle_class=vclass,
                shift_start_s=(6 if early else 8) * H,
                shift_end_s=(18 if early else 20) * H,
                max_duty_s=11 * H,
                cost_per_km_minor=per_km,
                fixed_cost_minor=fixed,
                driver_id=f"drv-{i + 1}",
            )
        )
    clusters = [(rng.uniform(-30, 30), rng.uniform(-30, 30)) for _ in range(5)]
    grades, weights = zip(*GRADES, strict=True)
    out = []
    for j in range(jobs):
        if rng.random() < 0.3:
            cx, cy = rng.choice(clusters)
            x, y = rng.gauss(cx, 4), rng.gauss(cy, 4)
        else:
            x, y = rng.uniform(-BOX_KM / 2, BOX_KM / 2), rng.uniform(-BOX_KM / 2, BOX_KM / 2)
        x, y = max(-BOX_KM / 2, min(BOX_KM / 2, x)), max(-BOX_KM / 2, min(BOX_KM / 2, y))
        litres = (
            45_000 if rng.random() < 0.02 else int(min(30_000, max(1_000, rng.lognormvariate(8.6, 0.6))) // 500 * 500)
        )
        kind = rng.random()
        if kind < 0.40:
            windows: tuple[tuple[int, int], ...] = ((6 * H, 20 * H),)
        elif kind < 0.70:
            start = rng.randrange(6 * H, 15 * H, 900)
            windows = ((start, start + 4 * H),)
        elif kind < 0.95:
            start = rng.randrange(7 * H, 16 * H, 900)
            windows = ((start, start + 2 * H),)
        else:
            windows = ((7 * H, 10 * H), (14 * H, 17 * H))
        lat, lon = _at(x, y)
        small_road = rng.random() < 0.10
        preferred = tankers[rng.randrange(fleet)].id if rng.random() < 0.10 else None
        out.append(
            Job(
                id=f"J{j + 1:04d}",
                lat=lat,
                lon=lon,
                product=rng.choices(grades, weights)[0],
                litres=litres,
                windows=windows,
                allowed_vehicle_classes=(1,) if small_road else None,
                preferred_tanker_id=preferred,
                penalty_minor=PENALTY,
            )
        )
    return Problem(
        depots=depots,
        tankers=tuple(tankers),
        jobs=tuple(out),
        options=Options(multi_trip=True, max_trips=3, time_limit_s=10.0),
    )


def relax(problem: Problem) -> Problem:
    """The day as PyVRP sees it (see pyvrp_relaxation): one product in one big compartment, the hull of
    the windows, only the fixed part of the loading time, no vehicle classes, no preferences.  Our
    planner on this problem against PyVRP on it measures the search alone, without the modelling gap."""
    import msgspec

    depots = tuple(msgspec.structs.replace(d, load_rate_l_per_min=0) for d in problem.depots)
    tankers = tuple(msgspec.structs.replace(t, compartments=(t.capacity_l,), vehicle_class=1) for t in problem.tankers)
    jobs = tuple(
        msgspec.structs.replace(
            j,
            product="diesel",
            windows=((j.windows[0][0], j.windows[-1][1]),),
            allowed_vehicle_classes=None,
            preferred_tanker_id=None,
        )
        for j in problem.jobs
    )
    return msgspec.structs.replace(problem, depots=depots, tankers=tankers, jobs=jobs)


# -- the dispatcher's greedy ------------------------------------------------------------------------


def greedy(problem: Problem, matrix: Matrix | None = None, *, candidates: int = 25) -> Solution:
    """Tanker by tanker, trip by trip: start with the most urgent site, then keep adding the nearest one
    that still fits (exact compartments, windows, shift, duty); a new trip when nothing fits."""
    from routing.solver.extract import finish
    from routing.solver.instance import build_instance
    from routing.solver.schedule import schedule_tanker

    matrix = matrix or matrix_for(problem)
    instance = build_instance(problem, matrix, seed=0)
    dist = matrix.distances_m
    left = set(range(len(instance.deliveries)))
    plan: dict[int, list[list[int]]] = {}
    site = [problem.job_location(d.job_index) for d in instance.deliveries]
    due = [problem.jobs[d.job_index].windows[-1][1] for d in instance.deliveries]
    for t in sorted(range(len(problem.tankers)), key=lambda t: problem.tankers[t].shift_start_s):
        home = instance.depot_location(t)
        mine = [d for d in left if t in instance.eligible.get(instance.deliveries[d].job_index, ())]
        trips: list[list[int]] = []
        while len(trips) < instance.trips and mine:
            trip: list[int] = []
            # The most urgent site this tanker can still fit into a new trip opens it.
            for d in sorted(mine, key=lambda d: (due[d], dist[home][site[d]])):
                if schedule_tanker(instance, t, [*trips, [d]]) is not None:
                    trip = [d]
                    break
            if not trip:
                break
            mine.remove(trip[0])
            while True:
                here = site[trip[-1]]
                nearest = sorted(mine, key=lambda d: dist[here][site[d]])[:candidates]
                chosen = next((d for d in nearest if schedule_tanker(instance, t, [*trips, [*trip, d]])), None)
                if chosen is None:
                    break
                trip.append(chosen)
                mine.remove(chosen)
            trips.append(trip)
        if trips:
            plan[t] = trips
            left -= {d for trip in trips for d in trip}
    return finish(instance, plan, {})


# -- PyVRP on the relaxation --------------------------------------------------------------------------


def pyvrp_relaxation(problem: Problem, budget_s: float, matrix: Matrix | None = None, seed: int = 1) -> dict[str, Any]:
    import numpy as np
    import pyvrp
    from pyvrp.stop import StoppingCriterion

    from routing.solver.instance import build_instance

    class CpuBudget(StoppingCriterion):  # type: ignore[misc]
        def __init__(self) -> None:
            self.start = time.process_time()
            self.first: float | None = None
            self.wall0 = time.perf_counter()

        def __call__(self, best_cost: float) -> bool:
            if self.first is None and math.isfinite(best_cost):
                self.first = time.perf_counter() - self.wall0
            return time.process_time() - self.start >= budget_s

    matrix = matrix or matrix_for(problem)
    instance = build_instance(problem, matrix, seed=0)
    n_depots = len(problem.depots)
    locations = [pyvrp.Location(x=0.0, y=0.0) for _ in range(n_depots)]
    pdepots = [
        pyvrp.Depot(location=i, tw_early=d.open_s, tw_late=d.close_s, service_duration=d.load_fixed_s)
        for i, d in enumerate(problem.depots)
    ]
    loc_index = list(range(n_depots))
    clients = []
    for delivery in instance.deliveries:
        job = problem.jobs[delivery.job_index]
        loc_index.append(problem.job_location(delivery.job_index))
        locations.append(pyvrp.Location(x=0.0, y=0.0))
        clients.append(
            pyvrp.Client(
                location=len(locations) - 1,
                delivery=[delivery.litres],
                service_duration=discharge_time_s(job, delivery.litres),
                tw_early=job.windows[0][0],
                tw_late=job.windows[-1][1],
                prize=job.penalty_minor * 1000 // delivery.parts,
                required=False,
            )
        )
    groups: dict[tuple[Any, ...], int] = {}
    for tanker in problem.tankers:
        depot = problem.depot_location(tanker.depot_id)
        key = (
            tanker.capacity_l,
            depot,
            tanker.shift_start_s,
            tanker.shift_end_s,
            tanker.max_duty_s,
            tanker.cost_per_km_minor,
            tanker.fixed_cost_minor,
        )
        groups[key] = groups.get(key, 0) + 1
    vehicle_types = []
    for (cap, depot, start, end, duty, per_km, fixed), count in groups.items():
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=count,
                capacity=[cap],
                start_depot=depot,
                end_depot=depot,
                fixed_cost=fixed * 1000,
                tw_early=start,
                tw_late=end,
                shift_duration=duty if duty is not None else DAY_S,
                unit_distance_cost=per_km,
                reload_depots=[depot] if problem.options.multi_trip else [],
                max_reloads=problem.trips_per_tanker() - 1,
            )
        )
    idx = np.array(loc_index)
    dist = np.array(matrix.distances_m, dtype=np.int64)[np.ix_(idx, idx)]
    dur = np.array(matrix.durations_s, dtype=np.int64)[np.ix_(idx, idx)]
    data = pyvrp.ProblemData(locations, clients, pdepots, vehicle_types, [dist], [dur])
    stop = CpuBudget()
    result = pyvrp.solve(data, stop=stop, seed=seed, display=False)
    best = result.best
    cost_milli = (
        best.distance_cost() + best.fixed_vehicle_cost() + best.uncollected_prizes() if best.is_feasible() else None
    )
    return {
        "cost": -(-cost_milli // 1000) if cost_milli is not None else None,
        "feasible": bool(best.is_feasible()),
        "first_s": stop.first,
        "routes": best.num_routes(),
        "unassigned": len(instance.deliveries) - best.num_clients(),
        "trips": sum(route.num_trips() for route in best.routes()),
        "km": round(best.distance() / 1000),
    }


# -- the benchmark ------------------------------------------------------------------------------------


class TreeMemory(threading.Thread):
    """Samples the resident memory of this process and all its descendants (Linux /proc) until stopped."""

    def __init__(self, interval_s: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.rss_kb = 0  # peak of the summed RSS
        self.pss_kb = 0  # peak of the summed PSS
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval_s)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()

    def sample(self) -> None:
        rss = pss = 0
        for pid in _tree(os.getpid()):
            rss += _proc_kb(f"/proc/{pid}/status", "VmRSS:")
            pss += _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")
        self.rss_kb, self.pss_kb = max(self.rss_kb, rss), max(self.pss_kb, pss)


def _tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    todo += [int(child) for child in handle.read().split()]
        except OSError:  # gone meanwhile, or no /proc
            continue
    return pids


def _proc_kb(path: str, key: str) -> int:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _worker(solver: str, jobs: int, budget: float, seed: int) -> dict[str, Any]:
    problem = generate(jobs, seed)
    memory = TreeMemory()
    memory.start()
    if solver.endswith("-relaxed"):
        problem, solver = relax(problem), solver.removesuffix("-relaxed")
    wall0 = time.perf_counter()
    out: dict[str, Any] = {"jobs": jobs, "solver": solver}
    if solver in ("ours", "ours2"):
        from routing import solve

        first: list[float] = []

        def progress(p: Any) -> None:
            if not first:
                first.append(time.perf_counter() - wall0)

        from benchmarks.routing.worker import ours_params

        result = solve(
            problem,
            params=ours_params(budget, 2 if solver == "ours2" else 1),
            seed=seed,
            on_progress=progress,
        )
        solution = result.solution
        out.update(feasible=result.is_feasible(), first_s=first[0] if first else None, search_cpu_s=result.stats.cpu_s)
    elif solver == "greedy":
        from routing.check import check

        matrix = matrix_for(problem)
        solution = greedy(problem, matrix)
        out.update(feasible=check(problem, solution, matrix=matrix) == [], first_s=time.perf_counter() - wall0)
    elif solver == "pyvrp":
        relaxed = pyvrp_relaxation(problem, budget, seed=seed)
        out.update(
            cost=relaxed["cost"],
            feasible=relaxed["feasible"],
            first_s=relaxed["first_s"],
            unassigned=relaxed["unassigned"],
            tankers=relaxed["routes"],
            trips=relaxed["trips"],
            km=relaxed["km"],
        )
        solution = None
    else:
        raise SystemExit(f"unknown solver {solver}")
    if solution is not None:
        out.update(
            cost=solution.cost_minor,
            unassigned=len(solution.unassigned),
            km=round(solution.distance_m / 1000),
            tankers=len(solution.routes),
            trips=sum(len(r.trips) for r in solution.routes),
        )
    out["wall_s"] = time.perf_counter() - wall0
    memory.stop()
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out["rss_mb"] = round(self_kb / 1024)
    out["child_rss_mb"] = round(child_kb / 1024)
    out["tree_rss_mb"] = round(memory.rss_kb / 1024)
    out["tree_pss_mb"] = round(memory.pss_kb / 1024)
    return out


def run(solver: str, jobs: int, budget: float, seed: int, params: str = "") -> dict[str, Any]:
    root = Path(__file__).resolve().parents[2]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.routing.fuelday",
            "--worker",
            solver,
            "--jobs",
            str(jobs),
            "--budget",
            str(budget),
            "--seed",
            str(seed),
        ],
        cwd=root,
        env={**os.environ, "BENCH_OURS_PARAMS": params},
        capture_output=True,
        text=True,
        timeout=budget * 5 + 600,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {
            "jobs": jobs,
            "solver": solver,
            "error": (proc.stderr.strip().splitlines() or ["?"])[-1],
            "feasible": False,
            "cpu_s": 0,
            "wall_s": time.perf_counter() - wall0,
        }
    out: dict[str, Any] = json.loads(lines[-1])
    out["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out["wall_s"] = time.perf_counter() - wall0
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default="200,1000,2000")
    parser.add_argument("--budget", type=float, default=60.0, help="CPU seconds for our planner")
    parser.add_argument("--pyvrp-budget", type=float, default=30.0, help="CPU seconds for PyVRP")
    parser.add_argument("--solvers", default="greedy,ours2,ours-relaxed,pyvrp")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--write-example", type=Path, help="write the generated problem as JSON and exit")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--params", default="", help="JSON object of SolveParams overrides for ours/ours2")
    parser.add_argument("--label", default="", help="name our rows solver:LABEL (tuning runs)")
    parser.add_argument("--reference", default="", help="JOBS=COST,… PyVRP costs from an earlier run (no pyvrp)")
    args = parser.parse_args(argv)
    if args.write_example:
        problem = generate(int(args.jobs), args.seed)
        args.write_example.parent.mkdir(parents=True, exist_ok=True)
        args.write_example.write_bytes(json.dumps(json.loads(encode_problem(problem)), indent=1).encode() + b"\n")
        return
    if args.worker:
        print(json.dumps(_worker(args.worker, int(args.jobs), args.budget, args.seed)))
        return
    from rich.console import Console
    from rich.table import Table

    from benchmarks.routing.run import RESULTS, _append

    console = Console(width=None if sys.stdout.isatty() else 200)  # a log file gets the whole table
    table = Table(title="Fuel days (cost in yuan; gap vs PyVRP on the relaxation)")
    for column in (
        "jobs",
        "solver",
        "budget",
        "cost",
        "gap %",
        "unassigned",
        "tankers/trips",
        "km",
        "first plan s",
        "cpu s",
        "wall s",
        "peak MB self/search/tree",
        "tree PSS MB",
        "feasible",
    ):
        table.add_column(column, justify="right")
    for jobs in [int(x) for x in args.jobs.split(",")]:
        rows = {}
        for solver in args.solvers.split(","):
            budget = args.pyvrp_budget if solver == "pyvrp" else args.budget
            name = f"{solver}:{args.label}" if args.label and solver.startswith("ours") else solver
            rows[name] = run(solver, jobs, budget, args.seed, args.params if solver.startswith("ours") else "")
            rows[name]["budget"] = budget if solver != "greedy" else 0
            console.print(rows[name])
        earlier = dict(item.split("=") for item in args.reference.split(",") if item)
        reference = rows.get("pyvrp", {}).get("cost") or (int(earlier[str(jobs)]) if str(jobs) in earlier else None)
        for solver, r in rows.items():
            gap = round(100 * (r["cost"] / reference - 1), 2) if reference and r.get("cost") else ""
            _append(
                args.out or RESULTS,
                {
                    "suite": "fuelday",
                    "instance": f"FUEL{jobs}_{args.seed}",
                    "solver": solver,
                    "budget_s": r["budget"],
                    "cpu_s": round(r["cpu_s"], 2),
                    "wall_s": round(r["wall_s"], 2),
                    "cost": r.get("cost", ""),
                    "bks": reference or "",
                    "gap_pct": gap,
                    "feasible": r.get("feasible", False),
                },
            )
            first = r.get("first_s")
            table.add_row(
                str(jobs),
                solver,
                f"{r['budget']:g}",
                f"{r['cost'] / 100:,.0f}" if r.get("cost") else "-",
                str(gap),
                str(r.get("unassigned", "")),
                f"{r.get('tankers', '')}/{r.get('trips', '')}",
                str(r.get("km", "")),
                f"{first:.1f}" if first else "-",
                f"{r['cpu_s']:.1f}",
                f"{r['wall_s']:.1f}",
                f"{r.get('rss_mb', '?')}/{r.get('child_rss_mb', '?')}/{r.get('tree_rss_mb', '?')}",
                str(r.get("tree_pss_mb", "?")),
                str(r.get("feasible")) + (f" {r['error']}" if "error" in r else ""),
            )
    console.print(table)


if __name__ == "__main__":
    main()
