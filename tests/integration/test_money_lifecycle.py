"""Money follows an order's and a booking's life (orders/lifecycle.py): confirming reserves credit on the customer's
credit account, delivering or loading at the rack releases it and charges what left the tanker or the rack,
cancelling and failing release it and charge nothing; after every step the ledger's sum equals the cached balance
and the open orders equal what the confirmed orders and bookings hold."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, session_factory, unit_of_work
from core.units import litres_to_kg
from money import ledger
from money.models import Charge, CreditAccount
from money.states import LedgerKind
from orders.models import Order, PickupBooking
from orders.pricing import amounts
from orders.rules import ORDER_HOLDS_CREDIT, PickupStatus
from tests.conftest import T0
from tests.factories import bearer, new_fleet, ok, plan_and_wait, shared_trip_day
from tests.integration.test_pickups_api import SLOT, booking

pytestmark = pytest.mark.integration
PICKUP_HOLDS_CREDIT = (str(PickupStatus.BOOKED), str(PickupStatus.LOADING))


@pytest.fixture
async def db(app) -> AsyncIterator[async_sessionmaker[AsyncSession]]:  # type: ignore[no-untyped-def]
    """Sessions of the test's own (the app's pool belongs to the test client's event loop)."""
    engine = create_engine(app.state.settings.db.url, null_pool=True)
    yield session_factory(engine)
    await engine.dispose()


async def credit_of(db: async_sessionmaker[AsyncSession], customer_id: str) -> CreditAccount:
    async with db() as session:
        return await ledger.get_account(session, uuid.UUID(customer_id))


async def charges_of(db: async_sessionmaker[AsyncSession], customer_id: str) -> list[Charge]:
    async with db() as session:
        stmt = sa.select(Charge).where(Charge.customer_id == uuid.UUID(customer_id)).order_by(Charge.at, Charge.id)
        return list((await session.scalars(stmt)).all())


async def assert_consistent(db: async_sessionmaker[AsyncSession], customer_id: str) -> CreditAccount:
    """The ledger's sum is the cached balance; the open orders are what confirmed orders and bookings hold."""
    key = uuid.UUID(customer_id)
    async with db() as session:
        check = await ledger.check_account(session, key)
        held = await session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Order.amount_minor), 0)).where(
                Order.customer_id == key, Order.status.in_([str(x) for x in ORDER_HOLDS_CREDIT])
            )
        )
        booked = await session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(PickupBooking.amount_minor), 0)).where(
                PickupBooking.customer_id == key, PickupBooking.status.in_(PICKUP_HOLDS_CREDIT)
            )
        )
        credit = await ledger.get_account(session, key)
    assert check.consistent, check
    assert credit.open_orders_minor == int(held or 0) + int(booked or 0)
    return credit


async def fix_discounts(
    db: async_sessionmaker[AsyncSession], *, order_id: str, booking_id: str, bps: int, per_litre: int
) -> None:
    """The same discounts on an order and a booking, as the customer's tier and a contract would have fixed them
    at confirmation (the amounts they reserved stay as they were)."""
    async with unit_of_work(db) as session:
        for model, key in ((Order, order_id), (PickupBooking, booking_id)):
            await session.execute(
                sa.update(model)
                .where(model.id == uuid.UUID(key))
                .values(discount_bps=bps, discount_per_litre_minor=per_litre)
            )


def charged(charge: Charge) -> tuple[int, int, int, int]:
    return charge.net_litres, charge.gross_minor, charge.discount_minor, charge.amount_minor


