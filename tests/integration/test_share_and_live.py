"""Share links (signed, expiring, read-only, no login) and live push (Server-Sent Events on Litestar channels).

The live tests serve the session's app with uvicorn on a free local port (the test client buffers whole
responses, and an event stream never ends) and read the stream with httpx while other requests change the order.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from core.db import UTCDateTime
from tests.factories import ok

pytestmark = pytest.mark.integration

SHARED_FIELDS = {
    "reference",
    "status",
    "delivery_date",
    "window_start",
    "window_end",
    "window_start_at",
    "window_end_at",
    "eta",
    "tanker",
}


def _db_id(conn: sa.Connection, value: str) -> Any:
    return value.replace("-", "") if conn.dialect.name == "sqlite" else value


# --- share links -------------------------------------------------------------------------------------------


async def test_a_share_link_shows_status_window_and_eta_only(world, database_url) -> None:
    from core.settings import sync_database_url

    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    link = ok(await world.client.post(f"/api/v1/orders/{order['id']}/share", headers=customer.h, json={}), 201)
    assert link["url"].endswith(f"/api/v1/share/{link['token']}") and len(link["token"]) < 64
    assert link["expires_at"] == "2030-01-08T01:00:00Z"  # 24 h after the frozen clock

    response = await world.client.get(f"/api/v1/share/{link['token']}")  # no login
    shared = ok(response)
    assert set(shared) == SHARED_FIELDS
    assert shared["reference"] == order["reference"] and shared["status"] == "confirmed"
    assert shared["delivery_date"] == "2030-01-08" and shared["window_start"] == "09:00"
    assert shared["eta"] is None
    assert response.headers["cache-control"] == "no-store" and response.headers["referrer-policy"] == "no-referrer"
    account = ok(await world.client.get(f"/api/v1/customers/{customer.id}", headers=customer.h))
    for secret in (account["name"], customer.site["address"], str(order["price"]["amount_minor"]), customer.id):
        assert secret not in response.text

    # The ETA appears once dispatch sets one.
    eta = datetime(2030, 1, 8, 2, 30, tzinfo=UTC)
    engine = sa.create_engine(sync_database_url(database_url))
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE orders SET eta = :eta WHERE id = :id").bindparams(sa.bindparam("eta", type_=UTCDateTime())),
            {"eta": eta, "id": _db_id(conn, order["id"])},
        )
    engine.dispose()
    assert ok(await world.client.get(f"/api/v1/share/{link['token']}"))["eta"] == "2030-01-08T02:30:00Z"

    # The link follows the order's status.
    ok(await world.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=customer.h, json={"reason": "x"}))
    assert ok(await world.client.get(f"/api/v1/share/{link['token']}"))["status"] == "cancelled"


async def test_share_links_expire_and_cannot_be_forged(world, clock) -> None:
    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    link = ok(await world.client.post(f"/api/v1/orders/{order['id']}/share", headers=customer.h, json={"ttl_hours": 1}))
    token = link["token"]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in [forged, token[:20], token + "A", "not-a-token", "A" * 99, world.tokens["admin"][:99]]:
        response = await world.client.get(f"/api/v1/share/{bad}")
        assert (response.status_code, response.json()["code"]) == (404, "share_link_invalid"), bad
    assert (await world.client.get(f"/api/v1/share/{'A' * 101}")).status_code == 400
    assert order["reference"] not in (await world.client.get(f"/api/v1/share/{forged}")).text

    clock.advance(timedelta(minutes=59))
    ok(await world.client.get(f"/api/v1/share/{token}"))
    clock.advance(timedelta(minutes=1))
    expired = await world.client.get(f"/api/v1/share/{token}")
    assert (expired.status_code, expired.json()["code"]) == (410, "share_link_expired")
    assert expired.headers["content-type"].startswith("application/problem+json")


async def test_who_may_share_and_for_how_long(world) -> None:
    alice, bob = await world.new_customer(), await world.new_customer()
    order = ok(await alice.order(), 201)
    path = f"/api/v1/orders/{order['id']}/share"
    ok(await world.client.post(path, headers=alice.h), 201)  # no body: 24 h
    ok(await world.client.post(path, headers=world.h("dispatcher"), json={"ttl_hours": 168}), 201)
    response = await world.client.post(path, headers=bob.h, json={})
    assert (response.status_code, response.json()["code"]) == (404, "order_not_found")
    assert (await world.client.post(path, headers=world.h("driver"), json={})).status_code == 403
    assert (await world.client.post(path, json={})).status_code == 401
    for ttl in (0, 169, "soon"):
        response = await world.client.post(path, headers=alice.h, json={"ttl_hours": ttl})
        assert (response.status_code, response.json()["code"]) == (400, "validation_error")


async def test_a_share_link_is_built_from_the_public_base_url_never_the_request_host(world, app, monkeypatch) -> None:
    from dataclasses import replace

    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    path = f"/api/v1/orders/{order['id']}/share"
    # An attacker-chosen Host (and forwarded host) would otherwise become the link the customer hands out.
    spoofed = {**customer.h, "Host": "evil.example", "X-Forwarded-Host": "evil.example"}

    # Not configured: a relative link, never one made from the request.
    monkeypatch.setattr(app.state, "settings", replace(app.state.settings, public_base_url=None))
    link = ok(await world.client.post(path, headers=spoofed, json={}), 201)
    assert link["url"] == f"/api/v1/share/{link['token']}"

    monkeypatch.setattr(app.state, "settings", replace(app.state.settings, public_base_url="https://track.example.cn"))
    link = ok(await world.client.post(path, headers=spoofed, json={}), 201)
    assert link["url"] == f"https://track.example.cn/api/v1/share/{link['token']}"
    ok(await world.client.get(link["url"].removeprefix("https://track.example.cn")))


async def test_a_revoked_share_link_stops_working_and_others_of_the_order_do_not(world, clock) -> None:
    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    path = f"/api/v1/orders/{order['id']}/share"
    first = ok(await world.client.post(path, headers=customer.h, json={"ttl_hours": 1}), 201)
    second = ok(await world.client.post(path, headers=customer.h, json={"ttl_hours": 48}), 201)
    listed = ok(await world.client.get(path, headers=customer.h))
    assert (listed["total"], [x["id"] for x in listed["items"]]) == (2, [second["id"], first["id"]])
    assert {x["status"] for x in listed["items"]} == {"active"}
    assert first["token"] not in str(listed) and second["token"] not in str(listed)

    answer = await world.client.delete(f"{path}/{second['id']}", headers=customer.h)
    assert answer.status_code == 204, answer.text
    revoked = await world.client.get(f"/api/v1/share/{second['token']}")
    assert (revoked.status_code, revoked.json()["code"]) == (410, "share_link_revoked")
    assert order["reference"] not in revoked.text
    ok(await world.client.get(f"/api/v1/share/{first['token']}"))  # the order's other link still works
    assert (await world.client.delete(f"{path}/{second['id']}", headers=customer.h)).status_code == 204  # again

    clock.advance(timedelta(hours=1))
    listed = ok(await world.client.get(f"{path}?limit=1&offset=1", headers=customer.h))
    assert (listed["total"], listed["items"][0]["id"], listed["items"][0]["status"]) == (2, first["id"], "expired")
    statuses = {x["id"]: x["status"] for x in ok(await world.client.get(path, headers=customer.h))["items"]}
    assert statuses == {first["id"]: "expired", second["id"]: "revoked"}

    # A link of another order of the same customer, or no link at all, is not found under this order.
    other = ok(await customer.order(), 201)
    elsewhere = ok(await world.client.post(f"/api/v1/orders/{other['id']}/share", headers=customer.h), 201)
    for link_id in (elsewhere["id"], str(uuid.uuid4())):
        answer = await world.client.delete(f"{path}/{link_id}", headers=customer.h)
        assert (answer.status_code, answer.json()["code"]) == (404, "share_link_not_found")
    ok(await world.client.get(f"/api/v1/share/{elsewhere['token']}"))


async def test_another_customer_can_neither_list_nor_revoke_a_share_link(world) -> None:
    alice, bob = await world.new_customer(), await world.new_customer()
    order = ok(await alice.order(), 201)
    bobs_order = ok(await bob.order(), 201)
    link = ok(await world.client.post(f"/api/v1/orders/{order['id']}/share", headers=alice.h), 201)
    attempts = [
        ("GET", f"/api/v1/orders/{order['id']}/share", "order_not_found"),
        ("DELETE", f"/api/v1/orders/{order['id']}/share/{link['id']}", "order_not_found"),
        # Bob names his own order and Alice's link: the link is not his order's.
        ("DELETE", f"/api/v1/orders/{bobs_order['id']}/share/{link['id']}", "share_link_not_found"),
    ]
    for method, url, code in attempts:
        answer = await world.client.request(method, url, headers=bob.h)
        assert (answer.status_code, answer.json()["code"]) == (404, code), (method, url)
        assert link["token"] not in answer.text and order["reference"] not in answer.text
    for role in ("driver", "rack_operator"):
        answer = await world.client.delete(f"/api/v1/orders/{order['id']}/share/{link['id']}", headers=world.h(role))
        assert answer.status_code == 403
    ok(await world.client.get(f"/api/v1/share/{link['token']}"))  # nothing above touched it
    # Staff may revoke any order's link.
    answer = await world.client.delete(
        f"/api/v1/orders/{order['id']}/share/{link['id']}", headers=world.h("dispatcher")
    )
    assert answer.status_code == 204
    assert (await world.client.get(f"/api/v1/share/{link['token']}")).status_code == 410


async def test_an_order_has_at_most_20_working_share_links(world) -> None:
    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    path = f"/api/v1/orders/{order['id']}/share"
    links = [ok(await world.client.post(path, headers=customer.h), 201) for _ in range(20)]
    refused = await world.client.post(path, headers=customer.h)
    assert (refused.status_code, refused.json()["code"]) == (409, "share_link_limit")
    assert (await world.client.delete(f"{path}/{links[0]['id']}", headers=customer.h)).status_code == 204
    ok(await world.client.post(path, headers=customer.h), 201)


# --- live push ---------------------------------------------------------------------------------------------


class EventStream:
    """Reads `text/event-stream` messages as dicts: event, id, data (parsed JSON)."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self, seconds: float = 10.0) -> dict[str, Any]:
        message: dict[str, Any] = {}
        async with asyncio.timeout(seconds):
            async for line in self.lines:
                if line == "":
                    if message:
                        return message
                    continue
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                message[field] = value[1:] if value.startswith(" ") else value
        raise AssertionError("the stream ended")

    async def until(self, wanted, seconds: float = 15.0) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + seconds
        while True:
            message = await self.next(max(0.1, deadline - time.monotonic()))
            if message.get("event") == "ready":
                continue
            event = json.loads(message["data"])
            if wanted(event):
                assert message["id"] == event["id"] and message["event"] == event["type"]
                return event


