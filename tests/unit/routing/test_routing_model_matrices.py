"""The matrices the OR-Tools model is given, and the memory-saving ways they are built: every vehicle's
arc cost must still be its distance x its price per km, every time transit service + driving time."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from ortools.constraint_solver import routing_ils_pb2

from routing import UNREACHABLE, Depot, Matrix, Problem, matrix_for
from routing.matrix import matrix_arrays
from routing.problem import discharge_time_s
from routing.solver.instance import build_instance
from routing.solver.model import build_model, node_matrix, usable_tankers
from routing.solver.search import SolveParams, search_parameters


def mixed_fleet_day(make) -> Problem:
    """Three prices per km, two depots, reload nodes (several trips) and a job split over two trucks."""
    lat, lon = make.at(12, -6)
    second = Depot(id="D2", lat=lat, lon=lon, open_s=5 * make.H, close_s=20 * make.H)
    tankers = [
        make.tanker("T1", cost_per_km_minor=650),
        make.tanker("T2", cost_per_km_minor=600, depot_id="D2"),
        make.tanker("T3", cost_per_km_minor=450, compartments=(5_000, 5_000)),
        make.tanker("T4", cost_per_km_minor=650, depot_id="D2", fixed_cost_minor=0),
    ]
    jobs = [make.job(f"J{i}", (i * 7) % 23 - 11, (i * 5) % 17 - 8, litres=2_000 + 500 * i) for i in range(12)]
    jobs.append(make.job("BIG", 4, 4, litres=45_000))
    base = make.problem(jobs, tankers, multi_trip=True, max_trips=3)
    return Problem(depots=(*base.depots, second), tankers=base.tankers, jobs=base.jobs, options=base.options)


def open_model(problem: Problem, seed: int):
    instance = build_instance(problem, matrix_for(problem), seed=seed)
    return instance, build_model(instance, usable_tankers(instance))


def closed_model(problem: Problem, seed: int):
    instance, model = open_model(problem, seed)
    model.routing.CloseModelWithParameters(search_parameters(model, SolveParams(), 1.0))
    return instance, model


def node_locations(model) -> dict[int, int]:
    """OR-Tools index -> location (depots, then jobs), from the model's own bookkeeping."""
    instance, manager = model.instance, model.manager
    problem = instance.problem
    by_node = dict(enumerate(range(len(problem.depots))))
    for delivery, node in zip(instance.deliveries, model.delivery_node, strict=True):
        by_node[node] = problem.job_location(delivery.job_index)
    for node, tanker_index in model.reload_tanker.items():
        by_node[node] = instance.depot_location(tanker_index)
    indices = model.routing.Size() + len(model.vehicle_tanker)  # ends come after the nodes and starts
    return {index: by_node[manager.IndexToNode(index)] for index in range(indices)}


@pytest.mark.parametrize("seed", [0, 5])
def test_every_vehicle_pays_its_own_price_per_km(make, seed) -> None:
    problem = mixed_fleet_day(make)
    instance, model = closed_model(problem, seed)
    routing = model.routing
    assert len({instance.tanker(t).cost_per_km_minor for t in model.vehicle_tanker}) == 3
    assert model.reload_tanker and any(d.parts > 1 for d in instance.deliveries)
    where = node_locations(model)
    dist = np.array(instance.matrix.distances_m)
    inner = [i for i in range(routing.Size()) if not routing.IsStart(i)]
    for vehicle, tanker_index in enumerate(model.vehicle_tanker):
        tanker = instance.tanker(tanker_index)
        sources = [routing.Start(vehicle), *inner]
        targets = [*inner, routing.End(vehicle)]
        for i in sources:
            for j in targets:
                expected = int(dist[where[i], where[j]]) * tanker.cost_per_km_minor
                if routing.IsStart(i) and not routing.IsEnd(j):
                    expected += tanker.fixed_cost_minor * 1000  # OR-Tools puts the fixed cost on the first arc
                if routing.IsStart(i) and routing.IsEnd(j):
                    expected = 0  # an unused vehicle costs nothing
                assert routing.GetArcCostForVehicle(i, j, vehicle) == expected, (vehicle, i, j)


def test_time_transit_is_service_then_driving(make) -> None:
    problem = mixed_fleet_day(make)
    instance, model = closed_model(problem, 3)
    routing, manager = model.routing, model.manager
    where = node_locations(model)
    dur = np.array(instance.matrix.durations_s)
    service = {}
    for delivery, node in zip(instance.deliveries, model.delivery_node, strict=True):
        service[node] = discharge_time_s(problem.jobs[delivery.job_index], delivery.litres)
    for node, tanker_index in model.reload_tanker.items():
        service[node] = instance.full_load_s[tanker_index]
    for vehicle in range(len(model.vehicle_tanker)):
        for i in [routing.Start(vehicle), *range(routing.Size())]:
            if routing.IsEnd(i):
                continue
            for j in range(routing.Size() + len(model.vehicle_tanker)):
                if routing.IsStart(j):
                    continue
                expected = service.get(manager.IndexToNode(i), 0) + int(dur[where[i], where[j]])
                assert model.time.GetTransitValue(i, j, vehicle) == expected


