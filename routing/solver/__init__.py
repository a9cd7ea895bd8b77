"""solve(problem) -> Result on OR-Tools.  See docs/ROUTING.md for the model and its choices."""

from __future__ import annotations

import copy
import logging
import threading
import time

import msgspec

from routing.check import check
from routing.matrix import MatrixProvider, matrix_for
from routing.problem import Problem, validate
from routing.result import Result, Stats
from routing.solution import Solution
from routing.solver.construct import construct
from routing.solver.decompose import SolvePart, improve_by_parts, objective
from routing.solver.extract import Floors, Plan, empty_solution, finish, fit_for_search, plan_objective, plan_of
from routing.solver.fleet import search_fleet
from routing.solver.instance import Instance, build_instance
from routing.solver.model import usable_tankers
from routing.solver.runner import RunOutcome, run_in_child, run_in_process, searches_within
from routing.solver.search import Progress, ProgressCallback, SolveParams, starts_warm

__all__ = ["Progress", "ProgressCallback", "SolveParams", "solve"]

log = logging.getLogger("routing.solver")


def solve(
    problem: Problem,
    *,
    params: SolveParams | None = None,
    seed: int = 0,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    matrix_provider: MatrixProvider | None = None,
    start_from: Solution | None = None,
) -> Result:
    """Plan the day.  Same problem, params and seed give the same result when the search is bounded by
    ``params.solution_limit`` (a time limit cuts the search wherever the clock says).

    ``start_from``: a plan of this day to improve: fitted to the model's timing (extract.fit_for_search), the
    search starts from it, or from our construction when that is cheaper (guided local search), and it is the
    answer when nothing better is found."""
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
    by_parts = (
        params.isolate and params.decompose_above is not None and len(instance.deliveries) > params.decompose_above
    )
    parts_s = search_s * (1 - params.whole_day_share) if by_parts else 0.0
    search_s -= parts_s
    built: Solution | None = None
    built_s: float | None = None
    plan: Plan | None = None
    ours: Plan | None = None  # our construction, when the search starts from it instead of a given plan
    if start_from is not None and instance.deliveries and vehicles:
        plan = _start_plan(instance, vehicles, start_from, params, search_s)
        if params.construct and not (cancel is not None and cancel.is_set()):
            # A poor given plan (one tanker after another opened by insertion) is a poor place to search from:
            # the search moves a delivery or a few at a time and rarely empties a tanker.  Our construction is the
            # start then, as on a cold solve; the given plan still wins when nothing beats it.
            ours = construct(instance, vehicles) or None
            if ours is not None and plan_objective(instance, vehicles, ours) < plan_objective(instance, vehicles, plan):
                plan = ours
            else:
                ours = None
        built, built_s = start_from, 0.0
        params = msgspec.structs.replace(params, warm_start_above=0, warm_start_single_trip=True)
    elif params.construct and instance.deliveries and vehicles and not (cancel is not None and cancel.is_set()):
        # Our own construction: a plan within a second or two even on days where OR-Tools' first
        # solution takes much longer; the search below must beat it to be returned (and starts from it
        # on big days).
        plan = construct(instance, vehicles) or None
        if plan is not None:
            built = finish(instance, copy.deepcopy(plan), {})
            built_s = time.perf_counter() - wall0
            report(Progress(best_cost_minor=built.cost_minor, solutions=0, elapsed_s=built_s))
    if plan is not None and starts_warm(params, len(instance.deliveries), instance.trips):
        vehicles = search_fleet(instance, vehicles, plan)  # the search starts from `plan`: idle tankers only slow it
    if params.isolate and vehicles:
        # A big day's second search would take the planner past its memory budget: one search then.
        params = msgspec.structs.replace(params, workers=searches_within(params, instance, vehicles))
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
        finished.append((objective(problem, other), other, instances[worker], plan_k, floors_k))
    if ours is not None:
        constructed = finish(instance, copy.deepcopy(ours), {})
        finished.append((objective(problem, constructed), constructed, instance, ours, {}))
    if built is not None and plan is not None:  # last: on a tie the search's plan (and reasons) win
        finished.append((objective(problem, built), built, instance, plan, {}))
    if finished:
        _, solution, owner, best_plan, best_floors = min(finished, key=lambda item: item[0])
        source = "construction" if built is not None and solution is built else "search"
        if not (cancel is not None and cancel.is_set()):
            trim_until = time.perf_counter() + max(0.2, params.trim_share * limit_s)
            trimmed = finish(owner, copy.deepcopy(best_plan), dict(best_floors), trim_until=trim_until)
            if objective(problem, trimmed) < objective(problem, solution):
                solution = trimmed
        elapsed = time.perf_counter() - wall0
        report(Progress(best_cost_minor=solution.cost_minor, solutions=outcome.solutions, elapsed_s=elapsed))
    else:
        solution, source = empty_solution(instance), "none"
    parts_improved = 0
    if by_parts and solution.routes and not (cancel is not None and cancel.is_set()):
        if params.clock == "wall":  # what the whole-day search left, minus the final check's share
            parts_s = max(0.0, limit_s * (1 - params.trim_share) - (time.perf_counter() - wall0))
        solution, parts_improved = improve_by_parts(
            problem,
            matrix,
            solution,
            solve_part=_part_solver(params, cancel),
            budget_s=parts_s,
            part_size=params.part_size,
            rounds=params.decompose_rounds,
            seed=seed,
            cancel=cancel,
            on_better=lambda better: report(
                Progress(
                    best_cost_minor=better.cost_minor,
                    solutions=outcome.solutions,
                    elapsed_s=time.perf_counter() - wall0,
                )
            ),
        )
        source = "parts" if parts_improved else source
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
        parts_improved=parts_improved,
    )
    violations = tuple(check(problem, solution, matrix=matrix))
    return Result(solution=solution, stats=stats, violations=violations)


def _part_solver(params: SolveParams, cancel: threading.Event | None) -> SolvePart:
    """Plans one part of a big day with the whole-day machinery (construction, searches, trimming, check)."""

    def solve_part(sub: Problem, current: Solution, budget_s: float, seed: int) -> tuple[Solution | None, float]:
        part_params = msgspec.structs.replace(params, time_limit_s=budget_s, decompose_above=None)
        start = current if params.part_from_current else None
        result = solve(sub, params=part_params, seed=seed, cancel=cancel, start_from=start)
        # A CPU budget is per search: the part used what its busiest search used.
        used = result.stats.wall_s if params.clock == "wall" else result.stats.cpu_s / max(1, params.workers)
        if not result.is_feasible():  # a bug: the checker is the last word, the day keeps its plan
            log.error("a part's plan failed the checker: %s", "; ".join(str(v) for v in result.violations[:5]))
            return None, used
        return result.solution, used

    return solve_part


def _start_plan(instance: Instance, vehicles: list[int], start: Solution, params: SolveParams, search_s: float) -> Plan:
    """The given plan as one the search can start from (extract.fit_for_search), within consolidate_share of the
    search time (at least a second: the searches start only once this is done)."""
    deadline = time.perf_counter() + max(1.0, params.consolidate_share * search_s)
    return fit_for_search(instance, plan_of(instance, start), vehicles, deadline=deadline)


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
