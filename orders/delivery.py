"""Quotes and delivery orders: placement, credit, cancellation, the timeline."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import idempotency
from core.auth import Principal, Role
from core.db import after_commit
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.events import events_committed
from core.hours import zone
from core.ids import new_id, new_reference
from core.models import Event
from core.settings import OrderRules
from core.units import litres_to_kg
from money import ledger
from money.models import CreditAccount
from orders import cache, lifecycle, people, pricing, promise_port, repository
from orders import schemas as s
from orders.accounts import get_site, site_info, tier_day, tier_of_the_day
from orders.cache import ProductInfo, SiteInfo
from orders.catalogue import depot_info, product_info, serving_depot
from orders.drivers import check_preferred_driver
from orders.models import CustomerAccount, Order, QuoteRecord
from orders.pricing import UnitPrice, price_breakdown
from orders.repository import PlacedOrder
from orders.rules import (
    OrderStatus,
    check_delivery_date,
    check_delivery_window,
    check_quantity,
    litres_from,
    order_transition,
)
from orders.tiers import tier_table


def _litres(product: ProductInfo, quantity_litres: int | None, quantity_kg: int | None) -> int:
    return litres_from(quantity_litres=quantity_litres, quantity_kg=quantity_kg, density_kg_m3=product.density_kg_m3)


async def quote(
    session: AsyncSession, *, data: s.QuoteIn, actor: Principal, now: datetime, rules: OrderRules
) -> s.QuoteOut:
    site = await get_site(session, data.site_id, viewer=actor)
    product = await product_info(session, data.product_code)
    litres = _litres(product, data.quantity_litres, data.quantity_kg)
    check_quantity(litres, rules=rules, tank_capacity_litres=site.tank_capacity_litres)
    check_delivery_date(data.delivery_date, today=now.astimezone(zone(site.timezone)).date(), rules=rules)
    depot, km = await serving_depot(session, lat=site.lat, lon=site.lon, product_code=product.code)
    unit = await pricing.unit_price(
        session, customer_id=site.customer_id, depot=depot, product=product, day=data.delivery_date
    )
    breakdown = await price_breakdown(
        session, customer_id=site.customer_id, unit=unit, litres=litres, now=now, rules=rules
    )
    credit = await ledger.get_account(session, site.customer_id)
    available = max(0, ledger.available_minor(credit))
    # Kept for the account manager: quotes that never became orders are a sign of a customer going elsewhere.
    session.add(
        QuoteRecord(
            customer_id=site.customer_id,
            site_id=site.id,
            depot_id=depot.id,
            product_code=product.code,
            quantity_litres=litres,
            price_per_litre_minor=breakdown.price_per_litre_minor,
            at=now,
            user_id=actor.id,
        )
    )
    answer = s.PromiseAnswer()
    promise = promise_port.current()
    if promise is not None:
        request = promise_port.QuoteRequest(
            site_id=site.id,
            depot_id=depot.id,
            product_code=product.code,
            litres=litres,
            delivery_date=data.delivery_date,
            now=now,
        )
        answer = await promise.answer(session, request)
    return s.QuoteOut(
        site_id=site.id,
        product_code=product.code,
        delivery_date=data.delivery_date,
        quantity_litres=litres,
        quantity_kg=litres_to_kg(litres, product.density_kg_m3),
        depot=s.ServingDepot(id=depot.id, name=depot.name, distance_km=km),
        price=breakdown,
        available_credit_minor=available,
        within_credit=breakdown.amount_minor <= available,
        earliest_window=answer.earliest_window,
        fleet_full=answer.fleet_full,
        pickup_alternative=answer.pickup_alternative,
    )


def _window(day: date, hhmm: str, tz_name: str) -> datetime:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(0), zone(tz_name)) + timedelta(hours=hours, minutes=minutes)


def order_out(order: Order | PlacedOrder, *, density_kg_m3: float | None = None) -> s.OrderOut:
    """The order as the API shows it; with the product's density its price is shown per tonne as well."""
    tz = zone(order.timezone)
    return s.OrderOut(
        id=order.id,
        reference=order.reference,
        status=order.status,
        hold_reason=order.hold_reason,
        customer_id=order.customer_id,
        site_id=order.site_id,
        depot_id=order.depot_id,
        product_code=order.product_code,
        quantity_litres=order.quantity_litres,
        quantity_kg=order.quantity_kg,
        delivery_date=order.delivery_date,
        window_start=order.window_start.astimezone(tz).strftime("%H:%M"),
        window_end=_hhmm_end(order.window_end.astimezone(tz), order.delivery_date),
        window_start_at=order.window_start.astimezone(UTC),
        window_end_at=order.window_end.astimezone(UTC),
        price=pricing.fixed_breakdown(order, density_kg_m3=density_kg_m3),
        preferred_driver_id=order.preferred_driver_id,
        note=order.note,
        cancel_reason=order.cancel_reason,
        created_at=order.created_at,
        updated_at=order.updated_at,
        confirmed_at=order.confirmed_at,
    )


