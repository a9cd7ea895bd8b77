"""Plans as dispatchers and maps see them: routes, trips, stops, totals, reasons; and GeoJSON."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from dispatch import roads
from dispatch import schemas as s
from dispatch.models import Driver, Plan, PlanStop, PlanTrip, PlanUnassigned, Tanker
from orders.models import CustomerAccount, Depot, Order, Site


async def stale_orders(session: AsyncSession, plan: Plan) -> list[uuid.UUID]:
    """Orders of the plan that changed (or were cancelled) since it was computed."""
    versions: dict[str, int] = plan.order_versions.get("versions", {})
    if not versions:
        return []
    ids = [uuid.UUID(k) for k in versions]
    rows = await session.execute(select(Order.id, Order.version).where(Order.id.in_(ids)))
    current = {order_id: version for order_id, version in rows}  # noqa: C416 - dict(Result) would treat it as a mapping
    return [i for i in ids if current.get(i) != versions[str(i)]]


async def new_orders(session: AsyncSession, plan: Plan) -> list[uuid.UUID]:
    """Confirmed orders of the plan's day (and depot) that it does not know about."""
    known = set(plan.order_versions.get("versions", {}))
    stmt = select(Order.id).where(Order.delivery_date == plan.date, Order.status == "confirmed")
    if plan.depot_id is not None:
        stmt = stmt.where(Order.depot_id == plan.depot_id)
    return [i for i in (await session.scalars(stmt)).all() if str(i) not in known]


async def plan_out(session: AsyncSession, plan: Plan) -> s.PlanOut:
    frozen = [uuid.UUID(x) for x in plan.order_versions.get("frozen_trips", [])]
    trips = (
        await session.scalars(
            select(PlanTrip)
            .where((PlanTrip.plan_id == plan.id) | PlanTrip.id.in_(frozen))
            .order_by(PlanTrip.tanker_id, PlanTrip.sequence)
        )
    ).all()
    routes = await routes_out(session, trips)
    stops = [stop for route in routes for trip in route.trips for stop in trip.stops]
    unassigned = (
        await session.execute(
            select(PlanUnassigned, Order.reference)
            .join(Order, Order.id == PlanUnassigned.order_id)
            .where(PlanUnassigned.plan_id == plan.id)
        )
    ).all()
    stale = await stale_orders(session, plan)
    added = await new_orders(session, plan) if plan.status in ("draft", "published") else []
    return s.PlanOut(
        id=plan.id,
        job_id=plan.job_id,
        date=plan.date,
        depot_id=plan.depot_id,
        status=plan.status,
        outdated=plan.outdated or bool(stale) or bool(added),
        stale_orders=stale,
        new_orders=added,
        totals=s.Totals(
            km=round(plan.distance_m / 1000, 1),
            driving_hours=round(plan.driving_s / 3600, 2),
            duty_hours=round(plan.duration_s / 3600, 2),
            cost_minor=plan.cost_minor,
            orders=len({stop.order_id for stop in stops}),
            litres=sum(stop.litres for stop in stops),
        ),
        routes=routes,
        unassigned=[
            s.UnassignedOut(order_id=u.order_id, order_reference=ref, reason=u.reason, detail=u.detail)
            for u, ref in unassigned
        ],
        notes=list(plan.order_versions.get("notes", [])),
        created_at=plan.created_at,
        published_at=plan.published_at,
    )