@pytest.fixture
async def http(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Accept": "text/event-stream"}
    async with httpx.AsyncClient(base_url=live_server, timeout=httpx.Timeout(30.0), headers=headers) as client:
        yield client


async def test_the_customer_sees_the_cancellation_live(world, http) -> None:
    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    async with http.stream("GET", f"/api/v1/orders/{order['id']}/live", headers=customer.h) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = EventStream(response)
        assert (await stream.next())["event"] == "ready"
        cancel = await world.client.post(
            f"/api/v1/orders/{order['id']}/cancel", headers=customer.h, json={"reason": "rain"}
        )
        ok(cancel)
        started = time.monotonic()
        # The placement's own events may still arrive first: live push gathers messages for a few ms.
        event = await stream.until(
            lambda e: e["subject_id"] == order["id"] and e["type"] != "order_placed" and e["type"] != "order_confirmed"
        )
        assert time.monotonic() - started < 5
        assert (event["type"], event["from_status"], event["to_status"]) == (
            "order_cancelled",
            "confirmed",
            "cancelled",
        )
        assert event["reason"] == "rain"


async def test_a_reconnecting_client_gets_what_it_missed(world, http) -> None:
    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    placed, confirmed = ok(await world.client.get(f"/api/v1/orders/{order['id']}/events", headers=customer.h))
    headers = {**customer.h, "Last-Event-ID": placed["id"]}
    async with http.stream("GET", f"/api/v1/orders/{order['id']}/live", headers=headers) as response:
        stream = EventStream(response)
        event = await stream.until(lambda e: True)
        assert (event["id"], event["type"]) == (confirmed["id"], "order_confirmed")


async def test_the_dispatch_console_sees_new_orders_live(world, http) -> None:
    customer = await world.new_customer()
    async with http.stream("GET", "/api/v1/dispatch/live", headers=world.h("dispatcher")) as response:
        stream = EventStream(response)
        assert (await stream.next())["event"] == "ready"
        order = ok(await customer.order(), 201)
        placed = await stream.until(lambda e: e["subject_id"] == order["id"])
        confirmed = await stream.until(lambda e: e["subject_id"] == order["id"])
        assert [placed["type"], confirmed["type"]] == ["order_placed", "order_confirmed"]


async def test_position_batches_reach_the_console(world, http) -> None:
    """Tracking stores positions and tells core; live push (notify) hears it and draws them on the console."""
    from core.events import positions_committed
    from tracking.positions import LatestPosition

    tanker = str(uuid.uuid4())
    async with http.stream("GET", "/api/v1/dispatch/live", headers=world.h("dispatcher")) as response:
        stream = EventStream(response)
        assert (await stream.next())["event"] == "ready"
        positions_committed([LatestPosition(tanker_id=tanker, lat=31.2, lon=121.5, recorded_at="2030-01-07T01:00Z")])
        while True:
            message = await stream.next()
            if message.get("event") == "positions" and tanker in message["data"]:
                break
        assert "id" not in message
        assert json.loads(message["data"])["positions"][0]["lat"] == 31.2


@pytest.mark.slow
async def test_events_committed_by_the_worker_reach_the_console(world, http, worker, database_url) -> None:
    """Through Redis pub/sub with REDIS_URL, through the API's relay of the event log without it."""
    from core.celery_app import celery_app
    from core.settings import sync_database_url
    from tests.integration.test_pickups_api import booking

    depot = await world.new_depot(bays=1)
    customer = await world.new_customer()
    booked = ok(await world.client.post("/api/v1/pickups", headers=customer.h, json=booking(depot["id"])), 201)
    engine = sa.create_engine(sync_database_url(database_url))
    start, end = datetime(2026, 1, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, 2, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE pickup_bookings SET slot_start = :s, slot_end = :e WHERE id = :id").bindparams(
                sa.bindparam("s", type_=UTCDateTime()), sa.bindparam("e", type_=UTCDateTime())
            ),
            {"s": start, "e": end, "id": _db_id(conn, booked["id"])},
        )
    engine.dispose()
    worker.ensure_running()
    async with http.stream("GET", "/api/v1/dispatch/live", headers=world.h("dispatcher")) as response:
        stream = EventStream(response)
        assert (await stream.next())["event"] == "ready"
        await asyncio.sleep(1)  # the worker's Redis sink is installed once it is ready
        celery_app.send_task("orders.expire_pickups")
        # (The booking's own event may still arrive first: live push gathers messages for a few ms.)
        event = await stream.until(
            lambda e: e["subject_id"] == booked["id"] and e["type"] != "pickup_booked", seconds=60
        )
        assert event["type"] == "pickup_expired" and event["actor_role"] == "system"


