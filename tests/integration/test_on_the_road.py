"""A published trip on the road: the driver's route, the load code at the rack (per compartment), departure,
positions and ETAs, tracking, the customer's receipt code scanned on delivery, a failed stop."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from tests.factories import bearer, new_fleet, ok
from tests.integration.test_planning import _day, _plan

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_a_trip_from_rack_to_receipt(world, worker, clock) -> None:
    day = "2030-01-14"
    depot, fleet, placed = await _day(world, day, tankers=1, orders=3)
    job = await _plan(world, worker, day, depot["id"])
    assert job["status"] == "succeeded", job
    ok(await world.client.post(f"/api/v1/plans/{job['plan_id']}/publish", headers=world.h("dispatcher"), json={}))
    driver = bearer(fleet[0]["driver_token"])

    route = ok(await world.client.get(f"/api/v1/driver/route?date={day}", headers=driver))
    assert [r["plate"] for r in route["routes"]] == [fleet[0]["plate"]]
    trip = route["routes"][0]["trips"][0]
    code = ok(await world.client.get(f"/api/v1/driver/trips/{trip['id']}/code", headers=driver))
    assert code["kind"] == "trip"

    clock.set(datetime.fromisoformat(trip["load_start"]))
    rack = (await world.new_rack_operator(depot["id"])).h
    verdict = ok(
        await world.client.post(
            "/api/v1/rack/verify",
            headers=rack,
            json={"token": code["token"], "depot_id": depot["id"], "vehicle_plate": fleet[0]["plate"]},
        )
    )
    assert verdict["authorised"] and verdict["kind"] == "trip"
    assert verdict["what_to_load"]["compartments"] == trip["loads"]
    planned = sum(load["litres"] for load in trip["loads"])
    ticket = ok(
        await world.client.post(
            "/api/v1/rack/redeem",
            headers=rack,
            json={
                "token": code["token"],
                "depot_id": depot["id"],
                "loaded_litres_observed": planned,
                "temperature_c": 15.0,
                "vehicle_plate": fleet[0]["plate"],
            },
        )
    )
    assert ticket["kind"] == "trip" and ticket["net_litres"] == planned
    used = await world.client.get(f"/api/v1/driver/trips/{trip['id']}/code", headers=driver)
    assert used.status_code == 409

    first, *others = trip["stops"]
    order_of = {o["id"]: (c, o) for c, o in placed}
    customer, order = order_of[first["order_id"]]
    assert ok(await world.client.get(f"/api/v1/orders/{order['id']}", headers=customer.h))["status"] == "loaded"

    # On the road: positions move the ETA; the customer sees it with the tanker and the route.
    clock.advance(timedelta(minutes=20))
    ok(await world.client.post(f"/api/v1/driver/trips/{trip['id']}/depart", headers=driver))
    batch = [
        {
            "lat": depot["lat"] + 0.001 * i,
            "lon": depot["lon"],
            "recorded_at": (clock.now() - timedelta(seconds=60 - i)).isoformat(),
            "speed": 40.0,
        }
        for i in range(50)
    ]
    accepted = ok(await world.client.post("/api/v1/driver/positions", headers=driver, json=batch))
    assert accepted["accepted"] == 50 and accepted["etas_updated"] == len(trip["stops"])
    tracking = ok(await world.client.get(f"/api/v1/orders/{order['id']}/tracking", headers=customer.h))
    assert tracking["status"] == "en_route" and tracking["eta"]
    assert tracking["tanker"]["plate"] == fleet[0]["plate"]
    assert tracking["tanker"]["position"]["lat"] == pytest.approx(depot["lat"] + 0.049)
    kinds = [f["properties"]["kind"] for f in tracking["route"]["features"]]
    assert kinds.count("stop") == len(trip["stops"]) and "trip" in kinds
    named = [f for f in tracking["route"]["features"] if f["properties"].get("name")]
    assert all(f["properties"]["kind"] == "depot" or f["properties"]["this_order"] for f in named)

    # Delivery confirmed with the customer's receipt code, scanned from their phone.
    receipt = ok(await world.client.get(f"/api/v1/orders/{order['id']}/receipt-code", headers=customer.h))
    ok(await world.client.post(f"/api/v1/stops/{first['id']}/arrive", headers=driver))
    wrong = await world.client.post(
        f"/api/v1/stops/{first['id']}/deliver",
        headers=driver,
        json={"delivered_litres_observed": first["litres"], "temperature_c": 15.0, "receipt_token": code["token"]},
    )
    assert wrong.status_code == 422 and wrong.json()["code"] == "receipt_refused"
    done = ok(
        await world.client.post(
            f"/api/v1/stops/{first['id']}/deliver",
            headers=driver,
            json={
                "delivered_litres_observed": first["litres"],
                "temperature_c": 25.0,
                "meter_start": 1000,
                "meter_end": 1000 + first["litres"],
                "receipt_token": receipt["token"],
            },
        )
    )
    assert done["order_status"] == "delivered" and done["proof"] == "receipt"
    assert done["net_litres"] < first["litres"]  # warm diesel: fewer litres at 15 °C
    delivered = ok(await world.client.get(f"/api/v1/orders/{order['id']}", headers=customer.h))
    assert delivered["status"] == "delivered"
    events = [e["type"] for e in ok(await world.client.get(f"/api/v1/orders/{order['id']}/events", headers=customer.h))]
    assert events[-4:] == ["order_loaded", "order_en_route", "tanker_arrived", "order_delivered"]
    again = await world.client.post(
        f"/api/v1/stops/{first['id']}/deliver",
        headers=driver,
        json={"delivered_litres_observed": 10, "temperature_c": 15.0, "receipt_token": receipt["token"]},
    )
    assert again.status_code == 409

    if others:
        second = others[0]
        missing = await world.client.post(
            f"/api/v1/stops/{second['id']}/deliver",
            headers=driver,
            json={
                "delivered_litres_observed": second["litres"],
                "temperature_c": 15.0,
                "no_receipt_reason": "gate closed",
            },
        )
        assert missing.status_code == 422 and missing.json()["code"] == "evidence_required"
        failed = ok(
            await world.client.post(
                f"/api/v1/stops/{second['id']}/fail",
                headers=driver,
                json={"reason": "site gate locked, nobody answering"},
            )
        )
        assert failed["order_status"] == "failed"
    for stop in others[1:]:
        ok(await world.client.post(f"/api/v1/stops/{stop['id']}/fail", headers=driver, json={"reason": "closed"}))
    route = ok(await world.client.get(f"/api/v1/driver/route?date={day}", headers=driver))
    assert route["routes"][0]["trips"][0]["status"] == "done"  # every stop delivered or failed

    # Another driver sees nothing of this route.
    stranger = await world.new_customer()
    assert (await world.client.get(f"/api/v1/orders/{order['id']}/tracking", headers=stranger.h)).status_code == 404


async def test_position_history_is_purged_after_the_retention_period(world, app, clock) -> None:
    import sqlalchemy as sa

    from core.db import create_engine, session_factory, unit_of_work
    from tracking.models import Position
    from tracking.tasks import purge_positions_before

    depot = await world.new_depot()
    tankers = await new_fleet(world, depot, tankers=1)
    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            for age_days in (200, 100, 10):
                session.add(
                    Position(
                        tanker_id=uuid.UUID(tankers[0]["id"]),
                        lat=31.0,
                        lon=121.0,
                        recorded_at=clock.now() - timedelta(days=age_days),
                        received_at=clock.now(),
                    )
                )
        async with unit_of_work(session_factory(engine)) as session:
            assert await purge_positions_before(session, cutoff=clock.now() - timedelta(days=90)) == 2
        async with unit_of_work(session_factory(engine)) as session:
            left = await session.scalar(
                sa.select(sa.func.count())
                .select_from(Position)
                .where(Position.tanker_id == uuid.UUID(tankers[0]["id"]))
            )
        assert left == 1
    finally:
        await engine.dispose()
