"""Price of a quantity: the day's price × litres − the customer's tier discount."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import OrderRules
from core.units import apply_bps
from orders import schemas as s
from orders.accounts import tier_of_the_day
from orders.cache import PriceInfo
from orders.models import CustomerAccount


def breakdown(*, price: PriceInfo, litres: int, tier: int, rules: OrderRules) -> s.PriceBreakdown:
    gross = price.price_per_litre_minor * litres
    discount_bps = rules.tier_discounts_bps[tier]
    discount = apply_bps(gross, discount_bps)
    return s.PriceBreakdown(
        currency=price.currency,
        price_per_litre_minor=price.price_per_litre_minor,
        gross_minor=gross,
        tier=tier,
        discount_bps=discount_bps,
        discount_minor=discount,
        amount_minor=gross - discount,
    )


async def price_breakdown(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID,
    price: PriceInfo,
    litres: int,
    now: datetime,
    rules: OrderRules,
    account: CustomerAccount | None = None,
) -> s.PriceBreakdown:
    """With `account` (row-locked by the caller) the day's tier is also stored on it; see `tier_of_the_day`."""
    tier = await tier_of_the_day(session, customer_id, now=now, rules=rules, account=account)
    return breakdown(price=price, litres=litres, tier=tier, rules=rules)
