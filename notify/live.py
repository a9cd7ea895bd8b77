"""Live push: every committed event reaches the open streams of its order, the dispatch console, and (an in-app
notification) its user.

How events travel:
* SQLAlchemy hooks note the `Event` rows `record_event` adds to a session (forgetting those of a savepoint that
  rolls back) and, once the transaction has committed (never on rollback), publish them on Litestar channels:
  `diesel.order.<id>` for an order's events, `diesel.pickup.<id>` for a pickup booking's, `diesel.dispatch` for
  everything but account, money and price events, `diesel.user.<id>` for the user's in-app notifications (events
  of type `notification`).
* With Redis (`REDIS_URL`), channels use Redis pub/sub, so every API process sees every event, and the worker
  publishes the events its tasks commit straight to Redis (`install_redis_sink`). The subscription survives a
  Redis restart (`ReconnectingRedisBackend`): open streams keep flowing once Redis is back; what is committed
  while it is down is not pushed (the timeline and `Last-Event-ID` replay still have it).
* Without Redis (the embedded default), channels live in memory; a relay in each API process polls the event
  log while someone is listening, so events committed by the worker or by another API process arrive too.
  Events published by the hook are remembered, so the relay never sends them twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
from litestar import Litestar
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol
from litestar.response import ServerSentEvent, ServerSentEventMessage
from redis.exceptions import RedisError
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from core.clock import SystemClock, stopped_within
from core.errors import TooManyRequests
from core.events import on_events_committed, on_positions_committed
from core.models import Event
from core.settings import LiveSettings, Settings
from notify.webhooks.outbox import uuid7_floor, uuid7_time
from notify.webhooks.schemas import EventPayload, event_payload

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = logging.getLogger("diesel.live")
DISPATCH_CHANNEL = "diesel.dispatch"
# Account, credit, user, money and price events stay off the console.
NOT_FOR_DISPATCH = frozenset({"customer", "user", "invoice", "payment", "price"})
NOTIFICATION_EVENT = "notification"  # an in-app notification: to its user's own stream
HEARTBEAT_S = 15.0
RELAY_EVERY_S = 1.0
PUBLISH_BATCH = 200
# After the first message of a batch the sink waits this long for more: one Redis round trip for many
# messages (under load a round trip per message cost 8 % of an order's CPU); people do not see 10 ms.
PUBLISH_LINGER_S = 0.01
RELAY_OVERLAP_S = 10
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 5.0
_PENDING_KEY = "live_events"


def order_channel(order_id: uuid.UUID) -> str:
    return f"diesel.order.{order_id}"


def user_channel(user_id: uuid.UUID) -> str:
    """A user's own notifications (`GET /me/notifications/live`)."""
    return f"diesel.user.{user_id}"


def pickup_channel(booking_id: uuid.UUID) -> str:
    return f"diesel.pickup.{booking_id}"


def channels_for(payload: EventPayload) -> list[str]:
    channels = []
    if payload.subject_type == "order":
        channels.append(order_channel(payload.subject_id))
    if payload.subject_type == "user" and payload.type == NOTIFICATION_EVENT:
        channels.append(user_channel(payload.subject_id))
    if payload.subject_type == "pickup":
        channels.append(pickup_channel(payload.subject_id))
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


def publish_positions(positions: Sequence[msgspec.Struct]) -> None:
    """A batch of tanker positions to the dispatch console (call after the batch was stored): one message
    `event: positions`, `data: {"type": "positions", "positions": [...]}`."""
    if positions:
        publish_raw(None, msgspec.json.encode({"type": "positions", "positions": positions}), [DISPATCH_CHANNEL])


def publish_raw(event_id: uuid.UUID | None, data: bytes, channels: Sequence[str]) -> None:
    """Send a JSON object with a `type` (and an `id` for events) to live streams."""
    for sink in list(_sinks):
        try:
            sink.publish(event_id, data, channels)
        except Exception:  # live push is best effort: never fail the caller, whose transaction has committed
            log.warning("live publish failed on %s", type(sink).__name__, exc_info=True)


def _added(session: Session, obj: object) -> None:
    """`record_event` added an event: remember it, and the (innermost) transaction it belongs to.

    Captured when added, not when flushed: a hot path may expunge events and write them with one Core statement.
    """
    if _sinks and isinstance(obj, Event):
        transaction = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(_PENDING_KEY, []).append((obj, transaction))


