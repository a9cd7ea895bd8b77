"""Redis unavailable: orders and bookings are still accepted (the database is the system of record); planning
requests are kept durably in the job table and run once Redis returns."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.factories import PASSWORD, new_fleet, ok

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def real_world_day(world, *, shift: float):  # type: ignore[no-untyped-def]
    """A depot with a fleet and prices for real dates: the served stack runs on the system clock."""
    # Tomorrow where the depots are (Shanghai), whatever the hour and the machine's time zone.
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    depot = await world.new_depot(bays=2, lat=31.0, lon=100.0 + shift)
    fleet = await new_fleet(world, depot, tankers=1)
    prices = [
        {
            "depot_id": depot["id"],
            "product_code": code,
            "date": (tomorrow + timedelta(days=d)).isoformat(),
            "price_per_litre_minor": 780,
        }
        for d in (-1, 0, 1)
        for code in depot["products"]
    ]
    ok(await world.client.put("/api/v1/prices", headers=world.h("admin"), json=prices))
    customer = await world.new_customer(lat=31.01, lon=100.01 + shift)
    return depot, fleet, customer, tomorrow.isoformat()


async def test_orders_keep_flowing_and_planning_waits_for_redis(world, make_stack, private_redis) -> None:
    depot, _, customer, day = await real_world_day(world, shift=0)
    stack = make_stack(
        redis_url=private_redis.url, PLAN_JOB_STALE_S="2", REAPER_INTERVAL_S="2", SECRET_KEY=os.environ["SECRET_KEY"]
    )
    stack.start()
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        dispatcher = world.h("dispatcher")

        private_redis.stop()  # Redis goes down
        # Logins, orders and bookings still work: the database is the system of record.
        login = client.post("/api/v1/auth/token", json={"username": customer.username, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        order = client.post(
            "/api/v1/orders",
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            json=customer.order_body(delivery_date=day, window_start="09:00", window_end="17:00"),
        )
        assert order.status_code == 201, order.text
        slots = ok(client.get(f"/api/v1/depots/{depot['id']}/slots?date={day}", headers=headers))
        booking = client.post(
            "/api/v1/pickups",
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            json={
                "depot_id": depot["id"],
                "product_code": "diesel-0",
                "quantity_litres": 5000,
                "slot_start": slots[10]["start"],
                "vehicle_plate": "沪A54321",
                "driver_name": "Li",
                "driver_phone": "13800000000",
            },
        )
        assert booking.status_code == 201, booking.text
        # A planning request is accepted and recorded; it cannot reach the broker yet.
        accepted = client.post(
            "/api/v1/plans", headers=dispatcher, json={"date": day, "depot_id": depot["id"], "time_limit_s": 2}
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        time.sleep(4)
        assert ok(client.get(f"/api/v1/plan-jobs/{job_id}", headers=dispatcher))["status"] == "queued"

        private_redis.start()  # Redis is back, empty: nothing of the job survived in it
        deadline = time.monotonic() + 90
        status = "queued"
        while time.monotonic() < deadline and status not in ("succeeded", "failed"):
            time.sleep(1)
            status = ok(client.get(f"/api/v1/plan-jobs/{job_id}", headers=dispatcher))["status"]
        assert status == "succeeded"
        plan = ok(
            client.get(
                f"/api/v1/plans/{ok(client.get(f'/api/v1/plan-jobs/{job_id}', headers=dispatcher))['plan_id']}",
                headers=dispatcher,
            )
        )
        served = {s["order_id"] for r in plan["routes"] for t in r["trips"] for s in t["stops"]}
        assert order.json()["id"] in served
