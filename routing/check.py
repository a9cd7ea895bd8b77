"""An independent plan checker.

It re-simulates every trip from the problem and the matrix alone and shares no code with the solver
(only the data types and the two published time formulas in routing.problem), so that a bug in the
solver's model cannot hide itself.  Dispatch runs it before publishing a plan; every solver test runs it.
"""

from __future__ import annotations

from collections import defaultdict
from enum import StrEnum

import msgspec

from routing.matrix import Matrix, matrix_for
from routing.problem import Depot, Job, Problem, Tanker, discharge_time_s, load_time_s
from routing.solution import Route, Solution, Trip


class Code(StrEnum):
    UNKNOWN_TANKER = "unknown_tanker"
    UNKNOWN_JOB = "unknown_job"
    TANKER_TWICE = "tanker_twice"
    TOO_MANY_TRIPS = "too_many_trips"
    WRONG_DEPOT = "wrong_depot"
    EMPTY_TRIP = "empty_trip"
    JOB_MISSING = "job_missing"
    SERVED_AND_UNASSIGNED = "served_and_unassigned"
    UNASSIGNED_TWICE = "unassigned_twice"
    LITRES_MISMATCH = "litres_mismatch"
    BAD_LITRES = "bad_litres"
    VEHICLE_CLASS = "vehicle_class"
    PIN = "pin"
    STARTED_TRIP = "started_trip"
    COMPARTMENT_INDEX = "compartment_index"
    COMPARTMENT_MIXED = "compartment_mixed"
    COMPARTMENT_OVERFILL = "compartment_overfill"
    COMPARTMENT_SHARED = "compartment_shared"
    TRUCK_CAPACITY = "truck_capacity"
    LOAD_MISMATCH = "load_mismatch"
    WRONG_COMPARTMENT = "wrong_compartment"
    DEPOT_HOURS = "depot_hours"
    LOAD_TIME = "load_time"
    BAYS_FULL = "bays_full"
    TRIP_OVERLAP = "trip_overlap"
    TRAVEL_TIME = "travel_time"
    START_BEFORE_ARRIVAL = "start_before_arrival"
    TIME_WINDOW = "time_window"
    DISCHARGE_TIME = "discharge_time"
    SHIFT = "shift"
    DUTY = "duty"
    DISTANCE_MISMATCH = "distance_mismatch"
    DURATION_MISMATCH = "duration_mismatch"
    COST_MISMATCH = "cost_mismatch"


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    code: Code
    detail: str


def check(problem: Problem, solution: Solution, *, matrix: Matrix | None = None) -> list[Violation]:
    """Every rule the solution breaks (empty when the plan is feasible and its totals are right)."""
    return _Checker(problem, solution, matrix or matrix_for(problem)).run()


