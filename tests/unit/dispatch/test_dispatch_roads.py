"""Map lines of plans (dispatch.roads): road lines from the Monaco extract, the straight fallback per trip,
the in-process cache, and the back-off when OSRM cannot be reached."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("osrm", reason="the osrm-bindings wheel (extra 'osrm') is not installed")

from core.settings import Settings, load_settings
from dispatch import roads
from routing.osrm import OsrmHttp, OsrmLocal

PBF = Path(__file__).resolve().parents[2] / "data" / "osm" / "monaco.osm.pbf"
DEPOT = (43.7330, 7.4170)
TRIP = [DEPOT, (43.7384, 7.4246), (43.7350, 7.4210), DEPOT]
AT_SEA = [DEPOT, (43.70, 7.45), DEPOT]


@pytest.fixture(scope="module")
def dataset(monaco_dataset: Path) -> Path:
    return monaco_dataset


@pytest.fixture
def plain() -> Settings:
    return replace(load_settings(), osrm_url=None, osrm_dataset=None)


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    roads.clear_caches()
    yield
    roads.clear_caches()


def test_without_osrm_lines_are_straight(plain: Settings) -> None:
    [line] = roads.trip_lines(plain, [TRIP])
    assert line.source == "straight"
    assert line.coordinates == tuple((lon, lat) for lat, lon in TRIP)
    assert roads.geometry_provider(plain) is None and roads.matrix_provider(plain) is None


def test_road_lines_fall_back_per_trip_and_are_cached(plain: Settings, dataset: Path) -> None:
    settings = replace(plain, osrm_dataset=str(dataset))
    road, sea = roads.trip_lines(settings, [TRIP, AT_SEA])
    assert road.source == "road" and len(road.coordinates) > 3 * len(TRIP)
    assert sea.source == "straight" and len(sea.coordinates) == len(AT_SEA)
    provider = roads.geometry_provider(settings)
    assert isinstance(provider, OsrmLocal) and provider.route_fetches == 2
    again = roads.trip_lines(settings, [AT_SEA, TRIP])
    assert again == [sea, road] and provider.route_fetches == 2  # both answers remembered, the refusal too
    assert isinstance(roads.matrix_provider(settings), OsrmLocal)


async def test_the_async_form_gives_the_same_lines(plain: Settings, dataset: Path) -> None:
    settings = replace(plain, osrm_dataset=str(dataset))
    assert await roads.trip_lines_async(settings, [TRIP]) == roads.trip_lines(settings, [TRIP])
    assert await roads.trip_lines_async(plain, [TRIP]) == roads.trip_lines(plain, [TRIP])


def test_a_missing_dataset_draws_straight_lines(plain: Settings, tmp_path: Path) -> None:
    settings = replace(plain, osrm_dataset=str(tmp_path / "nowhere.osrm"))
    assert [line.source for line in roads.trip_lines(settings, [TRIP, TRIP])] == ["straight", "straight"]


def test_an_unreachable_server_is_asked_once_then_left_alone(plain: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    settings = replace(plain, osrm_url=f"http://127.0.0.1:{dead}")
    first = roads.trip_lines(settings, [TRIP, TRIP[:2]])
    assert [line.source for line in first] == ["straight", "straight"]
    provider = roads.geometry_provider(settings)
    assert isinstance(provider, OsrmHttp) and provider.requests == 1  # the second trip was not tried
    roads.trip_lines(settings, [TRIP])
    assert provider.requests == 1  # still backing off
