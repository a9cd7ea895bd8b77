"""Regular orders: standing orders (a weekly schedule per site whose real orders are placed ahead of the cut-off,
once per occurrence) and "the same again" (`repeat_order`). Every order goes through `delivery.place_order`, so
the rules, credit and approval limits hold as for an order placed by hand.

An occurrence is claimed first (`standing_order_runs`, unique per standing order and delivery day), in the same
transaction as its order: a second run of the task, or two at once, find it claimed and place nothing. A refusal
(the tank, the price, the cut-off, the orderer's role) is kept on the run and told to the account through the
event log (`standing_order_refused`); an order held on credit is an order, told as any held order is.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import idempotency
from core.auth import CustomerRole, Principal, Role
from core.db import unit_of_work
from core.errors import DomainError, InvalidInput, NotFound
from core.events import record_event
from core.hours import zone
from core.ids import new_id
from core.models import User
from core.settings import OrderRules
from orders import delivery, people
from orders import schemas as s
from orders.accounts import get_site
from orders.catalogue import product_info
from orders.models import Order, Site, StandingOrder, StandingOrderRun
from orders.repository import PlacedOrder
from orders.rules import check_quantity

log = logging.getLogger("diesel.orders.standing")
# Orders are placed this long before their cut-off (the window's start less the lead time), so the customer
# sees them (and an approver can approve them) a day ahead; the task runs every few minutes within it.
PLACE_AHEAD = timedelta(days=2)
# A run this late after an occurrence's cut-off still tells the account it was missed; older ones are let be.
MISSED_LOOKBACK = timedelta(days=1)
REFUSED_EVENT = "standing_order_refused"


# --- the schedule ------------------------------------------------------------------------------------------------


def window_start_at(day: date, hhmm: str, tz_name: str) -> datetime:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(0), zone(tz_name)) + timedelta(hours=hours, minutes=minutes)


def cut_off(standing: StandingOrder, day: date, tz_name: str, rules: OrderRules) -> datetime:
    """The last moment an order for `day` may be placed (its window's start less the lead time)."""
    return window_start_at(day, standing.window_start, tz_name) - timedelta(minutes=rules.lead_time_minutes)


def occurrences(standing: StandingOrder, *, start: date, end: date) -> list[date]:
    """Its delivery days from `start` to `end` (both included)."""
    first = max(start, standing.starts_on)
    last = min(end, standing.ends_on) if standing.ends_on is not None else end
    days = []
    day = first
    while day <= last:
        if day.isoweekday() in standing.weekdays:
            days.append(day)
        day += timedelta(days=1)
    return days


def _check_schedule(data: s.StandingOrderIn) -> None:
    weekdays = data.weekdays
    if not weekdays or len(set(weekdays)) != len(weekdays) or any(d < 1 or d > 7 for d in weekdays):
        raise InvalidInput(
            "weekdays: one or more distinct days, 1 (Monday) to 7 (Sunday)", code="invalid_weekdays", field="weekdays"
        )
    if data.window_end <= data.window_start:
        raise InvalidInput("the window must end after it starts", code="invalid_window", field="window_end")
    if data.ends_on is not None and data.ends_on < data.starts_on:
        raise InvalidInput("ends_on is before starts_on", code="invalid_period", field="ends_on")


async def create(
    session: AsyncSession,
    *,
    data: s.StandingOrderIn,
    actor: Principal,
    now: datetime,
    rules: OrderRules,
    idempotency_key: str | None = None,
) -> tuple[StandingOrder, bool]:
    """A new standing order (created True), or the first one made with this `Idempotency-Key` (a retry)."""
    if actor.account_role not in people.ORDERING or actor.customer_id is None:
        raise InvalidInput("standing orders are made by a customer account's orderers", code="customer_only")
    _check_schedule(data)
    site = await get_site(session, data.site_id, viewer=actor)
    product = await product_info(session, data.product_code)
    check_quantity(data.quantity_litres, rules=rules, tank_capacity_litres=site.tank_capacity_litres)
    today = now.astimezone(zone(site.timezone)).date()
    if data.starts_on < today:
        raise InvalidInput("starts_on is in the past", code="starts_in_past", field="starts_on")
    standing_id = new_id()
    if idempotency_key is not None:
        first = await idempotency.claim_for(
            session,
            scope=f"standing-orders:{actor.customer_id}",
            key=idempotency_key,
            digest=idempotency.request_hash(data),
            resource_id=standing_id,
        )
        if first is not None:
            return await get(session, first, viewer=actor), False
    standing = StandingOrder(
        id=standing_id,
        customer_id=actor.customer_id,
        site_id=site.id,
        product_code=product.code,
        quantity_litres=data.quantity_litres,
        weekdays=sorted(data.weekdays),
        window_start=data.window_start,
        window_end=data.window_end,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        note=data.note,
        created_by=actor.id,
        created_at=now,
    )
    session.add(standing)
    await session.flush()
    return standing, True


async def get(session: AsyncSession, standing_id: uuid.UUID, *, viewer: Principal) -> StandingOrder:
    standing = await session.get(StandingOrder, standing_id)
    if standing is None or (viewer.role == Role.CUSTOMER and standing.customer_id != viewer.customer_id):
        raise NotFound("no such standing order", code="standing_order_not_found")
    return standing


async def list_for(
    session: AsyncSession, *, viewer: Principal, limit: int, offset: int
) -> tuple[Sequence[StandingOrder], int]:
    where = [StandingOrder.customer_id == viewer.customer_id]
    total = await session.scalar(select(func.count()).select_from(StandingOrder).where(*where)) or 0
    rows = (
        await session.scalars(
            select(StandingOrder)
            .where(*where)
            .order_by(StandingOrder.created_at.desc(), StandingOrder.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return rows, total


async def runs_of(session: AsyncSession, standing_id: uuid.UUID, *, limit: int = 20) -> Sequence[StandingOrderRun]:
    return (
        await session.scalars(
            select(StandingOrderRun)
            .where(StandingOrderRun.standing_order_id == standing_id)
            .order_by(StandingOrderRun.delivery_date.desc())
            .limit(limit)
        )
    ).all()


async def cancel(session: AsyncSession, standing_id: uuid.UUID, *, actor: Principal, now: datetime) -> StandingOrder:
    """No more orders from it (cancelling twice changes nothing); those placed stay."""
    standing = await get(session, standing_id, viewer=actor)
    if standing.cancelled_at is None:
        standing.cancelled_at, standing.cancelled_by = now, actor.id
        await session.flush()
    return standing


# --- placing the occurrences ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    standing_id: uuid.UUID
    delivery_date: date
    missed: bool  # its cut-off has passed: told, not placed


async def due_occurrences(session: AsyncSession, *, now: datetime, rules: OrderRules) -> list[Due]:
    """Occurrences of active standing orders whose time to be placed has come (within `PLACE_AHEAD` of their
    cut-off) or, not placed, just passed; those already run are left out."""
    rows = (
        await session.execute(
            select(StandingOrder, Site.timezone)
            .join(Site, Site.id == StandingOrder.site_id)
            .where(StandingOrder.cancelled_at.is_(None))
        )
    ).all()
    found: list[Due] = []
    for standing, tz_name in rows:
        today = now.astimezone(zone(tz_name)).date()
        horizon = today + PLACE_AHEAD + timedelta(days=1)
        for day in occurrences(standing, start=today - timedelta(days=1), end=horizon):
            cutoff = cut_off(standing, day, tz_name, rules)
            if cutoff - PLACE_AHEAD <= now < cutoff:
                found.append(Due(standing.id, day, missed=False))
            elif cutoff <= now < cutoff + MISSED_LOOKBACK:
                found.append(Due(standing.id, day, missed=True))
    if not found:
        return []
    run = (
        await session.execute(
            select(StandingOrderRun.standing_order_id, StandingOrderRun.delivery_date).where(
                StandingOrderRun.standing_order_id.in_({d.standing_id for d in found})
            )
        )
    ).all()
    done = {(standing_id, day) for standing_id, day in run}
    return [d for d in found if (d.standing_id, d.delivery_date) not in done]


def _claim_statement(session: AsyncSession) -> Insert:
    keys = ["standing_order_id", "delivery_date"]
    if session.get_bind().dialect.name == "postgresql":
        return (
            postgresql.insert(StandingOrderRun)
            .on_conflict_do_nothing(index_elements=keys)
            .returning(StandingOrderRun.id)
        )
    return sqlite.insert(StandingOrderRun).on_conflict_do_nothing(index_elements=keys).returning(StandingOrderRun.id)


async def _claim(session: AsyncSession, due: Due, now: datetime) -> uuid.UUID | None:
    """The occurrence is ours (its run's id) or was claimed before (None)."""
    values = {"id": new_id(), "standing_order_id": due.standing_id, "delivery_date": due.delivery_date, "at": now}
    row = (await session.execute(_claim_statement(session), values)).first()
    return None if row is None else row[0]


async def _orderer(session: AsyncSession, standing: StandingOrder) -> Principal:
    """The standing order's maker, as the order's actor (its role and approval limit as they are today)."""
    user = await session.get(User, standing.created_by)
    if user is None or not user.is_active or user.customer_id != standing.customer_id:
        raise InvalidInput(
            "the user who made the standing order can no longer order for the account", code="orderer_gone"
        )
    return Principal(
        id=user.id,
        username=user.username,
        role=Role.CUSTOMER,
        customer_id=user.customer_id,
        customer_role=CustomerRole(user.customer_role) if user.customer_role else None,
    )


def order_in(standing: StandingOrder, day: date) -> s.OrderIn:
    return s.OrderIn(
        site_id=standing.site_id,
        product_code=standing.product_code,
        delivery_date=day,
        window_start=standing.window_start,
        window_end=standing.window_end,
        quantity_litres=standing.quantity_litres,
        note=standing.note,
    )


async def place_occurrence(session: AsyncSession, due: Due, *, now: datetime, rules: OrderRules) -> str:
    """Claim one occurrence and place its order, or keep and tell why it could not be: 'placed', 'refused', or
    'taken' (another run had it). The caller commits."""
    standing = await session.get(StandingOrder, due.standing_id)
    if standing is None or standing.cancelled_at is not None:
        return "taken"
    run_id = await _claim(session, due, now)
    if run_id is None:
        return "taken"
    run = await session.get(StandingOrderRun, run_id)
    assert run is not None  # just written
    try:
        if due.missed:
            raise InvalidInput("the task ran after the occurrence's cut-off", code="lead_time")
        async with session.begin_nested():
            actor = await _orderer(session, standing)
            order, _ = await delivery.place_order(
                session,
                data=order_in(standing, due.delivery_date),
                actor=actor,
                idempotency_key=f"standing:{standing.id}:{due.delivery_date.isoformat()}",
                now=now,
                rules=rules,
            )
            await session.flush()
        run.order_id = order.id
        return "placed"
    except DomainError as error:
        run.code, run.detail = error.code, error.detail
        site = await session.get(Site, standing.site_id)
        record_event(
            session,
            subject_type="standing_order",
            subject_id=standing.id,
            customer_id=standing.customer_id,
            type=REFUSED_EVENT,
            at=now,
            reason=f"{error.code}: {error.detail}",
            data={
                "delivery_date": due.delivery_date.isoformat(),
                "site": site.name if site else "-",
                "product_code": standing.product_code,
                "quantity_litres": standing.quantity_litres,
                "code": error.code,
            },
        )
        log.info("standing order %s for %s refused: %s", standing.id, due.delivery_date, error.code)
        return "refused"


async def run_due(factory: async_sessionmaker[AsyncSession], *, now: datetime, rules: OrderRules) -> dict[str, int]:
    """One pass of the periodic task: every due occurrence in a transaction of its own (a refusal or a failure
    of one leaves the others placed). Two passes at once, or one again, place each occurrence once."""
    async with unit_of_work(factory) as session:
        due = await due_occurrences(session, now=now, rules=rules)
    counts: dict[str, int] = {"placed": 0, "refused": 0, "taken": 0}
    for occurrence in due:
        async with unit_of_work(factory) as session:
            counts[await place_occurrence(session, occurrence, now=now, rules=rules)] += 1
    return counts


# --- the same again ----------------------------------------------------------------------------------------------


async def repeat_order(
    session: AsyncSession,
    *,
    order_id: uuid.UUID,
    delivery_date: date,
    actor: Principal,
    idempotency_key: str | None,
    now: datetime,
    rules: OrderRules,
) -> tuple[Order | PlacedOrder, bool]:
    """A new order like `order_id` (site, product, quantity as it was given, window, preferred driver, note) for
    `delivery_date`, placed as any order is; returns (order, created)."""
    first = await delivery.get_order(session, order_id, viewer=actor)
    tz = zone(first.timezone)
    window_end = delivery._hhmm_end(first.window_end.astimezone(tz), first.delivery_date)
    data = s.OrderIn(
        site_id=first.site_id,
        product_code=first.product_code,
        delivery_date=delivery_date,
        window_start=first.window_start.astimezone(tz).strftime("%H:%M"),
        window_end=window_end,
        quantity_litres=None if first.quantity_kg is not None else first.quantity_litres,
        quantity_kg=first.quantity_kg,
        preferred_driver_id=first.preferred_driver_id,
        note=first.note,
    )
    return await delivery.place_order(
        session, data=data, actor=actor, idempotency_key=idempotency_key, now=now, rules=rules
    )
