"""solve(start_from=the promise's insertion plan, orders in a shuffled order) against a cold solve of the same CPU
budget on a generated fuel day, and against a start from the fitted plan alone (construct=False):

    python -m benchmarks.routing.warm JOBS CPU_SECONDS WORKERS      (e.g. 1000 20 1)
"""

from __future__ import annotations

import random
import sys
import time

import msgspec

import routing
from benchmarks.routing.fuelday import generate
from routing.insertion import TentativeDay
from routing.matrix import matrix_for


def main() -> None:
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    budget = float(sys.argv[2]) if len(sys.argv) > 2 else 15
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    problem = generate(jobs, seed=1)
    day = TentativeDay(problem, matrix_for(problem, None))
    ids = [j.id for j in problem.jobs]
    random.Random(3).shuffle(ids)
    t0 = time.perf_counter()
    day.place_all(ids)
    start = day.solution()
    print(f"jobs {jobs}, tankers {len(problem.tankers)}, budget {budget} s CPU, workers {workers}")
    print(
        f"tentative: cost {start.cost_minor} routes {len(start.routes)} unassigned {len(start.unassigned)}"
        f" ({time.perf_counter() - t0:.1f} s)"
    )
    params = routing.SolveParams(time_limit_s=budget, clock="cpu", workers=workers)
    fitted_only = msgspec.structs.replace(params, construct=False)
    runs = (("cold", None, params), ("warm", start, params), ("warm-fitted-only", start, fitted_only))
    for name, given, run_params in runs:
        r = routing.solve(problem, params=run_params, seed=0, start_from=given)
        s = r.solution
        print(
            f"{name}: cost {s.cost_minor} routes {len(s.routes)} unassigned {len(s.unassigned)} source"
            f" {r.stats.source} solutions {r.stats.solutions} violations {len(r.violations)}"
            f" wall {r.stats.wall_s:.1f} s"
        )


if __name__ == "__main__":  # the searches run in forked children
    main()
