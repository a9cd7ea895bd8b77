"""Small named routing instances, and a factory to build more.

Sites are placed in kilometres east/north of a depot in Shanghai; matrices come from the default
geodesic provider (road factor 1.3, 50 km/h), so one km east is 1,300 m and 94 s of driving.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from routing import Depot, Job, Options, Problem, Result, SolveParams, Tanker, check, solve

LAT0, LON0 = 31.2, 121.5
H = 3600


def at(east_km: float, north_km: float) -> tuple[float, float]:
    lat = LAT0 + north_km / 111.195
    lon = LON0 + east_km / (111.195 * math.cos(math.radians(LAT0)))
    return lat, lon


def depot(**kw: object) -> Depot:
    lat, lon = at(0, 0)
    values: dict[str, object] = {"id": "D1", "lat": lat, "lon": lon, "open_s": 5 * H, "close_s": 20 * H}
    values.update(kw)
    return Depot(**values)  # type: ignore[arg-type]


def tanker(id: str = "T1", **kw: object) -> Tanker:
    values: dict[str, object] = {
        "id": id,
        "depot_id": "D1",
        "compartments": (10_000, 10_000, 10_000),
        "shift_start_s": 6 * H,
        "shift_end_s": 18 * H,
        "max_duty_s": 11 * H,
        "cost_per_km_minor": 600,
        "fixed_cost_minor": 10_000,
    }
    values.update(kw)
    return Tanker(**values)  # type: ignore[arg-type]


def job(id: str, east: float, north: float, litres: int = 5_000, product: str = "0#", **kw: object) -> Job:
    lat, lon = at(east, north)
    values: dict[str, object] = {"id": id, "lat": lat, "lon": lon, "product": product, "litres": litres}
    values.update(kw)
    return Job(**values)  # type: ignore[arg-type]


def problem(jobs: list[Job], tankers: list[Tanker] | None = None, **options: object) -> Problem:
    return Problem(
        depots=(depot(),),
        tankers=tuple(tankers or [tanker()]),
        jobs=tuple(jobs),
        options=Options(**options),  # type: ignore[arg-type]
    )


def run(p: Problem, time_limit_s: float = 0.5, **kw: object) -> Result:
    """Solve with a short limit and always run the independent checker on the result."""
    params = kw.pop("params", None) or SolveParams(time_limit_s=time_limit_s)
    result = solve(p, params=params, **kw)  # type: ignore[arg-type]
    violations = check(p, result.solution)
    assert violations == [], violations
    assert result.is_feasible()
    return result


@pytest.fixture
def make() -> SimpleNamespace:
    return SimpleNamespace(at=at, depot=depot, tanker=tanker, job=job, problem=problem, run=run, H=H)


@pytest.fixture
def tiny(make: SimpleNamespace) -> Problem:
    """Two tankers, five single-product jobs around the depot, no tight windows."""
    jobs = [
        make.job("J1", 10, 0),
        make.job("J2", 12, 3),
        make.job("J3", -8, 5),
        make.job("J4", -10, -2),
        make.job("J5", 0, 15, litres=8_000),
    ]
    return make.problem(jobs, [make.tanker("T1"), make.tanker("T2")])


@pytest.fixture
def windows(make: SimpleNamespace) -> Problem:
    """One tanker; windows force J2 (east) before J1 (west) even though J1 is on the way."""
    H = make.H
    jobs = [
        make.job("J1", -5, 0, windows=((12 * H, 14 * H),)),
        make.job("J2", 20, 0, windows=((8 * H, 9 * H),)),
        make.job("J3", 5, 5, windows=((7 * H, 8 * H), (15 * H, 16 * H))),
    ]
    return make.problem(jobs)
