"""Cheapest feasible insertion into a day's routes, on the planner's own rules.

A *tentative day* is a plan grown one job at a time: each job goes where it adds the least cost among the places
that keep every rule. The rules are the solver's, not copies: deliveries, eligible tankers and the jobs no tanker
can serve come from `build_instance`; compartments from `pack_trip`; times (loading, windows, depot hours,
shift, duty) from `schedule_tanker`; the result is a `Solution` the independent checker judges like any plan.

Used to answer "can the fleet still take this order, and in which window?" quickly, without a search.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import msgspec

from routing.matrix import Matrix
from routing.problem import Job, Problem
from routing.solution import Route, Solution, Trip, Unassigned, UnassignedReason
from routing.solver.extract import assemble
from routing.solver.instance import Delivery, Instance, build_instance
from routing.solver.schedule import pack_trip, schedule_tanker

Trips = list[list[int]]  # a tanker's trips -> delivery indices in visiting order


class Refusal(StrEnum):
    """Why a job has no place in the day (stable codes)."""

    NO_TANKER_FREE = "no_tanker_free"  # an idle tanker could serve it then, but every one is busy
    COMPARTMENTS_FULL = "compartments_full"  # no loaded trip has room for it, and no further trip fits the day
    SHIFT_ENDS = "shift_ends"  # no tanker's shift (or the depot's hours) lets it reach the site then and get back
    NO_VEHICLE_CLASS = "no_vehicle_class"  # no tanker small enough for the site
    TOO_LARGE = "too_large"  # more litres than the eligible fleet carries in a day
    UNREACHABLE = "unreachable"  # no road between the site and a depot


_EXCLUDED = {
    UnassignedReason.NO_VEHICLE_CLASS: Refusal.NO_VEHICLE_CLASS,
    UnassignedReason.TOO_LARGE: Refusal.TOO_LARGE,
    UnassignedReason.WINDOW_UNREACHABLE: Refusal.SHIFT_ENDS,
    UnassignedReason.UNREACHABLE: Refusal.UNREACHABLE,
}
_UNASSIGNED = {
    Refusal.NO_TANKER_FREE: UnassignedReason.CAPACITY,
    Refusal.COMPARTMENTS_FULL: UnassignedReason.COMPARTMENTS,
    Refusal.SHIFT_ENDS: UnassignedReason.WINDOW_UNREACHABLE,
    Refusal.NO_VEHICLE_CLASS: UnassignedReason.NO_VEHICLE_CLASS,
    Refusal.TOO_LARGE: UnassignedReason.TOO_LARGE,
    Refusal.UNREACHABLE: UnassignedReason.UNREACHABLE,
}


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a job went: the tanker, and what it added to the plan's cost (travel, and the tanker's fixed cost
    when it was idle)."""

    tanker_id: str
    added_cost_minor: int
    added_m: int


@dataclass(slots=True)
class _Day:
    trips: Trips
    timed: list[Trip]
    metres: int


