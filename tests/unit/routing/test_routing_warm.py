"""solve(start_from=...) from a poor plan: the delivery promise's insertion plan, one order at a time, opens tanker
after tanker and is timed with real loading times, which the model's full-truck loading may not fit."""

from __future__ import annotations

import random

import msgspec

from routing import SolveParams, check, solve
from routing.insertion import TentativeDay
from routing.matrix import matrix_for
from routing.solver.extract import fit_for_search, plan_objective
from routing.solver.instance import build_instance
from routing.solver.model import build_model, plan_routes, usable_tankers
from routing.solver.schedule import schedule_tanker
from routing.solver.search import search_parameters
from tests.unit.routing.test_routing_phases import priced_day


def test_a_poor_start_is_improved_to_no_worse_than_a_cold_solve(make) -> None:
    problem = priced_day(make, jobs=120)
    tentative = TentativeDay(problem, matrix_for(problem, None))
    order = [job.id for job in problem.jobs]
    random.Random(1).shuffle(order)
    tentative.place_all(order)
    start = tentative.solution()
    params = SolveParams(time_limit_s=60, solution_limit=200, workers=1)  # repeatable: bounded by solutions

    cold = solve(problem, params=params)
    warm = solve(problem, params=params, start_from=start)

    assert check(problem, warm.solution) == []
    assert warm.solution.cost_minor < start.cost_minor
    assert warm.solution.cost_minor <= cold.solution.cost_minor
    assert len(warm.solution.routes) < len(start.routes), "no tanker was emptied"


def test_a_plan_timed_with_real_loading_is_fitted_to_the_models_timing(make) -> None:
    """A slow rack: T1 makes two small trips with real loading times, which two full-truck loadings (what the model
    reserves) do not fit; the fitted plan moves the second trip to T2 and the model reads it whole."""
    slow = make.depot(load_fixed_s=600, load_rate_l_per_min=100)  # a full 30,000 L truck: 5.2 h
    tankers = [make.tanker(name, shift_start_s=6 * make.H, shift_end_s=20 * make.H) for name in ("T1", "T2")]
    anytime = make.job("J1", 5, 0, litres=1_000)
    noon = make.job("J2", 0, 5, litres=1_000, windows=((12 * make.H, 13 * make.H),))
    problem = msgspec.structs.replace(make.problem([anytime, noon], tankers, multi_trip=True), depots=(slow,))
    instance = build_instance(problem, matrix_for(problem, None), seed=0)
    vehicles = usable_tankers(instance)
    first, second = (next(d for d, x in enumerate(instance.deliveries) if x.job_index == j) for j in (0, 1))
    given = {0: [[first], [second]]}
    assert schedule_tanker(instance, 0, given[0]) is not None
    assert schedule_tanker(instance, 0, given[0], full_load=True) is None

    fitted = fit_for_search(instance, given, vehicles, deadline=float("inf"))

    assert sorted(d for trips in fitted.values() for trip in trips for d in trip) == [first, second]
    assert plan_objective(instance, vehicles, fitted) < plan_objective(instance, vehicles, {0: [[first]]})
    model = build_model(instance, vehicles)
    model.routing.CloseModelWithParameters(search_parameters(model, SolveParams(), 1.0))
    assert model.routing.ReadAssignmentFromRoutes(plan_routes(model, fitted), True) is not None