@pytest.mark.slow
async def test_delivered_is_charged_failed_is_not_and_the_rack_prices_alike(world, worker, clock, db) -> None:  # type: ignore[no-untyped-def]
    day = await shared_trip_day(world, worker, day="2030-01-22", where=(34.7466, 113.6254), riders=2)
    (alice, a_order), (bob, b_order) = day.riders
    loner, l_order = day.loner
    client, trip, driver = world.client, day.trips[0], day.driver(0)
    # Alice also collects 3,000 L at the same depot that afternoon: the same unit price as her delivery.
    slot = f"{day.day}T15:00:00+08:00"
    body = booking(day.depot["id"], quantity_litres=3000, slot_start=slot)
    booked = ok(await client.post("/api/v1/pickups", headers=alice.h, json=body), 201)
    assert booked["price"]["price_per_litre_minor"] == a_order["price"]["price_per_litre_minor"] == 800
    reserved = await assert_consistent(db, alice.id)
    assert reserved.open_orders_minor == a_order["price"]["amount_minor"] + booked["price"]["amount_minor"]
    assert reserved.balance_minor == 0
    await fix_discounts(db, order_id=a_order["id"], booking_id=booked["id"], bps=150, per_litre=3)

    # The trip is loaded at the rack: the orders are on board, still only reserved.
    clock.set(datetime.fromisoformat(trip["load_start"]))
    code = ok(await client.get(f"/api/v1/driver/trips/{trip['id']}/code", headers=driver))
    rack = (await world.new_rack_operator(day.depot["id"])).h
    loaded = {
        "token": code["token"],
        "depot_id": day.depot["id"],
        "loaded_litres_observed": sum(load["litres"] for load in trip["loads"]),
        "temperature_c": 15.0,
        "vehicle_plate": day.tankers[0]["plate"],
    }
    ok(await client.post("/api/v1/rack/redeem", headers=rack, json=loaded))
    assert await charges_of(db, alice.id) == []

    # Alice's delivery, 3,000 L metered at 25 °C; Bob's fails.
    receipt = ok(await client.get(f"/api/v1/orders/{a_order['id']}/receipt-code", headers=alice.h))
    a_stop = day.stop_of(a_order)
    delivery = {"delivered_litres_observed": 3000, "temperature_c": 25.0, "receipt_token": receipt["token"]}
    done = ok(await client.post(f"/api/v1/stops/{a_stop['id']}/deliver", headers=driver, json=delivery))
    failed = ok(
        await client.post(
            f"/api/v1/stops/{day.stop_of(b_order)['id']}/fail", headers=driver, json={"reason": "gate locked"}
        )
    )
    assert (done["order_status"], failed["order_status"]) == ("delivered", "failed")

    [order_charge] = await charges_of(db, alice.id)
    net = done["net_litres"]
    assert net < 3000 and order_charge.order_id == uuid.UUID(a_order["id"]) and order_charge.pickup_id is None
    assert charged(order_charge) == (
        net,
        *amounts(price_per_litre_minor=800, litres=net, discount_bps=150, discount_per_litre_minor=3),
    )
    assert (order_charge.reference, order_charge.observed_litres, order_charge.temperature_c) == (
        a_order["reference"],
        3000,
        25.0,
    )
    assert order_charge.unit_price_minor == 800 and order_charge.net_kg == litres_to_kg(net, 835.0)
    assert uuid.UUID(order_charge.document_number)  # the delivery's id
    delivered = ok(await client.get(f"/api/v1/orders/{a_order['id']}", headers=alice.h))["price"]
    assert (delivered["gross_minor"], delivered["discount_minor"], delivered["amount_minor"]) == charged(order_charge)[
        1:
    ]
    after_delivery = await assert_consistent(db, alice.id)
    assert after_delivery.open_orders_minor == booked["price"]["amount_minor"]  # the order's reservation is gone
    assert after_delivery.balance_minor == order_charge.amount_minor
    assert await charges_of(db, bob.id) == []  # nothing delivered, nothing owed
    bobs = await assert_consistent(db, bob.id)
    assert (bobs.open_orders_minor, bobs.balance_minor) == (0, 0)

    # The same volume at the same temperature loaded at the rack into Alice's truck: charged exactly alike.
    clock.set(datetime.fromisoformat(slot) + timedelta(minutes=5))
    pickup_code = ok(await client.get(f"/api/v1/pickups/{booked['id']}/code", headers=alice.h))
    redeem = {
        "token": pickup_code["token"],
        "depot_id": day.depot["id"],
        "loaded_litres_observed": 3000,
        "temperature_c": 25.0,
        "vehicle_plate": "沪A12345",
    }
    ticket = ok(await client.post("/api/v1/rack/redeem", headers=rack, json=redeem))
    order_charge, pickup_charge = await charges_of(db, alice.id)
    assert (
        pickup_charge.pickup_id == uuid.UUID(booked["id"]) and pickup_charge.document_number == ticket["ticket_number"]
    )
    assert charged(pickup_charge) == charged(order_charge)
    collected = ok(await client.get(f"/api/v1/pickups/{booked['id']}", headers=alice.h))["price"]
    assert (collected["gross_minor"], collected["discount_minor"], collected["amount_minor"]) == charged(pickup_charge)[
        1:
    ]
    settled = await assert_consistent(db, alice.id)
    assert (settled.open_orders_minor, settled.balance_minor) == (0, 2 * order_charge.amount_minor)
    account = ok(await client.get(f"/api/v1/customers/{alice.id}", headers=alice.h))
    assert account["open_amount_minor"] == 2 * order_charge.amount_minor
    assert account["yearly_volume_kg"] == 2 * order_charge.net_kg  # what was delivered and loaded

    lone = await assert_consistent(db, loner.id)  # its trip has not left: still reserved
    assert (lone.open_orders_minor, lone.balance_minor) == (l_order["price"]["amount_minor"], 0)


