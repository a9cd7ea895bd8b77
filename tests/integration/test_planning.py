"""From POST /plans to a published plan with a real worker: progress, plan views, publish, stale plans,
racing publishes, cancellation, expired licences, pins and re-planning."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.factories import hangzhou_day as _day
from tests.factories import ok
from tests.factories import plan_and_wait as _plan
from tests.factories import wait_for_job as _wait

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_plan_review_and_publish_a_day(world, worker) -> None:
    day = "2030-01-09"
    depot, fleet, placed = await _day(world, day)
    job = await _plan(world, worker, day, depot["id"])
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and job["best_cost"] > 0 and job["plan_id"]

    plan = ok(await world.client.get(f"/api/v1/plans/{job['plan_id']}", headers=world.h("dispatcher")))
    assert plan["status"] == "draft" and plan["unassigned"] == []
    stops = [stop for route in plan["routes"] for trip in route["trips"] for stop in trip["stops"]]
    assert sorted(s["order_id"] for s in stops) == sorted(o["id"] for _, o in placed)
    for route in plan["routes"]:
        assert route["plate"] in {t["plate"] for t in fleet} and route["driver_name"]
        for trip in route["trips"]:
            loaded = sum(load["litres"] for load in trip["loads"])
            assert loaded == sum(s["litres"] for s in trip["stops"])
            for stop in trip["stops"]:
                assert stop["window_start"] <= stop["service_start"] <= stop["window_end"]
    assert plan["totals"]["orders"] == 5 and plan["totals"]["km"] > 0 and plan["totals"]["cost_minor"] > 0
    geo = ok(await world.client.get(f"/api/v1/plans/{plan['id']}/geojson", headers=world.h("dispatcher")))
    kinds = [f["properties"]["kind"] for f in geo["features"]]
    assert kinds.count("depot") == 1 and kinds.count("stop") == 5 and "trip" in kinds

    published = ok(
        await world.client.post(f"/api/v1/plans/{plan['id']}/publish", headers=world.h("dispatcher"), json={})
    )
    assert published["status"] == "published" and published["published_at"]
    customer, order = placed[0]
    scheduled = ok(await world.client.get(f"/api/v1/orders/{order['id']}", headers=customer.h))
    assert scheduled["status"] == "scheduled"
    events = ok(await world.client.get(f"/api/v1/orders/{order['id']}/events", headers=customer.h))
    assert events[-1]["type"] == "order_scheduled" and events[-1]["data"]["eta"]
    again = await world.client.post(f"/api/v1/plans/{plan['id']}/publish", headers=world.h("dispatcher"), json={})
    assert again.status_code == 409 and again.json()["code"] == "plan_not_draft"


async def test_stale_plan_is_refused_unless_forced_and_publishes_race_to_one_winner(world, worker, racer) -> None:
    day = "2030-01-10"
    depot, _, placed = await _day(world, day, orders=3)
    first = await _plan(world, worker, day, depot["id"])
    second = await _plan(world, worker, day, depot["id"])
    assert first["status"] == second["status"] == "succeeded"

    # The same draft published twice at once: exactly one wins.
    responses = await asyncio.gather(
        *(
            racer.post(f"/api/v1/plans/{first['plan_id']}/publish", headers=world.h("dispatcher"), json={})
            for _ in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 409]

    customer, order = placed[1]
    ok(await world.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=customer.h, json={"reason": "x"}))
    stale = await world.client.post(
        f"/api/v1/plans/{second['plan_id']}/publish", headers=world.h("dispatcher"), json={}
    )
    assert stale.status_code == 409 and stale.json()["code"] == "plan_stale"
    view = ok(await world.client.get(f"/api/v1/plans/{second['plan_id']}", headers=world.h("dispatcher")))
    assert view["outdated"] is True and view["stale_orders"] == [order["id"]]
    forced = ok(
        await world.client.post(
            f"/api/v1/plans/{second['plan_id']}/publish", headers=world.h("dispatcher"), json={"force": True}
        )
    )
    assert forced["status"] == "published"
    assert ok(await world.client.get(f"/api/v1/plans/{first['plan_id']}", headers=world.h("admin")))["status"] == (
        "superseded"
    )
    cancelled = ok(await world.client.get(f"/api/v1/orders/{order['id']}", headers=customer.h))
    assert cancelled["status"] == "cancelled"  # forcing never revives a cancelled order
    plans = ok(await world.client.get(f"/api/v1/plans?date={day}", headers=world.h("admin")))
    assert [p["status"] for p in plans].count("published") == 1


async def test_a_running_job_can_be_cancelled(world, worker) -> None:
    day = "2030-01-11"
    depot, _, _ = await _day(world, day, orders=4)
    worker.ensure_running()
    accepted = ok(
        await world.client.post(
            "/api/v1/plans",
            headers=world.h("dispatcher"),
            json={"date": day, "depot_id": depot["id"], "time_limit_s": 60},
        ),
        202,
    )
    running = await _wait(world, accepted["job_id"], wait_s=60, until=("running", "succeeded", "failed"))
    assert running["status"] == "running"
    ok(await world.client.post(f"/api/v1/plan-jobs/{accepted['job_id']}/cancel", headers=world.h("dispatcher")))
    started = time.monotonic()
    job = await _wait(world, accepted["job_id"], wait_s=30)
    assert job["status"] == "cancelled" and job["plan_id"] is None
    assert time.monotonic() - started < 20  # well before the 60 s limit


async def test_expired_licence_keeps_a_tanker_off_the_plan_and_says_why(world, worker) -> None:
    day = "2030-01-12"
    depot, fleet, _ = await _day(world, day, tankers=2, expired_licence=True, orders=2)
    job = await _plan(world, worker, day, depot["id"])
    plan = ok(await world.client.get(f"/api/v1/plans/{job['plan_id']}", headers=world.h("dispatcher")))
    expired_driver = fleet[0]["driver"]["name"]  # the first driver's licence expired before the day
    assert expired_driver not in {route["driver_name"] for route in plan["routes"]}
    # Two tankers, one licensed driver: one tanker stays home, and the plan says why.
    assert len(plan["routes"]) <= 1
    assert any("licence expired" in note and expired_driver in note for note in plan["notes"])


async def test_a_killed_worker_leaves_no_job_running_for_ever(world, worker, settings) -> None:
    from dispatch.tasks import reap

    day = "2030-01-13"
    depot, _, _ = await _day(world, day, orders=4)
    worker.ensure_running()
    accepted = ok(
        await world.client.post(
            "/api/v1/plans",
            headers=world.h("dispatcher"),
            json={"date": day, "depot_id": depot["id"], "time_limit_s": 8},
        ),
        202,
    )
    running = await _wait(world, accepted["job_id"], wait_s=60, until=("running", "succeeded", "failed"))
    assert running["status"] == "running"
    worker.kill9()  # the worker and its solver child die mid-job
    await asyncio.sleep(3)
    assert (
        ok(await world.client.get(f"/api/v1/plan-jobs/{accepted['job_id']}", headers=world.h("dispatcher")))["status"]
        == "running"
    )
    # The periodic reaper notices the missing heartbeat and re-queues the job; a new worker finishes it.
    assert await reap(stale_s=2, database_url=settings.db.url) >= 1
    worker.ensure_running()
    job = await _wait(world, accepted["job_id"], wait_s=120)
    assert job["status"] == "succeeded" and job["attempts"] >= 2 and job["plan_id"]


async def test_replanning_keeps_pins_and_started_trips_and_takes_new_orders(world, worker, clock) -> None:
    from datetime import datetime

    day = "2030-01-15"
    depot, fleet, _ = await _day(world, day, tankers=2, orders=4)
    job = await _plan(world, worker, day, depot["id"])
    plan_id = job["plan_id"]
    ok(await world.client.post(f"/api/v1/plans/{plan_id}/publish", headers=world.h("dispatcher"), json={}))
    plan = ok(await world.client.get(f"/api/v1/plans/{plan_id}", headers=world.h("dispatcher")))
    started_route = plan["routes"][0]
    started_trip = started_route["trips"][0]
    driver_token = next(t["driver_token"] for t in fleet if t["plate"] == started_route["plate"])
    code = ok(
        await world.client.get(
            f"/api/v1/driver/trips/{started_trip['id']}/code", headers={"Authorization": f"Bearer {driver_token}"}
        )
    )
    clock.set(datetime.fromisoformat(started_trip["load_start"]))
    ok(
        await world.client.post(
            "/api/v1/rack/redeem",
            headers=(await world.new_rack_operator(depot["id"])).h,
            json={
                "token": code["token"],
                "depot_id": depot["id"],
                "temperature_c": 15.0,
                "vehicle_plate": started_route["plate"],
                "loaded_litres_observed": sum(x["litres"] for x in started_trip["loads"]),
            },
        )
    )

    # Pin one order that is not on the loaded trip to the other tanker.
    started_orders = [s["order_id"] for s in started_trip["stops"]]
    free = [s for r in plan["routes"] for t in r["trips"] for s in t["stops"] if s["order_id"] not in started_orders]
    other_tanker = next(t for t in fleet if t["plate"] != started_route["plate"])
    pinned = None
    if free:
        pinned = free[0]
        view = ok(
            await world.client.patch(
                f"/api/v1/plans/{plan_id}/stops/{pinned['id']}",
                headers=world.h("dispatcher"),
                json={"tanker_id": other_tanker["id"]},
            )
        )
        assert next(s for r in view["routes"] for t in r["trips"] for s in t["stops"] if s["id"] == pinned["id"])[
            "pinned"
        ]
    # A new order arrives: the published plan is outdated.
    newcomer = await world.new_customer(lat=30.26, lon=120.17 + float(day[-2:]) - 8)
    new_order = ok(
        await newcomer.order(delivery_date=day, quantity_litres=3000, window_start="13:00", window_end="18:00"), 201
    )
    view = ok(await world.client.get(f"/api/v1/plans/{plan_id}", headers=world.h("dispatcher")))
    assert view["outdated"] is True and view["new_orders"] == [new_order["id"]]

    replanned = await _plan(world, worker, day, depot["id"])
    again = ok(await world.client.get(f"/api/v1/plans/{replanned['plan_id']}", headers=world.h("dispatcher")))
    route = next(r for r in again["routes"] if r["plate"] == started_route["plate"])
    carried = route["trips"][0]
    assert carried["id"] == started_trip["id"] and carried["status"] == "loaded"  # the loaded trip, untouched
    assert [s["order_id"] for s in carried["stops"]] == started_orders
    assert all(t["load_start"] >= carried["return_at"] for t in route["trips"][1:])
    served = {s["order_id"]: r["plate"] for r in again["routes"] for t in r["trips"] for s in t["stops"]}
    assert new_order["id"] in served
    if pinned is not None:
        assert served[pinned["order_id"]] == other_tanker["plate"]
    ok(await world.client.post(f"/api/v1/plans/{replanned['plan_id']}/publish", headers=world.h("dispatcher"), json={}))
    route = ok(
        await world.client.get(f"/api/v1/driver/route?date={day}", headers={"Authorization": f"Bearer {driver_token}"})
    )
    assert route["routes"][0]["trips"][0]["id"] == started_trip["id"]  # same trip for the driver and the rack


async def test_a_preferred_driver_is_honoured_or_the_plan_says_why(world, worker) -> None:
    day = "2030-01-16"
    depot, fleet, placed = await _day(world, day, tankers=2, orders=2)
    wanted = fleet[1]
    customer = placed[0][0]
    order = ok(
        await customer.order(
            delivery_date=day,
            quantity_litres=3000,
            window_start="09:00",
            window_end="17:00",
            preferred_driver_id=wanted["driver"]["id"],
        ),
        201,
    )
    job = await _plan(world, worker, day, depot["id"])
    plan = ok(await world.client.get(f"/api/v1/plans/{job['plan_id']}", headers=world.h("dispatcher")))
    carried = {s["order_id"]: r["plate"] for r in plan["routes"] for t in r["trips"] for s in t["stops"]}
    explained = any(order["reference"] in note for note in plan["notes"])
    assert carried.get(order["id"]) == wanted["plate"] or explained
