"""Big days re-planned part by part (routing.solver.decompose): the cut, the guarantee, and solve() using it."""

import random

import msgspec
import pytest

from routing import Pin, Problem, SolveParams, StartedTrip, check, solve
from routing.matrix import matrix_for
from routing.solver.decompose import cut, improve_by_parts, objective, sub_problem

replace = msgspec.structs.replace
H = 3600


@pytest.fixture
def day(make) -> Problem:
    """Two depots 40 km apart, 12 tankers, 60 jobs scattered around both."""
    rng = random.Random(5)
    east_lat, east_lon = make.at(40, 0)
    depots = (make.depot(), make.depot(id="D2", lat=east_lat, lon=east_lon))
    tankers = [make.tanker(f"T{k:02d}", depot_id="D1" if k % 2 else "D2") for k in range(12)]
    jobs = [
        make.job(f"J{k:02d}", rng.uniform(-25, 65), rng.uniform(-25, 25), litres=rng.choice([3_000, 5_000, 8_000]))
        for k in range(60)
    ]
    return replace(make.problem(jobs, tankers, multi_trip=True), depots=depots)


def test_the_cut_puts_every_tanker_and_job_in_exactly_one_part(day: Problem) -> None:
    pinned = replace(day, options=replace(day.options, pins=(Pin(job_id="J07", tanker_id="T03"),)))
    solution = solve(pinned, params=SolveParams(time_limit_s=1, workers=1, decompose_above=None)).solution
    for turn in (0.0, 0.5):
        parts = cut(pinned, solution, part_size=12, turn=turn)
        assert len(parts) >= 3
        tankers = [t for p in parts for t in p.tanker_ids]
        jobs = [j for p in parts for j in p.job_ids]
        assert sorted(tankers) == sorted(t.id for t in day.tankers)
        assert sorted(jobs) == sorted(j.id for j in day.jobs)
        # A part keeps whole routes: a served job is in the part of the tanker that serves it.
        part_of = {t: k for k, p in enumerate(parts) for t in p.tanker_ids}
        for route in solution.routes:
            for trip in route.trips:
                for stop in trip.stops:
                    assert stop.job_id in parts[part_of[route.tanker_id]].job_ids
        assert "J07" in parts[part_of["T03"]].job_ids
    # Half a part further round, the borders move.
    assert {p.tanker_ids for p in cut(pinned, solution, part_size=12)} != {
        p.tanker_ids for p in cut(pinned, solution, part_size=12, turn=0.5)
    }


def test_a_part_is_a_problem_of_its_own_with_the_matching_matrix(day: Problem) -> None:
    matrix = matrix_for(day)
    solution = solve(day, params=SolveParams(time_limit_s=1, workers=1, decompose_above=None)).solution
    part = cut(day, solution, part_size=12)[0]
    sub = sub_problem(day, matrix, part)
    assert {t.id for t in sub.tankers} == part.tanker_ids and {j.id for j in sub.jobs} == part.job_ids
    assert sub.matrix is not None
    index = {j.id: k for k, j in enumerate(day.jobs)}
    depots = len(day.depots)
    for a, job_a in enumerate(sub.jobs):
        for b, job_b in enumerate(sub.jobs):
            full = matrix.distances_m[depots + index[job_a.id]][depots + index[job_b.id]]
            assert sub.matrix.distances_m[depots + a][depots + b] == full


def test_re_planning_by_parts_never_makes_the_day_worse_and_improves_a_poor_plan(day: Problem) -> None:
    matrix = matrix_for(day)
    # OR-Tools' first solution alone, no construction, no local search: a plan with room to improve.
    first_only = SolveParams(
        time_limit_s=2, workers=1, construct=False, metaheuristic="descent", solution_limit=1, decompose_above=None
    )
    start = solve(day, params=first_only).solution
    calls: list[float] = []

    def solve_part(sub: Problem, current, budget_s: float, seed: int):
        calls.append(budget_s)
        result = solve(sub, params=SolveParams(time_limit_s=budget_s, workers=1, decompose_above=None), seed=seed)
        return result.solution, result.stats.wall_s

    better, improved = improve_by_parts(
        day, matrix, start, solve_part=solve_part, budget_s=8, part_size=15, rounds=2, seed=1
    )
    assert calls and sum(calls) <= 8.5
    assert check(day, better) == []
    assert objective(day, better) <= objective(day, start)
    assert improved > 0 and objective(day, better) < objective(day, start)
    assert better.served_job_ids() | {u.job_id for u in better.unassigned} == {j.id for j in day.jobs}


def test_solve_plans_a_big_day_by_parts_keeping_pins_and_started_trips(day: Problem, make, caplog) -> None:
    first = solve(day, params=SolveParams(time_limit_s=1, workers=1, decompose_above=None)).solution
    route = next(r for r in first.routes if r.trips and r.trips[0].stops)
    started = StartedTrip(
        tanker_id=route.tanker_id, job_ids=(route.trips[0].stops[0].job_id,), depart_s=route.trips[0].depart_s
    )
    options = replace(day.options, pins=(Pin(job_id="J11", tanker_id="T04"),), started=(started,))
    pinned = replace(day, options=options)
    params = SolveParams(time_limit_s=6, decompose_above=20, part_size=15, whole_day_share=0.3)
    with caplog.at_level("DEBUG", logger="routing.solver"):
        result = make.run(pinned, params=params)
    # Above decompose_above the day really was re-planned part by part, over both rounds.
    assert "part 0." in caplog.text and "part 1." in caplog.text
    assert (result.stats.source == "parts") == (result.stats.parts_improved > 0)
    assert result.stats.wall_s < 9
    served_by = {s.job_id: r.tanker_id for r in result.solution.routes for t in r.trips for s in t.stops}
    assert served_by.get("J11", "T04") == "T04"
    assert served_by[started.job_ids[0]] == started.tanker_id


def test_a_job_split_between_parts_is_shared_and_must_stay_served(day: Problem) -> None:
    """A job bigger than a truck, delivered by a tanker of each depot: each part carries its own share."""
    from routing.solution import Route, Solution, Stop, Trip
    from routing.solver.decompose import SHARE_PENALTY

    big = replace(day.jobs[0], litres=45_000)
    problem = replace(day, jobs=(big, *day.jobs[1:]))

    def route(tanker_id: str, depot_id: str, litres: int) -> Route:
        stop = Stop(job_id=big.id, litres=litres, arrival_s=8 * H, start_s=8 * H, departure_s=9 * H, compartments=(0,))
        trip = Trip(
            depot_id=depot_id,
            load_start_s=7 * H,
            depart_s=7 * H,
            return_s=10 * H,
            distance_m=1,
            loads=(),
            stops=(stop,),
        )
        return Route(tanker_id=tanker_id, trips=(trip,))

    solution = Solution(
        routes=(route("T01", "D1", 22_500), route("T02", "D2", 22_500)),
        unassigned=(),
        cost_minor=0,
        distance_m=0,
        duration_s=0,
    )
    parts = cut(problem, solution, part_size=1)
    holding = [p for p in parts if big.id in p.job_ids]
    assert len(holding) == 2 and all(p.shares == {big.id: 22_500} for p in holding)
    sub = sub_problem(problem, matrix_for(problem), holding[0])
    shared = next(j for j in sub.jobs if j.id == big.id)
    assert shared.litres == 22_500 and shared.penalty_minor == SHARE_PENALTY