async def test_cancelling_releases_the_reservation_and_charges_nothing(world, db) -> None:  # type: ignore[no-untyped-def]
    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    depot = await world.new_depot(bays=2)
    booked = ok(await world.client.post("/api/v1/pickups", headers=customer.h, json=booking(depot["id"])), 201)
    reserved = await assert_consistent(db, customer.id)
    assert reserved.open_orders_minor == order["price"]["amount_minor"] + booked["price"]["amount_minor"]

    cancel = {"reason": "plans changed"}
    ok(await world.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=customer.h, json=cancel))
    assert (await assert_consistent(db, customer.id)).open_orders_minor == booked["price"]["amount_minor"]
    ok(await world.client.post(f"/api/v1/pickups/{booked['id']}/cancel", headers=customer.h, json=cancel))
    released = await assert_consistent(db, customer.id)
    assert (released.open_orders_minor, released.balance_minor) == (0, 0)
    assert await charges_of(db, customer.id) == []
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["open_amount_minor"] == 0 and account["available_credit_minor"] == account["credit_limit_minor"]


async def test_a_held_order_is_confirmed_when_a_higher_limit_frees_credit_and_the_change_is_audited(world, db) -> None:  # type: ignore[no-untyped-def]
    customer = await world.new_customer(credit=5_000_000)
    first = ok(await customer.order(quantity_litres=5000), 201)
    held = ok(await customer.order(quantity_litres=5000), 201)
    assert (first["status"], held["status"]) == ("confirmed", "on_hold")
    assert (await assert_consistent(db, customer.id)).open_orders_minor == first["price"]["amount_minor"]

    ok(
        await world.client.patch(
            f"/api/v1/customers/{customer.id}", headers=world.h("admin"), json={"credit_limit_minor": 12_000_000}
        )
    )
    assert ok(await world.client.get(f"/api/v1/orders/{held['id']}", headers=customer.h))["status"] == "confirmed"
    credit = await assert_consistent(db, customer.id)
    assert credit.credit_limit_minor == 12_000_000
    assert credit.open_orders_minor == first["price"]["amount_minor"] + held["price"]["amount_minor"]
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["credit_limit_minor"] == 12_000_000
    assert account["available_credit_minor"] == 12_000_000 - credit.open_orders_minor
    audit = ok(
        await world.client.get(
            "/api/v1/audit", params={"subject_type": "customer", "subject_id": customer.id}, headers=world.h("admin")
        )
    )
    assert [
        (e["action"], e["before"], e["after"]) for e in audit["items"] if e["action"] == "credit_limit_changed"
    ] == [("credit_limit_changed", {"credit_limit_minor": 5_000_000}, {"credit_limit_minor": 12_000_000})]


