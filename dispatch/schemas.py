"""Request/response structs of the fleet, planning jobs and plans."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

Plate = Annotated[str, msgspec.Meta(min_length=2, max_length=16, examples=["沪A10001"])]
Compartment = Annotated[int, msgspec.Meta(ge=500, le=20_000)]
Minor = Annotated[int, msgspec.Meta(ge=0, le=10**9)]
# Local clock times as text ("06:00" or "06:00:00"): OpenAPI has no time-of-day format that tools agree on.
ClockTime = Annotated[
    str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$", examples=["06:00"], description="local time")
]


class Input(msgspec.Struct, forbid_unknown_fields=True):
    pass


class TankerIn(Input):
    plate: Plate
    depot_id: uuid.UUID
    compartments_litres: Annotated[list[Compartment], msgspec.Meta(min_length=1, max_length=12)]
    vehicle_class: Annotated[int, msgspec.Meta(ge=1, le=9)]
    cost_per_km_minor: Minor
    shift_start: ClockTime
    shift_end: ClockTime
    fixed_cost_minor: Minor = 0
    has_meter: bool = True
    available: bool = True


class TankerOut(msgspec.Struct):
    id: uuid.UUID
    plate: str
    depot_id: uuid.UUID
    compartments_litres: list[int]
    capacity_litres: int
    vehicle_class: int
    cost_per_km_minor: int
    fixed_cost_minor: int
    shift_start: ClockTime
    shift_end: ClockTime
    has_meter: bool
    available: bool


class TankerPatch(Input):
    available: bool | None = None
    cost_per_km_minor: Minor | None = None
    fixed_cost_minor: Minor | None = None
    shift_start: ClockTime | None = None
    shift_end: ClockTime | None = None


class DriverIn(Input):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    phone: Annotated[str, msgspec.Meta(min_length=7, max_length=24)]
    hazmat_licence_expires: date
    shift_start: ClockTime
    shift_end: ClockTime
    user_id: uuid.UUID | None = None
    home_depot_id: uuid.UUID | None = None
    max_duty_minutes: Annotated[int, msgspec.Meta(ge=60, le=16 * 60)] = 11 * 60


class DriverOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    user_id: uuid.UUID | None
    phone: str
    hazmat_licence_expires: date
    licence_valid_today: bool
    shift_start: ClockTime
    shift_end: ClockTime
    max_duty_minutes: int
    home_depot_id: uuid.UUID | None


class PairingIn(Input):
    date: date
    tanker_id: uuid.UUID
    driver_id: uuid.UUID


class PairingOut(msgspec.Struct):
    id: uuid.UUID
    date: date
    tanker_id: uuid.UUID
    driver_id: uuid.UUID


class PlanRequest(Input):
    date: date
    depot_id: uuid.UUID | None = None
    time_limit_s: Annotated[int, msgspec.Meta(ge=1, le=600)] = 30
    # cold: the planner's own first plan; tentative: the delivery promise's tentative plan of the day, improved.
    start_from: Literal["cold", "tentative"] = "cold"


class PlanAccepted(msgspec.Struct):
    job_id: uuid.UUID
    status: str


class PlanJobOut(msgspec.Struct):
    id: uuid.UUID
    date: date
    depot_id: uuid.UUID | None
    status: str
    progress: float
    best_cost: int | None
    plan_id: uuid.UUID | None
    error: str | None
    time_limit_s: int
    start_from: str
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class StopOut(msgspec.Struct):
    id: uuid.UUID
    sequence: int
    order_id: uuid.UUID
    order_reference: str
    customer_name: str
    site_name: str
    address: str
    lat: float
    lon: float
    product_code: str
    litres: int
    compartments: list[int]
    window_start: datetime
    window_end: datetime
    planned_arrival: datetime
    service_start: datetime
    planned_departure: datetime
    pinned: bool
    status: str


class TripOut(msgspec.Struct):
    id: uuid.UUID
    sequence: int
    depot_id: uuid.UUID
    load_start: datetime
    depart: datetime
    return_at: datetime
    distance_km: float
    loads: list[dict[str, Any]]
    stops: list[StopOut]
    status: str


class RouteOut(msgspec.Struct):
    tanker_id: uuid.UUID
    plate: str
    driver_id: uuid.UUID | None
    driver_name: str | None
    trips: list[TripOut]


class UnassignedOut(msgspec.Struct):
    order_id: uuid.UUID
    order_reference: str
    reason: str
    detail: str


class Totals(msgspec.Struct):
    km: float
    driving_hours: float
    duty_hours: float
    cost_minor: int
    orders: int
    litres: int


class PlanOut(msgspec.Struct):
    id: uuid.UUID
    job_id: uuid.UUID | None
    date: date
    depot_id: uuid.UUID | None
    status: str
    outdated: bool
    stale_orders: list[uuid.UUID]
    new_orders: list[uuid.UUID]
    totals: Totals
    routes: list[RouteOut]
    unassigned: list[UnassignedOut]
    notes: list[str]
    created_at: datetime
    published_at: datetime | None


class PublishIn(Input):
    force: bool = False


class StopPatch(Input):
    tanker_id: uuid.UUID | None = None
    position: Annotated[int, msgspec.Meta(ge=1, le=200)] | None = None
    pinned: bool = True
