"""A depot's day as the promise sees it: the orders already taken, the crewed tankers, and the tentative plan.

The built day of each (depot, day) — problem, matrix, instance, tentative plan — is kept in this process and brought
up to date at each request instead of being built again:

* the fleet (depots, crewed tankers, pins, trips already loaded) is read as dispatch.builder reads it, and a day
  whose fleet changed is built again from nothing (the plan starts from the remembered routes); on PostgreSQL a
  digest of the rows it is read from comes first, and the fleet is read again only when the digest changed;
* the orders holding a place are read in one query of the columns a job is made of: orders new to the day are
  added (the matrix grows by their locations only) and inserted, oldest first; cancelled or changed ones leave
  (a changed one is added again);
* after REBUILD_AFTER insertions the day is built again from the database anyway (a safety net, not a need);
* when the background rebuild (promise.rebuild) stored a plan of the day newer than the one the kept day started
  from (one query by key: its `solved_at`), the day is built again from the stored routes: each tanker keeps them
  where they still fit, and the orders not in them are inserted (when that leaves an order without the place the
  day as kept gives it, the kept day stays).

So every answer is judged against the orders and fleet as the database has them at that request (a placement reads
them after taking the day's lock). Every process keeps its own copy, per thread.
"""

from __future__ import annotations

import copy
import hashlib
import operator
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import msgspec
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

import routing
from dispatch.builder import PLANNABLE, UNDER_WAY, DayContext, build_day, order_job
from dispatch.models import Pin, PlanStop
from orders.models import CustomerAccount, Order, Site
from orders.rules import OrderStatus
from promise.models import TentativePlan
from routing.insertion import TentativeDay

# Orders that hold a place in the day: those the planner plans, those on the road, and those held on credit (a
# payment confirms them at once, into the window they were promised).
HOLDING = (OrderStatus.ON_HOLD, *PLANNABLE, *UNDER_WAY)
# Insertions into a kept day before it is built again from the database (each build costs about as much as a few
# hundred insertions on a day of 1,000 orders).
REBUILD_AFTER = 250

_GEODESIC = routing.GeodesicProvider()
_lock = threading.Lock()
Point = tuple[float, float]


class _Locations:
    """The day's matrix over its locations (depots, jobs, then the site asked about), grown and shrunk in place:
    rows of Python lists, what the insertion reads."""

    def __init__(self, provider: routing.GeodesicProvider, points: list[Point]) -> None:
        self.provider = provider
        self.points = list(points)
        distances, durations = provider.block(self.points, self.points)
        self.matrix = routing.Matrix(distances_m=distances, durations_s=durations)  # type: ignore[arg-type]

    def _rows(self) -> tuple[list[list[int]], list[list[int]]]:
        return self.matrix.distances_m, self.matrix.durations_s  # type: ignore[return-value]

    def set_last(self, point: Point) -> None:
        """The last location (the site asked about) is now ``point``."""
        if self.points[-1] == point:
            return
        self.points[-1] = point
        distances, durations = self._rows()
        row_d, row_s = self.provider.block([point], self.points)
        col_d, col_s = self.provider.block(self.points, [point])
        distances[-1], durations[-1] = row_d[0], row_s[0]
        for i in range(len(self.points)):
            distances[i][-1], durations[i][-1] = col_d[i][0], col_s[i][0]

    def grow(self, new: list[Point]) -> None:
        """Jobs' locations added before the last one (which is left for the next site asked about)."""
        if not new:
            return
        self.set_last(new[0])
        added = [*new[1:], new[0]]
        distances, durations = self._rows()
        everything = [*self.points, *added]
        col_d, col_s = self.provider.block(self.points, added)
        for i in range(len(self.points)):
            distances[i] += col_d[i]
            durations[i] += col_s[i]
        row_d, row_s = self.provider.block(added, everything)
        distances += row_d
        durations += row_s
        self.points = everything

    def keep(self, indices: list[int]) -> None:
        """Only these locations, in this order (the last one among them)."""
        pick = operator.itemgetter(*indices)
        distances, durations = self._rows()

        def rows(matrix: list[list[int]]) -> list[list[int]]:
            if len(indices) == 1:
                return [[matrix[indices[0]][indices[0]]]]
            return [list(pick(matrix[i])) for i in indices]

        distances[:], durations[:] = rows(distances), rows(durations)
        self.points = [self.points[i] for i in indices]


