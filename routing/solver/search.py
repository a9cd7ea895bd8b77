"""Search settings and the search loop: limits, progress, cancellation.

The default is OR-Tools' iterated local search with SISR ruin-and-recreate and simulated-annealing
acceptance, which beat the default guided local search on Solomon (benchmarks/results/routing-log.md,
2026-11-22).  It must be run through SolveWithIteratedLocalSearch (the flag alone is ignored by
SolveWithParameters) and needs a ruin strategy.  The annealing temperatures are in cost units, so they are
scaled by the instance's mean nearest-neighbour arc cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import msgspec
from google.protobuf import text_format
from ortools.constraint_solver import pywrapcp

from routing.solver.model import Model, lock_started_trips


class SolveParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How solve() searches.  Each default is the best setting measured on the benchmarks (docs/ROUTING.md, "Current
    figures"); the measurements, and the settings tried and not kept, are in benchmarks/results/routing-log.md."""

    # None: Problem.options.time_limit_s.
    time_limit_s: float | None = None
    # "wall": the limit is elapsed time (what a dispatcher waits).  "cpu": CPU time of the search
    # process, for fair benchmarks on a shared machine; a wall limit of wall_factor x the budget still
    # applies (and paces the annealing schedule, so a large factor leaves the search hot when the budget ends it).
    clock: Literal["wall", "cpu"] = "wall"
    wall_factor: float = 1.5
    # Stop after this many solutions: with it (and no binding time limit) runs are exactly repeatable.
    solution_limit: int | None = None
    # "ils": OR-Tools' iterated local search (ruin and recreate, annealing acceptance), which beat guided local
    # search on Solomon; "gls": guided local search; "descent": the first local optimum.
    metaheuristic: Literal["ils", "gls", "descent"] = "ils"
    # The SISR ruin of the iterated local search: visits removed on average, longest string, bypass probability.
    # 20 visits beat 10 on Solomon.
    sisr_avg_removed_visits: int = 20
    sisr_max_sequence: int = 10
    sisr_bypass_factor: float = 0.01
    # One perturbation in this many (drawn at random) ruins route_ruin_routes whole routes, spatially close, instead
    # of SISR strings; None: never.  SISR removes at most sisr_max_sequence visits of a route, so it never empties
    # one, and a plan with a route too many stays there (Solomon's C204).  Only on days of one trip per tanker:
    # where tankers reload, a route is a whole day of trips, and the fuel days measured dearer with it.  One in 16
    # was better than none and than one in 8 or 4 (which lose on Solomon's R2).
    route_ruin_every: int | None = 16
    route_ruin_routes: int = 1
    # Descend with the local-search operators after every ruin and recreate (True), or accept or refuse the
    # recreated plan as it is (False: many more, cheaper iterations, as in SISR without local search, but worse).
    improve_perturbed: bool = True
    # Annealing temperatures as multiples of the mean nearest-neighbour arc cost (so they suit any instance's
    # scale).  A cooler start or a warmer end measured no better.
    sa_initial: float = 2.0
    sa_final: float = 0.0002
    # First-solution insertion only among this many nearest neighbours when there are more deliveries
    # than neighbours_above: insertion over all pairs is quadratic, and this keeps a big day's first plan to seconds.
    neighbours: int = 40
    neighbours_above: int = 300
    # Local-search moves only towards this many nearest neighbours of a node (granular neighbourhoods);
    # None: all nodes (OR-Tools' default).  Off: with time windows the nearest nodes are the wrong ones, and
    # OR-Tools 9.15's implementation accepts almost no move.
    ls_neighbours: int | None = None
    # Switch off the operators for pickup-and-delivery pairs and the path-rebuilding LNS operators (and on
    # big days the expensive-chain relocation): this planner has no pairs, and the others cost much and find
    # little inside iterated local search (LEAN_OFF, LEAN_OFF_BIG).
    lean_operators: bool = True
    # On days above big_day_above deliveries: OR-Tools checks an improving move with its full constraint
    # propagation only every check_solution_period moves, trusting its local-search filters in between
    # (routing.solver.model.model_parameters), and the expensive-chain relocation is off (LEAN_OFF_BIG).  A full
    # check is most of a 1,000-delivery descent's time; on 100-customer days the same settings measured worse, so
    # small days keep OR-Tools' defaults.
    check_solution_period: int = 100
    big_day_above: int = 300
    log_search: bool = False
    # Our own sequential nearest-feasible construction (routing.solver.construct) runs first: an early
    # plan on big days, and the fallback when the search finds nothing better.
    construct: bool = True
    # Above this many deliveries the search starts from that construction (OR-Tools' own first solution
    # takes too long there): SolveFromAssignmentWithParameters with guided local search, between the phases of
    # the localized search (routing.solver.phases).  100: on generated 200-job fuel days the phases beat the cold
    # iterated local search.
    warm_start_above: int = 100
    # Days of one trip per tanker start from the construction too (False: from OR-Tools' own first solution, with
    # iterated local search and then the localized search).  True: with the phases, the 1,000-customer instances
    # measured better from the construction in three paired seeds.
    warm_start_single_trip: bool = True
    # Days above this many deliveries are planned whole for whole_day_share of the search time, then re-planned
    # part by part (routing.solver.decompose): parts of about part_size deliveries, decompose_rounds times over.
    # None (the default): never; on the generated 1,000-job day it did not beat searching the whole day.  Kept for
    # days bigger than the whole-day search can handle.
    decompose_above: int | None = None
    whole_day_share: float = 0.3
    part_size: int = 150
    decompose_rounds: int = 2
    # A part's search starts from the part's current routes (guided local search) or afresh (iterated local
    # search, from OR-Tools' own first solution); either way the part's plan only replaces a worse one.
    part_from_current: bool = True
    # Days above big_day_above deliveries whose search starts cold (one trip per tanker under
    # warm_start_single_trip=False): the whole-day search gets (1 - local_share) of the search time, then the plan
    # is improved a neighbourhood at a time (routing.solver.local): local_routes neighbouring tankers and up to
    # local_spares idle ones, searched from their routes for local_s_per_100 seconds per hundred deliveries.  None:
    # the whole-day search takes all the time.  One iteration of the whole-day search takes seconds on such a
    # day, a part's move milliseconds: many short parts beat few long ones, and 8 tankers did as well as 12.
    local_share: float | None = 0.7
    # The same on days whose search starts from the construction (above warm_start_above: every fuel day), after the
    # whole-day guided local search (routing.solver.phases); None: not after it.  With the first phase
    # (warm_local_first) 0.15 beat 0.3.
    warm_local_share: float | None = 0.15
    # Those days also begin with the localized search, for this share of the time, before the whole-day search;
    # None: they do not.  From the construction, parts take the day most of the way long before the whole-day
    # search's first descent would.
    warm_local_first: float | None = 0.3
    # ... and their plan is consolidated (extract.consolidate: left-out jobs filled in, tankers emptied where that
    # saves) after that first phase and after the whole-day search, each time within consolidate_share of the
    # time: the search moves a delivery or a few at a time, so it rarely empties a tanker.
    consolidate: bool = True
    consolidate_share: float = 0.05
    local_routes: int = 8
    local_spares: int = 2
    local_s_per_100: float = 0.12
    # Parallel searches (forked children) with different seeds; the best plan wins.  2 uses the second
    # core of a small machine; each child gets the full time (and CPU) budget.
    workers: int = 2
    # The planning process and its searches should stay within this many MiB: searches beyond what fits (each
    # holds its own OR-Tools model, see routing.solver.runner.search_memory_mb) are not started.  None: no cap.
    # 1,000 keeps a 2,000-job day to one search, well under 1 GB, for 0.6 % more cost.
    memory_budget_mb: int | None = 1000
    # Fleet trimming after the search (routing.solver.extract.trim_fleet) may take this share of the
    # time limit (at least 0.2 s).
    trim_share: float = 0.05
    # Run the search in a forked child process (the only way to honour cancel and CPU budgets, and it
    # bounds memory).  False: in-process, for debugging; cancel is then checked only before the search.
    isolate: bool = True

    def __post_init__(self) -> None:
        # OR-Tools refuses a ruin of no routes without raising (the search then finds nothing and the construction
        # stands), and a negative rate would drop SISR altogether: say so instead.
        if self.route_ruin_every is not None and self.route_ruin_every < 1:
            raise ValueError(f"route_ruin_every must be at least 1 or None, got {self.route_ruin_every}")
        if self.route_ruin_routes < 1:
            raise ValueError(f"route_ruin_routes must be at least 1, got {self.route_ruin_routes}")


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    best_cost_minor: int
    solutions: int
    elapsed_s: float


