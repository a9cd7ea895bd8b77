"""The tracking world on top of benchmarks/api/world.py: rack codes, drivers on the road, orders to read.

Everything is built through the domain services (accounts, catalogue, fleet, pickups, orders, rack codes, webhooks)
in one transaction, except the day's published plan: its trips and stops are written with the ORM, as a published
plan would leave them (running the planner is not what is measured here).

* **Rack codes**: `depots` bench depots far from the customers' sites (in Beijing, so no delivery order picks
  them), open around the clock with 100 loading bays, prices for today and the next days. Bookings go into
  5-minute slots starting in the next two hours (so every pickup code is valid now and stays valid for at least
  an hour: a code is valid from 120 min before its slot until 60 min after it), spread over the customers; each
  gets its pickup code with `tracking.rack.pickup_code` (which records the code's hash, as the API does).
* **Drivers on the road**: per driver a tanker at the Pudong depot, a user with the driver role, a Driver row,
  and a trip of today's published plan that is `en_route` with `stops` confirmed orders of different customers
  (placed with `place_order`, then marked en route on that tanker): a batch of positions recomputes their ETAs.
* **Orders to read**: `orders` more confirmed orders, one per customer (round robin).

Orders are placed in that transaction after the bookings have locked and written the customers' credit accounts:
the order's one statement joins it (orders/repository.py), where on a connection of its own it waited for those
locks for ever and seeding hung. Orders go on the road through orders.lifecycle (scheduled, loaded, en route), as
publishing and the rack would move them.
* **Webhooks** (optional): a share of the customers subscribe a local URL to all their events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from ipaddress import ip_network
from types import SimpleNamespace

import msgspec
import psycopg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import issue_token, make_jwt_auth
from benchmarks.api.world import Customer, seed
from core.auth import Principal, Role, hash_password
from core.db import create_engine, session_factory, unit_of_work
from core.hours import ALWAYS_OPEN, zone
from core.models import User
from core.settings import Settings, async_database_url
from dispatch import fleet
from dispatch import schemas as ds
from dispatch.models import Plan, PlanStop, PlanTrip
from notify.webhooks import schemas as ws
from notify.webhooks.crypto import cipher_for
from notify.webhooks.service import create_webhook
from orders import accounts, catalogue, lifecycle, operators, pickups
from orders import schemas as s
from orders.delivery import place_order
from orders.models import Order
from tracking import rack
from tracking.keystore import keyring_for

SLOT_MINUTES = 5
BAYS = 100  # the most a depot may have
BOOKED_LITRES = 5000
TTL = timedelta(hours=6)  # bearer tokens minted here
TRIP_DEPOT = "sh-pudong"


@dataclass(frozen=True)
class Account:
    """A seeded customer (benchmarks/api/world.py) with its user as a Principal."""

    principal: Principal
    token: str
    site_id: uuid.UUID
    body: bytes  # a valid POST /orders


@dataclass(frozen=True)
class Code:
    """A booked pickup and its code, as the truck shows it at the rack."""

    token: str
    booking_id: uuid.UUID
    depot_id: uuid.UUID
    plate: str
    customer_id: uuid.UUID


@dataclass(frozen=True)
class Seat:
    """A driver with a trip under way: what POST /driver/positions needs."""

    token: str
    driver_id: uuid.UUID
    tanker_id: uuid.UUID
    lat: float
    lon: float


@dataclass(frozen=True)
class Readable:
    """An order its customer may read (GET /orders/{id}, /orders/{id}/tracking)."""

    token: str
    order_id: uuid.UUID
    on_trip: bool


@dataclass
class World:
    accounts: list[Account]
    rack_token: str = ""
    codes: list[Code] = field(default_factory=list)
    seats: list[Seat] = field(default_factory=list)
    orders: list[Readable] = field(default_factory=list)
    webhooks: int = 0


async def _token(
    session: AsyncSession,
    settings: Settings,
    user_id: uuid.UUID,
    username: str,
    role: Role,
    customer_id: uuid.UUID | None,
) -> str:
    user = SimpleNamespace(id=user_id, username=username, role=str(role), customer_id=customer_id)
    return await issue_token(session, make_jwt_auth(settings), user, TTL)


async def build(
    url: str,
    settings: Settings,
    *,
    now: datetime,
    customers: int,
    bookings: int = 0,
    depots: int = 1,
    drivers: int = 0,
    stops: int = 3,
    orders: int = 0,
    webhook_url: str | None = None,
    webhook_share: float = 0.0,
) -> World:
    """Migrate and seed `url` (an empty database): benchmarks/api/world.py's customers, then the rest."""
    seeded = await seed(url, settings, customers=customers, now=now)
    world = World(accounts=_accounts(url, seeded))
    engine = create_engine(async_database_url(url), null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            staff = await _staff(session, settings, world, now=now)
            if bookings:
                world.codes = await _codes(session, settings, world, staff, now=now, count=bookings, depots=depots)
            if drivers:
                await _on_the_road(session, settings, world, now=now, drivers=drivers, stops=stops)
            if orders:
                world.orders += await _orders(session, settings, world.accounts, now=now, count=orders, offset=0)
            if webhook_url and webhook_share > 0:
                world.webhooks = await _webhooks(session, settings, world.accounts, webhook_url, webhook_share, now=now)
    finally:
        await engine.dispose()
    return world


def _accounts(url: str, seeded: list[Customer]) -> list[Account]:
    """The seeded customers' users and sites, in seeding order (usernames bench-0000, bench-0001, …)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT u.id, u.username, u.customer_id, s.id FROM users u JOIN sites s ON s.customer_id = u.customer_id "
            "WHERE u.role = 'customer' AND u.username LIKE 'bench-%' ORDER BY u.username"
        ).fetchall()
    assert len(rows) == len(seeded), (len(rows), len(seeded))
    return [
        Account(
            principal=Principal(id=user_id, username=username, role=Role.CUSTOMER, customer_id=customer_id),
            token=customer.token,
            site_id=site_id,
            body=customer.body,
        )
        for (user_id, username, customer_id, site_id), customer in zip(rows, seeded, strict=True)
    ]


async def _staff(session: AsyncSession, settings: Settings, world: World, *, now: datetime) -> Principal:
    """A rack operator (its token goes into the world) and the admin created by api/world.py."""
    password_hash = hash_password(uuid.uuid4().hex)
    user = await accounts.create_user(
        session, username="bench-rack", password_hash=password_hash, role=Role.RACK_OPERATOR, now=now
    )
    world.rack_token = await _token(session, settings, user.id, user.username, Role.RACK_OPERATOR, None)
    admin = await accounts.create_user(
        session, username="bench-dispatch", password_hash=password_hash, role=Role.ADMIN, now=now
    )
    return Principal(id=admin.id, username=admin.username, role=Role.ADMIN)


async def _codes(
    session: AsyncSession, settings: Settings, world: World, staff: Principal, *, now: datetime, count: int, depots: int
) -> list[Code]:
    tz = zone("Asia/Shanghai")
    today = now.astimezone(tz).date()
    made = [
        await catalogue.create_depot(
            session,
            data=s.DepotIn(
                code=f"bench-rack-{n}",
                name=f"Bench rack depot {n}",
                lat=39.9 + 0.01 * n,
                lon=116.4,
                opening_hours=list(ALWAYS_OPEN),
                loading_bays=BAYS,
                products=["diesel-0"],
            ),
        )
        for n in range(depots)
    ]
    await catalogue.set_prices(
        session,
        prices=[
            s.PriceIn(
                depot_id=d.id, product_code="diesel-0", valid_from=today + timedelta(days=k), price_per_litre_minor=790
            )
            for d in made
            for k in range(3)
        ],
        currency=settings.rules.currency,
        actor=None,
        now=now,
    )
    # An operator acts only at its own depots: the bench's rack operator works at every bench depot.
    rack_user = await session.scalar(select(User.id).where(User.username == "bench-rack"))
    assert rack_user is not None
    await operators.set_depots(session, user_id=rack_user, depots=[d.id for d in made], actor=None, now=now)
    rules = replace(settings.rules, slot_minutes=SLOT_MINUTES)
    first = now + timedelta(minutes=2)
    step = timedelta(minutes=SLOT_MINUTES)
    start = datetime.combine(first.astimezone(tz).date(), time(0), tz)
    start += step * -(-(first - start) // step)  # the first slot boundary after `first`
    slots = [start + step * k for k in range((115 - 2) // SLOT_MINUTES)]
    places = [(depot, slot) for slot in slots for depot in made for _ in range(BAYS)]
    if count > len(places):
        raise ValueError(f"at most {len(places)} bookings with {depots} depot(s): use more depots")
    keyring = keyring_for(settings.codes)
    codes: list[Code] = []
    for n, (depot, slot) in enumerate(places[:count]):
        account = world.accounts[n % len(world.accounts)]
        plate = f"沪B{n:05d}"
        booking, _ = await pickups.book_pickup(
            session,
            data=s.PickupIn(
                depot_id=depot.id,
                product_code="diesel-0",
                quantity_litres=BOOKED_LITRES,
                slot_start=slot,
                vehicle_plate=plate,
                driver_name=f"Driver {n}",
                driver_phone="13800138000",
            ),
            actor=account.principal,
            idempotency_key=None,
            now=now,
            rules=rules,
        )
        code = await rack.pickup_code(
            session, booking=booking, keyring=keyring, secret=settings.auth.secret_key, settings=settings.codes, now=now
        )
        codes.append(Code(code.token, booking.id, depot.id, plate, booking.customer_id))
    return codes


async def _orders(
    session: AsyncSession, settings: Settings, chosen: list[Account], *, now: datetime, count: int, offset: int
) -> list[Readable]:
    """`count` confirmed orders for tomorrow, one per customer in turn, starting at `offset`."""
    placed = []
    for n in range(count):
        account = chosen[(offset + n) % len(chosen)]
        data = msgspec.json.decode(account.body, type=s.OrderIn)
        order, _ = await place_order(
            session, data=data, actor=account.principal, idempotency_key=None, now=now, rules=settings.rules
        )
        placed.append(Readable(account.token, order.id, on_trip=False))
    return placed


async def _on_the_road(
    session: AsyncSession, settings: Settings, world: World, *, now: datetime, drivers: int, stops: int
) -> None:
    depot = next(d for d in await catalogue.list_depots(session) if d.code == TRIP_DEPOT)
    today = now.astimezone(zone("Asia/Shanghai")).date()
    plan = Plan(
        date=today,
        depot_id=depot.id,
        scope=str(depot.id),
        status="published",
        cost_minor=0,
        distance_m=0,
        driving_s=0,
        duration_s=0,
        problem_json="{}",
        solution_json="{}",
        order_versions={},
        created_at=now,
        published_at=now,
    )
    session.add(plan)
    await session.flush()
    password_hash = hash_password(uuid.uuid4().hex)
    on_trip = await _orders(session, settings, world.accounts, now=now, count=drivers * stops, offset=0)
    for n in range(drivers):
        plate = f"沪D{n:05d}"
        tanker = await fleet.create_tanker(
            session,
            data=ds.TankerIn(
                plate=plate,
                depot_id=depot.id,
                compartments_litres=[8000, 8000, 6000, 6000],
                vehicle_class=3,
                cost_per_km_minor=650,
                shift_start="00:00",
                shift_end="23:59",
            ),
        )
        user = await accounts.create_user(
            session, username=f"bench-driver-{n:03d}", password_hash=password_hash, role=Role.DRIVER, now=now
        )
        driver = await fleet.create_driver(
            session,
            data=ds.DriverIn(
                name=f"Bench driver {n}",
                phone=f"139{n:08d}",
                hazmat_licence_expires=today + timedelta(days=365),
                shift_start="00:00",
                shift_end="23:59",
                user_id=user.id,
                home_depot_id=depot.id,
            ),
        )
        mine = on_trip[n * stops : (n + 1) * stops]
        trip = PlanTrip(
            plan_id=plan.id,
            date=today,
            tanker_id=tanker.id,
            driver_id=driver.id,
            depot_id=depot.id,
            sequence=1,
            load_start=now - timedelta(hours=1),
            depart=now - timedelta(minutes=30),
            return_at=now + timedelta(hours=6),
            distance_m=80_000,
            loads=[{"compartment": k, "product": "diesel-0", "litres": BOOKED_LITRES} for k in range(len(mine))],
            status="en_route",
            loaded_at=now - timedelta(minutes=45),
            departed_at=now - timedelta(minutes=30),
        )
        session.add(trip)
        await session.flush()
        for k, readable in enumerate(mine):
            order = await session.get(Order, readable.order_id)
            assert order is not None
            at = now + timedelta(hours=1 + k)
            lifecycle.schedule(
                session, order, tanker_id=tanker.id, driver_id=driver.id, eta=at, at=now, actor=None, data={}
            )
            lifecycle.load(session, order, at=now, actor=None, data={"trip_id": str(trip.id)})
            lifecycle.depart(session, order, at=now, actor=None)
            session.add(
                PlanStop(
                    trip_id=trip.id,
                    plan_id=plan.id,
                    order_id=order.id,
                    sequence=k + 1,
                    litres=order.quantity_litres,
                    compartments=[k],
                    arrival=at,
                    service_start=at,
                    departure=at + timedelta(minutes=30),
                    status="planned",
                )
            )
        world.seats.append(
            Seat(
                await _token(session, settings, user.id, user.username, Role.DRIVER, None),
                driver.id,
                tanker.id,
                depot.lat,
                depot.lon,
            )
        )
        world.orders += [replace(r, on_trip=True) for r in mine]
    await session.flush()


async def _webhooks(
    session: AsyncSession, settings: Settings, chosen: list[Account], url: str, share: float, *, now: datetime
) -> int:
    count = max(1, round(len(chosen) * share))
    for account in chosen[:count]:
        await create_webhook(
            session,
            data=ws.WebhookIn(url=url, events=["*"]),
            actor=account.principal,
            allowed_networks=(ip_network("127.0.0.1/32"),),  # the load generator's receiver
            max_per_customer=10,
            cipher=cipher_for(settings.auth),
            now=now,
        )
    return count


def counts(url: str) -> dict[str, int]:
    """What the checks compare with the acknowledged answers."""
    queries = {
        "orders": "SELECT count(*) FROM orders",
        "positions": "SELECT count(*) FROM positions",
        "tickets": "SELECT count(*) FROM loading_tickets",
        "codes_spent_twice": "SELECT count(*) FROM (SELECT code_id FROM loading_tickets GROUP BY 1 "
        "HAVING count(*) > 1) d",
        "bookings_completed": "SELECT count(*) FROM pickup_bookings WHERE status = 'completed'",
        "duplicate_keys": "SELECT count(*) FROM (SELECT resource_id FROM idempotency_records "
        "WHERE resource_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d",
        "idempotency_records": "SELECT count(*) FROM idempotency_records",
    }
    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in queries.items()}  # type: ignore[index]


def webhook_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT status, count(*) FROM webhook_deliveries GROUP BY 1").fetchall()
    return {str(status): int(n) for status, n in rows}
