"""Price of a quantity: the unit price (the list price in force, or the customer's fixed contract price) × litres
− the customer's discounts (a contract's amount per litre and the volume tier's percentage).

`amounts` is the one rule that turns a fixed unit price and discounts into money: quotes, orders, bookings, and the
charges for what actually left the tanker or the rack all call it, so they cannot drift apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import OrderRules
from core.units import apply_bps, litres_to_kg, per_tonne
from orders import schemas as s
from orders.accounts import tier_of_the_day, tiers_of_the_day
from orders.cache import ContractInfo, TierTable
from orders.catalogue import Named, price_on
from orders.contracts import contract_on
from orders.models import ContractPrice, CustomerAccount, Price, Product
from orders.tiers import tier_table


def amounts(
    *, price_per_litre_minor: int, litres: int, discount_bps: int, discount_per_litre_minor: int = 0
) -> tuple[int, int, int]:
    """(gross, discount, amount) of `litres` at a unit price: a per-litre discount (a contract's) and a percentage
    (the volume tier's, in basis points of the gross) together, the amount never below zero."""
    gross = price_per_litre_minor * litres
    discount = min(gross, discount_per_litre_minor * litres + apply_bps(gross, discount_bps))
    return gross, discount, gross - discount


class Dense(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def density_kg_m3(self) -> float: ...


@dataclass(frozen=True, slots=True)
class UnitPrice:
    """What a litre of a product costs one customer at a depot on a day, before the volume tier: the list price in
    force (from its `valid_from`) or the customer's fixed contract price, and its contract's discount per litre."""

    price_per_litre_minor: int
    discount_per_litre_minor: int
    currency: str
    density_kg_m3: float


async def unit_price(
    session: AsyncSession, *, customer_id: uuid.UUID, depot: Named, product: Dense, day: date
) -> UnitPrice:
    """The customer's unit price; no list price in force is 422 `not_on_sale`, even under a contract."""
    listed = await price_on(session, depot=depot, product_code=product.code, day=day)
    contract = await contract_on(
        session, customer_id=customer_id, depot_id=depot.id, product_code=product.code, day=day
    )
    price, discount = listed.price_per_litre_minor, 0
    if contract is not None and contract.price_per_litre_minor is not None:
        price = contract.price_per_litre_minor
    if contract is not None and contract.discount_per_litre_minor is not None:
        discount = contract.discount_per_litre_minor
    return UnitPrice(
        price_per_litre_minor=price,
        discount_per_litre_minor=discount,
        currency=listed.currency,
        density_kg_m3=product.density_kg_m3,
    )


def breakdown(*, unit: UnitPrice, litres: int, tier: int, table: TierTable) -> s.PriceBreakdown:
    discount_bps = table.discount_bps(tier)
    gross, discount, amount = amounts(
        price_per_litre_minor=unit.price_per_litre_minor,
        litres=litres,
        discount_bps=discount_bps,
        discount_per_litre_minor=unit.discount_per_litre_minor,
    )
    return s.PriceBreakdown(
        currency=unit.currency,
        price_per_litre_minor=unit.price_per_litre_minor,
        price_per_tonne_minor=per_tonne(unit.price_per_litre_minor, unit.density_kg_m3),
        quantity_litres=litres,
        quantity_kg=litres_to_kg(litres, unit.density_kg_m3),
        gross_minor=gross,
        tier=tier,
        discount_bps=discount_bps,
        discount_per_litre_minor=unit.discount_per_litre_minor,
        discount_minor=discount,
        amount_minor=amount,
    )


async def price_breakdown(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID,
    unit: UnitPrice,
    litres: int,
    now: datetime,
    rules: OrderRules,
    account: CustomerAccount | None = None,
) -> s.PriceBreakdown:
    """With `account` (row-locked by the caller) the day's tier is also stored on it; see `tier_of_the_day`."""
    tier = await tier_of_the_day(session, customer_id, now=now, rules=rules, account=account)
    return breakdown(unit=unit, litres=litres, tier=tier, table=await tier_table(session))


class Priced(Protocol):
    """An order or a pickup booking with its price fixed."""

    @property
    def quantity_litres(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def price_per_litre_minor(self) -> int: ...
    @property
    def gross_minor(self) -> int: ...
    @property
    def tier(self) -> int: ...
    @property
    def discount_bps(self) -> int: ...
    @property
    def discount_per_litre_minor(self) -> int: ...
    @property
    def discount_minor(self) -> int: ...
    @property
    def amount_minor(self) -> int: ...


def fixed_breakdown(priced: Priced, *, density_kg_m3: float | None) -> s.PriceBreakdown:
    """The breakdown of a price fixed earlier, as stored; per tonne and in kilograms with the product's density."""
    litres = priced.quantity_litres
    return s.PriceBreakdown(
        currency=priced.currency,
        price_per_litre_minor=priced.price_per_litre_minor,
        price_per_tonne_minor=None if density_kg_m3 is None else per_tonne(priced.price_per_litre_minor, density_kg_m3),
        quantity_litres=litres,
        quantity_kg=None if density_kg_m3 is None else litres_to_kg(litres, density_kg_m3),
        gross_minor=priced.gross_minor,
        tier=priced.tier,
        discount_bps=priced.discount_bps,
        discount_per_litre_minor=priced.discount_per_litre_minor,
        discount_minor=priced.discount_minor,
        amount_minor=priced.amount_minor,
    )


@dataclass(frozen=True, slots=True)
class NetPrice:
    """What a litre (and a tonne) of a product costs one customer at a depot on a day after everything: the list
    or contract price, less the contract's discount per litre and the volume tier's percentage."""

    price_per_litre_minor: int
    price_per_tonne_minor: int
    currency: str
    tier: int


# (customer, depot, product)
PriceKey = tuple[uuid.UUID, uuid.UUID, str]


async def net_prices(
    session: AsyncSession, *, wanted: Sequence[PriceKey], day: date, now: datetime
) -> dict[PriceKey, NetPrice]:
    """Many customers' own net prices at once (a handful of queries, whatever their number): the same rule as
    a quote (`unit_price`, today's tier, `amounts` of one litre). A key without a list price in force is left out."""
    if not wanted:
        return {}
    pairs = {(depot_id, code) for _, depot_id, code in wanted}
    codes = sorted({code for _, code in pairs})
    listed = await _list_prices(session, depots=sorted({d for d, _ in pairs}), codes=codes, day=day)
    rows = await session.execute(select(Product.code, Product.density_kg_m3).where(Product.code.in_(codes)))
    densities = {code: density for code, density in rows.all()}  # noqa: C416 - dict(Result) reads it as a mapping
    customers = sorted({customer_id for customer_id, _, _ in wanted})
    contracts = await _contracts(session, customers=customers, codes=codes, day=day)
    tiers = await tiers_of_the_day(session, customers, now=now)
    table = await tier_table(session)
    found: dict[PriceKey, NetPrice] = {}
    for key in dict.fromkeys(wanted):
        customer_id, depot_id, code = key
        price = listed.get((depot_id, code))
        if price is None:
            continue
        unit, discount = price.price_per_litre_minor, 0
        matching = [
            c for c in contracts.get(customer_id, ()) if c.applies(depot_id=depot_id, product_code=code, day=day)
        ]
        matching.sort(key=lambda c: c.depot_id is None)  # the depot's own first, as contract_on
        if matching and matching[0].price_per_litre_minor is not None:
            unit = matching[0].price_per_litre_minor
        if matching and matching[0].discount_per_litre_minor is not None:
            discount = matching[0].discount_per_litre_minor
        tier = tiers.get(customer_id, 0)
        _, _, net = amounts(
            price_per_litre_minor=unit,
            litres=1,
            discount_bps=table.discount_bps(tier),
            discount_per_litre_minor=discount,
        )
        found[key] = NetPrice(
            price_per_litre_minor=net,
            price_per_tonne_minor=per_tonne(net, densities[code]),
            currency=price.currency,
            tier=tier,
        )
    return found


async def _list_prices(
    session: AsyncSession, *, depots: list[uuid.UUID], codes: list[str], day: date
) -> dict[tuple[uuid.UUID, str], Price]:
    """The list price in force on `day` per (depot, product)."""
    latest = (
        select(Price.depot_id, Price.product_code, func.max(Price.valid_from).label("valid_from"))
        .where(Price.valid_from <= day, Price.depot_id.in_(depots), Price.product_code.in_(codes))
        .group_by(Price.depot_id, Price.product_code)
        .subquery()
    )
    rows = await session.scalars(
        select(Price).join(
            latest,
            (Price.depot_id == latest.c.depot_id)
            & (Price.product_code == latest.c.product_code)
            & (Price.valid_from == latest.c.valid_from),
        )
    )
    return {(p.depot_id, p.product_code): p for p in rows}


async def _contracts(
    session: AsyncSession, *, customers: list[uuid.UUID], codes: list[str], day: date
) -> dict[uuid.UUID, list[ContractInfo]]:
    found: dict[uuid.UUID, list[ContractInfo]] = {}
    for start in range(0, len(customers), 500):
        rows = await session.scalars(
            select(ContractPrice).where(
                ContractPrice.customer_id.in_(customers[start : start + 500]),
                ContractPrice.product_code.in_(codes),
                ContractPrice.valid_from <= day,
                or_(ContractPrice.valid_to.is_(None), ContractPrice.valid_to >= day),
            )
        )
        for r in rows:
            found.setdefault(r.customer_id, []).append(
                ContractInfo(
                    product_code=r.product_code,
                    depot_id=r.depot_id,
                    valid_from=r.valid_from,
                    valid_to=r.valid_to,
                    price_per_litre_minor=r.price_per_litre_minor,
                    discount_per_litre_minor=r.discount_per_litre_minor,
                )
            )
    return found
