"""Live push: every committed event reaches the open streams of its order and the dispatch console.

How events travel:
* In the API, a SQLAlchemy hook collects the `Event` rows each flush inserts and, once the transaction has
  committed (never on rollback), publishes them on Litestar channels: `diesel.order.<id>` for an order's
  events, `diesel.dispatch` for everything but account events.
* With Redis (`REDIS_URL`), channels use Redis pub/sub, so every API process sees every event, and the worker
  publishes the events its tasks commit straight to Redis (`install_redis_sink`).
* Without Redis (the embedded default), channels live in memory; a relay in each API process polls the event
  log while someone is listening, so events committed by the worker or by another API process arrive too.
  Events published by the hook are remembered, so the relay never sends them twice.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Protocol

import msgspec
from litestar import Litestar
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy import event as sa_event
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, UOWTransaction

from core.clock import SystemClock
from core.models import Event
from core.settings import Settings
from tracking.webhooks.outbox import uuid7_floor, uuid7_time
from tracking.webhooks.schemas import EventPayload, event_payload

log = logging.getLogger("diesel.live")
DISPATCH_CHANNEL = "diesel.dispatch"
NOT_FOR_DISPATCH = frozenset({"customer"})  # account and credit events stay off the console
HEARTBEAT_S = 15.0
RELAY_EVERY_S = 1.0
RELAY_OVERLAP_S = 10
_PENDING_KEY = "live_events"


def order_channel(order_id: uuid.UUID) -> str:
    return f"diesel.order.{order_id}"


def channels_for(payload: EventPayload) -> list[str]:
    channels = []
    if payload.subject_type == "order":
        channels.append(order_channel(payload.subject_id))
    if payload.subject_type not in NOT_FOR_DISPATCH:
        channels.append(DISPATCH_CHANNEL)
    return channels


class Sink(Protocol):
    def publish(self, event_id: uuid.UUID | None, data: bytes, channels: Sequence[str]) -> None: ...


_sinks: list[Sink] = []
_listening = False


def publish(payload: EventPayload) -> None:
    """Send one event to every live stream that wants it (does nothing when nothing is installed)."""
    channels = channels_for(payload)
    if channels:
        publish_raw(payload.id, msgspec.json.encode(payload), channels)


def publish_raw(event_id: uuid.UUID | None, data: bytes, channels: Sequence[str]) -> None:
    """For things that are not events, e.g. a tanker position on `DISPATCH_CHANNEL` (event_id None)."""
    for sink in list(_sinks):
        try:
            sink.publish(event_id, data, channels)
        except Exception:  # live push is best effort: never fail the caller, whose transaction has committed
            log.warning("live publish failed on %s", type(sink).__name__, exc_info=True)


def _collect(session: Session, _flush: UOWTransaction) -> None:
    if _sinks:
        new = [(obj, event_payload(obj)) for obj in session.new if isinstance(obj, Event)]
        if new:
            session.info.setdefault(_PENDING_KEY, []).extend(new)


def _publish_committed(session: Session) -> None:
    pending: list[tuple[Event, EventPayload]] = session.info.pop(_PENDING_KEY, [])
    for obj, payload in sorted(pending, key=lambda item: item[1].id):
        if inspect(obj).persistent:  # rows flushed in a savepoint that was rolled back are not
            publish(payload)


def _discard(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def _listen() -> None:
    """Hook every session of this process (idempotent)."""
    global _listening
    if not _listening:
        sa_event.listen(Session, "after_flush", _collect)
        sa_event.listen(Session, "after_commit", _publish_committed)
        sa_event.listen(Session, "after_rollback", _discard)
        _listening = True


def add_sink(sink: Sink) -> None:
    _listen()
    _sinks.append(sink)


def remove_sink(sink: Sink) -> None:
    with suppress(ValueError):
        _sinks.remove(sink)


class RedisSink:
    """The worker's way in: publish straight to the Redis channels the API's channels backend listens to."""

    def __init__(self, redis_url: str) -> None:
        from redis import Redis

        self.redis_url = redis_url
        self._redis = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    def publish(self, event_id: uuid.UUID | None, data: bytes, channels: Sequence[str]) -> None:
        for channel in channels:
            self._redis.publish(channel, data)


def install_redis_sink(redis_url: str) -> None:
    if not any(isinstance(s, RedisSink) and s.redis_url == redis_url for s in _sinks):
        add_sink(RedisSink(redis_url))


class _Seen:
    """The last few thousand event ids sent, so the relay does not repeat what the hook already published."""

    def __init__(self, size: int = 10_000) -> None:
        self._ids: OrderedDict[uuid.UUID, None] = OrderedDict()
        self._size = size

    def add(self, event_id: uuid.UUID) -> bool:
        """True the first time an id is seen."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True


