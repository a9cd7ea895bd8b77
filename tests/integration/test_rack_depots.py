"""Rack operators act only at their own depots.

Two depots (called Pudong and Jiading here), each with its own rack operator, and real codes of real Pudong
bookings and trips: the Jiading operator naming Pudong's depot is refused (403 `not_your_depot`) with nothing
written; naming its own depot it learns only `wrong_depot`, never the booking's details. Also: how depots are
assigned (API and CLI), audited, listed to the rack app, and the conflicts list scoped and paged.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.models import User
from tests.factories import PASSWORD, RackOperator, bearer, new_fleet, ok, plan_and_wait
from tests.integration.test_pickups_api import SLOT, booking
from tracking.models import LoadingTicket, OfflineConflict

pytestmark = pytest.mark.integration
API = "/api/v1"
ROOT = Path(__file__).resolve().parents[2]


async def _two_depots(world) -> tuple[dict[str, Any], dict[str, Any], RackOperator, RackOperator]:  # type: ignore[no-untyped-def]
    pudong, jiading = await world.new_depot(), await world.new_depot()
    return pudong, jiading, await world.new_rack_operator(pudong["id"]), await world.new_rack_operator(jiading["id"])


async def _pudong_booking(world, pudong):  # type: ignore[no-untyped-def]
    customer = await world.new_customer()
    booked = ok(await world.client.post(f"{API}/pickups", headers=customer.h, json=booking(pudong["id"])), 201)
    token = ok(await world.client.get(f"{API}/pickups/{booked['id']}/code", headers=customer.h))["token"]
    return customer, booked, token


def _at_slot(clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(datetime.fromisoformat(SLOT) + timedelta(minutes=5))


def _loading(token: str, depot_id: str | None, **extra: Any) -> dict[str, Any]:
    body = {"token": token, "loaded_litres_observed": 19_000, "temperature_c": 15.0, "vehicle_plate": "沪A12345"}
    if depot_id is not None:
        body["depot_id"] = depot_id
    return body | extra


async def _count(app: Any, model: Any, *where: Any) -> int:
    """Rows of `model` matching `where`, read straight from the database."""
    import sqlalchemy as sa

    from core.db import create_engine

    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(model).where(*where))).scalar_one())
    finally:
        await engine.dispose()


async def _depot_events(app: Any, user_id: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from core.db import create_engine
    from core.models import Event

    engine = create_engine(app.state.settings.db.url, null_pool=True)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(Event.actor_id, Event.actor_role, Event.data)
                .where(
                    Event.subject_type == "user",
                    Event.subject_id == uuid.UUID(user_id),
                    Event.type == "rack_depots_changed",
                )
                .order_by(Event.at, Event.id)
            )
            return [
                {"actor_id": str(r.actor_id) if r.actor_id else None, "actor_role": r.actor_role, **r.data}
                for r in rows
            ]
    finally:
        await engine.dispose()


def _assert_no_booking_details(response: Any, booked: dict[str, Any]) -> None:
    details = [booked["id"], booked["reference"], booked["driver_name"], booked.get("driver_phone"), SLOT[:16]]
    for secret in filter(None, details):
        assert secret not in response.text, (secret, response.text)


# --- the attack: another depot's real codes ----------------------------------------------------------------


async def test_an_operator_cannot_verify_or_redeem_another_depots_pickup_and_nothing_is_written(
    app, world, clock
) -> None:
    pudong, jiading, pudong_rack, jiading_rack = await _two_depots(world)
    customer, booked, token = await _pudong_booking(world, pudong)
    account_before = ok(await world.client.get(f"{API}/customers/{customer.id}", headers=customer.h))
    _at_slot(clock)
    client = world.client

    # Naming Pudong's depot: refused outright.
    for path, body in (
        ("/rack/verify", {"token": token, "depot_id": pudong["id"]}),
        ("/rack/redeem", _loading(token, pudong["id"])),
    ):
        response = await client.post(f"{API}{path}", headers=jiading_rack.h, json=body)
        assert response.status_code == 403 and response.json()["code"] == "not_your_depot", (path, response.text)
        _assert_no_booking_details(response, booked)

    # Naming its own depot: the code is another depot's, and that is all it learns.
    verdict = await client.post(
        f"{API}/rack/verify", headers=jiading_rack.h, json={"token": token, "depot_id": jiading["id"]}
    )
    assert ok(verdict)["authorised"] is False and verdict.json()["reasons"] == ["wrong_depot"]
    assert verdict.json()["subject"] is None and verdict.json()["what_to_load"] is None
    _assert_no_booking_details(verdict, booked)
    # Left out, the depot is the operator's only one: the same answer.
    verdict = await client.post(f"{API}/rack/verify", headers=jiading_rack.h, json={"token": token})
    assert ok(verdict)["reasons"] == ["wrong_depot"] and verdict.json()["subject"] is None
    redeem = await client.post(f"{API}/rack/redeem", headers=jiading_rack.h, json=_loading(token, jiading["id"]))
    assert redeem.status_code == 409 and redeem.json()["reasons"] == ["wrong_depot"]
    _assert_no_booking_details(redeem, booked)

    # Nothing was written: no ticket, the booking still booked, the account not charged for a loading.
    still = ok(await client.get(f"{API}/pickups/{booked['id']}", headers=customer.h))
    assert still["status"] == "booked" and still["ticket_number"] is None
    events = ok(await client.get(f"{API}/pickups/{booked['id']}/events", headers=customer.h))
    assert [e["type"] for e in events] == ["pickup_booked"]
    account = ok(await client.get(f"{API}/customers/{customer.id}", headers=customer.h))
    assert account["open_amount_minor"] == account_before["open_amount_minor"]
    assert await _count(app, LoadingTicket, LoadingTicket.subject_id == uuid.UUID(booked["id"])) == 0

    # The control: Pudong's own operator is let through with the same code.
    verdict = ok(await client.post(f"{API}/rack/verify", headers=pudong_rack.h, json={"token": token}))
    assert verdict["authorised"] is True and verdict["subject"]["reference"] == booked["reference"]
    ok(await client.post(f"{API}/rack/redeem", headers=pudong_rack.h, json=_loading(token, None)), 201)


async def test_an_offline_upload_naming_another_depot_is_refused_whole(app, world, clock) -> None:
    pudong, jiading, _, jiading_rack = await _two_depots(world)
    customer, booked, token = await _pudong_booking(world, pudong)
    _at_slot(clock)
    loaded_at = clock.now().isoformat()
    own, foreign = f"own-{uuid.uuid4().hex[:12]}", f"foreign-{uuid.uuid4().hex[:12]}"
    upload = [
        _loading(token, jiading["id"], offline_id=own, redeemed_at=loaded_at),  # alone: a wrong_depot conflict
        _loading(token, pudong["id"], offline_id=foreign, redeemed_at=loaded_at),
    ]
    response = await world.client.post(f"{API}/rack/offline-redemptions", headers=jiading_rack.h, json=upload)
    assert response.status_code == 403 and response.json()["code"] == "not_your_depot", response.text
    _assert_no_booking_details(response, booked)

    still = ok(await world.client.get(f"{API}/pickups/{booked['id']}", headers=customer.h))
    assert still["status"] == "booked" and still["ticket_number"] is None
    assert await _count(app, OfflineConflict, OfflineConflict.offline_id.in_([own, foreign])) == 0
    assert await _count(app, LoadingTicket, LoadingTicket.offline_id.in_([own, foreign])) == 0

    # At its own depot alone, the upload is a conflict that says only `wrong_depot`.
    alone = ok(await world.client.post(f"{API}/rack/offline-redemptions", headers=jiading_rack.h, json=upload[:1]))
    assert alone == [{"offline_id": own, "status": "conflict", "reasons": ["wrong_depot"], "ticket": None}]


async def test_another_depots_offline_id_shows_neither_its_ticket_nor_its_conflict(world, clock) -> None:
    pudong, jiading, pudong_rack, jiading_rack = await _two_depots(world)
    _, booked, token = await _pudong_booking(world, pudong)
    _at_slot(clock)
    taken = f"pudong-{uuid.uuid4().hex[:12]}"
    item = _loading(token, pudong["id"], offline_id=taken, redeemed_at=clock.now().isoformat())
    accepted = ok(await world.client.post(f"{API}/rack/offline-redemptions", headers=pudong_rack.h, json=[item]))
    assert accepted[0]["status"] == "accepted" and accepted[0]["ticket"]["ticket_number"]

    replay = await world.client.post(
        f"{API}/rack/offline-redemptions", headers=jiading_rack.h, json=[{**item, "depot_id": jiading["id"]}]
    )
    assert ok(replay) == [{"offline_id": taken, "status": "conflict", "reasons": ["offline_id_taken"], "ticket": None}]
    assert accepted[0]["ticket"]["ticket_number"] not in replay.text
    _assert_no_booking_details(replay, booked)


@pytest.mark.slow
async def test_an_operator_cannot_load_another_depots_trip(world, worker, clock) -> None:
    day = "2030-01-10"
    # Near Harbin: no other test's depot is nearer this customer's site.
    pudong = await world.new_depot(bays=2, lat=45.75, lon=126.65, code=f"hrb-{uuid.uuid4().hex[:6]}")
    jiading = await world.new_depot()
    jiading_rack, pudong_rack = (
        await world.new_rack_operator(jiading["id"]),
        await world.new_rack_operator(pudong["id"]),
    )
    fleet = await new_fleet(world, pudong, tankers=1)
    customer = await world.new_customer(lat=45.76, lon=126.67)
    order = ok(await customer.order(delivery_date=day, quantity_litres=6000), 201)
    assert order["depot_id"] == pudong["id"]
    job = await plan_and_wait(world, worker, day, pudong["id"])
    assert job["status"] == "succeeded", job
    ok(await world.client.post(f"{API}/plans/{job['plan_id']}/publish", headers=world.h("dispatcher"), json={}))
    driver = bearer(fleet[0]["driver_token"])
    trip = ok(await world.client.get(f"{API}/driver/route?date={day}", headers=driver))["routes"][0]["trips"][0]
    token = ok(await world.client.get(f"{API}/driver/trips/{trip['id']}/code", headers=driver))["token"]
    clock.set(datetime.fromisoformat(trip["load_start"]))
    plate = fleet[0]["plate"]
    litres = sum(load["litres"] for load in trip["loads"])

    for path, body in (
        ("/rack/verify", {"token": token, "depot_id": pudong["id"]}),
        ("/rack/redeem", _loading(token, pudong["id"], vehicle_plate=plate, loaded_litres_observed=litres)),
    ):
        response = await world.client.post(f"{API}{path}", headers=jiading_rack.h, json=body)
        assert response.status_code == 403 and response.json()["code"] == "not_your_depot", (path, response.text)
    verdict = await world.client.post(
        f"{API}/rack/verify", headers=jiading_rack.h, json={"token": token, "vehicle_plate": plate}
    )
    assert ok(verdict)["reasons"] == ["wrong_depot"] and verdict.json()["subject"] is None
    assert trip["id"] not in verdict.text and trip["load_start"] not in verdict.text

    # Nothing was loaded: the order is still scheduled and the driver's code still valid.
    assert ok(await world.client.get(f"{API}/orders/{order['id']}", headers=customer.h))["status"] == "scheduled"
    ok(await world.client.get(f"{API}/driver/trips/{trip['id']}/code", headers=driver))
    # The control: Pudong's operator loads it.
    body = _loading(token, None, vehicle_plate=plate, loaded_litres_observed=litres)
    assert ok(await world.client.post(f"{API}/rack/redeem", headers=pudong_rack.h, json=body), 201)["kind"] == "trip"


# --- who may act, and where --------------------------------------------------------------------------------


async def test_an_operator_with_several_depots_says_which_and_one_with_none_does_nothing(world, clock) -> None:
    pudong, jiading = await world.new_depot(), await world.new_depot()
    _, _, token = await _pudong_booking(world, pudong)
    _at_slot(clock)
    both = await world.new_rack_operator(pudong["id"], jiading["id"])
    nowhere = await world.new_rack_operator()
    client = world.client

    missing = await client.post(f"{API}/rack/verify", headers=both.h, json={"token": token})
    assert missing.status_code == 422 and missing.json()["code"] == "depot_required"
    assert ok(await client.post(f"{API}/rack/verify", headers=both.h, json={"token": token, "depot_id": pudong["id"]}))[
        "authorised"
    ]
    listed = ok(await client.get(f"{API}/rack/depots", headers=both.h))
    assert sorted(d["id"] for d in listed) == sorted([pudong["id"], jiading["id"]])

    assert ok(await client.get(f"{API}/rack/depots", headers=nowhere.h)) == []
    loaded_at = clock.now().isoformat()
    for method, path, body in (
        ("POST", "/rack/verify", {"token": token, "depot_id": pudong["id"]}),
        ("POST", "/rack/verify", {"token": token}),
        ("POST", "/rack/redeem", _loading(token, pudong["id"])),
        ("POST", "/rack/offline-redemptions", [_loading(token, None, offline_id="nowhere-01", redeemed_at=loaded_at)]),
        ("GET", "/rack/conflicts", None),
    ):
        response = await client.request(method, f"{API}{path}", headers=nowhere.h, json=body)
        assert response.status_code == 403 and response.json()["code"] == "no_depots_assigned", (path, response.text)


async def test_an_admin_may_act_at_any_rack_and_the_loading_names_the_admin(world, clock) -> None:
    pudong = await world.new_depot()
    customer, booked, token = await _pudong_booking(world, pudong)
    _at_slot(clock)
    admin = world.h("admin")
    missing = await world.client.post(f"{API}/rack/verify", headers=admin, json={"token": token})
    assert missing.status_code == 422 and missing.json()["code"] == "depot_required"
    ok(await world.client.post(f"{API}/rack/redeem", headers=admin, json=_loading(token, pudong["id"])), 201)
    events = ok(await world.client.get(f"{API}/pickups/{booked['id']}/events", headers=customer.h))
    assert events[-1]["type"] == "pickup_completed" and events[-1]["actor_role"] == "admin"
    depots = ok(await world.client.get(f"{API}/rack/depots", headers=admin))
    assert pudong["id"] in {d["id"] for d in depots}  # an admin may act at every depot


async def test_conflicts_are_listed_only_at_their_depot_and_paged(world, clock) -> None:
    pudong, jiading, pudong_rack, jiading_rack = await _two_depots(world)
    _, _, token = await _pudong_booking(world, pudong)
    _at_slot(clock)
    future = (clock.now() + timedelta(days=1)).isoformat()  # a rack clock ahead: always a conflict
    made = {}
    for rack, depot in ((pudong_rack, pudong), (jiading_rack, jiading)):
        for _ in range(2):
            offline_id = f"c-{uuid.uuid4().hex[:12]}"
            item = _loading(token, depot["id"], offline_id=offline_id, redeemed_at=future)
            result = ok(await world.client.post(f"{API}/rack/offline-redemptions", headers=rack.h, json=[item]))
            assert result[0]["status"] == "conflict"
            made.setdefault(depot["id"], []).append(offline_id)

    for rack, depot in ((pudong_rack, pudong), (jiading_rack, jiading)):
        page = ok(await world.client.get(f"{API}/rack/conflicts", headers=rack.h))
        assert page["total"] == 2 and page["limit"] == 50 and page["offset"] == 0
        assert [c["offline_id"] for c in page["items"]] == made[depot["id"]]
        assert {c["depot_id"] for c in page["items"]} == {depot["id"]}
        second = ok(await world.client.get(f"{API}/rack/conflicts?limit=1&offset=1", headers=rack.h))
        assert second["total"] == 2 and [c["offline_id"] for c in second["items"]] == made[depot["id"]][1:]
    everything = ok(await world.client.get(f"{API}/rack/conflicts?limit=500", headers=world.h("admin")))
    assert set(made[pudong["id"]] + made[jiading["id"]]) <= {c["offline_id"] for c in everything["items"]}
    for query in ("limit=0", "limit=501", "offset=-1", f"offset={10**9 + 1}"):
        response = await world.client.get(f"{API}/rack/conflicts?{query}", headers=pudong_rack.h)
        assert response.status_code == 400, (query, response.text)


# --- assigning depots --------------------------------------------------------------------------------------


async def test_depots_are_given_at_creation_replaced_and_each_change_is_recorded(app, world) -> None:
    pudong, jiading = await world.new_depot(), await world.new_depot()
    admin = world.h("admin")
    admin_id = ok(await world.client.get(f"{API}/me", headers=admin))["user"]["id"]
    username = f"rack-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": PASSWORD, "role": "rack_operator", "depot_ids": [pudong["id"]]}
    user = ok(await world.client.post(f"{API}/users", headers=admin, json=body))
    operator = bearer(await world.login(username))
    assert [d["id"] for d in ok(await world.client.get(f"{API}/rack/depots", headers=operator))] == [pudong["id"]]

    replaced = ok(
        await world.client.put(
            f"{API}/users/{user['id']}/depots", headers=admin, json={"depot_ids": [jiading["id"], jiading["id"]]}
        )
    )
    assert replaced["user_id"] == user["id"] and [d["id"] for d in replaced["depots"]] == [jiading["id"]]
    assert [d["id"] for d in ok(await world.client.get(f"{API}/rack/depots", headers=operator))] == [jiading["id"]]
    ok(await world.client.put(f"{API}/users/{user['id']}/depots", headers=admin, json={"depot_ids": [jiading["id"]]}))

    assert await _depot_events(app, user["id"]) == [
        {"actor_id": admin_id, "actor_role": "admin", "before": [], "after": [pudong["id"]]},
        {"actor_id": admin_id, "actor_role": "admin", "before": [pudong["id"]], "after": [jiading["id"]]},
    ]  # the last PUT changed nothing, so it recorded nothing


async def test_depots_are_refused_for_unknown_depots_other_roles_and_unknown_users(app, world) -> None:
    depot = await world.new_depot()
    admin = world.h("admin")
    cases = [
        ({"role": "rack_operator", "depot_ids": [str(uuid.uuid4())]}, "unknown_depot"),
        ({"role": "dispatcher", "depot_ids": [depot["id"]]}, "depots_only_for_rack_operators"),
    ]
    for extra, code in cases:
        username = f"refused-{uuid.uuid4().hex[:8]}"
        response = await world.client.post(
            f"{API}/users", headers=admin, json={"username": username, "password": PASSWORD, **extra}
        )
        assert response.status_code == 422 and response.json()["code"] == code, response.text
        assert response.json()["field"] == "depot_ids"
        assert await _count(app, User, User.username == username) == 0

    driver = ok(await world.client.get(f"{API}/me", headers=world.h("driver")))["user"]["id"]
    response = await world.client.put(f"{API}/users/{driver}/depots", headers=admin, json={"depot_ids": [depot["id"]]})
    assert response.status_code == 422 and response.json()["code"] == "depots_only_for_rack_operators"
    response = await world.client.put(f"{API}/users/{uuid.uuid4()}/depots", headers=admin, json={"depot_ids": []})
    assert response.status_code == 404 and response.json()["code"] == "user_not_found"
    operator = await world.new_rack_operator()
    response = await world.client.put(
        f"{API}/users/{operator.id}/depots", headers=world.h("dispatcher"), json={"depot_ids": [depot["id"]]}
    )
    assert response.status_code == 403
    assert ok(await world.client.get(f"{API}/rack/depots", headers=operator.h)) == []


def _diesel(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


async def test_createuser_assigns_depots_by_id_or_code(app, world, database_url) -> None:
    pudong, jiading = await world.new_depot(), await world.new_depot()
    username = f"rack-cli-{uuid.uuid4().hex[:6]}"
    common = ["--role", "rack_operator", "--password", PASSWORD]
    made = _diesel(database_url, "createuser", username, *common, "--depot", pudong["code"], "--depot", jiading["id"])
    assert made.returncode == 0, made.stderr
    operator = bearer(await world.login(username))
    listed = ok(await world.client.get(f"{API}/rack/depots", headers=operator))
    assert sorted(d["id"] for d in listed) == sorted([pudong["id"], jiading["id"]])
    user_id = ok(await world.client.get(f"{API}/me", headers=operator))["user"]["id"]
    [event] = await _depot_events(app, user_id)
    assert event["actor_role"] == "system" and sorted(event["after"]) == sorted([pudong["id"], jiading["id"]])

    unknown = _diesel(database_url, "createuser", f"{username}-x", *common, "--depot", "no-such-depot")
    assert unknown.returncode != 0 and "no depot 'no-such-depot'" in unknown.stderr
    wrong_role = _diesel(
        database_url,
        "createuser",
        f"{username}-y",
        "--role",
        "driver",
        "--password",
        PASSWORD,
        "--depot",
        pudong["code"],
    )
    assert wrong_role.returncode != 0 and "only rack operators" in wrong_role.stderr
    for name in (f"{username}-x", f"{username}-y"):
        assert await _count(app, User, User.username == name) == 0
