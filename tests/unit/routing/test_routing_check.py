"""The checker against a hand-built valid plan, then one deliberate fault at a time."""

import msgspec
import pytest

from routing import CompartmentLoad, Pin, Problem, Route, Solution, StartedTrip, Stop, Trip, Unassigned, check
from routing.check import Code
from routing.matrix import matrix_for
from routing.solution import UnassignedReason

replace = msgspec.structs.replace
H = 3600


@pytest.fixture
def two_jobs(make) -> Problem:
    jobs = [
        make.job("J1", 10, 0, litres=5000, product="0#"),
        make.job("J2", 10, 5, litres=3000, product="-10#"),
    ]
    return make.problem(jobs, [make.tanker("T1", compartments=(10_000, 10_000))], multi_trip=True)


def valid_plan(p: Problem) -> Solution:
    """Computed by hand from the published rules: load 8,000 L, deliver J1 then J2, drive home."""
    m = matrix_for(p)
    load_start = 6 * H
    depart = load_start + 900 + -(-8000 * 60 // 1800)
    arrive1 = depart + m.durations_s[0][1]
    leave1 = arrive1 + 600 + -(-5000 * 60 // 900)
    arrive2 = leave1 + m.durations_s[1][2]
    leave2 = arrive2 + 600 + -(-3000 * 60 // 900)
    back = leave2 + m.durations_s[2][0]
    metres = m.distances_m[0][1] + m.distances_m[1][2] + m.distances_m[2][0]
    trip = Trip(
        depot_id="D1",
        load_start_s=load_start,
        depart_s=depart,
        return_s=back,
        distance_m=metres,
        loads=(
            CompartmentLoad(compartment=0, product="0#", litres=5000),
            CompartmentLoad(compartment=1, product="-10#", litres=3000),
        ),
        stops=(
            Stop(
                job_id="J1",
                litres=5000,
                arrival_s=arrive1,
                start_s=arrive1,
                departure_s=leave1,
                compartments=(0,),
            ),
            Stop(
                job_id="J2",
                litres=3000,
                arrival_s=arrive2,
                start_s=arrive2,
                departure_s=leave2,
                compartments=(1,),
            ),
        ),
    )
    return Solution(
        routes=(Route(tanker_id="T1", trips=(trip,)),),
        unassigned=(),
        cost_minor=-(-metres * 600 // 1000) + 10_000,
        distance_m=metres,
        duration_s=back - load_start,
    )


def trip_of(s: Solution, n: int = 0) -> Trip:
    return s.routes[0].trips[n]


def with_trip(s: Solution, trip: Trip) -> Solution:
    return replace(s, routes=(replace(s.routes[0], trips=(trip,)),))


def with_stop(s: Solution, index: int, **changes: object) -> Solution:
    trip = trip_of(s)
    stops = list(trip.stops)
    stops[index] = replace(stops[index], **changes)
    return with_trip(s, replace(trip, stops=tuple(stops)))


def with_loads(s: Solution, *loads: tuple[int, str, int]) -> Solution:
    return with_trip(
        s,
        replace(trip_of(s), loads=tuple(CompartmentLoad(compartment=c, product=p, litres=q) for c, p, q in loads)),
    )


def codes(p: Problem, s: Solution) -> set[str]:
    return {v.code for v in check(p, s)}


def test_hand_built_plan_is_valid(two_jobs: Problem) -> None:
    assert check(two_jobs, valid_plan(two_jobs)) == []


def test_unassigned_jobs_are_allowed_and_cost_their_penalty(two_jobs: Problem) -> None:
    empty = Solution(
        routes=(),
        unassigned=tuple(Unassigned(job_id=j, reason=UnassignedReason.NOT_SELECTED, detail="") for j in ("J1", "J2")),
        cost_minor=2 * 10_000_000,
        distance_m=0,
        duration_s=0,
    )
    assert check(two_jobs, empty) == []


def test_coverage_faults(two_jobs: Problem) -> None:
    good = valid_plan(two_jobs)
    missing = replace(good, routes=())
    assert Code.JOB_MISSING in codes(two_jobs, missing)
    note = Unassigned(job_id="J1", reason=UnassignedReason.NOT_SELECTED, detail="")
    assert Code.SERVED_AND_UNASSIGNED in codes(two_jobs, replace(good, unassigned=(note,)))
    assert Code.UNASSIGNED_TWICE in codes(two_jobs, replace(missing, unassigned=(note, note)))
    short = with_loads(with_stop(good, 0, litres=4000), (0, "0#", 4000), (1, "-10#", 3000))
    assert Code.LITRES_MISMATCH in codes(two_jobs, short)
    assert Code.UNKNOWN_JOB in codes(two_jobs, with_stop(good, 0, job_id="JX"))
    assert Code.BAD_LITRES in codes(two_jobs, with_stop(good, 0, litres=0))


def test_route_faults(two_jobs: Problem) -> None:
    good = valid_plan(two_jobs)
    assert Code.UNKNOWN_TANKER in codes(two_jobs, replace(good, routes=(replace(good.routes[0], tanker_id="X"),)))
    assert Code.TANKER_TWICE in codes(two_jobs, replace(good, routes=good.routes * 2))
    assert Code.WRONG_DEPOT in codes(two_jobs, with_trip(good, replace(trip_of(good), depot_id="D9")))
    empty_trip = replace(trip_of(good), stops=(), loads=())
    two = replace(good, routes=(replace(good.routes[0], trips=(trip_of(good), empty_trip)),))
    assert Code.EMPTY_TRIP in codes(two_jobs, two)
    assert Code.TRIP_OVERLAP in codes(two_jobs, two)
    single = replace(two_jobs, options=replace(two_jobs.options, multi_trip=False))
    assert Code.TOO_MANY_TRIPS in codes(single, two)


def test_compartment_faults(two_jobs: Problem) -> None:
    good = valid_plan(two_jobs)
    assert Code.COMPARTMENT_INDEX in codes(two_jobs, with_loads(good, (5, "0#", 5000), (1, "-10#", 3000)))
    mixed = with_loads(good, (0, "0#", 5000), (0, "-10#", 3000))
    assert Code.COMPARTMENT_MIXED in codes(two_jobs, mixed)
    over = with_loads(good, (0, "0#", 5000), (0, "0#", 6000), (1, "-10#", 3000))
    assert Code.COMPARTMENT_OVERFILL in codes(two_jobs, over)
    assert Code.LOAD_MISMATCH in codes(two_jobs, with_loads(good, (0, "0#", 6000), (1, "-10#", 3000)))
    assert Code.WRONG_COMPARTMENT in codes(two_jobs, with_stop(good, 0, compartments=(1,)))
    small = replace(two_jobs, tankers=(replace(two_jobs.tankers[0], compartments=(4000, 10_000)),))
    assert Code.COMPARTMENT_OVERFILL in codes(small, good)


def test_full_compartments_may_not_serve_two_stops(make) -> None:
    jobs = [
        make.job("J1", 10, 0, litres=5000, product="0#"),
        make.job("J2", 10, 5, litres=3000, product="0#"),
    ]
    p = make.problem(jobs, [make.tanker("T1", compartments=(10_000, 10_000))], full_compartments=True)
    good = valid_plan(p)
    shared = with_stop(with_loads(good, (0, "0#", 8000)), 1, compartments=(0,))
    assert Code.COMPARTMENT_SHARED in codes(p, shared)
    fixed = with_loads(good, (0, "0#", 5000), (1, "0#", 3000))
    assert check(p, fixed) == []


def test_time_faults(two_jobs: Problem) -> None:
    good = valid_plan(two_jobs)
    trip = trip_of(good)
    stop = trip.stops[0]
    assert Code.TRAVEL_TIME in codes(two_jobs, with_stop(good, 0, arrival_s=trip.depart_s))
    assert Code.START_BEFORE_ARRIVAL in codes(two_jobs, with_stop(good, 0, start_s=stop.arrival_s - 1))
    assert Code.DISCHARGE_TIME in codes(two_jobs, with_stop(good, 0, departure_s=stop.start_s + 10))
    assert Code.LOAD_TIME in codes(two_jobs, with_trip(good, replace(trip, depart_s=trip.load_start_s + 10)))
    early = replace(trip, return_s=trip.stops[-1].departure_s)
    assert Code.TRAVEL_TIME in codes(two_jobs, with_trip(good, early))
    windowed = replace(two_jobs, jobs=(replace(two_jobs.jobs[0], windows=((0, 100),)), two_jobs.jobs[1]))
    assert Code.TIME_WINDOW in codes(windowed, good)
    late_depot = replace(two_jobs, depots=(replace(two_jobs.depots[0], open_s=7 * H),))
    assert Code.DEPOT_HOURS in codes(late_depot, good)
    short_shift = replace(two_jobs, tankers=(replace(two_jobs.tankers[0], shift_end_s=trip.return_s - 1),))
    assert Code.SHIFT in codes(short_shift, good)
    short_duty = replace(two_jobs, tankers=(replace(two_jobs.tankers[0], max_duty_s=600),))
    assert Code.DUTY in codes(short_duty, good)


def test_rule_faults(two_jobs: Problem, make) -> None:
    good = valid_plan(two_jobs)
    classed = replace(two_jobs, jobs=(replace(two_jobs.jobs[0], allowed_vehicle_classes=(2,)), two_jobs.jobs[1]))
    assert Code.VEHICLE_CLASS in codes(classed, good)
    pinned = replace(
        two_jobs,
        tankers=(*two_jobs.tankers, make.tanker("T2")),
        options=replace(two_jobs.options, pins=(Pin(job_id="J1", tanker_id="T2"),)),
    )
    assert Code.PIN in codes(pinned, good)
    started = replace(
        two_jobs, options=replace(two_jobs.options, started=(StartedTrip(tanker_id="T1", job_ids=("J2",)),))
    )
    assert Code.STARTED_TRIP in codes(started, good)
    served = tuple(stop.job_id for stop in trip_of(good).stops)
    kept = replace(two_jobs, options=replace(two_jobs.options, started=(StartedTrip(tanker_id="T1", job_ids=served),)))
    assert check(kept, good) == []
    # The truck left with what it loaded for its first stop: the plan may not add the second to that trip.
    extended = replace(
        two_jobs, options=replace(two_jobs.options, started=(StartedTrip(tanker_id="T1", job_ids=served[:1]),))
    )
    assert [v.detail for v in check(extended, good)] == ["tanker 'T1': stops added to a started trip"]


def test_total_faults(two_jobs: Problem) -> None:
    good = valid_plan(two_jobs)
    assert Code.DISTANCE_MISMATCH in codes(two_jobs, with_trip(good, replace(trip_of(good), distance_m=1)))
    assert Code.DISTANCE_MISMATCH in codes(two_jobs, replace(good, distance_m=good.distance_m + 1))
    assert Code.DURATION_MISMATCH in codes(two_jobs, replace(good, duration_s=good.duration_s + 1))
    assert Code.COST_MISMATCH in codes(two_jobs, replace(good, cost_minor=good.cost_minor - 1))
