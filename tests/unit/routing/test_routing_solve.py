"""solve() on small named instances; every result goes through the independent checker (make.run)."""

import itertools
import threading

import msgspec
import pytest

from routing import (
    Pin,
    Problem,
    Progress,
    SolveParams,
    StartedTrip,
    UnassignedReason,
    decode_solution,
    encode_solution,
    solve,
)

replace = msgspec.structs.replace
H = 3600


def stops_of(result, tanker_id: str) -> list[str]:
    for route in result.solution.routes:
        if route.tanker_id == tanker_id:
            return [s.job_id for trip in route.trips for s in trip.stops]
    return []


def reasons(result) -> dict[str, str]:
    return {u.job_id: u.reason for u in result.solution.unassigned}


def test_serves_every_job_and_reports_totals(tiny: Problem, make) -> None:
    result = make.run(tiny)
    solution = result.solution
    assert solution.unassigned == ()
    assert solution.served_job_ids() == {"J1", "J2", "J3", "J4", "J5"}
    assert solution.distance_m == sum(t.distance_m for r in solution.routes for t in r.trips)
    assert result.cost() == solution.cost_minor > 0
    assert result.stats.deliveries == 5
    assert decode_solution(encode_solution(solution)) == solution


def test_a_depot_without_tankers_is_never_a_stop(make) -> None:
    """Only D2 has tankers: D1 is a node of the model all the same, and must not become a compulsory visit."""
    lat, lon = make.at(30, 0)
    far_depot = make.depot(id="D2", lat=lat, lon=lon)
    p = make.problem([make.job("J1", 32, 2), make.job("J2", 28, -3)], [make.tanker("T1", depot_id="D2")])
    p = replace(p, depots=(make.depot(), far_depot))
    result = make.run(p, params=SolveParams(time_limit_s=0.5, construct=False))
    assert result.stats.source == "search" and result.stats.solutions > 0
    assert set(stops_of(result, "T1")) == {"J1", "J2"}
    assert all(trip.depot_id == "D2" for route in result.solution.routes for trip in route.trips)


def test_a_failing_search_leaves_the_construction_and_says_so(tiny: Problem, make, monkeypatch, caplog) -> None:
    """A bug inside a search process must not hang or sink the solve: the parent logs it and keeps the rest."""
    from routing.solver import runner
    from tests.failing_search import failing_search

    monkeypatch.setattr(runner, "_search", failing_search)  # what the parent sends its children to run
    with caplog.at_level("ERROR", logger="routing.solver"):
        result = make.run(tiny, time_limit_s=5)
    assert result.stats.source == "construction"
    assert result.solution.served_job_ids() == {"J1", "J2", "J3", "J4", "J5"}
    assert result.stats.wall_s < 4, "the parent waited for searches that had already failed"
    assert "boom in the search" in caplog.text


def test_windows_order_the_visits(windows: Problem, make) -> None:
    result = make.run(windows)
    assert stops_of(result, "T1") == ["J3", "J2", "J1"]
    j3 = result.solution.routes[0].trips[0].stops[0]
    assert 7 * H <= j3.start_s <= 8 * H


def test_second_window_is_used_when_the_first_is_missed(make) -> None:
    p = make.problem([make.job("J1", 30, 0, windows=((6 * H, 6 * H + 600), (14 * H, 15 * H)))])
    result = make.run(p)
    assert 14 * H <= result.solution.routes[0].trips[0].stops[0].start_s <= 15 * H


def test_unreachable_window_and_unknown_class_are_explained(make) -> None:
    jobs = [
        make.job("OK", 5, 5),
        make.job("LATE", 200, 0, windows=((6 * H, 7 * H),)),
        make.job("BIG_TRUCK_ONLY", 5, 0, allowed_vehicle_classes=(9,)),
    ]
    result = make.run(make.problem(jobs))
    assert reasons(result) == {
        "LATE": UnassignedReason.WINDOW_UNREACHABLE,
        "BIG_TRUCK_ONLY": UnassignedReason.NO_VEHICLE_CLASS,
    }
    assert all(u.detail for u in result.solution.unassigned)


def test_vehicle_class_decides_the_tanker(make) -> None:
    jobs = [make.job("SMALL_ROAD", 8, 0, allowed_vehicle_classes=(1,)), make.job("ANY", -8, 0)]
    tankers = [make.tanker("BIG", vehicle_class=2, fixed_cost_minor=0), make.tanker("SMALL", vehicle_class=1)]
    result = make.run(make.problem(jobs, tankers))
    assert "SMALL_ROAD" in stops_of(result, "SMALL")


