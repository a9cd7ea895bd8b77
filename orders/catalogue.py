"""Products, depots and daily prices."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Protocol

import msgspec
from geopy.distance import geodesic
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, InvalidInput, NotFound
from core.hours import HoursEntry, validate_hours, zone
from orders import cache
from orders import schemas as s
from orders.cache import DepotInfo, PriceInfo, ProductInfo
from orders.models import Depot, Price, Product


class Named(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...


def product_out(product: Product) -> s.ProductOut:
    return s.ProductOut(
        code=product.code, name=product.name, name_zh=product.name_zh, density_kg_m3=product.density_kg_m3
    )


def depot_out(depot: Depot) -> s.DepotOut:
    return s.DepotOut(
        id=depot.id,
        code=depot.code,
        name=depot.name,
        address=depot.address,
        lat=depot.lat,
        lon=depot.lon,
        timezone=depot.timezone,
        opening_hours=msgspec.convert(depot.opening_hours, list[HoursEntry]),
        loading_bays=depot.loading_bays,
        products=sorted(p.code for p in depot.products),
        load_fixed_min=depot.load_fixed_min,
        pump_rate_l_per_min=depot.pump_rate_l_per_min,
    )


async def list_products(session: AsyncSession) -> Sequence[Product]:
    return (await session.scalars(select(Product).order_by(Product.code))).all()


async def get_product(session: AsyncSession, code: str, *, field: str = "product_code") -> Product:
    product = await session.get(Product, code)
    if product is None:
        raise InvalidInput(f"unknown product '{code}'", code="unknown_product", field=field)
    return product


async def product_info(session: AsyncSession, code: str, *, field: str = "product_code") -> ProductInfo:
    """Like `get_product`, from the per-process cache (see orders/cache.py)."""
    products = cache.for_session(session).products
    found, info = products.get(code)
    if not found:
        product = await session.get(Product, code)
        info = None if product is None else ProductInfo(code=product.code, density_kg_m3=product.density_kg_m3)
        products.put(code, info)
    if info is None:
        raise InvalidInput(f"unknown product '{code}'", code="unknown_product", field=field)
    assert isinstance(info, ProductInfo)
    return info


async def create_product(session: AsyncSession, *, data: s.ProductIn) -> Product:
    if await session.get(Product, data.code) is not None:
        raise Conflict(f"product '{data.code}' exists already", code="product_exists")
    product = Product(code=data.code, name=data.name, name_zh=data.name_zh, density_kg_m3=data.density_kg_m3)
    cache.invalidate(session, "products")
    session.add(product)
    await session.flush()
    return product


async def list_depots(session: AsyncSession) -> Sequence[Depot]:
    return (await session.scalars(select(Depot).order_by(Depot.code))).all()


async def get_depot(session: AsyncSession, depot_id: uuid.UUID, *, lock: bool = False) -> Depot:
    stmt = select(Depot).where(Depot.id == depot_id)
    if lock:
        stmt = stmt.with_for_update()
    depot = (await session.execute(stmt)).scalar_one_or_none()
    if depot is None:
        raise NotFound("no such depot", code="depot_not_found")
    return depot


async def create_depot(session: AsyncSession, *, data: s.DepotIn) -> Depot:
    zone(data.timezone)
    validate_hours(data.opening_hours, field="opening_hours")
    if await session.scalar(select(Depot.id).where(Depot.code == data.code)) is not None:
        raise Conflict(f"depot '{data.code}' exists already", code="depot_exists")
    products = [await get_product(session, code, field="products") for code in dict.fromkeys(data.products)]
    depot = Depot(
        code=data.code,
        name=data.name,
        address=data.address,
        lat=data.lat,
        lon=data.lon,
        timezone=data.timezone,
        opening_hours=msgspec.to_builtins(data.opening_hours),
        loading_bays=data.loading_bays,
        load_fixed_min=data.load_fixed_min,
        pump_rate_l_per_min=data.pump_rate_l_per_min,
        products=products,
    )
    cache.invalidate(session, "depots", "serving")
    session.add(depot)
    await session.flush()
    return depot


async def set_prices(session: AsyncSession, *, prices: list[s.PriceIn], currency: str) -> list[Price]:
    """Upsert the day's prices; all or nothing. The same depot, product and day twice in one list: the last wins."""
    if not prices:
        raise InvalidInput("no prices given", code="empty_request")
    if len(prices) > 1000:
        raise InvalidInput("at most 1000 prices per request", code="too_many_items")
    depots = {d.id: d for d in await list_depots(session)}
    cache.invalidate(session, "prices")
    stored: dict[tuple[uuid.UUID, str, date], Price] = {}
    for index, item in enumerate(prices):
        depot = depots.get(item.depot_id)
        if depot is None:
            raise InvalidInput(f"item {index}: unknown depot", code="unknown_depot", field=f"[{index}].depot_id")
        if item.product_code not in {p.code for p in depot.products}:
            raise InvalidInput(
                f"item {index}: depot {depot.name} does not stock '{item.product_code}'",
                code="product_not_stocked",
                field=f"[{index}].product_code",
            )
        key = (item.depot_id, item.product_code, item.date)
        existing = stored.get(key) or await session.scalar(
            select(Price).where(
                Price.depot_id == item.depot_id,
                Price.product_code == item.product_code,
                Price.date == item.date,
            )
        )
        if existing is None:
            existing = Price(depot_id=item.depot_id, product_code=item.product_code, date=item.date)
            session.add(existing)
        existing.price_per_litre_minor = item.price_per_litre_minor
        existing.currency = currency
        stored[key] = existing
    await session.flush()
    return list(stored.values())


