"""The depot's loading bays on one calendar: customer pickups and the marketer's own tanker loads.

A tanker load is a trip of the day's published plan (or, while none is published for that day and scope, of its
newest draft) loading at the depot: it holds a bay from its loading start to its departure. Pickup slots count
these (orders.bay_port), so a pickup cannot take the bay a planned load needs."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.hours import zone
from core.settings import OrderRules
from dispatch.models import Plan, PlanTrip, Tanker
from dispatch.states import PlanStatus
from orders.bay_port import TankerLoad, overlapping
from orders.catalogue import get_depot
from orders.models import PickupBooking
from orders.pickups import slot_starts
from orders.rules import PICKUP_TAKES_PLACE


def _days_from(day: date, days: int) -> date:
    """`day` moved by `days`, held at the calendar's ends (a query may ask for 9999-12-31)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


async def tanker_loads(
    session: AsyncSession, *, depot_id: uuid.UUID, start: datetime, end: datetime
) -> list[TankerLoad]:
    # The plan that counts for each (day, scope): the published one, else the newest draft; chosen among every
    # plan of the days around the span (a day's local date is at most a day off its UTC instants).
    plans = (
        await session.scalars(
            select(Plan).where(
                Plan.date >= _days_from(start.date(), -1),
                Plan.date <= _days_from(end.date(), 1),
                Plan.status.in_([PlanStatus.PUBLISHED, PlanStatus.DRAFT]),
            )
        )
    ).all()
    chosen: dict[tuple[date, str], Plan] = {}
    for plan in plans:
        best = chosen.get((plan.date, plan.scope))
        if best is None or _rank(plan) > _rank(best):
            chosen[(plan.date, plan.scope)] = plan
    if not chosen:
        return []
    by_id = {plan.id: plan for plan in chosen.values()}
    rows = (
        await session.execute(
            select(PlanTrip, Tanker.plate)
            .join(Tanker, Tanker.id == PlanTrip.tanker_id)
            .where(
                PlanTrip.plan_id.in_(list(by_id)),
                PlanTrip.depot_id == depot_id,
                PlanTrip.load_start < end,
                PlanTrip.depart > start,
            )
        )
    ).all()
    loads = [
        TankerLoad(
            trip_id=trip.id,
            plan_id=trip.plan_id,
            plan_status=by_id[trip.plan_id].status,
            tanker_id=trip.tanker_id,
            plate=plate,
            start=trip.load_start,
            end=trip.depart,
        )
        for trip, plate in rows
    ]
    return sorted(loads, key=lambda load: (load.start, str(load.trip_id)))


def _rank(plan: Plan) -> tuple[bool, datetime, str]:
    return plan.status == PlanStatus.PUBLISHED, plan.created_at, str(plan.id)


class BayBooking(msgspec.Struct, kw_only=True):
    kind: str  # pickup | tanker_load
    start: datetime
    end: datetime
    bay: int | None  # a bay of the calendar (lowest free one, in start order); None: more bookings than bays
    pickup_id: uuid.UUID | None = None
    reference: str | None = None
    status: str | None = None
    vehicle_plate: str | None = None
    customer_id: uuid.UUID | None = None
    quantity_litres: int | None = None
    trip_id: uuid.UUID | None = None
    plan_id: uuid.UUID | None = None
    plan_status: str | None = None
    tanker_id: uuid.UUID | None = None


class BaySlot(msgspec.Struct, kw_only=True):
    start: datetime
    end: datetime
    capacity: int
    pickups: int
    tanker_loads: int
    remaining: int


class BayCalendar(msgspec.Struct, kw_only=True):
    depot_id: uuid.UUID
    date: date
    bays: int
    slots: list[BaySlot]
    bookings: list[BayBooking]


async def calendar(session: AsyncSession, *, depot_id: uuid.UUID, day: date, rules: OrderRules) -> BayCalendar:
    """The day's pickup slots with what holds their bays, and every booking given a bay of the calendar."""
    depot = await get_depot(session, depot_id)
    tz = zone(depot.timezone)
    slots = slot_starts(depot, day, rules.slot_minutes)
    if not slots:
        return BayCalendar(depot_id=depot.id, date=day, bays=depot.loading_bays, slots=[], bookings=[])
    first, last = slots[0][0], slots[-1][1]
    pickups = (
        await session.scalars(
            select(PickupBooking)
            .where(
                PickupBooking.depot_id == depot.id,
                PickupBooking.slot_start >= first,
                PickupBooking.slot_start < last,
                PickupBooking.status.in_([str(x) for x in PICKUP_TAKES_PLACE]),
            )
            .order_by(PickupBooking.slot_start, PickupBooking.created_at)
        )
    ).all()
    loads = await tanker_loads(session, depot_id=depot.id, start=first, end=last)
    out_slots = []
    for start, end in slots:
        taken_by_pickups = sum(1 for p in pickups if p.slot_start < end and p.slot_end > start)
        taken_by_loads = len(overlapping(loads, start, end))
        out_slots.append(
            BaySlot(
                start=start.astimezone(tz),
                end=end.astimezone(tz),
                capacity=depot.loading_bays,
                pickups=taken_by_pickups,
                tanker_loads=taken_by_loads,
                remaining=max(0, depot.loading_bays - taken_by_pickups - taken_by_loads),
            )
        )
    bookings = [
        BayBooking(
            kind="tanker_load",
            start=load.start.astimezone(tz),
            end=load.end.astimezone(tz),
            bay=None,
            trip_id=load.trip_id,
            plan_id=load.plan_id,
            plan_status=load.plan_status,
            tanker_id=load.tanker_id,
            vehicle_plate=load.plate,
        )
        for load in loads
    ] + [
        BayBooking(
            kind="pickup",
            start=p.slot_start.astimezone(tz),
            end=p.slot_end.astimezone(tz),
            bay=None,
            pickup_id=p.id,
            reference=p.reference,
            status=p.status,
            vehicle_plate=p.vehicle_plate,
            customer_id=p.customer_id,
            quantity_litres=p.quantity_litres,
        )
        for p in pickups
    ]
    # Tanker loads first among equal starts: the plan's loads hold their bays, the pickups take the others.
    bookings.sort(key=lambda b: (b.start, b.kind != "tanker_load"))
    free_at: dict[int, datetime] = {}
    for booking in bookings:
        bay = next(
            (n for n in range(1, depot.loading_bays + 1) if free_at.get(n, booking.start) <= booking.start), None
        )
        if bay is not None:
            booking.bay, free_at[bay] = bay, booking.end
    return BayCalendar(depot_id=depot.id, date=day, bays=depot.loading_bays, slots=out_slots, bookings=bookings)