def test_order_bigger_than_a_truck_is_split(make) -> None:
    p = make.problem([make.job("HUGE", 10, 0, litres=50_000)], [make.tanker("T1"), make.tanker("T2")])
    result = make.run(p)
    deliveries = [s for r in result.solution.routes for t in r.trips for s in t.stops]
    assert [s.job_id for s in deliveries] == ["HUGE", "HUGE"]
    assert sum(s.litres for s in deliveries) == 50_000
    assert all(s.litres <= 30_000 for s in deliveries)


def test_order_larger_than_the_fleet_can_carry(make) -> None:
    result = make.run(make.problem([make.job("OCEAN", 10, 0, litres=1_000_000)]))
    assert reasons(result) == {"OCEAN": UnassignedReason.TOO_LARGE}


def test_multi_trip_reloads_at_the_depot(make) -> None:
    jobs = [make.job(f"J{i}", 5 + i, 2, litres=8_000) for i in range(3)]
    single = make.tanker("T1", compartments=(10_000,))
    one_trip = make.run(make.problem(jobs, [single]))
    assert len(one_trip.solution.unassigned) == 2
    assert {u.reason for u in one_trip.solution.unassigned} == {UnassignedReason.CAPACITY}
    three_trips = make.run(make.problem(jobs, [single], multi_trip=True, max_trips=3))
    assert three_trips.solution.unassigned == ()
    trips = three_trips.solution.routes[0].trips
    assert len(trips) == 3
    assert all(later.load_start_s >= earlier.return_s for earlier, later in itertools.pairwise(trips))


def test_one_product_per_compartment(make) -> None:
    # 12,000 L fit the 15,000 L truck, but each product needs two 5,000 L compartments: four > three.
    jobs = [make.job("DIESEL", 5, 0, litres=6000, product="0#"), make.job("WINTER", 6, 0, litres=6000, product="-35#")]
    truck = make.tanker("T1", compartments=(5000, 5000, 5000))
    single = make.run(make.problem(jobs, [truck]))
    assert list(reasons(single).values()) == [UnassignedReason.COMPARTMENTS]
    double = make.run(make.problem(jobs, [truck], multi_trip=True))
    assert double.solution.unassigned == ()
    for trip in double.solution.routes[0].trips:
        assert len({load.product for load in trip.loads}) == 1


def test_mixed_products_share_a_trip_when_compartments_allow(make) -> None:
    jobs = [make.job("A", 5, 0, litres=4000, product="0#"), make.job("B", 6, 1, litres=9000, product="-10#")]
    result = make.run(make.problem(jobs, [make.tanker("T1", compartments=(5000, 5000, 5000))]))
    trips = result.solution.routes[0].trips
    assert len(trips) == 1
    by_compartment = {load.compartment: load.product for load in trips[0].loads}
    assert len(by_compartment) == 3


def test_full_compartments_give_each_stop_its_own(make) -> None:
    jobs = [make.job(f"J{i}", 3 + i, 1, litres=1000) for i in range(4)]
    truck = make.tanker("T1", compartments=(5000, 5000, 5000))
    result = make.run(make.problem(jobs, [truck], full_compartments=True))
    assert len(result.solution.unassigned) == 1  # three compartments, three stops
    stops = result.solution.routes[0].trips[0].stops
    assert len({c for s in stops for c in s.compartments}) == 3


def test_pins_hold(tiny: Problem, make) -> None:
    pinned = replace(
        tiny, options=replace(tiny.options, pins=(Pin(job_id="J1", tanker_id="T2"), Pin(job_id="J3", tanker_id="T2")))
    )
    result = make.run(pinned)
    assert {"J1", "J3"} <= set(stops_of(result, "T2"))


def test_started_trip_keeps_its_stops_and_takes_no_more(tiny: Problem, make) -> None:
    started = StartedTrip(tanker_id="T1", job_ids=("J4", "J1"), depart_s=7 * H)
    p = replace(tiny, options=replace(tiny.options, started=(started,), multi_trip=True))
    result = make.run(p)
    first = result.solution.routes[0]
    assert first.tanker_id == "T1"
    assert [s.job_id for s in first.trips[0].stops] == ["J4", "J1"]  # nothing joins a trip on the road
    assert first.trips[0].depart_s == 7 * H
    # J2 sits next to J1: appending it would be cheapest, but it goes on a later trip or another tanker.
    assert "J2" in result.solution.served_job_ids()


