"""solve(problem) -> Result on OR-Tools.  See docs/ROUTING.md for the model and its choices."""

from __future__ import annotations

import threading
import time

from routing.check import check
from routing.matrix import MatrixProvider, matrix_for
from routing.problem import Problem, validate
from routing.result import Result, Stats
from routing.solver.extract import empty_solution, finish
from routing.solver.instance import build_instance
from routing.solver.model import usable_tankers
from routing.solver.runner import RunOutcome, run_in_child, run_in_process
from routing.solver.search import Progress, ProgressCallback, SolveParams

__all__ = ["Progress", "ProgressCallback", "SolveParams", "solve"]


def solve(
    problem: Problem,
    *,
    params: SolveParams | None = None,
    seed: int = 0,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    matrix_provider: MatrixProvider | None = None,
) -> Result:
    """Plan the day.  Same problem, params and seed give the same result when the search is bounded by
    ``params.solution_limit`` (a time limit cuts the search wherever the clock says)."""
    validate(problem)
    params = params or SolveParams()
    limit_s = params.time_limit_s if params.time_limit_s is not None else problem.options.time_limit_s
    wall0, cpu0 = time.perf_counter(), time.process_time()
    matrix = matrix_for(problem, matrix_provider)
    instance = build_instance(problem, matrix, seed=seed)
    vehicles = usable_tankers(instance)
    if not instance.deliveries or not vehicles:
        outcome = RunOutcome(status="nothing_to_plan", stopped_by="nothing_to_plan")
    elif cancel is not None and cancel.is_set():
        outcome = RunOutcome(stopped_by="cancelled")
    elif params.isolate:
        outcome = run_in_child(instance, vehicles, params, limit_s, on_progress, cancel)
    else:
        outcome = run_in_process(instance, vehicles, params, limit_s, on_progress)
    solution = empty_solution(instance) if outcome.plan is None else finish(instance, outcome.plan, outcome.floors)
    stats = Stats(
        status=outcome.status,
        stopped_by=outcome.stopped_by,
        time_limit_s=limit_s,
        clock=params.clock,
        wall_s=time.perf_counter() - wall0,
        cpu_s=time.process_time() - cpu0 + (outcome.search_cpu_s if params.isolate else 0.0),
        first_solution_s=outcome.first_solution_s,
        solutions=outcome.solutions,
        seed=seed,
        deliveries=len(instance.deliveries),
    )
    violations = tuple(check(problem, solution, matrix=matrix))
    return Result(solution=solution, stats=stats, violations=violations)
