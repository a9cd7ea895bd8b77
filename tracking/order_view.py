"""What `GET /orders/{id}/tracking` shows: the whole trip to staff; to the order's customer, only what is its own.

A customer sees, of the published trip carrying its order:
* the tanker's plate while the order is scheduled, loaded or en route;
* the tanker's live position only while the tanker is on its way to this customer's stop: the order is loaded or
  en route (its trip was loaded at the rack and has not finished this stop: the stop is the next one or a later
  one) and the stop is not yet delivered or failed. A cancelled order is never loaded, so it never shows the tanker;
* the ETA, the loading depot and its own stop on the map: no line through the trip (it would pass the other
  customers' sites), no other stop;
* nothing live once the order is delivered, failed or cancelled (no tanker, no ETA, no map).
Staff see the whole trip: every stop, the line, and the tanker's latest position whenever there is one.

The tanker is the published trip's: `orders.tanker_id` is only a fallback for staff (it is what publishing set, and a
finished order keeps it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from dispatch.models import Plan, PlanStop, PlanTrip, Tanker
from orders.models import Depot, Order, Site
from orders.rules import OrderStatus
from tracking import schemas as s
from tracking.positions import LatestPosition, PositionStore

FINISHED = frozenset({OrderStatus.DELIVERED, OrderStatus.FAILED, OrderStatus.CANCELLED})
ON_THE_WAY = frozenset({OrderStatus.LOADED, OrderStatus.EN_ROUTE})
STOP_AHEAD = frozenset({"planned", "arrived"})  # the tanker has not finished this stop yet


@dataclass(frozen=True, slots=True)
class Placement:
    """The order's stop in the published plan with what any view of it shows: one query, plain columns (this is
    the hottest read of the service: customers poll it)."""

    stop_id: uuid.UUID
    sequence: int
    stop_status: str
    stop_time: datetime  # the live ETA once re-estimated, else the planned arrival
    trip_id: uuid.UUID
    tanker_id: uuid.UUID
    plate: str | None
    depot: dict[str, Any]  # the loading depot as a GeoJSON point
    site_name: str
    site_lon: float
    site_lat: float


async def order_tracking(
    session: AsyncSession, *, order: Order, viewer: Principal, positions: PositionStore
) -> s.TrackingOut:
    """The order's tracking as `viewer` may see it (the caller has checked that the viewer may see the order)."""
    placed = await _published_stop(session, order.id)
    if viewer.is_staff:
        return await _staff_view(session, order=order, placed=placed, positions=positions)
    return await _customer_view(order=order, placed=placed, positions=positions)


async def _staff_view(
    session: AsyncSession, *, order: Order, placed: Placement | None, positions: PositionStore
) -> s.TrackingOut:
    tanker = None
    if placed is not None:
        tanker = {"plate": placed.plate, "position": _position(await positions.get(placed.tanker_id))}
    elif order.tanker_id is not None:
        plate = await session.scalar(select(Tanker.plate).where(Tanker.id == order.tanker_id))
        tanker = {"plate": plate, "position": _position(await positions.get(order.tanker_id))}
    route = await _trip_geojson(session, placed) if placed else None
    return _out(order, eta=order.eta, tanker=tanker, route=route)


async def _customer_view(*, order: Order, placed: Placement | None, positions: PositionStore) -> s.TrackingOut:
    if placed is None or order.status in FINISHED:
        return _out(order, eta=None, tanker=None, route=None)
    latest = await positions.get(placed.tanker_id) if _on_its_way_here(order, placed) else None
    tanker = {"plate": placed.plate, "position": _position(latest)}
    return _out(order, eta=order.eta, tanker=tanker, route=_own_stop_geojson(placed))


def _on_its_way_here(order: Order, placed: Placement) -> bool:
    """Loaded or en route, and this order's stop not yet delivered or failed: the tanker may be shown."""
    return order.status in ON_THE_WAY and placed.stop_status in STOP_AHEAD


async def tanker_on_its_way(session: AsyncSession, *, order: Order, positions: PositionStore) -> LatestPosition | None:
    """The tanker's latest position when the customer's rule lets it be seen (a share link shows no more)."""
    if order.status in FINISHED:
        return None
    placed = await _published_stop(session, order.id)
    if placed is None or not _on_its_way_here(order, placed):
        return None
    return await positions.get(placed.tanker_id)


