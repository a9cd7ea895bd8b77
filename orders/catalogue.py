"""Products, depots and list prices (each holds from its `valid_from` until the next)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Protocol

import msgspec
from geopy.distance import geodesic
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record_audit
from core.auth import Principal
from core.errors import Conflict, InvalidInput, NotFound
from core.events import record_event
from core.hours import HoursEntry, validate_hours, zone
from core.ids import new_id
from core.units import per_tonne
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


async def densities(session: AsyncSession, codes: Iterable[str]) -> dict[str, float]:
    """The products' densities at the standard temperature, from the per-process cache."""
    return {code: (await product_info(session, code)).density_kg_m3 for code in set(codes)}


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


def _valid_from(item: s.PriceIn, index: int) -> date:
    """`valid_from`, or `date` as older clients call it; exactly one."""
    if (item.valid_from is None) == (item.date is None):
        raise InvalidInput(
            f"item {index}: give valid_from (or its former name, date), once",
            code="valid_from_required",
            field=f"[{index}].valid_from",
        )
    day = item.valid_from or item.date
    assert day is not None
    return day


async def _in_force(session: AsyncSession, *, depot_id: uuid.UUID, product_code: str, day: date) -> Price | None:
    """The list price in force on `day`: the latest that starts on or before it."""
    stmt = (
        select(Price)
        .where(Price.depot_id == depot_id, Price.product_code == product_code, Price.valid_from <= day)
        .order_by(Price.valid_from.desc())
        .limit(1)
    )
    return await session.scalar(stmt)


def _audited(price: Price | None) -> dict[str, object] | None:
    if price is None:
        return None
    return {
        "depot_id": price.depot_id,
        "product_code": price.product_code,
        "valid_from": price.valid_from,
        "price_per_litre_minor": price.price_per_litre_minor,
        "currency": price.currency,
    }


async def set_prices(
    session: AsyncSession, *, prices: list[s.PriceIn], currency: str, actor: Principal | None, now: datetime
) -> list[Price]:
    """Publish prices, each holding from its `valid_from` until a later one; all or nothing. The same depot,
    product and day twice in one list: the last wins. Each price that changes is audited (subject: the depot) with
    the price that was in force on its first day before (`before`: none when the product had no price there yet)."""
    if not prices:
        raise InvalidInput("no prices given", code="empty_request")
    if len(prices) > 1000:
        raise InvalidInput("at most 1000 prices per request", code="too_many_items")
    depots = {d.id: d for d in await list_depots(session)}
    wanted: dict[tuple[uuid.UUID, str, date], int] = {}
    for index, item in enumerate(prices):
        day = _valid_from(item, index)
        depot = depots.get(item.depot_id)
        if depot is None:
            raise InvalidInput(f"item {index}: unknown depot", code="unknown_depot", field=f"[{index}].depot_id")
        if item.product_code not in {p.code for p in depot.products}:
            raise InvalidInput(
                f"item {index}: depot {depot.name} does not stock '{item.product_code}'",
                code="product_not_stocked",
                field=f"[{index}].product_code",
            )
        wanted[(item.depot_id, item.product_code, day)] = item.price_per_litre_minor
    # What was in force before this request, read before any of its prices is written.
    befores = {
        key: _audited(await _in_force(session, depot_id=key[0], product_code=key[1], day=key[2])) for key in wanted
    }
    cache.invalidate(session, "prices")
    stored, changed = [], []
    for (depot_id, product_code, day), price_per_litre_minor in wanted.items():
        price = await session.scalar(
            select(Price).where(Price.depot_id == depot_id, Price.product_code == product_code, Price.valid_from == day)
        )
        if price is None:
            price = Price(depot_id=depot_id, product_code=product_code, valid_from=day)
            session.add(price)
        price.price_per_litre_minor, price.currency = price_per_litre_minor, currency
        before, after = befores[(depot_id, product_code, day)], _audited(price)
        if before != after:
            record_audit(
                session,
                actor=actor,
                subject_type="price",
                subject_id=depot_id,  # GET /audit?subject_type=price&subject_id=<depot>: the depot's price changes
                action="price_set",
                at=now,
                before=before,
                after=after,
            )
        if before != after:
            changed.append(price)
        stored.append(price)
    await session.flush()
    if changed:  # the day's price reaches the customers (notify reads the event log)
        record_event(
            session,
            subject_type="price",
            subject_id=new_id(),  # this publication
            type="prices_published",
            at=now,
            actor=actor,
            data={
                "currency": currency,
                "prices": [
                    {
                        "depot_id": str(p.depot_id),
                        "product_code": p.product_code,
                        "valid_from": p.valid_from.isoformat(),
                        "price_per_litre_minor": p.price_per_litre_minor,
                    }
                    for p in changed
                ],
            },
        )
    return stored


