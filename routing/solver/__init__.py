"""solve(problem) -> Result on OR-Tools.  See docs/ROUTING.md for the model and its choices."""

from __future__ import annotations

import copy
import threading
import time

from routing.check import check
from routing.matrix import MatrixProvider, matrix_for
from routing.problem import Problem, preference_misses, validate
from routing.result import Result, Stats
from routing.solution import Solution
from routing.solver.construct import construct
from routing.solver.extract import Plan, empty_solution, finish
from routing.solver.instance import Instance, build_instance
from routing.solver.model import usable_tankers
from routing.solver.runner import Floors, RunOutcome, run_in_child, run_in_process
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
    # A wall limit leaves its last trim_share to fleet trimming; a CPU budget is the search's alone.
    search_s = limit_s if params.clock == "cpu" else limit_s * (1 - params.trim_share)
    built: Solution | None = None
    built_s: float | None = None
    plan: Plan | None = None
    if params.construct and instance.deliveries and vehicles and not (cancel is not None and cancel.is_set()):
        # Our own construction: a plan within a second or two even on days where OR-Tools' first
        # solution takes much longer; the search below must beat it to be returned (and starts from it
        # on big days).
        plan = construct(instance, vehicles) or None
        if plan is not None:
            built = finish(instance, copy.deepcopy(plan), {})
            built_s = time.perf_counter() - wall0
            report(Progress(best_cost_minor=built.cost_minor, solutions=0, elapsed_s=built_s))
    instances = [instance]
    if params.isolate:
        # Further searches see the same day under another relabelling of its deliveries.
        instances += [build_instance(problem, matrix, seed=_worker_seed(seed, k)) for k in range(1, params.workers)]
    if not instance.deliveries or not vehicles:
        outcome = RunOutcome(status="nothing_to_plan", stopped_by="nothing_to_plan")
    elif cancel is not None and cancel.is_set():
        outcome = RunOutcome(stopped_by="cancelled")
    elif params.isolate:
        initials = [_renumber(plan, instance, other) for other in instances]
        outcome = run_in_child(instances, vehicles, params, search_s, report, cancel, initials, wall0)
    else:
        outcome = run_in_process(instance, vehicles, params, search_s, report, plan, wall0)
    # Every candidate plan is finished (packed, repaired, timed); the best by the planner's objective
    # is finished again with fleet trimming, within a small share of the time limit.
    finished: list[tuple[int, Solution, Instance, Plan, Floors]] = []
    for _, worker, plan_k, floors_k in outcome.candidates or (
        [(0, outcome.worker, outcome.plan, outcome.floors)] if outcome.plan is not None else []
    ):
        other = finish(instances[worker], copy.deepcopy(plan_k), dict(floors_k))
        finished.append((_objective(problem, other), other, instances[worker], plan_k, floors_k))
    if built is not None and plan is not None:  # last: on a tie the search's plan (and reasons) win
        finished.append((_objective(problem, built), built, instance, plan, {}))
    if finished:
        _, solution, owner, best_plan, best_floors = min(finished, key=lambda item: item[0])
        source = "construction" if built is not None and solution is built else "search"
        if not (cancel is not None and cancel.is_set()):
            trim_until = time.perf_counter() + max(0.2, params.trim_share * limit_s)
            trimmed = finish(owner, copy.deepcopy(best_plan), dict(best_floors), trim_until=trim_until)
            if _objective(problem, trimmed) < _objective(problem, solution):
                solution = trimmed
                elapsed = time.perf_counter() - wall0
                report(Progress(best_cost_minor=solution.cost_minor, solutions=outcome.solutions, elapsed_s=elapsed))
    else:
        solution, source = empty_solution(instance), "none"
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
        source=source,
    )
    violations = tuple(check(problem, solution, matrix=matrix))
    return Result(solution=solution, stats=stats, violations=violations)


def _objective(problem: Problem, solution: Solution) -> int:
    """What the planner minimises: the plan's cost plus the weight of missed tanker preferences."""
    served_by = {s.job_id: r.tanker_id for r in solution.routes for t in r.trips for s in t.stops}
    return solution.cost_minor + problem.options.preference_cost_minor * preference_misses(problem, served_by)


def _worker_seed(seed: int, worker: int) -> int:
    return (seed + 1) * 1_000_003 + worker * 7_919


def _renumber(plan: Plan | None, source: Instance, target: Instance) -> Plan | None:
    """The same plan in another instance's delivery numbering."""
    if plan is None:
        return None
    if target is source:
        return plan
    index = {(d.job_index, d.part): i for i, d in enumerate(target.deliveries)}
    key = [(d.job_index, d.part) for d in source.deliveries]
    return {t: [[index[key[d]] for d in trip] for trip in trips] for t, trips in plan.items()}


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
