"""A plan: routes per tanker, trips, stops and compartment loads, plus the jobs left out and why.

Times are seconds from the start of the planning day, like the problem's.  The JSON form is the
msgspec encoding of ``Solution`` (see docs/ROUTING.md).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec


class UnassignedReason(StrEnum):
    NO_VEHICLE_CLASS = "no_vehicle_class"  # no tanker of an allowed class (or the pinned one is not allowed)
    WINDOW_UNREACHABLE = "window_unreachable"  # no tanker can reach the site in a window and get home in shift
    TOO_LARGE = "too_large"  # more litres than the eligible fleet can carry in a day
    CAPACITY = "capacity"  # the fleet's capacity is smaller than the demand; this job lost out
    COMPARTMENTS = "compartments"  # no trip had compartments free for its product
    NOT_SELECTED = "not_selected"  # the optimiser left it out: serving it costs more than its penalty
    UNREACHABLE = "unreachable"  # no road between the site and any eligible tanker's depot (or off the network)


class CompartmentLoad(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    compartment: int  # index into Tanker.compartments
    product: str
    litres: int


class Stop(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    job_id: str
    litres: int
    arrival_s: int
    start_s: int  # start of discharge, inside one of the job's windows
    departure_s: int
    compartments: tuple[int, ...]  # compartments this stop draws from


class Trip(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    depot_id: str
    load_start_s: int
    depart_s: int
    return_s: int
    distance_m: int
    loads: tuple[CompartmentLoad, ...]
    stops: tuple[Stop, ...]


class Route(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tanker_id: str
    trips: tuple[Trip, ...]

    @property
    def duration_s(self) -> int:
        if not self.trips:
            return 0
        return self.trips[-1].return_s - self.trips[0].load_start_s


class Unassigned(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    job_id: str
    reason: UnassignedReason
    detail: str


class Solution(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    # Travel cost (distance x cost per km, summed exactly, rounded up once) + fixed costs of used
    # tankers + penalties of unassigned jobs, in minor units.
    cost_minor: int
    distance_m: int
    duration_s: int  # sum over tankers of first load start -> last return

    def cost(self) -> int:
        return self.cost_minor

    def served_job_ids(self) -> set[str]:
        return {stop.job_id for route in self.routes for trip in route.trips for stop in trip.stops}


def encode_solution(solution: Solution) -> bytes:
    return msgspec.json.encode(solution)


def decode_solution(data: bytes | str) -> Solution:
    return msgspec.json.decode(data, type=Solution)
