"""Digital pickup bookings: slots per depot, race-safe booking of the last place, expiry of no-shows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import idempotency
from core.auth import Principal, Role
from core.errors import InvalidInput, NotFound
from core.hours import HoursEntry, local_windows, zone
from core.ids import new_reference
from core.settings import OrderRules
from orders import bay_port, lifecycle
from orders import schemas as s
from orders.catalogue import get_depot, get_product
from orders.models import Depot, PickupBooking
from orders.pricing import fixed_breakdown, price_breakdown, unit_price
from orders.rules import (
    PICKUP_TAKES_PLACE,
    PickupStatus,
    check_phone,
    check_plate,
    check_quantity,
    check_slot_free,
    litres_from,
)


def slot_starts(depot: Depot, day: date, slot_minutes: int) -> list[tuple[datetime, datetime]]:
    """Slots of `slot_minutes` inside the depot's opening windows on its local `day`."""
    tz = zone(depot.timezone)
    slots = []
    for open_at, close_at in local_windows([HoursEntry(**h) for h in depot.opening_hours], day, tz):
        start = open_at
        while start + timedelta(minutes=slot_minutes) <= close_at:
            slots.append((start, start + timedelta(minutes=slot_minutes)))
            start += timedelta(minutes=slot_minutes)
    return slots


async def _taken(session: AsyncSession, depot_id: uuid.UUID, starts: list[datetime]) -> dict[datetime, int]:
    if not starts:
        return {}
    rows = await session.execute(
        select(PickupBooking.slot_start, func.count())
        .where(
            PickupBooking.depot_id == depot_id,
            PickupBooking.slot_start >= min(starts),
            PickupBooking.slot_start <= max(starts),
            PickupBooking.status.in_([str(x) for x in PICKUP_TAKES_PLACE]),
        )
        .group_by(PickupBooking.slot_start)
    )
    return {start: count for start, count in rows}  # noqa: C416 - dict(Result) would treat it as a mapping


async def _bays_held(
    session: AsyncSession, depot_id: uuid.UUID, slots: list[tuple[datetime, datetime]]
) -> dict[datetime, int]:
    """Per slot start, the bays it has not to give: its pickups and the tanker loads planned or published then
    (one calendar, orders.bay_port)."""
    if not slots:
        return {}
    taken = await _taken(session, depot_id, [start for start, _ in slots])
    loads = await bay_port.tanker_loads(session, depot_id=depot_id, start=slots[0][0], end=slots[-1][1])
    return {start: taken.get(start, 0) + len(bay_port.overlapping(loads, start, end)) for start, end in slots}


async def list_slots(
    session: AsyncSession, *, depot_id: uuid.UUID, day: date, product_code: str | None, rules: OrderRules
) -> list[s.SlotOut]:
    depot = await get_depot(session, depot_id)
    if product_code is not None and product_code not in {p.code for p in depot.products}:
        raise InvalidInput(
            f"{depot.name} does not stock '{product_code}'", code="product_not_stocked", field="product_code"
        )
    slots = slot_starts(depot, day, rules.slot_minutes)
    taken = await _bays_held(session, depot.id, slots)
    tz = zone(depot.timezone)
    return [
        s.SlotOut(
            start=start.astimezone(tz),
            end=end.astimezone(tz),
            capacity=depot.loading_bays,
            remaining=max(0, depot.loading_bays - taken.get(start, 0)),
        )
        for start, end in slots
    ]


def pickup_out(booking: PickupBooking, *, density_kg_m3: float) -> s.PickupOut:
    """The booking as the API shows it, its price per litre and per tonne (the product's density)."""
    tz = zone(booking.timezone)
    return s.PickupOut(
        id=booking.id,
        reference=booking.reference,
        status=booking.status,
        customer_id=booking.customer_id,
        depot_id=booking.depot_id,
        product_code=booking.product_code,
        quantity_litres=booking.quantity_litres,
        slot_start=booking.slot_start.astimezone(tz),
        slot_end=booking.slot_end.astimezone(tz),
        vehicle_plate=booking.vehicle_plate,
        driver_name=booking.driver_name,
        driver_phone=booking.driver_phone,
        price=fixed_breakdown(booking, density_kg_m3=density_kg_m3),
        cancel_reason=booking.cancel_reason,
        loaded_litres_observed=booking.loaded_litres_observed,
        loaded_litres_net=booking.loaded_litres_net,
        ticket_number=booking.ticket_number,
        created_at=booking.created_at,
        updated_at=booking.updated_at,
    )


