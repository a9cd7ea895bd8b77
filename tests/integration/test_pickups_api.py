"""Digital pickup bookings: slots, booking the last place under a race, validation, cancellation, expiry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.factories import ok

pytestmark = pytest.mark.integration
SLOT = "2030-01-08T10:00:00+08:00"


def booking(depot_id: str, /, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "depot_id": depot_id,
        "product_code": "diesel-0",
        "quantity_litres": 20_000,
        "slot_start": SLOT,
        "vehicle_plate": "沪A·12345",
        "driver_name": "张伟",
        "driver_phone": "138 0013 8000",
    }
    body.update(overrides)
    return body


async def test_slots_cover_opening_hours_with_one_place_per_bay(world) -> None:
    depot = await world.new_depot(bays=3)
    customer = await world.new_customer()
    slots = ok(await world.client.get(f"/api/v1/depots/{depot['id']}/slots?date=2030-01-08", headers=customer.h))
    assert len(slots) == 32  # 06:00-22:00 in 30-minute slots
    assert slots[0]["start"] == "2030-01-08T06:00:00+08:00" and slots[0]["end"] == "2030-01-08T06:30:00+08:00"
    assert {s["capacity"] for s in slots} == {3} and {s["remaining"] for s in slots} == {3}


async def test_booking_takes_a_place_and_is_stored_as_given(world) -> None:
    depot = await world.new_depot(bays=2)
    customer = await world.new_customer()
    booked = ok(await world.client.post("/api/v1/pickups", headers=customer.h, json=booking(depot["id"])), 201)
    assert booked["status"] == "booked"
    assert booked["vehicle_plate"] == "沪A12345" and booked["driver_phone"] == "13800138000"
    assert booked["slot_start"] == SLOT and booked["slot_end"] == "2030-01-08T10:30:00+08:00"
    assert booked["reference"].startswith("PU-300108-")
    assert booked["price"]["amount_minor"] == 20_000 * booked["price"]["price_per_litre_minor"]
    slots = ok(await world.client.get(f"/api/v1/depots/{depot['id']}/slots?date=2030-01-08", headers=customer.h))
    ten = next(s for s in slots if s["start"] == SLOT)
    assert ten["remaining"] == 1
    again = ok(await world.client.get(f"/api/v1/pickups/{booked['id']}", headers=customer.h))
    assert again == booked


async def test_the_last_place_goes_to_exactly_one_of_two_racing_requests(world, racer) -> None:
    depot = await world.new_depot(bays=1)
    alice, bob = await world.new_customer(), await world.new_customer()
    responses = await asyncio.gather(
        racer.post("/api/v1/pickups", headers=alice.h, json=booking(depot["id"])),
        racer.post("/api/v1/pickups", headers=bob.h, json=booking(depot["id"], vehicle_plate="沪B54321")),
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.json()["code"] == "slot_full"
    slots = ok(await world.client.get(f"/api/v1/depots/{depot['id']}/slots?date=2030-01-08", headers=alice.h))
    assert next(s for s in slots if s["start"] == SLOT)["remaining"] == 0


async def test_many_racers_never_overbook_a_slot(world, racer) -> None:
    depot = await world.new_depot(bays=3)
    customers = [await world.new_customer() for _ in range(8)]
    responses = await asyncio.gather(
        *(racer.post("/api/v1/pickups", headers=c.h, json=booking(depot["id"])) for c in customers)
    )
    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 5


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"vehicle_plate": "!!"}, 422, "invalid_plate"),
        ({"driver_phone": "call me maybe"}, 422, "invalid_phone"),
        ({"slot_start": "2030-01-08T10:10:00+08:00"}, 422, "invalid_slot"),
        ({"slot_start": "2030-01-08T23:00:00+08:00"}, 422, "invalid_slot"),
        ({"slot_start": "2030-01-07T08:00:00+08:00"}, 422, "slot_in_past"),
        ({"slot_start": "2030-01-08T10:00:00"}, 400, "validation_error"),  # no offset: ambiguous
        ({"product_code": "petrol-95"}, 422, "unknown_product"),
        ({"quantity_litres": 100}, 422, "quantity_too_small"),
        ({"depot_id": "00000000-0000-7000-8000-000000000000"}, 404, "depot_not_found"),
    ],
)
async def test_booking_refusals(world, overrides, status, code) -> None:
    depot = await world.new_depot(bays=2)
    customer = await world.new_customer()
    response = await world.client.post("/api/v1/pickups", headers=customer.h, json=booking(depot["id"], **overrides))
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert ok(await world.client.get("/api/v1/pickups", headers=customer.h))["total"] == 0


async def test_product_not_stocked_and_credit_refusals(world) -> None:
    depot = await world.new_depot(bays=2, products=["diesel-0"])
    customer = await world.new_customer(credit=100_00)
    response = await world.client.post(
        "/api/v1/pickups", headers=customer.h, json=booking(depot["id"], product_code="diesel-m35")
    )
    assert response.status_code == 422 and response.json()["code"] == "product_not_stocked"
    response = await world.client.post("/api/v1/pickups", headers=customer.h, json=booking(depot["id"]))
    assert response.status_code == 409 and response.json()["code"] == "credit_limit"


async def test_idempotent_booking_and_cancellation_frees_the_place(world) -> None:
    depot = await world.new_depot(bays=1)
    customer = await world.new_customer()
    headers = {**customer.h, "Idempotency-Key": "pickup-1"}
    first = await world.client.post("/api/v1/pickups", headers=headers, json=booking(depot["id"]))
    second = await world.client.post("/api/v1/pickups", headers=headers, json=booking(depot["id"]))
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    cancelled = ok(
        await world.client.post(
            f"/api/v1/pickups/{first.json()['id']}/cancel", headers=customer.h, json={"reason": "truck broke down"}
        )
    )
    assert cancelled["status"] == "cancelled"
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["open_amount_minor"] == 0
    other = await world.new_customer()
    ok(await world.client.post("/api/v1/pickups", headers=other.h, json=booking(depot["id"])), 201)


async def test_no_shows_expire_after_their_slot_and_release_credit(world, app, clock) -> None:
    from core.db import create_engine, session_factory, unit_of_work
    from orders.pickups import expire_no_shows

    depot = await world.new_depot(bays=1)
    customer = await world.new_customer()
    booked = ok(await world.client.post("/api/v1/pickups", headers=customer.h, json=booking(depot["id"])), 201)
    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        for at, expected in ((clock.now() + timedelta(days=1), 0), (clock.now() + timedelta(days=1, hours=2), 1)):
            async with unit_of_work(session_factory(engine)) as session:
                await expire_no_shows(session, now=at)
            status = ok(await world.client.get(f"/api/v1/pickups/{booked['id']}", headers=customer.h))["status"]
            assert status == ("expired" if expected else "booked")
        # Idempotent: a second pass at the same time has nothing left to do (a later time could find other tests'
        # bookings in the shared database).
        async with unit_of_work(session_factory(engine)) as session:
            assert await expire_no_shows(session, now=clock.now() + timedelta(days=1, hours=2)) == 0
    finally:
        await engine.dispose()
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["open_amount_minor"] == 0
