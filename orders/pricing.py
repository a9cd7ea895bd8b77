"""Price of a quantity: the day's price × litres − the customer's tier discount."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import OrderRules
from core.units import apply_bps
from orders import schemas as s
from orders.accounts import yearly_volume_kg
from orders.models import Price
from orders.rules import tier_for


async def price_breakdown(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID,
    price: Price,
    litres: int,
    now: datetime,
    rules: OrderRules,
) -> s.PriceBreakdown:
    tier = tier_for(await yearly_volume_kg(session, customer_id, now=now), rules)
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