def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """A savepoint (or the whole transaction) rolled back: its events never happened."""
    pending: list[tuple[Event, SessionTransaction | None]] = session.info.get(_PENDING_KEY, [])
    pending[:] = [(obj, tx) for obj, tx in pending if not _within(tx, previous_transaction)]


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _publish_committed(session: Session) -> None:
    pending: list[tuple[Event, SessionTransaction | None]] = session.info.pop(_PENDING_KEY, [])
    _publish_events([obj for obj, _ in pending])


def _publish_events(events: Sequence[Event]) -> None:
    payloads = [event_payload(obj) for obj in events if obj.id is not None]
    for payload in sorted(payloads, key=lambda p: p.id):
        publish(payload)


def _discard(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended without a commit (after one, nothing is left): forget its events."""
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def _listen() -> None:
    """Hook every session of this process (idempotent)."""
    global _listening
    if not _listening:
        sa_event.listen(Session, "transient_to_pending", _added)
        sa_event.listen(Session, "after_soft_rollback", _rolled_back)
        sa_event.listen(Session, "after_commit", _publish_committed)
        sa_event.listen(Session, "after_transaction_end", _discard)
        on_events_committed(_publish_events)
        on_positions_committed(publish_positions)
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
    """The API's sink: a queue on the app's event loop, drained by one task into the channels backend.

    Not `ChannelsPlugin.publish`: its worker task ends at the first backend error (Redis down), after which
    nothing is published again and the app's shutdown waits forever on its queue. Here an error costs the messages
    of one batch (what queued while the previous batch was sent).
    """

    def __init__(
        self, channels: ChannelsPlugin, backend: ChannelsBackend, loop: asyncio.AbstractEventLoop, seen: _Seen
    ) -> None:
        self.channels, self.backend, self.loop, self.seen = channels, backend, loop, seen
        self.queue: asyncio.Queue[tuple[bytes, list[str]]] = asyncio.Queue(maxsize=10_000)

    def publish(self, event_id: uuid.UUID | None, data: bytes, channels: Sequence[str]) -> None:
        if event_id is not None and not self.seen.add(event_id):
            return
        try:
            same_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            self._enqueue(data, list(channels))
        else:
            self.loop.call_soon_threadsafe(self._enqueue, data, list(channels))

    def _enqueue(self, data: bytes, channels: list[str]) -> None:
        try:
            self.queue.put_nowait((data, channels))
        except asyncio.QueueFull:
            log.warning("live push is %d messages behind: dropping one", self.queue.qsize())

    async def run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            await asyncio.sleep(PUBLISH_LINGER_S)
            # What queued meanwhile goes in the same round trip.
            while len(batch) < PUBLISH_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self._publish(batch)
            except RedisError as error:  # Redis down: drop these messages, the next ones may go through
                log.warning("live push could not publish %d messages (%s)", len(batch), _describe(error))
            except Exception:
                log.warning("live push could not publish %d messages", len(batch), exc_info=True)

    async def _publish(self, batch: list[tuple[bytes, list[str]]]) -> None:
        if isinstance(self.backend, ReconnectingRedisBackend):  # the plugin has no batch publish; Redis does
            await self.backend.publish_many(batch)
            return
        for data, channels in batch:
            await self.channels.wait_published(data, channels)


class ReconnectingRedisBackend(RedisChannelsPubSubBackend):
    """Redis pub/sub channels that survive a Redis restart.

    Upstream, the first connection error ends `stream_events`, so the channels plugin never delivers again, and a
    failed SUBSCRIBE raises after the plugin has recorded the subscriber, so that channel is never subscribed.
    Here the wanted channels are kept apart from the connection: a failure is logged and marks the connection
    stale, and a fresh pub/sub connection subscribing all of them is opened, with backoff, until Redis answers.
    """

    def __init__(self, *, redis: Redis) -> None:
        super().__init__(redis=redis)
        self._wanted: set[str] = set()
        self._pubsub: PubSub | None = None
        self._stale = False
        self._lock = asyncio.Lock()  # subscribe, unsubscribe and reconnect change the connection one at a time

    @property
    def _pub_sub(self) -> PubSub:
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub()
        return self._pubsub

    async def on_shutdown(self) -> None:
        await _close(self._pubsub)
        # The client's own pool (publishing) goes too: left to the garbage collector, its connections would be
        # closed on an event loop that has ended.
        with suppress(Exception):
            await self._redis.aclose()

    async def publish_many(self, messages: Sequence[tuple[bytes, Sequence[str]]]) -> None:
        """Every message to each of its channels, in one pipelined round trip (in order, not atomically).

        What goes to one channel is one PUBLISH: a JSON array of the messages when there are several (each
        message is a JSON object), which `_decode` unpacks. A command per message per channel cost more CPU
        than the rest of the push."""
        by_channel: dict[str, list[bytes]] = {}
        for data, channels in messages:
            for channel in dict.fromkeys(channels):
                by_channel.setdefault(channel, []).append(data)
        pipe = self._redis.pipeline(transaction=False)
        for channel, items in by_channel.items():
            pipe.publish(channel, items[0] if len(items) == 1 else b"[" + b",".join(items) + b"]")
        await pipe.execute()

    async def subscribe(self, channels: Iterable[str]) -> None:
        channels = set(channels)
        async with self._lock:
            self._wanted |= channels
            try:
                if self._stale:  # Redis may be back: a new stream need not wait for the stream loop's backoff
                    await self._reconnect()
                else:
                    await self._pub_sub.subscribe(*channels)
            except Exception as error:  # the stream loop subscribes them once Redis answers
                self._stale = True
                log.warning("live push could not subscribe (%s): will retry", _describe(error))
            self._has_subscribed.set()  # only now: reading a connection before its first SUBSCRIBE fails

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        async with self._lock:
            self._wanted -= set(channels)
            if not self._wanted:
                self._has_subscribed.clear()
            if not self._stale:
                try:
                    await self._pub_sub.unsubscribe(*channels)
                except Exception:  # a new connection subscribes only what is still wanted
                    self._stale = True

    async def _reconnect(self) -> None:
        """Under the lock: a new pub/sub connection subscribed to every wanted channel."""
        old, self._pubsub = self._pubsub, self._redis.pubsub()
        await _close(old)
        if self._wanted:
            await self._pubsub.subscribe(*self._wanted)
        self._stale = False
        log.info("live push subscribed to Redis again (%d channels)", len(self._wanted))

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any]]:
        delay = 0.0
        while True:
            await self._has_subscribed.wait()
            if self._stale:
                try:
                    async with self._lock:
                        if self._stale:
                            await self._reconnect()
                except Exception as error:
                    delay = await _backoff(delay, error)
                    continue
            pubsub = self._pub_sub
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except Exception as error:
                if pubsub is not self._pubsub:  # subscribe() replaced it meanwhile: read the new one
                    continue
                self._stale = True
                delay = await _backoff(delay, error)
                continue
            delay = 0.0
            if message is not None:
                channel = message["channel"].decode()
                if channel in self._wanted:  # an unsubscribe may still be in flight
                    yield channel, message["data"]


async def _close(pubsub: PubSub | None) -> None:
    if pubsub is not None:
        with suppress(Exception):  # its connection is usually dead already
            # Through a typed name: redis-py 8.1 leaves aclose untyped, 8.2 types it (an ignore fails one of them).
            close: Callable[[], Awaitable[None]] = pubsub.aclose
            await close()


async def _backoff(delay: float, error: BaseException) -> float:
    """Wait before the next attempt (0.5 s, doubling up to 5 s); say so once per outage."""
    if delay == 0:
        log.warning("live push lost its Redis subscription (%s): reconnecting", _describe(error))
    delay = min(max(2 * delay, RECONNECT_MIN_S), RECONNECT_MAX_S)
    await asyncio.sleep(delay)
    return delay


class LivePlugin(InitPluginProtocol):
    """Litestar channels (Redis pub/sub when configured, memory otherwise) plus the publishing hook and relay."""

    def __init__(
        self, *, redis_url: str | None, limits: LiveSettings, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self.redis_url = redis_url
        self.limits = limits
        self.wall_clock = wall_clock  # tokens expire in wall-clock time (their `exp`), whatever the app's clock says
        self._open: dict[uuid.UUID, int] = {}  # open streams per user, in this process
        backend: ReconnectingRedisBackend | MemoryChannelsBackend
        if self.redis_url:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import ExponentialBackoff

            # Fail fast when Redis is down (the backend retries by itself); ping an idle subscription so a
            # connection that died silently is noticed.
            redis = Redis.from_url(
                self.redis_url,
                socket_connect_timeout=2,
                socket_timeout=5,
                health_check_interval=30,
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.1), 1),
            )
            backend = ReconnectingRedisBackend(redis=redis)
        else:
            backend = MemoryChannelsBackend()
        self.backend = backend
        self.channels = ChannelsPlugin(backend=backend, arbitrary_channels_allowed=True, subscriber_max_backlog=1000)
        self.listeners = 0  # open streams: the relay only polls while someone listens
        self._seen = _Seen()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        self.channels.on_app_init(app_config)
        # Handlers reach the plugin as `live`. Litestar takes a body error under a dependency's name (`channels` of
        # PUT /me/notification-settings) for a server fault and would answer 500, so the plugin's own goes.
        app_config.dependencies.pop("channels", None)
        app_config.dependencies["live"] = Provide(lambda: self, use_cache=True, sync_to_thread=False)
        app_config.lifespan.append(self._lifespan)
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        sink = ChannelsSink(self.channels, self.backend, asyncio.get_running_loop(), self._seen)
        add_sink(sink)
        publishing = asyncio.create_task(sink.run())
        stop = asyncio.Event()
        relay = None if self.redis_url else asyncio.create_task(self._relay(app.state.session_factory, sink, stop))
        try:
            yield
        finally:
            remove_sink(sink)
            if relay is not None:
                # Told to stop and awaited, never cancelled: a cancel landing in its database pass can leave an
                # aiosqlite connection's close waiting for ever (as in dispatch.tasks), and shutdown with it.
                stop.set()
                await asyncio.wait([relay])
            publishing.cancel()  # it only waits on its queue and the channels backend
            with suppress(asyncio.CancelledError):
                await publishing

    async def _relay(self, factory: async_sessionmaker[AsyncSession], sink: ChannelsSink, stop: asyncio.Event) -> None:
        cursor = uuid7_floor(SystemClock().now())
        while not await stopped_within(stop, RELAY_EVERY_S):
            if self.listeners <= 0:
                cursor = uuid7_floor(SystemClock().now() - timedelta(seconds=RELAY_OVERLAP_S))
                continue
            try:
                cursor = await self._relay_once(factory, cursor, sink)
            except Exception:
                log.warning("live relay pass failed", exc_info=True)

    async def _relay_once(
        self, factory: async_sessionmaker[AsyncSession], cursor: uuid.UUID, sink: ChannelsSink
    ) -> uuid.UUID:
        since = uuid7_floor(uuid7_time(cursor) - timedelta(seconds=RELAY_OVERLAP_S))
        async with factory() as session:
            # Again the last seconds before the cursor (transactions that committed late), then what is new.
            late = (await session.scalars(select(Event).where(Event.id > since, Event.id <= cursor))).all()
            new = (await session.scalars(select(Event).where(Event.id > cursor).order_by(Event.id).limit(500))).all()
        for row in [*late, *new]:
            payload = event_payload(row)
            channels = channels_for(payload)
            if channels:
                sink.publish(row.id, msgspec.json.encode(payload), channels)  # skips what was already sent
        return new[-1].id if new else cursor

    def stream(self, channel: str, viewer: StreamViewer, backlog: Iterable[EventPayload] = ()) -> ServerSentEvent:
        """An SSE response: `ready` once subscribed, then the backlog, then events as they are committed, until
        the viewer's token expires or its re-check says no (then an `end` message, and the stream closes).

        Refused with 429 `too_many_streams` when the viewer already holds `streams_per_user` open streams."""
        return ServerSentEvent(
            self.messages(channel, viewer, backlog), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )

    def messages(
        self, channel: str, viewer: StreamViewer, backlog: Iterable[EventPayload] = ()
    ) -> AsyncGenerator[ServerSentEventMessage]:
        """The messages of `stream`; the place among the viewer's streams is taken now (429 at once)."""
        lease = self._lease(viewer.user_id)
        messages = self._messages(channel, list(backlog), viewer, lease)
        # A response that is never sent never starts its generator (whose `finally` gives the place back).
        weakref.finalize(messages, lease.release)
        return messages

    def open_streams(self, user_id: uuid.UUID) -> int:
        return self._open.get(user_id, 0)

    def _lease(self, user_id: uuid.UUID) -> _Lease:
        """A place among the user's open streams: taken now (no await between the count and the taking, so
        requests racing for the last place cannot both get it), given back when the stream ends."""
        if self.open_streams(user_id) >= self.limits.streams_per_user:
            raise TooManyRequests(
                f"at most {self.limits.streams_per_user} live streams at once: close one first",
                code="too_many_streams",
            )
        self._open[user_id] = self.open_streams(user_id) + 1
        return _Lease(self._open, user_id)

    async def _messages(
        self, channel: str, backlog: list[EventPayload], viewer: StreamViewer, lease: _Lease
    ) -> AsyncGenerator[ServerSentEventMessage]:
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
                    async for message in self._until_ended(inbox, viewer):
                        if message.id not in sent:
                            yield message
        finally:
            self.listeners -= 1
            lease.release()

    async def _until_ended(
        self, inbox: asyncio.Queue[bytes], viewer: StreamViewer
    ) -> AsyncGenerator[ServerSentEventMessage]:
        """What arrives in the inbox, a keep-alive after each quiet spell, until the viewer may no longer follow."""
        next_check = self.wall_clock() + self.limits.recheck_s
        while True:
            now = self.wall_clock()
            if now >= viewer.expires_at:
                yield _end("token_expired")
                return
            if viewer.still_allowed is not None and now >= next_check:
                if not await viewer.still_allowed():
                    yield _end("access_ended")
                    return
                next_check = now + self.limits.recheck_s
            wake_in = min(HEARTBEAT_S, viewer.expires_at - now)
            if viewer.still_allowed is not None:
                wake_in = min(wake_in, max(0.0, next_check - now))
            try:
                data = await asyncio.wait_for(inbox.get(), wake_in)
            except TimeoutError:
                yield ServerSentEventMessage(comment="keep-alive", data=None)
                continue
            for message in _decode(data):
                yield message


@dataclass(frozen=True, slots=True)
class StreamViewer:
    """Who follows a stream, and until when: the token's expiry (epoch seconds), and an optional re-check, run
    every `LIVE_RECHECK_S` while the stream is open, that ends it when it answers False (e.g. the user's session
    was ended, the user deactivated). The re-check runs long after the request's database session has closed: it
    opens its own (e.g. from `app.state.session_factory`) or asks a cache."""

    user_id: uuid.UUID
    expires_at: float
    still_allowed: Callable[[], Awaitable[bool]] | None = None


class _Lease:
    """One open stream of one user; given back once, however the stream ends."""

    def __init__(self, open_streams: dict[uuid.UUID, int], user_id: uuid.UUID) -> None:
        self._open, self._user_id, self._held = open_streams, user_id, True

    def release(self) -> None:
        if self._held:
            self._held = False
            left = self._open.get(self._user_id, 1) - 1
            if left > 0:
                self._open[self._user_id] = left
            else:
                self._open.pop(self._user_id, None)


def _end(reason: str) -> ServerSentEventMessage:
    """The last message of a stream the server closes: a client should not reconnect with the same token."""
    return ServerSentEventMessage(event="end", data=msgspec.json.encode({"type": "end", "reason": reason}).decode())


def _decode(data: bytes) -> list[ServerSentEventMessage]:
    """Whatever was published: a JSON object with `type` and, for events, `id`; or an array of them (a batch
    for one channel, `ReconnectingRedisBackend.publish_many`)."""
    try:
        items = msgspec.json.decode(data, type=list[msgspec.Raw]) if data[:1] == b"[" else [msgspec.Raw(data)]
        return [m for raw in items if (m := _decode_one(bytes(raw))) is not None]
    except msgspec.DecodeError:
        return []


def _decode_one(data: bytes) -> ServerSentEventMessage | None:
    item = msgspec.json.decode(data)
    if not isinstance(item, dict):
        return None
    event_id = item.get("id")
    return ServerSentEventMessage(
        id=str(event_id) if event_id else None, event=str(item.get("type") or "message"), data=data.decode()
    )


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _message(payload: EventPayload) -> ServerSentEventMessage:
    return ServerSentEventMessage(id=str(payload.id), event=payload.type, data=msgspec.json.encode(payload).decode())


def live_plugin(settings: Settings) -> LivePlugin:
    return LivePlugin(redis_url=settings.broker.redis_url, limits=settings.live)
