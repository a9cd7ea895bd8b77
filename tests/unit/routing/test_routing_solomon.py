"""One classic benchmark instance, as a smoke test of solution quality (the full run is benchmarks/)."""

from pathlib import Path

import msgspec
import pytest

from routing import Depot, Job, Matrix, Options, Problem, SolveParams, Tanker, check, solve

DATA = Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "vrp" / "solomon"


def solomon(name: str) -> Problem:
    """Solomon in DIMACS units x 10: distances floor(10 * euclid), travel time = distance."""
    lines = (DATA / f"{name}.txt").read_text().splitlines()
    vehicles, capacity = map(int, lines[4].split())
    rows = [[int(x) for x in line.split()] for line in lines[9:] if line.strip()]
    dist = tuple(tuple(int(10 * ((a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2) ** 0.5 + 1e-9) for b in rows) for a in rows)
    end = rows[0][5] * 10
    return Problem(
        depots=(Depot(id="0", lat=0, lon=0, open_s=0, close_s=end, load_fixed_s=0, load_rate_l_per_min=0),),
        tankers=tuple(
            Tanker(id=f"v{i}", depot_id="0", compartments=(capacity,), shift_end_s=end, cost_per_km_minor=1000)
            for i in range(vehicles)
        ),
        jobs=tuple(
            Job(
                id=str(r[0]),
                lat=0,
                lon=0,
                product="p",
                litres=r[3],
                windows=((r[4] * 10, r[5] * 10),),
                discharge_fixed_s=r[6] * 10,
                discharge_rate_l_per_min=0,
                penalty_minor=10**9,
            )
            for r in rows[1:]
        ),
        options=Options(),
        matrix=Matrix(distances_m=dist, durations_s=dist),
    )


def bks(name: str) -> float:
    return float((DATA / f"{name}.sol").read_text().split("Cost")[1])


@pytest.mark.parametrize(("name", "tolerance_pct"), [("C101", 0.5), ("R101", 3.0)])
def test_solomon_within_a_few_percent_in_two_seconds(name: str, tolerance_pct: float) -> None:
    problem = solomon(name)
    # One search, bounded in CPU seconds: the same work however loaded the machine is (within 3x wall).
    result = solve(problem, params=SolveParams(time_limit_s=2.0, clock="cpu", wall_factor=3.0, workers=1))
    assert check(problem, result.solution) == []
    assert result.solution.unassigned == ()
    distance = result.solution.distance_m / 10
    assert distance <= bks(name) * (1 + tolerance_pct / 100), distance
    assert msgspec.json.decode(msgspec.json.encode(result.solution)) is not None
