"""Request and response structs of the orders domain (separate from the ORM models)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec

from core.auth import MIN_PASSWORD_LENGTH
from core.hours import HHMM, HoursEntry
from core.schemas import Kilograms, Lat, Litres, Lon, LongText, MinorAmount, Name, ShortText

ProductCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9\-]{0,31}$", examples=["diesel-0"])]
# The range the refined-products volume correction covers (API MPMS 11.1: rho60 610.6-1163.5 kg/m³), with a margin
# for the 15/20 °C base: a density outside it would make every loading of the product fail.
Density = Annotated[float, msgspec.Meta(ge=620, le=1100, description="kg/m³ at the standard temperature")]
TzName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["Asia/Shanghai"])]
Password = Annotated[
    str, msgspec.Meta(min_length=MIN_PASSWORD_LENGTH, max_length=200, description="at least 10 characters")
]
Username = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.\-]{3,64}$", examples=["fleet1"])]
VehicleClass = Annotated[int, msgspec.Meta(ge=1, le=9, description="1 = small rigid … 9 = largest articulated")]


class Input(msgspec.Struct, forbid_unknown_fields=True):
    """Base for request bodies: unknown fields are refused rather than silently dropped."""


# --- catalogue ---------------------------------------------------------------------------------------------


ProductName = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
DepotName = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Phone = Annotated[str, msgspec.Meta(min_length=3, max_length=32)]
TaxId = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class ProductIn(Input):
    code: ProductCode
    name: ProductName
    density_kg_m3: Density
    name_zh: ProductName | None = None


class ProductOut(msgspec.Struct):
    code: str
    name: str
    name_zh: str | None
    density_kg_m3: float


class DepotIn(Input):
    code: ProductCode
    name: DepotName
    lat: Lat
    lon: Lon
    opening_hours: list[HoursEntry]
    loading_bays: Annotated[int, msgspec.Meta(ge=1, le=100)]
    products: Annotated[list[ProductCode], msgspec.Meta(min_length=1, max_length=50)]
    timezone: TzName = "Asia/Shanghai"
    address: Name | None = None
    load_fixed_min: Annotated[int, msgspec.Meta(ge=0, le=240)] = 15
    pump_rate_l_per_min: Annotated[int, msgspec.Meta(ge=50, le=10_000)] = 1800


class DepotOut(msgspec.Struct):
    id: uuid.UUID
    code: str
    name: str
    address: str | None
    lat: float
    lon: float
    timezone: str
    opening_hours: list[HoursEntry]
    loading_bays: int
    products: list[str]
    load_fixed_min: int
    pump_rate_l_per_min: int


PricePerLitre = Annotated[int, msgspec.Meta(gt=0, le=100_000, examples=[780])]


class PriceIn(Input):
    """A list price from `valid_from` on, until a later one of the same depot and product."""

    depot_id: uuid.UUID
    product_code: ProductCode
    price_per_litre_minor: PricePerLitre
    valid_from: date | None = None
    date: Annotated[date | None, msgspec.Meta(description="the former name of valid_from, still accepted")] = None


class PriceOut(msgspec.Struct):
    depot_id: uuid.UUID
    product_code: str
    valid_from: date
    price_per_litre_minor: int
    price_per_tonne_minor: int
    currency: str


class ContractPriceIn(Input):
    """A fixed price per litre (replaces the list price) or a discount per litre (off it): exactly one."""

    product_code: ProductCode
    valid_from: date
    depot_id: uuid.UUID | None = None
    valid_to: Annotated[date | None, msgspec.Meta(description="the last day, included; open-ended when absent")] = None
    price_per_litre_minor: PricePerLitre | None = None
    discount_per_litre_minor: Annotated[int, msgspec.Meta(gt=0, le=100_000, examples=[20])] | None = None


class ContractPriceOut(msgspec.Struct):
    product_code: str
    depot_id: uuid.UUID | None
    valid_from: date
    valid_to: date | None
    price_per_litre_minor: int | None
    discount_per_litre_minor: int | None


class TierBandIn(Input):
    from_tonnes: Annotated[int, msgspec.Meta(ge=0, le=10_000_000, description="yearly net tonnes, at least")]
    discount_bps: Annotated[int, msgspec.Meta(ge=0, le=10_000, description="basis points off the gross price")]


class TierBandOut(msgspec.Struct):
    tier: int
    from_tonnes: int
    to_tonnes: int | None  # the next band's start (excluded); None for the last band
    discount_bps: int


# --- accounts ----------------------------------------------------------------------------------------------


class CustomerIn(Input):
    name: Name
    credit_limit_minor: MinorAmount
    tax_id: TaxId | None = None
    contact_name: ShortText | None = None
    contact_phone: Phone | None = None


class CustomerPatch(Input):
    name: Name | None = None
    credit_limit_minor: MinorAmount | None = None
    contact_name: ShortText | None = None
    contact_phone: Phone | None = None


class CustomerOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    tax_id: str | None
    contact_name: str | None
    contact_phone: str | None
    credit_limit_minor: int
    open_amount_minor: Annotated[
        int,
        msgspec.Meta(
            description="what the account has open: confirmed orders and bookings not yet delivered or loaded, "
            "plus the ledger's balance (charged and not yet paid; negative when paid in advance)"
        ),
    ]
    available_credit_minor: Annotated[
        int, msgspec.Meta(description="credit limit - open amount, never below 0: what a new order may take")
    ]
    currency: str
    tier: int
    yearly_volume_kg: Annotated[
        int, msgspec.Meta(description="net kilograms delivered and loaded at the rack in the last 365 days")
    ]
    created_at: datetime
    manager_id: uuid.UUID | None = None


class PaymentIn(Input):
    amount_minor: Annotated[int, msgspec.Meta(gt=0, le=10**13)]
    reference: Annotated[str, msgspec.Meta(min_length=1, max_length=80)] | None = None


class SiteIn(Input):
    name: Name
    address: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    lat: Lat
    lon: Lon
    tank_capacity_litres: Annotated[int, msgspec.Meta(ge=100, le=1_000_000)]
    receiving_hours: list[HoursEntry]
    max_vehicle_class: VehicleClass | None = None
    timezone: TzName | None = None


class SiteOut(msgspec.Struct):
    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    address: str
    lat: float
    lon: float
    timezone: str
    tank_capacity_litres: int
    receiving_hours: list[HoursEntry]
    max_vehicle_class: int | None
    created_at: datetime


class ApplicationIn(Input):
    company_name: Name
    tax_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z]{6,20}$", examples=["91310000MA1FL5XXXX"])]
    contact_name: ShortText
    contact_phone: Phone
    username: Username
    password: Password
    site: SiteIn
    referral_code: Annotated[str, msgspec.Meta(max_length=16)] | None = None


class ApplicationOut(msgspec.Struct):
    id: uuid.UUID
    status: str
    company_name: str
    tax_id: str
    contact_name: str
    contact_phone: str
    username: str
    site: SiteIn
    referred_by_id: uuid.UUID | None
    reason: str | None
    customer_id: uuid.UUID | None
    created_at: datetime
    manager_id: uuid.UUID | None = None  # the new customer's account manager, once approved


class ApproveIn(Input):
    credit_limit_minor: MinorAmount
    # The account manager of the new customer; by default the referrer, when the referrer is a manager.
    manager_id: uuid.UUID | None = None


class RejectIn(Input):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


# --- quotes and orders -------------------------------------------------------------------------------------


class QuoteIn(Input):
    site_id: uuid.UUID
    product_code: ProductCode
    delivery_date: date
    quantity_litres: Litres | None = None
    quantity_kg: Kilograms | None = None


class PriceBreakdown(msgspec.Struct):
    """The unit price per litre and per tonne (at the standard temperature), the quantity in both units, and the
    discounts: the volume tier's percentage and a contract's amount per litre."""

    currency: str
    price_per_litre_minor: int
    price_per_tonne_minor: int | None  # None only where the product's density is not at hand
    quantity_litres: int
    quantity_kg: int | None
    gross_minor: int
    tier: int
    discount_bps: int
    discount_per_litre_minor: int
    discount_minor: int
    amount_minor: int


class ServingDepot(msgspec.Struct):
    id: uuid.UUID
    name: str
    distance_km: float


class EarliestWindow(msgspec.Struct):
    """The first window the fleet can still serve (the quote's day, else the days after it)."""

    delivery_date: date
    window_start: str  # HH:MM, local time of the site, as POST /orders takes it
    window_end: str
    window_start_at: datetime
    window_end_at: datetime
    within_promise: bool  # starts within the promise (24 h from now)
    promise_hours: int
    marginal_cost_minor: int | None = None


class PickupAlternative(msgspec.Struct):
    """When the fleet is full: the first loading slot with a place left at the serving depot (book it with
    POST /pickups, `slot_start` = `slot_start_at`)."""

    depot_id: uuid.UUID
    depot_name: str
    slot_start_at: datetime  # the depot's local time, with its offset
    slot_end_at: datetime
    places_left: int


class PromiseAnswer(msgspec.Struct):
    """What the promise answers a quote: the earliest window, whether the fleet is full on the quote's day, and
    then a pickup slot instead."""

    earliest_window: EarliestWindow | None = None
    fleet_full: bool = False
    pickup_alternative: PickupAlternative | None = None


class QuoteOut(msgspec.Struct):
    site_id: uuid.UUID
    product_code: str
    delivery_date: date
    quantity_litres: int
    quantity_kg: int
    depot: ServingDepot
    price: PriceBreakdown
    available_credit_minor: int
    within_credit: bool
    # None when no window is free in the days looked at, or when the promise is not checked.
    earliest_window: EarliestWindow | None = None
    # True when the fleet can serve no window of the quote's day (the windows are full, not closed or past the
    # cut-off): `earliest_window` then proposes a later day, `pickup_alternative` a loading slot.
    fleet_full: bool = False
    pickup_alternative: PickupAlternative | None = None


class OrderIn(Input):
    site_id: uuid.UUID
    product_code: ProductCode
    delivery_date: date
    window_start: HHMM
    window_end: HHMM
    quantity_litres: Litres | None = None
    quantity_kg: Kilograms | None = None
    preferred_driver_id: uuid.UUID | None = None
    note: LongText | None = None


class OrderOut(msgspec.Struct):
    id: uuid.UUID
    reference: str
    status: str
    hold_reason: str | None
    customer_id: uuid.UUID
    site_id: uuid.UUID
    depot_id: uuid.UUID
    product_code: str
    quantity_litres: int
    quantity_kg: int | None
    delivery_date: date
    window_start: str
    window_end: str
    window_start_at: datetime
    window_end_at: datetime
    price: PriceBreakdown
    preferred_driver_id: uuid.UUID | None
    note: str | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None


class CancelIn(Input):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] = "cancelled by the customer"


