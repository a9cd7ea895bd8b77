"""The delivery promise over HTTP: the windows the fleet can still serve, an order's place taken when it is placed
(two customers racing for the last place get one yes and one 409 `window_full`), a cancellation freeing it, and the
earliest window a quote can promise.

Each test has a depot of its own far from the others (south of Hangzhou), with one tanker of two 6,000 L
compartments whose rack loads only from 06:00 to 07:00: one trip a day, so once both compartments are taken the
day is full.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import date
from typing import Any

import pytest

from tests.factories import EVERY_DAY, FIRST_DAY, Customer, World, new_fleet, ok

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fleet_promise")]

DAY = "2030-01-08"  # the frozen clock is 2030-01-07 09:00 in Shanghai


async def _small_day(world: World, lon: float) -> tuple[dict[str, Any], Customer]:
    """The depot, its one tanker and the first order (6,000 L, 08:00-10:00): one compartment left."""
    code = f"pr-{uuid.uuid4().hex[:6]}"
    depot = ok(
        await world.client.post(
            "/api/v1/depots",
            headers=world.h("admin"),
            json={
                "code": code,
                "name": f"Depot {code}",
                "lat": 28.5,
                "lon": lon,
                "timezone": "Asia/Shanghai",
                "opening_hours": [{"days": EVERY_DAY, "open": "06:00", "close": "07:00"}],
                "loading_bays": 2,
                "products": ["diesel-0"],
            },
        )
    )
    prices = [
        {
            "depot_id": depot["id"],
            "product_code": "diesel-0",
            "valid_from": FIRST_DAY.isoformat(),
            "price_per_litre_minor": 780,
        }
    ]
    ok(await world.client.put("/api/v1/prices", headers=world.h("admin"), json=prices))
    await new_fleet(world, depot, tankers=1, compartments=[6000, 6000])
    first = await world.new_customer(lat=28.51, lon=lon + 0.01)
    order = ok(
        await first.order(delivery_date=DAY, quantity_litres=6000, window_start="08:00", window_end="10:00"), 201
    )
    assert order["depot_id"] == depot["id"] and order["status"] == "confirmed"
    return depot, first


async def _windows(customer: Customer, litres: int = 6000, day: str = DAY) -> dict[str, dict[str, Any]]:
    query = {"site_id": customer.site["id"], "product_code": "diesel-0", "quantity_litres": litres, "date": day}
    windows = ok(await customer.world.client.get("/api/v1/availability", headers=customer.h, params=query))
    return {w["window_start"]: w for w in windows}


async def test_the_last_compartment_serves_one_window_and_not_the_next_with_the_reason(world) -> None:
    await _small_day(world, 116.0)
    second = await world.new_customer(lat=28.52, lon=116.02)
    windows = await _windows(second)
    assert list(windows)[:3] == ["06:00", "08:00", "10:00"] and windows["10:00"]["window_end"] == "12:00"
    assert windows["10:00"]["feasible"] is True and windows["10:00"]["marginal_cost_minor"] > 0
    assert "reason" not in windows["10:00"]
    # The driver's day ends (11 h of duty from the 06:00 loading): a window that is served, then the next is not.
    starts = list(windows)
    last_yes = max(i for i, s in enumerate(starts) if windows[s]["feasible"])
    assert last_yes + 1 < len(starts)
    refused = windows[starts[last_yes + 1]]
    assert refused["feasible"] is False and refused["reason"] == "shift_ends" and "marginal_cost_minor" not in refused
    # A bigger order than the compartment left: no loaded trip has room, and the rack is closed for a second trip.
    assert (await _windows(second, litres=7000))["10:00"]["reason"] == "compartments_full"

    ok(await second.order(delivery_date=DAY, quantity_litres=6000, window_start="10:00", window_end="12:00"), 201)
    third = await world.new_customer(lat=28.49, lon=116.01)
    full = await _windows(third, litres=1000)
    # Only a delivery before 08:00 still fits: a short trip of its own before the rack closes at 07:00.
    assert [s for s, w in full.items() if w["feasible"]] == ["06:00"]
    assert full["10:00"]["reason"] == "compartments_full"
    # An order sent without asking first is checked the same way.
    refused_order = await third.order(delivery_date=DAY, quantity_litres=1000, window_start="12:00", window_end="14:00")
    assert refused_order.status_code == 409 and refused_order.json()["code"] == "window_full"


@pytest.mark.parametrize("fleet_promise", ["flag"], indirect=True)
async def test_with_the_promise_flagging_an_order_the_fleet_cannot_fit_is_taken_and_flagged(world) -> None:
    await _small_day(world, 116.3)
    second = await world.new_customer(lat=28.52, lon=116.32)
    ok(await second.order(delivery_date=DAY, quantity_litres=6000, window_start="10:00", window_end="12:00"), 201)
    third = await world.new_customer(lat=28.49, lon=116.31)
    taken = ok(
        await third.order(delivery_date=DAY, quantity_litres=1000, window_start="12:00", window_end="14:00"), 201
    )
    events = ok(await world.client.get(f"/api/v1/orders/{taken['id']}/events", headers=world.h("dispatcher")))
    items = events["items"] if isinstance(events, dict) else events
    assert "order_window_at_risk" in [e["type"] for e in items]
    # The one that fitted is not flagged.
    fits = ok(await second.order(delivery_date=DAY, quantity_litres=500, window_start="06:00", window_end="08:00"), 201)
    fitted = ok(await world.client.get(f"/api/v1/orders/{fits['id']}/events", headers=world.h("dispatcher")))
    assert "order_window_at_risk" not in [e["type"] for e in (fitted["items"] if isinstance(fitted, dict) else fitted)]


async def test_racing_customers_get_one_yes_and_one_window_full_and_a_cancellation_frees_the_place(
    world, racer
) -> None:
    await _small_day(world, 117.0)
    alice = await world.new_customer(lat=28.52, lon=117.02)
    bob = await world.new_customer(lat=28.49, lon=117.01)
    responses = await asyncio.gather(
        alice.order(
            f"a-{uuid.uuid4()}",
            via=racer,
            delivery_date=DAY,
            quantity_litres=6000,
            window_start="10:00",
            window_end="12:00",
        ),
        bob.order(
            f"b-{uuid.uuid4()}",
            via=racer,
            delivery_date=DAY,
            quantity_litres=6000,
            window_start="10:00",
            window_end="12:00",
        ),
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    loser_response = next(r for r in responses if r.status_code == 409)
    assert loser_response.json()["code"] == "window_full"
    winner, loser = (alice, bob) if responses[0].status_code == 201 else (bob, alice)
    assert (await _windows(loser))["10:00"]["feasible"] is False

    order = responses[0].json() if winner is alice else responses[1].json()
    ok(await winner.world.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=winner.h, json={"reason": "x"}))
    freed = await _windows(loser)
    assert freed["10:00"]["feasible"] is True
    ok(await loser.order(delivery_date=DAY, quantity_litres=6000, window_start="10:00", window_end="12:00"), 201)


async def test_a_quote_names_the_earliest_window_and_whether_it_keeps_the_24_hour_promise(world) -> None:
    await _small_day(world, 118.0)
    second = await world.new_customer(lat=28.52, lon=118.02)
    body = {"site_id": second.site["id"], "product_code": "diesel-0", "quantity_litres": 6000, "delivery_date": DAY}
    quote = ok(await world.client.post("/api/v1/quotes", headers=second.h, json=body))
    earliest = quote["earliest_window"]
    assert earliest["delivery_date"] == DAY and earliest["window_start"] == "06:00"
    assert earliest["within_promise"] is True and earliest["promise_hours"] == 24

    ok(await second.order(delivery_date=DAY, quantity_litres=6000, window_start="10:00", window_end="12:00"), 201)
    quote = ok(await world.client.post("/api/v1/quotes", headers=second.h, json=body))
    earliest = quote["earliest_window"]  # the day is full: the next day's first window, beyond the promise
    assert earliest["delivery_date"] == "2030-01-09" and earliest["window_start"] == "06:00"
    assert earliest["within_promise"] is False


async def test_availability_checks_its_input_and_its_viewer(world) -> None:
    _, first = await _small_day(world, 119.0)
    other = await world.new_customer(lat=28.52, lon=119.02)
    query = {"site_id": first.site["id"], "product_code": "diesel-0", "quantity_litres": 6000, "date": DAY}
    not_mine = await world.client.get("/api/v1/availability", headers=other.h, params=query)
    assert not_mine.status_code == 404 and not_mine.json()["code"] == "site_not_found"
    bad = await world.client.get("/api/v1/availability", headers=first.h, params={**query, "quantity_litres": 0})
    assert bad.status_code == 400
    too_little = await world.client.get(
        "/api/v1/availability", headers=first.h, params={**query, "quantity_litres": 10}
    )
    assert too_little.status_code in (400, 422) and too_little.json()["code"]


async def test_availability_checks_the_date_as_a_quote_does(world) -> None:
    _, first = await _small_day(world, 119.3)
    query = {"site_id": first.site["id"], "product_code": "diesel-0", "quantity_litres": 6000}
    body = {**query, "quantity_litres": 6000, "delivery_date": ""}
    for day, code in [("9999-12-30", "too_far_ahead"), ("2030-01-06", "date_in_past")]:
        answer = await world.client.get("/api/v1/availability", headers=first.h, params={**query, "date": day})
        quote = await world.client.post("/api/v1/quotes", headers=first.h, json={**body, "delivery_date": day})
        assert answer.status_code == quote.status_code == 422, (answer.text, quote.text)
        assert answer.json()["code"] == quote.json()["code"] == code
        assert answer.json()["field"] == "delivery_date"
    # Today (in the site's time zone) and the last day ahead (30 days) are asked about.
    for day in ("2030-01-07", "2030-02-06"):
        assert (
            await world.client.get("/api/v1/availability", headers=first.h, params={**query, "date": day})
        ).is_success
    late = await world.client.get("/api/v1/availability", headers=first.h, params={**query, "date": "2030-02-07"})
    assert late.status_code == 422 and late.json()["code"] == "too_far_ahead"


async def test_when_the_fleet_is_full_the_answers_say_so_and_propose_the_next_window_and_a_pickup_slot(world) -> None:
    depot, _ = await _small_day(world, 118.3)
    second = await world.new_customer(lat=28.52, lon=118.32)
    body = {"site_id": second.site["id"], "product_code": "diesel-0", "quantity_litres": 6000, "delivery_date": DAY}
    query = {"site_id": second.site["id"], "product_code": "diesel-0", "quantity_litres": 6000, "date": DAY}
    room = await world.client.get("/api/v1/availability", headers=second.h, params=query)
    assert room.headers["x-fleet-full"] == "false"
    quote = ok(await world.client.post("/api/v1/quotes", headers=second.h, json=body))
    assert quote["fleet_full"] is False and quote["pickup_alternative"] is None
    assert quote["earliest_window"]["delivery_date"] == DAY

    ok(await second.order(delivery_date=DAY, quantity_litres=6000, window_start="10:00", window_end="12:00"), 201)
    full = await world.client.get("/api/v1/availability", headers=second.h, params=query)
    assert full.status_code == 200 and full.headers["x-fleet-full"] == "true"
    assert all(set(w) >= {"window_start", "window_end", "feasible"} for w in full.json())  # the list as before
    quote = ok(await world.client.post("/api/v1/quotes", headers=second.h, json=body))
    assert quote["fleet_full"] is True
    assert quote["earliest_window"]["delivery_date"] == "2030-01-09"  # the next feasible window, another day
    pickup = quote["pickup_alternative"]
    # The depot's first loading slot with a place left on the day asked (its rack: 06:00-07:00, 2 bays).
    assert pickup["depot_id"] == depot["id"] and pickup["depot_name"] == depot["name"]
    assert (
        pickup["slot_start_at"] == "2030-01-08T06:00:00+08:00" and pickup["slot_end_at"] == "2030-01-08T06:30:00+08:00"
    )
    assert pickup["places_left"] == 2
    # The slot proposed is one the customer can book.
    booking = {
        "depot_id": pickup["depot_id"],
        "product_code": "diesel-0",
        "quantity_litres": 6000,
        "slot_start": pickup["slot_start_at"],
        "vehicle_plate": "沪A12345",
        "driver_name": "Wang",
        "driver_phone": "13800000000",
    }
    ok(await world.client.post("/api/v1/pickups", headers=second.h, json=booking), 201)
    slots = ok(
        await world.client.get(
            f"/api/v1/depots/{depot['id']}/slots", headers=second.h, params={"date": DAY, "product_code": "diesel-0"}
        )
    )
    assert slots[0]["remaining"] == 1


async def test_the_openapi_documents_the_fleet_full_header_the_proposals_and_the_plan_start(client) -> None:
    doc = (await client.get("/schema/openapi.json")).json()
    availability = doc["paths"]["/api/v1/availability"]["get"]
    assert "X-Fleet-Full" in availability["responses"]["200"]["headers"]
    schemas = doc["components"]["schemas"]
    quote = next(v for k, v in schemas.items() if k.endswith("QuoteOut"))
    assert {"fleet_full", "pickup_alternative", "earliest_window"} <= set(quote["properties"])
    plan_request = next(v for k, v in schemas.items() if k.endswith("PlanRequest"))
    assert plan_request["properties"]["start_from"]["enum"] == ["cold", "tentative"]


async def test_the_kept_day_follows_orders_taken_and_cancelled_as_a_day_built_afresh(world, app) -> None:
    """The day kept between requests (grown by new orders, shrunk by a cancellation) is the day dispatch.builder
    builds from the database: the same jobs, a matrix equal to one computed afresh, a plan the checker accepts."""
    from core.db import create_engine, session_factory
    from dispatch.builder import build_day
    from promise import day as promise_day
    from promise.day import HOLDING, load_day
    from routing import GeodesicProvider, check

    depot, _ = await _small_day(world, 120.0)
    await new_fleet(world, depot, tankers=1, compartments=[8000, 8000, 6000])
    depot_id, day = uuid.UUID(depot["id"]), date.fromisoformat(DAY)
    engine = create_engine(app.state.settings.db.url, null_pool=True)

    async def same_as_afresh(jobs: int, site: tuple[float, float]) -> None:
        async with session_factory(engine)() as session:
            kept = await load_day(session, depot_id=depot_id, day=day, default_tz="Asia/Shanghai", extra_point=site)
            fresh = await build_day(
                session, day=day, depot_id=depot_id, time_limit_s=1.0, default_tz="Asia/Shanghai", statuses=HOLDING
            )
        problem = kept.tentative.problem
        assert {j.id: j for j in problem.jobs} == {j.id: j for j in fresh.problem.jobs}
        assert len(problem.jobs) == jobs
        assert problem.tankers == fresh.problem.tankers and problem.depots == fresh.problem.depots
        points = [(d.lat, d.lon) for d in problem.depots] + [(j.lat, j.lon) for j in problem.jobs] + [site]
        afresh = GeodesicProvider().matrix(points)
        assert [list(r) for r in afresh.distances_m] == kept.tentative.matrix.distances_m
        assert [list(r) for r in afresh.durations_s] == kept.tentative.matrix.durations_s
        solution = kept.tentative.solution()
        assert not solution.unassigned and check(problem, solution) == []

    try:
        await same_as_afresh(1, (28.6, 120.1))  # built from nothing in this thread, then kept
        kept_day = promise_day._days[(depot_id, day, threading.get_ident())]
        orders = []
        for k, (start, end) in enumerate([("10:00", "12:00"), ("12:00", "14:00"), ("08:00", "10:00")]):
            customer = await world.new_customer(lat=28.5 + 0.01 * k, lon=120.02 + 0.01 * k)
            await _windows(customer, litres=3000)
            body = {"delivery_date": DAY, "quantity_litres": 3000, "window_start": start, "window_end": end}
            orders.append(ok(await customer.order(**body), 201))
        await same_as_afresh(4, (28.61, 120.1))  # grown by three
        cancel = f"/api/v1/orders/{orders[1]['id']}/cancel"
        ok(await world.client.post(cancel, headers=world.h("admin"), json={"reason": "x"}))
        await same_as_afresh(3, (28.62, 120.1))  # one left
        late = await world.new_customer(lat=28.47, lon=120.03)
        ok(await late.order(delivery_date=DAY, quantity_litres=2000, window_start="14:00", window_end="16:00"), 201)
        await same_as_afresh(4, (28.6, 120.1))
        # The same kept day all along, brought up to date at each request.
        assert promise_day._days[(depot_id, day, threading.get_ident())] is kept_day and kept_day.insertions == 4
    finally:
        await engine.dispose()
