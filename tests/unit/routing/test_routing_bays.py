"""Spans in which every loading bay of the depot is booked (customer pickups): no tanker loads then, in the
construction, the OR-Tools model, the exact schedule, the cheapest insertion, and the independent checker."""

from __future__ import annotations

import msgspec

from routing import GeodesicProvider, Job, check
from routing.insertion import Placement, TentativeDay, with_window

H = 3600


def _loads(result) -> list[tuple[int, int]]:
    return [(t.load_start_s, t.depart_s) for r in result.solution.routes for t in r.trips]


def test_the_planner_loads_after_the_bays_booked_by_pickups(make) -> None:
    jobs = [make.job("J1", 10, 0, windows=((7 * H, 14 * H),))]
    free = make.run(make.problem(jobs))
    assert _loads(free)[0][0] < 7 * H  # without pickups it loads early
    booked = make.problem(jobs)
    booked = msgspec.structs.replace(
        booked, depots=(msgspec.structs.replace(booked.depots[0], bays_full=((5 * H, 8 * H),)),)
    )
    result = make.run(booked)  # make.run also runs the checker
    assert result.solution.served_job_ids() == {"J1"}
    assert all(start >= 8 * H for start, _ in _loads(result))


def test_a_second_trip_waits_for_a_free_bay(make) -> None:
    # One compartment of 10,000 L: two jobs need two trips; the bays are booked 09:00-12:00.
    jobs = [make.job("J1", 5, 0, litres=10_000), make.job("J2", -5, 0, litres=10_000)]
    base = make.problem(jobs, [make.tanker(compartments=(10_000,))], multi_trip=True, max_trips=3)
    booked = msgspec.structs.replace(
        base, depots=(msgspec.structs.replace(base.depots[0], bays_full=((9 * H, 12 * H),)),)
    )
    result = make.run(booked)
    assert result.solution.served_job_ids() == {"J1", "J2"}
    for start, depart in _loads(result):
        assert depart <= 9 * H or start >= 12 * H


def test_the_checker_refuses_a_loading_while_every_bay_is_booked(make) -> None:
    jobs = [make.job("J1", 10, 0)]
    free = make.run(make.problem(jobs))
    start, _ = _loads(free)[0]
    problem = make.problem(jobs)
    booked = msgspec.structs.replace(
        problem, depots=(msgspec.structs.replace(problem.depots[0], bays_full=((start, start + 600),)),)
    )
    assert [v.code for v in check(booked, free.solution)] == ["bays_full"]


def test_the_promise_sees_the_booked_bays(make) -> None:
    problem = make.problem([])
    booked = msgspec.structs.replace(
        problem, depots=(msgspec.structs.replace(problem.depots[0], bays_full=((5 * H, 9 * H),)),)
    )
    site = make.at(10, 0)
    points = [(d.lat, d.lon) for d in booked.depots] + [site]
    day = TentativeDay(booked, GeodesicProvider().matrix(points))
    day.place_all()
    candidate = Job(id="new", lat=site[0], lon=site[1], product="0#", litres=5_000)
    assert not isinstance(day.try_job(with_window(candidate, (7 * H, 9 * H))), Placement)
    assert isinstance(day.try_job(with_window(candidate, (9 * H, 11 * H))), Placement)


def test_bays_booked_all_day_leave_the_job_unplanned_not_a_broken_solve(make) -> None:
    problem = make.problem([make.job("J1", 10, 0)])
    booked = msgspec.structs.replace(
        problem, depots=(msgspec.structs.replace(problem.depots[0], bays_full=((0, 24 * H),)),)
    )
    result = make.run(booked)
    assert result.solution.served_job_ids() == set()