@dataclass(slots=True)
class _Kept:
    fleet: bytes  # what the fleet looked like (a change builds the day again)
    digest: str | None  # its rows' digest (PostgreSQL): unchanged, the fleet is not read again
    read: tuple[DayContext, list[routing.Pin], set[str]]  # the fleet as read
    jobs: dict[str, routing.Job]  # order id -> its job, in the problem's order
    locations: _Locations
    tentative: TentativeDay
    insertions: int
    stored_at: datetime | None = None  # the stored plan (promise.rebuild) the day last started from


_days: OrderedDict[tuple[uuid.UUID, date, int], _Kept] = OrderedDict()  # least recently used first
KEPT_DAYS = 12  # days kept per process (a 1,000-order day's matrix is about 16 MB)


@dataclass(slots=True)
class Day:
    context: DayContext
    tentative: TentativeDay

    def seconds(self, at: datetime) -> int:
        return int((at - self.context.day_start).total_seconds())

    def at(self, seconds: int) -> datetime:
        return self.context.day_start + timedelta(seconds=seconds)


async def serialise(session: AsyncSession, depot_id: uuid.UUID, day: date) -> None:
    """Hold the (depot, day) until the unit of work ends: placements of one day are decided one at a time.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the unit of work's `BEGIN IMMEDIATE` already holds the
    database; a read makes sure it has begun."""
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.blake2b(f"promise:{depot_id}:{day.isoformat()}".encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        await session.execute(text("SELECT 1"))


async def _fleet(
    session: AsyncSession, *, depot_id: uuid.UUID, day: date, default_tz: str
) -> tuple[DayContext, list[routing.Pin], set[str], bytes]:
    """The day without its orders (dispatch.builder's own reading), the day's pins, the orders on trips already
    loaded, and a fingerprint of all of it."""
    context = await build_day(session, day=day, depot_id=depot_id, time_limit_s=1.0, default_tz=default_tz, statuses=())
    tankers = {t.id for t in context.problem.tankers}
    pins = [
        routing.Pin(job_id=str(p.order_id), tanker_id=str(p.tanker_id))
        for p in (await session.scalars(select(Pin).where(Pin.date == day).order_by(Pin.order_id))).all()
        if str(p.tanker_id) in tankers
    ]
    frozen: set[str] = set()
    if context.frozen_trip_ids:
        trip_ids = [uuid.UUID(t) for t in context.frozen_trip_ids]
        stops = await session.scalars(select(PlanStop.order_id).where(PlanStop.trip_id.in_(trip_ids)))
        frozen = {str(order_id) for order_id in stops.all()}
    problem = context.problem
    fingerprint = msgspec.json.encode(
        [context.day_start.isoformat(), problem.depots, problem.tankers, problem.options, pins, sorted(frozen)]
    )
    return context, pins, frozen, fingerprint


# Every row dispatch.builder reads for a day's fleet (depots, tankers, drivers, the day's pairings and pins, pickups
# booking the depot's bays, the day's plans and their trips, the orders on trips already loaded), whole, in one
# statement: equal digests, equal fleet. PostgreSQL only (elsewhere the fleet is read each time).
_FLEET_DIGEST = text(
    """
    SELECT md5(concat_ws('|',
      (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM depots x),
      (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM tankers x),
      (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM drivers x),
      (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM pairings x WHERE x.date = :day),
      (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM pins x WHERE x.date = :day),
      (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM pickup_bookings x
        WHERE x.depot_id = :depot AND x.slot_start < :until AND x.slot_end > :since),
      (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM plans x WHERE x.date = :day),
      (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM plan_trips x
        JOIN plans p ON p.id = x.plan_id WHERE p.date = :day),
      (SELECT string_agg(x.trip_id::text || ':' || x.order_id::text, ',' ORDER BY x.trip_id, x.order_id)
        FROM plan_stops x JOIN plan_trips t ON t.id = x.trip_id JOIN plans p ON p.id = t.plan_id
        WHERE p.date = :day AND t.status != 'planned')
    ))
    """
)


async def _fleet_digest(session: AsyncSession, *, depot_id: uuid.UUID, day: date) -> str | None:
    if session.get_bind().dialect.name != "postgresql":
        return None
    midnight = datetime.combine(day, time(0), UTC)
    bounds = {"since": midnight - timedelta(days=2), "until": midnight + timedelta(days=3)}  # any time zone's day
    return str(await session.scalar(_FLEET_DIGEST, {"day": day, "depot": depot_id, **bounds}))


async def _jobs(
    session: AsyncSession, context: DayContext, *, depot_id: uuid.UUID, day: date, frozen: set[str]
) -> dict[str, routing.Job]:
    """The orders holding a place, as jobs (dispatch.builder.order_job), read as the columns a job is made of."""
    rows = (
        await session.execute(
            select(
                Order.id,
                Order.product_code,
                Order.quantity_litres,
                Order.window_start,
                Order.window_end,
                Order.preferred_driver_id,
                Site.lat,
                Site.lon,
                Site.max_vehicle_class,
            )
            .join(Site, Site.id == Order.site_id)
            .join(CustomerAccount, CustomerAccount.id == Order.customer_id)
            .where(
                Order.delivery_date == day,
                Order.status.in_([str(s) for s in HOLDING]),
                Order.depot_id == depot_id,
            )
            .order_by(Order.created_at, Order.id)
        )
    ).all()
    tanker_by_driver = {driver: tanker for tanker, driver in context.drivers_by_tanker.items() if driver}
    start = context.day_start
    jobs: dict[str, routing.Job] = {}
    for order_id, product, litres, window_start, window_end, preferred_driver, lat, lon, max_class in rows:
        if str(order_id) in frozen:
            continue
        jobs[str(order_id)] = order_job(
            start,
            order_id=order_id,
            lat=lat,
            lon=lon,
            max_vehicle_class=max_class,
            product=product,
            litres=litres,
            window=(window_start, window_end),
            preferred_tanker_id=tanker_by_driver.get(str(preferred_driver)) if preferred_driver else None,
        )
    return jobs


def _build(
    context: DayContext,
    jobs: dict[str, routing.Job],
    pins: list[routing.Pin],
    fleet: bytes,
    provider: routing.GeodesicProvider,
    routes: dict[str, list[list[str]]] | None,
) -> _Kept:
    """The day built from nothing; the plan starts from ``routes`` (an earlier plan of it) when given."""
    ids = set(jobs)
    options = msgspec.structs.replace(context.problem.options, pins=tuple(p for p in pins if p.job_id in ids))
    problem = msgspec.structs.replace(context.problem, jobs=tuple(jobs.values()), options=options)
    points = [(d.lat, d.lon) for d in problem.depots] + [(j.lat, j.lon) for j in problem.jobs]
    locations = _Locations(provider, [*points, points[0] if points else (0.0, 0.0)])
    tentative = TentativeDay(problem, locations.matrix)
    tentative.restart(routes or {})
    return _Kept(fleet, None, (context, pins, set()), dict(jobs), locations, tentative, 0)


def _refresh(kept: _Kept, jobs: dict[str, routing.Job], pins: list[routing.Pin]) -> None:
    """Bring a kept day to these orders: the gone and changed ones leave, the new ones are added and inserted."""
    gone = [job_id for job_id, job in kept.jobs.items() if jobs.get(job_id) != job]
    tentative = kept.tentative
    again: list[str] = []
    if gone:
        staying = [i for i, job_id in enumerate(kept.jobs) if job_id not in set(gone)]
        depots = len(tentative.problem.depots)
        last = len(kept.locations.points) - 1
        kept.locations.keep([*range(depots), *(depots + i for i in staying), last])
        again = tentative.drop(gone)
        for job_id in gone:
            del kept.jobs[job_id]
    new = [job for job_id, job in jobs.items() if job_id not in kept.jobs]
    if new:
        kept.locations.grow([(job.lat, job.lon) for job in new])
        ids = {job.id for job in new}
        tentative.extend(new, pins=[p for p in pins if p.job_id in ids])
        kept.jobs.update((job.id, job) for job in new)
    # After a stop left, orders the day had no place for are tried again (oldest first, as if built afresh).
    retry = set(again) | {tentative.problem.jobs[i].id for i in tentative.refused} if gone else set()
    retry |= {job.id for job in new}
    placing = [job_id for job_id in kept.jobs if job_id in retry]
    tentative.place_all(placing)
    kept.insertions += len(placing)


async def load_day(
    session: AsyncSession,
    *,
    depot_id: uuid.UUID,
    day: date,
    default_tz: str,
    extra_point: tuple[float, float],
    provider: routing.GeodesicProvider | None = None,
) -> Day:
    """The day of the depot with its tentative plan; the matrix's last location is `extra_point` (the site asked
    about). Between this call's return and the next await of its caller, the day is the caller's alone."""
    key = (depot_id, day, threading.get_ident())
    with _lock:
        kept = _days.get(key)
    digest = await _fleet_digest(session, depot_id=depot_id, day=day)
    if kept is not None and digest is not None and kept.digest == digest:
        (context, pins, frozen), fleet = kept.read, kept.fleet
    else:
        context, pins, frozen, fleet = await _fleet(session, depot_id=depot_id, day=day, default_tz=default_tz)
    jobs = await _jobs(session, context, depot_id=depot_id, day=day, frozen=frozen)
    where = (TentativePlan.depot_id == depot_id, TentativePlan.day == day)
    stored_at = await session.scalar(select(TentativePlan.solved_at).where(*where))
    newer = stored_at is not None and (kept is None or kept.stored_at != stored_at)
    with _lock:
        if kept is not None and key in _days:
            _days.move_to_end(key)
    if kept is None or kept.fleet != fleet or kept.insertions >= REBUILD_AFTER or newer:
        routes = kept.tentative.routes_by_job() if kept is not None else None
        stored = await session.scalar(select(TentativePlan.routes).where(*where)) if newer else None
        kept = _build(context, jobs, pins, fleet, provider or _GEODESIC, stored or routes)
        if stored and kept.tentative.refused:
            # Solved before orders taken since, the stored plan may leave one of them no place that the day as it
            # was kept (or grown afresh) gives one: an order taken keeps its place, so that day stays then.
            other = _build(context, jobs, pins, fleet, provider or _GEODESIC, routes)
            if (len(other.tentative.refused), other.tentative.cost_minor()) < (
                len(kept.tentative.refused),
                kept.tentative.cost_minor(),
            ):
                kept = other
        kept.stored_at = stored_at
        with _lock:
            _days[key] = kept
            _days.move_to_end(key)
            while len(_days) > KEPT_DAYS:
                _days.popitem(last=False)
    else:
        _refresh(kept, jobs, pins)
    kept.digest, kept.read = digest, (context, pins, frozen)
    kept.locations.set_last(extra_point)
    answer = copy.copy(context)  # the fleet as read stays as read
    answer.problem = kept.tentative.problem
    return Day(context=answer, tentative=kept.tentative)


def forget(depot_id: uuid.UUID | None = None) -> None:
    """Drop kept days (of one depot, or all)."""
    with _lock:
        for key in [k for k in _days if depot_id is None or k[0] == depot_id]:
            del _days[key]
