"""Solve one instance with one solver and print one JSON line (run as a subprocess by run.py).

    python -m benchmarks.routing.worker SOLVER SUITE PATH BUDGET_S

Every solver gets the same integer data (the DIMACS / nint conventions of instances.py) and the same
budget in CPU seconds of its process tree.  The reported cost is recomputed here from the routes, in
the published unit, and checked for feasibility (every customer once, capacity, windows, fleet size).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.routing.instances import Instance, load, route_cost

if TYPE_CHECKING:
    from routing import SolveParams

# The budget is CPU seconds; OR-Tools' annealing cools over its wall time limit, which is this factor times
# the budget.  Near 1 the schedule ends when the budget does (one solve per free core: --parallel 2 at most
# on two cores); a larger factor leaves the search hot when the CPU budget stops it.
WALL_FACTOR = 1.1


def ours_params(budget: float, workers: int) -> SolveParams:
    """Our planner's settings in a benchmark: a CPU budget, plus the SolveParams overrides that run.py and
    fuelday.py pass down as BENCH_OURS_PARAMS (--params, for tuning runs)."""
    import msgspec

    from routing import SolveParams

    overrides = json.loads(os.environ.get("BENCH_OURS_PARAMS") or "{}")
    defaults = {"time_limit_s": budget, "clock": "cpu", "wall_factor": WALL_FACTOR, "workers": workers}
    return msgspec.convert({**defaults, **overrides}, SolveParams)


def solve_ours(instance: Instance, budget: float, workers: int = 1) -> list[list[int]]:
    """One search on one core (the fair comparison); ``ours2`` is the default two parallel searches, each
    with the full CPU budget (so twice the CPU seconds, the same wall time on two cores)."""
    from routing import solve

    params = ours_params(budget, workers)
    result = solve(instance.to_problem(), params=params, seed=int(os.environ.get("BENCH_SEED", "0")))
    return [[int(stop.job_id) for stop in trip.stops] for route in result.solution.routes for trip in route.trips]


def solve_ours2(instance: Instance, budget: float) -> list[list[int]]:
    return solve_ours(instance, budget, workers=2)


def solve_pyvrp(instance: Instance, budget: float) -> list[list[int]]:
    import pyvrp
    from pyvrp.stop import StoppingCriterion

    class CpuBudget(StoppingCriterion):  # type: ignore[misc]
        def __init__(self) -> None:
            self.start = time.process_time()

        def __call__(self, best_cost: float) -> bool:
            return time.process_time() - self.start >= budget

    n = len(instance.demand)
    locations = [pyvrp.Location(x=0.0, y=0.0) for _ in range(n)]
    clients = [
        pyvrp.Client(
            location=i,
            delivery=[instance.demand[i]],
            service_duration=instance.service[i],
            tw_early=instance.ready[i],
            tw_late=instance.due[i],
        )
        for i in range(1, n)
    ]
    depots = [pyvrp.Depot(location=0, tw_early=instance.ready[0], tw_late=instance.due[0])]
    vehicles = [
        pyvrp.VehicleType(
            num_available=instance.vehicles,
            capacity=[instance.capacity],
            tw_early=instance.ready[0],
            tw_late=instance.due[0],
        )
    ]
    matrix = np.asarray(instance.distances, dtype=np.int64)
    data = pyvrp.ProblemData(locations, clients, depots, vehicles, [matrix], [matrix])
    result = pyvrp.solve(data, stop=CpuBudget(), seed=1, display=False)
    # Client activities carry the client's index; clients sit at locations 1..n-1 (the depot is 0).
    return [[int(a.idx) + 1 for a in route if _flag(a.is_client)] for route in result.best.routes()]


def _flag(value: object) -> bool:
    return bool(value() if callable(value) else value)


def solve_vroom(instance: Instance, budget: float) -> list[list[int]]:
    import vroom

    problem = vroom.Input()
    matrix = np.asarray(instance.distances, dtype=np.uint32)
    problem.set_durations_matrix(profile="car", matrix_input=matrix)
    problem.set_costs_matrix(profile="car", matrix_input=matrix)
    for v in range(instance.vehicles):
        problem.add_vehicle(
            vroom.Vehicle(
                v + 1,
                start=0,
                end=0,
                capacity=[instance.capacity],
                time_window=vroom.TimeWindow(instance.ready[0], instance.due[0]),
            )
        )
    for i in range(1, len(instance.demand)):
        problem.add_job(
            vroom.Job(
                i,
                location=i,
                delivery=[instance.demand[i]],
                default_service=instance.service[i],
                time_windows=[vroom.TimeWindow(instance.ready[i], instance.due[i])],
            )
        )
    solution = problem.solve(exploration_level=5, nb_threads=1, timeout=timedelta(seconds=budget))
    routes: dict[int, list[int]] = {}
    frame = solution.routes
    for vehicle, kind, job in zip(frame["vehicle_id"], frame["type"], frame["id"], strict=True):
        if kind == "job":
            routes.setdefault(int(vehicle), []).append(int(job))
    return list(routes.values())


SOLVERS = {"ours": solve_ours, "ours2": solve_ours2, "pyvrp": solve_pyvrp, "vroom": solve_vroom}


def feasible(instance: Instance, routes: list[list[int]]) -> bool:
    seen = [node for route in routes for node in route]
    if sorted(seen) != list(range(1, len(instance.demand))) or len(routes) > instance.vehicles:
        return False
    d = instance.distances
    for route in routes:
        if sum(instance.demand[i] for i in route) > instance.capacity:
            return False
        clock, here = instance.ready[0], 0
        for node in route:
            clock = max(clock + int(d[here, node]), instance.ready[node])
            if clock > instance.due[node]:
                return False
            clock += instance.service[node]
            here = node
        if clock + int(d[here, 0]) > instance.due[0]:
            return False
    return True


def _tree_cpu() -> float:
    """CPU seconds of this process and its finished children (the forked searches), start-up included."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def main() -> None:
    solver, suite, path, budget = sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])
    instance = load(suite, path)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    routes = SOLVERS[solver](instance, budget)
    wall = time.perf_counter() - wall0
    cost = route_cost(instance, routes) / instance.scale
    out = {
        "instance": instance.name,
        "cls": instance.cls,
        "cost": round(cost, 4),
        "bks": instance.bks,
        "routes": len(routes),
        "feasible": feasible(instance, routes),
        "solve_cpu_s": round(time.process_time() - cpu0, 3),
        "solve_wall_s": round(wall, 3),
        "tree_cpu_s": round(_tree_cpu(), 2),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
