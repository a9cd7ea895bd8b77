"""Redis restarted under open live streams: the API's pub/sub subscription comes back by itself, so a stream
opened before the outage (and one opened during it) receives events committed afterwards, without reconnecting;
orders committed while Redis is down are accepted (their live push is dropped, never an error)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
import redis

from tests.factories import PASSWORD, ok
from tests.integration.test_share_and_live import EventStream
from tests.system.test_redis_down import real_world_day

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOWN_S = 12  # longer than redis-py's own retries (10, backoff capped at 1 s): the old subscription dies
DISPATCH_CHANNEL = "diesel.dispatch"


def dispatch_subscribers(url: str) -> int:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return int(dict(client.pubsub_numsub(DISPATCH_CHANNEL))[DISPATCH_CHANNEL.encode()])
    except redis.RedisError:
        return 0
    finally:
        client.close()


async def wait_for_subscription(url: str, seconds: float) -> float:
    """Seconds until the API process is subscribed to the console's channel again."""
    started = time.monotonic()
    while dispatch_subscribers(url) < 1:
        assert time.monotonic() - started < seconds, "the API did not subscribe again after Redis came back"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


@asynccontextmanager
async def dispatch_stream(http: httpx.AsyncClient, headers: dict[str, str]) -> AsyncIterator[EventStream]:
    async with http.stream("GET", "/api/v1/dispatch/live", headers=headers) as response:
        assert response.status_code == 200
        stream = EventStream(response)
        assert (await stream.next())["event"] == "ready"
        yield stream


async def test_open_streams_keep_receiving_events_after_a_redis_restart(world, make_stack, private_redis) -> None:
    _, _, customer, day = await real_world_day(world, shift=2)
    stack = make_stack(redis_url=private_redis.url, SECRET_KEY=os.environ["SECRET_KEY"])
    stack.start()
    dispatcher = world.h("dispatcher")
    timeout = httpx.Timeout(30.0)
    async with AsyncExitStack() as streams, httpx.AsyncClient(base_url=stack.base, timeout=timeout) as http:
        login = await http.post("/api/v1/auth/token", json={"username": customer.username, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {ok(login)['access_token']}"}

        async def place_order() -> str:
            response = await http.post(
                "/api/v1/orders",
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                json=customer.order_body(delivery_date=day, window_start="09:00", window_end="17:00"),
            )
            return str(ok(response, 201)["id"])

        def placed(order_id: str):  # type: ignore[no-untyped-def]
            return lambda e: e["subject_id"] == order_id and e["type"] == "order_placed"

        sse = {**dispatcher, "Accept": "text/event-stream"}
        before = await streams.enter_async_context(dispatch_stream(http, sse))
        first = await place_order()
        await before.until(placed(first), seconds=10)

        private_redis.stop()
        during = await streams.enter_async_context(dispatch_stream(http, sse))  # opened while Redis is down
        started = time.monotonic()
        await place_order()  # accepted: its live push is dropped, not raised
        assert time.monotonic() - started < 10
        await asyncio.sleep(DOWN_S)

        private_redis.start()  # same port, empty
        await wait_for_subscription(private_redis.url, seconds=20)
        second = await place_order()
        started = time.monotonic()
        for stream in (before, during):
            await stream.until(placed(second), seconds=10)
        assert time.monotonic() - started < 10

        after = await streams.enter_async_context(dispatch_stream(http, sse))
        third = await place_order()
        for stream in (before, during, after):
            await stream.until(placed(third), seconds=10)
