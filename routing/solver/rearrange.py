"""A dispatcher's move: one job to another tanker (or another place in its tanker's day), re-timed at once.

Only the tankers concerned change, so the move is computed on a small problem made of those tankers and
the jobs they carry: the matrix stays tiny (a road table of a few dozen points), the rest of the plan is
kept as it is, and the independent checker judges the changed routes before anything is returned.
"""

from __future__ import annotations

import msgspec

from routing.check import check
from routing.matrix import Matrix, MatrixProvider, matrix_for
from routing.problem import Options, Pin, Problem, Tanker
from routing.solution import Route, Solution, Trip
from routing.solver.extract import assemble
from routing.solver.instance import Delivery, Instance
from routing.solver.schedule import pack_trip, schedule_tanker

Trips = list[list[int]]  # trips -> delivery indices in visiting order


class MoveError(ValueError):
    """The move breaks a rule; ``code`` is stable, the message says which rule in words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def move_job(
    problem: Problem,
    solution: Solution,
    *,
    job_id: str,
    tanker_id: str,
    position: int | None = None,
    matrix_provider: MatrixProvider | None = None,
) -> tuple[Problem, Solution]:
    """The problem with the job pinned to ``tanker_id`` and the solution with the job moved there.

    ``position`` (1-based) is where the job's stop goes among that tanker's stops of the day; without it
    the job goes where it adds the least distance.  Raises MoveError when no such move keeps every rule.
    """
    jobs = {job.id: job for job in problem.jobs}
    tankers = {tanker.id: tanker for tanker in problem.tankers}
    if job_id not in jobs:
        raise MoveError("stop_not_found", f"job {job_id} is not in this plan")
    if tanker_id not in tankers:
        raise MoveError("tanker_not_in_plan", "this tanker is not on duty in this plan (no driver, or unavailable)")
    source_id = next(
        (r.tanker_id for r in solution.routes for trip in r.trips for stop in trip.stops if stop.job_id == job_id),
        None,
    )
    if source_id is None:
        raise MoveError("job_not_planned", f"job {job_id} is not on any route of this plan")
    started = {trip.tanker_id: trip for trip in problem.options.started}
    if any(job_id in trip.job_ids for trip in started.values()):
        raise MoveError("trip_started", "the stop is on a trip that has already started")
    classes = jobs[job_id].allowed_vehicle_classes
    if classes is not None and tankers[tanker_id].vehicle_class not in classes:
        raise MoveError("vehicle_too_large", "the site does not accept a tanker of this class")

    pinned = problem.options.pins
    pins = (*tuple(p for p in pinned if p.job_id != job_id), Pin(job_id=job_id, tanker_id=tanker_id))
    moved_problem = msgspec.structs.replace(problem, options=msgspec.structs.replace(problem.options, pins=pins))

    concerned = [t for t in problem.tankers if t.id in {source_id, tanker_id}]
    routes = {r.tanker_id: r for r in solution.routes}
    local = _local_problem(moved_problem, [routes[t.id] for t in concerned if t.id in routes], concerned)
    matrix = matrix_for(local, matrix_provider)
    instance, day = _local_plan(local, matrix, [routes.get(t.id) for t in concerned])
    source, target = (next(i for i, t in enumerate(local.tankers) if t.id == x) for x in (source_id, tanker_id))
    job_index = _index(local, job_id)
    moving = [d for trip in day[source] for d in trip if instance.deliveries[d].job_index == job_index]
    day[source] = [kept for trip in day[source] if (kept := [d for d in trip if d not in moving])]
    locked = 1 if local.tankers[target].id in started else 0
    for number, delivery in enumerate(moving):
        at = position if number == 0 else None
        day[target] = _insert(instance, target, day[target], delivery, at=at, locked=locked)

    new_routes: dict[str, Route] = {}
    for index, tanker in enumerate(local.tankers):
        if not day[index]:
            continue
        timed = schedule_tanker(instance, index, day[index])
        if timed is None:
            raise MoveError("move_infeasible", f"tanker {tanker.id}'s remaining day no longer fits its hours")
        new_routes[tanker.id] = Route(tanker_id=tanker.id, trips=tuple(timed))
    local_solution = assemble(local, list(new_routes.values()), ())
    violations = check(local, local_solution, matrix=matrix)
    if violations:
        words = "; ".join(f"{v.code}: {v.detail}" for v in violations[:3])
        raise MoveError("move_infeasible", f"the checker refused the move: {words}")

    concerned_ids = {t.id for t in concerned}
    order = [r.tanker_id for r in solution.routes]
    order += [t for t in new_routes if t not in order]
    merged = [new_routes.get(t) or routes[t] for t in order if t in new_routes or t not in concerned_ids]
    return moved_problem, assemble(moved_problem, merged, solution.unassigned)


def _index(problem: Problem, job_id: str) -> int:
    return next(i for i, job in enumerate(problem.jobs) if job.id == job_id)


def _local_problem(problem: Problem, routes: list[Route], tankers: list[Tanker]) -> Problem:
    """The concerned tankers, the jobs they carry and every depot; the matrix sliced when the problem has one."""
    carried = {stop.job_id for route in routes for trip in route.trips for stop in trip.stops}
    keep = [i for i, job in enumerate(problem.jobs) if job.id in carried]
    tanker_ids = {t.id for t in tankers}
    options: Options = msgspec.structs.replace(
        problem.options,
        pins=tuple(p for p in problem.options.pins if p.job_id in carried and p.tanker_id in tanker_ids),
        started=tuple(s for s in problem.options.started if s.tanker_id in tanker_ids),
    )
    matrix = None
    if problem.matrix is not None:
        points = list(range(len(problem.depots))) + [problem.job_location(i) for i in keep]
        matrix = Matrix(
            distances_m=tuple(tuple(problem.matrix.distances_m[a][b] for b in points) for a in points),
            durations_s=tuple(tuple(problem.matrix.durations_s[a][b] for b in points) for a in points),
        )
    return Problem(
        depots=problem.depots,
        tankers=tuple(tankers),
        jobs=tuple(problem.jobs[i] for i in keep),
        options=options,
        matrix=matrix,
    )


def _local_plan(problem: Problem, matrix: Matrix, routes: list[Route | None]) -> tuple[Instance, list[Trips]]:
    """The solver's view of the concerned routes: one delivery per stop (a split job keeps its parts)."""
    job_index = {job.id: i for i, job in enumerate(problem.jobs)}
    deliveries: list[Delivery] = []
    day: list[Trips] = []
    parts: dict[str, int] = {}
    for route in routes:
        trips: Trips = []
        for trip in route.trips if route else ():
            trips.append([])
            for stop in trip.stops:
                trips[-1].append(len(deliveries))
                deliveries.append(Delivery(job_index[stop.job_id], stop.litres, parts.get(stop.job_id, 0), 1))
                parts[stop.job_id] = parts.get(stop.job_id, 0) + 1
        day.append(trips)
    instance = Instance(
        problem=problem,
        matrix=matrix,
        deliveries=deliveries,
        eligible={},
        excluded={},
        trips=problem.trips_per_tanker(),
    )
    return instance, day


