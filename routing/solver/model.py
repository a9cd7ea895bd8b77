"""The OR-Tools routing model.

One OR-Tools vehicle per tanker.  Extra trips are optional *reload* nodes at the tanker's depot
(max_trips - 1 per tanker, only that tanker may visit them): a reload resets the litres dimension
through its slack and costs a full-truck loading time.  Shift, duty and depot hours are then plain
per-vehicle dimension bounds, which OR-Tools' local-search filters understand; chaining one vehicle per
trip would need cross-vehicle constraints that the filters cannot see.

Arc costs and the litres, compartment and preference vectors are registered on the C++ side
(RegisterTransitMatrix / RegisterUnaryTransitVector).  The time dimension's transit is the one Python
callback, for a measured reason (see `_time_transit`).  Costs are in milli-minor units (metres x
minor-per-km) so that per-km prices need no rounding inside the search.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp

from routing.matrix import take
from routing.problem import discharge_time_s
from routing.solver.instance import Instance
from routing.solver.packing import min_compartments_for

MILLI = 1000


@dataclass(slots=True)
class Model:
    instance: Instance
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time: pywrapcp.RoutingDimension
    delivery_node: list[int]  # delivery index -> node
    node_delivery: dict[int, int]  # node -> delivery index
    reload_tanker: dict[int, int]  # reload node -> tanker index
    vehicle_tanker: list[int]  # vehicle -> tanker index
    mean_neighbour_cost: float = 0.0


def usable_tankers(instance: Instance) -> list[int]:
    """Tankers that can finish loading before their depot closes and their shift ends."""
    out = []
    for index, tanker in enumerate(instance.problem.tankers):
        depot = instance.problem.depot(tanker.depot_id)
        depart = max(tanker.shift_start_s, depot.open_s) + instance.full_load_s[index]
        if depart <= min(depot.close_s, tanker.shift_end_s):
            out.append(index)
    return out


def build_model(instance: Instance, vehicles: list[int], *, check_period: int = 1) -> Model:
    problem = instance.problem
    depots = len(problem.depots)
    node_location = list(range(depots))
    service = [0] * depots
    delivery_node = []
    for delivery in instance.deliveries:
        delivery_node.append(len(node_location))
        node_location.append(problem.job_location(delivery.job_index))
        service.append(discharge_time_s(problem.jobs[delivery.job_index], delivery.litres))
    reload_tanker: dict[int, int] = {}
    for tanker_index in vehicles:
        for _ in range(instance.trips - 1):
            reload_tanker[len(node_location)] = tanker_index
            node_location.append(instance.depot_location(tanker_index))
            service.append(instance.full_load_s[tanker_index])

    starts = [instance.depot_location(t) for t in vehicles]
    manager = pywrapcp.RoutingIndexManager(len(node_location), len(vehicles), starts, starts)
    routing = pywrapcp.RoutingModel(manager, model_parameters(check_period))
    loc = np.array(node_location, dtype=np.int64)

    _add_costs(routing, instance, vehicles, loc)
    time = _add_time(routing, manager, instance, vehicles, loc, np.array(service, dtype=np.int64))
    model = Model(
        instance,
        manager,
        routing,
        time,
        delivery_node,
        {node: i for i, node in enumerate(delivery_node)},
        reload_tanker,
        vehicles,
    )
    _add_litres(model)
    if problem.options.full_compartments:
        _add_compartment_count(model)
    _add_visits(model)
    _close_unused_depots(model, set(starts))
    _add_preferences(model)
    model.mean_neighbour_cost = _mean_neighbour_cost(instance, vehicles, loc, depots)
    return model


def model_parameters(check_period: int = 1) -> object:
    """OR-Tools' routing defaults, but an uncompressed trail, and the constraint solver's full check of an
    improving move only every ``check_period`` moves (OR-Tools' "fast local search").

    The default compresses the constraint solver's trail with zlib: every variable change the search
    makes (each restore and propagation of a candidate plan) goes through deflate.  Measured with perf on
    a 1,000-customer day: 27 % of the search's time in libz.  The trail of a local search is shallow (its
    nested searches backtrack to the root), so the memory it saves is small.

    Between two checks a move is taken on the local-search filters' word alone.  A check costs a restore
    and propagation of the whole plan (about 20 ms at 1,000 customers, most of the first descent's time);
    when a check fails, OR-Tools goes back to the last checked plan, so no unchecked plan is ever returned.
    """
    parameters = pywrapcp.DefaultRoutingModelParameters()
    parameters.solver_parameters.compress_trail = parameters.solver_parameters.NO_COMPRESSION
    parameters.solver_parameters.check_solution_period = check_period
    return parameters


def node_matrix(
    values: np.ndarray, loc: np.ndarray, *, scale: int = 1, add: np.ndarray | None = None
) -> list[tuple[int, ...]]:
    """The node matrix ``values[loc[i], loc[j]] * scale + add[i]`` as RegisterTransitMatrix takes it (and as
    the time transit indexes it, see `_time_transit`).

    The binding accepts only a list of lists (or tuples) of Python ints, which it copies into C++.  Made with
    ``tolist()``, that list is nodes² fresh 32-byte ints plus the pointers: about 270 MB at 2,600 nodes for
    a 55 MB C++ matrix, on top of the nodes² int64 arrays it is computed from.  Here rows are computed
    from the location matrix one at a time, nodes at the same location (with the same ``add``) share one
    row tuple, and equal values in rows of the same ``add`` are one int object: the list costs little more
    than its pointers.
    """
    add = np.zeros(len(loc), dtype=np.int64) if add is None else add
    keys = list(zip(loc.tolist(), add.tolist(), strict=True))
    columns = np.unique(loc)
    rows: dict[tuple[int, int], tuple[int, ...]] = {}
    for extra in np.unique(add).tolist():
        locations = np.unique(loc[add == extra])
        distinct, code = _codes(values, locations, columns)
        table = (distinct * scale + extra).tolist()
        for location in locations.tolist():
            rows[location, extra] = take(table, code(values[location, loc]).tolist())
    return [rows[key] for key in keys]


BITMAP_MAX = 1 << 22  # largest value ranked through lookup arrays (20 MB); beyond, binary search


def _codes(
    values: np.ndarray, rows: np.ndarray, columns: np.ndarray
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The sorted distinct values of ``values[rows][:, columns]``, and a function giving an entry's rank
    among them.  Small non-negative values (metres, seconds) are ranked by a lookup array; others (e.g.
    UNREACHABLE pairs) by binary search.  Read in blocks of rows: no copy of the whole matrix."""
    blocks = (values[np.ix_(rows[start : start + 256], columns)] for start in range(0, len(rows), 256))
    if values.size and int(values.min()) >= 0 and int(values.max()) < BITMAP_MAX:
        seen = np.zeros(int(values.max()) + 1, dtype=bool)
        for block in blocks:
            seen[block] = True
        rank = np.cumsum(seen, dtype=np.int32) - 1
        return np.flatnonzero(seen), rank.__getitem__
    distinct = np.unique(np.concatenate([np.zeros(0, np.int64), *(np.unique(block) for block in blocks)]))
    return distinct, lambda entries: np.searchsorted(distinct, entries)


def _add_costs(routing: pywrapcp.RoutingModel, instance: Instance, vehicles: list[int], loc: np.ndarray) -> None:
    evaluators: dict[int, int] = {}
    for vehicle, tanker_index in enumerate(vehicles):
        tanker = instance.tanker(tanker_index)
        per_km = tanker.cost_per_km_minor
        if per_km not in evaluators:
            evaluators[per_km] = routing.RegisterTransitMatrix(node_matrix(instance.dist, loc, scale=per_km))
        routing.SetArcCostEvaluatorOfVehicle(evaluators[per_km], vehicle)
        routing.SetFixedCostOfVehicle(tanker.fixed_cost_minor * MILLI, vehicle)


def _add_time(
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    instance: Instance,
    vehicles: list[int],
    loc: np.ndarray,
    service: np.ndarray,
) -> pywrapcp.RoutingDimension:
    problem = instance.problem
    horizon = max([t.shift_end_s for t in problem.tankers] + [w[1] for j in problem.jobs for w in j.windows] + [1])
    transit = routing.RegisterTransitCallback(
        _time_transit(manager, routing, node_matrix(instance.dur, loc, add=service))
    )
    routing.AddDimension(transit, horizon, horizon, False, "time")
    time = routing.GetDimensionOrDie("time")
    started = {trip.tanker_id: trip for trip in problem.options.started}
    for vehicle, tanker_index in enumerate(vehicles):
        tanker = instance.tanker(tanker_index)
        depot = problem.depot(tanker.depot_id)
        load = instance.full_load_s[tanker_index]
        # The start cumul is the departure from the rack, after a (full-truck) loading.
        earliest = max(tanker.shift_start_s, depot.open_s) + load
        latest = min(depot.close_s, tanker.shift_end_s)
        start = time.CumulVar(routing.Start(vehicle))
        trip = started.get(tanker.id)
        if trip is not None and trip.depart_s is not None:
            start.SetValue(trip.depart_s)
            earliest = trip.depart_s
        else:
            start.SetRange(earliest, latest)
            # The departure ends a loading that may meet no span of full bays.
            _remove_spans(start, [(a + 1, b + load - 1) for a, b in depot.bays_full])
        time.CumulVar(routing.End(vehicle)).SetMax(tanker.shift_end_s)
        duty = tanker.max_duty_s if tanker.max_duty_s is not None else horizon
        # A duty limit longer than the shift allows never binds: leave it out, every span check costs search time.
        if duty - load < tanker.shift_end_s - earliest:
            time.SetSpanUpperBoundForVehicle(max(0, duty - load), vehicle)
    return time


def _time_transit(
    manager: pywrapcp.RoutingIndexManager, routing: pywrapcp.RoutingModel, rows: list[tuple[int, ...]]
) -> Callable[[int, int], int]:
    """Travel plus service time from index i to index j, as a Python callable.

    Not RegisterTransitMatrix: OR-Tools 9.15's cumul filter takes its transit evaluator by value
    (`FillDimensionValuesFromRoutingDimension`, an `absl::AnyInvocable` made from the registered
    `std::function`), so a registered matrix is copied whole, nodes² int64, for every route it checks.  At
    1,000 deliveries that is 8 MB per route and 190 ms per accepted move (perf: 70 % of the search in malloc
    and memmove).  A Python callable is copied as a reference; calling it costs well under a microsecond.
    On the 1,000-customer R1_10_1 this took the first solution from 2.3 s to 0.3 s and the moves in 10 s
    from 46 to 480 (benchmarks/results/routing-log.md, 2026-11-23)."""
    node_of = [int(manager.IndexToNode(index)) for index in range(routing.Size() + routing.vehicles())]
    by_index = [rows[node] for node in node_of]  # the row tuples are shared, not copied

    def transit(i: int, j: int) -> int:
        return by_index[i][node_of[j]]

    return transit


def _add_litres(model: Model) -> None:
    routing, manager, instance = model.routing, model.manager, model.instance
    size = manager.GetNumberOfNodes()
    demand = [0] * size
    for delivery, node in zip(instance.deliveries, model.delivery_node, strict=True):
        demand[node] = delivery.litres
    capacities = [instance.tanker(t).capacity_l for t in model.vehicle_tanker]
    for node, tanker_index in model.reload_tanker.items():
        demand[node] = -instance.tanker(tanker_index).capacity_l
    evaluator = routing.RegisterUnaryTransitVector(demand)
    slack = max(capacities) if model.reload_tanker else 0
    routing.AddDimensionWithVehicleCapacity(evaluator, slack, capacities, True, "litres")
    _only_reloads_have_slack(model, routing.GetDimensionOrDie("litres"))


def _add_compartment_count(model: Model) -> None:
    """Full-compartment trucks: a stop takes whole compartments, so count them (a lower bound per stop)."""
    routing, manager, instance = model.routing, model.manager, model.instance
    evaluators: dict[tuple[int, ...], int] = {}
    per_vehicle = []
    for tanker_index in model.vehicle_tanker:
        layout = instance.tanker(tanker_index).compartments
        if layout not in evaluators:
            counts = [0] * manager.GetNumberOfNodes()
            for delivery, node in zip(instance.deliveries, model.delivery_node, strict=True):
                counts[node] = min_compartments_for(layout, delivery.litres)
            for node in model.reload_tanker:
                counts[node] = -len(layout)
            evaluators[layout] = routing.RegisterUnaryTransitVector(counts)
        per_vehicle.append(evaluators[layout])
    capacities = [len(instance.tanker(t).compartments) for t in model.vehicle_tanker]
    slack = max(capacities) if model.reload_tanker else 0
    routing.AddDimensionWithVehicleTransitAndCapacity(per_vehicle, slack, capacities, True, "compartments")
    _only_reloads_have_slack(model, routing.GetDimensionOrDie("compartments"))


def _only_reloads_have_slack(model: Model, dimension: pywrapcp.RoutingDimension) -> None:
    if not model.reload_tanker:
        return
    for node in range(model.manager.GetNumberOfNodes()):
        if node in model.reload_tanker or node < len(model.instance.problem.depots):
            continue
        dimension.SlackVar(model.manager.NodeToIndex(node)).SetValue(0)


def _add_visits(model: Model) -> None:
    routing, manager, instance = model.routing, model.manager, model.instance
    vehicle_of_tanker: dict[int, int] = {t: v for v, t in enumerate(model.vehicle_tanker)}
    problem = instance.problem
    for delivery, node in zip(instance.deliveries, model.delivery_node, strict=True):
        index = manager.NodeToIndex(node)
        job = problem.jobs[delivery.job_index]
        windows = job.windows
        cumul = model.time.CumulVar(index)
        cumul.SetRange(windows[0][0], windows[-1][1])
        if len(windows) == 2:
            cumul.RemoveInterval(windows[0][1] + 1, windows[1][0] - 1)
        penalty = job.penalty_minor * MILLI // delivery.parts
        routing.AddDisjunction([index], penalty)
        allowed = [vehicle_of_tanker[t] for t in instance.eligible[delivery.job_index] if t in vehicle_of_tanker]
        if len(allowed) < len(model.vehicle_tanker):
            _allow_vehicles(routing, index, allowed)
    for node, tanker_index in model.reload_tanker.items():
        index = manager.NodeToIndex(node)
        tanker = instance.tanker(tanker_index)
        depot = problem.depot(tanker.depot_id)
        routing.AddDisjunction([index], 0)
        _allow_vehicles(routing, index, [vehicle_of_tanker[tanker_index]])
        # Loading starts at the reload node's cumul and must end by closing time.
        latest = min(depot.close_s - instance.full_load_s[tanker_index], tanker.shift_end_s)
        model.time.CumulVar(index).SetRange(min(depot.open_s, latest), latest)
        load = instance.full_load_s[tanker_index]
        # Loading starts here and may meet no span of full bays.
        _remove_spans(model.time.CumulVar(index), [(a - load + 1, b - 1) for a, b in depot.bays_full])


def _remove_spans(var: Any, spans: list[tuple[int, int]]) -> None:
    """Take the spans out of a time variable's domain, unless nothing would be left (a model with an empty domain
    has no solution at all; the schedule and the checker still keep loadings out of full bays then)."""
    value = var.Min()
    for low, high in sorted(spans):
        if low <= value <= high:
            value = high + 1
    if value > var.Max():
        return
    for low, high in spans:
        var.RemoveInterval(low, high)


def _close_unused_depots(model: Model, starts: set[int]) -> None:
    """A depot no usable tanker starts from is still a node of the model, and OR-Tools makes every node that
    is neither a route start nor optional a compulsory visit: make it optional and never visited."""
    routing, manager = model.routing, model.manager
    for node in range(len(model.instance.problem.depots)):
        if node not in starts:
            index = manager.NodeToIndex(node)
            routing.AddDisjunction([index], 0)
            routing.ActiveVar(index).SetValue(0)


def _add_preferences(model: Model) -> None:
    """Soft preferred tankers: a count of deliveries served by another tanker than the job prefers, per
    vehicle, with a soft upper bound of 0 at the route end costing options.preference_cost_minor each."""
    routing, manager, instance = model.routing, model.manager, model.instance
    problem = instance.problem
    cost = problem.options.preference_cost_minor * MILLI
    tanker_ids = [t.id for t in problem.tankers]
    usable = {tanker_ids[t] for t in model.vehicle_tanker}
    wants: dict[int, str] = {}  # node -> preferred tanker id
    for delivery, node in zip(instance.deliveries, model.delivery_node, strict=True):
        preferred = problem.jobs[delivery.job_index].preferred_tanker_id
        if preferred is not None and preferred in usable:
            wants[node] = preferred
    if not wants or cost <= 0:
        return
    size = manager.GetNumberOfNodes()
    evaluators: dict[str, int] = {}
    per_vehicle = []
    for tanker_index in model.vehicle_tanker:
        me = tanker_ids[tanker_index]
        key = me if me in wants.values() else ""  # tankers nobody prefers share one vector
        if key not in evaluators:
            misses = [0] * size
            for node, preferred in wants.items():
                misses[node] = int(preferred != me)
            evaluators[key] = routing.RegisterUnaryTransitVector(misses)
        per_vehicle.append(evaluators[key])
    routing.AddDimensionWithVehicleTransits(per_vehicle, 0, len(wants), True, "preference")
    dimension = routing.GetDimensionOrDie("preference")
    for vehicle in range(len(model.vehicle_tanker)):
        dimension.SetCumulVarSoftUpperBound(routing.End(vehicle), 0, cost)


def _allow_vehicles(routing: pywrapcp.RoutingModel, index: int, vehicles: list[int]) -> None:
    # SetAllowedVehiclesForIndex's Python binding rejects every argument in OR-Tools 9.15 (absl::Span);
    # restricting the vehicle variable is equivalent and checked by the vehicle-var filter.  -1 keeps
    # the visit droppable.
    routing.VehicleVar(index).SetValues([-1, *vehicles])


def lock_started_trips(model: Model) -> None:
    """Started trips keep their stops: chain them right after the start, then a reload or the end of the
    day (the truck is on the road with what it loaded for them: nothing joins the trip).

    Must run after the model is closed (NextVar exists only then).
    """
    routing, manager, instance = model.routing, model.manager, model.instance
    problem = instance.problem
    vehicle_of_tanker = {problem.tankers[t].id: v for v, t in enumerate(model.vehicle_tanker)}
    nodes_of_job: dict[str, list[tuple[int, int]]] = {}
    for i, delivery in enumerate(instance.deliveries):
        job_id = problem.jobs[delivery.job_index].id
        nodes_of_job.setdefault(job_id, []).append((delivery.part, model.delivery_node[i]))
    for trip in problem.options.started:
        vehicle = vehicle_of_tanker.get(trip.tanker_id)
        if vehicle is None:
            continue
        previous = routing.Start(vehicle)
        for job_id in trip.job_ids:
            for _, node in sorted(nodes_of_job.get(job_id, [])):
                index = manager.NodeToIndex(node)
                routing.NextVar(previous).SetValue(index)
                previous = index
        tanker_index = model.vehicle_tanker[vehicle]
        reloads = [manager.NodeToIndex(n) for n, t in model.reload_tanker.items() if t == tanker_index]
        routing.NextVar(previous).SetValues([*reloads, routing.End(vehicle)])


def _mean_neighbour_cost(instance: Instance, vehicles: list[int], loc: np.ndarray, depots: int) -> float:
    """Mean cost from each delivery to its nearest other node: the scale of one 'step' of a route."""
    count = len(instance.deliveries)
    if count == 0 or not vehicles:
        return 1.0
    per_km = float(np.mean([instance.tanker(t).cost_per_km_minor for t in vehicles])) or 1.0
    nearest = np.empty(count, dtype=np.int64)
    for start in range(0, count, 256):  # row blocks: no deliveries x nodes array at once
        rows = np.arange(start, min(count, start + 256))
        block = instance.dist[np.ix_(loc[depots + rows], loc[: depots + count])]
        block[np.arange(len(rows)), depots + rows] = np.iinfo(np.int64).max  # not itself
        nearest[rows] = block.min(axis=1)
    return max(1.0, float(nearest.astype(float).mean()) * per_km)


def plan_routes(model: Model, plan: dict[int, list[list[int]]]) -> list[list[int]]:
    """A plan (tanker -> trips of delivery indices) as OR-Tools routes: one per vehicle, trips joined by
    the tanker's reload nodes.  Trips beyond the reload nodes available are dropped."""
    reloads: dict[int, list[int]] = {}
    for node, tanker_index in model.reload_tanker.items():
        reloads.setdefault(tanker_index, []).append(node)
    routes = []
    for tanker_index in model.vehicle_tanker:
        route: list[int] = []
        spare = sorted(reloads.get(tanker_index, []))
        for number, trip in enumerate(plan.get(tanker_index, [])):
            if number:
                if number > len(spare):
                    break
                route.append(model.manager.NodeToIndex(spare[number - 1]))
            route += [model.manager.NodeToIndex(model.delivery_node[d]) for d in trip]
        routes.append(route)
    return routes


def plan_cost(model: Model, plan: dict[int, list[list[int]]]) -> int:
    """The objective of a plan (tanker -> trips of delivery indices) in a closed model: see `routes_cost`."""
    return routes_cost(model, plan_routes(model, plan))


def routes_cost(model: Model, routes: list[list[int]]) -> int:
    """The objective of routes (indices, as `plan_routes` gives them) in a closed model: arc costs (a used
    vehicle's fixed cost comes with its first arc), missed tanker preferences and the penalties of the
    deliveries left out.

    Not the search's cost variable: a vehicle whose route holds a reload node and no delivery pays its fixed
    cost there, while `read_plan` drops such empty trips, so the plan read is cheaper than that cost."""
    routing, manager = model.routing, model.manager
    has_preference = "preference" in routing.GetAllDimensionNames()  # HasDimension's binding rejects a str
    preference = routing.GetDimensionOrDie("preference") if has_preference else None
    total, visited = 0, set()
    for vehicle, route in enumerate(routes):
        path = [routing.Start(vehicle), *route, routing.End(vehicle)]
        arcs = list(itertools.pairwise(path))
        total += sum(routing.GetArcCostForVehicle(a, b, vehicle) for a, b in arcs)
        if preference is not None:
            misses = sum(preference.GetTransitValue(a, b, vehicle) for a, b in arcs)
            total += misses * preference.GetCumulVarSoftUpperBoundCoefficient(routing.End(vehicle))
        visited.update(route)
    for node in model.delivery_node:
        index = manager.NodeToIndex(node)
        if index not in visited:
            total += sum(routing.GetDisjunctionPenalty(d) for d in routing.GetDisjunctionIndices(index))
    return total