def _out(order: Order, *, eta: Any, tanker: dict[str, Any] | None, route: dict[str, Any] | None) -> s.TrackingOut:
    return s.TrackingOut(
        order_id=order.id,
        reference=order.reference,
        status=order.status,
        eta=eta,
        window_start=order.window_start,
        window_end=order.window_end,
        tanker=tanker,
        route=route,
    )


async def _published_stop(session: AsyncSession, order_id: uuid.UUID) -> Placement | None:
    """The order's stop and trip in the published plan, if it has one. An order split over several trips: the
    first stop still to be done (else the first)."""
    rows = (
        await session.execute(
            select(
                PlanStop.id,
                PlanStop.sequence,
                PlanStop.status,
                func.coalesce(PlanStop.eta, PlanStop.arrival),
                PlanTrip.id,
                PlanTrip.tanker_id,
                Tanker.plate,
                Depot.name,
                Depot.lon,
                Depot.lat,
                Site.name,
                Site.lon,
                Site.lat,
            )
            .join(PlanTrip, PlanTrip.id == PlanStop.trip_id)
            .join(Plan, Plan.id == PlanTrip.plan_id)
            .join(Depot, Depot.id == PlanTrip.depot_id)
            .join(Order, Order.id == PlanStop.order_id)
            .join(Site, Site.id == Order.site_id)
            .outerjoin(Tanker, Tanker.id == PlanTrip.tanker_id)
            .where(PlanStop.order_id == order_id, Plan.status == "published")
            .order_by(PlanTrip.load_start, PlanStop.sequence)
        )
    ).all()
    placements = [
        Placement(
            stop_id=row[0],
            sequence=row[1],
            stop_status=row[2],
            stop_time=row[3],
            trip_id=row[4],
            tanker_id=row[5],
            plate=row[6],
            depot=_point(row[8], row[9], {"kind": "depot", "name": row[7]}),
            site_name=row[10],
            site_lon=row[11],
            site_lat=row[12],
        )
        for row in rows
    ]
    ahead = [placed for placed in placements if placed.stop_status in STOP_AHEAD]
    return next(iter(ahead or placements), None)


def _position(latest: LatestPosition | None) -> dict[str, Any] | None:
    if latest is None:
        return None
    return {"lat": latest.lat, "lon": latest.lon, "recorded_at": latest.recorded_at, "speed": latest.speed}


def _point(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def _stop_properties(placed: Placement) -> dict[str, Any]:
    return {
        "kind": "stop",
        "number": placed.sequence,
        "this_order": True,
        "name": placed.site_name,
        "eta": placed.stop_time.isoformat(),
    }


def _own_stop_geojson(placed: Placement) -> dict[str, Any]:
    """The loading depot (public anyway) and the customer's own stop."""
    features = [placed.depot, _point(placed.site_lon, placed.site_lat, _stop_properties(placed))]
    return {"type": "FeatureCollection", "features": features}


async def _trip_geojson(session: AsyncSession, mine: Placement) -> dict[str, Any]:
    """For staff: the trip carrying the order, depot, stops in order, this order's stop marked (named, with its
    time); the others without names or times."""
    points = (
        await session.execute(
            select(PlanStop.id, PlanStop.sequence, Site.lon, Site.lat)
            .join(Order, Order.id == PlanStop.order_id)
            .join(Site, Site.id == Order.site_id)
            .where(PlanStop.trip_id == mine.trip_id)
            .order_by(PlanStop.sequence)
        )
    ).all()
    home = mine.depot["geometry"]["coordinates"]
    line = [home, *([lon, lat] for _, _, lon, lat in points), home]
    features: list[dict[str, Any]] = [
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": line}, "properties": {"kind": "trip"}},
        mine.depot,
    ]
    for stop_id, sequence, lon, lat in points:
        if stop_id == mine.stop_id:
            features.append(_point(lon, lat, _stop_properties(mine)))
        else:
            features.append(
                _point(lon, lat, {"kind": "stop", "number": sequence, "this_order": False, "name": None, "eta": None})
            )
    return {"type": "FeatureCollection", "features": features}