def _hhmm_end(at: datetime, day: date) -> str:
    return "24:00" if at.date() > day and at.time() == time(0) else at.strftime("%H:%M")


async def _confirm_or_hold(
    session: AsyncSession,
    order: Order,
    customer: CustomerAccount,
    credit: CreditAccount,
    *,
    price: UnitPrice,
    now: datetime,
    actor: Principal | None,
    rules: OrderRules,
) -> Event | None:
    """Price the order (the day's price, the customer's tier of the day) and confirm it when credit allows;
    otherwise hold (orders.lifecycle). The caller holds the credit account's row lock.

    Returns the event of the status change (None when a held order stays held)."""
    breakdown = await price_breakdown(
        session,
        customer_id=order.customer_id,
        unit=price,
        litres=order.quantity_litres,
        now=now,
        rules=rules,
        account=customer,
    )
    return lifecycle.confirm_or_hold(session, order, credit=credit, breakdown=breakdown, now=now, actor=actor)


async def place_order(
    session: AsyncSession,
    *,
    data: s.OrderIn,
    actor: Principal,
    idempotency_key: str | None,
    now: datetime,
    rules: OrderRules,
) -> tuple[Order | PlacedOrder, bool]:
    """Place a delivery order; returns (order, created). A retried key returns the first order unchanged.

    The hot path of the service (orders/repository.py): on PostgreSQL the site, catalogue, price and tier come
    from per-process caches and the order is one statement; elsewhere the same steps run in the unit of work.
    """
    if actor.role != Role.CUSTOMER or actor.customer_id is None:
        raise InvalidInput("orders are placed by a customer account's users", code="customer_only")
    if actor.account_role not in people.ORDERING:
        raise Forbidden("your role in the account may not place orders", code="customer_role_forbidden")
    scope, digest = f"orders:{actor.customer_id}", ""
    if idempotency_key is not None:
        digest = idempotency.request_hash(data)
    # An orderer with an approval limit: its order may wait for an approver (the unit of work decides).
    approval_limit = await people.approval_limit_of(session, actor)
    if session.get_bind().dialect.name == "postgresql" and approval_limit is None:
        try:
            return await _place_in_one_statement(
                session, data=data, actor=actor, key=idempotency_key, scope=scope, digest=digest, now=now, rules=rules
            )
        except (InvalidInput, NotFound, Conflict):
            # A retry gets the first answer even when the request would now be refused (e.g. the lead time
            # has passed since, or its own order took the window's last place): the rules run before the
            # statement that claims the key.
            if idempotency_key is None:
                raise
            first = await idempotency.resource_if_used(session, scope=scope, key=idempotency_key, digest=digest)
            if first is None:
                raise
            return await get_order(session, first, viewer=actor), False
    # A retry finds its key claimed before any rule runs: the first answer, even if the rules would now refuse.
    return await _place_in_unit_of_work(
        session,
        data=data,
        actor=actor,
        key=idempotency_key,
        scope=scope,
        digest=digest,
        now=now,
        rules=rules,
        approval_limit=approval_limit,
    )