ProgressCallback = Callable[[Progress], None]


@dataclass(slots=True)
class SearchOutcome:
    assignment: pywrapcp.Assignment | None
    status: str
    stopped_by: str  # "time_limit", "cancelled", "solution_limit", "completed"
    solutions: int
    first_solution_s: float | None


def search_parameters(model: Model, params: SolveParams, limit_s: float) -> object:
    search = pywrapcp.DefaultRoutingSearchParameters()
    wall = limit_s * (params.wall_factor if params.clock == "cpu" else 1.0)
    search.time_limit.FromMilliseconds(max(1, int(wall * 1000)))
    search.log_search = params.log_search
    if params.solution_limit is not None:
        search.solution_limit = params.solution_limit
    text = "first_solution_strategy: PARALLEL_CHEAPEST_INSERTION\n"
    deliveries = len(model.instance.deliveries)
    if deliveries > params.neighbours_above:
        # Insertion over all pairs is quadratic per step; on big days only near neighbours are tried,
        # which keeps the first plan to seconds at 1,000-2,000 jobs.
        ratio = min(1.0, params.neighbours / deliveries)
        text += f"""global_cheapest_insertion_first_solution_parameters {{
          neighbors_ratio: {ratio} min_neighbors: {params.neighbours}
          use_neighbors_ratio_for_initialization: true }}\n"""
    if params.ls_neighbours is not None:
        ratio = min(1.0, params.ls_neighbours / max(1, deliveries))
        text += f"ls_operator_neighbors_ratio: {ratio}\nls_operator_min_neighbors: {params.ls_neighbours}\n"
    if params.lean_operators:
        off = LEAN_OFF + (LEAN_OFF_BIG if is_big_day(params, deliveries) else ())
        text += "local_search_operators {" + " ".join(f"{name}: BOOL_FALSE" for name in off) + "}\n"
    if params.metaheuristic == "gls":
        text += "local_search_metaheuristic: GUIDED_LOCAL_SEARCH\n"
    else:
        text += "local_search_metaheuristic: GREEDY_DESCENT\n"
    if params.metaheuristic == "ils":
        scale = model.mean_neighbour_cost
        sisr = f"""ruin_strategies {{ sisr {{
              max_removed_sequence_size: {params.sisr_max_sequence}
              avg_num_removed_visits: {params.sisr_avg_removed_visits}
              bypass_factor: {params.sisr_bypass_factor}
            }} }}"""
        ruins = sisr
        if params.route_ruin_every is not None and model.instance.trips == 1:
            # OR-Tools draws one listed strategy per perturbation and takes no weights: SISR is listed
            # route_ruin_every - 1 times beside the whole-route ruin.
            ruined = params.route_ruin_routes
            whole_routes = f"ruin_strategies {{ spatially_close_routes {{ num_ruined_routes: {ruined} }} }}"
            ruins = "\n".join([sisr] * (params.route_ruin_every - 1) + [whole_routes])
            ruins += "\nruin_composition_strategy: RUN_ONE_RANDOMLY"
        text += f"""
        use_iterated_local_search: true
        iterated_local_search_parameters {{
          perturbation_strategy: RUIN_AND_RECREATE
          improve_perturbed_solution: {"true" if params.improve_perturbed else "false"}
          ruin_recreate_parameters {{
            {ruins}
            recreate_strategy {{ heuristic: LOCAL_CHEAPEST_INSERTION }}
          }}
          reference_solution_acceptance_strategy {{ simulated_annealing {{
            cooling_schedule_strategy: EXPONENTIAL
            initial_temperature: {params.sa_initial * scale}
            final_temperature: {max(params.sa_final * scale, 1e-6)}
          }} }}
          best_solution_acceptance_strategy {{ greedy_descent {{}} }}
        }}"""
    text_format.Merge(text, search)
    return search