class ChannelsSink:
    """The API's sink: schedule on the channels plugin, from its own event loop."""

    def __init__(self, channels: ChannelsPlugin, loop: asyncio.AbstractEventLoop, seen: _Seen) -> None:
        self.channels, self.loop, self.seen = channels, loop, seen

    def publish(self, event_id: uuid.UUID | None, data: bytes, channels: Sequence[str]) -> None:
        if event_id is not None and not self.seen.add(event_id):
            return
        try:
            same_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            self.channels.publish(data, list(channels))
        else:
            self.loop.call_soon_threadsafe(self.channels.publish, data, list(channels))


class LivePlugin(InitPluginProtocol):
    """Litestar channels (Redis pub/sub when configured, memory otherwise) plus the publishing hook and relay."""

    def __init__(self, settings: Settings) -> None:
        self.redis_url = settings.broker.redis_url
        backend: RedisChannelsPubSubBackend | MemoryChannelsBackend
        if self.redis_url:
            from redis.asyncio import Redis

            backend = RedisChannelsPubSubBackend(redis=Redis.from_url(self.redis_url))
        else:
            backend = MemoryChannelsBackend()
        self.channels = ChannelsPlugin(backend=backend, arbitrary_channels_allowed=True, subscriber_max_backlog=1000)
        self.listeners = 0  # open streams: the relay only polls while someone listens
        self._seen = _Seen()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        self.channels.on_app_init(app_config)
        app_config.dependencies["live"] = Provide(lambda: self, use_cache=True, sync_to_thread=False)
        app_config.lifespan.append(self._lifespan)
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        sink = ChannelsSink(self.channels, asyncio.get_running_loop(), self._seen)
        add_sink(sink)
        relay = None if self.redis_url else asyncio.create_task(self._relay(app.state.session_factory))
        try:
            yield
        finally:
            remove_sink(sink)
            if relay is not None:
                relay.cancel()
                with suppress(asyncio.CancelledError):
                    await relay

    async def _relay(self, factory: async_sessionmaker[AsyncSession]) -> None:
        cursor = uuid7_floor(SystemClock().now())
        while True:
            await asyncio.sleep(RELAY_EVERY_S)
            if self.listeners <= 0:
                cursor = uuid7_floor(SystemClock().now() - timedelta(seconds=RELAY_OVERLAP_S))
                continue
            try:
                cursor = await self._relay_once(factory, cursor)
            except Exception:
                log.warning("live relay pass failed", exc_info=True)

    async def _relay_once(self, factory: async_sessionmaker[AsyncSession], cursor: uuid.UUID) -> uuid.UUID:
        since = uuid7_floor(uuid7_time(cursor) - timedelta(seconds=RELAY_OVERLAP_S))
        async with factory() as session:
            rows = (await session.scalars(select(Event).where(Event.id > since).order_by(Event.id).limit(500))).all()
        for row in rows:
            payload = event_payload(row)
            channels = channels_for(payload)
            if channels and self._seen.add(row.id):
                self.channels.publish(msgspec.json.encode(payload), channels)
        return max(cursor, rows[-1].id) if rows else cursor

    def stream(self, channel: str, backlog: Iterable[EventPayload] = ()) -> ServerSentEvent:
        """An SSE response: `ready` once subscribed, then the backlog, then events as they are committed."""
        return ServerSentEvent(
            self._messages(channel, list(backlog)),
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _messages(self, channel: str, backlog: list[EventPayload]) -> AsyncGenerator[ServerSentEventMessage]:
        self.listeners += 1
        try:
            async with self.channels.start_subscription([channel]) as subscriber:
                yield ServerSentEventMessage(event="ready", data="{}", retry=3000)
                sent: set[str | int | None] = set()
                for payload in backlog:
                    sent.add(str(payload.id))
                    yield _message(payload)
                inbox: asyncio.Queue[bytes] = asyncio.Queue()
                async with subscriber.run_in_background(inbox.put):
                    while True:
                        try:
                            data = await asyncio.wait_for(inbox.get(), HEARTBEAT_S)
                        except TimeoutError:
                            yield ServerSentEventMessage(comment="keep-alive", data=None)
                            continue
                        message = _decode(data)
                        if message is not None and message.id not in sent:
                            yield message
        finally:
            self.listeners -= 1


def _decode(data: bytes) -> ServerSentEventMessage | None:
    """Whatever was published: a JSON object with `type` and, for events, `id`."""
    try:
        item = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return None
    if not isinstance(item, dict):
        return None
    event_id = item.get("id")
    return ServerSentEventMessage(
        id=str(event_id) if event_id else None, event=str(item.get("type") or "message"), data=data.decode()
    )


def _message(payload: EventPayload) -> ServerSentEventMessage:
    return ServerSentEventMessage(id=str(payload.id), event=payload.type, data=msgspec.json.encode(payload).decode())


def live_plugin(settings: Settings) -> LivePlugin:
    return LivePlugin(settings)