def test_cheap_penalty_job_far_away_is_not_selected(make) -> None:
    jobs = [make.job("NEAR", 5, 0), make.job("FAR", 80, 0, penalty_minor=1)]
    result = make.run(make.problem(jobs))
    assert reasons(result) == {"FAR": UnassignedReason.NOT_SELECTED}


def test_duty_time_is_respected(make) -> None:
    jobs = [make.job("A", 40, 0, windows=((7 * H, 8 * H),)), make.job("B", 40, 2, windows=((16 * H, 17 * H),))]
    p = make.problem(jobs, [make.tanker("T1", max_duty_s=5 * H)])
    result = make.run(p)
    assert len(result.solution.unassigned) == 1
    route = result.solution.routes[0]
    assert route.duration_s <= 5 * H


def test_same_seed_same_result(tiny: Problem) -> None:
    params = SolveParams(time_limit_s=30, solution_limit=40)
    first = solve(tiny, params=params, seed=7)
    second = solve(tiny, params=params, seed=7)
    assert first.stats.stopped_by == "solution_limit"
    assert first.solution == second.solution


def test_progress_reports_improving_costs_and_cancel_stops(tiny: Problem) -> None:
    seen: list[Progress] = []
    cancel = threading.Event()

    def progress(p: Progress) -> None:
        seen.append(p)
        cancel.set()  # stop after the first plan

    result = solve(tiny, params=SolveParams(time_limit_s=30), on_progress=progress, cancel=cancel)
    assert result.stats.stopped_by == "cancelled"
    assert result.stats.wall_s < 30
    assert result.is_feasible()
    assert seen and seen[0].best_cost_minor > 0


def test_progress_costs_never_increase_and_end_at_the_plans_cost(tiny: Problem) -> None:
    costs: list[int] = []
    result = solve(tiny, params=SolveParams(time_limit_s=0.5), on_progress=lambda p: costs.append(p.best_cost_minor))
    assert costs == sorted(costs, reverse=True)
    assert costs[-1] == result.cost()  # what a dispatcher watched is what the stored plan costs


@pytest.mark.parametrize("limit_clock", ["wall", "cpu"])
def test_time_limit_is_what_stops_the_search(tiny: Problem, limit_clock: str) -> None:
    result = solve(tiny, params=SolveParams(time_limit_s=0.3, clock=limit_clock))  # type: ignore[arg-type]
    assert result.stats.stopped_by == "time_limit"
    assert result.stats.time_limit_s == 0.3 and result.stats.clock == limit_clock
    assert result.is_feasible()


def test_nothing_to_plan(make) -> None:
    result = make.run(make.problem([make.job("X", 1, 1, allowed_vehicle_classes=(7,))]))
    assert result.stats.stopped_by == "nothing_to_plan"
    assert reasons(result) == {"X": UnassignedReason.NO_VEHICLE_CLASS}


def test_parallel_searches_are_capped_by_the_memory_budget(tiny: Problem, make) -> None:
    from routing.matrix import matrix_for
    from routing.solver.instance import build_instance
    from routing.solver.model import usable_tankers
    from routing.solver.runner import resident_mb, search_memory_mb, searches_within

    instance = build_instance(tiny, matrix_for(tiny), seed=0)
    vehicles = usable_tankers(instance)
    assert 0 < search_memory_mb(instance, vehicles) < 1  # a tiny day's model
    assert resident_mb() > 10
    assert searches_within(SolveParams(workers=2), instance, vehicles) == 2
    assert searches_within(SolveParams(workers=2, memory_budget_mb=None), instance, vehicles) == 2
    # Not even this process fits: still one search, never none.
    assert searches_within(SolveParams(workers=2, memory_budget_mb=1), instance, vehicles) == 1
    result = make.run(tiny, params=SolveParams(time_limit_s=0.5, workers=2, memory_budget_mb=1))
    assert result.solution.served_job_ids() == {"J1", "J2", "J3", "J4", "J5"}
    # Bigger days need more: the estimate grows with the square of the model's nodes.
    bigger = replace(tiny, jobs=tuple(replace(j, id=f"{j.id}-{k}") for k in range(20) for j in tiny.jobs))
    big = build_instance(bigger, matrix_for(bigger), seed=0)
    assert search_memory_mb(big, usable_tankers(big)) > 50 * search_memory_mb(instance, vehicles)