LEAN_OFF = (
    "use_relocate_pair",
    "use_exchange_pair",
    "use_light_relocate_pair",
    "use_relocate_subtrip",
    "use_exchange_subtrip",
    "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
    "use_global_cheapest_insertion_visit_types_lns",
    "use_local_cheapest_insertion_visit_types_lns",
)
# Measured on R1_10_1 (OR-Tools' local-search profile): 43 % of the neighbours tried, 1 % of the moves taken.
LEAN_OFF_BIG = ("use_relocate_expensive_chain",)


def is_big_day(params: SolveParams, deliveries: int) -> bool:
    return deliveries > params.big_day_above


def check_period(params: SolveParams, deliveries: int) -> int:
    """How often OR-Tools fully checks an improving move (see `check_solution_period`)."""
    return params.check_solution_period if is_big_day(params, deliveries) else 1


ImprovementCallback = Callable[[int, int], None]  # (cost in milli-minor, solutions so far)


@dataclass(slots=True)
class _Reach:
    """What run_search's at-solution callback reaches, let go of once the search is over."""

    routing: pywrapcp.RoutingModel | None
    on_improvement: ImprovementCallback | None

    def clear(self) -> None:
        self.routing = None
        self.on_improvement = None


def run_search(
    model: Model,
    params: SolveParams,
    limit_s: float,
    *,
    on_improvement: ImprovementCallback | None = None,
    initial: list[list[int]] | None = None,
    locked: list[list[int]] | None = None,
) -> SearchOutcome:
    """Run OR-Tools to its own (wall) time or solution limit.

    ``initial``: routes (indices) to start guided local search from.  ``locked``: routes the iterated local
    search starts from (its first solution); it reports only plans at least as good, but the assignment it
    returns may be that first one, so read the best plan in ``on_improvement``.

    Nothing in-process can stop SolveWithIteratedLocalSearch early (custom limits, CancelSearch and
    FinishCurrentSearch are all ignored by its outer loop, measured on 9.15), so cancellation and CPU
    budgets are enforced from outside: see routing.solver.runner.
    """
    routing = model.routing
    warm = initial is not None
    if warm:
        params = msgspec.structs.replace(params, metaheuristic="gls")
    search = search_parameters(model, params, limit_s)
    wall0 = time.perf_counter()
    counter = {"solutions": 0}
    best: list[int] = []
    first: list[float] = []

    # OR-Tools keeps the callback for the model's lifetime, and a callback that reached the model would make
    # a cycle through C++ that Python never collects (measured: 1.9 GB after thousands of part searches).  So
    # it reaches everything through `reach`, emptied once the search is over.
    reach = _Reach(routing=routing, on_improvement=on_improvement)

    def at_solution() -> None:
        if reach.routing is None:  # the search is over
            return
        counter["solutions"] += 1
        cost = reach.routing.CostVar().Value()
        if not first:
            first.append(time.perf_counter() - wall0)
        if best and cost >= best[0]:
            return
        best[:] = [cost]
        if reach.on_improvement is not None:
            reach.on_improvement(cost, counter["solutions"])

    routing.AddAtSolutionCallback(at_solution)
    routing.CloseModelWithParameters(search)
    lock_started_trips(model)  # NextVar exists only once the model is closed
    try:
        assignment = _solve(model, params, search, initial, locked)
    finally:
        reach.clear()
    elapsed = time.perf_counter() - wall0
    if params.solution_limit is not None and counter["solutions"] >= params.solution_limit:
        stopped_by = "solution_limit"
    elif elapsed >= 0.98 * limit_s * (params.wall_factor if params.clock == "cpu" else 1.0):
        stopped_by = "time_limit"
    else:
        stopped_by = "completed"
    return SearchOutcome(
        assignment=assignment,
        # SolveWithIteratedLocalSearch leaves the status at "not solved" even when it found a plan.
        status="solved" if assignment is not None else _status_name(routing.status()),
        stopped_by=stopped_by,
        solutions=counter["solutions"],
        first_solution_s=first[0] if first else None,
    )