def _insert(instance: Instance, tanker: int, trips: Trips, delivery: int, *, at: int | None, locked: int) -> Trips:
    """The tanker's trips with the delivery inserted at stop number ``at``, or where it adds least distance."""
    candidates: list[Trips] = []
    if at is not None:
        flat = [(t, i) for t, trip in enumerate(trips) for i in range(len(trip))]
        if at - 1 < len(flat):
            t, i = flat[at - 1]
        elif trips:
            t, i = len(trips) - 1, len(trips[-1])
        else:
            t, i = 0, 0
        if t < locked:
            raise MoveError("trip_started", "that position is on a trip that has already started")
        candidates.append(_with(trips, t, i, delivery))
    else:
        for t in range(locked, len(trips)):
            candidates += [_with(trips, t, i, delivery) for i in range(len(trips[t]) + 1)]
    if (at is None or not candidates) and len(trips) < instance.trips:
        candidates.append([*(list(trip) for trip in trips), [delivery]])
    best: tuple[int, Trips] | None = None
    packs = False
    for candidate in candidates:
        packs = packs or all(pack_trip(instance, tanker, trip) is not None for trip in candidate)
        timed = schedule_tanker(instance, tanker, candidate)
        if timed is not None and (best is None or _metres(timed) < best[0]):
            best = (_metres(timed), candidate)
    if best is None:
        plate = instance.problem.tankers[tanker].id
        if not packs:
            raise MoveError("move_infeasible", f"tanker {plate}'s compartments cannot take this load there")
        raise MoveError(
            "move_infeasible", f"tanker {plate} cannot reach the site in its receiving hours within its shift there"
        )
    return best[1]


def _with(trips: Trips, t: int, i: int, delivery: int) -> Trips:
    out = [list(trip) for trip in trips]
    if t == len(out):
        out.append([])
    out[t].insert(i, delivery)
    return out


def _metres(trips: list[Trip]) -> int:
    return sum(trip.distance_m for trip in trips)
