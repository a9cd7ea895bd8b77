"""The promise benchmark's world: one depot (Pudong), its fleet and the customers' sites, seeded through the domain
services like benchmarks/dispatch/day.py (same tanker types, shifts, receiving hours, site scatter, grade mix and
quantities), but without orders: the benchmark places them one by one over HTTP.

* the depot opens 05:00-22:00 with 6 loading bays, all 4 grades, prices for tomorrow and the next days;
* `tankers` tankers of benchmarks/dispatch/day.py's five types (4-6 compartments, 20,000-36,000 L), early or late
  shifts, each with a licensed driver paired for the day;
* one site per order, `orders / 4` customers; sites scattered around the depot (30 % in two industrial parks),
  receiving hours 06:00-20:00, 07:00-18:00 or 05:00-22:00, 10 % on small roads (class 2 at most);
* each order to come: its site, grade, litres and the window its customer would like (fuelday's kinds).
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import SimpleNamespace

from api.auth import issue_token, make_jwt_auth
from api.demo import BASE_PRICES, PRODUCTS
from api.migrate import upgrade
from benchmarks.api.world import create_customer
from benchmarks.dispatch.day import (
    DEPOTS,
    EVERY_DAY,
    GRADE_MIX,
    SHIFTS,
    TANKER_TYPES,
    TANKS,
    TZ,
    _litres,
    _window,
    create_bench_site,
    crewed_tanker,
    receiving_hours,
    scattered,
)
from core.auth import Principal, Role, hash_password
from core.db import create_engine, session_factory, unit_of_work
from core.hours import HoursEntry, zone
from core.settings import Settings, async_database_url
from orders import accounts, catalogue
from orders import schemas as s

TTL = timedelta(hours=8)


@dataclass(frozen=True)
class Ask:
    """An order to come: who asks, for which site, what, and the window they would like (local HH:MM)."""

    token: str
    site_id: str
    product_code: str
    litres: int
    wanted: tuple[str, str]


@dataclass(frozen=True)
class World:
    day: date
    depot_id: uuid.UUID
    asks: list[Ask]
    tankers: int
    fleet_litres: int


async def seed(url: str, settings: Settings, *, now: datetime, orders: int, tankers: int, seed: int = 1) -> World:
    upgrade(url)
    rng = random.Random(seed)
    tomorrow = now.astimezone(zone(TZ)).date() + timedelta(days=1)
    password_hash = hash_password(uuid.uuid4().hex)
    jwt_auth = make_jwt_auth(settings)
    engine = create_engine(async_database_url(url), null_pool=True)
    asks: list[Ask] = []
    fleet_litres = 0
    try:
        async with unit_of_work(session_factory(engine)) as session:
            admin = await accounts.create_user(
                session, username="bench-admin", password_hash=password_hash, role=Role.ADMIN, now=now
            )
            staff = Principal(id=admin.id, username=admin.username, role=Role.ADMIN)
            for product in PRODUCTS:
                await catalogue.create_product(session, data=product)
            code, name, lat0, lon0 = DEPOTS[0]
            depot = await catalogue.create_depot(
                session,
                data=s.DepotIn(
                    code=code,
                    name=name,
                    lat=lat0,
                    lon=lon0,
                    opening_hours=[HoursEntry(days=EVERY_DAY, open="05:00", close="22:00")],
                    loading_bays=6,
                    products=[p.code for p in PRODUCTS],
                ),
            )
            await catalogue.set_prices(
                session,
                prices=[
                    s.PriceIn(
                        depot_id=depot.id,
                        product_code=product,
                        valid_from=tomorrow + timedelta(days=d - 1),
                        price_per_litre_minor=base + 5 * (d > 0),
                    )
                    for product, base in BASE_PRICES.items()
                    for d in range(3)
                ],
                currency=settings.rules.currency,
                actor=None,
                now=now,
            )
            for i in range(tankers):
                _, compartments = await crewed_tanker(
                    session,
                    kind=i % len(TANKER_TYPES),
                    shift=SHIFTS[i % 2],
                    depot_id=depot.id,
                    day=tomorrow,
                    plate=f"沪P{i + 1:05d}",
                    driver_name=f"Promise Driver {i + 1:03d}",
                    phone=f"+86138{i + 1:08d}",
                )
                fleet_litres += sum(compartments)

            parks = [(rng.uniform(8, 20), rng.uniform(0, 2 * math.pi)) for _ in range(2)]
            customers = max(1, orders // 4)
            tokens: list[tuple[Principal, str]] = []
            for n in range(customers):
                account, user = await create_customer(
                    session,
                    name=f"承诺压测 Promise Bench {n:04d}",
                    username=f"bench-p{n:04d}",
                    password_hash=password_hash,
                    settings=settings,
                    staff=staff,
                    now=now,
                )
                principal = Principal(id=user.id, username=user.username, role=Role.CUSTOMER, customer_id=account.id)
                who = SimpleNamespace(
                    id=user.id, username=user.username, role=str(Role.CUSTOMER), customer_id=account.id
                )
                tokens.append((principal, await issue_token(session, jwt_auth, who, TTL)))
            for j in range(orders):
                principal, token = tokens[j % customers]
                park = rng.choice(parks) if rng.random() < 0.3 else None
                place = scattered(rng, lat0, lon0, park)
                (open_h, close_h) = receiving_hours(rng)
                litres = _litres(rng)
                tank = next(t for t in TANKS if t >= litres)
                site_id = await create_bench_site(
                    session,
                    rng,
                    name=f"Site {j:04d}",
                    address="Shanghai Pudong",
                    place=place,
                    hours=(open_h, close_h),
                    tank=tank,
                    actor=principal,
                    now=now,
                )
                grade = rng.choices([g for g, _ in GRADE_MIX], [w for _, w in GRADE_MIX])[0]
                asks.append(Ask(token, str(site_id), grade, litres, _window(rng, open_h, close_h)))
    finally:
        await engine.dispose()
    return World(day=tomorrow, depot_id=depot.id, asks=asks, tankers=tankers, fleet_litres=fleet_litres)
