"""solve(problem) -> Result on OR-Tools.  See docs/ROUTING.md for the model and its choices."""

from __future__ import annotations

import threading
import time

from routing.check import check
from routing.matrix import MatrixProvider, matrix_for
from routing.problem import Problem, validate
from routing.result import Result, Stats
from routing.solution import Solution
from routing.solver.construct import construct
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
    report = _Monotone(on_progress)
    built: Solution | None = None
    built_s: float | None = None
    if params.construct and instance.deliveries and vehicles and not (cancel is not None and cancel.is_set()):
        # Our own construction: a plan within a second or two even on days where OR-Tools' first
        # solution takes much longer; the search below must beat it to be returned.
        plan = construct(instance, vehicles)
        if plan:
            built = finish(instance, plan, {})
            built_s = time.perf_counter() - wall0
            report(Progress(best_cost_minor=built.cost_minor, solutions=0, elapsed_s=built_s))
    if not instance.deliveries or not vehicles:
        outcome = RunOutcome(status="nothing_to_plan", stopped_by="nothing_to_plan")
    elif cancel is not None and cancel.is_set():
        outcome = RunOutcome(stopped_by="cancelled")
    elif params.isolate:
        outcome = run_in_child(instance, vehicles, params, limit_s, report, cancel)
    else:
        outcome = run_in_process(instance, vehicles, params, limit_s, report)
    searched = None if outcome.plan is None else finish(instance, outcome.plan, outcome.floors)
    source = "search"
    if built is not None and (searched is None or built.cost_minor < searched.cost_minor):
        solution, source = built, "construction"
    else:
        solution = searched if searched is not None else empty_solution(instance)
    first = [s for s in (built_s, outcome.first_solution_s) if s is not None]
    stats = Stats(
        status=outcome.status,
        stopped_by=outcome.stopped_by,
        time_limit_s=limit_s,
        clock=params.clock,
        wall_s=time.perf_counter() - wall0,
        cpu_s=time.process_time() - cpu0 + (outcome.search_cpu_s if params.isolate else 0.0),
        first_solution_s=min(first) if first else None,
        solutions=outcome.solutions,
        seed=seed,
        deliveries=len(instance.deliveries),
        source=source if outcome.plan is not None or built is not None else "none",
    )
    violations = tuple(check(problem, solution, matrix=matrix))
    return Result(solution=solution, stats=stats, violations=violations)


class _Monotone:
    """Forwards progress only when the best cost improves (the construction and the search both report)."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.best: int | None = None

    def __call__(self, progress: Progress) -> None:
        if self.best is not None and progress.best_cost_minor >= self.best:
            return
        self.best = progress.best_cost_minor
        if self.callback is not None:
            self.callback(progress)
