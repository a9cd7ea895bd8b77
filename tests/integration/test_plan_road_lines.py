"""GET /plans/{id}/geojson draws trips along the roads when OSRM is configured (the Monaco extract, in
process), straight otherwise, and straight again when OSRM cannot be reached."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("osrm", reason="the osrm-bindings wheel (extra 'osrm') is not installed")

from dispatch import roads
from tests.factories import new_fleet, ok, plan_and_wait

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PBF = Path(__file__).resolve().parents[1] / "data" / "osm" / "monaco.osm.pbf"
# Monaco, far from every other test's depot, so these orders go to this test's depot; all near a road.
DEPOT = (43.7330, 7.4170)
SITES = [(43.7384, 7.4246), (43.7350, 7.4210), (43.7311, 7.4197), (43.7275, 7.4155)]
DAY = "2030-01-10"


@pytest.fixture(scope="module")
def dataset(monaco_dataset: Path) -> Path:
    return monaco_dataset


@pytest.fixture(autouse=True)
def _fresh_roads() -> Iterator[None]:
    roads.clear_caches()
    yield
    roads.clear_caches()


@pytest.fixture(scope="module")
async def monaco_plan(world, worker) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A planned day in Monaco (planned geodesically by the shared worker: the map is what is tested)."""
    depot = await world.new_depot(bays=2, lat=DEPOT[0], lon=DEPOT[1], code=f"mc-{uuid.uuid4().hex[:6]}")
    await new_fleet(world, depot, tankers=2)
    for index, (lat, lon) in enumerate(SITES):
        customer = await world.new_customer(lat=lat, lon=lon)
        order = ok(
            await customer.order(
                delivery_date=DAY, quantity_litres=4000 + 500 * index, window_start="08:00", window_end="17:00"
            ),
            201,
        )
        assert order["depot_id"] == depot["id"]
    job = await plan_and_wait(world, worker, DAY, depot["id"], time_limit=2)
    assert job["status"] == "succeeded", job.get("error")
    plan = ok(await world.client.get(f"/api/v1/plans/{job['plan_id']}", headers=world.h("dispatcher")))
    assert plan["unassigned"] == []
    return plan


def _configure(monkeypatch: pytest.MonkeyPatch, app: Any, **osrm: str | None) -> None:
    """OSRM settings for the app's requests."""
    monkeypatch.setattr(app.state, "settings", replace(app.state.settings, **osrm))


async def _lines(world, plan: dict[str, Any]) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    response = await world.client.get(f"/api/v1/plans/{plan['id']}/geojson", headers=world.h("dispatcher"))
    geo = ok(response)
    assert response.headers["content-type"].startswith("application/geo+json")
    return [f for f in geo["features"] if f["properties"]["kind"] == "trip"]


def _trips(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {trip["id"]: trip for route in plan["routes"] for trip in route["trips"]}


async def test_with_osrm_trips_follow_the_roads(world, app, monaco_plan, dataset, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _configure(monkeypatch, app, osrm_dataset=str(dataset), osrm_url=None)
    lines = await _lines(world, monaco_plan)
    trips = _trips(monaco_plan)
    assert lines and {line["properties"]["trip_id"] for line in lines} == set(trips)
    for line in lines:
        stops = trips[line["properties"]["trip_id"]]["stops"]
        coordinates = line["geometry"]["coordinates"]
        assert line["properties"]["geometry_source"] == "road"
        assert len(coordinates) > 3 * (len(stops) + 2)  # the streets' bends, not depot-stops-depot
        lon, lat = coordinates[0]
        assert abs(lat - DEPOT[0]) < 0.001 and abs(lon - DEPOT[1]) < 0.001  # at the depot's road
    provider = roads.geometry_provider(app.state.settings)
    fetched = provider.route_fetches  # type: ignore[union-attr]
    assert await _lines(world, monaco_plan) == lines  # re-read from the cache
    assert provider.route_fetches == fetched  # type: ignore[union-attr]


async def test_without_osrm_trips_are_straight(world, app, monaco_plan, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _configure(monkeypatch, app, osrm_dataset=None, osrm_url=None)
    lines = await _lines(world, monaco_plan)
    trips = _trips(monaco_plan)
    for line in lines:
        stops = trips[line["properties"]["trip_id"]]["stops"]
        assert line["properties"]["geometry_source"] == "straight"
        depot = [DEPOT[1], DEPOT[0]]
        assert line["geometry"]["coordinates"] == [depot, *([s["lon"], s["lat"]] for s in stops), depot]


async def test_an_unreachable_osrm_server_draws_straight_lines(world, app, monaco_plan, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    _configure(monkeypatch, app, osrm_url=f"http://127.0.0.1:{dead}", osrm_dataset=None)
    lines = await _lines(world, monaco_plan)
    assert lines and {line["properties"]["geometry_source"] for line in lines} == {"straight"}