async def test_live_streams_are_guarded(world) -> None:
    alice, bob = await world.new_customer(), await world.new_customer()
    order = ok(await alice.order(), 201)
    response = await world.client.get(f"/api/v1/orders/{order['id']}/live", headers=bob.h)
    assert (response.status_code, response.json()["code"]) == (404, "order_not_found")
    assert (await world.client.get("/api/v1/dispatch/live", headers=alice.h)).status_code == 403
    assert (await world.client.get(f"/api/v1/orders/{order['id']}/live")).status_code == 401
    # A client that does not ask for a stream gets an answer rather than a response that never ends.
    for path, headers in [(f"/api/v1/orders/{order['id']}/live", alice.h), ("/api/v1/dispatch/live", world.h("admin"))]:
        response = await world.client.get(path, headers={**headers, "Accept": "application/json"})
        assert (response.status_code, response.json()["code"]) == (406, "event_stream_required")


async def test_live_streams_are_capped_per_user(world, app, http) -> None:
    """A user holds at most LIVE_STREAMS_PER_USER open streams: of cap + 2 asked for at once (over real HTTP), exactly
    cap stream and the other 2 get 429 `too_many_streams`; another user is not held back; a closed stream gives its
    place back."""
    cap = app.state.settings.live.streams_per_user
    alice, bob = await world.new_customer(), await world.new_customer()
    order = ok(await alice.order(), 201)
    path = f"/api/v1/orders/{order['id']}/live"
    responses = await asyncio.gather(
        *(http.send(http.build_request("GET", path, headers=alice.h), stream=True) for _ in range(cap + 2))
    )
    try:
        streaming = [r for r in responses if r.status_code == 200]
        refused = [r for r in responses if r.status_code != 200]
        assert len(streaming) == cap, [r.status_code for r in responses]
        readers = [EventStream(r) for r in streaming]  # kept: a reader that is garbage-collected closes its connection
        for reader in readers:
            assert (await reader.next())["event"] == "ready"
        for response in refused:
            await response.aread()
            assert (response.status_code, response.json()["code"]) == (429, "too_many_streams"), response.text
            assert response.headers["content-type"].startswith("application/problem+json")
        bobs = ok(await bob.order(), 201)
        async with http.stream("GET", f"/api/v1/orders/{bobs['id']}/live", headers=bob.h) as response:
            assert response.status_code == 200
        await streaming[0].aclose()  # the server notices the client left and gives the place back
        deadline = time.monotonic() + 10
        while True:
            async with http.stream("GET", path, headers=alice.h) as again:
                if again.status_code == 200 or time.monotonic() > deadline:
                    break
            await asyncio.sleep(0.2)
        assert again.status_code == 200
    finally:
        for response in responses:
            await response.aclose()


