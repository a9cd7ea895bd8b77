"""From an OR-Tools assignment to a Solution: split routes into trips at reload visits, keep jobs
whole, give every trip an exact compartment assignment (repairing the rare trip whose products cannot
be separated), time every day exactly, and explain every job left out."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from routing.problem import Problem
from routing.solution import Route, Solution, Trip, Unassigned, UnassignedReason
from routing.solver.instance import Instance
from routing.solver.model import Model
from routing.solver.schedule import pack_trip, schedule_tanker

Plan = dict[int, list[list[int]]]  # tanker index -> trips -> delivery indices in visiting order
Floors = dict[int, list[int]]  # tanker index -> the model's loading-start time of each trip


def read_plan(model: Model, value: Callable[[Any], int]) -> tuple[Plan, Floors]:
    """The routes of a solution, and the model's loading-start times per trip (a fallback schedule).

    ``value`` reads a variable: ``assignment.Value`` for a final assignment, or ``lambda v: v.Min()``
    inside a solution callback (next variables are bound there, cumuls may not be).
    """
    routing, manager = model.routing, model.manager
    plan: Plan = {}
    floors: dict[int, list[int]] = {}
    for vehicle, tanker_index in enumerate(model.vehicle_tanker):
        index = routing.Start(vehicle)
        full_load = model.instance.full_load_s[tanker_index]
        trips: list[list[int]] = [[]]
        starts = [value(model.time.CumulVar(index)) - full_load]
        while True:
            index = value(routing.NextVar(index))
            if routing.IsEnd(index):
                break
            node = manager.IndexToNode(index)
            if node in model.reload_tanker:
                trips.append([])
                starts.append(value(model.time.CumulVar(index)))
            else:
                trips[-1].append(model.node_delivery[node])
        kept = [(trip, start) for trip, start in zip(trips, starts, strict=True) if trip]
        if kept:
            plan[tanker_index] = [trip for trip, _ in kept]
            floors[tanker_index] = [start for _, start in kept]
    return plan, floors


def plan_of(instance: Instance, solution: Solution) -> Plan:
    """A solution of this instance's problem as a plan in its delivery numbering (stops of a split job take
    its deliveries in order; a stop with none left is dropped, a delivery with no stop stays unplanned)."""
    problem = instance.problem
    job_index = {job.id: k for k, job in enumerate(problem.jobs)}
    tanker_index = {tanker.id: k for k, tanker in enumerate(problem.tankers)}
    free: dict[int, list[int]] = {}
    for d, delivery in enumerate(instance.deliveries):
        free.setdefault(delivery.job_index, []).append(d)
    plan: Plan = {}
    for route in solution.routes:
        trips = []
        for trip in route.trips:
            deliveries = [free[job_index[s.job_id]].pop(0) for s in trip.stops if free.get(job_index[s.job_id])]
            if deliveries:
                trips.append(deliveries)
        if trips:
            plan[tanker_index[route.tanker_id]] = trips
    return plan


def finish(
    instance: Instance,
    plan: Plan,
    floors: dict[int, list[int]],
    *,
    trim_until: float | None = None,
) -> Solution:
    """The plan as a Solution; with ``trim_until`` (a perf_counter deadline) fleet trimming runs first."""
    left_out: dict[int, tuple[UnassignedReason, str]] = dict(instance.excluded)
    _drop_partial_jobs(instance, plan, left_out)
    removed = _separate_products(instance, plan)
    for tanker_index in {t for t, _ in removed}:
        floors.pop(tanker_index, None)
    _reinsert(instance, plan, floors, sorted({job for _, job in removed}), left_out)
    if trim_until is not None:
        _fill(instance, plan, floors, left_out, deadline=trim_until)
        trim_fleet(instance, plan, floors, deadline=trim_until)
    routes = _schedule_all(instance, plan, floors, left_out)
    served = {instance.deliveries[d].job_index for trips in plan.values() for trip in trips for d in trip}
    for job_index in range(len(instance.problem.jobs)):
        if job_index not in served and job_index not in left_out:
            left_out[job_index] = _why_not_selected(instance)
    return _solution(instance, routes, left_out)


def empty_solution(instance: Instance) -> Solution:
    left_out = dict(instance.excluded)
    for job_index in range(len(instance.problem.jobs)):
        left_out.setdefault(job_index, (UnassignedReason.NOT_SELECTED, "no plan was found within the time limit"))
    return _solution(instance, [], left_out)


def _why_not_selected(instance: Instance) -> tuple[UnassignedReason, str]:
    demand = sum(instance.problem.jobs[j].litres for j in instance.eligible)
    fleet = sum(t.capacity_l for t in instance.problem.tankers) * instance.trips
    if demand > fleet:
        return UnassignedReason.CAPACITY, f"the day's demand {demand} L exceeds the fleet's {fleet} L"
    return (
        UnassignedReason.NOT_SELECTED,
        "left out: serving it would cost more than its penalty or break a limit",
    )


def _remove_job(instance: Instance, plan: Plan, job_index: int) -> None:
    for tanker_index in list(plan):
        trips = [[d for d in trip if instance.deliveries[d].job_index != job_index] for trip in plan[tanker_index]]
        trips = [trip for trip in trips if trip]
        if trips:
            plan[tanker_index] = trips
        else:
            del plan[tanker_index]


def _drop_partial_jobs(instance: Instance, plan: Plan, left_out: dict[int, tuple[UnassignedReason, str]]) -> None:
    """A job is delivered whole or not at all: drop jobs the search served only in part."""
    served: defaultdict[int, int] = defaultdict(int)
    for trips in plan.values():
        for trip in trips:
            for d in trip:
                served[instance.deliveries[d].job_index] += 1
    parts_of = {d.job_index: d.parts for d in instance.deliveries}
    for job_index, count in served.items():
        parts = parts_of[job_index]
        if count != parts:
            _remove_job(instance, plan, job_index)
            left_out[job_index] = (UnassignedReason.CAPACITY, f"only {count} of its {parts} truck loads fit")


def _separate_products(instance: Instance, plan: Plan) -> list[tuple[int, int]]:
    """Remove deliveries from trips whose products cannot share the compartments; (tanker, job) removed."""
    removed: list[tuple[int, int]] = []
    for tanker_index, trips in plan.items():
        for trip in trips:
            while trip and pack_trip(instance, tanker_index, trip) is None:
                victim = _cheapest_unpacking(instance, tanker_index, trip)
                removed.append((tanker_index, instance.deliveries[victim].job_index))
                trip.remove(victim)
    for _, job_index in removed:
        _remove_job(instance, plan, job_index)
    return removed


def _cheapest_unpacking(instance: Instance, tanker_index: int, trip: list[int]) -> int:
    """The delivery to take out: one whose removal makes the trip packable, smallest first."""

    def score(d: int) -> tuple[bool, int]:
        rest = [x for x in trip if x != d]
        return (pack_trip(instance, tanker_index, rest) is None, instance.deliveries[d].litres)

    return min(trip, key=score)


def _reinsert(
    instance: Instance,
    plan: Plan,
    floors: dict[int, list[int]],
    jobs: list[int],
    left_out: dict[int, tuple[UnassignedReason, str]],
) -> None:
    """Cheapest feasible insertion of each removed job (all its deliveries), else report it unassigned."""
    for job_index in jobs:
        before = {t: [list(x) for x in trips] for t, trips in plan.items()}
        ok = True
        for d, delivery in enumerate(instance.deliveries):
            if delivery.job_index == job_index and not _insert_delivery(instance, plan, d):
                ok = False
                break
        if ok:
            for tanker_index in plan:
                if plan[tanker_index] != before.get(tanker_index):
                    floors.pop(tanker_index, None)
            continue
        plan.clear()
        plan.update(before)
        left_out[job_index] = (
            UnassignedReason.COMPARTMENTS,
            "no trip had compartments free for its product (one product per compartment)",
        )


def _insert_delivery(
    instance: Instance,
    plan: Plan,
    d: int,
    *,
    used_only: bool = False,
    tankers: set[int] | None = None,
    full_load: bool = False,
) -> bool:
    """Insert delivery d at its cheapest feasible place (exact schedule and compartments); False if none.
    ``used_only``: only into tankers the plan uses; ``tankers``: only into these; ``full_load``: timed with
    full-truck loading like the model (schedule_tanker)."""
    problem = instance.problem
    matrix = instance.matrix.distances_m
    site = problem.job_location(instance.deliveries[d].job_index)
    candidates: list[tuple[int, int, int, int]] = []  # (added cost, tanker, trip, position)
    started = {trip.tanker_id for trip in problem.options.started}
    for tanker_index in instance.eligible.get(instance.deliveries[d].job_index, []):
        tanker = problem.tankers[tanker_index]
        home = instance.depot_location(tanker_index)
        trips = plan.get(tanker_index, [])
        if (used_only and not trips) or (tankers is not None and tanker_index not in tankers):
            continue
        fixed = 0 if trips else tanker.fixed_cost_minor * 1000
        for t, trip in enumerate(trips):
            if t == 0 and tanker.id in started:
                continue  # on the road with what it loaded: nothing joins a started trip
            stops = [home, *(problem.job_location(instance.deliveries[x].job_index) for x in trip), home]
            for p in range(len(trip) + 1):
                a, b = stops[p], stops[p + 1]
                added = (matrix[a][site] + matrix[site][b] - matrix[a][b]) * tanker.cost_per_km_minor
                candidates.append((added, tanker_index, t, p))
        if len(trips) < instance.trips:
            added = (matrix[home][site] + matrix[site][home]) * tanker.cost_per_km_minor + fixed
            candidates.append((added, tanker_index, len(trips), 0))
    for _, tanker_index, t, p in sorted(candidates):
        trips = [list(x) for x in plan.get(tanker_index, [])]
        if t == len(trips):
            trips.append([])
        trips[t].insert(p, d)
        if schedule_tanker(instance, tanker_index, trips, full_load=full_load) is not None:
            plan[tanker_index] = trips
            return True
    return False


def _fill(
    instance: Instance,
    plan: Plan,
    floors: dict[int, list[int]],
    left_out: dict[int, tuple[UnassignedReason, str]],
    *,
    deadline: float,
    tankers: set[int] | None = None,
    full_load: bool = False,
) -> None:
    """Cheapest feasible insertion of eligible jobs the plan does not serve (all deliveries or none)."""
    served = {instance.deliveries[d].job_index for trips in plan.values() for trip in trips for d in trip}
    for job_index in sorted(instance.eligible):
        if job_index in served or job_index in left_out or time.perf_counter() > deadline:
            continue
        before = {t: [list(x) for x in trips] for t, trips in plan.items()}
        parts = [d for d, delivery in enumerate(instance.deliveries) if delivery.job_index == job_index]
        if all(_insert_delivery(instance, plan, d, tankers=tankers, full_load=full_load) for d in parts):
            for t in plan:
                if plan[t] != before.get(t):
                    floors.pop(t, None)
        else:
            plan.clear()
            plan.update(before)


def trim_fleet(
    instance: Instance, plan: Plan, floors: dict[int, list[int]], *, deadline: float, full_load: bool = False
) -> int:
    """Fleet trimming: empty a tanker when its trips fit into the other used tankers' days, each whole
    (`_place_trip`) or delivery by delivery (cheapest feasible insertion; exact schedule and compartments), and
    the fixed cost saved exceeds the extra driving.  Least-loaded tankers first, until ``deadline``
    (perf_counter).  Returns how many were emptied."""
    started = {trip.tanker_id for trip in instance.problem.options.started}
    emptied = 0
    for tanker_index in sorted(plan, key=lambda t: (sum(len(trip) for trip in plan[t]), t)):
        if time.perf_counter() > deadline:
            break
        tanker = instance.tanker(tanker_index)
        if tanker_index not in plan or tanker.id in started or tanker.fixed_cost_minor == 0:
            continue
        trial = {t: [list(trip) for trip in trips] for t, trips in plan.items() if t != tanker_index}
        if not all(
            _place_trip(instance, trial, trip, full_load=full_load)
            or all(_insert_delivery(instance, trial, d, used_only=True, full_load=full_load) for d in trip)
            for trip in plan[tanker_index]
        ):
            continue
        if plan_cost(instance, trial) < plan_cost(instance, plan):
            for t in plan:
                if trial.get(t) != plan[t]:
                    floors.pop(t, None)
            plan.clear()
            plan.update(trial)
            emptied += 1
    return emptied


def _place_trip(instance: Instance, plan: Plan, trip: list[int], *, full_load: bool = False) -> bool:
    """Add a whole trip to a tanker the plan uses, as one more trip of its day (before, between or after its
    trips), at the cheapest place whose day still fits; False if none.  Trips are what a day with reloads
    is made of: a tanker's trips often fit into the gaps of other days whole, where delivery by delivery
    they would not (each insertion must fit an existing trip's litres and compartments)."""
    problem = instance.problem
    dist = instance.matrix.distances_m
    started = {t.tanker_id for t in problem.options.started}
    sites = [problem.job_location(instance.deliveries[d].job_index) for d in trip]
    allowed = set.intersection(*(set(instance.eligible.get(instance.deliveries[d].job_index, ())) for d in trip))
    candidates: list[tuple[int, int, int]] = []  # (cost of the trip on that tanker, tanker, position)
    for tanker_index, trips in plan.items():
        if tanker_index not in allowed or not trips or len(trips) >= instance.trips:
            continue
        home = instance.depot_location(tanker_index)
        cost = (
            sum(dist[a][b] for a, b in itertools.pairwise([home, *sites, home]))
            * instance.tanker(tanker_index).cost_per_km_minor
        )
        first = 1 if problem.tankers[tanker_index].id in started else 0  # a trip under way stays first
        candidates += [(cost, tanker_index, position) for position in range(first, len(trips) + 1)]
    for _, tanker_index, position in sorted(candidates):
        trips = [list(x) for x in plan[tanker_index]]
        trips.insert(position, list(trip))
        if schedule_tanker(instance, tanker_index, trips, full_load=full_load) is not None:
            plan[tanker_index] = trips
            return True
    return False


def consolidate(instance: Instance, plan: Plan, tankers: list[int], *, deadline: float) -> Plan:
    """A plan the search goes on from, filled and trimmed: jobs it leaves out are inserted where they fit
    (`_fill`), then tankers are emptied where that saves (`trim_fleet`).  Only ``tankers`` (the search's fleet)
    are used, and days are timed with full-truck loading like the model, so the search can start from the
    result.  Until ``deadline`` (perf_counter); returns a new plan.

    Why: the search moves deliveries one or a few at a time, so it rarely empties a route (each step of that
    costs until the last) or brings back a delivery it left out.  On the generated 1,000-job fuel day the
    localized search took the construction from 184 to 162 thousand yuan and this step then to 149
    (benchmarks/results/routing-log.md, 2026-12-06)."""
    plan = {t: [list(trip) for trip in trips] for t, trips in plan.items() if any(trips)}
    _fill(instance, plan, {}, dict(instance.excluded), deadline=deadline, tankers=set(tankers), full_load=True)
    trim_fleet(instance, plan, {}, deadline=deadline, full_load=True)
    return plan


def fit_for_search(instance: Instance, plan: Plan, tankers: list[int], *, deadline: float) -> Plan:
    """A given plan made one the search can start from: a tanker outside ``tankers`` (the search's fleet) gives up
    its day, and a day that does not fit with full-truck loading (the model's timing) gives up deliveries from its
    end until it does (whole jobs); then `consolidate` puts back what fits and empties tankers where that saves.

    Why: a plan timed with real loading times (the delivery promise's, a dispatcher's) often fits the model only in
    part.  The whole-day search then starts from the days that fit on their own, with the rest left out, and the
    localized search cannot move what it left out: on a 1,000-order promise day the solve returned its start
    unchanged, 91 % dearer than a cold solve."""
    fleet = set(tankers)
    fitted: Plan = {}
    for tanker_index, trips in plan.items():
        if tanker_index not in fleet:
            continue
        trips = [list(trip) for trip in trips if trip][: instance.trips]
        while trips and schedule_tanker(instance, tanker_index, trips, full_load=True) is None:
            trips[-1].pop()
            trips = [trip for trip in trips if trip]
        if trips:
            fitted[tanker_index] = trips
    _drop_partial_jobs(instance, fitted, {})
    return consolidate(instance, fitted, tankers, deadline=deadline)


def plan_cost(instance: Instance, plan: Plan) -> int:
    """Travel (milli-minor) plus fixed costs (milli-minor) of the tankers a plan uses."""
    problem = instance.problem
    dist = instance.matrix.distances_m
    total = 0
    for tanker_index, trips in plan.items():
        tanker = problem.tankers[tanker_index]
        home = instance.depot_location(tanker_index)
        if any(trips):
            total += tanker.fixed_cost_minor * 1000
        for trip in trips:
            here = home
            for d in trip:
                there = problem.job_location(instance.deliveries[d].job_index)
                total += dist[here][there] * tanker.cost_per_km_minor
                here = there
            total += dist[here][home] * tanker.cost_per_km_minor
    return total


def _schedule_all(
    instance: Instance,
    plan: Plan,
    floors: dict[int, list[int]],
    left_out: dict[int, tuple[UnassignedReason, str]],
) -> list[Route]:
    routes = []
    for tanker_index in sorted(plan):
        while True:
            trips = plan.get(tanker_index, [])
            if not trips:
                break
            timed = schedule_tanker(instance, tanker_index, trips, floors.get(tanker_index))
            if timed is not None:
                routes.append(Route(tanker_id=instance.tanker(tanker_index).id, trips=tuple(timed)))
                break
            # Should not happen (the model is stricter than reality); stay correct if it does.
            job_index = instance.deliveries[trips[-1][-1]].job_index
            _remove_job(instance, plan, job_index)
            floors.pop(tanker_index, None)
            left_out[job_index] = (
                UnassignedReason.NOT_SELECTED,
                "could not be timed within the tanker's day",
            )
    return routes


def _solution(instance: Instance, routes: list[Route], left_out: dict[int, tuple[UnassignedReason, str]]) -> Solution:
    problem = instance.problem
    unassigned = tuple(
        Unassigned(job_id=problem.jobs[j].id, reason=reason, detail=detail)
        for j, (reason, detail) in sorted(left_out.items())
    )
    return assemble(problem, routes, unassigned)


def assemble(problem: Problem, routes: Sequence[Route], unassigned: tuple[Unassigned, ...]) -> Solution:
    """A Solution with its totals: travel (exact, rounded up once) + fixed costs of used tankers + penalties."""
    tankers = {t.id: t for t in problem.tankers}
    penalty = {j.id: j.penalty_minor for j in problem.jobs}
    travel = sum(trip.distance_m * tankers[r.tanker_id].cost_per_km_minor for r in routes for trip in r.trips)
    fixed = sum(tankers[r.tanker_id].fixed_cost_minor for r in routes if r.trips)
    penalties = sum(penalty[u.job_id] for u in unassigned)
    trips: list[Trip] = [trip for r in routes for trip in r.trips]
    return Solution(
        routes=tuple(routes),
        unassigned=unassigned,
        cost_minor=-(-travel // 1000) + fixed + penalties,
        distance_m=sum(trip.distance_m for trip in trips),
        duration_s=sum(r.duration_s for r in routes),
    )


def plan_objective(instance: Instance, vehicles: list[int], plan: Plan) -> int:
    """The model's objective of a plan (milli-minor) without building the model: `plan_cost` (travel and the
    fixed costs of the tankers used), the penalties of the deliveries left out, and the weight of deliveries
    served by another tanker than the one their job prefers, when that one is among ``vehicles`` (the model's
    fleet).  `model.plan_cost` gives the same from a closed model."""
    problem = instance.problem
    fleet = {problem.tankers[t].id for t in vehicles}
    served = {d: t for t, trips in plan.items() for trip in trips for d in trip}
    total = plan_cost(instance, plan)
    for d, delivery in enumerate(instance.deliveries):
        job = problem.jobs[delivery.job_index]
        if d not in served:
            total += job.penalty_minor * 1000 // delivery.parts
        elif job.preferred_tanker_id in fleet and problem.tankers[served[d]].id != job.preferred_tanker_id:
            total += problem.options.preference_cost_minor * 1000
    return total
