"""Build the routing problem of a day from the database: orders, tankers with their drivers, depots, pins,
trips already under way. Pure reads; the caller closes the session before solving."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import routing
from core.hours import HoursEntry, local_windows, zone
from dispatch.models import Driver, Pairing, Pin, Plan, PlanStop, PlanTrip, Tanker
from orders.models import CustomerAccount, Depot, Order, PickupBooking, Site
from orders.rules import PICKUP_TAKES_PLACE, OrderStatus

PLANNABLE = (OrderStatus.CONFIRMED, OrderStatus.SCHEDULED)
UNDER_WAY = (OrderStatus.LOADED, OrderStatus.EN_ROUTE)


@dataclass
class DayContext:
    """What the worker needs besides the problem to turn a solution back into rows and words."""

    day: date
    timezone: str
    day_start: datetime
    problem: routing.Problem
    order_versions: dict[str, int]
    drivers_by_tanker: dict[str, str | None]
    notes: list[str] = field(default_factory=list)
    excluded_orders: dict[str, tuple[str, str]] = field(default_factory=dict)  # order id -> (reason, detail)
    # Trips of the published plan that were loaded or left: carried over unchanged, never re-planned.
    references: dict[str, str] = field(default_factory=dict)  # order id -> reference, for notes
    frozen_trip_ids: list[str] = field(default_factory=list)
    frozen_trips_per_tanker: dict[str, int] = field(default_factory=dict)

    def at(self, seconds: int) -> datetime:
        return self.day_start + timedelta(seconds=seconds)


def _seconds(day_start: datetime, at: datetime) -> int:
    return int((at - day_start).total_seconds())


def _clock_s(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


async def _depots_in_scope(session: AsyncSession, depot_id: uuid.UUID | None) -> list[Depot]:
    depots = (await session.scalars(select(Depot).order_by(Depot.code))).all()
    return [d for d in depots if depot_id is None or d.id == depot_id]


async def day_start_of(session: AsyncSession, *, day: date, depot_id: uuid.UUID | None, default_tz: str) -> datetime:
    """Midnight of the plan's day where its depots are: the origin of every time in its routing problem."""
    depots = await _depots_in_scope(session, depot_id)
    return _midnight(day, depots[0].timezone if depots else default_tz)


def _midnight(day: date, tz_name: str) -> datetime:
    return datetime.combine(day, time(0), zone(tz_name))


async def _bays_full(
    session: AsyncSession, depot: Depot, day_start: datetime, first: datetime, last: datetime
) -> tuple[tuple[int, int], ...]:
    """The pickup slots of the day in which customer pickups book every bay of the depot: no tanker loads then
    (one bay calendar; the pickup slots count the planned loads the other way round, dispatch.bays)."""
    rows = (
        await session.execute(
            select(PickupBooking.slot_start, PickupBooking.slot_end, func.count())
            .where(
                PickupBooking.depot_id == depot.id,
                PickupBooking.slot_start < last,
                PickupBooking.slot_end > first,
                PickupBooking.status.in_([str(x) for x in PICKUP_TAKES_PLACE]),
            )
            .group_by(PickupBooking.slot_start, PickupBooking.slot_end)
        )
    ).all()
    spans = sorted(
        (max(0, _seconds(day_start, start)), _seconds(day_start, end))
        for start, end, count in rows
        if count >= depot.loading_bays and _seconds(day_start, end) > 0
    )
    return tuple(spans)


async def with_current_bays(
    session: AsyncSession, problem: routing.Problem, *, day: date, depot_id: uuid.UUID | None
) -> routing.Problem:
    """The plan's problem with its depots' bays booked by pickups as they are now (a pickup booked since the plan was
    computed may have taken a bay one of its loads needs). Locks the depots' rows, as a pickup booking does, so that
    no pickup takes a bay until the caller's unit of work ends."""
    ids = [uuid.UUID(d.id) for d in problem.depots]
    if not ids:
        return problem
    rows = (await session.scalars(select(Depot).where(Depot.id.in_(ids)).order_by(Depot.id).with_for_update())).all()
    depots = {str(d.id): d for d in rows}
    scope = await _depots_in_scope(session, depot_id)
    day_start = _midnight(day, scope[0].timezone if scope else rows[0].timezone)
    replaced = []
    for routing_depot in problem.depots:
        depot = depots.get(routing_depot.id)
        windows = (
            local_windows([HoursEntry(**h) for h in depot.opening_hours], day, ZoneInfo(depot.timezone))
            if depot is not None
            else []
        )
        if depot is None or not windows:
            replaced.append(routing_depot)
            continue
        spans = await _bays_full(session, depot, day_start, windows[0][0], windows[-1][1])
        replaced.append(msgspec.structs.replace(routing_depot, bays_full=spans))
    return msgspec.structs.replace(problem, depots=tuple(replaced))


