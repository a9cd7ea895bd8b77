"""Request/response structs of codes and the loading rack."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from dispatch.schemas import RouteOut

Token = Annotated[str, msgspec.Meta(min_length=1, max_length=4000, description="the code as text (Base45)")]
Plate = Annotated[str, msgspec.Meta(min_length=1, max_length=16, examples=["沪A12345"])]
ObservedLitres = Annotated[int, msgspec.Meta(gt=0, le=100_000, description="metered litres at product temperature")]
Temperature = Annotated[float, msgspec.Meta(ge=-50, le=150, description="product temperature, °C")]
RackDepot = Annotated[
    uuid.UUID | None,
    msgspec.Meta(
        description="the depot whose rack this is: one of the operator's own (403 `not_your_depot` otherwise); "
        "an operator with exactly one depot may leave it out"
    ),
]


class CodeOut(msgspec.Struct):
    token: str
    kind: str
    not_before: datetime
    expires_at: datetime
    kid: str


class VerifyIn(msgspec.Struct, forbid_unknown_fields=True):
    token: Token
    depot_id: RackDepot = None
    vehicle_plate: Plate | None = None


class VerifyOut(msgspec.Struct):
    authorised: bool
    reasons: list[str]
    reason_texts: list[str]
    kind: str | None = None
    what_to_load: dict[str, Any] | None = None
    subject: dict[str, Any] | None = None


class RedeemIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    token: Token
    depot_id: RackDepot = None
    loaded_litres_observed: ObservedLitres
    temperature_c: Temperature
    vehicle_plate: Plate


class TicketOut(msgspec.Struct):
    ticket_number: str
    kind: str
    subject_id: uuid.UUID
    reference: str | None
    depot_id: uuid.UUID
    vehicle_plate: str
    product_code: str
    loaded_litres_observed: int
    temperature_c: float
    base_temperature_c: int
    density_kg_m3: float
    vcf: str
    net_litres: int
    redeemed_at: datetime
    offline: bool


class OfflineRedemptionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    offline_id: Annotated[str, msgspec.Meta(min_length=8, max_length=64, description="chosen by the rack, unique")]
    token: Token
    depot_id: RackDepot = None
    loaded_litres_observed: ObservedLitres
    temperature_c: Temperature
    vehicle_plate: Plate
    redeemed_at: Annotated[datetime, msgspec.Meta(tz=True)]


class OfflineResultOut(msgspec.Struct):
    offline_id: str
    status: str  # accepted | conflict
    reasons: list[str]
    ticket: TicketOut | None = None


class ConflictOut(msgspec.Struct):
    id: uuid.UUID
    offline_id: str
    token_hash: str | None
    depot_id: uuid.UUID
    reasons: list[str]
    upload: dict[str, Any]
    status: str
    created_at: datetime


class PublicKeyOut(msgspec.Struct):
    kid: str
    alg: str
    public_key: str
    created_at: int | None = None


class DeliverIn(msgspec.Struct, forbid_unknown_fields=True):
    delivered_litres_observed: ObservedLitres
    temperature_c: Temperature
    meter_start: Annotated[int, msgspec.Meta(ge=0, le=10**10)] | None = None
    meter_end: Annotated[int, msgspec.Meta(ge=0, le=10**10)] | None = None
    receipt_token: Token | None = None
    no_receipt_reason: Annotated[str, msgspec.Meta(min_length=3, max_length=500)] | None = None
    evidence: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=200_000,
                description="photo or signature as a data: URL (JPEG, PNG or WebP, at most 150,000 bytes and "
                "16-4096 px a side, 4 MP in all; checked by decoding it: 422 `invalid_evidence`, `reasons` saying why)",
            ),
        ]
        | None
    ) = None


class FailIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=500)]


class StopActionOut(msgspec.Struct):
    stop_id: uuid.UUID
    order_id: uuid.UUID
    stop_status: str
    order_status: str
    net_litres: int | None = None
    vcf: str | None = None
    proof: str | None = None


class PositionIn(msgspec.Struct, forbid_unknown_fields=True):
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    recorded_at: Annotated[datetime, msgspec.Meta(tz=True)]
    speed: Annotated[float, msgspec.Meta(ge=0, le=250, description="km/h")] | None = None
    heading: Annotated[float, msgspec.Meta(ge=0, lt=360)] | None = None


class PositionsAccepted(msgspec.Struct):
    accepted: int
    tanker_id: uuid.UUID
    etas_updated: int


class DriverRouteOut(msgspec.Struct):
    """A driver's day: only that driver's trips (grouped by tanker), each with its stops in order."""

    date: date
    routes: list[RouteOut]


class TrackingOut(msgspec.Struct):
    order_id: uuid.UUID
    reference: str
    status: str
    eta: datetime | None
    window_start: datetime
    window_end: datetime
    tanker: dict[str, Any] | None
    route: dict[str, Any] | None
