"""Cheapest feasible insertion into a day's routes, on the planner's own rules.

A *tentative day* is a plan grown one job at a time: each job goes where it adds the least cost among the places
that keep every rule. The rules are the solver's, not copies: deliveries, eligible tankers and the jobs no tanker
can serve come from `build_instance`; compartments from `pack_trip`; times (loading, windows, depot hours,
shift, duty) from `schedule_tanker`; the result is a `Solution` the independent checker judges like any plan.

Used to answer "can the fleet still take this order, and in which window?" quickly, without a search.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import msgspec
import numpy as np

from routing.matrix import Matrix
from routing.problem import Job, Pin, Problem, discharge_time_s, load_time_s
from routing.solution import Route, Solution, Trip, Unassigned, UnassignedReason
from routing.solver.extract import assemble
from routing.solver.instance import Delivery, Instance, build_instance
from routing.solver.schedule import _Simulation, pack_trip, schedule_tanker

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
    # The earliest schedule of these trips (schedule_tanker before it shifts the day later), made when pruning
    # first needs it: lower bounds on every time of the day with one more stop.
    bounds: _Bounds | None = None


@dataclass(frozen=True, slots=True)
class _Bounds:
    load_start: list[int]  # per trip: earliest loading start
    leave: list[list[int]]  # per trip, per stop: earliest departure from the stop
    litres: list[int]  # per trip: litres loaded
    back: list[int]  # per trip: earliest return to the depot
    after: list[int]  # per trip k: least time trips k.. take (loading, driving, discharging; no waiting)
    # Upper bounds, from the end of the day backwards (latest window ends, the shift's end, the depot's closing;
    # waiting left out): per trip, per stop, the latest start of its service; per trip, its latest loading start
    # and latest return.
    latest: list[list[int]]
    latest_load: list[int]
    latest_back: list[int]


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
        self.prune = True  # False: every candidate scheduled (the reference the pruned search is tested against)

    # --- growing the plan ---------------------------------------------------------------------------------------

    def place_all(self, job_ids: Iterable[str] | None = None) -> None:
        """Insert every job (or these, in this order) not yet placed or refused."""
        ids = list(job_ids) if job_ids is not None else [job.id for job in self.problem.jobs]
        for job_id in ids:
            self.place(job_id)

    def place(self, job_id: str) -> Placement | Refusal:
        """Insert the job where it adds least; keep the plan as it was when it fits nowhere."""
        job_index = self._job_index[job_id]
        outcome = _insert_job(self.instance, self.days, job_index, self._parts.get(job_index, []), prune=self.prune)
        if isinstance(outcome, Refusal):
            self.refused[job_index] = outcome
            return outcome
        placement, days = outcome
        self.days = days
        self.refused.pop(job_index, None)
        return placement

    def start_from(self, routes: dict[str, list[list[str]]]) -> list[str]:
        """Start from an earlier plan of the day, given as tanker id -> trips -> job ids (a split job's id once per
        part): each tanker keeps the jobs still in the problem, in its order, when its day still fits (otherwise its
        jobs are left to `place`); a split job is kept only when all its parts are. Returns the job ids kept."""
        tankers = {t.id: i for i, t in enumerate(self.problem.tankers)}
        used: dict[int, int] = {}  # job index -> parts taken so far
        for tanker_id, trips in routes.items():
            if tanker_id not in tankers:
                continue
            t = tankers[tanker_id]
            mine: dict[int, int] = {}
            plan = []
            for trip in trips:
                stops = []
                for job_id in trip:
                    index = self._job_index.get(job_id)
                    if index is None or t not in self.instance.eligible.get(index, []):
                        continue
                    parts = self._parts.get(index, [])
                    k = used.get(index, 0) + mine.get(index, 0)
                    if k < len(parts):
                        stops.append(parts[k])
                        mine[index] = mine.get(index, 0) + 1
                if stops:
                    plan.append(stops)
            if not plan or len(plan) > self.instance.trips:
                continue
            timed = schedule_tanker(self.instance, t, plan)
            if timed is None:
                continue
            self.days[t] = _Day(plan, timed, sum(trip.distance_m for trip in timed))
            for index, count in mine.items():
                used[index] = used.get(index, 0) + count
        # A split job with some parts kept and others not: its kept parts go too (and a day that no longer fits
        # without them is emptied, which may leave further jobs partly kept).
        while partial := {i for i, count in used.items() if count < len(self._parts.get(i, []))}:
            owner = self.instance.deliveries
            for t, day in enumerate(self.days):
                if not any(owner[d].job_index in partial for trip in day.trips for d in trip):
                    continue
                rest = [[d for d in trip if owner[d].job_index not in partial] for trip in day.trips]
                rest = [trip for trip in rest if trip]
                timed = schedule_tanker(self.instance, t, rest) if rest else []
                if timed is None:
                    for d in (d for trip in rest for d in trip):
                        used[owner[d].job_index] -= 1
                    self.days[t] = _Day([], [], 0)
                else:
                    self.days[t] = _Day(rest, timed, sum(trip.distance_m for trip in timed))
            for index in partial:
                del used[index]
        return [self.problem.jobs[i].id for i in sorted(used) if used[i]]

    def restart(self, routes: dict[str, list[list[str]]]) -> list[str]:
        """`start_from` these routes, then the jobs they did not keep inserted in the problem's order: how the
        promise lays an earlier plan of the day again (its kept day, and its background rebuild, which must lay a
        solved plan as every process will). Returns the job ids kept."""
        kept = self.start_from(routes)
        placed = set(kept)
        self.place_all([job.id for job in self.problem.jobs if job.id not in placed])
        return kept

    def extend(self, jobs: Iterable[Job], pins: Iterable[Pin] = ()) -> None:
        """Add jobs (and their pins) to the problem, each at the matrix's location after the problem's last job (the
        caller grew the matrix): who may serve them and their deliveries as build_instance gives them. They are
        placed by `place`."""
        pins = tuple(pins)
        if pins:
            options = msgspec.structs.replace(self.problem.options, pins=(*self.problem.options.pins, *pins))
            self.problem = msgspec.structs.replace(self.problem, options=options)
            self.instance.problem = self.problem
        for job in jobs:
            probe = self._probe(job, pins=True)
            index = len(self.problem.jobs)
            self.problem = replace_jobs(self.problem, (*self.problem.jobs, job))
            self.instance.problem = self.problem
            self._job_index[job.id] = index
            if 0 in probe.excluded:
                self.instance.excluded[index] = probe.excluded[0]
                continue
            self.instance.eligible[index] = probe.eligible[0]
            for delivery in probe.deliveries:
                self._parts.setdefault(index, []).append(len(self.instance.deliveries))
                self.instance.deliveries.append(Delivery(index, delivery.litres, delivery.part, delivery.parts))

    def drop(self, job_ids: Iterable[str]) -> list[str]:
        """Take jobs out of the problem (cancelled, or changed and to be added again): their stops leave the routes.
        The caller has already taken their locations out of the matrix, in the same order. Returns the ids of the
        jobs of a tanker whose day no longer schedules without them: that day is emptied, they are to be placed
        again."""
        gone = {self._job_index[j] for j in job_ids if j in self._job_index}
        if not gone:
            return []
        keep = [i for i in range(len(self.problem.jobs)) if i not in gone]
        renumber = {old: new for new, old in enumerate(keep)}
        kept_ids = {self.problem.jobs[i].id for i in keep}
        options = msgspec.structs.replace(
            self.problem.options, pins=tuple(p for p in self.problem.options.pins if p.job_id in kept_ids)
        )
        self.problem = msgspec.structs.replace(
            self.problem, jobs=tuple(self.problem.jobs[i] for i in keep), options=options, matrix=None
        )
        instance = self.instance
        moved: dict[int, int] = {}
        deliveries: list[Delivery] = []
        for d, item in enumerate(instance.deliveries):
            if item.job_index not in gone:
                moved[d] = len(deliveries)
                deliveries.append(Delivery(renumber[item.job_index], item.litres, item.part, item.parts))
        instance.problem, instance.deliveries = self.problem, deliveries
        instance.eligible = {renumber[j]: ts for j, ts in instance.eligible.items() if j not in gone}
        instance.excluded = {renumber[j]: why for j, why in instance.excluded.items() if j not in gone}
        instance.dist = instance.dur = np.zeros((0, 0), dtype=np.int64)  # the matrix's arrays no longer match it
        self.refused = {renumber[j]: why for j, why in self.refused.items() if j not in gone}
        self._parts = {}
        for index, delivery in enumerate(deliveries):
            self._parts.setdefault(delivery.job_index, []).append(index)
        self._job_index = {job.id: i for i, job in enumerate(self.problem.jobs)}
        again: list[str] = []
        for t, day in enumerate(self.days):
            trips = [[moved[d] for d in trip if d in moved] for trip in day.trips]
            if sum(map(len, trips)) == sum(map(len, day.trips)):
                self.days[t] = _Day(trips, day.timed, day.metres, day.bounds)  # untouched: same times
                continue
            trips = [trip for trip in trips if trip]
            timed = schedule_tanker(instance, t, trips) if trips else []
            if timed is None:
                again += list(
                    dict.fromkeys(self.problem.jobs[deliveries[d].job_index].id for trip in trips for d in trip)
                )
                self.days[t] = _Day([], [], 0)
            else:
                self.days[t] = _Day(trips, timed, sum(trip.distance_m for trip in timed))
        return again

    def _probe(self, job: Job, *, pins: bool = False) -> Instance:
        return build_instance(_alone(self.problem, job, pins=pins), _probe_matrix(self.problem, self.matrix), seed=0)

    # --- asking without changing ------------------------------------------------------------------------------

    def try_job(self, job: Job) -> Placement | Refusal:
        """Whether ``job`` (not in the problem; its site is the matrix's location after the last job) has a place
        in the day as it stands, and at what added cost. The plan is not changed."""
        return self.try_jobs([job])[0]

    def try_jobs(self, jobs: Iterable[Job]) -> list[Placement | Refusal]:
        """`try_job` for several jobs at the same site (e.g. one order in each window of a day), in one pass: the
        candidates' ranking by cost is made once."""
        shared: dict[tuple[object, ...], _Shared] = {}
        out: list[Placement | Refusal] = []
        job_index = len(self.problem.jobs)
        for job in jobs:
            probe = self._probe(job)
            if 0 in probe.excluded:
                out.append(_EXCLUDED.get(probe.excluded[0][0], Refusal.SHIFT_ENDS))
                continue
            instance = Instance(
                problem=replace_jobs(self.problem, (*self.problem.jobs, job)),
                matrix=self.matrix,
                deliveries=list(self.instance.deliveries),
                eligible={**self.instance.eligible, job_index: probe.eligible[0]},
                excluded=self.instance.excluded,
                trips=self.instance.trips,
                full_load_s=self.instance.full_load_s,
                dist=self.instance.dist,
                dur=self.instance.dur,
            )
            first = len(instance.deliveries)
            for delivery in probe.deliveries:
                instance.deliveries.append(Delivery(job_index, delivery.litres, delivery.part, delivery.parts))
            parts = list(range(first, len(instance.deliveries)))
            same = shared.setdefault((job.litres, job.product, job.allowed_vehicle_classes), _Shared())
            outcome = _insert_job(instance, self.days, job_index, parts, prune=self.prune, shared=same)
            out.append(outcome if isinstance(outcome, Refusal) else outcome[0])
        return out

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


def _alone(problem: Problem, job: Job, *, pins: bool = False) -> Problem:
    """The day's depots and tankers with only this job (no started trips; its own pins when ``pins``): who may serve
    it at all."""
    kept = tuple(p for p in problem.options.pins if pins and p.job_id == job.id)
    options = msgspec.structs.replace(problem.options, pins=kept, started=())
    return msgspec.structs.replace(problem, jobs=(job,), options=options, matrix=None)


def _probe_matrix(problem: Problem, matrix: Matrix) -> Matrix:
    """The matrix over the depots and the location after the problem's last job."""
    points = [*range(len(problem.depots)), len(problem.depots) + len(problem.jobs)]
    return Matrix(
        distances_m=tuple(tuple(matrix.distances_m[a][b] for b in points) for a in points),
        durations_s=tuple(tuple(matrix.durations_s[a][b] for b in points) for a in points),
    )


def _insert_job(
    instance: Instance,
    days: list[_Day],
    job_index: int,
    deliveries: list[int],
    *,
    prune: bool = True,
    shared: _Shared | None = None,
) -> tuple[Placement, list[_Day]] | Refusal:
    """The cheapest feasible place of the job's deliveries, one after the other, or why there is none.

    ``prune``: try the candidates cheapest first (the added metres are known before any scheduling) and skip those
    whose lower bounds already break a window, the depot's hours or the shift; the first that schedule_tanker
    accepts is the one the exhaustive scan (``prune=False``, the reference) would pick. ``shared``: the first delivery's
    ranking and compartment checks, shared by several asks about one order (in other windows) against the same day."""
    if job_index in instance.excluded:
        return _EXCLUDED.get(instance.excluded[job_index][0], Refusal.SHIFT_ENDS)
    if not deliveries:
        return Refusal.TOO_LARGE
    tankers = instance.eligible.get(job_index, [])
    current = list(days)
    total_m, total_cost, used = 0, 0, None
    for number, delivery in enumerate(deliveries):
        # The first delivery's compartment checks hold for every ask about the same order (only its window differs).
        packs = shared.packs if shared is not None and number == 0 else {}
        if prune:
            best = _cheapest(instance, current, tankers, delivery, packs, shared if number == 0 else None)
        else:
            best, packs_loaded = _cheapest_exhaustive(instance, current, tankers, delivery)
        if best is None:
            if prune:
                packs_loaded = any(
                    _packs(instance, current, t, k, delivery, packs)
                    for t in tankers
                    for k in range(len(current[t].trips))
                )
            return _why_not(instance, tankers, delivery, current, packs_loaded)
        cost, metres, t, new_day = best
        current = [*current[:t], new_day, *current[t + 1 :]]
        total_m, total_cost, used = total_m + metres, total_cost + cost, t
    assert used is not None
    placement = Placement(tanker_id=instance.tanker(used).id, added_cost_minor=-(-total_cost // 1000), added_m=total_m)
    return placement, current


_Best = tuple[int, int, int, _Day]  # (cost milli-minor, metres, tanker, day)
# (cost milli-minor, tanker, candidate number, trip, position in the trip or None for a trip of its own there)
_Candidate = tuple[int, int, int, int, int | None]


@dataclass(slots=True)
class _Shared:
    """What asks about one order (same site, litres, product, vehicle classes; other windows) share against one
    day: the ranking of every tanker's candidates and the compartment checks (-1: a trip of its own)."""

    viable: list[_Candidate] | None = None  # see _viable
    arrival: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    latest: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    packs: dict[tuple[int, int], bool] = field(default_factory=dict)


def _cheapest_exhaustive(
    instance: Instance, days: list[_Day], tankers: list[int], delivery: int
) -> tuple[_Best | None, bool]:
    """Every candidate of every tanker scheduled: the reference the pruned search must agree with."""
    best: _Best | None = None
    packs_loaded = False
    for t in tankers:
        day = days[t]
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
    return best, packs_loaded


def _rank(instance: Instance, days: list[_Day], tankers: Iterable[int], delivery: int) -> list[_Candidate]:
    """Every candidate with its cost, cheapest first; ties in the exhaustive scan's order (tanker, then candidate).

    A trip's metres depend only on its order of stops, so a candidate's added metres are known without scheduling."""
    problem = instance.problem
    site = problem.job_location(instance.deliveries[delivery].job_index)
    dist = instance.matrix.distances_m
    depots = len(problem.depots)
    out: list[_Candidate] = []
    for t in tankers:
        day = days[t]
        tanker = instance.tanker(t)
        per_km = tanker.cost_per_km_minor
        fixed = 0 if day.trips else tanker.fixed_cost_minor * 1000
        home = instance.depot_location(t)
        n = 0
        for k, trip in enumerate(day.trips):
            prev = home
            for i in range(len(trip) + 1):
                nxt = home if i == len(trip) else depots + instance.deliveries[trip[i]].job_index
                added = dist[prev][site] + dist[site][nxt] - dist[prev][nxt]
                out.append((added * per_km + fixed, t, n, k, i))
                n += 1
                prev = nxt
        if len(day.trips) < instance.trips:
            added = dist[home][site] + dist[site][home]
            for k in range(len(day.trips) + 1):
                out.append((added * per_km + fixed, t, n, k, None))
                n += 1
    out.sort()
    return out


def _packs(
    instance: Instance, days: list[_Day], t: int, k: int, delivery: int, memo: dict[tuple[int, int], bool]
) -> bool:
    """Whether trip k of tanker t still packs with the delivery (compartments do not depend on the visiting order);
    k = -1: a trip of its own."""
    if (t, k) not in memo:
        trip = days[t].trips[k] if k >= 0 else []
        memo[(t, k)] = pack_trip(instance, t, [*trip, delivery]) is not None
    return memo[(t, k)]


def _cheapest(
    instance: Instance,
    days: list[_Day],
    tankers: list[int],
    delivery: int,
    packs: dict[tuple[int, int], bool],
    shared: _Shared | None,
) -> _Best | None:
    allowed = set(tankers)
    if shared is None:
        order = _rank(instance, days, tankers, delivery)
    else:
        order = _viable(instance, days, delivery, packs, shared)
    for _cost, t, _n, k, i in order:
        if t not in allowed:
            continue
        day = days[t]
        if shared is None:  # else: checked by _viable
            if not _packs(instance, days, t, -1 if i is None else k, delivery, packs):
                continue
            if not _in_time(instance, t, day, delivery, k, i):
                continue
        if not _may_fit(instance, t, day, delivery, k, i):
            continue
        candidate = [list(x) for x in day.trips]
        if i is None:
            candidate.insert(k, [delivery])
        else:
            candidate[k].insert(i, delivery)
        timed = schedule_tanker(instance, t, candidate)
        if timed is None:
            continue
        metres = sum(trip.distance_m for trip in timed)
        tanker = instance.tanker(t)
        fixed = 0 if day.trips else tanker.fixed_cost_minor * 1000
        cost = (metres - day.metres) * tanker.cost_per_km_minor + fixed
        return cost, metres - day.metres, t, _Day(candidate, timed, metres)
    return None


def _viable(
    instance: Instance, days: list[_Day], delivery: int, packs: dict[tuple[int, int], bool], shared: _Shared
) -> list[_Candidate]:
    """The candidates of every tanker, cheapest first, that pass the compartment check and `_in_time` for this
    delivery's windows: the ranking, checks and spans are made once for all the windows asked about."""
    if shared.viable is None:
        viable, arrivals, latests = [], [], []
        for candidate in _rank(instance, days, range(len(instance.problem.tankers)), delivery):
            _cost, t, _n, k, i = candidate
            if not _packs(instance, days, t, -1 if i is None else k, delivery, packs):
                continue
            bounds = _bounds(instance, t, days[t])
            arrival, latest = _span(instance, t, days[t], bounds, delivery, k, i) if bounds else (-_FAR, _FAR)
            viable.append(candidate)
            arrivals.append(arrival)
            latests.append(latest)
        shared.viable = viable
        shared.arrival, shared.latest = np.array(arrivals, dtype=np.int64), np.array(latests, dtype=np.int64)
    job = instance.problem.jobs[instance.deliveries[delivery].job_index]
    fits = np.zeros(len(shared.viable), dtype=bool)
    for start, end in job.windows:
        fits |= (shared.arrival <= end) & (np.maximum(shared.arrival, start) <= shared.latest)
    return [shared.viable[j] for j in np.flatnonzero(fits)]


_FAR = 10**12


def _bounds(instance: Instance, t: int, day: _Day) -> _Bounds | None:
    """The day's earliest schedule (None: not pruned, e.g. a tanker whose first trip has already left)."""
    if day.bounds is not None:
        return day.bounds
    tanker = instance.tanker(t)
    if any(s.tanker_id == tanker.id for s in instance.problem.options.started):
        return None
    depot = instance.problem.depot(tanker.depot_id)
    packed = [pack_trip(instance, t, trip) for trip in day.trips]
    if any(p is None for p in packed):
        return None
    run = (
        _Simulation(instance, t, day.trips, [p for p in packed if p is not None]).run(0, None) if day.trips else (0, [])
    )
    if run is None:
        return None
    timed = run[1]
    dur = instance.matrix.durations_s
    home = instance.depot_location(t)
    jobs = instance.problem.jobs
    least = []
    for trip, packs in zip(day.trips, packed, strict=True):
        assert packs is not None
        here, spent = home, load_time_s(depot, packs.litres)
        for d in trip:
            item = instance.deliveries[d]
            there = instance.problem.job_location(item.job_index)
            spent += dur[here][there] + discharge_time_s(jobs[item.job_index], item.litres)
            here = there
        least.append(spent + dur[here][home])
    after = [sum(least[k:]) for k in range(len(least) + 1)]
    trips = len(day.trips)
    latest: list[list[int]] = [[] for _ in range(trips)]
    latest_load, latest_back = [0] * trips, [0] * trips
    back = tanker.shift_end_s
    for m in range(trips - 1, -1, -1):
        latest_back[m] = back
        here, limit = home, back
        starts = []
        for d in reversed(day.trips[m]):
            item = instance.deliveries[d]
            there = instance.problem.job_location(item.job_index)
            job = jobs[item.job_index]
            limit = min(
                max(end for _, end in job.windows), limit - dur[there][here] - discharge_time_s(job, item.litres)
            )
            starts.append(limit)
            here = there
        starts.reverse()
        latest[m] = starts
        load = load_time_s(depot, packed[m].litres)  # type: ignore[union-attr]
        latest_load[m] = min(depot.close_s - load, limit - dur[home][here] - load)
        back = latest_load[m]
    day.bounds = _Bounds(
        load_start=[trip.load_start_s for trip in timed],
        leave=[[stop.departure_s for stop in trip.stops] for trip in timed],
        back=[trip.return_s for trip in timed],
        litres=[p.litres for p in packed if p is not None],
        after=after,
        latest=latest,
        latest_load=latest_load,
        latest_back=latest_back,
    )
    return day.bounds


def _in_time(instance: Instance, t: int, day: _Day, delivery: int, k: int, i: int | None) -> bool:
    """A quick `_may_fit`: the new stop's earliest arrival and its latest start (what the stops after it allow), both
    independent of its window, against its windows."""
    bounds = _bounds(instance, t, day)
    if bounds is None:
        return True
    arrival, latest = _span(instance, t, day, bounds, delivery, k, i)
    job = instance.problem.jobs[instance.deliveries[delivery].job_index]
    return any(arrival <= end and max(arrival, start) <= latest for start, end in job.windows)


def _setting_out(
    instance: Instance, t: int, day: _Day, bounds: _Bounds, delivery: int, k: int, i: int | None
) -> tuple[int, int]:
    """(earliest time, location) the tanker leaves for the new stop from: the depot, loaded, when the stop is a trip
    of its own (i None) or its trip's first (i 0); else the stop before it."""
    tanker = instance.tanker(t)
    depot = instance.problem.depot(tanker.depot_id)
    litres = instance.deliveries[delivery].litres
    if i is None:
        clock = max(tanker.shift_start_s, depot.open_s) if k == 0 else bounds.back[k - 1]
        return max(clock, depot.open_s) + load_time_s(depot, litres), instance.depot_location(t)
    if i == 0:
        return bounds.load_start[k] + load_time_s(depot, bounds.litres[k] + litres), instance.depot_location(t)
    before = instance.deliveries[day.trips[k][i - 1]].job_index
    return bounds.leave[k][i - 1], instance.problem.job_location(before)


def _span(
    instance: Instance, t: int, day: _Day, bounds: _Bounds, delivery: int, k: int, i: int | None
) -> tuple[int, int]:
    """The new stop's earliest arrival and the latest start of its service the stops after it allow."""
    problem = instance.problem
    dur = instance.matrix.durations_s
    home = instance.depot_location(t)
    item = instance.deliveries[delivery]
    site = problem.job_location(item.job_index)
    unload = discharge_time_s(problem.jobs[item.job_index], item.litres)
    clock, here = _setting_out(instance, t, day, bounds, delivery, k, i)
    arrival = clock + dur[here][site]
    if i is None:
        back = bounds.latest_load[k] if k < len(day.trips) else instance.tanker(t).shift_end_s
        return arrival, back - dur[site][home] - unload
    trip = day.trips[k]
    if i == len(trip):
        return arrival, bounds.latest_back[k] - dur[site][home] - unload
    nxt = problem.job_location(instance.deliveries[trip[i]].job_index)
    return arrival, bounds.latest[k][i] - dur[site][nxt] - unload


def _may_fit(instance: Instance, t: int, day: _Day, delivery: int, k: int, i: int | None) -> bool:
    """False only when the candidate cannot schedule: every time of the day with one more stop is at least its time
    in the earliest schedule without it (waiting for a bay left out), so a window, the depot's closing, the shift's
    end or the duty broken by these lower bounds is broken by schedule_tanker too."""
    bounds = _bounds(instance, t, day)
    if bounds is None:
        return True
    problem = instance.problem
    tanker = instance.tanker(t)
    depot = problem.depot(tanker.depot_id)
    dur = instance.matrix.durations_s
    home = instance.depot_location(t)
    item = instance.deliveries[delivery]
    job = problem.jobs[item.job_index]
    site = problem.job_location(item.job_index)
    unload = discharge_time_s(job, item.litres)
    path = [(site, job, item.litres)]
    clock, here = _setting_out(instance, t, day, bounds, delivery, k, i)
    if i is None:  # a trip of its own before trip k
        later = range(k, len(day.trips))
        added = load_time_s(depot, item.litres) + dur[home][site] + unload + dur[site][home]
    else:  # between `here` (the depot or the stop before) and the next stop (or the depot)
        trip = day.trips[k]
        nxt = home if i == len(trip) else problem.job_location(instance.deliveries[trip[i]].job_index)
        added = dur[here][site] + dur[site][nxt] - dur[here][nxt] + unload
        added += load_time_s(depot, bounds.litres[k] + item.litres) - load_time_s(depot, bounds.litres[k])
        path += [_stop(instance, d) for d in trip[i:]]
        later = range(k + 1, len(day.trips))
    if tanker.max_duty_s is not None and bounds.after[0] + added > tanker.max_duty_s:
        return False  # loading, driving and discharging alone take longer than the duty allows
    if (i is None or i == 0) and clock > depot.close_s:
        return False
    for m in [None, *later]:
        if m is not None:  # the trips after: each loads once the previous one is back
            clock = max(clock, depot.open_s) + load_time_s(depot, bounds.litres[m])
            if clock > depot.close_s:
                return False
            here, path = home, [_stop(instance, d) for d in day.trips[m]]
        for there, stop_job, litres in path:
            arrival = clock + dur[here][there]
            opens = [start for start, end in stop_job.windows if arrival <= end]
            if not opens:
                return False
            clock = max(arrival, min(opens)) + discharge_time_s(stop_job, litres)
            here = there
        clock += dur[here][home]
    if clock > tanker.shift_end_s:
        return False
    if tanker.max_duty_s is None:
        return True
    # The duty runs from the first loading, which starts at the latest when the first trip's stops allow.
    if i is None and k == 0:
        back = bounds.latest_load[0] if day.trips else tanker.shift_end_s
        first = back - dur[site][home] - unload - dur[home][site] - load_time_s(depot, item.litres)
    else:
        first = bounds.latest_load[0]
    return clock - first <= tanker.max_duty_s


def _stop(instance: Instance, delivery: int) -> tuple[int, Job, int]:
    item = instance.deliveries[delivery]
    return instance.problem.job_location(item.job_index), instance.problem.jobs[item.job_index], item.litres


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