def _new_order(
    *,
    order_id: uuid.UUID,
    data: s.OrderIn,
    actor: Principal,
    customer_id: uuid.UUID,
    site_id: uuid.UUID,
    timezone: str,
    product: ProductInfo,
    litres: int,
    depot_id: uuid.UUID,
    start: datetime,
    end: datetime,
    currency: str,
    now: datetime,
) -> dict[str, Any]:
    """The order as placed (not yet priced, confirmed or held): the fields of an `Order` or `PlacedOrder`."""
    return {
        "id": order_id,
        "reference": new_reference("DO", data.delivery_date),
        "customer_id": customer_id,
        "site_id": site_id,
        "depot_id": depot_id,
        "product_code": product.code,
        "quantity_litres": litres,
        "quantity_kg": data.quantity_kg,
        "delivery_date": data.delivery_date,
        "timezone": timezone,
        "window_start": start,
        "window_end": end,
        "price_per_litre_minor": 0,
        "gross_minor": 0,
        "discount_bps": 0,
        "discount_per_litre_minor": 0,
        "discount_minor": 0,
        "amount_minor": 0,
        "currency": currency,
        "status": str(OrderStatus.PLACED),
        "preferred_driver_id": data.preferred_driver_id,
        "note": data.note,
        "created_by": actor.id,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }


async def _draft(
    session: AsyncSession,
    *,
    order_id: uuid.UUID,
    data: s.OrderIn,
    actor: Principal,
    site: SiteInfo,
    now: datetime,
    rules: OrderRules,
) -> tuple[dict[str, Any], UnitPrice]:
    """Check the order against the rules and fix its depot and the customer's unit price on the delivery day: the
    fields of the order as placed (`_new_order`, currency that of the price) and the unit price."""
    product = await product_info(session, data.product_code)
    litres = _litres(product, data.quantity_litres, data.quantity_kg)
    check_quantity(litres, rules=rules, tank_capacity_litres=site.tank_capacity_litres)
    start = _window(data.delivery_date, data.window_start, site.timezone)
    end = _window(data.delivery_date, data.window_end, site.timezone)
    tz = zone(site.timezone)
    check_delivery_window(start=start, end=end, now=now, receiving_hours=site.receiving_hours, tz=tz, rules=rules)
    depot, _ = await serving_depot(session, lat=site.lat, lon=site.lon, product_code=product.code)
    if data.preferred_driver_id is not None:  # one of the serving depot's drivers (GET /depots/{id}/drivers)
        await check_preferred_driver(session, data.preferred_driver_id, depot_id=depot.id, day=data.delivery_date)
    price = await pricing.unit_price(
        session, customer_id=site.customer_id, depot=depot, product=product, day=data.delivery_date
    )
    fields = _new_order(
        order_id=order_id,
        data=data,
        actor=actor,
        customer_id=site.customer_id,
        site_id=site.id,
        timezone=site.timezone,
        product=product,
        litres=litres,
        depot_id=depot.id,
        start=start,
        end=end,
        currency=price.currency,
        now=now,
    )
    return fields, price


async def _take_place(session: AsyncSession, fields: dict[str, Any], *, actor: Principal, now: datetime) -> None:
    """The order's place in the fleet's day (orders.lifecycle.take_place): refused with 409 `window_full`."""
    request = promise_port.PlaceRequest(
        order_id=fields["id"],
        site_id=fields["site_id"],
        depot_id=fields["depot_id"],
        product_code=fields["product_code"],
        litres=fields["quantity_litres"],
        delivery_date=fields["delivery_date"],
        window_start=fields["window_start"],
        window_end=fields["window_end"],
        now=now,
    )
    await lifecycle.take_place(session, request, actor=actor)


def _placed_event(order: Order | PlacedOrder, actor: Principal, now: datetime) -> Event:
    return Event(
        id=new_id(),
        subject_type="order",
        subject_id=order.id,
        customer_id=order.customer_id,
        type="order_placed",
        at=now,
        actor_id=actor.id,
        actor_role=str(actor.role),
        to_status=str(OrderStatus.PLACED),
    )


