"""A generated fuel day for tomorrow, seeded through the domain services: what `POST /plans` will plan.

The shape follows benchmarks/routing/fuelday.py (its grade mix, window kinds, lognormal quantities and site
clusters), but the day is written into the database the way the app's users would create it, so the worker's
builder reads it like any other day:

* **3 depots** around Shanghai (Pudong, Jiading, Jinshan), open 05:00-22:00 every day, all 4 diesel grades,
  prices for today and the next days (per depot and grade, in fen).
* **Customers and sites**: `orders / 4` customer accounts with about 4 sites each; every site lies around one depot
  (a Gaussian scatter of about 10 km, 30 % in industrial parks), has receiving hours (06:00-20:00, 07:00-18:00 or a
  port's 05:00-22:00), a tank at least as large as what it orders, and 10 % are on small roads (vehicle class 2 at
  most).
* **Orders**: one confirmed order per site (`orders.delivery.place_order`, the API's own path, so the serving depot,
  price, tier and credit are decided by the app); grade by fuelday's weights; windows like fuelday's (40 % the whole
  receiving hours, 30 % 4 h, 25 % 2 h, 5 % the first 3 h); lognormal quantities around 3,000 L with 2 % large ones
  (25,000-40,000 L, more than one trip of some tankers); 5 % ask for a driver of their depot.
* **Fleet**: `tankers` tankers with 4-6 compartments (five types from 20,000 to 36,000 L, vehicle class 2 or 3),
  home depots in turn, early (06:00-18:00) or late (08:00-20:00) shifts; as many drivers, each with a
  hazardous-goods licence valid for another year and the shift of the tanker they are paired with for the day
  (`dispatch.fleet.pair`).
* **A dispatcher** user, whose bearer token is minted with the app's `issue_token` (nobody logs in).
"""

from __future__ import annotations

import math
import random
import time as time_
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import issue_token, make_jwt_auth
from api.demo import BASE_PRICES, PRODUCTS
from api.migrate import upgrade
from benchmarks.api.world import create_customer
from benchmarks.routing.fuelday import GRADES
from core.auth import Principal, Role, hash_password
from core.db import create_engine, session_factory, unit_of_work
from core.hours import HoursEntry, zone
from core.settings import Settings, async_database_url
from dispatch import fleet
from dispatch import schemas as ds
from orders import accounts, catalogue
from orders import schemas as s
from orders.delivery import place_order
from orders.rules import OrderStatus

EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]
TZ = "Asia/Shanghai"
PRICE_DAYS = 3
# code, name, lat, lon: three real fuel depots' neighbourhoods around Shanghai (30-60 km apart).
DEPOTS = (
    ("bd-pudong", "Pudong Depot 浦东油库", 31.3507, 121.5856),
    ("bd-jiading", "Jiading Depot 嘉定油库", 31.3333, 121.2611),
    ("bd-jinshan", "Jinshan Depot 金山油库", 30.7420, 121.3410),
)
# fuelday's grades ("0#", "-10#", ...) are the demo catalogue's products, in the same order.
GRADE_MIX = tuple((product.code, weight) for product, (_, weight) in zip(PRODUCTS, GRADES, strict=True))
# compartments (litres), vehicle class, cost per km (fen), fixed cost per day (fen)
TANKER_TYPES = (
    ((10_000, 10_000, 8_000, 8_000), 3, 650, 30_000),
    ((8_000, 8_000, 8_000, 6_000, 6_000), 3, 640, 29_000),
    ((7_000, 7_000, 6_000, 6_000, 5_000, 5_000), 3, 630, 28_000),
    ((5_000, 5_000, 5_000, 5_000), 2, 450, 18_000),
    ((4_000, 4_000, 4_000, 4_000, 4_000), 2, 460, 19_000),
)
SHIFTS = (("06:00", "18:00"), ("08:00", "20:00"))
# (open, close) receiving hours and their share of the sites
RECEIVING = (((6, 20), 0.70), ((7, 18), 0.20), ((5, 22), 0.10))
TANKS = (10_000, 20_000, 30_000, 50_000, 60_000)
TTL = timedelta(hours=3)


@dataclass(frozen=True)
class Seeded:
    day: date
    token: str  # the dispatcher's bearer token
    orders: int  # confirmed orders for `day`
    held: int  # orders placed but not confirmed (credit): not planned
    litres: int
    sites: int
    customers: int
    tankers: int
    compartments: str  # e.g. "4-6"
    fleet_litres: int
    seconds: float


def _at(lat0: float, lon0: float, east_km: float, north_km: float) -> tuple[float, float]:
    lat = lat0 + north_km / 111.195
    lon = lon0 + east_km / (111.195 * math.cos(math.radians(lat0)))
    return round(lat, 5), round(lon, 5)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _window(rng: random.Random, open_h: int, close_h: int) -> tuple[str, str]:
    """fuelday's window kinds inside the site's receiving hours."""
    kind, lo, hi = rng.random(), open_h * 60, close_h * 60
    if kind < 0.40:
        return _hhmm(lo), _hhmm(hi)
    if kind < 0.95:
        length = 240 if kind < 0.70 else 120
        start = rng.randrange(lo, hi - length + 1, 15)
        return _hhmm(start), _hhmm(start + length)
    return _hhmm(lo), _hhmm(lo + 180)


