"""Decomposition for big days: re-plan the day part by part, each part small enough for the strong search.

On a day of a thousand deliveries or more, OR-Tools' iterated local search cannot start (its own first
solution takes minutes, and it cannot be warm-started), and guided local search over the whole day improves
slowly.  So the whole-day plan is cut into parts of neighbouring routes: each depot's used tankers sorted by
the bearing of their routes around the depot and cut into runs of about ``part_size`` deliveries, each with
a share of the depot's idle tankers, the jobs those tankers serve and the left-out jobs nearest to them.
Each part is a problem of its own (the same depots, matrix and rules), solved from scratch; its plan
replaces the part's routes when it is better by the planner's objective, so the day never gets worse.  A
second round cuts the day half a part further round, so routes that met at a border meet inside a part.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import numpy as np

from routing.matrix import Matrix, matrix_arrays
from routing.problem import Job, Problem, preference_misses
from routing.solution import Solution
from routing.solver.extract import assemble


@dataclass(frozen=True, slots=True)
class Part:
    tanker_ids: frozenset[str]
    job_ids: frozenset[str]
    # A job split between tankers of several parts: the litres this part's tankers deliver.  In the part it
    # is a job of those litres that must stay served (the other parts deliver the rest).
    shares: dict[str, int] = field(default_factory=dict)


def objective(problem: Problem, solution: Solution) -> int:
    """What the planner minimises: the plan's cost plus the weight of missed tanker preferences."""
    served_by = {s.job_id: r.tanker_id for r in solution.routes for t in r.trips for s in t.stops}
    return solution.cost_minor + problem.options.preference_cost_minor * preference_misses(problem, served_by)


