"""Publishing a plan: check it independently, then in one transaction make it the day's plan, schedule its
orders (tanker, driver, ETA) and record the events that let tracking issue load codes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import routing
from core.auth import Principal
from core.errors import Conflict, ServiceUnavailable
from core.events import record_event
from dispatch.builder import with_current_bays
from dispatch.models import Plan, PlanStop, PlanTrip, Tanker
from dispatch.planning import get_plan
from dispatch.states import PlanStatus, move_plan
from dispatch.views import stale_orders
from orders import lifecycle
from orders.models import Order
from orders.rules import OrderStatus

UNSCHEDULABLE = (OrderStatus.CANCELLED, OrderStatus.DELIVERED, OrderStatus.FAILED, OrderStatus.ON_HOLD)


def check_plan(
    plan: Plan, provider: routing.MatrixProvider | None = None, problem: routing.Problem | None = None
) -> list[routing.Violation]:
    """The independent checker, on the distances the planner used (road distances when OSRM is configured);
    `problem`: the plan's own, brought up to date (the bays pickups booked since)."""
    problem = problem or routing.decode_problem(plan.problem_json)
    solution = routing.decode_solution(plan.solution_json)
    return routing.check(problem, solution, matrix=routing.matrix_for(problem, provider))


async def publish(
    session: AsyncSession,
    *,
    plan_id: uuid.UUID,
    force: bool,
    actor: Principal,
    now: datetime,
    provider: routing.MatrixProvider | None = None,
) -> Plan:
    plan = await get_plan(session, plan_id, lock=True)
    if plan.status != PlanStatus.DRAFT:
        raise Conflict(f"the plan is {plan.status}; only a draft can be published", code="plan_not_draft")
    # The bays customer pickups hold now, not when the plan was computed (the depots stay locked: no pickup takes a
    # bay of the plan's loads until it is published).
    problem = await with_current_bays(
        session, routing.decode_problem(plan.problem_json), day=plan.date, depot_id=plan.depot_id
    )
    try:
        # A big day takes a while: not on the loop.
        violations = await asyncio.to_thread(check_plan, plan, provider, problem)
    except routing.OsrmError as error:
        raise ServiceUnavailable(f"road distances are unavailable: {error}", code="osrm_unavailable") from None
    if violations:
        details = "; ".join(f"{v.code}: {v.detail}" for v in violations[:5])
        raise Conflict(f"the independent checker refused the plan: {details}", code="plan_invalid")
    stale = await stale_orders(session, plan)
    if stale and not force:
        raise Conflict(
            f"{len(stale)} order(s) changed since this plan was computed; re-plan, or publish with force=true",
            code="plan_stale",
            stale_orders=[str(x) for x in stale],
        )
    overlapping = [plan.scope, "all"] if plan.scope != "all" else None
    stmt = select(Plan).where(Plan.date == plan.date, Plan.status == PlanStatus.PUBLISHED)
    if overlapping is not None:
        stmt = stmt.where(Plan.scope.in_(overlapping))
    previous = (await session.scalars(stmt.with_for_update())).all()
    in_plan = await _stops_with_orders(session, plan)
    planned_ids = {order.id for _, _, order in in_plan}
    for old in previous:
        move_plan(old, PlanStatus.SUPERSEDED)
        await _unschedule(session, old, keep=planned_ids, actor=actor, now=now)
    # Trips already loaded or under way move over to the new plan unchanged (same ids for driver and rack).
    frozen = [uuid.UUID(x) for x in plan.order_versions.get("frozen_trips", [])]
    if frozen:
        await session.execute(update(PlanTrip).where(PlanTrip.id.in_(frozen)).values(plan_id=plan.id))
        await session.execute(update(PlanStop).where(PlanStop.trip_id.in_(frozen)).values(plan_id=plan.id))
    move_plan(plan, PlanStatus.PUBLISHED)
    plan.published_at, plan.published_by, plan.outdated = now, actor.id, False
    try:
        await session.flush()  # the partial unique index: one published plan per day
    except IntegrityError as error:
        raise Conflict("another plan for this day was published at the same moment", code="publish_conflict") from error
    plates = {t.id: t.plate for t in (await session.scalars(select(Tanker))).all()}
    for trip, stop, order in in_plan:
        if order.status in UNSCHEDULABLE:
            continue  # forced publish of a stale plan: a cancelled order is not re-activated
        if order.status not in (OrderStatus.CONFIRMED, OrderStatus.SCHEDULED):
            continue  # loaded / en route: its trip is under way and keeps it
        lifecycle.schedule(
            session,
            order,
            tanker_id=trip.tanker_id,
            driver_id=trip.driver_id,
            eta=stop.arrival,
            at=now,
            actor=actor,
            data={
                "plan_id": str(plan.id),
                "trip_id": str(trip.id),
                "tanker": plates.get(trip.tanker_id),
                "eta": stop.arrival.isoformat(),
            },
        )
    trips = {trip.id: trip for trip, _, _ in in_plan}
    for trip in trips.values():
        record_event(
            session,
            subject_type="trip",
            subject_id=trip.id,
            type="trip_published",
            at=now,
            actor=actor,
            to_status=trip.status,
            data={
                "plan_id": str(plan.id),
                "tanker_id": str(trip.tanker_id),
                "depot_id": str(trip.depot_id),
                "loads": trip.loads,
            },
        )
    await session.flush()
    return plan


async def _stops_with_orders(session: AsyncSession, plan: Plan) -> list[tuple[PlanTrip, PlanStop, Order]]:
    rows = await session.execute(
        select(PlanTrip, PlanStop, Order)
        .join(PlanStop, PlanStop.trip_id == PlanTrip.id)
        .join(Order, Order.id == PlanStop.order_id)
        .where(PlanTrip.plan_id == plan.id)
        .order_by(PlanTrip.tanker_id, PlanTrip.sequence, PlanStop.sequence)
        .with_for_update(of=Order)
    )
    return [(trip, stop, order) for trip, stop, order in rows]


async def _unschedule(
    session: AsyncSession, plan: Plan, *, keep: set[uuid.UUID], actor: Principal, now: datetime
) -> None:
    """Orders of a superseded plan that the new plan does not carry go back to confirmed."""
    for _, _, order in await _stops_with_orders(session, plan):
        if order.id in keep or order.status != OrderStatus.SCHEDULED:
            continue
        lifecycle.unschedule(
            session, order, at=now, actor=actor, reason="a newer plan for the day does not carry this order"
        )
