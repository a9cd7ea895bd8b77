"""The truck driver's pickup pass: sent by the customer, opened without a login, showing the booking's QR code,
slot and depot and nothing else of the account; ending when the pickup is loaded, cancelled or over; checked in
at the depot gate (by the gate code through the pass, or by a rack operator), with the queue position and bay."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.factories import Customer, World, ok

pytestmark = pytest.mark.integration
API = "/api/v1"
SLOT = "2030-01-07T10:00:00+08:00"  # an hour after the frozen clock: the gate is open (2 h before the slot)
LATER_SLOT = "2030-01-07T10:30:00+08:00"
PASS_FIELDS = {
    "reference",
    "status",
    "vehicle_plate",
    "product_code",
    "quantity_litres",
    "slot_start",
    "slot_end",
    "depot",
    "pickup_code",
    "check_in_opens_at",
    "check_in_closes_at",
    "check_in",
    "expires_at",
}


async def book(
    world: World, customer: Customer, depot: dict[str, Any], *, slot: str = SLOT, plate: str = "沪A12345"
) -> dict[str, Any]:
    body = {
        "depot_id": depot["id"],
        "product_code": "diesel-0",
        "quantity_litres": 8000,
        "slot_start": slot,
        "vehicle_plate": plate,
        "driver_name": "司机老王 Driver Wang",
        "driver_phone": "13911112222",
    }
    return dict(ok(await world.client.post(f"{API}/pickups", headers=customer.h, json=body), 201))


async def send_pass(world: World, customer: Customer, booking: dict[str, Any], phone: str = "13911112222") -> Any:
    path = f"{API}/pickups/{booking['id']}/pass"
    return ok(await world.client.post(path, headers=customer.h, json={"phone": phone}), 201)


async def gate_code(world: World, depot: dict[str, Any]) -> str:
    return str(ok(await world.client.get(f"{API}/depots/{depot['id']}/gate-code", headers=world.h("admin")))["token"])


async def check_in(world: World, pass_token: str, code: str) -> Any:
    return await world.client.post(f"{API}/pass/{pass_token}/check-in", json={"gate_code": code})


async def load_at_the_rack(world: World, customer: Customer, booking: dict[str, Any], depot: dict[str, Any]) -> None:
    token = ok(await world.client.get(f"{API}/pickups/{booking['id']}/code", headers=customer.h))["token"]
    rack = await world.new_rack_operator(depot["id"])
    body = {
        "token": token,
        "depot_id": depot["id"],
        "loaded_litres_observed": 8000,
        "temperature_c": 15.0,
        "vehicle_plate": booking["vehicle_plate"],
    }
    ok(await world.client.post(f"{API}/rack/redeem", headers=rack.h, json=body), 201)


async def test_a_pass_shows_the_pickup_code_slot_and_depot_and_nothing_else_of_the_account(world) -> None:
    depot = await world.new_depot(bays=2)
    customer = await world.new_customer()
    booking = await book(world, customer, depot)
    other = await book(world, customer, depot, slot=LATER_SLOT, plate="沪B99999")
    sent = await send_pass(world, customer, booking, phone="139 1111 2222")
    assert sent["url"] == f"https://diesel.test/pass/{sent['token']}" and sent["phone"] == "13911112222"
    assert sent["expires_at"] == "2030-01-07T03:30:00Z"  # the slot's end (10:30 Shanghai) + the hour of grace

    # The SMS goes out through the notifications outbox: the event carries the phone and the link.
    events = ok(await world.client.get(f"{API}/pickups/{booking['id']}/events", headers=customer.h))
    sent_event = next(e for e in events if e["type"] == "pickup_pass_sent")
    assert sent_event["data"]["phone"] == "13911112222" and sent_event["data"]["url"] == sent["url"]

    answer = await world.client.get(f"{API}/pass/{sent['token']}")  # no login
    shown = ok(answer)
    assert set(shown) == PASS_FIELDS
    assert shown["reference"] == booking["reference"] and shown["vehicle_plate"] == "沪A12345"
    assert shown["slot_start"] == SLOT and shown["status"] == "booked" and shown["check_in"] is None
    assert shown["depot"] == {
        "name": depot["name"],
        "address": depot.get("address"),
        "lat": depot["lat"],
        "lon": depot["lon"],
        "timezone": "Asia/Shanghai",
    }
    # The pickup code is the booking's own: the one the customer's app shows, which the rack accepts.
    own_code = ok(await world.client.get(f"{API}/pickups/{booking['id']}/code", headers=customer.h))["token"]
    assert shown["pickup_code"] == own_code
    assert answer.headers["cache-control"] == "no-store" and answer.headers["referrer-policy"] == "no-referrer"
    account = ok(await world.client.get(f"{API}/customers/{customer.id}", headers=customer.h))
    secrets = [
        customer.id,
        account["name"],
        booking["id"],
        booking["driver_name"],
        booking["driver_phone"],
        str(booking["price"]["amount_minor"]),
        customer.site["address"],
        other["reference"],
        other["id"],
    ]
    qr = await world.client.get(f"{API}/pass/{sent['token']}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    page = await world.client.get(f"/pass/{sent['token']}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-app="pass"' in page.text and page.headers["cache-control"] == "no-store"
    for text in (answer.text, page.text):
        for secret in secrets:
            assert secret not in text, secret


async def test_a_pass_is_built_from_the_public_base_url_never_the_request_host(world, app, monkeypatch) -> None:
    from dataclasses import replace

    depot = await world.new_depot()
    customer = await world.new_customer()
    booking = await book(world, customer, depot)
    spoofed = {**customer.h, "Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    path = f"{API}/pickups/{booking['id']}/pass"
    monkeypatch.setattr(app.state, "settings", replace(app.state.settings, public_base_url="https://dd.example.cn"))
    sent = ok(await world.client.post(path, headers=spoofed, json={"phone": "13911112222"}), 201)
    assert sent["url"] == f"https://dd.example.cn/pass/{sent['token']}"


async def test_without_a_public_address_no_pass_is_sent_with_a_relative_link(world, app, monkeypatch) -> None:
    """An SMS cannot carry a link relative to the caller's address (and the request's Host is never trusted to
    make it absolute): without PUBLIC_BASE_URL the pass is refused in words, and nothing is recorded or ended."""
    from dataclasses import replace

    depot = await world.new_depot()
    customer = await world.new_customer()
    booking = await book(world, customer, depot)
    earlier = await send_pass(world, customer, booking)
    monkeypatch.setattr(app.state, "settings", replace(app.state.settings, public_base_url=None))
    spoofed = {**customer.h, "Host": "dd.example.cn", "X-Forwarded-Host": "dd.example.cn"}
    path = f"{API}/pickups/{booking['id']}/pass"
    refused = await world.client.post(path, headers=spoofed, json={"phone": "13933334444"})
    assert (refused.status_code, refused.json()["code"]) == (503, "public_base_url_missing")
    assert "PUBLIC_BASE_URL" in refused.json()["detail"] and "/pass/" not in refused.text
    events = ok(await world.client.get(f"{API}/pickups/{booking['id']}/events", headers=customer.h))
    assert [e["data"]["phone"] for e in events if e["type"] == "pickup_pass_sent"] == ["13911112222"]
    ok(await world.client.get(f"{API}/pass/{earlier['token']}"))  # the pass sent before still works
    # A bad phone is still refused by its field first.
    bad = await world.client.post(path, headers=customer.h, json={"phone": "call me"})
    assert (bad.status_code, bad.json()["field"]) == (422, "phone")


async def test_only_the_bookings_customer_sends_a_pass_and_only_while_there_is_something_to_collect(world) -> None:
    depot = await world.new_depot()
    alice, bob = await world.new_customer(), await world.new_customer()
    booking = await book(world, alice, depot)
    path = f"{API}/pickups/{booking['id']}/pass"
    refused = await world.client.post(path, headers=bob.h, json={"phone": "13911112222"})
    assert (refused.status_code, refused.json()["code"]) == (404, "pickup_not_found")
    assert booking["reference"] not in refused.text
    assert (
        await world.client.post(path, headers=world.h("dispatcher"), json={"phone": "13911112222"})
    ).status_code == 403
    bad = await world.client.post(path, headers=alice.h, json={"phone": "call me"})
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (422, "invalid_phone", "phone")
    ok(await world.client.post(f"{API}/pickups/{booking['id']}/cancel", headers=alice.h, json={"reason": "x"}))
    late = await world.client.post(path, headers=alice.h, json={"phone": "13911112222"})
    assert (late.status_code, late.json()["code"]) == (409, "no_pass")


@pytest.mark.parametrize("ending", ["cancelled", "loaded", "slot_over", "replaced"])
async def test_a_pass_stops_working_with_a_clear_page(world, clock, ending) -> None:
    depot = await world.new_depot()
    customer = await world.new_customer()
    booking = await book(world, customer, depot)
    token = (await send_pass(world, customer, booking))["token"]
    ok(await world.client.get(f"{API}/pass/{token}"))
    if ending == "cancelled":
        path = f"{API}/pickups/{booking['id']}/cancel"
        ok(await world.client.post(path, headers=customer.h, json={"reason": "truck broke down"}))
        code = "pass_cancelled"
    elif ending == "loaded":
        await load_at_the_rack(world, customer, booking, depot)
        code = "pass_used"
    elif ending == "slot_over":
        clock.advance(timedelta(hours=2, minutes=30))  # 11:30: the slot ended at 10:30, plus an hour of grace
        code = "pass_expired"
    else:
        await send_pass(world, customer, booking)
        code = "pass_replaced"
    for path in (f"{API}/pass/{token}", f"{API}/pass/{token}/qr.svg"):
        answer = await world.client.get(path)
        assert (answer.status_code, answer.json()["code"]) == (410, code), path
    refused = await check_in(world, token, await gate_code(world, depot))
    assert (refused.status_code, refused.json()["code"]) == (410, code)
    page = await world.client.get(f"/pass/{token}", headers={"Accept": "text/html"})
    assert page.status_code == 410 and page.headers["content-type"].startswith("text/html")
    assert f'data-code="{code}"' in page.text and booking["reference"] not in page.text


async def test_altered_and_foreign_tokens_open_no_pass(world) -> None:
    depot = await world.new_depot()
    customer = await world.new_customer()
    booking = await book(world, customer, depot)
    token = (await send_pass(world, customer, booking))["token"]
    order = ok(await customer.order(), 201)
    share = ok(await world.client.post(f"{API}/orders/{order['id']}/share", headers=customer.h, json={}), 201)
    pickup_code = ok(await world.client.get(f"{API}/pickups/{booking['id']}/code", headers=customer.h))["token"]
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for bad in [
        flipped,
        token[:-2],
        token + "AA",
        share["token"],
        world.tokens["admin"][:100],
        "x",
        pickup_code[:100].replace("/", ""),
    ]:
        answer = await world.client.get(f"{API}/pass/{bad}")
        assert (answer.status_code, answer.json()["code"]) == (404, "pass_invalid"), bad
        assert booking["reference"] not in answer.text
        page = await world.client.get(f"/pass/{bad}")
        assert page.status_code == 404 and 'data-code="pass_invalid"' in page.text
    # A pass token is no share link either.
    answer = await world.client.get(f"{API}/share/{token}")
    assert (answer.status_code, answer.json()["code"]) == (404, "share_link_invalid")


async def test_the_driver_checks_in_with_the_gate_code_once_and_sees_queue_and_bay(world) -> None:
    depot = await world.new_depot(bays=2)
    customer = await world.new_customer()
    booking = await book(world, customer, depot)
    token = (await send_pass(world, customer, booking))["token"]
    code = await gate_code(world, depot)

    first = ok(await check_in(world, token, code))
    assert (first["queue_position"], first["queue_length"], first["bay"], first["bays"]) == (1, 1, 1, 2)
    assert first["method"] == "gate" and first["checked_in_at"] == "2030-01-07T01:00:00Z"
    again = ok(await check_in(world, token, code))
    assert again == first  # idempotent: the same check-in
    assert ok(await world.client.get(f"{API}/pass/{token}"))["check_in"] == first

    events = ok(await world.client.get(f"{API}/pickups/{booking['id']}/events", headers=customer.h))
    checked = [e for e in events if e["type"] == "pickup_checked_in"]
    assert len(checked) == 1 and checked[0]["data"] == {"method": "gate", "bay": 1, "queue_position": 1}
    gate_view = ok(await world.client.get(f"{API}/pickups/{booking['id']}/check-in", headers=customer.h))
    assert gate_view["check_in"] == first


async def test_gate_codes_are_the_depots_own(world) -> None:
    here, elsewhere = await world.new_depot(), await world.new_depot()
    customer = await world.new_customer()
    booking = await book(world, customer, here)
    token = (await send_pass(world, customer, booking))["token"]

    wrong = await check_in(world, token, await gate_code(world, elsewhere))
    assert (wrong.status_code, wrong.json()["code"], wrong.json()["field"]) == (409, "wrong_gate", "gate_code")
    real = await gate_code(world, here)
    pickup_code = ok(await world.client.get(f"{API}/pickups/{booking['id']}/code", headers=customer.h))["token"]
    altered = real[:-1] + ("0" if real[-1] != "0" else "1")
    for bad in [altered, real[:-5], pickup_code, "HELLO", " "]:
        answer = await check_in(world, token, bad)
        assert (answer.status_code, answer.json()["code"]) == (422, "gate_code_invalid"), bad
    assert ok(await world.client.get(f"{API}/pass/{token}"))["check_in"] is None

    # The gate code is printed by staff: a rack operator only for its own depots, never a customer or driver.
    mine, theirs = await world.new_rack_operator(here["id"]), await world.new_rack_operator(elsewhere["id"])
    assert ok(await world.client.get(f"{API}/depots/{here['id']}/gate-code", headers=mine.h))["token"] == real
    svg = await world.client.get(f"{API}/depots/{here['id']}/gate-code.svg", headers=mine.h)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    refused = await world.client.get(f"{API}/depots/{here['id']}/gate-code", headers=theirs.h)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_your_depot")
    for headers in (customer.h, world.h("driver")):
        assert (await world.client.get(f"{API}/depots/{here['id']}/gate-code", headers=headers)).status_code == 403
    assert (await world.client.get(f"{API}/depots/{here['id']}/gate-code")).status_code == 401


async def test_a_check_in_far_outside_the_slot_is_refused(world, clock) -> None:
    depot = await world.new_depot()
    customer = await world.new_customer()
    tomorrow = await book(world, customer, depot, slot="2030-01-08T10:00:00+08:00")
    token = (await send_pass(world, customer, tomorrow))["token"]
    code = await gate_code(world, depot)
    early = await check_in(world, token, code)
    assert (early.status_code, early.json()["code"]) == (409, "check_in_too_early")
    assert "2030-01-08 08:00" in early.json()["detail"]  # 2 h before the slot, in the depot's time

    today = await book(world, customer, depot)
    rack = await world.new_rack_operator(depot["id"])
    clock.advance(timedelta(hours=2, minutes=30))  # past 10:30 + the hour of grace: the pass is over too
    late = await world.client.post(f"{API}/rack/check-in", headers=rack.h, json={"booking_id": today["id"]})
    assert (late.status_code, late.json()["code"]) == (409, "check_in_too_late")
    assert "2030-01-07 11:30" in late.json()["detail"]
    assert ok(await world.client.get(f"{API}/pickups/{today['id']}/check-in", headers=customer.h))["check_in"] is None


async def test_queue_positions_follow_the_slot_then_arrival_and_freed_bays_go_to_the_next_truck(world) -> None:
    depot = await world.new_depot(bays=2)
    customer = await world.new_customer()
    a = await book(world, customer, depot, plate="沪A00001")
    b = await book(world, customer, depot, plate="沪A00002")
    c = await book(world, customer, depot, slot=LATER_SLOT, plate="沪A00003")
    d = await book(world, customer, depot, slot=LATER_SLOT, plate="沪A00004")
    passes = {x["id"]: (await send_pass(world, customer, x))["token"] for x in (a, b, c, d)}
    code = await gate_code(world, depot)

    async def where(booking: dict[str, Any]) -> tuple[int | None, int | None]:
        shown = ok(await world.client.get(f"{API}/pass/{passes[booking['id']]}"))["check_in"]
        return shown["queue_position"], shown["bay"]

    assert ok(await check_in(world, passes[c["id"]], code))["bay"] == 1  # the first truck in: bay 1
    ok(await check_in(world, passes[a["id"]], code))  # an earlier slot goes ahead in the queue
    assert [await where(x) for x in (a, c)] == [(1, 2), (2, 1)]
    ok(await check_in(world, passes[d["id"]], code))
    ok(await check_in(world, passes[b["id"]], code))
    # Every bay is taken: B (slot 10:00) and D (10:30) wait, B ahead of D.
    assert [await where(x) for x in (a, b, c, d)] == [(1, 2), (2, None), (3, 1), (4, None)]

    await load_at_the_rack(world, customer, a, depot)  # A leaves bay 2: the next waiting truck, B, gets it
    assert [await where(x) for x in (b, c, d)] == [(1, 2), (2, 1), (3, None)]
    ok(await world.client.post(f"{API}/pickups/{c['id']}/cancel", headers=customer.h, json={"reason": "x"}))
    assert [await where(x) for x in (b, d)] == [(1, 2), (2, 1)]


async def test_the_rack_checks_a_truck_in_at_its_own_depot_only(world) -> None:
    here, elsewhere = await world.new_depot(), await world.new_depot()
    customer = await world.new_customer()
    by_code, by_id = await book(world, customer, here), await book(world, customer, here, plate="沪C12345")
    away = await book(world, customer, elsewhere)
    rack = await world.new_rack_operator(here["id"])
    path = f"{API}/rack/check-in"

    code = ok(await world.client.get(f"{API}/pickups/{by_code['id']}/code", headers=customer.h))["token"]
    checked = ok(await world.client.post(path, headers=rack.h, json={"token": code}))
    assert checked["reference"] == by_code["reference"] and checked["queue"]["method"] == "rack"
    assert checked["queue"]["bay"] == 1 and checked["queue"]["queue_position"] == 1
    again = ok(await world.client.post(path, headers=rack.h, json={"token": code, "depot_id": here["id"]}))
    assert again["queue"] == checked["queue"]
    second = ok(await world.client.post(path, headers=rack.h, json={"booking_id": by_id["id"]}))
    assert (second["queue"]["bay"], second["queue"]["queue_position"]) == (2, 2)

    # Another depot's booking and code: refused without a word of them.
    away_code = ok(await world.client.get(f"{API}/pickups/{away['id']}/code", headers=customer.h))["token"]
    refused = await world.client.post(path, headers=rack.h, json={"token": away_code})
    assert (refused.status_code, refused.json()["reasons"]) == (409, ["wrong_depot"])
    refused = await world.client.post(path, headers=rack.h, json={"booking_id": away["id"]})
    assert (refused.status_code, refused.json()["code"]) == (404, "pickup_not_found")
    refused = await world.client.post(
        path, headers=rack.h, json={"booking_id": away["id"], "depot_id": elsewhere["id"]}
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "not_your_depot")
    for text in (refused.text,):
        assert away["reference"] not in text
    neither = await world.client.post(path, headers=rack.h, json={})
    assert (neither.status_code, neither.json()["code"]) == (422, "token_or_booking_id")
    events = ok(await world.client.get(f"{API}/pickups/{away['id']}/events", headers=customer.h))
    assert "pickup_checked_in" not in {e["type"] for e in events}


async def test_racing_check_ins_of_one_truck_make_one_and_of_two_trucks_take_two_bays(world, racer) -> None:
    depot = await world.new_depot(bays=2)
    customer = await world.new_customer()
    one, two = (
        await book(world, customer, depot, plate="沪D11111"),
        await book(world, customer, depot, plate="沪D22222"),
    )
    tokens = [(await send_pass(world, customer, x))["token"] for x in (one, two)]
    code = await gate_code(world, depot)
    rack = await world.new_rack_operator(depot["id"])
    pickup_code = ok(await world.client.get(f"{API}/pickups/{one['id']}/code", headers=customer.h))["token"]

    same_truck = await asyncio.gather(
        *(racer.post(f"{API}/pass/{tokens[0]}/check-in", json={"gate_code": code}) for _ in range(4)),
        racer.post(f"{API}/rack/check-in", headers=rack.h, json={"token": pickup_code}),
    )
    assert [r.status_code for r in same_truck] == [200] * 5, [r.text for r in same_truck]
    answers = [r.json() for r in same_truck[:4]] + [same_truck[4].json()["queue"]]
    assert len({a["checked_in_at"] + a["method"] for a in answers}) == 1
    events = ok(await world.client.get(f"{API}/pickups/{one['id']}/events", headers=customer.h))
    assert [e["type"] for e in events].count("pickup_checked_in") == 1

    ok(await world.client.post(f"{API}/pickups/{one['id']}/cancel", headers=customer.h, json={"reason": "x"}))
    three = await book(world, customer, depot, slot=LATER_SLOT, plate="沪D33333")
    token_three = (await send_pass(world, customer, three))["token"]
    racing = await asyncio.gather(
        racer.post(f"{API}/pass/{tokens[1]}/check-in", json={"gate_code": code}),
        racer.post(f"{API}/pass/{token_three}/check-in", json={"gate_code": code}),
    )
    assert sorted(r.json()["bay"] for r in racing) == [1, 2]


def test_a_gate_code_is_short_enough_for_a_small_qr_code_and_names_its_depot() -> None:
    from datetime import UTC, datetime

    from tracking import gate, qr

    depot = uuid.uuid4()
    now = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)
    code = gate.issue_gate_code(depot, now=now, secret_key="k" * 40)
    assert re.fullmatch(r"[0-9A-Z $%*+\-./:]+", code.token) and qr.qr_version(code.token) <= 5
    assert gate.verify_gate_code(code.token, secret_key="k" * 40, now=now) == depot
    with pytest.raises(Exception, match="not a Diesel Direct gate code"):
        gate.verify_gate_code(code.token, secret_key="another-secret" * 3, now=now)