async def _place_in_one_statement(
    session: AsyncSession,
    *,
    data: s.OrderIn,
    actor: Principal,
    key: str | None,
    scope: str,
    digest: str,
    now: datetime,
    rules: OrderRules,
) -> tuple[Order | PlacedOrder, bool]:
    assert actor.customer_id is not None
    site = await site_info(session, data.site_id, customer_id=actor.customer_id)
    order_id = new_id()
    fields, price = await _draft(session, order_id=order_id, data=data, actor=actor, site=site, now=now, rules=rules)
    await _take_place(session, fields, actor=actor, now=now)
    day = tier_day(now)
    table = await tier_table(session)
    tiers = cache.for_session(session).tiers
    tier_key = (actor.customer_id, day, table.bands)
    known, tier = tiers.get(tier_key)
    if not known:
        tier = await tier_of_the_day(session, actor.customer_id, now=now, rules=rules)
    order = PlacedOrder(**fields)
    lifecycle.fix_price(order, pricing.breakdown(unit=price, litres=order.quantity_litres, tier=tier, table=table))
    placed = _placed_event(order, actor, now)
    claim = None
    if key is not None:
        claim = idempotency.record_values(scope=scope, key=key, digest=digest, resource_id=order_id)
    decided_id = new_id()
    outcome = await repository.insert_order_once(
        session,
        order=order,
        placed=placed,
        decided_event_id=decided_id,
        claim=claim,
        tier_day=day,
    )
    if outcome is None:
        if key is None:  # no key and no account: the customer of a valid token always has one
            raise NotFound("no such customer", code="customer_not_found")
        first = await idempotency.first_resource(session, scope=scope, key=key, digest=digest)
        return await get_order(session, first, viewer=actor), False
    tiers.put(tier_key, tier)
    order.currency = outcome.currency
    decided = lifecycle.decided_in_one_statement(order, confirmed=outcome.confirmed, event_id=decided_id, now=now)
    after_commit(session, lambda: events_committed([placed, decided]))
    return order, True


async def _place_in_unit_of_work(
    session: AsyncSession,
    *,
    data: s.OrderIn,
    actor: Principal,
    key: str | None,
    scope: str,
    digest: str,
    now: datetime,
    rules: OrderRules,
    approval_limit: int | None = None,
) -> tuple[Order, bool]:
    assert actor.customer_id is not None
    order_id = new_id()
    claim = None
    if key is not None:
        claim = idempotency.record_values(scope=scope, key=key, digest=digest, resource_id=order_id)
    # The credit account's row lock serialises credit decisions: two orders that together exceed the available
    # credit cannot both be confirmed.
    claimed, found = await repository.claim_and_lock(
        session, claim=claim, site_id=data.site_id, customer_id=actor.customer_id
    )
    if not claimed:
        assert key is not None
        first = await idempotency.first_resource(session, scope=scope, key=key, digest=digest)
        return await get_order(session, first, viewer=actor), False
    if found is None:
        raise NotFound("no such site", code="site_not_found", field="site_id")
    _, customer, credit = found
    site = await site_info(session, data.site_id, customer_id=customer.id)  # read by claim_and_lock already
    fields, price = await _draft(session, order_id=order_id, data=data, actor=actor, site=site, now=now, rules=rules)
    await _take_place(session, fields, actor=actor, now=now)
    order = Order(**(fields | {"currency": credit.currency}))
    session.add(_placed_event(order, actor, now))
    breakdown = await price_breakdown(
        session,
        customer_id=order.customer_id,
        unit=price,
        litres=order.quantity_litres,
        now=now,
        rules=rules,
        account=customer,
    )
    if approval_limit is not None and breakdown.amount_minor > approval_limit:
        lifecycle.await_approval(session, order, breakdown=breakdown, limit_minor=approval_limit, now=now)
    else:
        lifecycle.confirm_or_hold(session, order, credit=credit, breakdown=breakdown, now=now, actor=None)
    await repository.save_placed_order(session, order)
    return order, True


