"""The background rebuild of the promise's tentative plans (issue 27).

Insertion alone opens tankers early and never revisits them: on a day of 1,000 orders the plan it grows cost 91 %
more than a fresh solve. So, run by beat (promise.tasks), each (depot, day) of the horizon whose orders have
drifted from its last solve (no solve yet, or at least PROMISE_REBUILD_CHANGES orders added or removed since) is
solved with the planner (routing.solve, PROMISE_REBUILD_SECONDS) on the promise's own problem and matrix; the
solved routes are laid on the insertion's day as every process will lay them (TentativeDay.start_from, then the
orders the solve left out inserted), and stored in `tentative_plans` when that plan beats the one grown by
insertion for the same orders (fewer orders left out, then cost) and the independent checker accepts it. Every
process's kept day restarts from them (promise.day.load_day): routes that still fit are kept, orders taken since
are inserted.

One run at a time per (depot, day): a run claims the row (its orders, `solving_until`) in a short transaction
under the row's lock, solves with no transaction open, and stores only when its claim is still the row's; a
claim whose run died is taken over once `solving_until` passes. A run twice stores once: the second finds no
drift.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import routing
from core.clock import Clock, SystemClock
from core.db import unit_of_work
from core.settings import Settings
from orders.models import Depot, Order
from promise.day import HOLDING, load_day
from promise.models import TentativePlan
from routing.insertion import TentativeDay

log = logging.getLogger("diesel.promise")
_PROVIDER = routing.GeodesicProvider()  # the promise's straight lines (promise.day), not the roads


@dataclass(frozen=True, slots=True)
class Outcome:
    depot_id: uuid.UUID
    day: date
    # unchanged (no drift) | busy (another run solves it) | stored | kept (the insertion plan was as good)
    # | superseded (another run claimed the day meanwhile)
    status: str
    insertion_cost_minor: int | None = None
    solved_cost_minor: int | None = None


# The outcomes of a run that solved the day (the others only looked).
SOLVED = frozenset({"stored", "kept", "superseded"})


def routes_of(solution: routing.Solution) -> dict[str, list[list[str]]]:
    """tanker id -> trips -> order ids (a split order once per part), as TentativeDay.start_from takes them."""
    return {
        route.tanker_id: [[stop.job_id for stop in trip.stops] for trip in route.trips if trip.stops]
        for route in solution.routes
        if any(trip.stops for trip in route.trips)
    }


def _score(solution: routing.Solution) -> tuple[int, int]:
    return len(solution.unassigned), solution.cost_minor


async def _lock(session: AsyncSession, depot_id: uuid.UUID, day: date) -> None:
    """The day's rebuild row, one transaction at a time (PostgreSQL: an advisory lock, which also covers a row not
    there yet; SQLite: `BEGIN IMMEDIATE` holds the database)."""
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.blake2b(f"promise-rebuild:{depot_id}:{day.isoformat()}".encode(), digest_size=8).digest()
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": int.from_bytes(digest, "big", signed=True)}
        )
    else:
        await session.execute(text("SELECT 1"))


async def _holding(session: AsyncSession, depot_id: uuid.UUID, day: date) -> list[str]:
    ids = await session.scalars(
        select(Order.id).where(
            Order.depot_id == depot_id, Order.delivery_date == day, Order.status.in_([str(s) for s in HOLDING])
        )
    )
    return sorted(str(i) for i in ids.all())


async def rebuild_day(
    factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    depot_id: uuid.UUID,
    day: date,
    clock: Clock | None = None,
    params: routing.SolveParams | None = None,
) -> Outcome:
    """Solve the (depot, day) again when its orders drifted, and store the plan when it beats insertion.

    The search starts from its own construction, not from the plan grown by insertion: started from it, the
    rebuild stored one plan in four solves on the 1,000-order day (benchmarks/README.md, bench-promise)."""
    clock = clock or SystemClock()
    promise = settings.promise
    params = params or routing.SolveParams(time_limit_s=promise.rebuild_seconds)
    # 1. The claim: a short transaction under the row's lock.
    async with unit_of_work(factory) as session:
        await _lock(session, depot_id, day)
        now = clock.now()
        row = await session.get(TentativePlan, (depot_id, day), populate_existing=True)
        ids = await _holding(session, depot_id, day)
        if row is not None and row.solving_until is not None and row.solving_until > now:
            return Outcome(depot_id, day, "busy")
        drift = len(set(ids).symmetric_difference(row.order_ids)) if row is not None else len(ids)
        died = row is not None and row.solving_until is not None  # a run that claimed the day never finished
        if not ids or (row is not None and not died and drift < promise.rebuild_changes):
            return Outcome(depot_id, day, "unchanged")
        budget = params.time_limit_s or promise.rebuild_seconds
        if row is None:
            row = TentativePlan(depot_id=depot_id, day=day, routes={}, solved_at=None, unassigned=0)
            session.add(row)
        row.order_ids, row.attempted_at = ids, now
        row.solving_until = now + timedelta(seconds=2 * budget + 120)
        claimed = now
    # 2. The day as the promise has it (this process's kept day, brought to the orders taken), then the solve
    # with no transaction open.
    async with factory() as session:
        depot = await session.get(Depot, depot_id)
        if depot is None:
            return Outcome(depot_id, day, "unchanged")
        kept = await load_day(
            session,
            depot_id=depot_id,
            day=day,
            default_tz=settings.default_timezone,
            extra_point=(depot.lat, depot.lon),
        )
        problem, matrix = kept.tentative.problem, kept.tentative.matrix
        insertion = kept.tentative.solution()
    solved = routing.solve(problem, params=params, matrix_provider=_PROVIDER).solution
    # What every process will make of the solved routes (promise.day): each tanker's trips re-scheduled by the
    # insertion's rules, and the orders the solve left out inserted (it may leave out one that insertion placed).
    restarted = TentativeDay(problem, matrix)
    restarted.restart(routes_of(solved))
    plan = restarted.solution()
    better = _score(plan) < _score(insertion) and not routing.check(problem, plan)
    # 3. Stored only under the claim this run made.
    async with unit_of_work(factory) as session:
        await _lock(session, depot_id, day)
        row = await session.get(TentativePlan, (depot_id, day), populate_existing=True)
        if row is None or row.attempted_at != claimed:
            return Outcome(depot_id, day, "superseded", insertion.cost_minor, plan.cost_minor)
        row.solving_until = None
        row.insertion_cost_minor = insertion.cost_minor
        if better:
            row.routes, row.solved_at = restarted.routes_by_job(), clock.now()
            row.cost_minor, row.unassigned = plan.cost_minor, len(plan.unassigned)
    status = "stored" if better else "kept"
    log.info(
        "tentative plan of depot %s on %s: %s (insertion %d, solve %d, restarted from it %d, %d orders)",
        depot_id,
        day,
        status,
        insertion.cost_minor,
        solved.cost_minor,
        plan.cost_minor,
        len(problem.jobs),
    )
    return Outcome(depot_id, day, status, insertion.cost_minor, plan.cost_minor)


async def rebuild_days(
    factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    clock: Clock | None = None,
    params: routing.SolveParams | None = None,
) -> list[Outcome]:
    """The (depot, day)s with orders holding a place, from the day before today in the default time zone on (a
    depot in another zone may still be on it), in date order, until one of them is solved: one solve per run, so
    a run holds its worker thread for about PROMISE_REBUILD_SECONDS and planning jobs or invoice runs queued
    behind it wait no longer than that; the next drifted day is the next run's. Nothing with the promise off."""
    if settings.promise.mode == "off":
        return []
    clock = clock or SystemClock()
    today = clock.now().astimezone(ZoneInfo(settings.default_timezone)).date() - timedelta(days=1)
    async with factory() as session:
        days = (
            await session.execute(
                select(Order.depot_id, Order.delivery_date)
                .where(
                    Order.delivery_date >= today,
                    Order.status.in_([str(s) for s in HOLDING]),
                    Order.depot_id.is_not(None),
                )
                .distinct()
                .order_by(Order.delivery_date, Order.depot_id)
            )
        ).all()
    outcomes: list[Outcome] = []
    for depot_id, day in days:
        if depot_id is None:
            continue
        outcome = await rebuild_day(factory, settings, depot_id=depot_id, day=day, clock=clock, params=params)
        outcomes.append(outcome)
        if outcome.status in SOLVED:
            break
    return outcomes