async def _make_prepaid(db: async_sessionmaker[AsyncSession], customer_id: str, *, paid_in: int) -> None:
    """A prepaid account (no credit limit) with `paid_in` on it, written through money.ledger."""
    async with unit_of_work(db) as session:
        credit = await ledger.get_account(session, uuid.UUID(customer_id), lock=True)
        credit.kind = "prepaid"
        ledger.set_credit_limit(credit, 0, now=T0)
        if paid_in:
            ledger.post(session, credit, kind=LedgerKind.PREPAYMENT, amount_minor=-paid_in, at=T0)


async def test_a_prepaid_account_orders_against_its_prepayment(world, db) -> None:  # type: ignore[no-untyped-def]
    paid, unpaid = await world.new_customer(), await world.new_customer()
    amount = ok(await world.client.post("/api/v1/quotes", headers=paid.h, json=_quote(paid)))["price"]["amount_minor"]
    await _make_prepaid(db, paid.id, paid_in=amount)
    await _make_prepaid(db, unpaid.id, paid_in=0)

    confirmed = ok(await paid.order(), 201)
    assert confirmed["status"] == "confirmed" and confirmed["price"]["amount_minor"] == amount
    credit = await assert_consistent(db, paid.id)
    assert (credit.open_orders_minor, credit.balance_minor, ledger.available_minor(credit)) == (amount, -amount, 0)
    assert ok(await paid.order(quantity_litres=500), 201)["status"] == "on_hold"  # the prepayment is used up
    held = ok(await unpaid.order(), 201)
    assert held["status"] == "on_hold" and held["hold_reason"] == "credit_limit"
    assert (await assert_consistent(db, unpaid.id)).open_orders_minor == 0
    refused = await world.client.patch(
        f"/api/v1/customers/{unpaid.id}", headers=world.h("admin"), json={"credit_limit_minor": 1_000_000}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "prepaid_account", refused.text


def _quote(customer: Any) -> dict[str, Any]:
    return {k: v for k, v in customer.order_body().items() if k not in ("window_start", "window_end")}


async def test_tiers_count_what_was_delivered_and_loaded_not_what_was_ordered(world, clock, db) -> None:  # type: ignore[no-untyped-def]
    customer = await world.new_customer(credit=2_000_000_000)
    ok(await customer.order(quantity_litres=10_000), 201)  # 8 t ordered, not delivered: counts for nothing
    depot = await world.new_depot(bays=2)
    rack = (await world.new_rack_operator(depot["id"])).h
    plates = ("沪A12345", "沪B54321")
    bookings = [
        ok(
            await world.client.post(
                "/api/v1/pickups",
                headers=customer.h,
                json=booking(depot["id"], quantity_litres=15_000, vehicle_plate=plate),
            ),
            201,
        )
        for plate in plates
    ]
    assert ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))["yearly_volume_kg"] == 0
    clock.set(datetime.fromisoformat(SLOT) + timedelta(minutes=5))
    for booked, plate in zip(bookings, plates, strict=True):
        token = ok(await world.client.get(f"/api/v1/pickups/{booked['id']}/code", headers=customer.h))["token"]
        redeem = {"token": token, "depot_id": depot["id"], "loaded_litres_observed": 15_000, "temperature_c": 15.0}
        ok(await world.client.post("/api/v1/rack/redeem", headers=rack, json={**redeem, "vehicle_plate": plate}))
    loaded_kg = 2 * litres_to_kg(15_000, 835.0)  # 25 t loaded at the rack
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    assert account["yearly_volume_kg"] == loaded_kg == sum(c.net_kg for c in await charges_of(db, customer.id))
    assert account["tier"] == 0  # today's tier is the volume at the start of the day

    clock.set(datetime.fromisoformat("2030-01-09T09:00:00+08:00"))  # the next day: 25 t loaded, tier 1
    body = {**_quote(customer), "delivery_date": "2030-01-10"}
    quoted = ok(await world.client.post("/api/v1/quotes", headers=customer.h, json=body))["price"]
    assert (quoted["tier"], quoted["discount_bps"]) == (1, 100)
    ordered = ok(await customer.order(delivery_date="2030-01-10"), 201)["price"]
    assert (ordered["tier"], ordered["discount_bps"]) == (1, 100)
    assert ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))["tier"] == 1