async def build_day(
    session: AsyncSession,
    *,
    day: date,
    depot_id: uuid.UUID | None,
    time_limit_s: float,
    default_tz: str,
    statuses: tuple[OrderStatus, ...] = PLANNABLE + UNDER_WAY,
) -> DayContext:
    """The day's problem; `statuses`: the orders it carries (the promise also counts orders held on credit)."""
    depots = await _depots_in_scope(session, depot_id)
    tz_name = depots[0].timezone if depots else default_tz
    day_start = _midnight(day, tz_name)
    notes: list[str] = []

    routing_depots = []
    for depot in depots:
        windows = local_windows([HoursEntry(**h) for h in depot.opening_hours], day, ZoneInfo(depot.timezone))
        if not windows:
            notes.append(f"Depot {depot.name} is closed on {day.isoformat()}.")
            continue
        routing_depots.append(
            routing.Depot(
                id=str(depot.id),
                lat=depot.lat,
                lon=depot.lon,
                open_s=max(0, _seconds(day_start, windows[0][0])),
                close_s=_seconds(day_start, windows[-1][1]),
                load_fixed_s=depot.load_fixed_min * 60,
                load_rate_l_per_min=depot.pump_rate_l_per_min,
                bays_full=await _bays_full(session, depot, day_start, windows[0][0], windows[-1][1]),
            )
        )
    open_depots = {d.id for d in routing_depots}

    frozen = await _frozen_trips(session, day=day)
    tankers, drivers_by_tanker = await _crewed_tankers(session, day=day, open_depots=open_depots, notes=notes)
    tankers = [_after_frozen(t, frozen, day_start) for t in tankers]
    frozen_orders = {str(order_id) for trip in frozen for order_id in trip[1]}
    tanker_by_driver = {driver: tanker for tanker, driver in drivers_by_tanker.items() if driver}

    order_filter = [Order.delivery_date == day, Order.status.in_([str(s) for s in statuses])]
    if depot_id is not None:
        order_filter.append(Order.depot_id == depot_id)
    rows = (
        await session.execute(
            select(Order, Site, CustomerAccount)
            .join(Site, Site.id == Order.site_id)
            .join(CustomerAccount, CustomerAccount.id == Order.customer_id)
            .where(*order_filter)
            .order_by(Order.created_at, Order.id)
        )
    ).all()
    jobs = []
    versions: dict[str, int] = {}
    references: dict[str, str] = {}
    excluded: dict[str, tuple[str, str]] = {}
    for order, site, _account in rows:
        if str(order.id) in frozen_orders:
            continue  # on a trip that is loaded or under way
        versions[str(order.id)] = order.version
        references[str(order.id)] = order.reference
        preferred = tanker_by_driver.get(str(order.preferred_driver_id)) if order.preferred_driver_id else None
        if order.preferred_driver_id and preferred is None:
            notes.append(
                f"Order {order.reference}: the preferred driver is not on duty with a tanker that day; "
                "any driver may be planned."
            )
        jobs.append(
            order_job(
                day_start,
                order_id=order.id,
                lat=site.lat,
                lon=site.lon,
                max_vehicle_class=site.max_vehicle_class,
                product=order.product_code,
                litres=order.quantity_litres,
                window=(order.window_start, order.window_end),
                preferred_tanker_id=preferred,
            )
        )
    job_ids = {j.id for j in jobs}
    tanker_ids = {t.id for t in tankers}
    pins = [
        routing.Pin(job_id=str(p.order_id), tanker_id=str(p.tanker_id))
        for p in (await session.scalars(select(Pin).where(Pin.date == day))).all()
        if str(p.order_id) in job_ids and str(p.tanker_id) in tanker_ids
    ]
    problem = routing.Problem(
        depots=tuple(routing_depots),
        tankers=tuple(t for t in tankers if t.shift_end_s > t.shift_start_s),
        jobs=tuple(jobs),
        options=routing.Options(multi_trip=True, max_trips=3, time_limit_s=time_limit_s, pins=tuple(pins)),
    )
    per_tanker: dict[str, int] = {}
    for trip, _ in frozen:
        per_tanker[str(trip.tanker_id)] = per_tanker.get(str(trip.tanker_id), 0) + 1
    return DayContext(
        day=day,
        timezone=tz_name,
        day_start=day_start,
        problem=problem,
        order_versions=versions,
        drivers_by_tanker=drivers_by_tanker,
        notes=notes,
        excluded_orders=excluded,
        references=references,
        frozen_trip_ids=[str(trip.id) for trip, _ in frozen],
        frozen_trips_per_tanker=per_tanker,
    )


