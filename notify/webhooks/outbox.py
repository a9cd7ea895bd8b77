"""The durable outbox: turn new rows of the event log into one delivery per matching webhook.

The event log is the outbox. A cursor remembers the last event id handled; uuid7 ids are time-ordered, but a
transaction may commit after a later one, so every pass also re-reads a short window before the cursor. The
unique (webhook, event) pair on deliveries makes seeing an event twice harmless.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Event
from notify.webhooks.models import OutboxCursor, Webhook, WebhookDelivery
from notify.webhooks.service import WEBHOOK_SUBJECTS, wants
from notify.webhooks.states import DeliveryStatus

CURSOR = "webhooks"
_UUID7_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)


def uuid7_floor(at: datetime) -> uuid.UUID:
    """The smallest uuid7 that can be generated at `at` (only the millisecond timestamp set)."""
    millis = max(0, int(at.timestamp() * 1000))
    return uuid.UUID(int=(millis << 80) | _UUID7_VERSION_AND_VARIANT)


def uuid7_time(value: uuid.UUID) -> datetime:
    return datetime.fromtimestamp((value.int >> 80) / 1000, tz=UTC)


async def _cursor(session: AsyncSession, *, now: datetime, overlap_s: int) -> OutboxCursor:
    cursor = await session.scalar(select(OutboxCursor).where(OutboxCursor.name == CURSOR).with_for_update())
    if cursor is None:
        # First run: start at the recent past (the webhooks registered before it see their events anyway).
        cursor = OutboxCursor(
            name=CURSOR, last_event_id=uuid7_floor(now - timedelta(seconds=overlap_s)), updated_at=now
        )
        session.add(cursor)
        await session.flush()
    return cursor


async def create_deliveries(session: AsyncSession, *, now: datetime, overlap_s: int, batch: int) -> list[uuid.UUID]:
    """One pass: the ids of the deliveries created (to be sent once this transaction has committed)."""
    cursor = await _cursor(session, now=now, overlap_s=overlap_s)
    hooks: dict[uuid.UUID, list[Webhook]] = defaultdict(list)
    for hook in (await session.scalars(select(Webhook))).all():
        hooks[hook.customer_id].append(hook)
    if not hooks:
        return []
    relevant = (Event.customer_id.in_(list(hooks)), Event.subject_type.in_(WEBHOOK_SUBJECTS))
    window_start = uuid7_floor(uuid7_time(cursor.last_event_id) - timedelta(seconds=overlap_s))
    late = (
        await session.scalars(select(Event).where(*relevant, Event.id > window_start, Event.id <= cursor.last_event_id))
    ).all()
    fresh = (
        await session.scalars(
            select(Event).where(*relevant, Event.id > cursor.last_event_id).order_by(Event.id).limit(batch)
        )
    ).all()
    if fresh:
        cursor.last_event_id, cursor.updated_at = fresh[-1].id, now
    wanted = [
        (hook, event)
        for event in [*late, *fresh]
        if event.customer_id is not None
        for hook in hooks[event.customer_id]
        # uuid7 ids are time-ordered: only events recorded after the webhook was registered.
        if event.id > hook.id and wants(hook, event.type)
    ]
    if not wanted:
        return []
    pairs = await session.execute(
        select(WebhookDelivery.webhook_id, WebhookDelivery.event_id).where(
            WebhookDelivery.event_id.in_({event.id for _, event in wanted})
        )
    )
    existing = {(webhook_id, event_id) for webhook_id, event_id in pairs}
    created = [
        WebhookDelivery(
            webhook_id=hook.id,
            event_id=event.id,
            event_type=event.type,
            status=str(DeliveryStatus.PENDING),
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for hook, event in wanted
        if (hook.id, event.id) not in existing
    ]
    session.add_all(created)
    await session.flush()
    return [d.id for d in created]


async def lost_deliveries(
    session: AsyncSession, *, now: datetime, stale_after_s: int, limit: int = 200
) -> list[uuid.UUID]:
    """Pending deliveries long past due and not being sent: their message was lost (broker down, worker killed)."""
    stale = now - timedelta(seconds=stale_after_s)
    rows = await session.scalars(
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at < stale,
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list(rows.all())