def cut(problem: Problem, solution: Solution, *, part_size: int, turn: float = 0.0) -> list[Part]:
    """The day's parts: every tanker and every job in exactly one part.

    ``turn`` (0-1) shifts the cuts by that share of a part, so a second round's borders fall elsewhere.
    """
    where = {j.id: (j.lat, j.lon) for j in problem.jobs}
    home = {d.id: (d.lat, d.lon) for d in problem.depots}
    served: dict[str, list[str]] = {r.tanker_id: [s.job_id for t in r.trips for s in t.stops] for r in solution.routes}
    parts: list[tuple[set[str], set[str]]] = []
    for depot in problem.depots:
        used = [t.id for t in problem.tankers if t.depot_id == depot.id and served.get(t.id)]
        idle = [t.id for t in problem.tankers if t.depot_id == depot.id and not served.get(t.id)]
        if not used and not idle:
            continue
        used.sort(key=lambda tid: _bearing(home[depot.id], _centroid([where[j] for j in served[tid]])))
        load = sum(len(served[t]) for t in used)
        count = max(1, round(load / part_size))
        share = load / count
        # Rotate the circle of routes so that the first cut falls `turn` of a part further round.
        loads = np.cumsum([len(served[t]) for t in used]) if used else np.zeros(0)
        shift = max(1, int(np.searchsorted(loads, turn * share, side="right"))) if turn and len(used) > 1 else 0
        used = used[shift:] + used[:shift]
        groups: list[tuple[set[str], set[str]]] = [(set(), set()) for _ in range(count)]
        running = 0
        for tid in used:
            k = min(count - 1, int(running // share))
            groups[k][0].add(tid)
            groups[k][1].update(served[tid])
            running += len(served[tid])
        for n, tid in enumerate(idle):
            groups[n % count][0].add(tid)
        parts += [g for g in groups if g[0]]
    if not parts:
        return []
    # Left-out jobs go to the part whose served jobs are nearest (a pinned one to its tanker's part).
    part_of_tanker = {tid: k for k, (tankers, _) in enumerate(parts) for tid in tankers}
    centres = [(k, _centroid([where[j] for j in jobs])) for k, (_, jobs) in enumerate(parts) if jobs]
    placed = {j for _, jobs in parts for j in jobs}
    pin_of_job = {pin.job_id: pin.tanker_id for pin in problem.options.pins}
    for job in problem.jobs:
        if job.id in placed:
            continue
        if job.id in pin_of_job and pin_of_job[job.id] in part_of_tanker:
            k = part_of_tanker[pin_of_job[job.id]]
        else:
            k, _ = min(centres, key=lambda centre: _squared(where[job.id], centre[1]), default=(0, None))
        parts[k][1].add(job.id)
    litres: dict[tuple[str, str], int] = {}
    for route in solution.routes:
        for trip in route.trips:
            for stop in trip.stops:
                key = (route.tanker_id, stop.job_id)
                litres[key] = litres.get(key, 0) + stop.litres
    holders = Counter(job_id for _, jobs in parts for job_id in jobs)
    out = []
    for tankers, jobs in parts:
        shares: dict[str, int] = {}
        for (tanker_id, job_id), amount in litres.items():
            if tanker_id in tankers and holders[job_id] > 1:
                shares[job_id] = shares.get(job_id, 0) + amount
        out.append(Part(frozenset(tankers), frozenset(jobs), shares))
    return out


def sub_problem(problem: Problem, matrix: Matrix, part: Part) -> Problem:
    """The part as a problem of its own: all depots, the part's tankers and jobs, the matching matrix."""
    distances, durations = matrix_arrays(matrix)
    depots = len(problem.depots)
    # A preference for a tanker of another part cannot be met here, nor weighed: it is dropped (the day's
    # objective counts it the same before and after).
    jobs = [(k, _as_in_part(j, part)) for k, j in enumerate(problem.jobs) if j.id in part.job_ids]
    index = np.array(list(range(depots)) + [depots + k for k, _ in jobs], dtype=np.int64)
    grid = np.ix_(index, index)
    options = msgspec.structs.replace(
        problem.options,
        pins=tuple(p for p in problem.options.pins if p.job_id in part.job_ids),
        started=tuple(s for s in problem.options.started if s.tanker_id in part.tanker_ids),
    )
    return msgspec.structs.replace(
        problem,
        tankers=tuple(t for t in problem.tankers if t.id in part.tanker_ids),
        jobs=tuple(j for _, j in jobs),
        options=options,
        matrix=Matrix.from_arrays(distances[grid], durations[grid]),
    )


def _as_in_part(job: Job, part: Part) -> Job:
    if job.preferred_tanker_id is not None and job.preferred_tanker_id not in part.tanker_ids:
        job = msgspec.structs.replace(job, preferred_tanker_id=None)
    if job.id in part.shares:
        job = msgspec.structs.replace(job, litres=part.shares[job.id], penalty_minor=SHARE_PENALTY)
    return job


# A shared job's part must stay served: a plan leaving it out is refused whatever this weighs.
SHARE_PENALTY = 10**12


def restrict(sub: Problem, solution: Solution, part: Part) -> Solution:
    """The day's plan for the part alone, costed as the part's problem costs it."""
    routes = [r for r in solution.routes if r.tanker_id in part.tanker_ids]
    unassigned = tuple(u for u in solution.unassigned if u.job_id in part.job_ids)
    return assemble(sub, routes, unassigned)


def replace_part(problem: Problem, solution: Solution, part: Part, better: Solution) -> Solution:
    routes = [r for r in solution.routes if r.tanker_id not in part.tanker_ids] + list(better.routes)
    order = {t.id: k for k, t in enumerate(problem.tankers)}
    routes.sort(key=lambda r: order[r.tanker_id])
    unassigned = [u for u in solution.unassigned if u.job_id not in part.job_ids] + list(better.unassigned)
    job_order = {j.id: k for k, j in enumerate(problem.jobs)}
    unassigned.sort(key=lambda u: job_order[u.job_id])
    return assemble(problem, routes, tuple(unassigned))


# solve_part(sub_problem, its current plan, budget_s, seed) -> (a plan for the part or None, seconds of the
# budget it used)
log = logging.getLogger("routing.solver")

SolvePart = Callable[[Problem, Solution, float, int], tuple[Solution | None, float]]


def improve_by_parts(
    problem: Problem,
    matrix: Matrix,
    solution: Solution,
    *,
    solve_part: SolvePart,
    budget_s: float,
    part_size: int,
    rounds: int,
    seed: int,
    cancel: threading.Event | None = None,
    on_better: Callable[[Solution], None] | None = None,
) -> tuple[Solution, int]:
    """Re-plan the day part by part within ``budget_s``, each part an equal share of what is left; returns the
    plan and how many parts improved it."""
    first = cut(problem, solution, part_size=part_size)
    total = rounds * len(first)
    left, done, improved = budget_s, 0, 0
    for round_index in range(rounds):
        # A later round cuts the plan as it is by then, half a part further round.
        parts = first if round_index == 0 else cut(problem, solution, part_size=part_size, turn=round_index / rounds)
        for k, part in enumerate(parts):
            if cancel is not None and cancel.is_set():
                return solution, improved
            share = left / max(1, total - done)
            done += 1
            if share < MIN_PART_S:
                continue
            sub = sub_problem(problem, matrix, part)
            if not sub.jobs:
                continue
            current = restrict(sub, solution, part)
            candidate, used = solve_part(sub, current, share, seed + 7_919 * (round_index * 1_000 + k + 1))
            left -= used
            log.debug(
                "part %d.%d: %d tankers, %d jobs, %.1fs: %s -> %s",
                round_index,
                k,
                len(sub.tankers),
                len(sub.jobs),
                share,
                objective(sub, current),
                objective(sub, candidate) if candidate is not None else None,
            )
            if candidate is not None and any(u.job_id in part.shares for u in candidate.unassigned):
                candidate = None
            if candidate is not None and objective(sub, candidate) < objective(sub, current):
                solution = replace_part(problem, solution, part, candidate)
                improved += 1
                if on_better is not None:
                    on_better(solution)
    return solution, improved


MIN_PART_S = 0.5  # below this a part's search cannot beat what it was given


def _centroid(points: list[tuple[float, float]]) -> tuple[float, float]:
    if not points:
        return (0.0, 0.0)
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def _bearing(origin: tuple[float, float], point: tuple[float, float]) -> float:
    north = point[0] - origin[0]
    east = (point[1] - origin[1]) * math.cos(math.radians(origin[0]))
    return math.atan2(north, east)


def _squared(a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
