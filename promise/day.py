"""A depot's day as the promise sees it: the orders already taken, the crewed tankers, and the tentative plan.

The tentative plan of each (depot, day) is remembered in this process as routes of order ids. Each request builds
the day afresh from the database (orders taken, changed or cancelled since are seen at once), starts from the
remembered routes (a cancelled order's stop simply goes; a tanker whose day no longer fits is rebuilt) and inserts
the orders that are new to it, oldest first. Every process keeps its own copy: it is a starting point, never the
truth, and a copy that drifted only costs a worse starting point.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import routing
from dispatch.builder import PLANNABLE, UNDER_WAY, DayContext, build_day
from orders.rules import OrderStatus
from routing.insertion import TentativeDay

# Orders that hold a place in the day: those the planner plans, those on the road, and those held on credit (a
# payment confirms them at once, into the window they were promised).
HOLDING = (OrderStatus.ON_HOLD, *PLANNABLE, *UNDER_WAY)
REBUILD_AFTER = 50  # insertions into remembered routes before the day is grown again from nothing

_GEODESIC = routing.GeodesicProvider()
_lock = threading.Lock()


@dataclass(slots=True)
class _Remembered:
    routes: dict[str, list[list[str]]]
    insertions: int


_plans: dict[tuple[uuid.UUID, date], _Remembered] = {}


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


async def load_day(
    session: AsyncSession,
    *,
    depot_id: uuid.UUID,
    day: date,
    default_tz: str,
    extra_point: tuple[float, float],
    provider: routing.MatrixProvider | None = None,
) -> Day:
    """The day of the depot with its tentative plan; the matrix also covers `extra_point` (the site asked about)."""
    context = await build_day(
        session, day=day, depot_id=depot_id, time_limit_s=1.0, default_tz=default_tz, statuses=HOLDING
    )
    problem = context.problem
    points = [(d.lat, d.lon) for d in problem.depots] + [(j.lat, j.lon) for j in problem.jobs] + [extra_point]
    matrix = (provider or _GEODESIC).matrix(points)
    tentative = TentativeDay(problem, matrix)
    key = (depot_id, day)
    with _lock:
        remembered = _plans.get(key)
    insertions = 0
    if remembered is not None and remembered.insertions < REBUILD_AFTER:
        kept = set(tentative.start_from(remembered.routes))
        insertions = remembered.insertions
    else:
        kept = set()
    new = [job.id for job in problem.jobs if job.id not in kept]
    tentative.place_all(new)
    with _lock:
        _plans[key] = _Remembered(tentative.routes_by_job(), insertions + len(new) if kept else 0)
    return Day(context=context, tentative=tentative)


def forget(depot_id: uuid.UUID | None = None) -> None:
    """Drop remembered plans (of one depot, or all)."""
    with _lock:
        for key in [k for k in _plans if depot_id is None or k[0] == depot_id]:
            del _plans[key]