class EventOut(msgspec.Struct):
    id: uuid.UUID
    type: str
    at: datetime
    from_status: str | None
    to_status: str | None
    actor_role: str | None
    actor_id: uuid.UUID | None
    reason: str | None
    data: dict[str, object] | None


# --- pickups -----------------------------------------------------------------------------------------------


class SlotOut(msgspec.Struct):
    start: datetime
    end: datetime
    capacity: int
    remaining: int


class PickupIn(Input):
    depot_id: uuid.UUID
    product_code: ProductCode
    slot_start: Annotated[datetime, msgspec.Meta(tz=True, description="ISO 8601 with offset")]
    vehicle_plate: Annotated[str, msgspec.Meta(min_length=2, max_length=16, examples=["沪A12345"])]
    driver_name: ShortText
    driver_phone: Annotated[str, msgspec.Meta(min_length=7, max_length=24, examples=["13800138000"])]
    quantity_litres: Litres | None = None
    quantity_kg: Kilograms | None = None


class PickupOut(msgspec.Struct):
    id: uuid.UUID
    reference: str
    status: str
    customer_id: uuid.UUID
    depot_id: uuid.UUID
    product_code: str
    quantity_litres: int
    slot_start: datetime
    slot_end: datetime
    vehicle_plate: str
    driver_name: str
    driver_phone: str
    price: PriceBreakdown
    cancel_reason: str | None
    loaded_litres_observed: int | None
    loaded_litres_net: int | None
    ticket_number: str | None
    created_at: datetime
    updated_at: datetime


