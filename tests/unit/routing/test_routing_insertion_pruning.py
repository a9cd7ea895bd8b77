"""The pruned insertion (cheapest candidates first, lower bounds skip those that cannot schedule) places every job
where the exhaustive scan does, and refuses with the same reason: seeded random small days."""

from __future__ import annotations

import random

import pytest

from routing import Depot, GeodesicProvider, Job, Options, Problem, Tanker
from routing.insertion import TentativeDay, with_window

H = 3600
CENTRE = (31.23, 121.47)


def _random_day(rng: random.Random) -> tuple[Problem, list[Job]]:
    bays = ((8 * H, 8 * H + 1800),) if rng.random() < 0.3 else ()
    open_s, close_s = rng.choice([5, 6]) * H, rng.choice([12, 16, 20]) * H
    depot = Depot(id="D", lat=CENTRE[0], lon=CENTRE[1], open_s=open_s, close_s=close_s, bays_full=bays)
    tankers = tuple(
        Tanker(
            id=f"T{i}",
            depot_id="D",
            compartments=tuple(rng.choice([3000, 5000, 6000]) for _ in range(rng.randint(1, 4))),
            vehicle_class=rng.randint(1, 2),
            shift_start_s=rng.choice([5, 6, 8]) * H,
            shift_end_s=rng.choice([13, 16, 18]) * H,
            max_duty_s=rng.choice([None, 9 * H]),
            cost_per_km_minor=rng.choice([500, 600]),
            fixed_cost_minor=rng.choice([0, 20_000]),
        )
        for i in range(rng.randint(1, 4))
    )

    def job(i: int) -> Job:
        start = rng.randint(6, 17) * H
        end = start + rng.choice([1, 2, 4]) * H
        windows = ((start, end),) if rng.random() < 0.8 else ((6 * H, 9 * H), (13 * H, 16 * H))
        return Job(
            id=f"J{i}",
            lat=CENTRE[0] + rng.uniform(-0.25, 0.25),
            lon=CENTRE[1] + rng.uniform(-0.25, 0.25),
            product=rng.choice(["diesel-0", "diesel-0", "diesel-10"]),
            litres=rng.choice([500, 1000, 2000, 3000, 5000, 6000, 12000]),
            windows=windows,
            allowed_vehicle_classes=(1,) if rng.random() < 0.2 else None,
        )

    jobs = tuple(job(i) for i in range(rng.randint(4, 16)))
    options = Options(multi_trip=True, max_trips=rng.choice([1, 2, 3]), full_compartments=rng.random() < 0.3)
    asks = [job(100 + i) for i in range(3)]
    return Problem(depots=(depot,), tankers=tankers, jobs=jobs, options=options), asks


@pytest.mark.parametrize("seed", range(40))
def test_pruned_and_exhaustive_insertion_agree(seed: int) -> None:
    rng = random.Random(seed)
    problem, asks = _random_day(rng)
    ask = asks[0]
    points = [(d.lat, d.lon) for d in problem.depots] + [(j.lat, j.lon) for j in problem.jobs] + [(ask.lat, ask.lon)]
    matrix = GeodesicProvider().matrix(points)
    pruned, exhaustive = TentativeDay(problem, matrix), TentativeDay(problem, matrix)
    exhaustive.prune = False
    for job in problem.jobs:
        assert pruned.place(job.id) == exhaustive.place(job.id), job.id
    assert pruned.routes_by_job() == exhaustive.routes_by_job()
    assert pruned.refused == exhaustive.refused
    assert pruned.solution().cost_minor == exhaustive.solution().cost_minor
    windows = [with_window(ask, (h * H, (h + 2) * H)) for h in range(4, 22, 2)]
    assert pruned.try_jobs(windows) == [exhaustive.try_job(w) for w in windows]


@pytest.mark.parametrize("seed", range(40))
def test_a_plan_started_from_its_own_routes_is_the_same_plan(seed: int) -> None:
    """start_from keeps every tanker's day of an unchanged problem as it was, split jobs included (a day kept
    between requests is rebuilt this way without changing a promise)."""
    problem, _ = _random_day(random.Random(seed))
    points = [(d.lat, d.lon) for d in problem.depots] + [(j.lat, j.lon) for j in problem.jobs] + [(0.0, 0.0)]
    matrix = GeodesicProvider().matrix(points)
    grown = TentativeDay(problem, matrix)
    grown.place_all()
    again = TentativeDay(problem, matrix)
    kept = again.start_from(grown.routes_by_job())
    assert sorted(kept) == sorted({j for trips in grown.routes_by_job().values() for trip in trips for j in trip})
    assert again.routes_by_job() == grown.routes_by_job()
    assert [t.timed for t in again.days] == [t.timed for t in grown.days]


def test_a_split_job_is_kept_part_by_part() -> None:
    depot = Depot(id="D", lat=CENTRE[0], lon=CENTRE[1], open_s=5 * H, close_s=20 * H)
    tanker = Tanker(id="T", depot_id="D", compartments=(6000, 6000), shift_start_s=5 * H, shift_end_s=20 * H)
    site = (CENTRE[0] + 0.05, CENTRE[1])
    big = Job(id="S", lat=site[0], lon=site[1], product="diesel-0", litres=18_000, windows=((6 * H, 18 * H),))
    problem = Problem(depots=(depot,), tankers=(tanker,), jobs=(big,), options=Options(multi_trip=True, max_trips=3))
    points = [(depot.lat, depot.lon), (big.lat, big.lon), (0.0, 0.0)]
    matrix = GeodesicProvider().matrix(points)
    grown = TentativeDay(problem, matrix)
    grown.place_all()
    assert grown.routes_by_job() == {"T": [["S"], ["S"]]}
    again = TentativeDay(problem, matrix)
    assert again.start_from(grown.routes_by_job()) == ["S"]
    assert again.routes_by_job() == grown.routes_by_job()


def test_a_block_of_the_geodesic_matrix_is_the_matrix_entry_for_entry() -> None:
    """What a kept day grows its matrix with (GeodesicProvider.block) equals the full matrix computed afresh."""
    rng = random.Random(5)
    points = [(CENTRE[0] + rng.uniform(-0.3, 0.3), CENTRE[1] + rng.uniform(-0.3, 0.3)) for _ in range(40)]
    provider = GeodesicProvider()
    full = provider.matrix(points)
    distances, durations = provider.block(points, points)
    assert distances == [list(row) for row in full.distances_m] and durations == [list(row) for row in full.durations_s]
    rows, _ = provider.block(points[7:9], points)
    cols, _ = provider.block(points, points[3:4])
    assert rows == distances[7:9] and cols == [[row[3]] for row in distances]
