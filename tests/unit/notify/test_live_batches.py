"""The API's live-push sink sends what queued meanwhile in one pipelined round trip, one PUBLISH per channel: on a
real Redis, a burst of messages reaches the subscribers complete and in order, in fewer round trips and fewer
Redis messages than messages, and the live streams unpack the batches."""

from __future__ import annotations

import asyncio
import os

import msgspec
import pytest
from litestar.channels import ChannelsPlugin
from redis.asyncio import Redis

from notify import live

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
                got: list[list[int]] = []  # the numbers of each Redis message
                async with asyncio.timeout(10):
                    async for data in subscriber.iter_events():
                        value = msgspec.json.decode(bytes(data))
                        got.append(value if isinstance(value, list) else [value])
                        if sum(map(len, got)) == 2 * burst:
                            break
        finally:
            runner.cancel()
            await redis.aclose()
    # Each message once per distinct channel (a batch to a, then the same batch to b), in the order published.
    assert [n for batch in got[::2] for n in batch] == list(range(burst))
    assert [n for batch in got[1::2] for n in batch] == list(range(burst))
    assert sum(rounds) == burst and len(rounds) < burst
    assert len(got) < 2 * burst


def test_a_stream_unpacks_a_batch_and_a_single_event() -> None:
    one = b'{"id":"e1","type":"order_placed","subject_id":"o1"}'
    two = b'{"id":"e2","type":"order_confirmed","subject_id":"o1"}'
    batch = live._decode(b"[" + one + b"," + two + b"]")
    assert [(m.id, m.event, m.data) for m in batch] == [
        ("e1", "order_placed", one.decode()),
        ("e2", "order_confirmed", two.decode()),
    ]
    assert [m.event for m in live._decode(b'{"type":"positions","positions":[]}')] == ["positions"]
    assert live._decode(b"not json") == [] and live._decode(b"[1, 2]") == []