class StandingOrderIn(Input):
    """A weekly schedule of deliveries to a site: `weekdays` ISO (1 Monday .. 7 Sunday), the window in the site's
    time zone, from `starts_on` to `ends_on` (open-ended without it)."""

    site_id: uuid.UUID
    product_code: ProductCode
    quantity_litres: Litres
    weekdays: Annotated[list[int], msgspec.Meta(min_length=1, max_length=7)]
    window_start: HHMM
    window_end: HHMM
    starts_on: date
    ends_on: date | None = None
    note: LongText | None = None


class StandingOrderRunOut(msgspec.Struct):
    delivery_date: date
    at: datetime
    order_id: uuid.UUID | None
    code: str | None  # why it was refused
    detail: str | None


class StandingOrderOut(msgspec.Struct):
    id: uuid.UUID
    status: str  # active | ended | cancelled
    site_id: uuid.UUID
    product_code: str
    quantity_litres: int
    weekdays: list[int]
    window_start: str
    window_end: str
    starts_on: date
    ends_on: date | None
    note: str | None
    created_by: uuid.UUID
    created_at: datetime
    cancelled_at: datetime | None
    runs: list[StandingOrderRunOut] | None = None  # the latest occurrences (GET /standing-orders/{id})


class RepeatIn(Input):
    delivery_date: date