async def get_order(session: AsyncSession, order_id: uuid.UUID, *, viewer: Principal, lock: bool = False) -> Order:
    stmt = select(Order).where(Order.id == order_id)
    if lock:
        stmt = stmt.with_for_update()
    order = (await session.execute(stmt)).scalar_one_or_none()
    if order is None or (viewer.role == Role.CUSTOMER and order.customer_id != viewer.customer_id):
        raise NotFound("no such order", code="order_not_found")
    return order


async def list_orders(
    session: AsyncSession,
    *,
    viewer: Principal,
    status: str | None,
    day: date | None,
    customer_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Order], int]:
    conditions = []
    if viewer.role == Role.CUSTOMER:
        conditions.append(Order.customer_id == viewer.customer_id)
    elif customer_id is not None:
        conditions.append(Order.customer_id == customer_id)
    if status is not None:
        if status not in OrderStatus.__members__.values():
            raise InvalidInput(f"unknown status '{status}'", code="invalid_status", field="status")
        conditions.append(Order.status == status)
    if day is not None:
        conditions.append(Order.delivery_date == day)
    total = await session.scalar(select(func.count()).select_from(Order).where(*conditions)) or 0
    rows = (
        await session.scalars(
            select(Order).where(*conditions).order_by(Order.created_at.desc(), Order.id).limit(limit).offset(offset)
        )
    ).all()
    return rows, total


async def cancel_order(
    session: AsyncSession, *, order_id: uuid.UUID, reason: str, actor: Principal, now: datetime
) -> Order:
    order = await get_order(session, order_id, viewer=actor)
    if actor.role not in (Role.CUSTOMER, Role.ADMIN, Role.DISPATCHER):
        raise NotFound("no such order", code="order_not_found")
    # Refused before any lock: an order on the road is locked by its trip's moves, which lock the account after it.
    order_transition(order.status, OrderStatus.CANCELLED)
    await lifecycle.lock_credit(session, order.customer_id)  # before the order, as the re-check of held orders
    order = await get_order(session, order_id, viewer=actor, lock=True)
    await lifecycle.cancel_order(session, order, reason=reason, actor=actor, now=now)
    await session.flush()
    return order


async def recheck_held_orders(
    session: AsyncSession, *, customer_id: uuid.UUID, now: datetime, rules: OrderRules
) -> list[Order]:
    """After a payment or a higher limit: confirm held orders oldest first while credit allows."""
    credit = await lifecycle.lock_credit(session, customer_id)
    customer = await session.get(CustomerAccount, customer_id)  # its tier of the day is stored with the first
    assert customer is not None  # the credit account's own customer
    held = (
        await session.scalars(
            select(Order)
            .where(Order.customer_id == customer_id, Order.status == OrderStatus.ON_HOLD)
            .order_by(Order.created_at, Order.id)
            .with_for_update()
        )
    ).all()
    confirmed = []
    for order in held:
        depot = await depot_info(session, order.depot_id)
        product = await product_info(session, order.product_code)
        price = await pricing.unit_price(
            session, customer_id=customer_id, depot=depot, product=product, day=order.delivery_date
        )
        await _confirm_or_hold(session, order, customer, credit, price=price, now=now, actor=None, rules=rules)
        if order.status == OrderStatus.CONFIRMED:
            confirmed.append(order)
    await session.flush()
    return confirmed


async def subject_events(session: AsyncSession, *, subject_type: str, subject_id: uuid.UUID) -> Sequence[Event]:
    return (
        await session.scalars(
            select(Event)
            .where(Event.subject_type == subject_type, Event.subject_id == subject_id)
            .order_by(Event.at, Event.id)
        )
    ).all()


async def order_events(session: AsyncSession, *, order_id: uuid.UUID, viewer: Principal) -> Sequence[Event]:
    await get_order(session, order_id, viewer=viewer)
    return await subject_events(session, subject_type="order", subject_id=order_id)


def event_out(event: Event) -> s.EventOut:
    return s.EventOut(
        id=event.id,
        type=event.type,
        at=event.at,
        from_status=event.from_status,
        to_status=event.to_status,
        actor_role=event.actor_role,
        actor_id=event.actor_id,
        reason=event.reason,
        data=event.data,
    )
