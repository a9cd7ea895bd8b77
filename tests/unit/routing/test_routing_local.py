"""The localized search (routing.solver.local): parts of the day searched from their routes, the day's cost
kept exactly, tankers with a trip under way left alone."""

from __future__ import annotations

import gc
import itertools
import time

import msgspec
from ortools.constraint_solver import pywrapcp

from routing import Problem, SolveParams, StartedTrip, check
from routing.matrix import matrix_for
from routing.solver.construct import construct
from routing.solver.extract import Plan, finish
from routing.solver.instance import Instance, build_instance
from routing.solver.local import improve_locally
from routing.solver.model import MILLI, build_model, plan_routes, routes_cost, usable_tankers
from routing.solver.search import local_share, run_search
from tests.unit.routing.test_routing_search import busy_day


def day(problem: Problem) -> tuple[Instance, list[int], Plan]:
    instance = build_instance(problem, matrix_for(problem, None), seed=0)
    vehicles = usable_tankers(instance)
    return instance, vehicles, construct(instance, vehicles)


def model_cost(instance: Instance, plan: Plan) -> int:
    """What the model charges for a plan, from the problem alone: metres x price per km, the fixed cost of
    every tanker used, the penalty of every delivery left out (milli-minor units; no preferences here)."""
    problem = instance.problem
    total, served = 0, set()
    for tanker_index, trips in plan.items():
        tanker = instance.tanker(tanker_index)
        home = instance.depot_location(tanker_index)
        total += tanker.fixed_cost_minor * MILLI if any(trips) else 0
        for trip in trips:
            stops = [home, *(problem.job_location(instance.deliveries[d].job_index) for d in trip), home]
            total += sum(int(instance.dist[a, b]) for a, b in itertools.pairwise(stops)) * tanker.cost_per_km_minor
            served.update(trip)
    for d, delivery in enumerate(instance.deliveries):
        if d not in served:
            total += problem.jobs[delivery.job_index].penalty_minor * MILLI // delivery.parts
    return total


def test_a_locked_search_starts_from_the_given_routes_and_only_improves(make) -> None:
    instance, vehicles, plan = day(busy_day(make, jobs=60))
    model = build_model(instance, vehicles)
    costs: list[int] = []
    run_search(
        model,
        SolveParams(time_limit_s=1.0),
        1.0,
        on_improvement=lambda cost, _: costs.append(cost),
        locked=plan_routes(model, plan),
    )
    assert costs[0] == model_cost(instance, plan)  # its first solution is the plan it was given
    assert routes_cost(model, plan_routes(model, plan)) == costs[0]
    assert len(costs) > 1 and costs == sorted(costs, reverse=True) and costs[-1] < costs[0]


def test_parts_improve_the_day_and_its_cost_stays_exact(make) -> None:
    problem = busy_day(make, jobs=120)
    instance, vehicles, plan = day(problem)
    before = model_cost(instance, plan)
    reported: list[int] = []
    params = SolveParams(local_routes=4, local_s_per_100=0.3)
    better, floors, cost = improve_locally(
        instance,
        vehicles,
        plan,
        {},
        before,
        params,
        time.perf_counter() + 3.0,
        on_better=lambda cost, *_: reported.append(cost),
    )
    assert cost < before
    assert cost == model_cost(instance, better)  # the sum of the parts' savings is the day's
    assert reported[-1] == cost and reported == sorted(reported, reverse=True)
    served = sorted(d for trips in plan.values() for trip in trips for d in trip)
    assert sorted(d for trips in better.values() for trip in trips for d in trip) == served
    assert check(problem, finish(instance, better, floors)) == []


def test_part_models_do_not_outlive_their_search(make) -> None:
    """OR-Tools keeps a search's callback as long as its model: a callback that reached the model would make a
    cycle through C++ that no collection frees, and every part's model (thousands a day) would stay."""
    instance, vehicles, plan = day(busy_day(make, jobs=60))

    def models() -> int:
        return sum(isinstance(o, pywrapcp.RoutingModel) for o in gc.get_objects())

    before = models()
    params = SolveParams(local_routes=3, local_s_per_100=0.05)
    improve_locally(instance, vehicles, plan, {}, model_cost(instance, plan), params, time.perf_counter() + 1.0)
    gc.collect()
    assert models() == before


def test_a_tanker_on_the_road_keeps_the_trip_under_way(make) -> None:
    problem = busy_day(make, jobs=80)
    _, _, plan = day(problem)
    tanker = min(plan)
    first_trip = tuple(problem.jobs[d].id for d in plan[tanker][0])  # seed 0: delivery d is job d here
    options = msgspec.structs.replace(
        problem.options, started=(StartedTrip(tanker_id=problem.tankers[tanker].id, job_ids=first_trip),)
    )
    on_the_road = msgspec.structs.replace(problem, options=options)
    instance = build_instance(on_the_road, matrix_for(on_the_road, None), seed=0)
    vehicles = usable_tankers(instance)
    assert [d.job_index for d in instance.deliveries] == list(range(len(problem.jobs)))
    before = model_cost(instance, plan)
    better, floors, cost = improve_locally(
        instance, vehicles, plan, {}, before, SolveParams(local_routes=len(plan)), time.perf_counter() + 2.0
    )
    assert cost < before  # every part holds every used tanker, this one too
    assert better[tanker][0] == plan[tanker][0]
    assert check(on_the_road, finish(instance, better, floors)) == []


def test_the_localized_search_is_for_big_days_and_never_under_a_solution_limit() -> None:
    params = SolveParams()
    big = params.big_day_above + 1
    assert local_share(params, big, trips=1) == params.warm_local_share  # big: starts from the construction
    assert local_share(params, big, trips=3) == params.warm_local_share
    assert local_share(msgspec.structs.replace(params, warm_local_share=None), big, trips=3) == 0.0
    assert local_share(msgspec.structs.replace(params, solution_limit=50), big, trips=3) == 0.0
    cold = msgspec.structs.replace(params, warm_start_single_trip=False)  # one trip each starts cold
    assert local_share(cold, big, trips=1) == params.local_share
    assert local_share(cold, params.big_day_above, trips=1) == 0.0
    assert local_share(msgspec.structs.replace(cold, warm_local_share=None), big, trips=1) == params.local_share
    assert local_share(msgspec.structs.replace(cold, solution_limit=50), big, trips=1) == 0.0
    assert local_share(msgspec.structs.replace(cold, local_share=None), big, trips=1) == 0.0


def test_solve_with_the_localized_search_returns_checked_plans(make) -> None:
    reloads = busy_day(make, jobs=120)
    problem = msgspec.structs.replace(reloads, options=msgspec.structs.replace(reloads.options, multi_trip=False))
    for isolate, warm in ((True, False), (False, False), (True, True)):  # cold: iterated local search first
        params = SolveParams(
            time_limit_s=3.0,
            big_day_above=50,
            local_routes=4,
            isolate=isolate,
            workers=1,
            warm_start_single_trip=warm,
        )
        make.run(problem, params=params)  # the independent checker runs inside
