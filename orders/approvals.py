"""Orders awaiting approval: an approver of the account approves one (it is priced on the day and confirmed, or
held on credit, as a new order) or rejects it (cancelled with the reason). The statuses are orders.lifecycle's.

Locks as every credit decision takes them: the credit account first, then the order. Of two approvers deciding
at once, the second waits for the first and then finds the order decided: 409 `order_not_awaiting_approval`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.settings import OrderRules
from money.models import CreditAccount
from orders import lifecycle, people, pricing
from orders.catalogue import depot_info, product_info
from orders.delivery import get_order
from orders.models import CustomerAccount, Order
from orders.pricing import price_breakdown


async def _locked(session: AsyncSession, order_id: uuid.UUID, actor: Principal) -> tuple[Order, CreditAccount]:
    order = await get_order(session, order_id, viewer=actor)
    await people.check_may_approve(session, actor, order)
    credit = await lifecycle.lock_credit(session, order.customer_id)  # before the order, as every credit decision
    order = await get_order(session, order_id, viewer=actor, lock=True)
    await session.refresh(order)  # as it stands after any decision that held the locks before us
    return order, credit


async def approve_order(
    session: AsyncSession, *, order_id: uuid.UUID, actor: Principal, now: datetime, rules: OrderRules
) -> Order:
    order, credit = await _locked(session, order_id, actor)
    lifecycle.check_awaiting(order)  # decided already: nothing to price
    customer = await session.get(CustomerAccount, order.customer_id)
    assert customer is not None  # the order's own account
    depot = await depot_info(session, order.depot_id)
    product = await product_info(session, order.product_code)
    unit = await pricing.unit_price(
        session, customer_id=order.customer_id, depot=depot, product=product, day=order.delivery_date
    )
    breakdown = await price_breakdown(
        session,
        customer_id=order.customer_id,
        unit=unit,
        litres=order.quantity_litres,
        now=now,
        rules=rules,
        account=customer,
    )
    lifecycle.approve(session, order, credit=credit, breakdown=breakdown, now=now, actor=actor)
    await session.flush()
    return order


async def reject_order(
    session: AsyncSession, *, order_id: uuid.UUID, reason: str, actor: Principal, now: datetime
) -> Order:
    order, _ = await _locked(session, order_id, actor)
    lifecycle.reject(session, order, reason=reason, now=now, actor=actor)
    await session.flush()
    return order
