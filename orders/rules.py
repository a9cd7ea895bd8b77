"""Pure business rules for orders and bookings: state machines, credit, tiers, quantities, windows."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from core.errors import Conflict, InvalidInput
from core.hours import WeeklyHours, within
from core.settings import OrderRules
from core.statemachine import check_transition
from core.units import kg_to_litres


class OrderStatus(StrEnum):
    PLACED = "placed"
    AWAITING_APPROVAL = "awaiting_approval"  # above its orderer's approval limit: no credit taken until approved
    ON_HOLD = "on_hold"
    CONFIRMED = "confirmed"
    SCHEDULED = "scheduled"
    LOADED = "loaded"
    EN_ROUTE = "en_route"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


_O = OrderStatus
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _O.PLACED: frozenset({_O.CONFIRMED, _O.ON_HOLD, _O.AWAITING_APPROVAL, _O.CANCELLED}),
    # Approved: confirmed or held on credit as a new order would be; rejected (or withdrawn): cancelled.
    _O.AWAITING_APPROVAL: frozenset({_O.CONFIRMED, _O.ON_HOLD, _O.CANCELLED}),
    _O.ON_HOLD: frozenset({_O.CONFIRMED, _O.CANCELLED}),
    # A published plan can be superseded: its orders go back to confirmed before the new plan schedules them.
    _O.CONFIRMED: frozenset({_O.SCHEDULED, _O.CANCELLED}),
    _O.SCHEDULED: frozenset({_O.CONFIRMED, _O.SCHEDULED, _O.LOADED, _O.CANCELLED}),
    _O.LOADED: frozenset({_O.EN_ROUTE, _O.DELIVERED, _O.FAILED}),
    _O.EN_ROUTE: frozenset({_O.DELIVERED, _O.FAILED}),
    _O.DELIVERED: frozenset(),
    _O.FAILED: frozenset(),
    _O.CANCELLED: frozenset(),
}
# Until loading, an order still holds credit and can be cancelled.
ORDER_HOLDS_CREDIT = frozenset({_O.CONFIRMED, _O.SCHEDULED, _O.LOADED, _O.EN_ROUTE})


def order_transition(current: str, target: OrderStatus) -> None:
    check_transition(ORDER_TRANSITIONS, OrderStatus(current), target, subject="order")


class PickupStatus(StrEnum):
    BOOKED = "booked"
    LOADING = "loading"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


_P = PickupStatus
PICKUP_TRANSITIONS: dict[PickupStatus, frozenset[PickupStatus]] = {
    _P.BOOKED: frozenset({_P.LOADING, _P.COMPLETED, _P.EXPIRED, _P.CANCELLED}),
    _P.LOADING: frozenset({_P.COMPLETED}),
    _P.COMPLETED: frozenset(),
    _P.EXPIRED: frozenset(),
    _P.CANCELLED: frozenset(),
}
# Places in a slot are taken by every booking that has not been released.
PICKUP_TAKES_PLACE = frozenset({_P.BOOKED, _P.LOADING, _P.COMPLETED})


def pickup_transition(current: str, target: PickupStatus) -> None:
    check_transition(PICKUP_TRANSITIONS, PickupStatus(current), target, subject="pickup booking")


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


_A = ApplicationStatus
APPLICATION_TRANSITIONS: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    _A.PENDING: frozenset({_A.APPROVED, _A.REJECTED}),
    _A.APPROVED: frozenset(),
    _A.REJECTED: frozenset(),
}


def application_transition(current: str, target: ApplicationStatus) -> None:
    check_transition(APPLICATION_TRANSITIONS, ApplicationStatus(current), target, subject="application")


# Why an order is held on credit: its `hold_reason`, and the reason of its `order_on_hold` event.
HOLD_REASON = "credit_limit"
HOLD_EVENT_REASON = "credit_limit: the order would take the account over its credit limit"


def litres_from(*, quantity_litres: int | None, quantity_kg: int | None, density_kg_m3: float) -> int:
    """The quantity in standard litres, given in litres or in kilograms (exactly one of them)."""
    if (quantity_litres is None) == (quantity_kg is None):
        raise InvalidInput(
            "give exactly one of quantity_litres and quantity_kg",
            code="quantity_required",
            field="quantity_litres",
        )
    if quantity_litres is not None:
        return quantity_litres
    assert quantity_kg is not None
    return kg_to_litres(quantity_kg, density_kg_m3)


MAX_TIER_BANDS = 20


def check_tier_bands(bands: list[tuple[int, int]]) -> None:
    """A tier table: at least one band, the first from 0 t, strictly ascending."""
    if not bands:
        raise InvalidInput("give at least one band", code="empty_request")
    if len(bands) > MAX_TIER_BANDS:
        raise InvalidInput(f"at most {MAX_TIER_BANDS} bands", code="too_many_items")
    if bands[0][0] != 0:
        raise InvalidInput("the first band starts at 0 t", code="tiers_start_at_zero", field="[0].from_tonnes")
    for index in range(1, len(bands)):
        if bands[index][0] <= bands[index - 1][0]:
            raise InvalidInput(
                "bands go up: each starts above the one before",
                code="tiers_not_ascending",
                field=f"[{index}].from_tonnes",
            )


def check_quantity(litres: int, *, rules: OrderRules, tank_capacity_litres: int | None = None) -> None:
    if litres < rules.min_litres:
        raise InvalidInput(
            f"the smallest quantity is {rules.min_litres} L",
            code="quantity_too_small",
            field="quantity_litres",
        )
    if litres > rules.max_litres:
        raise InvalidInput(
            f"the largest quantity is {rules.max_litres} L",
            code="quantity_too_large",
            field="quantity_litres",
        )
    if tank_capacity_litres is not None and litres > tank_capacity_litres:
        raise InvalidInput(
            f"{litres} L would overfill the site's tank ({tank_capacity_litres} L)",
            code="exceeds_tank_capacity",
            field="quantity_litres",
        )


def check_delivery_window(
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    receiving_hours: WeeklyHours,
    tz: ZoneInfo,
    rules: OrderRules,
) -> None:
    if end <= start:
        raise InvalidInput("the window must end after it starts", code="invalid_window", field="window_end")
    if end - start < timedelta(minutes=30):
        raise InvalidInput("the window must be at least 30 minutes long", code="window_too_short", field="window_end")
    if start <= now:
        raise InvalidInput("the window is in the past", code="window_in_past", field="window_start")
    if start < now + timedelta(minutes=rules.lead_time_minutes):
        hours = rules.lead_time_minutes / 60
        raise InvalidInput(
            f"orders must be placed at least {hours:g} h before the window starts (cut-off passed)",
            code="lead_time",
            field="window_start",
        )
    if start > now + timedelta(days=rules.max_days_ahead):
        raise InvalidInput(
            f"orders can be placed at most {rules.max_days_ahead} days ahead",
            code="too_far_ahead",
            field="delivery_date",
        )
    if not within(receiving_hours, start, end, tz):
        raise InvalidInput(
            "the window is outside the site's receiving hours",
            code="outside_receiving_hours",
            field="window_start",
        )


def check_delivery_date(day: date, *, today: date, rules: OrderRules) -> None:
    if day < today:
        raise InvalidInput("the delivery date is in the past", code="date_in_past", field="delivery_date")
    if day > today + timedelta(days=rules.max_days_ahead):
        raise InvalidInput(
            f"orders can be placed at most {rules.max_days_ahead} days ahead",
            code="too_far_ahead",
            field="delivery_date",
        )


# Mainland Chinese plates (province character, letter, 5-6 alphanumerics) or a generic 2-10 character plate.
_PLATE = re.compile(r"^(?:[\u4e00-\u9fff][A-Z][A-Z0-9]{5,6}|[A-Z0-9]{2,10})$")
_PHONE_DIGITS = re.compile(r"^\+?[0-9]{7,15}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def normalise_plate(plate: str) -> str:
    return re.sub(r"[\s\-·.]", "", plate).upper()


def check_plate(plate: str) -> str:
    normal = normalise_plate(plate)
    if not _PLATE.match(normal):
        raise InvalidInput(
            "the vehicle plate is not valid (e.g. 沪A12345 or AB1234)",
            code="invalid_plate",
            field="vehicle_plate",
        )
    return normal


def _typed_phone(phone: str) -> str:
    return re.sub(r"[\s\-()]", "", phone)


def check_phone(phone: str, *, field: str = "driver_phone") -> str:
    normal = _typed_phone(phone)
    if not _PHONE_DIGITS.match(normal):
        raise InvalidInput(
            "the phone number is not valid (7-15 digits, optional leading +)",
            code="invalid_phone",
            field=field,
        )
    return normal


def sms_number(phone: str) -> str | None:
    """A phone number as SMS providers take it (E.164), or None when it cannot be one. Numbers come as people type
    them (`check_phone`): one without a country code is Chinese (+86), its trunk 0 dropped."""
    number = _typed_phone(phone)
    if not _PHONE_DIGITS.match(number):
        return None
    if number.startswith("00"):
        number = "+" + number[2:]
    elif not number.startswith("+"):
        number = "+" + number if len(number) == 13 and number.startswith("86") else "+86" + number.removeprefix("0")
    return number if _E164.match(number) else None


def check_sms_phone(phone: str, *, field: str = "phone") -> str:
    """`check_phone`, and a number an SMS can reach (the pickup pass is only ever sent by SMS)."""
    normal = check_phone(phone, field=field)
    if sms_number(normal) is None:
        raise InvalidInput(
            "this phone number cannot receive an SMS (e.g. 13800138000 or +8613800138000)",
            code="invalid_phone",
            field=field,
        )
    return normal


def check_slot_free(*, taken: int, capacity: int) -> None:
    if taken >= capacity:
        raise Conflict("this slot is full; pick another one", code="slot_full", field="slot_start")
