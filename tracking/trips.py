"""A published trip on the road: loading at the rack, departure, arrival, delivery (with proof) or failure."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import InvalidInput
from core.events import record_event
from core.ids import new_reference
from dispatch.models import PlanStop, PlanTrip
from dispatch.states import TripStatus, move_trip
from orders import lifecycle
from orders.models import Order, Product
from orders.rules import OrderStatus
from tracking import codes
from tracking.models import IssuedCode, LoadingTicket
from tracking.volume import correct_volume


async def trip_orders(session: AsyncSession, trip: PlanTrip, *, lock: bool = False) -> list[Order]:
    stmt = (
        select(Order)
        .join(PlanStop, PlanStop.order_id == Order.id)
        .where(PlanStop.trip_id == trip.id)
        .order_by(PlanStop.sequence)
    )
    if lock:
        stmt = stmt.with_for_update(of=Order)
    return list((await session.scalars(stmt)).all())


async def redeem_trip(
    session: AsyncSession,
    trip: PlanTrip,
    issued: IssuedCode | None,
    payload: codes.Payload | None,
    *,
    depot_id: uuid.UUID,
    observed: int,
    temperature_c: float,
    plate: str,
    base_temperature_c: int,
    actor: Principal | None,
    at: datetime,
    now: datetime,
    offline_id: str | None,
) -> LoadingTicket:
    """Load a company tanker for a trip: net litres per grade (the metered total is split in the planned
    proportions, each corrected with its own density), then the trip and its orders become `loaded`."""
    assert issued is not None and payload is not None
    planned: dict[str, int] = {}
    for load in trip.loads:
        planned[load["product"]] = planned.get(load["product"], 0) + int(load["litres"])
    total_planned = sum(planned.values()) or 1
    densities = {
        p.code: p.density_kg_m3 for p in (await session.scalars(select(Product).where(Product.code.in_(planned))))
    }
    net = 0
    factors = []
    remaining = observed
    for index, (product, litres) in enumerate(sorted(planned.items())):
        share = remaining if index == len(planned) - 1 else round(observed * litres / total_planned)
        remaining -= share
        corrected = correct_volume(
            share, temperature_c, density_kg_m3=densities[product], base_temperature_c=base_temperature_c
        )
        net += corrected.net_litres
        factors.append(f"{product}:{corrected.vcf}")
    if net > payload.max_litres:
        raise InvalidInput(
            f"{net} L at {base_temperature_c} °C is more than this trip's load ({payload.max_litres} L): stop loading",
            code="over_maximum",
            field="loaded_litres_observed",
        )
    mean_density = sum(densities[p] * litres for p, litres in planned.items()) / total_planned
    ticket = LoadingTicket(
        ticket_number=new_reference("BL", at.date()),
        code_id=issued.id,
        kind="trip",
        subject_id=trip.id,
        depot_id=depot_id,
        vehicle_plate=codes.normalise_plate(plate),
        product_code="+".join(sorted(planned))[:32],
        loaded_litres_observed=observed,
        temperature_c=temperature_c,
        base_temperature_c=base_temperature_c,
        density_kg_m3=round(mean_density, 1),
        vcf=";".join(factors)[:12] if len(planned) == 1 else "per-grade",
        net_litres=net,
        redeemed_at=at,
        recorded_at=now,
        redeemed_by=actor.id if actor else None,
        offline=offline_id is not None,
        offline_id=offline_id,
    )
    if len(planned) == 1:
        ticket.vcf = factors[0].split(":", 1)[1]
    session.add(ticket)
    await session.flush()
    move_trip(trip, TripStatus.LOADED)
    trip.loaded_at = at
    for order in await trip_orders(session, trip, lock=True):
        if order.status == OrderStatus.SCHEDULED:
            lifecycle.load(
                session,
                order,
                at=at,
                actor=actor,
                data={"ticket_number": ticket.ticket_number, "trip_id": str(trip.id)},
            )
    record_event(
        session,
        subject_type="trip",
        subject_id=trip.id,
        type="trip_loaded",
        at=at,
        actor=actor,
        from_status=str(TripStatus.PLANNED),
        to_status=str(TripStatus.LOADED),
        data={"ticket_number": ticket.ticket_number, "net_litres": net, "observed_litres": observed},
    )
    await session.flush()
    return ticket
