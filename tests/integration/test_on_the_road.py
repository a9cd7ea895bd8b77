"""A published trip on the road: the driver's route, the load code at the rack (per compartment), departure,
positions and ETAs, tracking, the customer's receipt code scanned on delivery, a failed stop."""

from __future__ import annotations

import base64
import io
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import bearer, new_fleet, ok, shared_trip_day
from tests.integration.test_planning import _day, _plan
from tests.integration.test_share_and_live import EventStream

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
    # The customer's map: the depot and its own stop; the dispatcher's: the whole trip.
    kinds = [(f["properties"]["kind"], f["properties"].get("this_order")) for f in tracking["route"]["features"]]
    assert kinds == [("depot", None), ("stop", True)]
    staff = ok(await world.client.get(f"/api/v1/orders/{order['id']}/tracking", headers=world.h("dispatcher")))
    kinds = [f["properties"]["kind"] for f in staff["route"]["features"]]
    assert kinds.count("stop") == len(trip["stops"]) and "trip" in kinds
    named = [f for f in staff["route"]["features"] if f["properties"].get("name")]
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


def photo(kind: str = "JPEG") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 80, 120)).save(out, format=kind)
    return out.getvalue()


def data_url(raw: bytes, media_type: str = "image/jpeg") -> str:
    return f"data:{media_type};base64,{base64.b64encode(raw).decode()}"


def positions_near(depot: dict[str, Any], now: datetime, *, north: float) -> list[dict[str, Any]]:
    return [{"lat": depot["lat"] + north, "lon": depot["lon"], "recorded_at": (now - timedelta(seconds=5)).isoformat()}]


