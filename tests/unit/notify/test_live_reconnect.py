"""The Redis channels backend of live push outlives a Redis restart: a fake Redis whose connections all die when it
stops, under the real Litestar channels plugin. (The served stack and a real redis-server:
tests/system/test_live_redis_restart.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.channels import ChannelsPlugin
from redis.exceptions import ConnectionError as RedisConnectionError

from notify import live


class FakeRedis:
    """Pub/sub and the publish script; `stop()` kills every connection, as a restart does."""

    def __init__(self) -> None:
        self.up, self.generation = True, 0
        self.pubsubs: list[FakePubSub] = []

    def check(self, generation: int | None = None) -> None:
        if not self.up or (generation is not None and generation != self.generation):
            raise RedisConnectionError("Connection closed by server.")

    def stop(self) -> None:
        self.up, self.generation = False, self.generation + 1

    def start(self) -> None:
        self.up = True

    def pubsub(self) -> FakePubSub:
        pubsub = FakePubSub(self)
        self.pubsubs.append(pubsub)
        return pubsub

    def register_script(self, script: str) -> Any:
        async def publish(keys: list[str], args: list[bytes]) -> None:
            self.check()
            for pubsub in self.pubsubs:
                for channel in set(keys) & pubsub.channels:
                    if pubsub.generation == self.generation:
                        pubsub.inbox.put_nowait({"channel": channel.encode(), "data": args[0]})

        return publish

    def subscribed(self) -> set[str]:
        """What a live connection (not one killed by a restart) is subscribed to."""
        return {c for p in self.pubsubs if p.generation == self.generation and not p.closed for c in p.channels}


class FakePubSub:
    def __init__(self, server: FakeRedis) -> None:
        self.server, self.generation = server, server.generation
        self.channels: set[str] = set()
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed = False

    async def subscribe(self, *channels: str) -> None:
        self.server.check(self.generation)
        self.channels.update(channels)

    async def unsubscribe(self, *channels: str) -> None:
        self.server.check(self.generation)
        self.channels.difference_update(channels)

    async def get_message(self, ignore_subscribe_messages: bool, timeout: float) -> dict[str, Any] | None:  # noqa: ASYNC109
        self.server.check(self.generation)
        try:
            return await asyncio.wait_for(self.inbox.get(), min(timeout, 0.02))
        except TimeoutError:
            return None

    async def aclose(self) -> None:
        self.closed = True


async def eventually(condition: Any, seconds: float = 3.0) -> None:
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {seconds} s")


async def receive(subscriber: Any, seconds: float = 3.0) -> bytes:
    async with asyncio.timeout(seconds):
        async for data in subscriber.iter_events():
            return bytes(data)
    raise AssertionError("the subscriber stopped")


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "RECONNECT_MIN_S", 0.01)
    monkeypatch.setattr(live, "RECONNECT_MAX_S", 0.05)


async def test_subscribers_receive_again_after_a_restart_and_nothing_raises_while_down() -> None:
    redis = FakeRedis()
    backend = live.ReconnectingRedisBackend(redis=redis)  # type: ignore[arg-type]
    async with ChannelsPlugin(backend=backend, arbitrary_channels_allowed=True) as channels:
        async with channels.start_subscription(["a", "gone"]) as before, channels.start_subscription(["gone"]):
            await channels.wait_published(b"1", ["a"])
            assert await receive(before) == b"1"

            redis.stop()
            with pytest.raises(RedisConnectionError):  # the API's sink logs and drops it
                await channels.wait_published(b"lost", ["a"])
            async with channels.start_subscription(["b"]) as during:  # subscribing does not raise
                await channels.unsubscribe(before, ["gone"])  # neither does unsubscribing
                await asyncio.sleep(0.1)  # the stream loop keeps failing, with backoff, and does not end

                redis.start()
                await eventually(lambda: redis.subscribed() == {"a", "b", "gone"})
                await channels.wait_published(b"2", ["a", "b"])
                assert await receive(before) == b"2"
                assert await receive(during) == b"2"
        # The last subscriber left while Redis was up: unsubscribed on the live connection.
        assert redis.subscribed() == set()


async def test_a_channel_dropped_while_down_is_not_subscribed_again() -> None:
    redis = FakeRedis()
    backend = live.ReconnectingRedisBackend(redis=redis)  # type: ignore[arg-type]
    plugin = ChannelsPlugin(backend=backend, arbitrary_channels_allowed=True)
    async with plugin as channels, channels.start_subscription(["kept"]) as kept:
        async with channels.start_subscription(["dropped"]):
            redis.stop()
        redis.start()
        await eventually(lambda: redis.subscribed() == {"kept"})
        await channels.wait_published(b"x", ["kept", "dropped"])
        assert await receive(kept) == b"x"