def _litres(rng: random.Random) -> int:
    if rng.random() < 0.02:
        return rng.randrange(25_000, 40_001, 1_000)
    return int(min(20_000, max(1_000, rng.lognormvariate(8.0, 0.5))) // 500 * 500)


async def crewed_tanker(
    session: AsyncSession,
    *,
    kind: int,
    shift: tuple[str, str],
    depot_id: uuid.UUID,
    day: date,
    plate: str,
    driver_name: str,
    phone: str,
) -> tuple[uuid.UUID, tuple[int, ...]]:
    """A tanker of TANKER_TYPES[kind] on `shift`, its driver (licence valid a year), paired for `day`:
    (the driver's id, the tanker's compartments)."""
    compartments, vclass, per_km, fixed = TANKER_TYPES[kind]
    start, end = shift
    tanker = await fleet.create_tanker(
        session,
        data=ds.TankerIn(
            plate=plate,
            depot_id=depot_id,
            compartments_litres=list(compartments),
            vehicle_class=vclass,
            cost_per_km_minor=per_km,
            fixed_cost_minor=fixed,
            shift_start=start,
            shift_end=end,
        ),
    )
    driver = await fleet.create_driver(
        session,
        data=ds.DriverIn(
            name=driver_name,
            phone=phone,
            hazmat_licence_expires=day + timedelta(days=365),
            shift_start=start,
            shift_end=end,
            home_depot_id=depot_id,
        ),
    )
    await fleet.pair(session, data=ds.PairingIn(date=day, tanker_id=tanker.id, driver_id=driver.id))
    return driver.id, compartments


def scattered(rng: random.Random, lat0: float, lon0: float, park: tuple[float, float] | None) -> tuple[float, float]:
    """A site's place around (lat0, lon0): in the industrial park (radius km, angle) when given, else a Gaussian
    scatter of about 10 km; never more than 35 km out."""
    if park is not None:
        radius, angle = park
        east, north = radius * math.cos(angle) + rng.gauss(0, 2.5), radius * math.sin(angle) + rng.gauss(0, 2.5)
    else:
        east, north = rng.gauss(0, 10), rng.gauss(0, 10)
    scale = min(1.0, 35 / max(1e-9, math.hypot(east, north)))
    return _at(lat0, lon0, east * scale, north * scale)


def receiving_hours(rng: random.Random) -> tuple[int, int]:
    """A site's (open, close) hour by RECEIVING's shares."""
    return rng.choices([r for r, _ in RECEIVING], [w for _, w in RECEIVING])[0]


async def create_bench_site(
    session: AsyncSession,
    rng: random.Random,
    *,
    name: str,
    address: str,
    place: tuple[float, float],
    hours: tuple[int, int],
    tank: int,
    actor: Principal,
    now: datetime,
) -> uuid.UUID:
    """The site, 10 % of them on small roads (vehicle class 2 at most); its id."""
    (lat, lon), (open_h, close_h) = place, hours
    site = await accounts.create_site(
        session,
        data=s.SiteIn(
            name=name,
            address=address,
            lat=lat,
            lon=lon,
            tank_capacity_litres=tank,
            receiving_hours=[HoursEntry(days=EVERY_DAY, open=_hhmm(open_h * 60), close=_hhmm(close_h * 60))],
            max_vehicle_class=2 if rng.random() < 0.10 else None,
        ),
        actor=actor,
        customer_id=None,
        default_tz=TZ,
        now=now,
    )
    return site.id


async def _token(session: AsyncSession, settings: Settings, user_id: uuid.UUID, username: str, role: Role) -> str:
    user = SimpleNamespace(id=user_id, username=username, role=str(role), customer_id=None)
    return await issue_token(session, make_jwt_auth(settings), user, TTL)


async def seed(url: str, settings: Settings, *, now: datetime, orders: int, tankers: int, seed: int = 1) -> Seeded:
    """Migrate `url` (an empty database) and write the day; see the module's docstring."""
    started = time_.monotonic()
    upgrade(url)
    rng = random.Random(seed)
    tomorrow = now.astimezone(zone(TZ)).date() + timedelta(days=1)
    password_hash = hash_password(uuid.uuid4().hex)  # one hash for all: nobody logs in
    engine = create_engine(async_database_url(url), null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            admin = await accounts.create_user(
                session, username="bench-admin", password_hash=password_hash, role=Role.ADMIN, now=now
            )
            staff = Principal(id=admin.id, username=admin.username, role=Role.ADMIN)
            dispatcher = await accounts.create_user(
                session, username="bench-dispatcher", password_hash=password_hash, role=Role.DISPATCHER, now=now
            )
            for product in PRODUCTS:
                await catalogue.create_product(session, data=product)
            depots = [
                await catalogue.create_depot(
                    session,
                    data=s.DepotIn(
                        code=code,
                        name=name,
                        lat=lat,
                        lon=lon,
                        opening_hours=[HoursEntry(days=EVERY_DAY, open="05:00", close="22:00")],
                        loading_bays=6,
                        products=[p.code for p in PRODUCTS],
                    ),
                )
                for code, name, lat, lon in DEPOTS
            ]
            await catalogue.set_prices(
                session,
                prices=[
                    s.PriceIn(
                        depot_id=depot.id,
                        product_code=code,
                        valid_from=tomorrow + timedelta(days=d - 1),
                        price_per_litre_minor=base + 3 * k + 5 * (d > 0),
                    )
                    for k, depot in enumerate(depots)
                    for code, base in BASE_PRICES.items()
                    for d in range(PRICE_DAYS)
                ],
                currency=settings.rules.currency,
                actor=None,
                now=now,
            )

            # The fleet: tankers in turn over the depots and types, each paired with its driver for the day.
            drivers_at: dict[int, list[uuid.UUID]] = {k: [] for k in range(len(depots))}
            fleet_litres, sizes = 0, set()
            for i in range(tankers):
                home = i % len(depots)
                driver_id, compartments = await crewed_tanker(
                    session,
                    kind=(i // len(depots)) % len(TANKER_TYPES),
                    shift=SHIFTS[i % 2],  # per depot: early and late shifts alternate
                    depot_id=depots[home].id,
                    day=tomorrow,
                    plate=f"沪D{i + 1:05d}",
                    driver_name=f"Bench Driver {i + 1:03d}",
                    phone=f"+86139{i + 1:08d}",
                )
                drivers_at[home].append(driver_id)
                fleet_litres += sum(compartments)
                sizes.add(len(compartments))

            # Industrial parks: two per depot, 8-20 km out.
            parks = [(k, rng.uniform(8, 20), rng.uniform(0, 2 * math.pi)) for k in range(len(depots)) for _ in range(2)]
            customers = max(1, orders // 4)
            accounts_made = []
            for n in range(customers):
                account, user = await create_customer(
                    session,
                    name=f"调度压测 Dispatch Bench {n:04d}",
                    username=f"bench-d{n:04d}",
                    password_hash=password_hash,
                    settings=settings,
                    staff=staff,
                    now=now,
                )
                accounts_made.append(
                    Principal(id=user.id, username=user.username, role=Role.CUSTOMER, customer_id=account.id)
                )

            confirmed = held = litres_total = 0
            for j in range(orders):
                principal = accounts_made[j % customers]
                k = rng.randrange(len(depots))
                park = None
                if rng.random() < 0.3:
                    k, radius, angle = rng.choice(parks)
                    park = (radius, angle)
                place = scattered(rng, depots[k].lat, depots[k].lon, park)
                (open_h, close_h) = receiving_hours(rng)
                litres = _litres(rng)
                tank = next(t for t in TANKS if t >= litres)
                if rng.random() < 0.3 and tank < TANKS[-1]:
                    tank = TANKS[TANKS.index(tank) + 1]
                site_id = await create_bench_site(
                    session,
                    rng,
                    name=f"Site {j:04d}",
                    address="Shanghai",
                    place=place,
                    hours=(open_h, close_h),
                    tank=tank,
                    actor=principal,
                    now=now,
                )
                start, end = _window(rng, open_h, close_h)
                product = rng.choices([g for g, _ in GRADE_MIX], [w for _, w in GRADE_MIX])[0]
                preferred = rng.choice(drivers_at[k]) if drivers_at[k] and rng.random() < 0.05 else None
                order, _ = await place_order(
                    session,
                    data=s.OrderIn(
                        site_id=site_id,
                        product_code=product,
                        delivery_date=tomorrow,
                        window_start=start,
                        window_end=end,
                        quantity_litres=litres,
                        preferred_driver_id=preferred,
                    ),
                    actor=principal,
                    idempotency_key=None,
                    now=now,
                    rules=settings.rules,
                )
                if order.status == OrderStatus.CONFIRMED:
                    confirmed += 1
                    litres_total += order.quantity_litres
                else:
                    held += 1
            token = await _token(session, settings, dispatcher.id, dispatcher.username, Role.DISPATCHER)
    finally:
        await engine.dispose()
    return Seeded(
        day=tomorrow,
        token=token,
        orders=confirmed,
        held=held,
        litres=litres_total,
        sites=orders,
        customers=customers,
        tankers=tankers,
        compartments=f"{min(sizes)}-{max(sizes)}" if sizes else "-",
        fleet_litres=fleet_litres,
        seconds=time_.monotonic() - started,
    )