class TentativeDay:
    """A day's routes grown by cheapest feasible insertion.

    ``matrix`` covers the problem's locations (depots, then jobs) and may go on past them: a location after the
    last job is where `try_job` puts a job not yet in the problem (one matrix for every window asked about).
    """

    def __init__(self, problem: Problem, matrix: Matrix) -> None:
        self.problem = problem
        self.matrix = matrix
        self.instance = build_instance(problem, matrix, seed=0)
        self.days: list[_Day] = [_Day([], [], 0) for _ in problem.tankers]
        self.refused: dict[int, Refusal] = {}  # job index -> why it has no place
        self._parts: dict[int, list[int]] = {}
        for index, delivery in enumerate(self.instance.deliveries):
            self._parts.setdefault(delivery.job_index, []).append(index)
        self._job_index = {job.id: i for i, job in enumerate(problem.jobs)}

    # --- growing the plan ---------------------------------------------------------------------------------------

    def place_all(self, job_ids: Iterable[str] | None = None) -> None:
        """Insert every job (or these, in this order) not yet placed or refused."""
        ids = list(job_ids) if job_ids is not None else [job.id for job in self.problem.jobs]
        for job_id in ids:
            self.place(job_id)

    def place(self, job_id: str) -> Placement | Refusal:
        """Insert the job where it adds least; keep the plan as it was when it fits nowhere."""
        job_index = self._job_index[job_id]
        outcome = _insert_job(self.instance, self.days, job_index, self._parts.get(job_index, []))
        if isinstance(outcome, Refusal):
            self.refused[job_index] = outcome
            return outcome
        placement, days = outcome
        self.days = days
        self.refused.pop(job_index, None)
        return placement

    def start_from(self, routes: dict[str, list[list[str]]]) -> list[str]:
        """Start from an earlier plan of the day, given as tanker id -> trips -> job ids: each tanker keeps the
        jobs still in the problem, in its order, when its day still fits (otherwise its jobs are left to `place`).
        Returns the job ids kept."""
        tankers = {t.id: i for i, t in enumerate(self.problem.tankers)}
        kept: list[str] = []
        for tanker_id, trips in routes.items():
            if tanker_id not in tankers:
                continue
            t = tankers[tanker_id]
            eligible_jobs = [
                [j for j in trip if j in self._job_index and t in self.instance.eligible.get(self._job_index[j], [])]
                for trip in trips
            ]
            plan = [[d for j in trip for d in self._parts.get(self._job_index[j], [])] for trip in eligible_jobs]
            plan = [trip for trip in plan if trip]
            if not plan or len(plan) > self.instance.trips:
                continue
            timed = schedule_tanker(self.instance, t, plan)
            if timed is None:
                continue
            self.days[t] = _Day(plan, timed, sum(trip.distance_m for trip in timed))
            kept += [j for trip in eligible_jobs for j in trip]
        return kept

    # --- asking without changing ------------------------------------------------------------------------------

    def try_job(self, job: Job) -> Placement | Refusal:
        """Whether ``job`` (not in the problem; its site is the matrix's location after the last job) has a place
        in the day as it stands, and at what added cost. The plan is not changed."""
        problem = replace_jobs(self.problem, (*self.problem.jobs, job))
        job_index = len(self.problem.jobs)
        probe = build_instance(_alone(self.problem, job, self.matrix), _probe_matrix(self.problem, self.matrix), seed=0)
        instance = Instance(
            problem=problem,
            matrix=self.matrix,
            deliveries=list(self.instance.deliveries),
            eligible=dict(self.instance.eligible),
            excluded=dict(self.instance.excluded),
            trips=self.instance.trips,
            full_load_s=self.instance.full_load_s,
            dist=self.instance.dist,
            dur=self.instance.dur,
        )
        if 0 in probe.excluded:
            return _EXCLUDED.get(probe.excluded[0][0], Refusal.SHIFT_ENDS)
        instance.eligible[job_index] = probe.eligible[0]
        first = len(instance.deliveries)
        for delivery in probe.deliveries:
            instance.deliveries.append(Delivery(job_index, delivery.litres, delivery.part, delivery.parts))
        outcome = _insert_job(instance, self.days, job_index, list(range(first, len(instance.deliveries))))
        return outcome if isinstance(outcome, Refusal) else outcome[0]

    # --- the plan ----------------------------------------------------------------------------------------------

    def routes_by_job(self) -> dict[str, list[list[str]]]:
        """tanker id -> trips -> job ids (a split job's id once per part)."""
        jobs, deliveries = self.problem.jobs, self.instance.deliveries
        return {
            self.problem.tankers[t].id: [[jobs[deliveries[d].job_index].id for d in trip] for trip in day.trips]
            for t, day in enumerate(self.days)
            if day.trips
        }

    def solution(self) -> Solution:
        routes = [
            Route(tanker_id=self.problem.tankers[t].id, trips=tuple(day.timed))
            for t, day in enumerate(self.days)
            if day.trips
        ]
        served = {
            self.problem.jobs[self.instance.deliveries[d].job_index].id
            for day in self.days
            for trip in day.trips
            for d in trip
        }
        unassigned = []
        for index, job in enumerate(self.problem.jobs):
            if job.id in served:
                continue
            if index in self.instance.excluded:
                reason, detail = self.instance.excluded[index]
            else:
                refusal = self.refused.get(index, Refusal.NO_TANKER_FREE)
                reason, detail = _UNASSIGNED[refusal], f"no place in the tentative plan ({refusal})"
            unassigned.append(Unassigned(job_id=job.id, reason=reason, detail=detail))
        return assemble(self.problem, routes, tuple(unassigned))

    def cost_minor(self) -> int:
        return self.solution().cost_minor


