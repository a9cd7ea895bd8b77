"""Idempotency keys on POST /orders and POST /pickups: retries, reuse with another body, concurrent use."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.factories import ok

pytestmark = pytest.mark.integration


async def test_retry_with_the_same_key_returns_the_first_order(world) -> None:
    customer = await world.new_customer()
    first = await customer.order(key="order-key-1")
    second = await customer.order(key="order-key-1")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert ok(await world.client.get("/api/v1/orders", headers=customer.h))["total"] == 1


async def test_same_key_with_another_body_is_a_conflict(world) -> None:
    customer = await world.new_customer()
    ok(await customer.order(key="order-key-2"), 201)
    response = await customer.order(key="order-key-2", quantity_litres=6000)
    assert response.status_code == 409 and response.json()["code"] == "idempotency_key_reused"


async def test_keys_are_per_customer(world) -> None:
    alice, bob = await world.new_customer(), await world.new_customer()
    a = ok(await alice.order(key="shared-key"), 201)
    b = ok(await bob.order(key="shared-key"), 201)
    assert a["id"] != b["id"]


async def test_a_failed_request_does_not_burn_its_key(world) -> None:
    customer = await world.new_customer()
    refused = await customer.order(key="order-key-3", quantity_litres=100)
    assert refused.status_code == 422
    # The client fixes nothing and retries the same body: same refusal, nothing stored.
    assert (await customer.order(key="order-key-3", quantity_litres=100)).status_code == 422
    assert ok(await customer.order(key="order-key-3"), 201)["status"] == "confirmed"


async def test_concurrent_requests_with_one_key_create_one_order(world, racer) -> None:
    customer = await world.new_customer()
    responses = await asyncio.gather(*(customer.order(key="burst-key", via=racer) for _ in range(6)))
    bodies = [ok(r) for r in responses]
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({b["id"] for b in bodies}) == 1
    assert ok(await world.client.get("/api/v1/orders", headers=customer.h))["total"] == 1


async def test_malformed_key_is_refused(world) -> None:
    customer = await world.new_customer()
    response = await customer.order(key="x" * 300)
    assert response.status_code == 400


async def test_a_retry_after_the_window_has_passed_still_gets_the_first_order(world, clock) -> None:
    customer = await world.new_customer()
    first = ok(await customer.order(key="late-retry"), 201)
    clock.advance(timedelta(days=2))  # the window is in the past now: a new order like it is refused
    assert (await customer.order()).status_code == 422
    again = await customer.order(key="late-retry")
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert (await customer.order(key="late-retry", quantity_litres=6000)).json()["code"] == "idempotency_key_reused"