def _solve(
    model: Model,
    params: SolveParams,
    search: object,
    initial: list[list[int]] | None,
    locked: list[list[int]] | None,
) -> pywrapcp.Assignment | None:
    routing = model.routing
    if locked is not None:
        nodes = [[model.manager.IndexToNode(index) for index in route] for route in locked]
        if not routing.ApplyLocksToAllVehicles(nodes, True):
            raise ValueError("the locked routes are not routes of this model")
        if params.metaheuristic == "ils":
            return routing.SolveWithIteratedLocalSearch(search)
        return routing.SolveWithParameters(search)
    start = _start_from(routing, initial) if initial is not None else None
    if start is not None:
        return routing.SolveFromAssignmentWithParameters(start, search)
    if params.metaheuristic == "ils":
        return routing.SolveWithIteratedLocalSearch(search)
    return routing.SolveWithParameters(search)


def _start_from(routing: pywrapcp.RoutingModel, routes: list[list[int]]) -> pywrapcp.Assignment | None:
    """The plan as a first assignment.  A plan timed exactly (real loading times) may not fit the model's
    full-truck loading times: then the routes that fit on their own are kept, and the search places the rest."""
    start = routing.ReadAssignmentFromRoutes(routes, True)
    if start is not None:
        return start
    empty: list[list[int]] = [[] for _ in routes]
    fitting = [
        route if routing.ReadAssignmentFromRoutes([*empty[:k], route, *empty[k + 1 :]], True) is not None else []
        for k, route in enumerate(routes)
    ]
    return routing.ReadAssignmentFromRoutes(fitting, True)