@pytest.mark.slow
async def test_an_order_split_over_two_trips_is_charged_once_when_its_last_part_is_delivered(
    world, worker, clock, db
) -> None:  # type: ignore[no-untyped-def]
    """12,000 L for a tanker of 8,000 L: the plan splits the order over two trips. The first part delivered leaves
    it en route and uncharged; the second delivers it, charged once for both parts."""
    day, where = "2030-01-24", (36.0611, 103.8343)  # Lanzhou: no other test's depot is nearer
    depot = await world.new_depot(bays=2, lat=where[0], lon=where[1], code=f"lz-{uuid.uuid4().hex[:6]}")
    price = {"depot_id": depot["id"], "product_code": "diesel-0", "date": day, "price_per_litre_minor": 800}
    ok(await world.client.put("/api/v1/prices", headers=world.h("admin"), json=[price]))
    [tanker] = await new_fleet(world, depot, tankers=1, compartments=[4000, 4000])
    customer = await world.new_customer(lat=where[0] + 0.02, lon=where[1] + 0.02)
    order = ok(
        await customer.order(delivery_date=day, quantity_litres=12_000, window_start="06:00", window_end="22:00"), 201
    )
    assert order["depot_id"] == depot["id"]
    job = await plan_and_wait(world, worker, day, depot["id"])
    assert job["status"] == "succeeded", job
    ok(await world.client.post(f"/api/v1/plans/{job['plan_id']}/publish", headers=world.h("dispatcher"), json={}))
    plan = ok(await world.client.get(f"/api/v1/plans/{job['plan_id']}", headers=world.h("dispatcher")))
    parts = sorted(
        ((trip, stop) for route in plan["routes"] for trip in route["trips"] for stop in trip["stops"]),
        key=lambda part: part[0]["load_start"],
    )
    assert [stop["order_id"] for _, stop in parts] == [order["id"]] * 2 and parts[0][0]["id"] != parts[1][0]["id"]

    driver, rack = bearer(tanker["driver_token"]), (await world.new_rack_operator(depot["id"])).h
    for number, (trip, stop) in enumerate(parts, start=1):
        clock.set(datetime.fromisoformat(trip["load_start"]))
        code = ok(await world.client.get(f"/api/v1/driver/trips/{trip['id']}/code", headers=driver))
        loaded = {"token": code["token"], "depot_id": depot["id"], "loaded_litres_observed": stop["litres"]}
        loaded |= {"temperature_c": 15.0, "vehicle_plate": tanker["plate"]}
        ok(await world.client.post("/api/v1/rack/redeem", headers=rack, json=loaded))
        receipt = ok(await world.client.get(f"/api/v1/orders/{order['id']}/receipt-code", headers=customer.h))
        delivered = {"delivered_litres_observed": stop["litres"], "temperature_c": 15.0}
        done = ok(
            await world.client.post(
                f"/api/v1/stops/{stop['id']}/deliver",
                headers=driver,
                json={**delivered, "receipt_token": receipt["token"]},
            )
        )
        if number == 1:
            assert done["order_status"] == "en_route" and await charges_of(db, customer.id) == []
            assert (await assert_consistent(db, customer.id)).open_orders_minor == order["price"]["amount_minor"]
    assert done["order_status"] == "delivered"
    [charge] = await charges_of(db, customer.id)
    assert (charge.observed_litres, charge.net_litres) == (12_000, 12_000)  # at 15 °C the net litres are the metered
    assert charged(charge)[1:] == amounts(price_per_litre_minor=800, litres=12_000, discount_bps=0)
    settled = await assert_consistent(db, customer.id)
    assert (settled.open_orders_minor, settled.balance_minor) == (0, charge.amount_minor)