class _Checker:
    def __init__(self, problem: Problem, solution: Solution, matrix: Matrix) -> None:
        self.problem = problem
        self.solution = solution
        self.matrix = matrix
        self.out: list[Violation] = []
        self.tankers = {t.id: t for t in problem.tankers}
        self.depots = {d.id: d for d in problem.depots}
        self.jobs = {j.id: j for j in problem.jobs}
        self.job_location = {j.id: problem.job_location(i) for i, j in enumerate(problem.jobs)}
        self.pins = {p.job_id: p.tanker_id for p in problem.options.pins}
        self.delivered: defaultdict[str, int] = defaultdict(int)
        self.travel_milli_minor = 0
        self.fixed_minor = 0

    def add(self, code: Code, detail: str) -> None:
        self.out.append(Violation(code=code, detail=detail))

    def run(self) -> list[Violation]:
        seen: set[str] = set()
        for route in self.solution.routes:
            tanker = self.tankers.get(route.tanker_id)
            if tanker is None:
                self.add(Code.UNKNOWN_TANKER, f"route for unknown tanker {route.tanker_id!r}")
                continue
            if route.tanker_id in seen:
                self.add(Code.TANKER_TWICE, f"tanker {route.tanker_id!r} has two routes")
            seen.add(route.tanker_id)
            self.check_route(tanker, route)
        self.check_coverage()
        self.check_started_trips()
        self.check_totals()
        return self.out

    # -- one tanker's day -------------------------------------------------------------------------

    def check_route(self, tanker: Tanker, route: Route) -> None:
        name = f"tanker {tanker.id!r}"
        limit = self.problem.options.max_trips if self.problem.options.multi_trip else 1
        if len(route.trips) > limit:
            self.add(Code.TOO_MANY_TRIPS, f"{name} makes {len(route.trips)} trips, at most {limit} allowed")
        if any(trip.stops for trip in route.trips):
            self.fixed_minor += tanker.fixed_cost_minor
        previous_return: int | None = None
        for number, trip in enumerate(route.trips, start=1):
            label = f"{name} trip {number}"
            depot = self.depots.get(trip.depot_id)
            if trip.depot_id != tanker.depot_id or depot is None:
                self.add(Code.WRONG_DEPOT, f"{label} loads at {trip.depot_id!r}, home is {tanker.depot_id!r}")
                depot = self.depots[tanker.depot_id]
            if not trip.stops:
                self.add(Code.EMPTY_TRIP, f"{label} has no stops")
            if previous_return is not None and trip.load_start_s < previous_return:
                self.add(Code.TRIP_OVERLAP, f"{label} starts loading at {trip.load_start_s} before returning")
            self.check_trip_loads(tanker, trip, label)
            self.check_trip_times(tanker, depot, trip, label)
            started = number == 1 and tanker.id in {s.tanker_id for s in self.problem.options.started}
            busy = [(a, b) for a, b in depot.bays_full if trip.load_start_s < b and trip.depart_s > a]
            if busy and not started:
                self.add(
                    Code.BAYS_FULL,
                    f"{label} loads {trip.load_start_s}-{trip.depart_s} while every bay is booked {busy[0]}",
                )
            previous_return = trip.return_s
        if route.trips:
            start, end = route.trips[0].load_start_s, route.trips[-1].return_s
            if start < tanker.shift_start_s or end > tanker.shift_end_s:
                self.add(
                    Code.SHIFT,
                    f"{name} works {start}-{end}, shift is {tanker.shift_start_s}-{tanker.shift_end_s}",
                )
            if tanker.max_duty_s is not None and end - start > tanker.max_duty_s:
                self.add(Code.DUTY, f"{name} is on duty {end - start} s, at most {tanker.max_duty_s} s")

    def check_trip_times(self, tanker: Tanker, depot: Depot, trip: Trip, label: str) -> None:
        loaded = sum(load.litres for load in trip.loads)
        if trip.load_start_s < depot.open_s or trip.depart_s > depot.close_s:
            self.add(
                Code.DEPOT_HOURS,
                f"{label} loads {trip.load_start_s}-{trip.depart_s}, depot open {depot.open_s}-{depot.close_s}",
            )
        needed = load_time_s(depot, loaded)
        if trip.depart_s - trip.load_start_s < needed:
            self.add(
                Code.LOAD_TIME,
                f"{label} loads {loaded} L in {trip.depart_s - trip.load_start_s} s < {needed}",
            )
        here = self.problem.depot_location(depot.id)
        clock = trip.depart_s
        metres = 0
        for stop in trip.stops:
            job = self.jobs.get(stop.job_id)
            if job is None:
                continue  # reported by check_trip_loads
            there = self.job_location[job.id]
            metres += self.matrix.distances_m[here][there]
            earliest = clock + self.matrix.durations_s[here][there]
            where = f"{label} at {job.id!r}"
            if stop.arrival_s < earliest:
                self.add(Code.TRAVEL_TIME, f"{where}: arrives {stop.arrival_s}, cannot before {earliest}")
            if stop.start_s < stop.arrival_s:
                self.add(Code.START_BEFORE_ARRIVAL, f"{where}: starts {stop.start_s} before arriving")
            if not any(start <= stop.start_s <= end for start, end in job.windows):
                self.add(Code.TIME_WINDOW, f"{where}: starts {stop.start_s} outside {list(job.windows)}")
            discharge = discharge_time_s(job, stop.litres)
            if stop.departure_s - stop.start_s < discharge:
                self.add(Code.DISCHARGE_TIME, f"{where}: discharges in {stop.departure_s - stop.start_s} s")
            clock = stop.departure_s
            here = there
        home = self.problem.depot_location(depot.id)
        metres += self.matrix.distances_m[here][home]
        earliest_return = clock + self.matrix.durations_s[here][home]
        if trip.return_s < earliest_return:
            self.add(Code.TRAVEL_TIME, f"{label}: returns {trip.return_s}, cannot before {earliest_return}")
        if metres != trip.distance_m:
            self.add(Code.DISTANCE_MISMATCH, f"{label}: reports {trip.distance_m} m, drives {metres} m")
        self.travel_milli_minor += metres * tanker.cost_per_km_minor

    # -- compartments and quantities --------------------------------------------------------------

    def check_trip_loads(self, tanker: Tanker, trip: Trip, label: str) -> None:
        loads_by_compartment: dict[int, tuple[str, int]] = {}
        for load in trip.loads:
            index = load.compartment
            if not 0 <= index < len(tanker.compartments):
                self.add(Code.COMPARTMENT_INDEX, f"{label}: no compartment {index}")
                continue
            if load.litres <= 0:
                self.add(Code.BAD_LITRES, f"{label}: compartment {index} loaded with {load.litres} L")
            if index in loads_by_compartment:
                previous_product, previous_litres = loads_by_compartment[index]
                if previous_product != load.product:
                    self.add(Code.COMPARTMENT_MIXED, f"{label}: compartment {index} holds two products")
                loads_by_compartment[index] = (load.product, previous_litres + load.litres)
            else:
                loads_by_compartment[index] = (load.product, load.litres)
        for index, (_, litres) in loads_by_compartment.items():
            if litres > tanker.compartments[index]:
                self.add(
                    Code.COMPARTMENT_OVERFILL,
                    f"{label}: compartment {index} holds {litres} L > {tanker.compartments[index]} L",
                )
        loaded = sum(litres for _, litres in loads_by_compartment.values())
        if loaded > tanker.capacity_l:
            self.add(Code.TRUCK_CAPACITY, f"{label}: {loaded} L loaded, capacity {tanker.capacity_l} L")

        loaded_by_product: defaultdict[str, int] = defaultdict(int)
        for product, litres in loads_by_compartment.values():
            loaded_by_product[product] += litres
        delivered_by_product: defaultdict[str, int] = defaultdict(int)
        used_by: dict[int, str] = {}
        for stop in trip.stops:
            job = self.jobs.get(stop.job_id)
            if job is None:
                self.add(Code.UNKNOWN_JOB, f"{label}: stop for unknown job {stop.job_id!r}")
                continue
            self.check_stop_rules(tanker, job, label)
            if stop.litres <= 0:
                self.add(Code.BAD_LITRES, f"{label}: stop at {job.id!r} delivers {stop.litres} L")
            self.delivered[job.id] += stop.litres
            delivered_by_product[job.product] += stop.litres
            available = 0
            for index in stop.compartments:
                product, litres = loads_by_compartment.get(index, ("", 0))
                if product != job.product:
                    self.add(Code.WRONG_COMPARTMENT, f"{label}: {job.id!r} draws from compartment {index}")
                available += litres
                if self.problem.options.full_compartments and used_by.setdefault(index, job.id) != job.id:
                    self.add(Code.COMPARTMENT_SHARED, f"{label}: compartment {index} serves two stops")
            if self.problem.options.full_compartments and available != stop.litres:
                self.add(
                    Code.LOAD_MISMATCH,
                    f"{label}: {job.id!r} gets {stop.litres} L, compartments hold {available}",
                )
            elif available < stop.litres:
                self.add(Code.WRONG_COMPARTMENT, f"{label}: {job.id!r} compartments hold only {available} L")
        for product in set(loaded_by_product) | set(delivered_by_product):
            if loaded_by_product[product] != delivered_by_product[product]:
                self.add(
                    Code.LOAD_MISMATCH,
                    f"{label}: loads {loaded_by_product[product]} L of {product}, "
                    f"delivers {delivered_by_product[product]} L",
                )

    def check_stop_rules(self, tanker: Tanker, job: Job, label: str) -> None:
        allowed = job.allowed_vehicle_classes
        if allowed is not None and tanker.vehicle_class not in allowed:
            self.add(Code.VEHICLE_CLASS, f"{label}: class {tanker.vehicle_class} may not serve {job.id!r}")
        pinned = self.pins.get(job.id)
        if pinned is not None and pinned != tanker.id:
            self.add(Code.PIN, f"{label}: {job.id!r} is pinned to {pinned!r}")

    # -- the whole plan ---------------------------------------------------------------------------

    def check_coverage(self) -> None:
        unassigned: set[str] = set()
        for item in self.solution.unassigned:
            if item.job_id not in self.jobs:
                self.add(Code.UNKNOWN_JOB, f"unassigned job {item.job_id!r} is unknown")
            elif item.job_id in unassigned:
                self.add(Code.UNASSIGNED_TWICE, f"job {item.job_id!r} is listed unassigned twice")
            unassigned.add(item.job_id)
        for job in self.problem.jobs:
            served = self.delivered.get(job.id, 0)
            if served and job.id in unassigned:
                self.add(Code.SERVED_AND_UNASSIGNED, f"job {job.id!r} is served and listed unassigned")
            elif served and served != job.litres:
                self.add(Code.LITRES_MISMATCH, f"job {job.id!r} gets {served} L of {job.litres} L")
            elif not served and job.id not in unassigned:
                self.add(Code.JOB_MISSING, f"job {job.id!r} is neither served nor listed unassigned")

    def check_started_trips(self) -> None:
        routes = {route.tanker_id: route for route in self.solution.routes}
        for started in self.problem.options.started:
            route = routes.get(started.tanker_id)
            first = route.trips[0] if route and route.trips else None
            served = [stop.job_id for stop in first.stops] if first else []
            # A job split into several deliveries may appear more than once; compare distinct visits.
            distinct = [job_id for i, job_id in enumerate(served) if i == 0 or served[i - 1] != job_id]
            if tuple(distinct[: len(started.job_ids)]) != started.job_ids:
                self.add(Code.STARTED_TRIP, f"tanker {started.tanker_id!r}: started trip was reshuffled")
            elif len(distinct) > len(started.job_ids):
                # The truck is on the road with what it loaded for these jobs: nothing can join the trip.
                self.add(Code.STARTED_TRIP, f"tanker {started.tanker_id!r}: stops added to a started trip")
            elif first and started.depart_s is not None and first.depart_s != started.depart_s:
                self.add(Code.STARTED_TRIP, f"tanker {started.tanker_id!r}: started trip departure moved")

    def check_totals(self) -> None:
        solution = self.solution
        distance = sum(trip.distance_m for route in solution.routes for trip in route.trips)
        if distance != solution.distance_m:
            self.add(Code.DISTANCE_MISMATCH, f"plan reports {solution.distance_m} m, trips add up to {distance}")
        duration = sum(route.duration_s for route in solution.routes)
        if duration != solution.duration_s:
            self.add(Code.DURATION_MISMATCH, f"plan reports {solution.duration_s} s, routes add up to {duration}")
        penalties = sum(self.jobs[u.job_id].penalty_minor for u in solution.unassigned if u.job_id in self.jobs)
        cost = -(-self.travel_milli_minor // 1000) + self.fixed_minor + penalties
        if cost != solution.cost_minor:
            self.add(Code.COST_MISMATCH, f"plan reports cost {solution.cost_minor}, rules give {cost}")
