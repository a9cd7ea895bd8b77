"""Days with reloads, phase by phase (routing.solver.phases): the localized search from the construction,
consolidation (fill and fleet trimming timed like the model), the whole-day search, the localized search again."""

from __future__ import annotations

import time

import msgspec

from routing import Problem, SolveParams, check
from routing.matrix import matrix_for
from routing.solver.construct import construct
from routing.solver.extract import Plan, consolidate, finish, plan_objective
from routing.solver.instance import Instance, build_instance
from routing.solver.model import build_model, plan_cost, usable_tankers
from routing.solver.phases import search_day
from routing.solver.schedule import schedule_tanker
from routing.solver.search import local_first_share, search_parameters
from tests.unit.routing.test_routing_search import busy_day


def day(problem: Problem) -> tuple[Instance, list[int], Plan]:
    instance = build_instance(problem, matrix_for(problem, None), seed=0)
    vehicles = usable_tankers(instance)
    return instance, vehicles, construct(instance, vehicles)


def priced_day(make, jobs: int = 90) -> Problem:
    """A busy day whose tankers cost per km and per use, where some jobs prefer a tanker."""
    problem = busy_day(make, jobs=jobs)
    tankers = tuple(
        msgspec.structs.replace(t, cost_per_km_minor=500 + 50 * (k % 3), fixed_cost_minor=20_000 + 5_000 * (k % 2))
        for k, t in enumerate(problem.tankers)
    )
    preferring = tuple(
        msgspec.structs.replace(j, preferred_tanker_id=tankers[k % len(tankers)].id) if k % 5 == 0 else j
        for k, j in enumerate(problem.jobs)
    )
    return msgspec.structs.replace(problem, tankers=tankers, jobs=preferring)


def served(plan: Plan) -> list[int]:
    return sorted(d for trips in plan.values() for trip in trips for d in trip)


def test_the_objective_without_a_model_is_the_models(make) -> None:
    instance, vehicles, plan = day(priced_day(make))
    assert plan.pop(min(plan))  # penalties count too
    problem = instance.problem
    misses = [
        d
        for t, trips in plan.items()
        for trip in trips
        for d in trip
        if problem.jobs[instance.deliveries[d].job_index].preferred_tanker_id not in (None, problem.tankers[t].id)
    ]
    assert misses  # and preferences
    model = build_model(instance, vehicles)
    model.routing.CloseModelWithParameters(search_parameters(model, SolveParams(), 1.0))
    assert plan_objective(instance, vehicles, plan) == plan_cost(model, plan)


def test_consolidation_empties_tankers_fills_gaps_and_fits_the_model(make) -> None:
    problem = priced_day(make)
    instance, vehicles, plan = day(problem)
    # Spread the construction over more tankers than it needs and leave a job out: work for consolidation.
    spread: Plan = {}
    idle = [t for t in vehicles if t not in plan]
    for t, trips in plan.items():
        if len(trips) > 1 and idle:
            spread[idle.pop()] = [trips[-1]]
            trips = trips[:-1]
        spread[t] = [list(trip) for trip in trips]
    dropped = spread[max(spread)].pop()
    spread = {t: trips for t, trips in spread.items() if trips}
    fleet = sorted(spread) + idle[:3]

    better = consolidate(instance, spread, fleet, deadline=time.perf_counter() + 30)

    assert plan_objective(instance, fleet, better) < plan_objective(instance, fleet, spread)
    assert len(better) < len(spread), "no tanker was emptied"
    assert set(served(better)) >= set(served(spread)) and set(dropped) & set(served(better))
    assert set(better) <= set(fleet)
    for t, trips in better.items():  # every day fits the model's full-truck loading times
        assert schedule_tanker(instance, t, trips, full_load=True) is not None
    assert check(problem, finish(instance, better, {})) == []


def test_full_truck_timing_is_what_the_model_reserves(make) -> None:
    """A slow rack: two small loads fit the day, two full-truck loadings (what the model reserves) do not."""
    slow = make.depot(load_fixed_s=600, load_rate_l_per_min=100)  # a full 30,000 L truck: 5.2 h
    tanker = make.tanker("T1", shift_start_s=6 * make.H, shift_end_s=20 * make.H)
    anytime = make.job("J1", 5, 0, litres=1_000)
    noon = make.job("J2", 0, 5, litres=1_000, windows=((12 * make.H, 13 * make.H),))
    problem = msgspec.structs.replace(make.problem([anytime, noon], [tanker], multi_trip=True), depots=(slow,))
    instance = build_instance(problem, matrix_for(problem, None), seed=0)
    first, second = (next(d for d, x in enumerate(instance.deliveries) if x.job_index == j) for j in (0, 1))
    assert schedule_tanker(instance, 0, [[first], [second]]) is not None
    assert schedule_tanker(instance, 0, [[first], [second]], full_load=True) is None
    assert schedule_tanker(instance, 0, [[second]], full_load=True) is not None


def test_a_big_reload_day_runs_every_phase_and_its_cost_stays_exact(make) -> None:
    problem = priced_day(make, jobs=120)
    instance, vehicles, plan = day(problem)
    params = SolveParams(big_day_above=50, warm_start_above=50, local_routes=4, workers=1)
    assert local_first_share(params, len(instance.deliveries), instance.trips) == params.warm_local_first
    reported: list[int] = []
    wall0 = time.perf_counter()
    outcome = search_day(instance, vehicles, params, 4.0, 4.0, plan, lambda cost, *_: reported.append(cost))
    assert time.perf_counter() - wall0 < 4.0 + 2.0  # consolidation and the last part may run over a little
    assert outcome.plan is not None and outcome.cost is not None
    assert outcome.cost == plan_objective(instance, vehicles, outcome.plan)
    assert outcome.cost < plan_objective(instance, vehicles, plan)
    assert reported and min(reported) <= outcome.cost
    assert check(problem, finish(instance, outcome.plan, outcome.floors)) == []


def test_the_first_phase_is_for_days_that_start_from_the_construction() -> None:
    params = SolveParams()
    big = params.warm_start_above + 1
    assert local_first_share(params, big, trips=3) == params.warm_local_first
    assert local_first_share(params, big, trips=1) == params.warm_local_first  # one trip a tanker: the same
    cold = msgspec.structs.replace(params, warm_start_single_trip=False)
    assert local_first_share(cold, big, trips=1) == 0.0  # one trip a tanker, the old rule: OR-Tools' own start
    assert local_first_share(params, params.warm_start_above, trips=3) == 0.0
    assert local_first_share(msgspec.structs.replace(params, solution_limit=10), big, trips=3) == 0.0
    assert local_first_share(msgspec.structs.replace(params, warm_local_first=None), big, trips=3) == 0.0


def test_solve_runs_the_phases_in_a_search_process_and_in_process(make) -> None:
    problem = priced_day(make, jobs=120)
    for isolate in (True, False):
        params = SolveParams(time_limit_s=3.0, warm_start_above=50, local_routes=4, isolate=isolate, workers=1)
        result = make.run(problem, params=params)  # the independent checker runs inside
        assert result.stats.source == "search", "the phases found nothing better than the construction"