def _status_name(status: int) -> str:
    names = {
        0: "not_solved",
        1: "success",
        2: "partial_success_local_optimum_not_reached",
        3: "fail",
        4: "fail_timeout",
        5: "invalid",
        6: "infeasible",
        7: "optimal",
    }
    return names.get(status, str(status))


def local_share(params: SolveParams, deliveries: int, trips: int) -> float:
    """The share of the search time given to the localized search (routing.solver.local) after the whole-day
    search: `local_share` on big days that start cold, `warm_local_share` on days that start from the
    construction (their whole-day guided search does more of the work); 0 when it is off
    and under a solution limit (repeatable runs).  See docs/ROUTING.md, "Localized search"."""
    warm = starts_warm(params, deliveries, trips)
    share = params.warm_local_share if warm else params.local_share
    if share is None or params.solution_limit is not None or not (warm or is_big_day(params, deliveries)):
        return 0.0
    return share


def local_first_share(params: SolveParams, deliveries: int, trips: int) -> float:
    """The share of the search time the localized search gets before the whole-day search: `warm_local_first`
    on days that start from the construction, 0 otherwise (and under a solution limit)."""
    share = params.warm_local_first
    if share is None or params.solution_limit is not None or not starts_warm(params, deliveries, trips):
        return 0.0
    return share


def starts_warm(params: SolveParams, deliveries: int, trips: int) -> bool:
    """Whether the search starts from the construction's plan (see `warm_start_above`)."""
    return deliveries > params.warm_start_above and (trips > 1 or params.warm_start_single_trip)
