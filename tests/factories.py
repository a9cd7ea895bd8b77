"""Test data made through the public API, the way a user would make it."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from httpx import Response

PASSWORD = "test-password-1"
PRODUCTS = [
    {"code": "diesel-0", "name": "Diesel 0#", "name_zh": "0号柴油", "density_kg_m3": 835.0},
    {"code": "diesel-m10", "name": "Diesel -10#", "name_zh": "-10号柴油", "density_kg_m3": 830.0},
    {"code": "diesel-m20", "name": "Diesel -20#", "name_zh": "-20号柴油", "density_kg_m3": 825.0},
    {"code": "diesel-m35", "name": "Diesel -35#", "name_zh": "-35号柴油", "density_kg_m3": 815.0},
]
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]
FIRST_DAY = date(2030, 1, 7)  # the frozen clock's day (a Monday)


def ok(response: Response, status: int | tuple[int, ...] = (200, 201)) -> Any:
    expected = (status,) if isinstance(status, int) else status
    assert response.status_code in expected, f"{response.status_code}: {response.text}"
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    client: Any
    tokens: dict[str, str] = field(default_factory=dict)  # role -> token
    usernames: dict[str, str] = field(default_factory=dict)  # role -> username of the staff users above
    depots: dict[str, dict[str, Any]] = field(default_factory=dict)

    def h(self, role: str) -> dict[str, str]:
        return bearer(self.tokens[role])

    async def login(self, username: str, password: str = PASSWORD) -> str:
        body = ok(await self.client.post("/api/v1/auth/token", json={"username": username, "password": password}))
        return str(body["access_token"])

    async def new_depot(
        self,
        *,
        bays: int = 2,
        code: str | None = None,
        lat: float = 31.35,
        lon: float = 121.58,
        products: list[str] | None = None,
        priced: bool = True,
    ) -> dict[str, Any]:
        """A depot open 06:00-22:00 every day, with prices from the frozen clock's day on (unless not `priced`)."""
        code = code or f"d-{uuid.uuid4().hex[:8]}"
        depot = ok(
            await self.client.post(
                "/api/v1/depots",
                headers=self.h("admin"),
                json={
                    "code": code,
                    "name": f"Depot {code}",
                    "lat": lat,
                    "lon": lon,
                    "timezone": "Asia/Shanghai",
                    "opening_hours": [{"days": EVERY_DAY, "open": "06:00", "close": "22:00"}],
                    "loading_bays": bays,
                    "products": products or [p["code"] for p in PRODUCTS],
                },
            )
        )
        prices = [  # from the frozen clock's day on, until replaced
            {
                "depot_id": depot["id"],
                "product_code": code_,
                "valid_from": FIRST_DAY.isoformat(),
                "price_per_litre_minor": 780 + 25 * i,
            }
            for i, code_ in enumerate(depot["products"])
        ]
        if priced:
            ok(await self.client.put("/api/v1/prices", headers=self.h("admin"), json=prices))
        return depot

    async def new_customer(
        self,
        *,
        credit: int = 100_000_000,
        tank: int = 30_000,
        lat: float = 31.36,
        lon: float = 121.60,
        hours: list[dict[str, Any]] | None = None,
        max_vehicle_class: int | None = None,
    ) -> Customer:
        suffix = uuid.uuid4().hex[:8]
        account = ok(
            await self.client.post(
                "/api/v1/customers",
                headers=self.h("admin"),
                json={"name": f"测试物流 Test Logistics {suffix}", "credit_limit_minor": credit},
            )
        )
        username = f"cust-{suffix}"
        ok(
            await self.client.post(
                "/api/v1/users",
                headers=self.h("admin"),
                json={
                    "username": username,
                    "password": PASSWORD,
                    "role": "customer",
                    "customer_id": account["id"],
                },
            )
        )
        token = await self.login(username)
        site = ok(
            await self.client.post(
                "/api/v1/sites",
                headers=bearer(token),
                json={
                    "name": f"Yard {suffix}",
                    "address": "1 Harbour Road, Shanghai",
                    "lat": lat,
                    "lon": lon,
                    "tank_capacity_litres": tank,
                    "receiving_hours": hours or [{"days": EVERY_DAY, "open": "06:00", "close": "22:00"}],
                    **({"max_vehicle_class": max_vehicle_class} if max_vehicle_class else {}),
                },
            )
        )
        return Customer(world=self, id=account["id"], token=token, site=site, username=username)

    async def new_rack_operator(self, *depot_ids: str) -> RackOperator:
        """A rack operator of its own at these depots (POST /users, then PUT /users/{id}/depots)."""
        username = f"rack-{uuid.uuid4().hex[:8]}"
        body = {"username": username, "password": PASSWORD, "role": "rack_operator"}
        user = ok(await self.client.post("/api/v1/users", headers=self.h("admin"), json=body))
        ok(
            await self.client.put(
                f"/api/v1/users/{user['id']}/depots", headers=self.h("admin"), json={"depot_ids": list(depot_ids)}
            )
        )
        return RackOperator(id=user["id"], username=username, token=await self.login(username))


