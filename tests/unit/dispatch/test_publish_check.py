"""Publishing checks a plan on the distances it was planned with: road distances when OSRM is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("osrm", reason="the osrm-bindings wheel (extra 'osrm') is not installed")

import routing
from dispatch.models import Plan
from dispatch.publish import check_plan
from routing.osrm import OsrmLocal

PBF = Path(__file__).resolve().parents[2] / "data" / "osm" / "monaco.osm.pbf"
H = 3600


@pytest.fixture(scope="module")
def roads(monaco_dataset: Path) -> OsrmLocal:
    return OsrmLocal(monaco_dataset)


def test_a_plan_made_on_roads_is_checked_on_roads(roads: OsrmLocal) -> None:
    sites = [(43.7384, 7.4246), (43.7350, 7.4210), (43.7311, 7.4197), (43.7275, 7.4155)]
    problem = routing.Problem(
        depots=(routing.Depot(id="D", lat=43.7330, lon=7.4170, open_s=5 * H, close_s=20 * H),),
        tankers=(routing.Tanker(id="T", depot_id="D", compartments=(8000, 8000), cost_per_km_minor=650),),
        jobs=tuple(
            routing.Job(id=f"J{i}", lat=lat, lon=lon, product="0#", litres=3000) for i, (lat, lon) in enumerate(sites)
        ),
    )
    result = routing.solve(problem, params=routing.SolveParams(time_limit_s=0.5), matrix_provider=roads)
    assert result.is_feasible() and len(result.solution.served_job_ids()) == 4
    plan = Plan(
        problem_json=routing.encode_problem(problem).decode(),
        solution_json=routing.encode_solution(result.solution).decode(),
    )

    assert check_plan(plan, roads) == []
    # The control: on geodesic distances the same plan's kilometres no longer add up.
    codes = {v.code for v in check_plan(plan)}
    assert routing.Code.DISTANCE_MISMATCH in codes
