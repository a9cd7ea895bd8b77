"""Localized search for big days: after the whole-day search, the plan is improved one neighbourhood at a time.

Why: on a day of a thousand deliveries, each iteration of OR-Tools' iterated local search ends with a
descent over every node and every operator (its granular neighbourhoods, ``ls_operator_neighbors_ratio``,
accept no move at all in 9.15: measured), so one iteration takes 1-3 s and a minute holds a few dozen.
Here, again and again, the routes of a few neighbouring tankers are cut out as a day of their own (the same
rules: only those tankers, a spare or two, and the deliveries they make) and searched from their current
routes for a fraction of a second: a part of a hundred deliveries is searched in milliseconds per move.

The part's search starts from its routes through OR-Tools' route locks (``ApplyLocksToAllVehicles``): its
iterated local search takes no start assignment, but its first solution is then the part's plan.  What
follows is mostly a descent from there: measured on Solomon instances, 9 s of it from a 1-s plan went from
5.5 to 4.6 % (RC101) and 5.3 to 3.8 % (R201) where a fresh 10-s search reaches about 1 %, so its later
iterations seem to start over from the locks.  Hence many short parts rather than a few long ones; guided
local search from the part's assignment measured worse (benchmarks/results/routing-log.md, 2026-12-03).

A part's new plan is costed like the old (`routes_cost`, `plan_cost`); the model's objective is a sum over vehicles
(arc, fixed and preference costs) plus the penalties of left-out deliveries, so the day's cost falls by
exactly what the part's fell.  Each part's model is freed as soon as its search is over (thousands are built:
see `run_search` for why nothing keeps them alive).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable

import msgspec
import numpy as np

from routing.solver.extract import Floors, Plan, read_plan
from routing.solver.instance import Instance
from routing.solver.model import build_model, plan_cost, plan_routes, routes_cost
from routing.solver.search import SolveParams, run_search

# (the day's model cost, plan, floors) after each improving part
BetterCallback = Callable[[int, Plan, Floors], None]


@dataclasses.dataclass(slots=True)
class Part:
    tankers: list[int]  # tanker indices whose routes are re-planned (the first ones) and spares
    deliveries: list[int]  # delivery indices of the day, in the part's numbering order


def choose_part(
    instance: Instance, sites: np.ndarray, plan: Plan, idle: list[int], rng: random.Random, params: SolveParams
) -> Part:
    """A used tanker at random, then the tankers serving the deliveries nearest to one of its stops, until
    ``local_routes`` tankers; plus up to ``local_spares`` idle tankers of the same depots (a part may
    need one more route, or may empty one).  ``sites``: each delivery's location in the matrix."""
    owner = {d: t for t, trips in plan.items() for trip in trips for d in trip}
    first = rng.choice(sorted(plan))
    centre = rng.choice([d for trip in plan[first] for d in trip])
    served = np.fromiter(owner, dtype=np.int64)
    nearest = served[np.argsort(instance.dist[sites[centre], sites[served]], kind="stable")]
    chosen = [first]
    for d in nearest.tolist():
        tanker = owner[d]
        if tanker not in chosen:
            chosen.append(tanker)
            if len(chosen) >= params.local_routes:
                break
    depots = {instance.tanker(t).depot_id for t in chosen}
    spares = [t for t in idle if instance.tanker(t).depot_id in depots]
    rng.shuffle(spares)
    deliveries = [d for t in chosen for trip in plan[t] for d in trip]
    return Part(chosen + spares[: params.local_spares], deliveries)


def improve_part(
    instance: Instance, plan: Plan, part: Part, params: SolveParams, limit_s: float
) -> tuple[int, Plan, Floors] | None:
    """Search the part from its current routes; (the cost saved, its new plan, floors), or None when
    nothing better was found.  Plans and floors are in the day's numbering."""
    local = {d: k for k, d in enumerate(part.deliveries)}
    sub = dataclasses.replace(instance, deliveries=[instance.deliveries[d] for d in part.deliveries])
    model = build_model(sub, part.tankers)
    current = plan_routes(model, {t: [[local[d] for d in trip] for trip in plan[t]] for t in part.tankers if t in plan})
    best: list[tuple[Plan, Floors]] = []

    def improved(cost: int, solutions: int) -> None:
        if solutions > 1:  # the first solution is the current plan
            best[:] = [read_plan(model, lambda var: var.Min())]

    run_search(model, params, limit_s, on_improvement=improved, locked=current)
    if not best:
        return None
    new_plan, floors = best[0]
    saved = routes_cost(model, current) - plan_cost(model, new_plan)
    if saved <= 0:
        return None
    in_day = {t: [[part.deliveries[d] for d in trip] for trip in trips] for t, trips in new_plan.items()}
    return saved, in_day, floors


def improve_locally(
    instance: Instance,
    vehicles: list[int],
    plan: Plan,
    floors: Floors,
    cost: int,
    params: SolveParams,
    deadline: float,
    *,
    on_better: BetterCallback | None = None,
) -> tuple[Plan, Floors, int]:
    """Improve the plan part by part until ``deadline`` (perf_counter); returns the plan, floors and cost.

    A part is a day with the same rules: a tanker whose trip is under way keeps that trip (the part's model
    locks it as the whole day's does), pins and vehicle classes hold."""
    plan, floors = {t: [list(trip) for trip in trips] for t, trips in plan.items()}, dict(floors)
    rng = random.Random(instance.seed)
    part_params = msgspec.structs.replace(params, clock="wall", solution_limit=None)
    problem = instance.problem
    sites = np.array([problem.job_location(d.job_index) for d in instance.deliveries], dtype=np.int64)
    while True:
        left = deadline - time.perf_counter()
        used = {t: trips for t, trips in plan.items() if any(trips)}
        if left < 0.05 or not used:
            break
        idle = [t for t in vehicles if t not in used]
        part = choose_part(instance, sites, used, idle, rng, params)
        limit = min(left, max(0.05, params.local_s_per_100 * len(part.deliveries) / 100))
        found = improve_part(instance, plan, part, part_params, limit)
        if found is None:
            continue
        saved, new_plan, new_floors = found
        for tanker in part.tankers:
            plan.pop(tanker, None)
            floors.pop(tanker, None)
        plan.update({t: trips for t, trips in new_plan.items() if any(trips)})
        floors.update({t: f for t, f in new_floors.items() if t in plan})
        cost -= saved
        if on_better is not None:
            on_better(cost, plan, floors)
    return plan, floors, cost
