"""The fleet a warm-started search works with (routing.solver.fleet): the construction's tankers, every tanker a
pin, a preference or a trip under way names, and a few spares of every kind; and solve() planning a big day
with it, every job served and the plan checked."""

import msgspec
import pytest

from routing import Pin, Problem, SolveParams, StartedTrip, check, solve
from routing.matrix import matrix_for
from routing.solver.fleet import MIN_SPARES, search_fleet
from routing.solver.instance import build_instance
from routing.solver.model import usable_tankers

replace = msgspec.structs.replace


@pytest.fixture
def fleet_day(make) -> Problem:
    """30 tankers of two kinds (two compartment layouts), 8 jobs: most tankers stay idle."""
    tankers = [
        make.tanker(f"T{k:02d}", compartments=(8_000, 8_000) if k % 2 else (5_000, 5_000, 5_000)) for k in range(30)
    ]
    jobs = [make.job(f"J{k}", 3 + k, (-1) ** k * 4, litres=4_000) for k in range(8)]
    return make.problem(jobs, tankers)


def test_idle_tankers_beyond_the_spares_are_left_out_named_ones_stay(fleet_day: Problem) -> None:
    named = replace(
        fleet_day,
        jobs=(replace(fleet_day.jobs[0], preferred_tanker_id="T29"), *fleet_day.jobs[1:]),
        options=replace(
            fleet_day.options,
            pins=(Pin(job_id="J1", tanker_id="T27"),),
            started=(StartedTrip(tanker_id="T25", job_ids=("J2",), depart_s=6 * 3600),),
        ),
    )
    instance = build_instance(named, matrix_for(named), seed=0)
    vehicles = usable_tankers(instance)
    plan = {0: [[0, 1]], 1: [[2]], 2: []}  # tankers 0 and 1 work, 2 has an empty trip list
    kept = search_fleet(instance, vehicles, plan)
    assert kept == sorted(kept)  # in the given order
    assert {0, 1, 25, 27, 29} <= set(kept)
    spares = set(kept) - {0, 1, 25, 27, 29}
    assert len(spares) == MIN_SPARES
    # Spares of both kinds are still on offer.
    assert {len(named.tankers[s].compartments) for s in spares} == {2, 3}


def test_a_small_idle_fleet_is_kept_whole(fleet_day: Problem) -> None:
    small = replace(fleet_day, tankers=fleet_day.tankers[:4])
    instance = build_instance(small, matrix_for(small), seed=0)
    vehicles = usable_tankers(instance)
    assert search_fleet(instance, vehicles, {0: [[0]]}) == vehicles


def test_a_warm_started_day_with_an_idle_fleet_is_planned_whole(fleet_day: Problem) -> None:
    params = SolveParams(time_limit_s=1, workers=1, warm_start_above=4, warm_start_single_trip=True)  # warm-started
    result = solve(fleet_day, params=params, seed=3)
    assert result.solution.unassigned == ()
    assert check(fleet_day, result.solution) == []
    assert sum(1 for r in result.solution.routes if any(t.stops for t in r.trips)) <= 8