@dataclass
class RackOperator:
    id: str
    username: str
    token: str

    @property
    def h(self) -> dict[str, str]:
        return bearer(self.token)


async def new_fleet(
    world: World,
    depot: dict[str, Any],
    *,
    tankers: int = 2,
    expired_licence: bool = False,
    compartments: list[int] | None = None,
    vehicle_class: int = 3,
    fixed_cost_minor: int = 50_000,
) -> list[dict[str, Any]]:
    """Tankers of a depot, each with a driver of that depot (one with an expired licence when asked)."""
    made = []
    for index in range(tankers):
        plate = f"沪D{uuid.uuid4().int % 100000:05d}"
        tanker = ok(
            await world.client.post(
                "/api/v1/tankers",
                headers=world.h("dispatcher"),
                json={
                    "plate": plate,
                    "depot_id": depot["id"],
                    "compartments_litres": compartments or [8000, 8000, 6000, 6000],
                    "vehicle_class": vehicle_class,
                    "cost_per_km_minor": 650,
                    "fixed_cost_minor": fixed_cost_minor,
                    "shift_start": "06:00:00",
                    "shift_end": "20:00:00",
                },
            ),
            201,
        )
        expires = "2029-12-31" if expired_licence and index == 0 else "2031-12-31"
        username = f"drv-{uuid.uuid4().hex[:8]}"
        user = ok(
            await world.client.post(
                "/api/v1/users",
                headers=world.h("admin"),
                json={"username": username, "password": PASSWORD, "role": "driver"},
            )
        )
        tanker["driver_token"] = await world.login(username)
        tanker["driver_username"] = username
        tanker["driver"] = ok(
            await world.client.post(
                "/api/v1/drivers",
                headers=world.h("dispatcher"),
                json={
                    "user_id": user["id"],
                    "name": f"Driver {plate}",
                    "phone": f"139{uuid.uuid4().int % 10**8:08d}",
                    "hazmat_licence_expires": expires,
                    "shift_start": "06:00:00",
                    "shift_end": "20:00:00",
                    "home_depot_id": depot["id"],
                },
            ),
            201,
        )
        made.append(tanker)
    return made


@dataclass
class Customer:
    world: World
    id: str
    token: str
    site: dict[str, Any]
    username: str

    @property
    def h(self) -> dict[str, str]:
        return bearer(self.token)

    def order_body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "site_id": self.site["id"],
            "product_code": "diesel-0",
            "quantity_litres": 5000,
            "delivery_date": (FIRST_DAY + timedelta(days=1)).isoformat(),
            "window_start": "09:00",
            "window_end": "12:00",
        }
        body.update(overrides)
        return body

    async def order(self, key: str | None = None, *, via: Any = None, **overrides: Any) -> Response:
        """POST /orders through the test client, or `via` another client (`racer`: requests that overlap)."""
        headers = dict(self.h)
        if key:
            headers["Idempotency-Key"] = key
        client = via or self.world.client
        return await client.post("/api/v1/orders", headers=headers, json=self.order_body(**overrides))