async def routes_out(session: AsyncSession, trips: Sequence[PlanTrip]) -> list[s.RouteOut]:
    """The given trips (in order) grouped by tanker, each with its stops: what dispatchers and drivers see."""
    trip_ids = [trip.id for trip in trips]
    stop_rows = (
        await session.execute(
            select(PlanStop, Order, Site, CustomerAccount)
            .join(Order, Order.id == PlanStop.order_id)
            .join(Site, Site.id == Order.site_id)
            .join(CustomerAccount, CustomerAccount.id == Order.customer_id)
            .where(PlanStop.trip_id.in_(trip_ids))
            .order_by(PlanStop.sequence)
        )
    ).all()
    stops_by_trip: dict[uuid.UUID, list[s.StopOut]] = defaultdict(list)
    for stop, order, site, account in stop_rows:
        stops_by_trip[stop.trip_id].append(
            s.StopOut(
                id=stop.id,
                sequence=stop.sequence,
                order_id=order.id,
                order_reference=order.reference,
                customer_name=account.name,
                site_name=site.name,
                address=site.address,
                lat=site.lat,
                lon=site.lon,
                product_code=order.product_code,
                litres=stop.litres,
                compartments=list(stop.compartments),
                window_start=order.window_start,
                window_end=order.window_end,
                planned_arrival=stop.arrival,
                service_start=stop.service_start,
                planned_departure=stop.departure,
                pinned=stop.pinned,
                status=stop.status,
            )
        )
    tanker_ids = {trip.tanker_id for trip in trips}
    tankers = {t.id: t for t in (await session.scalars(select(Tanker).where(Tanker.id.in_(tanker_ids)))).all()}
    driver_ids = {trip.driver_id for trip in trips if trip.driver_id is not None}
    drivers = {d.id: d for d in (await session.scalars(select(Driver).where(Driver.id.in_(driver_ids)))).all()}
    routes: dict[uuid.UUID, s.RouteOut] = {}
    for trip in trips:
        tanker = tankers[trip.tanker_id]
        route = routes.setdefault(
            trip.tanker_id,
            s.RouteOut(
                tanker_id=trip.tanker_id,
                plate=tanker.plate,
                driver_id=trip.driver_id,
                driver_name=drivers[trip.driver_id].name if trip.driver_id in drivers else None,
                trips=[],
            ),
        )
        route.trips.append(
            s.TripOut(
                id=trip.id,
                sequence=trip.sequence,
                depot_id=trip.depot_id,
                load_start=trip.load_start,
                depart=trip.depart,
                return_at=trip.return_at,
                distance_km=round(trip.distance_m / 1000, 1),
                loads=list(trip.loads),
                stops=sorted(stops_by_trip[trip.id], key=lambda x: x.sequence),
                status=trip.status,
            )
        )
    return list(routes.values())


async def plan_geojson(session: AsyncSession, plan: Plan, *, settings: Settings) -> dict[str, Any]:
    """Depots, numbered stops and one line per trip: along the roads when OSRM is configured, else straight
    segments; each line's ``geometry_source`` ("road" | "straight") says which."""
    view = await plan_out(session, plan)
    depots = {d.id: d for d in (await session.scalars(select(Depot))).all()}
    features: list[dict[str, Any]] = []
    used_depots = {trip.depot_id for route in view.routes for trip in route.trips}
    for depot_id in used_depots:
        depot = depots[depot_id]
        features.append(_point(depot.lon, depot.lat, {"kind": "depot", "id": str(depot.id), "name": depot.name}))
    waypoints = []
    for route in view.routes:
        for trip in route.trips:
            home = (depots[trip.depot_id].lat, depots[trip.depot_id].lon)
            waypoints.append([home, *((stop.lat, stop.lon) for stop in trip.stops), home])
    lines = iter(await roads.trip_lines_async(settings, waypoints))
    for index, route in enumerate(view.routes):
        for trip in route.trips:
            line = next(lines)
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": [list(p) for p in line.coordinates]},
                    "properties": {
                        "kind": "trip",
                        "trip_id": str(trip.id),
                        "tanker_id": str(route.tanker_id),
                        "plate": route.plate,
                        "sequence": trip.sequence,
                        "colour_index": index,
                        "geometry_source": line.source,
                    },
                }
            )
            for stop in trip.stops:
                features.append(
                    _point(
                        stop.lon,
                        stop.lat,
                        {
                            "kind": "stop",
                            "stop_id": str(stop.id),
                            "order_id": str(stop.order_id),
                            "number": stop.sequence,
                            "plate": route.plate,
                            "site": stop.site_name,
                            "litres": stop.litres,
                            "eta": stop.planned_arrival.isoformat(),
                            "colour_index": index,
                        },
                    )
                )
    return {"type": "FeatureCollection", "features": features, "properties": {"plan_id": str(plan.id)}}


def _point(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}
