"""The driver's day: route, load codes, departure, arrival, delivery with proof, failure, positions and ETAs."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.events import record_event
from core.hours import zone
from core.ids import new_id
from core.settings import Settings
from dispatch.models import Driver, Plan, PlanStop, PlanTrip, Tanker
from dispatch.states import STOP_FINISHED, PlanStatus, StopStatus, TripStatus, move_stop, move_trip
from dispatch.views import routes_out
from orders import lifecycle
from orders.models import Order, Product, Site
from orders.rules import OrderStatus
from routing import GeodesicProvider
from tracking import codes, evidence
from tracking import schemas as s
from tracking.keys import KeyRing
from tracking.models import Delivery, IssuedCode, Position
from tracking.positions import LatestPosition, PositionStore
from tracking.rack import issue_code
from tracking.trips import trip_orders
from tracking.volume import correct_volume

ETA_PROVIDER = GeodesicProvider()
# ETAs move slowly: recompute them at most this often per trip (per API process).
ETA_EVERY = timedelta(seconds=30)
_last_eta_update: dict[uuid.UUID, datetime] = {}
OVER_DELIVERY_TOLERANCE = 1.02  # meters and temperatures disagree a little; more than 2 % is a mistake
METER_TOLERANCE_L = 5


async def driver_of(session: AsyncSession, principal: Principal) -> Driver:
    if principal.role != Role.DRIVER:
        raise Forbidden("only drivers have a route", code="forbidden")
    driver = await session.scalar(select(Driver).where(Driver.user_id == principal.id))
    if driver is None:
        raise NotFound("your user is not linked to a driver record; ask a dispatcher", code="driver_not_found")
    return driver


async def driver_route(session: AsyncSession, *, driver: Driver, day: date) -> s.DriverRouteOut:
    """The driver's own trips of the day's published plans, and nothing of the rest of the plan (other drivers'
    trips, orders and tankers, the plan's totals, its notes about other drivers' licences and shifts)."""
    trips = (
        await session.scalars(
            select(PlanTrip)
            .join(Plan, Plan.id == PlanTrip.plan_id)
            .where(PlanTrip.driver_id == driver.id, PlanTrip.date == day, Plan.status == "published")
            .order_by(PlanTrip.load_start, PlanTrip.tanker_id, PlanTrip.sequence)
        )
    ).all()
    return s.DriverRouteOut(date=day, routes=await routes_out(session, trips))


async def _own_trip(session: AsyncSession, trip_id: uuid.UUID, driver: Driver, *, lock: bool = False) -> PlanTrip:
    stmt = select(PlanTrip).where(PlanTrip.id == trip_id)
    if lock:
        stmt = stmt.with_for_update()
    trip = (await session.execute(stmt)).scalar_one_or_none()
    if trip is None or trip.driver_id != driver.id:
        raise NotFound("no such trip on your route", code="trip_not_found")
    return trip


async def trip_code(
    session: AsyncSession, *, trip_id: uuid.UUID, driver: Driver, keyring: KeyRing, settings: Settings, now: datetime
) -> s.CodeOut:
    trip = await _own_trip(session, trip_id, driver)
    status = await session.scalar(select(Plan.status).where(Plan.id == trip.plan_id))
    if status != "published":
        raise Conflict("this trip is not in the day's published plan", code="trip_not_published")
    if trip.status != "planned":
        raise Conflict(f"this trip is already {trip.status}: its load code was used", code="no_code")
    tanker = await session.get(Tanker, trip.tanker_id)
    assert tanker is not None
    products = sorted({load["product"] for load in trip.loads})
    return await issue_code(
        session,
        keyring=keyring,
        secret=settings.auth.secret_key,
        kind=codes.Kind.TRIP,
        subject_id=trip.id,
        depot_id=trip.depot_id,
        plate=tanker.plate,
        products=products,
        max_litres=sum(int(load["litres"]) for load in trip.loads),
        not_before=trip.load_start - timedelta(hours=2),
        expires=trip.return_at + timedelta(hours=4),
        now=now,
    )


async def depart(session: AsyncSession, *, trip: PlanTrip, actor: Principal, at: datetime) -> None:
    if trip.status != TripStatus.LOADED:
        raise Conflict(f"the trip is {trip.status}: it leaves once loaded at the rack", code="trip_not_loaded")
    move_trip(trip, TripStatus.EN_ROUTE)
    trip.departed_at = at
    for order in await trip_orders(session, trip, lock=True):
        if order.status == OrderStatus.LOADED:
            lifecycle.depart(session, order, at=at, actor=actor)
    record_event(
        session,
        subject_type="trip",
        subject_id=trip.id,
        type="trip_departed",
        at=at,
        actor=actor,
        from_status=str(TripStatus.LOADED),
        to_status=str(TripStatus.EN_ROUTE),
    )


async def depart_trip(
    session: AsyncSession, *, trip_id: uuid.UUID, driver: Driver, actor: Principal, now: datetime
) -> PlanTrip:
    trip = await _own_trip(session, trip_id, driver, lock=True)
    await depart(session, trip=trip, actor=actor, at=now)
    await session.flush()
    return trip


async def _own_stop(session: AsyncSession, stop_id: uuid.UUID, driver: Driver) -> tuple[PlanStop, PlanTrip, Order]:
    row = (
        await session.execute(
            select(PlanStop, PlanTrip, Order)
            .join(PlanTrip, PlanTrip.id == PlanStop.trip_id)
            .join(Order, Order.id == PlanStop.order_id)
            .where(PlanStop.id == stop_id)
            .with_for_update(of=PlanStop)
        )
    ).one_or_none()
    if row is None or row[1].driver_id != driver.id:
        raise NotFound("no such stop on your route", code="stop_not_found")
    return row[0], row[1], row[2]


async def arrive(
    session: AsyncSession, *, stop_id: uuid.UUID, driver: Driver, actor: Principal, now: datetime
) -> s.StopActionOut:
    stop, trip, order = await _own_stop(session, stop_id, driver)
    if trip.status == TripStatus.LOADED:
        await depart(session, trip=trip, actor=actor, at=now)  # arriving means the trip has left
    if trip.status != TripStatus.EN_ROUTE:
        raise Conflict("load the trip at the rack first", code="trip_not_loaded")
    if stop.status != StopStatus.PLANNED:
        raise Conflict(f"the stop is already {stop.status}", code="stop_done")
    move_stop(stop, StopStatus.ARRIVED)
    stop.arrived_at = now
    record_event(
        session,
        subject_type="order",
        subject_id=order.id,
        customer_id=order.customer_id,
        type="tanker_arrived",
        at=now,
        actor=actor,
        data={"stop_id": str(stop.id)},
    )
    await session.flush()
    return s.StopActionOut(stop_id=stop.id, order_id=order.id, stop_status=stop.status, order_status=order.status)


async def _check_receipt(session: AsyncSession, *, token: str, order: Order, keyring: KeyRing, now: datetime) -> str:
    result = codes.verify(token, public_keys=keyring, now=now.timestamp(), depot_id=order.site_id)
    payload = result.payload
    reasons = list(result.reasons)
    if payload is not None and (payload.kind != codes.Kind.RECEIPT or payload.subject_id != order.id):
        reasons.append("wrong_order")
    if result.token_hash is not None and not reasons:
        issued = await session.scalar(select(IssuedCode.id).where(IssuedCode.token_hash == result.token_hash))
        if issued is None:
            reasons.append("unknown_code")
    if reasons:
        raise InvalidInput(
            "the receipt code does not confirm this delivery: " + ", ".join(dict.fromkeys(reasons)),
            code="receipt_refused",
            field="receipt_token",
            reasons=list(dict.fromkeys(reasons)),
        )
    assert result.token_hash is not None
    return result.token_hash


async def deliver(
    session: AsyncSession,
    *,
    stop_id: uuid.UUID,
    data: s.DeliverIn,
    driver: Driver,
    actor: Principal,
    keyring: KeyRing,
    base_temperature_c: int,
    now: datetime,
) -> s.StopActionOut:
    stop, trip, order = await _own_stop(session, stop_id, driver)
    await _on_the_road(session, stop, trip, actor=actor, now=now)
    if (data.receipt_token is None) == (data.no_receipt_reason is None):
        raise InvalidInput(
            "give either the customer's receipt code or a reason why there is none (with a photo or signature)",
            code="proof_required",
            field="receipt_token",
        )
    if data.no_receipt_reason is not None and not data.evidence:
        raise InvalidInput(
            "without a receipt code, a photo or signature is needed", code="evidence_required", field="evidence"
        )
    if data.evidence is not None:
        await asyncio.to_thread(evidence.check, data.evidence)  # decoding takes milliseconds: not on the loop
    metered = None if data.meter_start is None or data.meter_end is None else data.meter_end - data.meter_start
    if metered is not None and abs(metered - data.delivered_litres_observed) > METER_TOLERANCE_L:
        raise InvalidInput(
            f"the meter readings give {metered} L, not {data.delivered_litres_observed} L",
            code="meter_mismatch",
            field="meter_end",
        )
    receipt_hash = None
    if data.receipt_token is not None:
        receipt_hash = await _check_receipt(session, token=data.receipt_token, order=order, keyring=keyring, now=now)
    product = await session.get(Product, order.product_code)
    assert product is not None
    corrected = correct_volume(
        data.delivered_litres_observed,
        data.temperature_c,
        density_kg_m3=product.density_kg_m3,
        base_temperature_c=base_temperature_c,
    )
    site = await session.get(Site, order.site_id)
    if corrected.net_litres > stop.litres * OVER_DELIVERY_TOLERANCE or (
        site is not None and corrected.net_litres > site.tank_capacity_litres
    ):
        raise InvalidInput(
            f"{corrected.net_litres} L is more than planned for this stop ({stop.litres} L) or than the tank holds",
            code="over_delivery",
            field="delivered_litres_observed",
        )
    delivery = Delivery(
        id=new_id(),
        stop_id=stop.id,
        order_id=order.id,
        delivered_litres_observed=data.delivered_litres_observed,
        temperature_c=data.temperature_c,
        vcf=str(corrected.vcf),
        net_litres=corrected.net_litres,
        meter_start=data.meter_start,
        meter_end=data.meter_end,
        proof="receipt" if receipt_hash else "reason",
        receipt_token_hash=receipt_hash,
        no_receipt_reason=data.no_receipt_reason,
        evidence=data.evidence,
        delivered_at=now,
        driver_id=driver.id,
    )
    session.add(delivery)
    move_stop(stop, StopStatus.DELIVERED)
    stop.finished_at = now
    await _finish_order_if_done(
        session,
        order,
        actor=actor,
        at=now,
        data={
            "net_litres": corrected.net_litres,
            "observed_litres": data.delivered_litres_observed,
            "temperature_c": data.temperature_c,
            "vcf": str(corrected.vcf),
            "proof": "receipt" if receipt_hash else "reason",
        },
    )
    await _finish_trip_if_done(session, trip, actor=actor, at=now)
    await session.flush()
    return s.StopActionOut(
        stop_id=stop.id,
        order_id=order.id,
        stop_status=stop.status,
        order_status=order.status,
        net_litres=corrected.net_litres,
        vcf=str(corrected.vcf),
        proof="receipt" if receipt_hash else "reason",
    )


async def fail(
    session: AsyncSession, *, stop_id: uuid.UUID, reason: str, driver: Driver, actor: Principal, now: datetime
) -> s.StopActionOut:
    stop, trip, order = await _own_stop(session, stop_id, driver)
    await _on_the_road(session, stop, trip, actor=actor, now=now)
    move_stop(stop, StopStatus.FAILED)
    stop.finished_at, stop.fail_reason = now, reason
    await _finish_order_if_done(session, order, actor=actor, at=now, fail_reason=reason)
    await _finish_trip_if_done(session, trip, actor=actor, at=now)
    await session.flush()
    return s.StopActionOut(stop_id=stop.id, order_id=order.id, stop_status=stop.status, order_status=order.status)


async def _on_the_road(
    session: AsyncSession, stop: PlanStop, trip: PlanTrip, *, actor: Principal, now: datetime
) -> None:
    """A stop is delivered or fails once: from a trip that left the rack (one loaded and not yet departed
    leaves now)."""
    if stop.status in STOP_FINISHED:
        raise Conflict(f"the stop is already {stop.status}", code="stop_done")
    if trip.status == TripStatus.LOADED:
        await depart(session, trip=trip, actor=actor, at=now)
    if trip.status != TripStatus.EN_ROUTE:
        raise Conflict("load the trip at the rack first", code="trip_not_loaded")


async def _finish_order_if_done(
    session: AsyncSession,
    order: Order,
    *,
    actor: Principal,
    at: datetime,
    data: dict[str, object] | None = None,
    fail_reason: str | None = None,
) -> None:
    """Once every stop of the order in the published plan is done (an order split over several trips has more
    than one), it is delivered and charged for what its stops delivered, or it failed when none did."""
    await session.flush()  # the stop just delivered or failed, and its delivery, must be seen below
    # Two parts of a split order finished at once: the second to take this lock sees the first's stop done.
    await session.execute(select(Order.id).where(Order.id == order.id).with_for_update())
    stops = (
        await session.scalars(
            select(PlanStop.status)
            .join(Plan, Plan.id == PlanStop.plan_id)
            .where(PlanStop.order_id == order.id, Plan.status == PlanStatus.PUBLISHED)
        )
    ).all()
    if any(status not in STOP_FINISHED for status in stops):
        return
    delivered = (
        await session.scalars(select(Delivery).where(Delivery.order_id == order.id).order_by(Delivery.delivered_at))
    ).all()
    if not delivered:
        await lifecycle.fail(session, order, reason=fail_reason or "nothing was delivered", at=at, actor=actor)
        return
    parts = [
        lifecycle.Measured(
            document_number=str(d.id),
            observed_litres=d.delivered_litres_observed,
            temperature_c=d.temperature_c,
            net_litres=d.net_litres,
        )
        for d in delivered
    ]
    await lifecycle.deliver(session, order, parts=parts, at=at, actor=actor, data=data or {})


async def _finish_trip_if_done(session: AsyncSession, trip: PlanTrip, *, actor: Principal, at: datetime) -> None:
    await session.flush()  # the stop just delivered or failed must be seen by the query below
    statuses = (await session.scalars(select(PlanStop.status).where(PlanStop.trip_id == trip.id))).all()
    if all(x in STOP_FINISHED for x in statuses):
        move_trip(trip, TripStatus.DONE)
        record_event(
            session,
            subject_type="trip",
            subject_id=trip.id,
            type="trip_done",
            at=at,
            actor=actor,
            from_status=str(TripStatus.EN_ROUTE),
            to_status=str(TripStatus.DONE),
        )


async def receipt_code(
    session: AsyncSession, *, order: Order, keyring: KeyRing, settings: Settings, now: datetime
) -> s.CodeOut:
    if order.status not in (OrderStatus.SCHEDULED, OrderStatus.LOADED, OrderStatus.EN_ROUTE):
        raise Conflict(
            f"the order is {order.status}: a receipt code exists only while it is on its way", code="no_code"
        )
    tz = zone(order.timezone)
    day_start = datetime.combine(order.delivery_date, time(0), tz)
    tanker = await session.get(Tanker, order.tanker_id) if order.tanker_id else None
    return await issue_code(
        session,
        keyring=keyring,
        secret=settings.auth.secret_key,
        kind=codes.Kind.RECEIPT,
        subject_id=order.id,
        depot_id=order.site_id,  # a receipt is bound to the delivery site
        plate=tanker.plate if tanker else None,
        products=[order.product_code],
        max_litres=order.quantity_litres,
        not_before=day_start - timedelta(hours=6),
        expires=day_start + timedelta(days=1, hours=6),
        now=now,
    )


# --- positions and ETA -------------------------------------------------------------------------------------


async def record_positions(
    session: AsyncSession,
    *,
    driver: Driver,
    positions: list[s.PositionIn],
    store: PositionStore,
    now: datetime,
    actor: Principal,
) -> s.PositionsAccepted:
    if not positions:
        raise InvalidInput("no positions given", code="empty_request")
    if len(positions) > 500:
        raise InvalidInput("at most 500 positions per batch", code="too_many_items")
    if any(p.recorded_at > now + timedelta(minutes=5) for p in positions):
        raise InvalidInput("a position is recorded in the future", code="position_in_future", field="recorded_at")
    trip = await _current_trip(session, driver=driver, now=now)
    if trip is None:
        raise Conflict("you have no trip today: positions are sent while a trip is under way", code="no_trip")
    rows = [
        {
            "tanker_id": trip.tanker_id,
            "driver_id": driver.id,
            "lat": p.lat,
            "lon": p.lon,
            "speed_kmh": p.speed,
            "heading": p.heading,
            "recorded_at": p.recorded_at,
            "received_at": now,
            "id": uuid.uuid4(),
        }
        for p in positions
    ]
    await session.execute(insert(Position), rows)
    latest = max(positions, key=lambda p: p.recorded_at)
    await store.put(
        LatestPosition(
            tanker_id=str(trip.tanker_id),
            lat=latest.lat,
            lon=latest.lon,
            recorded_at=latest.recorded_at.astimezone(zone("UTC")).isoformat(),
            speed=latest.speed,
            heading=latest.heading,
        )
    )
    updated = 0
    last = _last_eta_update.get(trip.id)
    if last is None or now - last >= ETA_EVERY:  # a batch every few seconds need not move every ETA
        if len(_last_eta_update) > 10_000:  # trips of past days: forget them rather than grow for ever
            _last_eta_update.clear()
        _last_eta_update[trip.id] = now
        updated = await update_etas(session, trip=trip, lat=latest.lat, lon=latest.lon, at=now, actor=actor)
    return s.PositionsAccepted(accepted=len(positions), tanker_id=trip.tanker_id, etas_updated=updated)


async def _current_trip(session: AsyncSession, *, driver: Driver, now: datetime) -> PlanTrip | None:
    """The driver's trip under way, else the next one of today's published plan."""
    trips = (
        await session.scalars(
            select(PlanTrip)
            .join(Plan, Plan.id == PlanTrip.plan_id)
            .where(
                PlanTrip.driver_id == driver.id,
                Plan.status == "published",
                PlanTrip.date >= (now - timedelta(days=1)).date(),
                PlanTrip.date <= (now + timedelta(days=1)).date(),
            )
            .order_by(PlanTrip.load_start)
        )
    ).all()
    for wanted in (("en_route",), ("loaded",), ("planned",)):
        for trip in trips:
            if trip.status in wanted:
                return trip
    return None


async def update_etas(
    session: AsyncSession, *, trip: PlanTrip, lat: float, lon: float, at: datetime, actor: Principal | None
) -> int:
    """Remaining stops of a trip under way (of orders still on board): drive from here in order, adding each stop's
    planned service time. An order whose ETA passes its window end gets one `order_delayed` event."""
    if trip.status not in ("loaded", "en_route"):
        return 0
    rows = (
        await session.execute(
            select(PlanStop, Order, Site)
            .join(Order, Order.id == PlanStop.order_id)
            .join(Site, Site.id == Order.site_id)
            .where(
                PlanStop.trip_id == trip.id,
                PlanStop.status.in_(["planned", "arrived"]),
                # A stop whose order was cancelled is not driven to: its ETA stays put and raises no delay.
                Order.status.in_([OrderStatus.LOADED, OrderStatus.EN_ROUTE]),
            )
            .order_by(PlanStop.sequence)
        )
    ).all()
    if not rows:
        return 0
    points = [(lat, lon)] + [(site.lat, site.lon) for _, _, site in rows]
    matrix = ETA_PROVIDER.matrix(points)
    clock = at
    previous = 0
    for index, (stop, order, _) in enumerate(rows, start=1):
        service_s = stop.departure - stop.service_start
        if stop.status == "planned":
            clock += timedelta(seconds=matrix.durations_s[previous][index])
            was_late = order.eta is not None and order.eta > order.window_end
            stop.eta = order.eta = clock
            if clock > order.window_end and not was_late:
                record_event(
                    session,
                    subject_type="order",
                    subject_id=order.id,
                    customer_id=order.customer_id,
                    type="order_delayed",
                    at=at,
                    actor=actor,
                    reason="the tanker will arrive after the delivery window",
                    data={"eta": clock.isoformat(), "window_end": order.window_end.isoformat()},
                )
            clock = max(clock, order.window_start) + service_s  # early trucks wait for the window
        else:
            clock = clock + service_s  # already at this stop: discharging
        previous = index
    await session.flush()
    return sum(1 for stop, _, _ in rows if stop.status == "planned")