async def build_world(client: Any, app: Any) -> World:
    """Staff users straight in the database (as `diesel createuser` would), the rest through the API."""
    from core.auth import Role
    from core.db import create_engine, session_factory, unit_of_work
    from orders.accounts import create_user

    world = World(client=client)
    suffix = uuid.uuid4().hex[:6]
    user_ids = {}
    # Its own engine: the app's pool belongs to the test client's event loop.
    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            for role in (Role.ADMIN, Role.DISPATCHER, Role.DRIVER, Role.RACK_OPERATOR):
                user = await create_user(
                    session,
                    username=f"{role.value}-{suffix}",
                    password=PASSWORD,
                    role=role,
                    now=app.state.clock.now(),
                )
                user_ids[role.value] = str(user.id)
    finally:
        await engine.dispose()
    for role in ("admin", "dispatcher", "driver", "rack_operator"):
        world.usernames[role] = f"{role}-{suffix}"
        world.tokens[role] = await world.login(world.usernames[role])
    existing = {p["code"] for p in ok(await client.get("/api/v1/products", headers=world.h("admin")))}
    for product in PRODUCTS:
        if product["code"] not in existing:
            ok(await client.post("/api/v1/products", headers=world.h("admin"), json=product))
    world.depots["main"] = await world.new_depot(bays=4)
    # The shared rack operator works at the main depot; a test at a depot of its own uses `new_rack_operator`.
    ok(
        await client.put(
            f"/api/v1/users/{user_ids['rack_operator']}/depots",
            headers=world.h("admin"),
            json={"depot_ids": [world.depots["main"]["id"]]},
        )
    )
    return world


async def plan_and_wait(  # type: ignore[no-untyped-def]
    world, worker, day: str, depot_id: str, time_limit: int = 3, wait_s: float = 120
) -> dict[str, Any]:
    """POST /plans for a day and depot on the real worker; the job once it has finished (or after wait_s)."""
    worker.ensure_running()
    accepted = await world.client.post(
        "/api/v1/plans",
        headers=world.h("dispatcher"),
        json={"date": day, "depot_id": depot_id, "time_limit_s": time_limit},
    )
    assert accepted.status_code == 202, accepted.text
    return await wait_for_job(world, accepted.json()["job_id"], wait_s=wait_s)


async def wait_for_job(  # type: ignore[no-untyped-def]
    world, job_id: str, *, wait_s: float, until: tuple[str, ...] = ("succeeded", "failed", "cancelled")
) -> dict[str, Any]:
    deadline = time.monotonic() + wait_s
    while True:
        job = ok(await world.client.get(f"/api/v1/plan-jobs/{job_id}", headers=world.h("dispatcher")))
        if job["status"] in until or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.3)


# Hangzhou: far from the other tests' depots, so these orders are served by this test's depot.
HZ = (30.25, 120.15)
SITES = [(30.27, 120.16), (30.30, 120.20), (30.22, 120.10), (30.35, 120.12), (30.20, 120.25)]


async def hangzhou_day(world, day: str, *, tankers: int = 2, expired_licence: bool = False, orders: int = 5):  # type: ignore[no-untyped-def]
    """A depot with tankers and confirmed orders for `day`, each day on its own patch of map near Hangzhou."""
    # Each day gets its own patch of map (1° further east per day), so no other depot is nearer its sites.
    shift = float(day[-2:]) - 8
    depot = await world.new_depot(bays=3, lat=HZ[0], lon=HZ[1] + shift, code=f"hz-{uuid.uuid4().hex[:6]}")
    fleet = await new_fleet(world, depot, tankers=tankers, expired_licence=expired_licence)
    placed = []
    for index in range(orders):
        lat, lon = SITES[index % len(SITES)]
        customer = await world.new_customer(lat=lat, lon=lon + shift)
        window = ("08:00", "12:00") if index % 2 else ("09:00", "17:00")
        order = ok(
            await customer.order(
                delivery_date=day,
                quantity_litres=4000 + 1000 * index,
                window_start=window[0],
                window_end=window[1],
                product_code="diesel-0",
            ),
            201,
        )
        assert order["depot_id"] == depot["id"]
        placed.append((customer, order))
    return depot, fleet, placed


@dataclass
class SharedTrip:
    """A published plan of its own depot: tanker 1's trip carries the orders of `riders` (several customers on ONE
    trip), tanker 2's trip the order of `loner`; a third tanker is left out of the plan (its driver's licence has
    expired), which the plan's notes say."""

    day: str
    depot: dict[str, Any]
    plan_id: str
    job_id: str
    tankers: list[dict[str, Any]]  # [tanker 1, tanker 2, unplanned tanker], each with its driver and driver_token
    riders: list[tuple[Customer, dict[str, Any]]]  # (customer, order) on tanker 1's trip
    loner: tuple[Customer, dict[str, Any]]  # (customer, order) on tanker 2's trip
    trips: list[dict[str, Any]]  # [tanker 1's trip, tanker 2's trip] as GET /plans/{id} shows them

    def stop_of(self, order: dict[str, Any]) -> dict[str, Any]:
        return next(s for trip in self.trips for s in trip["stops"] if s["order_id"] == order["id"])

    def driver(self, index: int) -> dict[str, str]:
        return bearer(self.tankers[index]["driver_token"])


