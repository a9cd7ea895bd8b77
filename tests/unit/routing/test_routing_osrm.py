"""OSRM matrix providers on a real road network (Monaco, built once per test session).

The dataset is built with the osrm-bindings wheel's own tools from tests/data/osm/monaco.osm.pbf (ODbL,
see its NOTICE); the HTTP provider talks to the wheel's real ``osrm-routed`` on a free local port.
"""

from __future__ import annotations

import random
import socket
import statistics
from pathlib import Path

import numpy as np
import pytest
from geopy import distance as geodistance

pytest.importorskip("osrm", reason="the osrm-bindings wheel (extra 'osrm') is not installed")

from routing import Depot, Job, Problem, SolveParams, Tanker, UnassignedReason, check, solve
from routing.matrix import UNREACHABLE
from routing.osrm import OsrmError, OsrmHttp, OsrmLocal, build_dataset

PBF = Path(__file__).resolve().parents[2] / "data" / "osm" / "monaco.osm.pbf"
# Inside Monaco and its neighbours (the extract is about 11 x 7 km).
SOUTH, WEST, NORTH, EAST = 43.725, 7.405, 43.750, 7.440
OFF_MAP = (43.0, 7.0)  # in the sea, 80 km from the nearest road of the extract


@pytest.fixture(scope="session")
def dataset(monaco_dataset: Path) -> Path:
    return monaco_dataset


@pytest.fixture(scope="session")
def local(dataset: Path) -> OsrmLocal:
    return OsrmLocal(dataset)


@pytest.fixture(scope="session")
def road_points(local: OsrmLocal) -> list[tuple[float, float]]:
    """40 random points that lie on a road (snapped less than 25 m away), as their snapped positions."""
    rng = random.Random(5)
    candidates = [(rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST)) for _ in range(120)]
    snaps = local.table(candidates).snaps
    near = [(s.snapped_lat, s.snapped_lon) for s in snaps if s.distance_m < 25]
    assert len(near) >= 40, len(near)
    return near[:40]


@pytest.fixture(scope="session")
def server(monaco_osrm_server: str) -> str:
    return monaco_osrm_server


def test_road_distances_are_at_least_geodesic_and_in_a_sane_band(local: OsrmLocal, road_points) -> None:
    table = local.table(road_points)
    road = np.array(table.matrix.distances_m, dtype=float)
    ratios = []
    for i, a in enumerate(road_points):
        for j, b in enumerate(road_points):
            if i == j:
                continue
            assert road[i, j] < UNREACHABLE, (a, b)
            straight = geodistance.geodesic(a, b).meters
            # OSRM measures along the road geometry in tenths of a metre: allow its rounding only.
            assert road[i, j] >= straight * 0.995 - 1, (a, b, road[i, j], straight)
            if straight > 200:
                ratios.append(road[i, j] / straight)
    median = statistics.median(ratios)
    assert 1.1 <= median <= 2.5, median
    durations = np.array(table.matrix.durations_s, dtype=float)
    speed_kmh = road[road > 500] / durations[road > 500] * 3.6
    assert 10 < float(np.median(speed_kmh)) < 90  # town and motorway driving


def test_snaps_are_reported_and_far_points_are_unreachable(local: OsrmLocal, road_points) -> None:
    points = [*road_points[:3], OFF_MAP]
    table = local.table(points)
    snaps = table.snaps
    assert [s.on_network for s in snaps] == [True, True, True, False]
    assert snaps[3].distance_m > 50_000 and snaps[0].distance_m < 25
    assert snaps[0].name or snaps[1].name or snaps[2].name  # streets have names in Monaco
    m = table.matrix
    assert all(m.distances_m[3][j] == UNREACHABLE and m.durations_s[j][3] == UNREACHABLE for j in range(3))
    assert m.distances_m[3][3] == 0
    assert table.unreachable_pairs == 6
    assert [s.index for s in table.off_network()] == [3]