async def test_a_customer_sees_the_tanker_only_on_its_way_to_its_own_stop(world, worker, clock, live_server) -> None:
    """Four customers on one trip. A cancels before loading: nothing of the tanker, ever (its order's tanker and ETA
    are cleared, and positions do not move its ETA). B sees the tanker's position only once the trip is loaded
    (not while it is still planned, though the cab sends positions) and nothing once delivered; E's proof photo is
    checked (a polyglot and garbage refused); F's stop fails: nothing live either. B's live stream carries B's
    order's events only. Staff see the tanker on every order of the trip throughout."""
    day = await shared_trip_day(world, worker, day="2030-01-21", where=(28.2282, 112.9388), riders=4)
    (a, a_order), (b, b_order), (e, e_order), (f, f_order) = day.riders
    trip, driver, depot = day.trips[0], day.driver(0), day.depot
    client = world.client

    async def tracking(customer: Any, order: dict[str, Any]) -> dict[str, Any]:
        return dict(ok(await client.get(f"/api/v1/orders/{order['id']}/tracking", headers=customer.h)))

    async def staff_position(order: dict[str, Any]) -> Any:
        view = ok(await client.get(f"/api/v1/orders/{order['id']}/tracking", headers=world.h("dispatcher")))
        return view["tanker"]["position"]

    headers = {**b.h, "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(base_url=live_server, timeout=httpx.Timeout(30.0)) as http,
        http.stream("GET", f"/api/v1/orders/{b_order['id']}/live", headers=headers) as response,
    ):
        stream = EventStream(response)
        assert (await stream.next())["event"] == "ready"

        ok(await client.post(f"/api/v1/orders/{a_order['id']}/cancel", headers=a.h, json={"reason": "plans changed"}))
        cancelled = await tracking(a, a_order)
        assert (cancelled["status"], cancelled["tanker"], cancelled["eta"], cancelled["route"]) == (
            "cancelled",
            None,
            None,
            None,
        )

        # The cab sends positions before the trip is loaded: the customers see the plate, not where the tanker is.
        clock.set(datetime.fromisoformat(trip["load_start"]) - timedelta(minutes=30))
        ok(
            await client.post(
                "/api/v1/driver/positions", headers=driver, json=positions_near(depot, clock.now(), north=0)
            )
        )
        assert (await tracking(b, b_order))["tanker"] == {"plate": day.tankers[0]["plate"], "position": None}
        assert await staff_position(b_order) is not None
        # A share link of B's order follows the same rule (the tanker's position only, never its plate).
        b_link = ok(await client.post(f"/api/v1/orders/{b_order['id']}/share", headers=b.h, json={}))
        assert ok(await client.get(f"/api/v1/share/{b_link['token']}"))["tanker"] is None

        # Loaded at the rack and on the road: B, E and F see the tanker; A (cancelled) sees nothing of it.
        clock.set(datetime.fromisoformat(trip["load_start"]))
        code = ok(await client.get(f"/api/v1/driver/trips/{trip['id']}/code", headers=driver))
        redeem = {
            "token": code["token"],
            "depot_id": depot["id"],
            "loaded_litres_observed": sum(load["litres"] for load in trip["loads"]),
            "temperature_c": 15.0,
            "vehicle_plate": day.tankers[0]["plate"],
        }
        ok(
            await client.post(
                "/api/v1/rack/redeem", headers=(await world.new_rack_operator(depot["id"])).h, json=redeem
            )
        )
        clock.advance(timedelta(minutes=20))
        ok(await client.post(f"/api/v1/driver/trips/{trip['id']}/depart", headers=driver))
        ok(
            await client.post(
                "/api/v1/driver/positions", headers=driver, json=positions_near(depot, clock.now(), north=0.01)
            )
        )
        for customer, order in ((b, b_order), (e, e_order), (f, f_order)):
            seen = await tracking(customer, order)
            assert seen["status"] == "en_route" and seen["eta"], seen
            assert seen["tanker"]["position"]["lat"] == pytest.approx(depot["lat"] + 0.01)
        shared = ok(await client.get(f"/api/v1/share/{b_link['token']}"))
        assert shared["tanker"]["lat"] == pytest.approx(depot["lat"] + 0.01) and set(shared["tanker"]) == {
            "lat",
            "lon",
            "recorded_at",
        }
        cancelled = await tracking(a, a_order)
        assert (cancelled["tanker"], cancelled["eta"], cancelled["route"]) == (None, None, None)
        a_link = ok(await client.post(f"/api/v1/orders/{a_order['id']}/share", headers=a.h, json={}))
        a_shared = ok(await client.get(f"/api/v1/share/{a_link['token']}"))
        assert (a_shared["eta"], a_shared["tanker"]) == (None, None)  # nor through a share link
        a_events = ok(await client.get(f"/api/v1/orders/{a_order['id']}/events", headers=a.h))
        assert a_events[-1]["type"] == "order_cancelled"  # no ETA moves, no `order_delayed` after it
        assert (await staff_position(a_order))["lat"] == pytest.approx(depot["lat"] + 0.01)

        # B's delivery, confirmed with its receipt code: then nothing live for B.
        receipt = ok(await client.get(f"/api/v1/orders/{b_order['id']}/receipt-code", headers=b.h))
        b_stop = day.stop_of(b_order)
        ok(await client.post(f"/api/v1/stops/{b_stop['id']}/arrive", headers=driver))
        assert (await tracking(b, b_order))["tanker"]["position"] is not None  # at B's site, not yet delivered
        deliver = {"delivered_litres_observed": b_stop["litres"], "temperature_c": 15.0}
        ok(
            await client.post(
                f"/api/v1/stops/{b_stop['id']}/deliver",
                headers=driver,
                json={**deliver, "receipt_token": receipt["token"]},
            )
        )
        delivered = await tracking(b, b_order)
        assert (delivered["status"], delivered["tanker"], delivered["eta"], delivered["route"]) == (
            "delivered",
            None,
            None,
            None,
        )
        assert ok(await client.get(f"/api/v1/share/{b_link['token']}"))["tanker"] is None

        # E has no receipt code: the proof photo is decoded and checked before it is stored.
        e_stop = day.stop_of(e_order)
        without = {**deliver, "delivered_litres_observed": e_stop["litres"], "no_receipt_reason": "site manager away"}
        attempts = [
            (photo() + b"PK\x03\x04 a zip archive appended", "image/jpeg", "trailing_data"),
            (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"garbage" * 100, "image/jpeg", "malformed"),
            (photo("PNG"), "image/jpeg", "type_mismatch"),
            (b"<svg onload='alert(1)'/>", "image/svg+xml", "type_not_allowed"),
        ]
        for raw, media_type, reason in attempts:
            refused = await client.post(
                f"/api/v1/stops/{e_stop['id']}/deliver",
                headers=driver,
                json={**without, "evidence": data_url(raw, media_type)},
            )
            assert refused.status_code == 422, refused.text
            assert (refused.json()["code"], refused.json()["field"], refused.json()["reasons"]) == (
                "invalid_evidence",
                "evidence",
                [reason],
            )
        assert ok(await client.get(f"/api/v1/orders/{e_order['id']}", headers=e.h))["status"] == "en_route"
        done = ok(
            await client.post(
                f"/api/v1/stops/{e_stop['id']}/deliver", headers=driver, json={**without, "evidence": data_url(photo())}
            )
        )
        assert (done["order_status"], done["proof"]) == ("delivered", "reason")

        # F's stop fails: nothing live for F either; staff still see the tanker.
        ok(
            await client.post(
                f"/api/v1/stops/{day.stop_of(f_order)['id']}/fail", headers=driver, json={"reason": "gate locked"}
            )
        )
        failed = await tracking(f, f_order)
        assert (failed["status"], failed["tanker"], failed["eta"], failed["route"]) == ("failed", None, None, None)
        assert await staff_position(f_order) is not None

        # B's stream: B's own order's events, none of the other customers' on the same trip.
        events = []
        while not events or events[-1]["type"] != "order_delivered":
            message = await stream.next()
            if message.get("event") not in ("ready", None):
                events.append(json.loads(message["data"]))
    assert {(event["subject_id"], event["customer_id"]) for event in events} == {(b_order["id"], b.id)}
    assert [event["type"] for event in events] == [
        "order_loaded",
        "order_en_route",
        "tanker_arrived",
        "order_delivered",
    ]


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
