"""Celery tasks of webhooks: the periodic outbox pass and the sending of one delivery (ids in, idempotent)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from celery.signals import worker_init, worker_ready

from core.celery_app import celery_app
from core.clock import SystemClock
from core.db import create_engine, session_factory, unit_of_work
from core.settings import get_settings
from notify import live
from notify.webhooks import outbox, sender
from notify.webhooks.config import WebhookSettings, webhook_settings
from notify.webhooks.crypto import cipher_for
from notify.webhooks.pinning import Resolver, system_resolver


@celery_app.task(name="notify.webhooks_outbox", ignore_result=True, time_limit=120, soft_time_limit=100)
def webhooks_outbox() -> int:
    return asyncio.run(outbox_pass())


async def outbox_pass(
    *,
    database_url: str | None = None,
    settings: WebhookSettings | None = None,
    enqueue: Callable[[str], Any] | None = None,
) -> int:
    """Create deliveries for new events, queue them, and queue again the ones whose message was lost.

    Callable directly (tests, a CLI); returns how many deliveries were queued.
    """
    settings = settings or webhook_settings()
    enqueue = enqueue or (lambda delivery_id: send_webhook.delay(delivery_id))
    now = SystemClock().now()
    engine = create_engine(database_url or get_settings().db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            created = await outbox.create_deliveries(
                session, now=now, overlap_s=settings.outbox_overlap_s, batch=settings.outbox_batch
            )
            lost = await outbox.lost_deliveries(session, now=now, stale_after_s=settings.stale_after_s)
    finally:
        await engine.dispose()
    queued = list(dict.fromkeys([*created, *lost]))
    for delivery_id in queued:  # after the commit: a worker must find the rows
        enqueue(str(delivery_id))
    return len(queued)


@celery_app.task(name="notify.send_webhook", ignore_result=True, time_limit=120, soft_time_limit=100)
def send_webhook(delivery_id: str) -> str:
    return asyncio.run(deliver(uuid.UUID(delivery_id)))


async def deliver(
    delivery_id: uuid.UUID, *, settings: WebhookSettings | None = None, resolver: Resolver = system_resolver
) -> str:
    """One attempt of one delivery. No session is open while the receiver is called."""
    settings = settings or webhook_settings()
    clock = SystemClock()
    app_settings = get_settings()
    cipher = cipher_for(app_settings.auth)
    engine = create_engine(app_settings.db.url, null_pool=True)
    factory = session_factory(engine)
    try:
        async with unit_of_work(factory) as session:
            outgoing = await sender.claim(
                session, delivery_id, now=clock.now(), lease_s=settings.lease_s, cipher=cipher
            )
            wait = None if outgoing else await sender.seconds_until_due(session, delivery_id, now=clock.now())
        if outgoing is None:
            if wait is not None:  # the message came early (e.g. re-queued): come back when it is due
                send_webhook.apply_async((str(delivery_id),), countdown=wait)
            return "skipped"
        outcome = await sender.post(outgoing, settings=settings, resolver=resolver)
        async with unit_of_work(factory) as session:
            retry_in = await sender.record(session, outgoing, outcome, now=clock.now(), settings=settings)
    finally:
        await engine.dispose()
    if retry_in is not None:
        send_webhook.apply_async((str(delivery_id),), countdown=retry_in)
    return "delivered" if outcome.ok else "failed"


@worker_init.connect
@worker_ready.connect
def _publish_live_from_worker(**_: Any) -> None:
    """Events committed by tasks reach live streams through Redis (with the in-memory backend the API polls)."""
    redis_url = get_settings().broker.redis_url
    if redis_url:
        live.install_redis_sink(redis_url)