async def list_prices(session: AsyncSession, *, day: date, depot_id: uuid.UUID | None) -> Sequence[Price]:
    stmt = select(Price).where(Price.date == day).order_by(Price.depot_id, Price.product_code)
    if depot_id is not None:
        stmt = stmt.where(Price.depot_id == depot_id)
    return (await session.scalars(stmt)).all()


def price_out(price: Price) -> s.PriceOut:
    return s.PriceOut(
        depot_id=price.depot_id,
        product_code=price.product_code,
        date=price.date,
        price_per_litre_minor=price.price_per_litre_minor,
        currency=price.currency,
    )


async def depot_infos(session: AsyncSession) -> tuple[DepotInfo, ...]:
    """Every depot with the products it stocks, from the per-process cache."""
    caches = cache.for_session(session)
    depots = caches.depots
    found, infos = depots.get(None)
    if not found:
        infos = tuple(
            DepotInfo(
                id=d.id, code=d.code, name=d.name, lat=d.lat, lon=d.lon, products=frozenset(p.code for p in d.products)
            )
            for d in await list_depots(session)
        )
        depots.put(None, infos)
        caches.depot_snapshot(infos)
    assert isinstance(infos, tuple)
    return infos


async def depot_info(session: AsyncSession, depot_id: uuid.UUID) -> DepotInfo:
    for depot in await depot_infos(session):
        if depot.id == depot_id:
            return depot
    raise NotFound("no such depot", code="depot_not_found")


async def price_on(session: AsyncSession, *, depot: Named, product_code: str, day: date) -> PriceInfo:
    """The day's price of the product at the depot (cached per process for a few seconds: orders/cache.py)."""
    prices = cache.for_session(session).prices
    key = (depot.id, product_code, day)
    found, info = prices.get(key)
    if not found:
        price = await session.scalar(
            select(Price).where(Price.depot_id == depot.id, Price.product_code == product_code, Price.date == day)
        )
        info = (
            None
            if price is None
            else PriceInfo(
                depot_id=price.depot_id,
                product_code=price.product_code,
                date=price.date,
                price_per_litre_minor=price.price_per_litre_minor,
                currency=price.currency,
            )
        )
        prices.put(key, info)
    if info is None:
        raise InvalidInput(
            f"'{product_code}' is not on sale at {depot.name} on {day.isoformat()} (no price set)",
            code="not_on_sale",
            field="delivery_date",
        )
    assert isinstance(info, PriceInfo)
    return info


async def serving_depot(session: AsyncSession, *, lat: float, lon: float, product_code: str) -> tuple[DepotInfo, float]:
    """The nearest depot (geodesic) that stocks the product, with the distance in km (cached per place)."""
    depots = await depot_infos(session)  # first: a changed list of depots clears the serving cache
    serving = cache.for_session(session).serving
    key = (lat, lon, product_code)
    found, choice = serving.get(key)
    if not found:
        candidates = [d for d in depots if product_code in d.products]
        choice = None
        if candidates:
            distances = [(geodesic((lat, lon), (d.lat, d.lon)).km, d.code, d) for d in candidates]
            km, _, depot = min(distances, key=lambda item: (item[0], item[1]))
            choice = (depot, round(km, 1))
        serving.put(key, choice)
    if choice is None:
        raise InvalidInput(f"no depot stocks '{product_code}'", code="no_depot", field="product_code")
    depot, km = choice
    assert isinstance(depot, DepotInfo) and isinstance(km, float)
    return depot, km
