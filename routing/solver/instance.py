"""From a Problem to what the model needs: deliveries (jobs split to fit a truck), who may serve them,
and which jobs cannot be served at all (with the reason, before any search)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from routing.matrix import UNREACHABLE, Matrix, matrix_arrays
from routing.problem import Problem, Tanker, discharge_time_s, load_time_s
from routing.solution import UnassignedReason


@dataclass(frozen=True, slots=True)
class Delivery:
    """One visit to a job's site; a job bigger than a truck becomes several."""

    job_index: int
    litres: int
    part: int  # 0..parts-1
    parts: int


@dataclass(slots=True)
class Instance:
    problem: Problem
    matrix: Matrix
    deliveries: list[Delivery]
    eligible: dict[int, list[int]]  # job index -> tanker indices that may serve it
    excluded: dict[int, tuple[UnassignedReason, str]]  # job index -> why it cannot be served at all
    trips: int  # trips per tanker
    # Loading time of a full truck: the model reserves it for every trip because the loaded volume
    # is only known once the trip is built (exact times are restored when the plan is extracted).
    full_load_s: list[int] = field(default_factory=list)
    # The matrix as int64 arrays, made once in the parent: the model and the construction read these, and a
    # search process receives them (flat buffers, quick to send) instead of the matrix's tuples.
    dist: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    dur: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    seed: int = 0  # the relabelling of the deliveries (and of any randomness a search of this day uses)

    def tanker(self, index: int) -> Tanker:
        return self.problem.tankers[index]

    def depot_location(self, tanker_index: int) -> int:
        return self.problem.depot_location(self.tanker(tanker_index).depot_id)


def build_instance(problem: Problem, matrix: Matrix, *, seed: int) -> Instance:
    trips = problem.trips_per_tanker()
    full_load = [load_time_s(problem.depot(t.depot_id), t.capacity_l) for t in problem.tankers]
    instance = Instance(problem, matrix, [], {}, {}, trips, full_load, *_arrays(matrix), seed=seed)
    started = {job_id for trip in problem.options.started for job_id in trip.job_ids}
    pinned = {pin.job_id: pin.tanker_id for pin in problem.options.pins}
    pinned.update({job_id: trip.tanker_id for trip in problem.options.started for job_id in trip.job_ids})
    # Reachability depends on the tanker only through its depot, shift, duty and loading time: tankers
    # alike are checked once (thousands of jobs x hundreds of tankers otherwise).
    reach_memo: dict[tuple[object, ...], bool] = {}
    homes = [problem.depot_location(t.depot_id) for t in problem.tankers]

    def can_reach(t: int, job_index: int, litres: int) -> bool:
        tk = problem.tankers[t]
        key = (tk.depot_id, tk.shift_start_s, tk.shift_end_s, tk.max_duty_s, full_load[t], job_index, litres)
        if key not in reach_memo:
            reach_memo[key] = _can_reach(instance, t, job_index, litres)
        return reach_memo[key]

    for job_index, job in enumerate(problem.jobs):
        tankers = _allowed_tankers(problem, job_index, pinned)
        if not tankers:
            instance.excluded[job_index] = (
                UnassignedReason.NO_VEHICLE_CLASS,
                f"no tanker of class {list(job.allowed_vehicle_classes or [])} (or the pinned tanker) exists",
            )
            continue
        largest = max(problem.tankers[t].capacity_l for t in tankers)
        parts = -(-job.litres // largest)
        if parts > len(tankers) * trips:
            instance.excluded[job_index] = (
                UnassignedReason.TOO_LARGE,
                f"{job.litres} L needs {parts} truck loads, the eligible fleet makes at most {len(tankers) * trips}",
            )
            continue
        chunk = -(-job.litres // parts)
        site = problem.job_location(job_index)
        durations = matrix.durations_s
        roads = [t for t in tankers if durations[homes[t]][site] < UNREACHABLE > durations[site][homes[t]]]
        if not roads and job.id not in started:
            instance.excluded[job_index] = (
                UnassignedReason.UNREACHABLE,
                "no road between the site and the depot of any eligible tanker (off the road network?)",
            )
            continue
        tankers = roads or tankers
        reachable = [t for t in tankers if can_reach(t, job_index, chunk)]
        if not reachable and job.id not in started:
            instance.excluded[job_index] = (
                UnassignedReason.WINDOW_UNREACHABLE,
                "no eligible tanker can load, reach the site within a window and return within its shift",
            )
            continue
        instance.eligible[job_index] = reachable or tankers
        base, extra = divmod(job.litres, parts)
        for part in range(parts):
            instance.deliveries.append(Delivery(job_index, base + (1 if part < extra else 0), part, parts))
    # The seed relabels the deliveries: OR-Tools breaks ties by index, so a new order gives a new,
    # still deterministic, search trajectory.  Seed 0 keeps the problem's order.
    if seed:
        random.Random(seed).shuffle(instance.deliveries)
    return instance


def _arrays(matrix: Matrix) -> tuple[np.ndarray, np.ndarray]:
    """int64 copies of a matrix, remembered for the last matrix seen (several instances of one day)."""
    return matrix_arrays(matrix)


def _allowed_tankers(problem: Problem, job_index: int, pinned: dict[str, str]) -> list[int]:
    job = problem.jobs[job_index]
    out = []
    for index, tanker in enumerate(problem.tankers):
        if job.allowed_vehicle_classes is not None and tanker.vehicle_class not in job.allowed_vehicle_classes:
            continue
        if job.id in pinned and pinned[job.id] != tanker.id:
            continue
        out.append(index)
    return out


def _can_reach(instance: Instance, tanker_index: int, job_index: int, litres: int) -> bool:
    """Whether a trip serving only this delivery fits the tanker's day (with the model's load time)."""
    problem = instance.problem
    tanker = problem.tankers[tanker_index]
    depot = problem.depot(tanker.depot_id)
    job = problem.jobs[job_index]
    home = problem.depot_location(depot.id)
    site = problem.job_location(job_index)
    depart = max(tanker.shift_start_s, depot.open_s) + instance.full_load_s[tanker_index]
    if depart > min(depot.close_s, tanker.shift_end_s):
        return False
    travel_to = instance.matrix.durations_s[home][site]
    arrival = depart + travel_to
    for window_start, window_end in job.windows:
        start = max(arrival, window_start)
        if start > window_end:
            continue
        back = start + discharge_time_s(job, litres) + instance.matrix.durations_s[site][home]
        # Loading can start later so the truck does not wait on site: the shortest possible duty.
        duty = back - start + travel_to + instance.full_load_s[tanker_index]
        if back <= tanker.shift_end_s and (tanker.max_duty_s is None or duty <= tanker.max_duty_s):
            return True
    return False
