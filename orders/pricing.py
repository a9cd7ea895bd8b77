"""Price of a quantity: the day's price × litres − the customer's discounts.

`amounts` is the one rule that turns a fixed unit price and discounts into money: quotes, orders, bookings, and the
charges for what actually left the tanker or the rack all call it, so they cannot drift apart.
"""

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


def amounts(
    *, price_per_litre_minor: int, litres: int, discount_bps: int, discount_per_litre_minor: int = 0
) -> tuple[int, int, int]:
    """(gross, discount, amount) of `litres` at a unit price: a per-litre discount (a contract's) and a percentage
    (the volume tier's, in basis points of the gross) together, the amount never below zero."""
    gross = price_per_litre_minor * litres
    discount = min(gross, discount_per_litre_minor * litres + apply_bps(gross, discount_bps))
    return gross, discount, gross - discount


def breakdown(*, price: PriceInfo, litres: int, tier: int, rules: OrderRules) -> s.PriceBreakdown:
    discount_bps = rules.tier_discounts_bps[tier]
    gross, discount, _ = amounts(
        price_per_litre_minor=price.price_per_litre_minor, litres=litres, discount_bps=discount_bps
    )
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