async def shared_trip_day(  # type: ignore[no-untyped-def]
    world, worker, *, day: str, where: tuple[float, float], riders: int = 2
) -> SharedTrip:
    """Plan `day` for a new depot at `where` on the real worker, pin the riders' orders to tanker 1 and the
    loner's to tanker 2 (PATCH on the draft moves them), publish, and check the layout came out as wanted.
    Pick a day no other test plans (some count the day's published plans).

    Sites get distinct coordinates with four decimals (so a leak of one of them in an answer can be searched for)."""
    lat, lon = where
    depot = await world.new_depot(bays=3, lat=lat, lon=lon, code=f"st-{uuid.uuid4().hex[:6]}")
    price = {"depot_id": depot["id"], "product_code": "diesel-0", "valid_from": day, "price_per_litre_minor": 800}
    ok(await world.client.put("/api/v1/prices", headers=world.h("admin"), json=[price]))
    tankers = await new_fleet(world, depot, tankers=2)
    tankers += await new_fleet(world, depot, tankers=1, expired_licence=True)
    for tanker in tankers[:2]:  # each with its own driver (else drivers are handed out in order of name)
        pairing = {"date": day, "tanker_id": tanker["id"], "driver_id": tanker["driver"]["id"]}
        ok(await world.client.post("/api/v1/pairings", headers=world.h("dispatcher"), json=pairing), 201)
    placed = []
    for index in range(riders + 1):
        site = (round(lat + 0.0137 * (index + 1), 4), round(lon + 0.0191 * (index + 1) * (-1) ** index, 4))
        customer = await world.new_customer(lat=site[0], lon=site[1])
        order = ok(
            await customer.order(delivery_date=day, quantity_litres=3000, window_start="09:00", window_end="17:00")
        )
        assert order["depot_id"] == depot["id"], "another depot is nearer than this day's own"
        placed.append((customer, order))
    job = await plan_and_wait(world, worker, day, depot["id"])
    assert job["status"] == "succeeded", job
    plan_url = f"/api/v1/plans/{job['plan_id']}"
    for (_, order), tanker in zip(placed, [tankers[0]] * riders + [tankers[1]], strict=True):
        plan = ok(await world.client.get(plan_url, headers=world.h("dispatcher")))
        stop = next(s for r in plan["routes"] for t in r["trips"] for s in t["stops"] if s["order_id"] == order["id"])
        ok(
            await world.client.patch(
                f"{plan_url}/stops/{stop['id']}", headers=world.h("dispatcher"), json={"tanker_id": tanker["id"]}
            )
        )
    ok(await world.client.post(f"{plan_url}/publish", headers=world.h("dispatcher"), json={}))
    plan = ok(await world.client.get(plan_url, headers=world.h("dispatcher")))
    trips = []
    for tanker, wanted in ((tankers[0], placed[:riders]), (tankers[1], placed[riders:])):
        trip = next(
            (
                t
                for r in plan["routes"]
                for t in r["trips"]
                if r["plate"] == tanker["plate"] and {o["id"] for _, o in wanted} <= {s["order_id"] for s in t["stops"]}
            ),
            None,
        )
        assert trip is not None, (
            f"the plan did not put {[o['reference'] for _, o in wanted]} on one trip of {tanker['plate']}"
        )
        trips.append(trip)
        assert next(r for r in plan["routes"] if r["plate"] == tanker["plate"])["driver_id"] == tanker["driver"]["id"]
    assert any(tankers[2]["plate"] in note for note in plan["notes"]), plan["notes"]
    return SharedTrip(
        day=day,
        depot=depot,
        plan_id=job["plan_id"],
        job_id=job["id"],
        tankers=tankers,
        riders=placed[:riders],
        loner=placed[riders],
        trips=trips,
    )
