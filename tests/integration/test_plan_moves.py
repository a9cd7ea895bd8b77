"""A dispatcher moves a stop on a draft: the plan is re-timed at once, checked, and still publishes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import hangzhou_day as _day
from tests.factories import new_fleet, ok
from tests.factories import plan_and_wait as _plan

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _stops(plan: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """stop id -> (tanker id, stop)"""
    return {s["id"]: (r["tanker_id"], s) for r in plan["routes"] for t in r["trips"] for s in t["stops"]}


async def test_moving_a_stop_retimes_the_draft_and_it_still_publishes(world, worker) -> None:
    day = "2030-01-17"
    depot, fleet, placed = await _day(world, day, tankers=2, orders=4)
    tiny = (await new_fleet(world, depot, tankers=1, compartments=[1000]))[0]
    job = await _plan(world, worker, day, depot["id"])
    assert job["status"] == "succeeded", job["error"]
    before = ok(await world.client.get(f"/api/v1/plans/{job['plan_id']}", headers=world.h("dispatcher")))
    url = f"/api/v1/plans/{before['id']}/stops"
    stops = _stops(before)
    stop_id, (source, stop) = next(iter(stops.items()))
    target = next(t["id"] for t in fleet if t["id"] != source)

    moved = ok(await world.client.patch(f"{url}/{stop_id}", headers=world.h("dispatcher"), json={"tanker_id": target}))

    after = _stops(moved)
    assert after[stop_id][0] == target and after[stop_id][1]["pinned"]  # same stop id, on the other tanker
    assert after[stop_id][1]["order_id"] == stop["order_id"]
    assert sorted(s["order_id"] for _, s in after.values()) == sorted(o["id"] for _, o in placed)
    assert moved["outdated"] is False and moved["status"] == "draft"
    for route in moved["routes"]:
        for trip in route["trips"]:
            assert sum(x["litres"] for x in trip["loads"]) == sum(s["litres"] for s in trip["stops"])
            for s in trip["stops"]:
                assert s["window_start"] <= s["service_start"] <= s["window_end"]
    km = sum(t["distance_km"] for r in moved["routes"] for t in r["trips"])
    assert moved["totals"]["km"] == pytest.approx(km, abs=0.05)  # totals follow the new routes
    if len({tanker for tanker, _ in stops.values()}) == 2:
        # Both tankers were used and one gave up a stop: the day's distance had to change.
        assert moved["totals"]["km"] != before["totals"]["km"]

    # A position: the stop becomes the first of its tanker's day.
    target_stops = [s for r in moved["routes"] if r["tanker_id"] == target for t in r["trips"] for s in t["stops"]]
    last = target_stops[-1]["id"]
    kept = target_stops[0]["id"]  # pinned where it is: a later move on its tanker must keep that pin
    ok(await world.client.patch(f"{url}/{kept}", headers=world.h("dispatcher"), json={"tanker_id": target}))
    first = ok(await world.client.patch(f"{url}/{last}", headers=world.h("dispatcher"), json={"position": 1}))
    route = next(r for r in first["routes"] if r["tanker_id"] == target)
    assert route["trips"][0]["stops"][0]["id"] == last
    assert _stops(first)[kept][1]["pinned"]

    # A move that breaks a rule is refused with the rule, and nothing changes.
    refused = await world.client.patch(
        f"{url}/{stop_id}", headers=world.h("dispatcher"), json={"tanker_id": tiny["id"]}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "move_infeasible" and "compartments" in refused.json()["detail"]
    unchanged = ok(await world.client.get(f"/api/v1/plans/{before['id']}", headers=world.h("dispatcher")))
    assert unchanged["totals"] == first["totals"] and _stops(unchanged).keys() == _stops(first).keys()

    # The independent checker accepts the moved plan: it publishes, and the order is scheduled on the new tanker.
    published = ok(
        await world.client.post(f"/api/v1/plans/{before['id']}/publish", headers=world.h("dispatcher"), json={})
    )
    assert published["status"] == "published"
    customer = next(c for c, o in placed if o["id"] == stop["order_id"])
    order = ok(await world.client.get(f"/api/v1/orders/{stop['order_id']}", headers=customer.h))
    assert order["status"] == "scheduled"

    # On a published plan a move is only pinned: drivers already have the plan, so it waits for a re-plan.
    other = next(sid for sid, (tanker, _) in _stops(published).items() if tanker != target)
    pinned = ok(await world.client.patch(f"{url}/{other}", headers=world.h("dispatcher"), json={"tanker_id": target}))
    assert pinned["outdated"] is True and _stops(pinned)[other][0] != target


async def test_a_tanker_that_is_not_on_duty_in_the_plan_is_refused(world, worker) -> None:
    day = "2030-01-18"
    depot, _, _ = await _day(world, day, tankers=1, orders=2)
    job = await _plan(world, worker, day, depot["id"])
    plan = ok(await world.client.get(f"/api/v1/plans/{job['plan_id']}", headers=world.h("dispatcher")))
    late = (await new_fleet(world, depot, tankers=1))[0]  # added after planning: not in this plan's problem
    stop_id = next(iter(_stops(plan)))

    refused = await world.client.patch(
        f"/api/v1/plans/{plan['id']}/stops/{stop_id}", headers=world.h("dispatcher"), json={"tanker_id": late["id"]}
    )

    assert refused.status_code == 422 and refused.json()["code"] == "tanker_not_in_plan"
