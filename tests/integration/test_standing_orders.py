"""Regular orders through HTTP and the periodic task: standing orders place real orders ahead of the cut-off, once
per occurrence however often (or however many at once) the task runs; a refusal is kept and told to the account;
"the same again" (POST /orders/{id}/repeat) places a new order like an old one."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import T0
from tests.factories import Customer, ok
from tests.integration.test_account_people import add_person, problem

pytestmark = pytest.mark.integration
API = "/api/v1"
# The frozen clock: Monday 2030-01-07 09:00 in Shanghai. Orders are placed up to 2 days before their cut-off
# (the window's start less the 4-h lead time).
TUESDAY, WEDNESDAY, THURSDAY = "2030-01-08", "2030-01-09", "2030-01-10"


def schedule(customer: Customer, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "site_id": customer.site["id"],
        "product_code": "diesel-0",
        "quantity_litres": 6000,
        "weekdays": [2, 3],
        "window_start": "09:00",
        "window_end": "12:00",
        "starts_on": "2030-01-07",
    }
    body.update(overrides)
    return body


async def run_task(settings: Any, now: Any = None, *, times: int = 1) -> list[dict[str, int]]:
    """The periodic task's pass (orders.tasks.standing_orders), `times` of them at once, each with its engine."""
    from core.db import create_engine, session_factory
    from orders.standing import run_due

    engines = [create_engine(settings.db.url, null_pool=True) for _ in range(times)]
    try:
        return list(
            await asyncio.gather(*(run_due(session_factory(e), now=now or T0, rules=settings.rules) for e in engines))
        )
    finally:
        for engine in engines:
            await engine.dispose()


async def orders_of(customer: Customer) -> list[dict[str, Any]]:
    page = ok(await customer.world.client.get(f"{API}/orders?limit=200", headers=customer.h))
    return sorted(page["items"], key=lambda o: o["delivery_date"])


async def test_a_standing_order_places_each_occurrence_once_however_often_the_task_runs(world, settings) -> None:
    customer = await world.new_customer()
    made = ok(await world.client.post(f"{API}/standing-orders", headers=customer.h, json=schedule(customer)), 201)
    assert (made["status"], made["weekdays"]) == ("active", [2, 3])
    first = await run_task(settings)
    assert first[0]["placed"] == 2
    placed = await orders_of(customer)
    assert [(o["delivery_date"], o["window_start"], o["quantity_litres"], o["status"]) for o in placed] == [
        (TUESDAY, "09:00", 6000, "confirmed"),
        (WEDNESDAY, "09:00", 6000, "confirmed"),
    ]
    # Again, late, and twice at once: nothing more.
    await run_task(settings, T0 + timedelta(minutes=5), times=2)
    await run_task(settings, T0 + timedelta(hours=3))
    assert len(await orders_of(customer)) == 2
    shown = ok(await world.client.get(f"{API}/standing-orders/{made['id']}", headers=customer.h))
    assert sorted((r["delivery_date"], r["code"]) for r in shown["runs"]) == [(TUESDAY, None), (WEDNESDAY, None)]
    assert {r["order_id"] for r in shown["runs"]} == {o["id"] for o in placed}
    # Thursday's time comes a day later; after cancelling, nothing more is placed.
    await run_task(settings, T0 + timedelta(days=1))
    assert [o["delivery_date"] for o in await orders_of(customer)] == [TUESDAY, WEDNESDAY]
    ok(await world.client.delete(f"{API}/standing-orders/{made['id']}", headers=customer.h))
    await run_task(settings, T0 + timedelta(days=7))
    assert len(await orders_of(customer)) == 2
    listed = ok(await world.client.get(f"{API}/standing-orders", headers=customer.h))
    assert [(s["id"], s["status"]) for s in listed["items"]] == [(made["id"], "cancelled")]


async def test_occurrences_racing_in_many_task_runs_are_placed_once(world, settings) -> None:
    customer = await world.new_customer()
    for weekdays in ([2], [3]):
        body = schedule(customer, weekdays=weekdays)
        ok(await world.client.post(f"{API}/standing-orders", headers=customer.h, json=body), 201)
    results = await run_task(settings, times=4)
    assert sum(r["placed"] for r in results) == 2
    assert [o["delivery_date"] for o in await orders_of(customer)] == [TUESDAY, WEDNESDAY]


async def test_a_refused_occurrence_is_kept_and_told_to_the_account(world, settings) -> None:
    from notify.config import NotifySettings
    from notify.tasks import outbox_pass

    customer = await world.new_customer()
    viewer = await add_person(customer, "viewer")
    finance = await add_person(customer, "finance")
    made = ok(
        await world.client.post(
            f"{API}/standing-orders", headers=customer.h, json=schedule(customer, quantity_litres=20_000)
        ),
        201,
    )
    # The site's tank shrinks below the standing quantity: the tank refuses Tuesday's order.
    site = {k: customer.site[k] for k in ("name", "address", "lat", "lon", "receiving_hours")}
    ok(
        await world.client.put(
            f"{API}/sites/{customer.site['id']}", headers=customer.h, json={**site, "tank_capacity_litres": 10_000}
        )
    )
    result = (await run_task(settings))[0]
    assert (result["placed"], result["refused"]) == (0, 2)
    assert await orders_of(customer) == []
    shown = ok(await world.client.get(f"{API}/standing-orders/{made['id']}", headers=customer.h))
    assert {r["code"] for r in shown["runs"]} == {"exceeds_tank_capacity"}
    assert (await run_task(settings))[0]["refused"] == 0  # told once

    async def told(person: Any) -> list[dict[str, Any]]:
        items = ok(await world.client.get(f"{API}/me/notifications", headers=person.h))["items"]
        return [n for n in items if n["kind"] == "standing_order_refused"]

    for _ in range(20):
        await outbox_pass(settings=NotifySettings(), app_settings=settings, enqueue=lambda *_: None)
        if len(await told(customer)) == 2:
            break
    notes = await told(customer)
    assert len(notes) == 2 and {TUESDAY, WEDNESDAY} <= {n["body"][n["body"].find("2030") :][:10] for n in notes}
    assert len(await told(viewer)) == 2 and await told(finance) == []