async def book_pickup(
    session: AsyncSession,
    *,
    data: s.PickupIn,
    actor: Principal,
    idempotency_key: str | None,
    now: datetime,
    rules: OrderRules,
) -> tuple[PickupBooking, bool]:
    if actor.role != Role.CUSTOMER or actor.customer_id is None:
        raise InvalidInput("pickups are booked by a customer account's users", code="customer_only")
    record = None
    if idempotency_key is not None:
        record = await idempotency.claim(
            session,
            scope=f"pickups:{actor.customer_id}",
            key=idempotency_key,
            digest=idempotency.request_hash(data),
        )
        if record.resource_id is not None:
            return await get_pickup(session, record.resource_id, viewer=actor), False

    plate = check_plate(data.vehicle_plate)
    phone = check_phone(data.driver_phone)
    product = await get_product(session, data.product_code)
    litres = litres_from(
        quantity_litres=data.quantity_litres, quantity_kg=data.quantity_kg, density_kg_m3=product.density_kg_m3
    )
    check_quantity(litres, rules=rules)
    # The depot's row lock serialises bookings at one depot, so the last place of a slot goes to one request.
    depot = await get_depot(session, data.depot_id, lock=True)
    if product.code not in {p.code for p in depot.products}:
        raise InvalidInput(
            f"{depot.name} does not stock '{product.code}'", code="product_not_stocked", field="product_code"
        )
    tz = zone(depot.timezone)
    local_day = data.slot_start.astimezone(tz).date()
    slot = next(((a, b) for a, b in slot_starts(depot, local_day, rules.slot_minutes) if a == data.slot_start), None)
    if slot is None:
        raise InvalidInput(
            "no such slot: pick a start time from GET /depots/{id}/slots (outside opening hours?)",
            code="invalid_slot",
            field="slot_start",
        )
    if slot[0] <= now:
        raise InvalidInput("this slot has already started", code="slot_in_past", field="slot_start")
    taken = (await _bays_held(session, depot.id, [slot])).get(slot[0], 0)
    check_slot_free(taken=taken, capacity=depot.loading_bays)
    unit = await unit_price(session, customer_id=actor.customer_id, depot=depot, product=product, day=local_day)
    breakdown = await price_breakdown(
        session, customer_id=actor.customer_id, unit=unit, litres=litres, now=now, rules=rules
    )
    booking = PickupBooking(
        reference=new_reference("PU", local_day),
        customer_id=actor.customer_id,
        depot_id=depot.id,
        product_code=product.code,
        quantity_litres=litres,
        slot_start=slot[0],
        slot_end=slot[1],
        timezone=depot.timezone,
        vehicle_plate=plate,
        driver_name=data.driver_name,
        driver_phone=phone,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    # Priced, its amount reserved on the credit account, or refused (409 credit_limit).
    await lifecycle.book(session, booking, breakdown=breakdown, now=now, actor=actor)
    if record is not None:
        idempotency.complete(record, resource_id=booking.id, status_code=201)
    await session.flush()
    return booking, True


async def get_pickup(
    session: AsyncSession, booking_id: uuid.UUID, *, viewer: Principal, lock: bool = False
) -> PickupBooking:
    stmt = select(PickupBooking).where(PickupBooking.id == booking_id)
    if lock:
        stmt = stmt.with_for_update()
    booking = (await session.execute(stmt)).scalar_one_or_none()
    if booking is None or (viewer.role == Role.CUSTOMER and booking.customer_id != viewer.customer_id):
        raise NotFound("no such pickup booking", code="pickup_not_found")
    return booking


async def list_pickups(
    session: AsyncSession,
    *,
    viewer: Principal,
    status: str | None,
    limit: int,
    offset: int,
    customer_id: uuid.UUID | None = None,
) -> tuple[Sequence[PickupBooking], int]:
    """Newest slot first; a customer sees its own, staff everyone's or one account's (`customer_id`)."""
    conditions = []
    if viewer.role == Role.CUSTOMER:
        conditions.append(PickupBooking.customer_id == viewer.customer_id)
    elif customer_id is not None:
        conditions.append(PickupBooking.customer_id == customer_id)
    if status is not None:
        if status not in PickupStatus.__members__.values():
            raise InvalidInput(f"unknown status '{status}'", code="invalid_status", field="status")
        conditions.append(PickupBooking.status == status)
    total = await session.scalar(select(func.count()).select_from(PickupBooking).where(*conditions)) or 0
    rows = (
        await session.scalars(
            select(PickupBooking)
            .where(*conditions)
            .order_by(PickupBooking.slot_start.desc(), PickupBooking.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return rows, total


async def cancel_pickup(
    session: AsyncSession, *, booking_id: uuid.UUID, reason: str, actor: Principal, now: datetime
) -> PickupBooking:
    booking = await get_pickup(session, booking_id, viewer=actor, lock=True)
    await lifecycle.release_pickup(session, booking, PickupStatus.CANCELLED, now=now, actor=actor, reason=reason)
    await session.flush()
    return booking


async def expire_no_shows(session: AsyncSession, *, now: datetime, grace: timedelta = timedelta(0)) -> int:
    """Bookings whose slot (plus the pickup code's grace) ended without loading become `expired` and release
    their credit."""
    stale = (
        await session.scalars(
            select(PickupBooking)
            .where(PickupBooking.status == PickupStatus.BOOKED, PickupBooking.slot_end < now - grace)
            .order_by(PickupBooking.slot_end)
            .limit(500)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for booking in stale:
        await lifecycle.release_pickup(
            session,
            booking,
            PickupStatus.EXPIRED,
            now=now,
            actor=None,
            reason="no-show: the slot ended unloaded",
        )
    await session.flush()
    return len(stale)