def replace_jobs(problem: Problem, jobs: tuple[Job, ...]) -> Problem:
    return msgspec.structs.replace(problem, jobs=jobs, matrix=None)


def _alone(problem: Problem, job: Job, matrix: Matrix) -> Problem:
    """The day's depots and tankers with only this job (no pins, no started trips): who may serve it at all."""
    options = msgspec.structs.replace(problem.options, pins=(), started=())
    return msgspec.structs.replace(problem, jobs=(job,), options=options, matrix=None)


def _probe_matrix(problem: Problem, matrix: Matrix) -> Matrix:
    """The matrix over the depots and the location after the problem's last job."""
    points = [*range(len(problem.depots)), len(problem.depots) + len(problem.jobs)]
    return Matrix(
        distances_m=tuple(tuple(matrix.distances_m[a][b] for b in points) for a in points),
        durations_s=tuple(tuple(matrix.durations_s[a][b] for b in points) for a in points),
    )


def _insert_job(
    instance: Instance, days: list[_Day], job_index: int, deliveries: list[int]
) -> tuple[Placement, list[_Day]] | Refusal:
    if job_index in instance.excluded:
        return _EXCLUDED.get(instance.excluded[job_index][0], Refusal.SHIFT_ENDS)
    if not deliveries:
        return Refusal.TOO_LARGE
    tankers = instance.eligible.get(job_index, [])
    current = list(days)
    total_m, total_cost, used = 0, 0, None
    for delivery in deliveries:
        best: tuple[int, int, int, _Day] | None = None  # (cost milli-minor, metres, tanker, day)
        packs_loaded = False
        for t in tankers:
            day = current[t]
            tanker = instance.tanker(t)
            fixed = 0 if day.trips else tanker.fixed_cost_minor * 1000
            for candidate, loaded in _candidates(day.trips, delivery, instance.trips):
                if loaded and pack_trip(instance, t, candidate[loaded[0]]) is None:
                    continue
                packs_loaded = packs_loaded or bool(loaded)
                timed = schedule_tanker(instance, t, candidate)
                if timed is None:
                    continue
                metres = sum(trip.distance_m for trip in timed)
                cost = (metres - day.metres) * tanker.cost_per_km_minor + fixed
                if best is None or cost < best[0]:
                    best = (cost, metres - day.metres, t, _Day(candidate, timed, metres))
        if best is None:
            return _why_not(instance, tankers, delivery, current, packs_loaded)
        cost, metres, t, new_day = best
        current = [*current[:t], new_day, *current[t + 1 :]]
        total_m, total_cost, used = total_m + metres, total_cost + cost, t
    assert used is not None
    placement = Placement(tanker_id=instance.tanker(used).id, added_cost_minor=-(-total_cost // 1000), added_m=total_m)
    return placement, current


def _candidates(trips: Trips, delivery: int, max_trips: int) -> Iterable[tuple[Trips, tuple[int, ...]]]:
    """Every way to put the delivery into the day: into a loaded trip at each position (with that trip's index),
    or as a trip of its own between or after the others."""
    for t, trip in enumerate(trips):
        for i in range(len(trip) + 1):
            out = [list(x) for x in trips]
            out[t].insert(i, delivery)
            yield out, (t,)
    if len(trips) < max_trips:
        for t in range(len(trips) + 1):
            out = [list(x) for x in trips]
            out.insert(t, [delivery])
            yield out, ()


def _why_not(instance: Instance, tankers: list[int], delivery: int, days: list[_Day], packs_loaded: bool) -> Refusal:
    if not any(schedule_tanker(instance, t, [[delivery]]) is not None for t in tankers):
        return Refusal.SHIFT_ENDS
    busy = [t for t in tankers if days[t].trips]
    if busy and not packs_loaded:
        return Refusal.COMPARTMENTS_FULL
    return Refusal.NO_TANKER_FREE


def with_window(job: Job, window: tuple[int, int]) -> Job:
    return msgspec.structs.replace(job, windows=(window,))


__all__ = ["Placement", "Refusal", "TentativeDay", "with_window"]