@pytest.mark.parametrize("big", [False, True])
def test_node_matrix_is_the_plain_matrix(big) -> None:
    rng = np.random.default_rng(7)
    values = rng.integers(0, 5_000, size=(9, 9)).astype(np.int64)
    if big:  # pairs with no road, and values past the lookup table: ranked by binary search
        values[2, :] = UNREACHABLE
        values[:, 5] = UNREACHABLE
        values[1, 3] = 1 << 40
    loc = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 4, 4, 8])  # depots reused (reloads), a split job
    add = rng.integers(0, 3, size=len(loc)).astype(np.int64) * 900
    for scale, offsets in ((1, None), (650, None), (1, add)):
        rows = node_matrix(values, loc, scale=scale, add=offsets)
        plain = values[np.ix_(loc, loc)] * scale + (0 if offsets is None else offsets[:, None])
        assert rows == [tuple(row) for row in plain.tolist()]
        assert all(type(v) is int for row in rows for v in row)
    rows = node_matrix(values, loc, scale=650)
    assert rows[0] is rows[9]  # one row tuple per location
    shared = {id(v) for row in rows for v in row}
    assert len(shared) == len({v for row in rows for v in row})  # one int object per distinct value


def test_matrix_from_arrays_shares_equal_values_and_keeps_its_arrays() -> None:
    distances = np.array([[0, 1500, 2500.0], [1500, 0, 7000], [2500, 7000, 0]])
    durations = np.array([[0, 108, 180], [108, 0, UNREACHABLE], [180, UNREACHABLE, 0]])
    matrix = Matrix.from_arrays(distances, durations)
    assert matrix.distances_m == ((0, 1500, 2500), (1500, 0, 7000), (2500, 7000, 0))
    assert matrix.durations_s == ((0, 108, 180), (108, 0, UNREACHABLE), (180, UNREACHABLE, 0))
    assert matrix.distances_m[0][1] is matrix.distances_m[1][0]
    assert matrix.durations_s[1][2] is matrix.durations_s[2][1]
    assert all(type(v) is int for rows in (matrix.distances_m, matrix.durations_s) for row in rows for v in row)
    distances[0, 1] = 1  # the matrix is a copy
    dist, dur = matrix_arrays(matrix)
    assert dist.dtype == np.int64 and dist.tolist() == [list(row) for row in matrix.distances_m]
    assert dur.tolist() == [list(row) for row in matrix.durations_s]
    assert not dist.flags.writeable and not dur.flags.writeable
    # A matrix that did not come from arrays (decoded JSON, a test) is converted from its tuples.
    plain = Matrix(distances_m=((0, 5), (6, 0)), durations_s=((0, 1), (2, 0)))
    assert matrix_arrays(plain)[0].tolist() == [[0, 5], [6, 0]]
    assert Matrix.from_arrays(np.array([[0]]), np.array([[0]])).distances_m == ((0,),)
    assert Matrix.from_arrays(np.zeros((0, 0)), np.zeros((0, 0))).distances_m == ()


def test_the_iterated_search_descends_after_each_ruin_unless_told_not_to(make) -> None:
    _, model = open_model(mixed_fleet_day(make), 0)
    default = search_parameters(model, SolveParams(), 1.0)
    plain = search_parameters(model, SolveParams(improve_perturbed=False), 1.0)
    assert default.use_iterated_local_search and plain.use_iterated_local_search
    assert default.iterated_local_search_parameters.improve_perturbed_solution is True
    assert plain.iterated_local_search_parameters.improve_perturbed_solution is False
    assert (
        default.iterated_local_search_parameters.ruin_recreate_parameters.ruin_strategies[0].sisr.avg_num_removed_visits
        == 20
    )


def test_one_perturbation_in_n_ruins_whole_routes_on_days_of_one_trip_per_tanker(make) -> None:
    tankers = [make.tanker(f"T{i}") for i in range(3)]
    jobs = [make.job(f"J{i}", (i * 7) % 23 - 11, (i * 5) % 17 - 8, litres=2_000 + 500 * i) for i in range(12)]
    _, single = open_model(make.problem(jobs, tankers), 0)
    plain = search_parameters(single, SolveParams(route_ruin_every=None), 1.0).iterated_local_search_parameters
    mixed = search_parameters(single, SolveParams(route_ruin_every=4, route_ruin_routes=2), 1.0)
    ruin = mixed.iterated_local_search_parameters.ruin_recreate_parameters
    assert [r.WhichOneof("strategy") for r in plain.ruin_recreate_parameters.ruin_strategies] == ["sisr"]
    assert [r.WhichOneof("strategy") for r in ruin.ruin_strategies] == ["sisr"] * 3 + ["spatially_close_routes"]
    assert ruin.ruin_strategies[3].spatially_close_routes.num_ruined_routes == 2
    # One strategy drawn per perturbation, so whole routes go in about one in four.
    assert ruin.ruin_composition_strategy == routing_ils_pb2.RuinCompositionStrategy.RUN_ONE_RANDOMLY
    default = search_parameters(single, SolveParams(), 1.0).iterated_local_search_parameters.ruin_recreate_parameters
    assert [r.WhichOneof("strategy") for r in default.ruin_strategies].count("spatially_close_routes") == 1
    assert len(default.ruin_strategies) == 16
    # Where tankers reload, a route is a whole day of trips: only SISR strings.
    _, reloads = open_model(mixed_fleet_day(make), 0)
    reload_ruins = search_parameters(reloads, SolveParams(), 1.0).iterated_local_search_parameters
    assert [r.WhichOneof("strategy") for r in reload_ruins.ruin_recreate_parameters.ruin_strategies] == ["sisr"]


@pytest.mark.parametrize("bad", [{"route_ruin_every": 0}, {"route_ruin_every": -3}, {"route_ruin_routes": 0}])
def test_a_route_ruin_setting_out_of_range_is_refused_not_ignored(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="route_ruin"):
        SolveParams(**bad)  # type: ignore[arg-type]
    with pytest.raises(msgspec.ValidationError, match="route_ruin"):  # what the benchmarks' --params go through
        msgspec.convert(bad, SolveParams)
