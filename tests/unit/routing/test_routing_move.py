"""A dispatcher's move re-times the plan at once: the job lands where asked, every rule still holds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from routing import MoveError, Problem, Solution, StartedTrip, check, move_job


def tanker_of(solution: Solution, job_id: str) -> str | None:
    for route in solution.routes:
        for trip in route.trips:
            if any(stop.job_id == job_id for stop in trip.stops):
                return route.tanker_id
    return None


def stops_of(solution: Solution, tanker_id: str) -> list[str]:
    route = next((r for r in solution.routes if r.tanker_id == tanker_id), None)
    return [stop.job_id for trip in route.trips for stop in trip.stops] if route else []


def solved(make: SimpleNamespace, p: Problem) -> Solution:
    return make.run(p, time_limit_s=0.3).solution


def test_move_to_another_tanker_is_retimed_pinned_and_checked(make: SimpleNamespace, tiny: Problem) -> None:
    solution = solved(make, tiny)
    job = "J1"
    source = tanker_of(solution, job)
    target = "T2" if source == "T1" else "T1"

    problem, moved = move_job(tiny, solution, job_id=job, tanker_id=target)

    assert tanker_of(moved, job) == target
    assert any(p.job_id == job and p.tanker_id == target for p in problem.options.pins)
    assert check(problem, moved) == []  # totals, times, compartments, the new pin: all consistent
    assert moved.served_job_ids() == solution.served_job_ids()
    untouched = [r for r in solution.routes if r.tanker_id not in {source, target}]
    assert all(r in moved.routes for r in untouched)


def test_position_puts_the_stop_where_the_dispatcher_asked(make: SimpleNamespace) -> None:
    p = make.problem([make.job(f"J{i}", 3 * i, 1) for i in range(1, 5)])
    solution = solved(make, p)
    order = stops_of(solution, "T1")
    last = order[-1]

    problem, moved = move_job(p, solution, job_id=last, tanker_id="T1", position=1)

    assert stops_of(moved, "T1")[0] == last
    assert sorted(stops_of(moved, "T1")) == sorted(order)
    assert check(problem, moved) == []
    assert moved.distance_m >= solution.distance_m  # the solver's order was at least as short


def test_move_that_breaks_a_window_is_refused_with_words(make: SimpleNamespace) -> None:
    H = make.H
    jobs = [
        make.job("EARLY", 30, 0, windows=((7 * H, 8 * H),)),
        make.job("LATE", -30, 0, windows=((7 * H, 8 * H),)),
    ]
    p = make.problem(jobs, [make.tanker("T1"), make.tanker("T2")])
    solution = solved(make, p)
    assert tanker_of(solution, "EARLY") != tanker_of(solution, "LATE")
    target = tanker_of(solution, "LATE")
    assert target is not None

    with pytest.raises(MoveError) as refused:
        move_job(p, solution, job_id="EARLY", tanker_id=target)

    assert refused.value.code == "move_infeasible"
    assert "receiving hours" in str(refused.value)


def test_compartments_that_cannot_take_the_load_are_named(make: SimpleNamespace) -> None:
    small = make.tanker("SMALL", compartments=(4_000,))
    big = make.tanker("BIG")
    p = make.problem([make.job("J1", 5, 0, litres=9_000)], [big, small])
    solution = solved(make, p)
    assert tanker_of(solution, "J1") == "BIG"

    with pytest.raises(MoveError) as refused:
        move_job(p, solution, job_id="J1", tanker_id="SMALL")

    assert refused.value.code == "move_infeasible"
    assert "compartments" in str(refused.value)


def test_started_trips_are_never_changed(make: SimpleNamespace) -> None:
    p = make.problem([make.job("J1", 5, 0), make.job("J2", -5, 0)], [make.tanker("T1"), make.tanker("T2")])
    solution = solved(make, p)
    owner = tanker_of(solution, "J1")
    assert owner is not None
    started = StartedTrip(tanker_id=owner, job_ids=tuple(stops_of(solution, owner)[:1]))
    p = make.problem(list(p.jobs), list(p.tankers), started=(started,))

    with pytest.raises(MoveError) as refused:
        move_job(p, solution, job_id=started.job_ids[0], tanker_id="T2" if owner == "T1" else "T1")
    assert refused.value.code == "trip_started"


def test_unknown_job_tanker_or_vehicle_class_are_refused(make: SimpleNamespace, tiny: Problem) -> None:
    solution = solved(make, tiny)
    for kwargs, code in (
        ({"job_id": "NOPE", "tanker_id": "T1"}, "stop_not_found"),
        ({"job_id": "J1", "tanker_id": "NOPE"}, "tanker_not_in_plan"),
    ):
        with pytest.raises(MoveError) as refused:
            move_job(tiny, solution, **kwargs)  # type: ignore[arg-type]
        assert refused.value.code == code

    p = make.problem(
        [make.job("J1", 5, 0, allowed_vehicle_classes=(1,))],
        [make.tanker("T1"), make.tanker("T3", vehicle_class=3)],
    )
    with pytest.raises(MoveError) as refused:
        move_job(p, solved(make, p), job_id="J1", tanker_id="T3")
    assert refused.value.code == "vehicle_too_large"
