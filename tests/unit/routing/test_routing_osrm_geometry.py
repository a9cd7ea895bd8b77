"""Road lines from OSRM (``route_geometry``) on the Monaco extract, in process and over HTTP.

The dataset is built once per session from tests/data/osm/monaco.osm.pbf (ODbL, see its NOTICE) with the
osrm-bindings wheel's own tools; the HTTP provider talks to the wheel's real ``osrm-routed``.
"""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

import pytest
from geopy import distance as geodistance

pytest.importorskip("osrm", reason="the osrm-bindings wheel (extra 'osrm') is not installed")

from routing.osrm import OsrmError, OsrmHttp, OsrmLocal, OsrmUnavailable

PBF = Path(__file__).resolve().parents[2] / "data" / "osm" / "monaco.osm.pbf"
# A depot and three sites in Monaco, each within ~30 m of a road.
DEPOT = (43.7330, 7.4170)
SITES = [(43.7384, 7.4246), (43.7350, 7.4210), (43.7311, 7.4197)]
OFF_MAP = (43.70, 7.45)  # 3.7 km out at sea


@pytest.fixture(scope="session")
def dataset(monaco_dataset: Path) -> Path:
    return monaco_dataset


@pytest.fixture(scope="session")
def local(dataset: Path) -> OsrmLocal:
    return OsrmLocal(dataset)


@pytest.fixture(scope="session")
def server(monaco_osrm_server: str) -> str:
    return monaco_osrm_server


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(geodistance.geodesic(a, b).meters)


def _length_m(line: list[tuple[float, float]]) -> float:
    return sum(_metres((a[1], a[0]), (b[1], b[0])) for a, b in itertools.pairwise(line))


def test_a_trip_follows_the_roads(local: OsrmLocal) -> None:
    waypoints = [DEPOT, *SITES, DEPOT]
    before = local.route_fetches
    line = local.route_geometry(waypoints)
    assert local.route_fetches == before + 1
    assert len(line) > 5 * len(waypoints)  # the streets' bends, not the waypoints
    (lon0, lat0), (lon1, lat1) = line[0], line[len(line) - 1]
    assert _metres((lat0, lon0), DEPOT) < 50 and _metres((lat1, lon1), DEPOT) < 50  # at the depot's road
    straight = sum(_metres(a, b) for a, b in itertools.pairwise(waypoints))
    assert _length_m(line) >= straight * 0.99
    for lon, lat in line:  # GeoJSON order, and all of it in the extract
        assert 43.6 < lat < 43.8 and 7.3 < lon < 7.6


def test_http_draws_the_same_line(server: str, local: OsrmLocal) -> None:
    waypoints = [DEPOT, SITES[0], SITES[2], DEPOT]
    http = OsrmHttp(server)
    line = http.route_geometry(waypoints)
    assert http.requests == 1
    assert line == local.route_geometry(waypoints)


def test_no_route_is_an_error(local: OsrmLocal, server: str) -> None:
    for provider in (local, OsrmHttp(server)):
        with pytest.raises(OsrmError, match="from the nearest road"):
            provider.route_geometry([DEPOT, OFF_MAP, DEPOT])
        with pytest.raises(ValueError, match="at least two"):
            provider.route_geometry([DEPOT])


def test_an_unreachable_server_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    with pytest.raises(OsrmUnavailable, match="failed"):
        OsrmHttp(f"http://127.0.0.1:{dead}", timeout_s=2).route_geometry([DEPOT, SITES[0]])
