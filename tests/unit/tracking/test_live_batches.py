"""The API's live-push sink sends what queued meanwhile in one pipelined round trip: on a real Redis, a burst
of messages reaches the subscribers complete and in order, in fewer round trips than messages."""

from __future__ import annotations

import asyncio
import os

import pytest
from litestar.channels import ChannelsPlugin
from redis.asyncio import Redis

from tracking import live

pytestmark = [pytest.mark.integration, pytest.mark.redis]


async def test_a_burst_arrives_complete_in_order_and_batched(redis_available: bool) -> None:
    if not redis_available:
        pytest.skip("needs Redis (REDIS_URL)")
    redis = Redis.from_url(os.environ["REDIS_URL"])
    backend = live.ReconnectingRedisBackend(redis=redis)
    rounds: list[int] = []
    publish_many = backend.publish_many

    async def counted(messages):  # type: ignore[no-untyped-def]
        rounds.append(len(messages))
        await publish_many(messages)

    backend.publish_many = counted  # type: ignore[method-assign]
    burst = 300
    async with ChannelsPlugin(backend=backend, arbitrary_channels_allowed=True) as channels:
        sink = live.ChannelsSink(channels, backend, asyncio.get_running_loop(), live._Seen())
        runner = asyncio.create_task(sink.run())
        try:
            async with channels.start_subscription(["test.burst.a", "test.burst.b"]) as subscriber:
                await asyncio.sleep(0.2)  # the SUBSCRIBE reaches Redis
                for n in range(burst):
                    sink.publish(None, str(n).encode(), ["test.burst.a", "test.burst.b", "test.burst.a"])
                got: list[bytes] = []
                async with asyncio.timeout(10):
                    async for data in subscriber.iter_events():
                        got.append(bytes(data))
                        if len(got) == 2 * burst:
                            break
        finally:
            runner.cancel()
            await redis.aclose()
    # Each message once per distinct channel, in the order published.
    assert [int(d) for d in got[::2]] == list(range(burst)) == [int(d) for d in got[1::2]]
    assert sum(rounds) == burst and len(rounds) < burst
