"""One bay calendar per depot: the tanker loads of the day's plan hold bays of the pickup slots, and
GET /depots/{id}/bays shows both kinds of booking. Shanghai is UTC+8; the depot is open 06:00-22:00."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dispatch.models import Plan, PlanTrip, Tanker
from orders.models import PickupBooking
from tests.factories import hangzhou_day, ok, plan_and_wait
from tests.integration.test_promise import _small_day, _windows
from tests.money_factories import money_session

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fleet_promise")]
API = "/api/v1"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2030, 1, 8)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI)


async def plan_with_load(
    app: Any, depot_id: str, *, status: str, start: datetime, minutes: int, age: int = 0, day: date = DAY
) -> str:
    """A plan of the day (scope: the depot) with one trip loading at the depot from `start` for `minutes`."""
    async with money_session(app) as session:
        tanker = Tanker(
            plate=f"沪T{uuid.uuid4().int % 10**6:06d}",
            depot_id=uuid.UUID(depot_id),
            compartments_litres=[10000],
            vehicle_class=1,
            cost_per_km_minor=500,
            shift_start=time(6),
            shift_end=time(20),
        )
        plan = Plan(
            date=day,
            depot_id=uuid.UUID(depot_id),
            scope=depot_id,
            status=status,
            cost_minor=0,
            distance_m=0,
            driving_s=0,
            duration_s=0,
            problem_json="{}",
            solution_json="{}",
            order_versions={},
            created_at=datetime(2029, 12, 1, tzinfo=SHANGHAI) + timedelta(hours=age),
        )
        session.add_all([tanker, plan])
        await session.flush()
        session.add(
            PlanTrip(
                plan_id=plan.id,
                date=day,
                tanker_id=tanker.id,
                depot_id=uuid.UUID(depot_id),
                sequence=1,
                load_start=start,
                depart=start + timedelta(minutes=minutes),
                return_at=start + timedelta(hours=3),
                distance_m=0,
                loads=[],
            )
        )
        return tanker.plate


def pickup(depot_id: str, start: datetime, plate: str) -> dict[str, Any]:
    return {
        "depot_id": depot_id,
        "product_code": "diesel-0",
        "quantity_litres": 20_000,
        "slot_start": start.isoformat(),
        "vehicle_plate": plate,
        "driver_name": "张伟",
        "driver_phone": "138 0013 8000",
    }


async def slots(world: Any, depot_id: str, who: Any, day: date = DAY) -> dict[str, int]:
    body = ok(await world.client.get(f"{API}/depots/{depot_id}/slots?date={day}", headers=who.h))
    return {datetime.fromisoformat(s["start"]).strftime("%H:%M"): s["remaining"] for s in body}


async def test_a_published_tanker_load_holds_a_bay_a_pickup_cannot_take(world, app) -> None:
    depot = await world.new_depot(bays=2)
    customer = await world.new_customer()
    # The published plan's load from 10:00 for 40 minutes spans the 10:00 and 10:30 slots; the older draft of the
    # same day and the superseded plan do not count.
    plate = await plan_with_load(app, depot["id"], status="published", start=at(10), minutes=40, age=1)
    await plan_with_load(app, depot["id"], status="draft", start=at(14), minutes=40, age=0)
    await plan_with_load(app, depot["id"], status="superseded", start=at(16), minutes=40, age=0)
    remaining = await slots(world, depot["id"], customer)
    assert (remaining["09:30"], remaining["10:00"], remaining["10:30"], remaining["11:00"]) == (2, 1, 1, 2)
    assert (remaining["14:00"], remaining["16:00"]) == (2, 2)
    # The one bay the load leaves at 10:00 goes to the first pickup; the second finds the slot full.
    first = ok(
        await world.client.post(f"{API}/pickups", headers=customer.h, json=pickup(depot["id"], at(10), "沪A11111")), 201
    )
    full = await world.client.post(f"{API}/pickups", headers=customer.h, json=pickup(depot["id"], at(10), "沪A22222"))
    assert full.status_code == 409 and full.json()["code"] == "slot_full"
    assert (await slots(world, depot["id"], customer))["10:00"] == 0
    # Both kinds of booking on one calendar, for the dispatcher.
    calendar = ok(await world.client.get(f"{API}/depots/{depot['id']}/bays?date={DAY}", headers=world.h("dispatcher")))
    assert calendar["bays"] == 2 and calendar["date"] == DAY.isoformat()
    ten = next(s for s in calendar["slots"] if s["start"] == at(10).isoformat())
    assert (ten["pickups"], ten["tanker_loads"], ten["remaining"], ten["capacity"]) == (1, 1, 0, 2)
    kinds = [(b["kind"], b["start"], b["bay"], b["vehicle_plate"]) for b in calendar["bookings"]]
    assert kinds == [
        ("tanker_load", at(10).isoformat(), 1, plate),
        ("pickup", at(10).isoformat(), 2, "沪A11111"),
    ]
    assert calendar["bookings"][1]["pickup_id"] == first["id"]
    assert calendar["bookings"][0]["plan_status"] == "published"
    # A customer does not see the calendar.
    hidden = await world.client.get(f"{API}/depots/{depot['id']}/bays?date={DAY}", headers=customer.h)
    assert hidden.status_code == 403


async def test_before_publishing_the_newest_draft_holds_the_bays(world, app) -> None:
    depot = await world.new_depot(bays=1)
    customer = await world.new_customer()
    await plan_with_load(app, depot["id"], status="draft", start=at(8), minutes=30, age=0)
    await plan_with_load(app, depot["id"], status="draft", start=at(12), minutes=30, age=1)
    remaining = await slots(world, depot["id"], customer)
    assert (remaining["08:00"], remaining["12:00"]) == (1, 0)
    full = await world.client.post(f"{API}/pickups", headers=customer.h, json=pickup(depot["id"], at(12), "沪A33333"))
    assert full.status_code == 409 and full.json()["code"] == "slot_full"
    ok(await world.client.post(f"{API}/pickups", headers=customer.h, json=pickup(depot["id"], at(8), "沪A44444")), 201)
    calendar = ok(await world.client.get(f"{API}/depots/{depot['id']}/bays?date={DAY}", headers=world.h("admin")))
    assert [(b["kind"], b["bay"]) for b in calendar["bookings"]] == [("pickup", 1), ("tanker_load", 1)]


async def test_the_planner_finds_no_bay_where_pickups_booked_them_all(world) -> None:
    """The promise's small day (tests/integration/test_promise.py): a rack open 06:00-07:00 with 2 bays and one
    tanker. Once customer pickups book both bays of both slots, the tanker cannot load: no window is served."""
    depot, first = await _small_day(world, 116.4)
    second = await world.new_customer(lat=28.52, lon=116.42)
    assert (await _windows(second))["10:00"]["feasible"] is True
    for start in (at(6, 0, date(2030, 1, 8)), at(6, 30, date(2030, 1, 8))):
        for plate in ("沪A10001", "沪A10002"):
            body = pickup(depot["id"], start, plate)
            ok(await world.client.post(f"{API}/pickups", headers=first.h, json=body), 201)
    windows = await _windows(second)
    assert not any(w["feasible"] for w in windows.values())
    assert windows["10:00"]["reason"] == "shift_ends"


async def _book_directly(app: Any, depot_id: str, customer_id: str, start: datetime, count: int) -> None:
    """Pickups written straight to the database (as if booked while the plan was being computed)."""
    async with money_session(app) as session:
        for n in range(count):
            session.add(
                PickupBooking(
                    reference=f"PU-T-{uuid.uuid4().hex[:10].upper()}",
                    customer_id=uuid.UUID(customer_id),
                    depot_id=uuid.UUID(depot_id),
                    product_code="diesel-0",
                    quantity_litres=1000,
                    slot_start=start,
                    slot_end=start + timedelta(minutes=30),
                    timezone="Asia/Shanghai",
                    vehicle_plate=f"沪A2000{n}",
                    driver_name="张伟",
                    driver_phone="13800138000",
                    price_per_litre_minor=800,
                    gross_minor=800_000,
                    tier=0,
                    discount_bps=0,
                    discount_minor=0,
                    amount_minor=800_000,
                    currency="CNY",
                    status="booked",
                )
            )


@pytest.mark.slow
async def test_a_plan_whose_load_lost_its_bays_to_pickups_is_not_published(world, app, worker) -> None:
    day = "2030-01-27"  # hangzhou_day's own patch of map for this day: no other test plans there
    depot, _fleet, placed = await hangzhou_day(world, day)
    job = await plan_and_wait(world, worker, day, depot["id"])
    assert job["status"] == "succeeded", job
    plan = ok(await world.client.get(f"{API}/plans/{job['plan_id']}", headers=world.h("dispatcher")))
    load = min(datetime.fromisoformat(t["load_start"]) for r in plan["routes"] for t in r["trips"])
    slot = load.replace(minute=0 if load.minute < 30 else 30, second=0, microsecond=0)
    customer = placed[0][0]
    await _book_directly(app, depot["id"], customer.id, slot, count=depot["loading_bays"])
    refused = await world.client.post(f"{API}/plans/{plan['id']}/publish", headers=world.h("dispatcher"), json={})
    assert refused.status_code == 409 and refused.json()["code"] == "plan_invalid"
    assert "bays_full" in refused.json()["detail"]
    # Re-planned, the loads wait for a free bay, and the plan is published.
    job = await plan_and_wait(world, worker, day, depot["id"])
    assert job["status"] == "succeeded", job
    replanned = ok(await world.client.get(f"{API}/plans/{job['plan_id']}", headers=world.h("dispatcher")))
    for route in replanned["routes"]:
        for trip in route["trips"]:
            start, depart = datetime.fromisoformat(trip["load_start"]), datetime.fromisoformat(trip["depart"])
            assert depart <= slot or start >= slot + timedelta(minutes=30)
    ok(await world.client.post(f"{API}/plans/{job['plan_id']}/publish", headers=world.h("dispatcher"), json={}))