async def list_prices(session: AsyncSession, *, day: date, depot_id: uuid.UUID | None) -> Sequence[tuple[Price, float]]:
    """The list price in force on `day` of every product at every depot (or one depot), with the density."""
    latest = (
        select(Price.depot_id, Price.product_code, func.max(Price.valid_from).label("valid_from"))
        .where(Price.valid_from <= day)
        .group_by(Price.depot_id, Price.product_code)
    )
    if depot_id is not None:
        latest = latest.where(Price.depot_id == depot_id)
    in_force = latest.subquery()
    stmt = (
        select(Price, Product.density_kg_m3)
        .join(
            in_force,
            (Price.depot_id == in_force.c.depot_id)
            & (Price.product_code == in_force.c.product_code)
            & (Price.valid_from == in_force.c.valid_from),
        )
        .join(Product, Product.code == Price.product_code)
        .order_by(Price.depot_id, Price.product_code)
    )
    return [(price, density) for price, density in (await session.execute(stmt)).all()]


async def price_history(
    session: AsyncSession, *, depot_id: uuid.UUID | None, product_code: str | None, limit: int, offset: int
) -> tuple[Sequence[tuple[Price, float]], int]:
    """Every list price published, newest first (per depot and product)."""
    conditions = []
    if depot_id is not None:
        conditions.append(Price.depot_id == depot_id)
    if product_code is not None:
        conditions.append(Price.product_code == product_code)
    total = await session.scalar(select(func.count()).select_from(Price).where(*conditions)) or 0
    stmt = (
        select(Price, Product.density_kg_m3)
        .join(Product, Product.code == Price.product_code)
        .where(*conditions)
        .order_by(Price.valid_from.desc(), Price.depot_id, Price.product_code)
        .limit(limit)
        .offset(offset)
    )
    return [(price, density) for price, density in (await session.execute(stmt)).all()], total


def price_out(price: Price, density_kg_m3: float) -> s.PriceOut:
    return s.PriceOut(
        depot_id=price.depot_id,
        product_code=price.product_code,
        valid_from=price.valid_from,
        price_per_litre_minor=price.price_per_litre_minor,
        price_per_tonne_minor=per_tonne(price.price_per_litre_minor, density_kg_m3),
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
    """The list price of the product at the depot in force on the day: the latest published from that day or
    before (cached per process for a few seconds: orders/cache.py)."""
    prices = cache.for_session(session).prices
    key = (depot.id, product_code, day)
    found, info = prices.get(key)
    if not found:
        price = await _in_force(session, depot_id=depot.id, product_code=product_code, day=day)
        info = (
            None
            if price is None
            else PriceInfo(
                depot_id=price.depot_id,
                product_code=price.product_code,
                valid_from=price.valid_from,
                price_per_litre_minor=price.price_per_litre_minor,
                currency=price.currency,
            )
        )
        prices.put(key, info)
    if info is None:
        raise InvalidInput(
            f"'{product_code}' is not on sale at {depot.name} on {day.isoformat()} (no price from that day or before)",
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