def order_job(
    day_start: datetime,
    *,
    order_id: uuid.UUID,
    lat: float,
    lon: float,
    max_vehicle_class: int | None,
    product: str,
    litres: int,
    window: tuple[datetime, datetime],
    preferred_tanker_id: str | None,
) -> routing.Job:
    """An order (at its site's lat, lon, largest vehicle class) as the planner's job; the promise's kept day
    (promise.day) makes its jobs with this too."""
    return routing.Job(
        id=str(order_id),
        lat=lat,
        lon=lon,
        product=product,
        litres=litres,
        windows=((_seconds(day_start, window[0]), _seconds(day_start, window[1])),),
        allowed_vehicle_classes=tuple(range(1, max_vehicle_class + 1)) if max_vehicle_class else None,
        preferred_tanker_id=preferred_tanker_id,
    )


async def _crewed_tankers(
    session: AsyncSession, *, day: date, open_depots: set[str], notes: list[str]
) -> tuple[list[routing.Tanker], dict[str, str | None]]:
    """Available tankers of open depots, each with a driver whose licence is valid that day.

    Explicit pairings for the day come first; other tankers get a free driver of their home depot.
    A tanker left without a driver is not planned, and the plan says why.
    """
    all_tankers = (await session.scalars(select(Tanker).order_by(Tanker.plate))).all()
    drivers = {d.id: d for d in (await session.scalars(select(Driver).order_by(Driver.name))).all()}
    pairings = {p.tanker_id: p.driver_id for p in (await session.scalars(select(Pairing).where(Pairing.date == day)))}
    taken: set[uuid.UUID] = set(pairings.values())
    out: list[routing.Tanker] = []
    crew: dict[str, str | None] = {}
    for tanker in all_tankers:
        if not tanker.available or str(tanker.depot_id) not in open_depots:
            continue
        driver = drivers.get(pairings[tanker.id]) if tanker.id in pairings else None
        if driver is None:
            driver = next(
                (
                    d
                    for d in drivers.values()
                    if d.id not in taken and d.home_depot_id == tanker.depot_id and d.hazmat_licence_expires >= day
                ),
                None,
            )
            if driver is not None:
                taken.add(driver.id)
        if driver is None:
            expired = [
                d.name
                for d in drivers.values()
                if d.home_depot_id == tanker.depot_id and d.hazmat_licence_expires < day and d.id not in taken
            ]
            why = f" ({', '.join(expired)}: hazardous-goods licence expired)" if expired else ""
            notes.append(f"Tanker {tanker.plate} is not planned: no driver with a valid licence is free{why}.")
            continue
        if driver.hazmat_licence_expires < day:
            notes.append(
                f"Tanker {tanker.plate} is not planned: driver {driver.name}'s hazardous-goods licence expired on "
                f"{driver.hazmat_licence_expires.isoformat()}."
            )
            continue
        start = max(_clock_s(tanker.shift_start), _clock_s(driver.shift_start))
        end = min(_clock_s(tanker.shift_end), _clock_s(driver.shift_end))
        if end <= start:
            notes.append(f"Tanker {tanker.plate} is not planned: its shift and {driver.name}'s do not overlap.")
            continue
        out.append(
            routing.Tanker(
                id=str(tanker.id),
                depot_id=str(tanker.depot_id),
                compartments=tuple(tanker.compartments_litres),
                vehicle_class=tanker.vehicle_class,
                shift_start_s=start,
                shift_end_s=end,
                max_duty_s=driver.max_duty_minutes * 60,
                cost_per_km_minor=tanker.cost_per_km_minor,
                fixed_cost_minor=tanker.fixed_cost_minor,
                driver_id=str(driver.id),
            )
        )
        crew[str(tanker.id)] = str(driver.id)
    return out, crew


async def _frozen_trips(session: AsyncSession, *, day: date) -> list[tuple[PlanTrip, list[uuid.UUID]]]:
    """Trips of the day's published plan that were loaded, left or finished, with their orders.

    A loaded tanker carries exactly what the rack put in it: such a trip is never changed, extended or
    reshuffled. A re-plan plans around it and the new plan carries it over as it is.
    """
    published = await session.scalar(select(Plan.id).where(Plan.date == day, Plan.status == "published"))
    if published is None:
        return []
    trips = (
        await session.scalars(
            select(PlanTrip)
            .where(PlanTrip.plan_id == published, PlanTrip.status != "planned")
            .order_by(PlanTrip.tanker_id, PlanTrip.sequence)
        )
    ).all()
    out = []
    for trip in trips:
        orders = (await session.scalars(select(PlanStop.order_id).where(PlanStop.trip_id == trip.id))).all()
        out.append((trip, list(orders)))
    return out


def _after_frozen(
    tanker: routing.Tanker, frozen: list[tuple[PlanTrip, list[uuid.UUID]]], day_start: datetime
) -> routing.Tanker:
    """A tanker on a frozen trip is free again once that trip is back at the depot."""
    returns = [_seconds(day_start, trip.return_at) for trip, _ in frozen if str(trip.tanker_id) == tanker.id]
    if not returns:
        return tanker
    return msgspec.structs.replace(tanker, shift_start_s=max(tanker.shift_start_s, max(returns)))
