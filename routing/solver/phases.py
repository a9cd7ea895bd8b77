"""One search of a day, phase by phase: what a forked search (runner._search) and the in-process search run.

Days that start cold (`warm_start_above` deliveries or fewer, or one trip per tanker under
`warm_start_single_trip=False`; see search.starts_warm): OR-Tools' iterated local search on the whole day, then on
big days the localized search (routing.solver.local) for `local_share` of the time.

Days that start from the construction (more than `warm_start_above` deliveries):
1. the localized search from the construction, for `warm_local_first` of the time;
2. consolidation (extract.consolidate): jobs left out filled in, tankers emptied where that saves;
3. OR-Tools' guided local search on the whole day from that plan, until the last share begins;
4. consolidation again, then the localized search for `warm_local_share` of the time.
Under a solution limit (repeatable runs) every day runs its whole-day search alone.

Why this order: parts of a few tankers are searched in milliseconds per move, so from the construction they
take the day most of the way in a fraction of the time the whole-day search needs for its first descent;
the whole-day search then moves work between tankers far apart, which parts cannot; and the search itself
rarely empties a tanker.  Measured on generated fuel days (benchmarks/results/routing-log.md, 2026-12-06).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from routing.solver.extract import Floors, Plan, consolidate, plan_objective, read_plan
from routing.solver.instance import Instance
from routing.solver.local import improve_locally
from routing.solver.model import Model, build_model, plan_cost, plan_routes
from routing.solver.search import (
    SearchOutcome,
    SolveParams,
    check_period,
    local_first_share,
    local_share,
    run_search,
    starts_warm,
)

# A better plan: (the model's cost, solutions so far, a function that reads the plan and its floors).  Reading a
# plan from a search in progress costs time, so the receiver decides whether to.
PlanReport = Callable[[int, int, Callable[[], tuple[Plan, Floors]]], None]


@dataclass(slots=True)
class DayOutcome:
    search: SearchOutcome  # the whole-day search's (its assignment dropped: the model that owned it is gone)
    plan: Plan | None = None
    floors: Floors = field(default_factory=dict)
    cost: int | None = None  # the model's objective of the plan, milli-minor
    solutions: int = 0


def build_day_model(instance: Instance, vehicles: list[int], params: SolveParams) -> Model:
    """The model a search runs on, checked as often as the day's size asks (search.check_period)."""
    return build_model(instance, vehicles, check_period=check_period(params, len(instance.deliveries)))


def search_day(
    instance: Instance,
    vehicles: list[int],
    params: SolveParams,
    limit_s: float,
    wall_s: float,
    initial: Plan | None,
    on_plan: PlanReport,
    *,
    after_build: Callable[[], None] | None = None,
) -> DayOutcome:
    """Search the day for ``limit_s`` (the whole-day search's time limit, shares taken off it) and at most
    ``wall_s`` of wall time from now (the localized phases' deadline).  ``initial``: the construction's plan."""
    wall0 = time.perf_counter()
    deliveries = len(instance.deliveries)
    warm = initial is not None and starts_warm(params, deliveries, instance.trips)
    end_share = local_share(params, deliveries, instance.trips)
    first_share = local_first_share(params, deliveries, instance.trips) if warm else 0.0
    solutions = 0

    def report(cost: int, plan: Plan, floors: Floors) -> None:
        nonlocal solutions
        solutions += 1
        on_plan(cost, solutions, lambda: (plan, floors))

    if first_share and initial is not None:
        initial, _, cost = improve_locally(
            instance,
            vehicles,
            initial,
            {},
            plan_objective(instance, vehicles, initial),
            params,
            wall0 + wall_s * first_share,
            on_better=report,
        )
        found = _consolidated(instance, vehicles, initial, cost, params, wall_s)
        if found is not None:
            initial, cost = found
            report(cost, initial, {})
    # The whole-day search ends where the last share begins: what the first phases took is not its.
    whole_until = wall0 + wall_s * (1 - end_share)
    day = _search_whole_day(
        instance,
        vehicles,
        params,
        limit_s / wall_s,
        whole_until,
        initial if warm else None,
        lambda cost, count, read: on_plan(cost, solutions + count, read),
        after_build=after_build,
    )
    solutions += day.solutions
    if first_share and day.plan is not None and day.cost is not None:  # the phased days consolidate twice
        found = _consolidated(instance, vehicles, day.plan, day.cost, params, wall_s)
        if found is not None:
            day.plan, day.cost = found
            day.floors = {}
            report(day.cost, day.plan, {})
    if day.plan is not None and day.cost is not None and end_share:
        day.plan, day.floors, day.cost = improve_locally(
            instance, vehicles, day.plan, day.floors, day.cost, params, wall0 + wall_s, on_better=report
        )
    day.solutions = solutions
    return day


def _consolidated(
    instance: Instance, vehicles: list[int], plan: Plan, cost: int, params: SolveParams, wall_s: float
) -> tuple[Plan, int] | None:
    """The plan consolidated (extract.consolidate, within `consolidate_share` of the wall time) and its cost, or
    None when that is off or no cheaper (trimming weighs no preferences: it may lose some)."""
    if not params.consolidate:
        return None
    better = consolidate(instance, plan, vehicles, deadline=time.perf_counter() + params.consolidate_share * wall_s)
    better_cost = plan_objective(instance, vehicles, better)
    return (better, better_cost) if better_cost < cost else None


def _search_whole_day(
    instance: Instance,
    vehicles: list[int],
    params: SolveParams,
    limit_per_wall: float,
    until: float,
    initial: Plan | None,
    on_plan: PlanReport,
    *,
    after_build: Callable[[], None] | None,
) -> DayOutcome:
    """OR-Tools on the whole day until ``until`` (perf_counter; its own limit is that wall time times
    ``limit_per_wall``), from ``initial`` if given.  The plan's cost is the model's objective of it.  The model
    is freed when this returns, before the localized search builds the models of its parts."""
    model = build_day_model(instance, vehicles, params)
    if after_build is not None:
        after_build()

    def improved(cost: int, count: int) -> None:
        on_plan(cost, count, lambda: read_plan(model, lambda var: var.Min()))

    routes = plan_routes(model, initial) if initial is not None else None
    limit_s = max(0.05, (until - time.perf_counter()) * limit_per_wall)
    outcome = run_search(model, params, limit_s, on_improvement=improved, initial=routes)
    day = DayOutcome(search=outcome, solutions=outcome.solutions)
    if outcome.assignment is not None:
        day.plan, day.floors = read_plan(model, outcome.assignment.Value)
        outcome.assignment = None  # it belongs to the model, which goes when this returns
    elif initial is not None:  # no plan from the whole-day search: the one it started from stands
        day.plan = initial
    if day.plan is None:
        return day
    day.cost = plan_cost(model, day.plan)
    return day
