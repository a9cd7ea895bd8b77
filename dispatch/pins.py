"""Dispatchers keep control: pins survive every re-plan of the day."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import InvalidInput, NotFound
from dispatch import schemas as s
from dispatch.fleet import get_tanker
from dispatch.models import Pin, Plan, PlanStop, PlanTrip
from dispatch.planning import get_plan
from orders.models import Order, Site


async def pin_stop(
    session: AsyncSession, *, plan_id: uuid.UUID, stop_id: uuid.UUID, data: s.StopPatch, actor: Principal, now: datetime
) -> Plan:
    plan = await get_plan(session, plan_id, lock=True)
    row = (
        await session.execute(
            select(PlanStop, PlanTrip)
            .join(PlanTrip, PlanTrip.id == PlanStop.trip_id)
            .where(PlanStop.id == stop_id, PlanStop.plan_id == plan.id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("no such stop in this plan", code="stop_not_found")
    stop, trip = row
    existing = await session.scalar(select(Pin).where(Pin.date == plan.date, Pin.order_id == stop.order_id))
    if not data.pinned:
        if existing is not None:
            await session.delete(existing)
        stop.pinned = False
        await session.flush()
        return plan
    tanker_id = data.tanker_id or trip.tanker_id
    tanker = await get_tanker(session, tanker_id)
    order = await session.get(Order, stop.order_id)
    site = await session.get(Site, order.site_id) if order else None
    assert order is not None and site is not None
    if site.max_vehicle_class is not None and tanker.vehicle_class > site.max_vehicle_class:
        raise InvalidInput(
            f"tanker {tanker.plate} (class {tanker.vehicle_class}) is too large for {site.name} "
            f"(at most class {site.max_vehicle_class})",
            code="vehicle_too_large",
            field="tanker_id",
        )
    if not tanker.available:
        raise InvalidInput(f"tanker {tanker.plate} is not available", code="tanker_unavailable", field="tanker_id")
    if existing is None:
        existing = Pin(date=plan.date, order_id=stop.order_id, tanker_id=tanker.id, created_by=actor.id, created_at=now)
        session.add(existing)
    existing.tanker_id, existing.position = tanker.id, data.position
    stop.pinned = True
    if tanker.id != trip.tanker_id or data.position is not None:
        plan.outdated = True  # the move takes shape at the next re-plan, which keeps the pin
    await session.flush()
    return plan
