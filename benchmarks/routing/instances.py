"""Benchmark instances as routing Problems (and as plain arrays for the peer solvers).

Conventions follow benchmarks/data/vrp/SOURCES.md:
* Solomon and Gehring & Homberger: DIMACS, every arc floor(10 * euclid) / 10, travel time = distance.
  We scale by 10 so that everything is an integer (a "metre" is a tenth of a unit, a "second" a
  tenth of a time unit); cost per km 1000 makes the planner's cost exactly that distance.
* CVRPLIB X: nint(euclid), unlimited fleet (we give ceil(1.2 k) + 2 trucks), no time limits.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.matrix import Matrix
from routing.problem import Depot, Job, Options, Problem, Tanker

DATA = Path(__file__).resolve().parents[1] / "data" / "vrp"
PRODUCT = "diesel"
MANDATORY_PENALTY = 10**9  # "serve everything": far above any route cost


@dataclass(frozen=True)
class Instance:
    """A capacitated VRP with time windows in integer units (index 0 is the depot)."""

    name: str
    suite: str
    cls: str
    vehicles: int
    capacity: int
    distances: np.ndarray  # integer, scaled
    demand: list[int]
    ready: list[int]
    due: list[int]
    service: list[int]
    scale: int  # divide costs by this to get the published unit
    bks: float | None

    def to_problem(self, time_limit_s: float = 10.0) -> Problem:
        depot = Depot(
            id="depot",
            lat=0.0,
            lon=0.0,
            open_s=self.ready[0],
            close_s=self.due[0],
            load_fixed_s=0,
            load_rate_l_per_min=0,
        )
        tankers = tuple(
            Tanker(
                id=f"v{i}",
                depot_id="depot",
                compartments=(self.capacity,),
                shift_start_s=self.ready[0],
                shift_end_s=self.due[0],
                cost_per_km_minor=1000,
            )
            for i in range(self.vehicles)
        )
        jobs = tuple(
            Job(
                id=str(i),
                lat=0.0,
                lon=0.0,
                product=PRODUCT,
                litres=self.demand[i],
                windows=((self.ready[i], self.due[i]),),
                discharge_fixed_s=self.service[i],
                discharge_rate_l_per_min=0,
                penalty_minor=MANDATORY_PENALTY,
            )
            for i in range(1, len(self.demand))
        )
        matrix = Matrix.from_arrays(self.distances, self.distances)
        options = Options(time_limit_s=time_limit_s)
        return Problem(depots=(depot,), tankers=tankers, jobs=jobs, options=options, matrix=matrix)


def solomon_class(name: str) -> str:
    upper = name.upper()
    letters = "".join(c for c in upper.split("_")[0] if c.isalpha())
    digit = next((c for c in upper if c.isdigit()), "1")
    return f"{letters}{digit}"


def load_solomon(path: Path, *, suite: str = "solomon") -> Instance:
    lines = path.read_text().splitlines()
    vehicles, capacity = map(int, lines[4].split())
    rows = [list(map(float, line.split())) for line in lines[9:] if line.strip()]
    xy = [(r[1], r[2]) for r in rows]
    arr = np.array(xy)
    exact = np.hypot(arr[:, None, 0] - arr[None, :, 0], arr[:, None, 1] - arr[None, :, 1])
    distances = np.floor(10 * exact + 1e-9).astype(np.int64)  # DIMACS: truncate to one decimal
    name = path.stem.upper()
    return Instance(
        name=name,
        suite=suite,
        cls=solomon_class(name),
        vehicles=vehicles,
        capacity=capacity,
        distances=distances,
        demand=[int(r[3]) for r in rows],
        ready=[int(r[4]) * 10 for r in rows],
        due=[int(r[5]) * 10 for r in rows],
        service=[int(r[6]) * 10 for r in rows],
        scale=10,
        bks=_bks(path.parent / "bks.csv", name),
    )


def load_cvrplib(path: Path) -> Instance:
    text = path.read_text().splitlines()
    capacity = 0
    coords: list[tuple[float, float]] = []
    demand: list[int] = []
    section = ""
    for raw in text:
        line = raw.strip()
        if line.startswith("CAPACITY"):
            capacity = int(line.split(":")[1])
        elif line.endswith("SECTION"):
            section = line
        elif line in ("EOF", "-1") or not line or ":" in line:
            continue
        elif section == "NODE_COORD_SECTION":
            _, x, y = line.split()
            coords.append((float(x), float(y)))
        elif section == "DEMAND_SECTION":
            demand.append(int(line.split()[1]))
    arr = np.array(coords)
    distances = np.floor(np.hypot(arr[:, None, 0] - arr[None, :, 0], arr[:, None, 1] - arr[None, :, 1]) + 0.5)
    name = path.stem
    k = int(name.split("-k")[1])
    big = 10**7
    n = len(coords)
    return Instance(
        name=name,
        suite="x",
        cls="X",
        vehicles=math.ceil(1.2 * k) + 2,
        capacity=capacity,
        distances=distances.astype(np.int64),
        demand=demand,
        ready=[0] * n,
        due=[big] * n,
        service=[0] * n,
        scale=1,
        bks=_bks(path.parent / "bks.csv", name),
    )


def _bks(path: Path, name: str) -> float | None:
    if not path.exists():  # homberger/1000/x.txt: the table is homberger/bks.csv
        path = path.parent.parent / path.name
    if not path.exists():
        return None
    with path.open() as handle:
        for row in csv.DictReader(handle):
            if row["instance"].upper() == name.upper() and row["objective"] == "distance_only":
                return float(row["bks_distance"])
    return None


def suite_paths(suite: str) -> list[Path]:
    if suite == "solomon":
        return sorted((DATA / "solomon").glob("*.txt"))
    if suite == "gh":
        return sorted((DATA / "homberger" / "1000").glob("*.txt"))
    if suite == "x":
        return sorted((DATA / "cvrplib").glob("*.vrp"), key=lambda p: int(p.stem.split("-n")[1].split("-")[0]))
    raise ValueError(f"unknown suite {suite!r}")


def load(suite: str, path: Path) -> Instance:
    return load_cvrplib(path) if suite == "x" else load_solomon(path, suite=suite)


def route_cost(instance: Instance, routes: list[list[int]]) -> int:
    """Integer (scaled) distance of routes given as customer indices (1..n), depot implied."""
    total = 0
    for route in routes:
        previous = 0
        for node in route:
            total += int(instance.distances[previous, node])
            previous = node
        total += int(instance.distances[previous, 0])
    return total
