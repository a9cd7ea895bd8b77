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
from typing import Any

from sqlalchemy import select
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


async def order_tracking(
    session: AsyncSession, *, order: Order, viewer: Principal, positions: PositionStore
) -> s.TrackingOut:
    """The order's tracking as `viewer` may see it (the caller has checked that the viewer may see the order)."""
    placed = await _published_stop(session, order.id)
    if viewer.is_staff:
        return await _staff_view(session, order=order, placed=placed, positions=positions)
    return await _customer_view(session, order=order, placed=placed, positions=positions)


async def _staff_view(
    session: AsyncSession, *, order: Order, placed: tuple[PlanStop, PlanTrip] | None, positions: PositionStore
) -> s.TrackingOut:
    tanker_id = placed[1].tanker_id if placed else order.tanker_id
    tanker = None
    if tanker_id is not None:
        tanker = {"plate": await _plate(session, tanker_id), "position": _position(await positions.get(tanker_id))}
    route = await _trip_geojson(session, *placed) if placed else None
    return _out(order, eta=order.eta, tanker=tanker, route=route)


async def _customer_view(
    session: AsyncSession, *, order: Order, placed: tuple[PlanStop, PlanTrip] | None, positions: PositionStore
) -> s.TrackingOut:
    if placed is None or order.status in FINISHED:
        return _out(order, eta=None, tanker=None, route=None)
    stop, trip = placed
    latest = await positions.get(trip.tanker_id) if _on_its_way_here(order, stop) else None
    tanker = {"plate": await _plate(session, trip.tanker_id), "position": _position(latest)}
    return _out(order, eta=order.eta, tanker=tanker, route=await _own_stop_geojson(session, order, stop, trip))


def _on_its_way_here(order: Order, stop: PlanStop) -> bool:
    """Loaded or en route, and this order's stop not yet delivered or failed: the tanker may be shown."""
    return order.status in ON_THE_WAY and stop.status in STOP_AHEAD


async def tanker_on_its_way(session: AsyncSession, *, order: Order, positions: PositionStore) -> LatestPosition | None:
    """The tanker's latest position when the customer's rule lets it be seen (a share link shows no more)."""
    if order.status in FINISHED:
        return None
    placed = await _published_stop(session, order.id)
    if placed is None or not _on_its_way_here(order, placed[0]):
        return None
    return await positions.get(placed[1].tanker_id)


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


async def _published_stop(session: AsyncSession, order_id: uuid.UUID) -> tuple[PlanStop, PlanTrip] | None:
    """The order's stop and trip in the published plan, if it has one. An order split over several trips: the
    first stop still to be done (else the first)."""
    rows = (
        await session.execute(
            select(PlanStop, PlanTrip)
            .join(PlanTrip, PlanTrip.id == PlanStop.trip_id)
            .join(Plan, Plan.id == PlanTrip.plan_id)
            .where(PlanStop.order_id == order_id, Plan.status == "published")
            .order_by(PlanTrip.load_start, PlanStop.sequence)
        )
    ).all()
    ahead = [row for row in rows if row[0].status in STOP_AHEAD]
    return next(((stop, trip) for stop, trip in ahead or rows), None)


async def _plate(session: AsyncSession, tanker_id: uuid.UUID) -> str | None:
    tanker = await session.get(Tanker, tanker_id)
    return tanker.plate if tanker else None


def _position(latest: LatestPosition | None) -> dict[str, Any] | None:
    if latest is None:
        return None
    return {"lat": latest.lat, "lon": latest.lon, "recorded_at": latest.recorded_at, "speed": latest.speed}


def _point(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def _stop_properties(stop: PlanStop, site: Site) -> dict[str, Any]:
    return {
        "kind": "stop",
        "number": stop.sequence,
        "this_order": True,
        "name": site.name,
        "eta": (stop.eta or stop.arrival).isoformat(),
    }


async def _depot_feature(session: AsyncSession, trip: PlanTrip) -> dict[str, Any]:
    depot = await session.get(Depot, trip.depot_id)
    assert depot is not None
    return _point(depot.lon, depot.lat, {"kind": "depot", "name": depot.name})


async def _own_stop_geojson(session: AsyncSession, order: Order, stop: PlanStop, trip: PlanTrip) -> dict[str, Any]:
    """The loading depot (public anyway) and the customer's own stop."""
    site = await session.get(Site, order.site_id)
    assert site is not None
    features = [await _depot_feature(session, trip), _point(site.lon, site.lat, _stop_properties(stop, site))]
    return {"type": "FeatureCollection", "features": features}


async def _trip_geojson(session: AsyncSession, mine: PlanStop, trip: PlanTrip) -> dict[str, Any]:
    """For staff: the trip carrying the order, depot, stops in order, this order's stop marked (named, with its
    time); the others without names or times."""
    points = (
        await session.execute(
            select(PlanStop, Site)
            .join(Order, Order.id == PlanStop.order_id)
            .join(Site, Site.id == Order.site_id)
            .where(PlanStop.trip_id == trip.id)
            .order_by(PlanStop.sequence)
        )
    ).all()
    depot = await _depot_feature(session, trip)
    home = depot["geometry"]["coordinates"]
    line = [home, *([site.lon, site.lat] for _, site in points), home]
    features: list[dict[str, Any]] = [
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": line}, "properties": {"kind": "trip"}},
        depot,
    ]
    for stop, site in points:
        if stop.id == mine.id:
            features.append(_point(site.lon, site.lat, _stop_properties(stop, site)))
        else:
            features.append(
                _point(
                    site.lon,
                    site.lat,
                    {"kind": "stop", "number": stop.sequence, "this_order": False, "name": None, "eta": None},
                )
            )
    return {"type": "FeatureCollection", "features": features}