async def test_an_occurrence_whose_cut_off_passed_unplaced_is_told_not_placed(world, settings) -> None:
    customer = await world.new_customer()
    made = ok(
        await world.client.post(f"{API}/standing-orders", headers=customer.h, json=schedule(customer, weekdays=[2])),
        201,
    )
    # The task did not run until after Tuesday's cut-off (05:00 local, 21:00 UTC the day before).
    result = (await run_task(settings, T0 + timedelta(hours=21)))[0]
    assert result["refused"] == 1 and await orders_of(customer) == []
    runs = ok(await world.client.get(f"{API}/standing-orders/{made['id']}", headers=customer.h))["runs"]
    assert [(r["delivery_date"], r["code"]) for r in runs] == [(TUESDAY, "lead_time")]


async def test_a_standing_order_of_an_orderer_with_a_limit_waits_for_approval(world, settings) -> None:
    customer = await world.new_customer()
    orderer = await add_person(customer, "orderer", limit=0)
    ok(
        await world.client.post(f"{API}/standing-orders", headers=orderer.h, json=schedule(customer, weekdays=[2])),
        201,
    )
    await run_task(settings)
    assert [o["status"] for o in await orders_of(customer)] == ["awaiting_approval"]


async def test_standing_orders_are_checked_kept_to_their_account_and_made_once_per_key(world) -> None:
    customer, other = await world.new_customer(), await world.new_customer()
    c = world.client
    for bad, code in (
        (schedule(customer, weekdays=[0, 8]), "invalid_weekdays"),
        (schedule(customer, weekdays=[2, 2]), "invalid_weekdays"),
        (schedule(customer, window_end="08:00"), "invalid_window"),
        (schedule(customer, ends_on="2030-01-01"), "invalid_period"),
        (schedule(customer, starts_on="2029-12-01"), "starts_in_past"),
        (schedule(customer, quantity_litres=40_000), "exceeds_tank_capacity"),
    ):
        problem(await c.post(f"{API}/standing-orders", headers=customer.h, json=bad), 422, code)
    problem(await c.post(f"{API}/standing-orders", headers=other.h, json=schedule(customer)), 404, "site_not_found")
    headers = {**customer.h, "Idempotency-Key": "weekly-1"}
    first = ok(await c.post(f"{API}/standing-orders", headers=headers, json=schedule(customer)), 201)
    again = ok(await c.post(f"{API}/standing-orders", headers=headers, json=schedule(customer)), 200)
    assert again["id"] == first["id"]
    problem(
        await c.post(f"{API}/standing-orders", headers=headers, json=schedule(customer, weekdays=[5])),
        409,
        "idempotency_key_reused",
    )
    problem(await c.get(f"{API}/standing-orders/{first['id']}", headers=other.h), 404, "standing_order_not_found")
    problem(await c.delete(f"{API}/standing-orders/{first['id']}", headers=other.h), 404, "standing_order_not_found")
    viewer = await add_person(customer, "viewer")
    assert ok(await c.get(f"{API}/standing-orders/{first['id']}", headers=viewer.h))["id"] == first["id"]
    problem(
        await c.post(f"{API}/standing-orders", headers=viewer.h, json=schedule(customer)),
        403,
        "customer_role_forbidden",
    )
    problem(await c.delete(f"{API}/standing-orders/{first['id']}", headers=viewer.h), 403, "customer_role_forbidden")


# --- the same again ------------------------------------------------------------------------------------------------


async def test_the_same_again_orders_like_the_first_for_another_day(world) -> None:
    customer, other = await world.new_customer(), await world.new_customer()
    c = world.client
    first = ok(
        await customer.order(quantity_litres=None, quantity_kg=5010, window_start="13:00", window_end="16:00"), 201
    )
    headers = {**customer.h, "Idempotency-Key": "again-1"}
    url = f"{API}/orders/{first['id']}/repeat"
    again = ok(await c.post(url, headers=headers, json={"delivery_date": THURSDAY}), 201)
    assert again["id"] != first["id"] and again["status"] == "confirmed"
    same = ("site_id", "product_code", "quantity_litres", "quantity_kg", "window_start", "window_end")
    assert {k: again[k] for k in same} == {k: first[k] for k in same}
    assert again["delivery_date"] == THURSDAY
    assert ok(await c.post(url, headers=headers, json={"delivery_date": THURSDAY}), 200)["id"] == again["id"]
    problem(await c.post(url, headers=headers, json={"delivery_date": WEDNESDAY}), 409, "idempotency_key_reused")
    # The rules hold as for any order; another account's order is not there; a viewer orders nothing.
    problem(await c.post(url, headers=customer.h, json={"delivery_date": "2030-01-06"}), 422, "window_in_past")
    problem(await c.post(url, headers=other.h, json={"delivery_date": THURSDAY}), 404, "order_not_found")
    viewer = await add_person(customer, "viewer")
    problem(await c.post(url, headers=viewer.h, json={"delivery_date": THURSDAY}), 403, "customer_role_forbidden")
    # An orderer's repeat above its limit waits for approval, as its order would.
    orderer = await add_person(customer, "orderer", limit=0)
    waiting = ok(await c.post(url, headers=orderer.h, json={"delivery_date": THURSDAY}), 201)
    assert waiting["status"] == "awaiting_approval"