async def test_a_live_stream_ends_when_its_token_expires(world, app, http) -> None:
    """A stream opened with a token that expires in 3 s ends by itself with an `end` event (`token_expired`), instead
    of following the order for as long as the connection lasts."""
    import jwt

    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    secret = app.state.jwt_auth.token_secret
    now = int(time.time())
    # The customer's own login (its session stays open), re-signed to expire in 3 s.
    claims = jwt.decode(customer.token, secret, algorithms=["HS256"]) | {"iat": now - 60, "exp": now + 3}
    token = jwt.encode(claims, secret, "HS256")
    headers = {"Authorization": f"Bearer {token}"}
    async with http.stream("GET", f"/api/v1/orders/{order['id']}/live", headers=headers) as response:
        stream = EventStream(response)
        assert (await stream.next())["event"] == "ready"
        last = await stream.next(seconds=8)
        while last["event"] != "end":  # the order's own events may come first
            last = await stream.next(seconds=8)
        assert json.loads(last["data"]) == {"type": "end", "reason": "token_expired"}
        assert time.time() >= now + 3
        with pytest.raises(AssertionError, match="the stream ended"):
            await stream.next(seconds=5)


async def test_only_committed_events_are_published(database_url) -> None:
    """Events of a rolled-back transaction or savepoint are never pushed; the others are, after the commit."""
    from core.db import create_engine, session_factory
    from core.events import record_event
    from core.models import Event
    from core.settings import async_database_url
    from notify import live

    published: list[str] = []

    class Capture:
        def publish(self, event_id, data, channels) -> None:  # type: ignore[no-untyped-def]
            published.append(json.loads(data)["type"])

    def note(session, kind: str):  # type: ignore[no-untyped-def]
        return record_event(session, subject_type="order", subject_id=uuid.uuid4(), type=kind, at=datetime.now(UTC))

    sink = Capture()
    live.add_sink(sink)
    engine = create_engine(async_database_url(database_url), null_pool=True)
    try:
        factory = session_factory(engine)
        async with factory() as session:
            note(session, "kept_before")
            await session.flush()
            savepoint = await session.begin_nested()
            note(session, "dropped_in_savepoint")
            await session.flush()
            await savepoint.rollback()
            note(session, "kept_after")
            await session.flush()
            # A hot path may take events out of the session and write them with one Core statement.
            written = note(session, "written_by_core")
            session.expunge(written)
            written.id = uuid.uuid4()
            await session.execute(
                sa.insert(Event).values(**{c.key: getattr(written, c.key) for c in Event.__table__.c})
            )
            assert published == []  # nothing before the commit
            await session.commit()
        async with factory() as session:
            note(session, "rolled_back")
            await session.flush()
            await session.rollback()
    finally:
        live.remove_sink(sink)
        await engine.dispose()
    assert sorted(published) == ["kept_after", "kept_before", "written_by_core"]


async def test_a_live_stream_ends_when_its_login_session_ends(world, settings, clock) -> None:
    """A customer logs out (or is disabled) while its order's stream is open: the stream re-checks the session
    and ends with `access_ended` instead of following the order until the token expires."""
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from api.app import create_app
    from tests.conftest import served_over_http

    customer = await world.new_customer()
    order = ok(await customer.order(), 201)
    fresh = create_app(settings=replace(settings, live=replace(settings.live, recheck_s=1)), clock=clock)
    async with AsyncTestClient(app=fresh) as client, served_over_http(fresh, client) as url:
        headers = {"Accept": "text/event-stream", **customer.h}
        live_url = f"/api/v1/orders/{order['id']}/live"
        async with (
            httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30.0)) as http,
            http.stream("GET", live_url, headers=headers) as response,
        ):
            stream = EventStream(response)
            assert (await stream.next())["event"] == "ready"
            assert (await http.post("/api/v1/auth/logout", headers=customer.h)).status_code == 204
            last = await stream.next(seconds=8)
            while last["event"] != "end":  # the order's own events may come first
                last = await stream.next(seconds=8)
            assert json.loads(last["data"]) == {"type": "end", "reason": "access_ended"}
