"""Cheapest feasible insertion (routing.insertion): a small day whose one tanker has one compartment left."""

from __future__ import annotations

from routing import Depot, GeodesicProvider, Job, Options, Problem, SolveParams, Tanker, check, solve
from routing.insertion import Placement, Refusal, TentativeDay, with_window

H = 3600
SITE = (31.25, 121.50)


def _day(jobs: tuple[Job, ...] = ()) -> Problem:
    # The rack loads only from 06:00 to 07:00: one trip per tanker, so its compartments are all it carries.
    depot = Depot(id="D", lat=31.23, lon=121.47, open_s=6 * H, close_s=7 * H)
    tanker = Tanker(
        id="T1",
        depot_id="D",
        compartments=(6000, 6000),
        shift_start_s=6 * H,
        shift_end_s=14 * H,
        cost_per_km_minor=600,
        fixed_cost_minor=20_000,
    )
    return Problem(depots=(depot,), tankers=(tanker,), jobs=jobs, options=Options(multi_trip=True, max_trips=3))


def _job(job_id: str, window: tuple[int, int], litres: int = 6000) -> Job:
    return Job(id=job_id, lat=SITE[0], lon=SITE[1] + 0.01, product="diesel-0", litres=litres, windows=(window,))


def _tentative(problem: Problem) -> TentativeDay:
    points = [(d.lat, d.lon) for d in problem.depots] + [(j.lat, j.lon) for j in problem.jobs] + [SITE]
    day = TentativeDay(problem, GeodesicProvider().matrix(points))
    day.place_all()
    return day


def test_the_last_compartment_takes_one_more_order_in_one_window_and_not_the_next() -> None:
    day = _tentative(_day((_job("A", (8 * H, 10 * H)),)))
    candidate = Job(id="new", lat=SITE[0], lon=SITE[1], product="diesel-0", litres=6000)
    morning = day.try_job(with_window(candidate, (10 * H, 12 * H)))
    assert isinstance(morning, Placement) and morning.tanker_id == "T1" and morning.added_cost_minor > 0
    late = day.try_job(with_window(candidate, (14 * H, 16 * H)))
    assert late == Refusal.SHIFT_ENDS
    too_big = day.try_job(
        with_window(Job(id="big", lat=SITE[0], lon=SITE[1], product="diesel-0", litres=7000), (10 * H, 12 * H))
    )
    assert too_big == Refusal.COMPARTMENTS_FULL
    assert day.routes_by_job() == {"T1": [["A"]]}  # asking changed nothing


def test_a_full_tanker_says_compartments_full_and_the_plan_passes_the_checker() -> None:
    problem = _day((_job("A", (8 * H, 10 * H)), _job("B", (10 * H, 12 * H))))
    day = _tentative(problem)
    assert day.routes_by_job() == {"T1": [["A", "B"]]} and not day.refused
    candidate = Job(id="new", lat=SITE[0], lon=SITE[1], product="diesel-0", litres=2000)
    assert day.try_job(with_window(candidate, (8 * H, 10 * H))) == Refusal.COMPARTMENTS_FULL
    points = [(d.lat, d.lon) for d in problem.depots] + [(j.lat, j.lon) for j in problem.jobs]
    solution = day.solution()
    assert check(problem, solution, matrix=GeodesicProvider().matrix(points)) == []
    # The planner's own search finds nothing cheaper than the tentative plan on this day.
    fresh = solve(problem, params=SolveParams(time_limit_s=2, workers=1, solution_limit=50), seed=0)
    assert fresh.is_feasible() and not fresh.solution.unassigned
    assert solution.cost_minor <= fresh.cost()


def test_a_third_order_is_refused_and_reported_unassigned() -> None:
    problem = _day((_job("A", (8 * H, 10 * H)), _job("B", (10 * H, 12 * H)), _job("C", (9 * H, 11 * H))))
    day = _tentative(problem)
    assert day.refused and list(day.refused.values()) == [Refusal.COMPARTMENTS_FULL]
    assert [u.job_id for u in day.solution().unassigned] == ["C"]


def test_start_from_keeps_an_earlier_plan_and_drops_cancelled_jobs() -> None:
    before = _tentative(_day((_job("A", (8 * H, 10 * H)), _job("B", (10 * H, 12 * H)))))
    problem = _day((_job("B", (10 * H, 12 * H)),))  # A cancelled
    points = [(d.lat, d.lon) for d in problem.depots] + [(j.lat, j.lon) for j in problem.jobs] + [SITE]
    day = TentativeDay(problem, GeodesicProvider().matrix(points))
    assert day.start_from(before.routes_by_job()) == ["B"]
    candidate = Job(id="new", lat=SITE[0], lon=SITE[1], product="diesel-0", litres=6000)
    assert isinstance(day.try_job(with_window(candidate, (8 * H, 10 * H))), Placement)
