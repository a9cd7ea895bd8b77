"""Quotes and delivery orders through HTTP: pricing, rules, credit, cancellation, timeline, visibility."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import postgres_url
from tests.factories import ok

pytestmark = pytest.mark.integration


async def test_quote_prices_from_the_nearest_stocking_depot(world) -> None:
    customer = await world.new_customer()
    quote = ok(
        await world.client.post(
            "/api/v1/quotes",
            headers=customer.h,
            json={
                "site_id": customer.site["id"],
                "product_code": "diesel-0",
                "quantity_litres": 10_000,
                "delivery_date": "2030-01-08",
            },
        )
    )
    assert quote["quantity_litres"] == 10_000
    assert quote["quantity_kg"] == 8350  # 10,000 L × 835 kg/m³
    price = quote["price"]
    assert price["gross_minor"] == price["price_per_litre_minor"] * 10_000
    assert price["amount_minor"] == price["gross_minor"] - price["discount_minor"]
    assert quote["depot"]["distance_km"] < 5
    assert quote["within_credit"] is True


async def test_order_is_confirmed_within_credit_and_has_a_timeline(world) -> None:
    customer = await world.new_customer()
    response = await customer.order()
    order = ok(response, 201)
    assert order["status"] == "confirmed"
    assert order["window_start"] == "09:00" and order["window_end"] == "12:00"
    assert order["window_start_at"] == "2030-01-08T01:00:00Z"  # 09:00 Shanghai
    assert order["reference"].startswith("DO-300108-")
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["open_amount_minor"] == order["price"]["amount_minor"]
    events = ok(await world.client.get(f"/api/v1/orders/{order['id']}/events", headers=customer.h))
    assert [(e["type"], e["from_status"], e["to_status"]) for e in events] == [
        ("order_placed", None, "placed"),
        ("order_confirmed", "placed", "confirmed"),
    ]
    assert events[0]["actor_role"] == "customer"


async def test_order_in_kilograms_is_stored_in_litres(world) -> None:
    customer = await world.new_customer()
    order = ok(await customer.order(quantity_litres=None, quantity_kg=8350), 201)
    assert order["quantity_litres"] == 10_000
    assert order["quantity_kg"] == 8350


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"quantity_litres": 40_000}, 422, "exceeds_tank_capacity"),
        ({"quantity_litres": 100}, 422, "quantity_too_small"),
        ({"quantity_litres": 70_000}, 422, "quantity_too_large"),
        ({"quantity_kg": 5000}, 422, "quantity_required"),
        ({"quantity_litres": None}, 422, "quantity_required"),
        ({"delivery_date": "2030-01-07", "window_start": "10:00", "window_end": "12:00"}, 422, "lead_time"),
        ({"delivery_date": "2030-01-06"}, 422, "window_in_past"),
        ({"window_start": "04:00", "window_end": "07:00"}, 422, "outside_receiving_hours"),
        ({"window_start": "12:00", "window_end": "09:00"}, 422, "invalid_window"),
        ({"window_start": "09:00", "window_end": "09:15"}, 422, "window_too_short"),
        ({"delivery_date": "2030-03-20"}, 422, "too_far_ahead"),
        ({"product_code": "petrol-95"}, 422, "unknown_product"),
        ({"site_id": "00000000-0000-7000-8000-000000000000"}, 404, "site_not_found"),
        ({"window_start": "9am"}, 400, "validation_error"),
        ({"quantity_litres": -5}, 400, "validation_error"),
        ({"quantity_litres": 10**30}, 400, "validation_error"),
        ({"quantity_litres": "lots"}, 400, "validation_error"),
        ({"quantity_litres": [5000]}, 400, "validation_error"),
        ({"surprise": True}, 400, "validation_error"),
    ],
)
async def test_every_refusal_has_its_own_code_and_writes_nothing(world, overrides, status, code) -> None:
    customer = await world.new_customer()
    response = await customer.order(**overrides)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code and body["status"] == status and body["detail"]
    listing = ok(await world.client.get("/api/v1/orders", headers=customer.h))
    assert listing["total"] == 0


async def test_order_over_credit_is_held_then_confirmed_oldest_first_after_payment(world) -> None:
    customer = await world.new_customer(credit=5_000_000)  # 50,000 CNY
    first = ok(await customer.order(quantity_litres=5000), 201)  # ~39,000 CNY
    held_big = ok(await customer.order(quantity_litres=6000), 201)
    held_small = ok(await customer.order(quantity_litres=1000), 201)
    assert first["status"] == "confirmed"
    assert held_big["status"] == "on_hold" and held_big["hold_reason"] == "credit_limit"
    assert held_small["status"] == "confirmed"  # the smaller one still fits
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=world.h("admin")))
    # A payment frees credit; the held order is re-checked and confirmed.
    ok(
        await world.client.post(
            f"/api/v1/customers/{customer.id}/payments",
            headers=world.h("admin"),
            json={"amount_minor": account["open_amount_minor"], "reference": "bank 123"},
        )
    )
    again = ok(await world.client.get(f"/api/v1/orders/{held_big['id']}", headers=customer.h))
    assert again["status"] == "confirmed" and again["hold_reason"] is None
    events = ok(await world.client.get(f"/api/v1/orders/{held_big['id']}/events", headers=customer.h))
    assert [e["to_status"] for e in events] == ["placed", "on_hold", "confirmed"]


async def test_raising_the_credit_limit_releases_held_orders(world) -> None:
    customer = await world.new_customer(credit=1_000_00)
    held = ok(await customer.order(), 201)
    assert held["status"] == "on_hold"
    ok(
        await world.client.patch(
            f"/api/v1/customers/{customer.id}",
            headers=world.h("admin"),
            json={"credit_limit_minor": 10_000_000},
        )
    )
    assert ok(await world.client.get(f"/api/v1/orders/{held['id']}", headers=customer.h))["status"] == "confirmed"


async def test_two_orders_racing_for_the_last_credit_cannot_both_be_confirmed(world, racer) -> None:
    customer = await world.new_customer(credit=6_000_000)  # room for one 5,000 L order, not two
    responses = await asyncio.gather(customer.order(via=racer), customer.order(via=racer))
    statuses = sorted(ok(r, 201)["status"] for r in responses)
    assert statuses == ["confirmed", "on_hold"]
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["open_amount_minor"] <= account["credit_limit_minor"]


async def _amount_of_a_default_order(world) -> int:
    probe = await world.new_customer()
    body = {k: v for k, v in probe.order_body().items() if k not in ("window_start", "window_end")}
    return ok(await world.client.post("/api/v1/quotes", headers=probe.h, json=body))["price"]["amount_minor"]


async def test_an_order_that_takes_exactly_the_remaining_credit_is_confirmed(world) -> None:
    amount = await _amount_of_a_default_order(world)
    exact, short = await world.new_customer(credit=amount), await world.new_customer(credit=amount - 1)
    assert ok(await exact.order(), 201)["status"] == "confirmed"
    held = ok(await short.order(), 201)
    assert (held["status"], held["hold_reason"]) == ("on_hold", "credit_limit")
    events = ok(await world.client.get(f"/api/v1/orders/{held['id']}/events", headers=short.h))
    assert [(e["type"], e["actor_role"]) for e in events] == [("order_placed", "customer"), ("order_on_hold", "system")]
    assert events[1]["reason"].startswith("credit_limit")
    account = ok(await world.client.get(f"/api/v1/customers/{exact.id}", headers=exact.h))
    assert account["open_amount_minor"] == amount


async def test_many_orders_racing_for_credit_confirm_exactly_what_fits(world, app, racer) -> None:
    from sqlalchemy import select

    from core.db import create_engine
    from orders.models import CustomerAccount

    amount = await _amount_of_a_default_order(world)
    customer = await world.new_customer(credit=3 * amount + amount // 2)  # room for three, not four
    # Hold the account's row (SQLite: the database's write lock) while eight orders start, so that all of them
    # are in the database at once, each with a snapshot taken before any other was decided.
    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        async with engine.connect() as holder:
            account_id = uuid.UUID(customer.id)
            locked = select(CustomerAccount.id).where(CustomerAccount.id == account_id).with_for_update()
            await holder.execute(locked)
            racing = [asyncio.create_task(customer.order(via=racer)) for _ in range(8)]
            await asyncio.sleep(1.0)
            assert not any(task.done() for task in racing)
            await holder.commit()
        responses = await asyncio.gather(*racing)
    finally:
        await engine.dispose()
    statuses = sorted(ok(r, 201)["status"] for r in responses)
    assert statuses == ["confirmed"] * 3 + ["on_hold"] * 5
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["open_amount_minor"] == 3 * amount


async def test_a_reference_drawn_twice_never_stores_two_orders_under_it(world, monkeypatch) -> None:
    from orders import delivery

    customer = await world.new_customer()
    first = ok(await customer.order(), 201)
    monkeypatch.setattr(delivery, "new_reference", lambda prefix, day: first["reference"])
    response = await customer.order(key="reference-clash")
    listed = ok(await world.client.get("/api/v1/orders", headers=customer.h))
    if postgres_url() is not None:  # the one statement wrote nothing and was sent again with a new draw
        second = ok(response, 201)
        assert second["reference"] != first["reference"] and second["status"] == "confirmed"
        assert listed["total"] == 2
    else:  # the unit of work rolled back: the client sends it again, its key is not burnt
        assert response.status_code == 409 and response.json()["code"] == "order_conflict"
        assert listed["total"] == 1
        monkeypatch.undo()
        assert ok(await customer.order(key="reference-clash"), 201)["reference"] != first["reference"]


async def test_cancel_releases_credit_and_cannot_happen_twice(world) -> None:
    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    cancelled = ok(
        await world.client.post(
            f"/api/v1/orders/{order['id']}/cancel",
            headers=customer.h,
            json={"reason": "site closed for inspection"},
        )
    )
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "site closed for inspection"
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["open_amount_minor"] == 0
    again = await world.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=customer.h, json={})
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


async def test_a_customer_never_sees_another_customers_order(world) -> None:
    alice, bob = await world.new_customer(), await world.new_customer()
    order = ok(await alice.order(), 201)
    for method, path in [
        ("GET", f"/api/v1/orders/{order['id']}"),
        ("GET", f"/api/v1/orders/{order['id']}/events"),
        ("POST", f"/api/v1/orders/{order['id']}/cancel"),
        ("GET", f"/api/v1/customers/{alice.id}"),
        ("GET", f"/api/v1/sites/{alice.site['id']}"),
    ]:
        response = await world.client.request(method, path, headers=bob.h, json={} if method == "POST" else None)
        assert response.status_code == 404, (path, response.text)
        assert order["reference"] not in response.text
    assert ok(await world.client.get("/api/v1/orders", headers=bob.h))["total"] == 0
    # Bob cannot order to Alice's site either.
    response = await bob.order(site_id=alice.site["id"])
    assert response.status_code == 404
    # Staff see everything.
    listing = ok(await world.client.get(f"/api/v1/orders?customer_id={alice.id}", headers=world.h("dispatcher")))
    assert [o["id"] for o in listing["items"]] == [order["id"]]


async def test_order_list_filters_and_pages(world) -> None:
    customer = await world.new_customer()
    for _ in range(3):
        ok(await customer.order(), 201)
    ok(await customer.order(delivery_date="2030-01-09"), 201)
    page = ok(await world.client.get("/api/v1/orders?date=2030-01-08&limit=2", headers=customer.h))
    assert page["total"] == 3 and len(page["items"]) == 2 and page["limit"] == 2
    rest = ok(await world.client.get("/api/v1/orders?date=2030-01-08&limit=2&offset=2", headers=customer.h))
    assert len(rest["items"]) == 1
    assert ok(await world.client.get("/api/v1/orders?status=on_hold", headers=customer.h))["total"] == 0
    bad = await world.client.get("/api/v1/orders?status=teleported", headers=customer.h)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_status"


async def test_staff_cannot_place_orders_and_customers_cannot_set_prices(world) -> None:
    customer = await world.new_customer()
    response = await world.client.post("/api/v1/orders", headers=world.h("dispatcher"), json=customer.order_body())
    assert response.status_code == 403
    response = await world.client.put("/api/v1/prices", headers=customer.h, json=[])
    assert response.status_code == 403


async def test_money_beyond_32_bits_is_stored_exactly(world) -> None:
    customer = await world.new_customer(credit=10**12)  # 10 billion CNY in fen: past 2^31
    order = ok(await customer.order(), 201)
    assert order["status"] == "confirmed"
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["credit_limit_minor"] == 10**12
    assert account["available_credit_minor"] == 10**12 - order["price"]["amount_minor"]