def test_values_are_whole_units_rounded_up(local: OsrmLocal, road_points) -> None:
    engine = local.engine()
    import osrm

    coords = [(lon, lat) for lat, lon in road_points[:5]]
    raw = engine.Table(osrm.TableParameters(coordinates=coords, annotations=["duration", "distance"]))
    m = local.matrix(road_points[:5])
    for i in range(5):
        for j in range(5):
            assert m.distances_m[i][j] >= raw["distances"][i][j] > m.distances_m[i][j] - 1 or i == j
            assert m.durations_s[i][j] >= raw["durations"][i][j] > m.durations_s[i][j] - 1 or i == j


def test_matrices_are_cached_in_memory_and_on_disk(dataset: Path, road_points, tmp_path: Path) -> None:
    provider = OsrmLocal(dataset, cache_dir=tmp_path)
    first = provider.table(road_points[:8])
    assert provider.table(road_points[:8]) is first and provider.fetches == 1
    assert len(list(tmp_path.glob("*.npz"))) == 1
    other = OsrmLocal(dataset, cache_dir=tmp_path)
    again = other.table(road_points[:8])
    assert other.fetches == 0
    assert again.matrix == first.matrix and again.snaps == first.snaps
    assert OsrmLocal(dataset, cache_dir=tmp_path, profile="bicycle").cache_key(road_points) != other.cache_key(
        road_points
    )


def test_http_provider_matches_in_process_in_blocks(server: str, local: OsrmLocal, road_points) -> None:
    points = [*road_points[:13], OFF_MAP]
    http = OsrmHttp(server, max_table_size=10)  # the server refuses more than 10 locations
    table = http.table(points)
    assert http.requests == 9  # 14 points in blocks of 5: 3 x 3 requests
    assert table.matrix == local.table(points).matrix
    assert [s.on_network for s in table.snaps] == [True] * 13 + [False]


def test_http_errors_are_reported(server: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    with pytest.raises(OsrmError, match="failed"):
        OsrmHttp(f"http://127.0.0.1:{dead}", timeout_s=2).matrix([(43.73, 7.42), (43.74, 7.43)])
    with pytest.raises(OsrmError, match="TooBig"):
        OsrmHttp(server, max_table_size=40).matrix([(43.73 + i * 1e-4, 7.42) for i in range(30)])


def test_build_errors_are_explained(tmp_path: Path) -> None:
    with pytest.raises(OsrmError, match="does not exist"):
        build_dataset(tmp_path / "nowhere.osm.pbf", tmp_path)
    with pytest.raises(OsrmError, match="unknown OSRM profile"):
        build_dataset(PBF, tmp_path, profile="hovercraft")
    with pytest.raises(OsrmError, match="no OSRM dataset"):
        OsrmLocal(tmp_path / "missing.osrm")


def test_a_day_planned_on_roads_reports_the_off_map_site(local: OsrmLocal, road_points) -> None:
    lat, lon = road_points[0]
    depot = Depot(id="D", lat=lat, lon=lon, open_s=5 * 3600, close_s=20 * 3600)
    tankers = (
        Tanker(id="T1", depot_id="D", compartments=(8000, 8000), cost_per_km_minor=600, fixed_cost_minor=1000),
        Tanker(id="T2", depot_id="D", compartments=(8000, 8000), cost_per_km_minor=600, fixed_cost_minor=1000),
    )
    jobs = [Job(id=f"J{i}", lat=p[0], lon=p[1], product="0#", litres=3000) for i, p in enumerate(road_points[1:9])]
    jobs.append(Job(id="SEA", lat=OFF_MAP[0], lon=OFF_MAP[1], product="0#", litres=1000))
    problem = Problem(depots=(depot,), tankers=tankers, jobs=tuple(jobs))
    result = solve(problem, params=SolveParams(time_limit_s=0.5), matrix_provider=local)
    road = local.matrix([(depot.lat, depot.lon)] + [(j.lat, j.lon) for j in jobs])
    assert check(problem, result.solution, matrix=road) == []
    assert result.is_feasible()
    assert {u.job_id: u.reason for u in result.solution.unassigned} == {"SEA": UnassignedReason.UNREACHABLE}
    assert result.solution.distance_m < 100_000  # a few km of Monaco streets, not the sea
