"""Celery tasks of notifications: the periodic outbox pass, and the sending of a batch (ids in, idempotent)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.celery_app import celery_app
from core.clock import Clock, SystemClock
from core.db import after_commit, create_engine, session_factory, unit_of_work
from core.events import events_committed
from core.settings import Settings, get_settings
from notify import outbox, sender
from notify.channels import available_channels, channel_for
from notify.config import NotifySettings, notify_settings
from notify.facts import Context

Enqueue = Callable[[str, list[str]], Any]
log = logging.getLogger("diesel.notify")


def _enqueue(channel: str, ids: list[str]) -> None:
    send_notifications.delay(channel, ids)


@dataclass(frozen=True, slots=True)
class PassResult:
    created: int  # notifications made from new events
    queued: int  # notifications handed to send tasks


@celery_app.task(name="notify.notifications_outbox", ignore_result=True, time_limit=300, soft_time_limit=280)
def notifications_outbox() -> int:
    return asyncio.run(outbox_pass()).queued


async def outbox_pass(
    *,
    database_url: str | None = None,
    settings: NotifySettings | None = None,
    app_settings: Settings | None = None,
    enqueue: Enqueue | None = None,
    now: datetime | None = None,
) -> PassResult:
    """Make the notifications of new events, then queue every due one (new, retried, or out of quiet hours).

    Callable directly (tests, benchmarks, a CLI)."""
    settings = settings or notify_settings()
    app_settings = app_settings or get_settings()
    enqueue = enqueue or _enqueue
    now = now or SystemClock().now()
    context = Context(
        public_base_url=app_settings.public_base_url,
        secret_key=app_settings.auth.secret_key,
        default_timezone=app_settings.default_timezone,
        credit_alert_bps=settings.credit_alert_bps,
        now=now,
    )
    engine = create_engine(database_url or app_settings.db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            derived = await outbox.derive(
                session,
                context=context,
                available=available_channels(settings),
                overlap_s=settings.outbox_overlap_s,
                batch=settings.outbox_batch,
            )
            # Events written with one statement: live push hears of them once they have committed.
            after_commit(session, lambda: events_committed(derived.live))
        async with unit_of_work(session_factory(engine)) as session:
            due = await outbox.queue_due(
                session, now=now, stale_after_s=settings.stale_after_s, limit=settings.due_per_pass
            )
    finally:
        await engine.dispose()
    queued = 0
    for channel, ids in due.items():  # after the commit: a worker must find them queued
        for start in range(0, len(ids), settings.queue_batch):
            batch = [str(i) for i in ids[start : start + settings.queue_batch]]
            enqueue(channel, batch)
            queued += len(batch)
    return PassResult(created=derived.created, queued=queued)


@celery_app.task(name="notify.send_notifications", ignore_result=True, time_limit=300, soft_time_limit=280)
def send_notifications(channel: str, ids: list[str]) -> int:
    return asyncio.run(send_batch(channel, [uuid.UUID(i) for i in ids]))


async def send_batch(
    channel: str,
    ids: list[uuid.UUID],
    *,
    settings: NotifySettings | None = None,
    database_url: str | None = None,
    clock: Clock | None = None,
) -> int:
    """One attempt at each of the notifications (those still due); returns how many were sent. A failed one waits
    for its backoff and the next outbox pass queues it again."""
    settings = settings or notify_settings()
    if channel not in available_channels(settings):
        # Not configured in this worker: leave them queued, untouched (no attempt used); the outbox queues them
        # again after `stale_after_s`, for a worker that can send them.
        log.warning(
            "%d %s notifications left for another worker: %s is not configured here", len(ids), channel, channel
        )
        return 0
    clock = clock or SystemClock()
    engine = create_engine(database_url or get_settings().db.url, null_pool=True)
    factory = session_factory(engine)
    try:
        async with unit_of_work(factory) as session:
            messages = await sender.claim(session, ids, now=clock.now(), lease_s=settings.lease_s)
        outcomes = await sender.send(channel_for(channel, settings), messages)
        if not messages:
            return 0
        async with unit_of_work(factory) as session:
            return await sender.record(session, messages, outcomes, now=clock.now(), settings=settings)
    finally:
        await engine.dispose()
