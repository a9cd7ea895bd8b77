"""Dispatchers keep control: pins survive every re-plan of the day."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

import routing
from core.auth import Principal
from core.errors import InvalidInput, NotFound, ServiceUnavailable
from dispatch import schemas as s
from dispatch.builder import day_start_of
from dispatch.fleet import get_tanker
from dispatch.models import Pin, Plan, PlanStop, PlanTrip
from dispatch.planning import add_route_rows, driving_seconds, get_plan
from orders.models import Order, Site


@dataclass(frozen=True)
class Roads:
    """Where moves get their distances: the planner's provider (None: geodesic) and the fallback time zone."""

    provider: routing.MatrixProvider | None
    default_tz: str


async def pin_stop(
    session: AsyncSession,
    *,
    plan_id: uuid.UUID,
    stop_id: uuid.UUID,
    data: s.StopPatch,
    actor: Principal,
    now: datetime,
    roads: Roads,
) -> Plan:
    """Pin a stop's order to a tanker for the day; on a draft, a move (other tanker or position) is made now."""
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
        _pin_in_problem(plan, stop.order_id, None)
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
    _pin_in_problem(plan, stop.order_id, tanker.id)
    if tanker.id != trip.tanker_id or data.position is not None:
        if plan.status == "draft":
            await _move_in_place(session, plan, stop, trip, tanker.id, data.position, roads=roads)
        else:
            # Drivers, load codes and customers already have the published plan: the move takes shape in the
            # next plan of the day (which keeps the pin), published like any other.
            plan.outdated = True
    await session.flush()
    return plan


def _pin_in_problem(plan: Plan, order_id: uuid.UUID, tanker_id: uuid.UUID | None) -> None:
    """Keep a draft's stored problem in step with its pins: later moves re-check it and rebuild rows from it."""
    if plan.status != "draft":
        return
    problem = routing.decode_problem(plan.problem_json)
    job_id = str(order_id)
    pins = tuple(p for p in problem.options.pins if p.job_id != job_id)
    if tanker_id is not None and any(t.id == str(tanker_id) for t in problem.tankers):
        pins = (*pins, routing.Pin(job_id=job_id, tanker_id=str(tanker_id)))
    if pins != problem.options.pins:
        options = msgspec.structs.replace(problem.options, pins=pins)
        plan.problem_json = routing.encode_problem(msgspec.structs.replace(problem, options=options)).decode()


async def _move_in_place(
    session: AsyncSession,
    plan: Plan,
    stop: PlanStop,
    trip: PlanTrip,
    tanker_id: uuid.UUID,
    position: int | None,
    *,
    roads: Roads,
) -> None:
    """Re-time the two tankers concerned now, so the draft shows the move and its cost before anyone re-plans."""
    problem, solution = routing.decode_problem(plan.problem_json), routing.decode_solution(plan.solution_json)
    try:
        problem, solution = await asyncio.to_thread(
            routing.move_job,
            problem,
            solution,
            job_id=str(stop.order_id),
            tanker_id=str(tanker_id),
            position=position,
            matrix_provider=roads.provider,
        )
    except routing.MoveError as refused:
        field = "position" if position is not None and refused.code == "trip_started" else "tanker_id"
        raise InvalidInput(str(refused), code=refused.code, field=field) from None
    except routing.OsrmError as error:
        raise ServiceUnavailable(f"road distances are unavailable: {error}", code="osrm_unavailable") from None
    concerned = {trip.tanker_id, tanker_id}
    old_trips = (
        await session.scalars(
            select(PlanTrip)
            .where(PlanTrip.plan_id == plan.id, PlanTrip.tanker_id.in_(concerned))
            .order_by(PlanTrip.sequence)
        )
    ).all()
    old_stops = (
        await session.scalars(
            select(PlanStop)
            .join(PlanTrip, PlanTrip.id == PlanStop.trip_id)
            .where(PlanStop.trip_id.in_([t.id for t in old_trips]))
            .order_by(PlanTrip.sequence, PlanStop.sequence)
        )
    ).all()
    keep_ids: dict[tuple[str, int], uuid.UUID] = {(str(t.tanker_id), t.sequence): t.id for t in old_trips}
    parts: dict[str, int] = {}
    for old in old_stops:
        part = parts.get(str(old.order_id), 0)
        keep_ids[(str(old.order_id), part)] = old.id
        parts[str(old.order_id)] = part + 1
    first = {str(t): await _first_sequence(session, plan, t, old_trips) for t in concerned}
    await session.execute(delete(PlanStop).where(PlanStop.id.in_([x.id for x in old_stops])))
    await session.execute(delete(PlanTrip).where(PlanTrip.id.in_([t.id for t in old_trips])))
    for row in (*old_stops, *old_trips):
        session.expunge(row)
    day_start = await day_start_of(session, day=plan.date, depot_id=plan.depot_id, default_tz=roads.default_tz)
    routes = [r for r in solution.routes if uuid.UUID(r.tanker_id) in concerned]
    await add_route_rows(
        session,
        plan,
        problem,
        routes,
        at=lambda seconds: day_start + timedelta(seconds=seconds),
        first_sequence=first,
        keep_ids=keep_ids,
    )
    plan.problem_json = routing.encode_problem(problem).decode()
    plan.solution_json = routing.encode_solution(solution).decode()
    plan.cost_minor, plan.distance_m, plan.duration_s = solution.cost_minor, solution.distance_m, solution.duration_s
    plan.driving_s = driving_seconds(solution)


async def _first_sequence(session: AsyncSession, plan: Plan, tanker_id: uuid.UUID, rows: Sequence[PlanTrip]) -> int:
    """Trips of this plan are numbered after the tanker's frozen (loaded or started) trips."""
    own = [t.sequence for t in rows if t.tanker_id == tanker_id]
    if own:
        return min(own)
    frozen = [uuid.UUID(x) for x in plan.order_versions.get("frozen_trips", [])]
    count = await session.scalar(
        select(func.count()).select_from(PlanTrip).where(PlanTrip.id.in_(frozen), PlanTrip.tanker_id == tanker_id)
    )
    return int(count or 0) + 1
