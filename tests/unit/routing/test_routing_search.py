"""Our work around OR-Tools: preferred tankers, the construction, warm start, parallel searches."""

from __future__ import annotations

import random

import msgspec

from routing import Job, Options, Problem, SolveParams, check, solve
from routing.matrix import matrix_for
from routing.solver.construct import construct
from routing.solver.extract import finish
from routing.solver.instance import build_instance
from routing.solver.model import model_parameters, usable_tankers


def served_by(result) -> dict[str, str]:
    return {s.job_id: r.tanker_id for r in result.solution.routes for t in r.trips for s in t.stops}


def test_preferred_tanker_wins_when_it_costs_little(make) -> None:
    jobs = [make.job(f"J{i}", 5 + i, i, preferred_tanker_id="T2") for i in range(3)]
    tankers = [make.tanker("T1", cost_per_km_minor=600), make.tanker("T2", cost_per_km_minor=620)]
    result = make.run(make.problem(jobs, tankers))
    assert set(served_by(result).values()) == {"T2"}
    indifferent = make.run(make.problem(jobs, tankers, preference_cost_minor=0))
    assert set(served_by(indifferent).values()) == {"T1"}  # cheaper per km


def test_preference_is_soft(make) -> None:
    jobs = [make.job(f"J{i}", 20 + i, i, preferred_tanker_id="T2") for i in range(3)]
    tankers = [make.tanker("T1", cost_per_km_minor=600), make.tanker("T2", cost_per_km_minor=6000)]
    result = make.run(make.problem(jobs, tankers))
    assert set(served_by(result).values()) == {"T1"}  # 10x the price per km outweighs 50.00 a job


def busy_day(make, jobs: int = 160, seed: int = 3) -> Problem:
    rng = random.Random(seed)
    grades = ["0#", "-10#", "-20#", "-35#"]
    out = []
    for i in range(jobs):
        start = rng.randrange(6, 15) * make.H
        windows = (
            ((start, start + rng.choice([2, 4, 8]) * make.H),) if rng.random() < 0.6 else ((6 * make.H, 20 * make.H),)
        )
        out.append(
            make.job(
                f"J{i}",
                rng.uniform(-30, 30),
                rng.uniform(-30, 30),
                litres=rng.randrange(2, 16) * 1000,
                product=rng.choice(grades),
                windows=windows,
            )
        )
    tankers = [make.tanker(f"T{i}", compartments=(10_000, 8_000, 8_000, 6_000)) for i in range(jobs // 6)]
    return make.problem(out, tankers, multi_trip=True, max_trips=3)


def test_construction_is_a_valid_plan_on_its_own(make) -> None:
    problem = busy_day(make)
    matrix = matrix_for(problem)
    instance = build_instance(problem, matrix, seed=0)
    plan = construct(instance, usable_tankers(instance))
    solution = finish(instance, plan, {})
    assert check(problem, solution, matrix=matrix) == []
    assert len(solution.unassigned) <= len(problem.jobs) // 20


def test_big_day_starts_from_the_construction_and_improves_it(make) -> None:
    problem = busy_day(make)
    seen: list[int] = []
    params = SolveParams(time_limit_s=2.0, warm_start_above=0, warm_start_single_trip=True)  # warm at any size
    result = make.run(problem, params=params, on_progress=lambda p: seen.append(p.best_cost_minor))
    assert seen and seen == sorted(seen, reverse=True)
    first = seen[0]  # the construction, reported before any search
    assert result.cost() <= first
    assert result.stats.first_solution_s is not None and result.stats.first_solution_s < 1.5


def test_two_parallel_searches_are_repeatable(tiny) -> None:
    params = SolveParams(time_limit_s=30, solution_limit=30, workers=2)
    first = solve(tiny, params=params, seed=4)
    second = solve(tiny, params=params, seed=4)
    assert first.is_feasible() and first.solution == second.solution
    single = solve(tiny, params=msgspec.structs.replace(params, workers=1), seed=4)
    assert single.is_feasible()


def test_options_reject_a_negative_preference_cost(make) -> None:
    import pytest

    from routing import ProblemError, validate

    with pytest.raises(ProblemError, match="preference_cost_minor"):
        validate(make.problem([make.job("J", 1, 1)], preference_cost_minor=-1))
    assert isinstance(Options().preference_cost_minor, int) and Job  # documented default exists


def test_fleet_trimming_empties_a_tanker_whose_jobs_fit_elsewhere(make) -> None:
    import time

    jobs = [make.job("A", 10, 0, litres=4000), make.job("B", 11, 1, litres=4000), make.job("C", 12, 0)]
    problem = make.problem(jobs, [make.tanker("T1"), make.tanker("T2")])
    matrix = matrix_for(problem)
    instance = build_instance(problem, matrix, seed=0)
    wasteful = {0: [[0]], 1: [[1]]}  # two tankers, one job each; C left out
    plain = finish(instance, {t: [list(x) for x in trips] for t, trips in wasteful.items()}, {})
    assert len(plain.routes) == 2 and [u.job_id for u in plain.unassigned] == ["C"]
    trimmed = finish(instance, wasteful, {}, trim_until=time.perf_counter() + 5)
    assert check(problem, trimmed, matrix=matrix) == []
    assert len(trimmed.routes) == 1 and trimmed.unassigned == ()  # C filled in, T2 emptied
    assert trimmed.cost_minor < plain.cost_minor


def test_only_days_above_the_threshold_start_from_the_construction_by_default() -> None:
    from routing.solver.search import starts_warm

    params = SolveParams()
    assert starts_warm(params, deliveries=1000, trips=3)  # a fuel day: reloads
    assert starts_warm(params, deliveries=1000, trips=1)  # one trip each, but big
    assert starts_warm(params, deliveries=params.warm_start_above + 1, trips=3)
    assert not starts_warm(params, deliveries=params.warm_start_above, trips=3)  # small: OR-Tools' own first solution
    assert not starts_warm(params, deliveries=params.warm_start_above, trips=1)
    cold = msgspec.structs.replace(params, warm_start_single_trip=False)
    assert not starts_warm(cold, deliveries=1000, trips=1)  # the old rule: one trip each starts cold
    assert starts_warm(cold, deliveries=1000, trips=3)


def test_a_search_that_rarely_checks_its_moves_still_returns_only_valid_plans(make) -> None:
    """Fast local search takes moves on the filters' word between two full checks.  On a day of reloads,
    windows and compartments (rules the filters see only in part) the plan must still pass the checker,
    whether every move is checked or almost none is."""
    problem = busy_day(make, jobs=60, seed=11)
    for period in (1, 1_000_000):
        params = SolveParams(
            time_limit_s=2.0, check_solution_period=period, big_day_above=0, construct=False, workers=1
        )
        assert make.run(problem, params=params).cost() > 0  # make.run asserts the checker's verdict


def test_the_model_keeps_its_trail_uncompressed_and_checks_moves_by_the_period() -> None:
    parameters = model_parameters(check_period=25).solver_parameters
    assert parameters.compress_trail == parameters.NO_COMPRESSION
    assert parameters.check_solution_period == 25
