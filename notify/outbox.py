"""The notification outbox: committed events become one notification per (event, user, channel), and notifications
that are due are handed to the queue.

Like the webhook outbox, it reads the event log behind a cursor of its own, re-reading a short window before it
(transactions that committed late); the unique (source, user, channel), or (source, channel, number) for an SMS
to a number that is nobody's login (a pickup pass to a truck driver), makes reading an event twice harmless:
a notification that exists already is not written again (INSERT ... ON CONFLICT DO NOTHING). In-app notifications
are stored as delivered, with an event of type `notification` for the user's live stream (written in the same
transaction, pushed after the commit).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Insert, Table, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.models import Event
from notify.facts import EVENT_KINDS, Context, Fact, facts_of
from notify.live import NOTIFICATION_EVENT
from notify.models import PHONE_ONLY, RECIPIENT_PHONE, RECIPIENT_USER, notifications
from notify.recipients import recipients
from notify.states import NotificationStatus, born
from notify.templates import Rendered, language_of, render
from notify.webhooks.models import OutboxCursor
from notify.webhooks.outbox import uuid7_floor, uuid7_time

CURSOR = "notifications"
INSERT_CHUNK = 1000


@dataclass
class Derived:
    created: int = 0
    live: list[Event] = field(default_factory=list)  # in-app notifications' events, to push after the commit


async def _cursor(session: AsyncSession, *, now: datetime, overlap_s: int) -> OutboxCursor:
    cursor = await session.scalar(select(OutboxCursor).where(OutboxCursor.name == CURSOR).with_for_update())
    if cursor is None:
        cursor = OutboxCursor(
            name=CURSOR, last_event_id=uuid7_floor(now - timedelta(seconds=overlap_s)), updated_at=now
        )
        session.add(cursor)
        await session.flush()
    return cursor


async def new_events(session: AsyncSession, *, now: datetime, overlap_s: int, batch: int) -> list[Event]:
    """The events to tell of since the last pass (and again the overlap before it), oldest first. The cursor row
    stays locked until the commit: passes run one at a time."""
    cursor = await _cursor(session, now=now, overlap_s=overlap_s)
    relevant = Event.type.in_(list(EVENT_KINDS))
    window_start = uuid7_floor(uuid7_time(cursor.last_event_id) - timedelta(seconds=overlap_s))
    late = (
        await session.scalars(
            select(Event).where(relevant, Event.id > window_start, Event.id <= cursor.last_event_id).order_by(Event.id)
        )
    ).all()
    fresh = (
        await session.scalars(
            select(Event).where(relevant, Event.id > cursor.last_event_id).order_by(Event.id).limit(batch)
        )
    ).all()
    if fresh:
        cursor.last_event_id, cursor.updated_at = fresh[-1].id, now
    return [*late, *fresh]


async def derive(
    session: AsyncSession, *, context: Context, available: frozenset[str], overlap_s: int, batch: int
) -> Derived:
    """One pass over the event log: the notifications its new events make (duplicates skipped)."""
    events = await new_events(session, now=context.now, overlap_s=overlap_s, batch=batch)
    if not events:
        return Derived()
    facts = await facts_of(session, events, context)
    rows = await _rows(session, facts, context=context, available=available)
    return await _store(session, rows, now=context.now)


async def _rows(
    session: AsyncSession, facts: Sequence[Fact], *, context: Context, available: frozenset[str]
) -> list[dict[str, Any]]:
    by_kind: dict[str, set[uuid.UUID]] = defaultdict(set)
    for fact in facts:
        if fact.phone is None:
            by_kind[fact.kind].add(fact.customer_id)
    people = {
        kind: await recipients(session, customer_ids=customers, kind=kind, default_timezone=context.default_timezone)
        for kind, customers in by_kind.items()
    }
    now = context.now
    rows = []
    for fact in facts:
        if fact.phone is not None:
            if "sms" in available:  # as for a user: no row for a channel this service cannot send on
                rows.append(_phone_row(fact, fact.phone, now=now))
            continue
        texts: dict[str, Rendered] = {}
        for person in people[fact.kind].get(fact.customer_id, []):
            preference = person.preference
            for channel, address in preference.addresses(fact.kind, available=available):
                if preference.language not in texts:
                    texts[preference.language] = render(fact.kind, preference.language, fact.values)
                text = texts[preference.language]
                status = born(channel)
                rows.append(
                    {
                        "id": new_id(),
                        "source_key": fact.source_key,
                        "event_id": fact.event_id,
                        "recipient": RECIPIENT_USER,
                        "user_id": person.user_id,
                        "customer_id": fact.customer_id,
                        "channel": channel,
                        "kind": fact.kind,
                        "language": preference.language,
                        "address": address,
                        "title": text.title,
                        "body": text.body,
                        "link": fact.link,
                        "params": text.params,
                        "status": str(status),
                        "attempts": 0,
                        "next_attempt_at": preference.quiet_until(channel, now)
                        if status == NotificationStatus.PENDING
                        else None,
                        "sent_at": now if status == NotificationStatus.SENT else None,
                        "created_at": now,
                    }
                )
    return rows


def _phone_row(fact: Fact, number: str, *, now: datetime) -> dict[str, Any]:
    """An SMS to a number that is nobody's login: no settings, so no quiet hours (the driver is on his way now)."""
    language = language_of(fact.language)
    text = render(fact.kind, language, fact.values)
    return {
        "id": new_id(),
        "source_key": fact.source_key,
        "event_id": fact.event_id,
        "recipient": RECIPIENT_PHONE,
        "user_id": None,
        "customer_id": fact.customer_id,
        "channel": "sms",
        "kind": fact.kind,
        "language": language,
        "address": number,
        "title": text.title,
        "body": text.body,
        "link": fact.link,
        "params": text.params,
        "status": str(born("sms")),
        "attempts": 0,
        "next_attempt_at": now,
        "sent_at": None,
        "created_at": now,
    }


def _insert_new(session: AsyncSession, *, phone: bool = False) -> Insert:
    """INSERT that skips a notification made before (same source, user and channel; for a phone recipient, same
    source, channel and number), returning the new ids."""
    table = notifications
    keys = ["source_key", "channel", "address"] if phone else ["source_key", "user_id", "channel"]
    where = PHONE_ONLY if phone else None
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=keys, index_where=where).returning(table.c.id)
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=keys, index_where=where).returning(table.c.id)
    return insert(table).returning(table.c.id)


async def _store(session: AsyncSession, rows: list[dict[str, Any]], *, now: datetime) -> Derived:
    derived = Derived()
    users = [row for row in rows if row["recipient"] == RECIPIENT_USER]
    phones = [row for row in rows if row["recipient"] == RECIPIENT_PHONE]
    for start in range(0, len(phones), INSERT_CHUNK):
        derived.created += len(
            (await session.execute(_insert_new(session, phone=True), phones[start : start + INSERT_CHUNK])).all()
        )
    for start in range(0, len(users), INSERT_CHUNK):
        chunk = users[start : start + INSERT_CHUNK]
        created = set((await session.execute(_insert_new(session), chunk)).scalars().all())
        derived.created += len(created)
        inbox = [row for row in chunk if row["id"] in created and row["channel"] == "web"]
        derived.live += await _live_events(session, inbox, now=now)
    return derived


async def _live_events(session: AsyncSession, inbox: list[dict[str, Any]], *, now: datetime) -> list[Event]:
    """An event per new in-app notification, for the user's live stream (one statement for the lot)."""
    if not inbox:
        return []
    values = [
        {
            "id": new_id(),
            "subject_type": "user",
            "subject_id": row["user_id"],
            "customer_id": None,  # not the account's timeline, nor its webhooks: the user's own stream
            "type": NOTIFICATION_EVENT,
            "actor_role": "system",
            "at": now,
            "data": {
                "notification_id": str(row["id"]),
                "kind": row["kind"],
                "title": row["title"],
                "body": row["body"],
                "link": row["link"],
            },
        }
        for row in inbox
    ]
    await session.execute(insert(cast(Table, Event.__table__)), values)
    return [Event(**value) for value in values]


async def queue_due(
    session: AsyncSession, *, now: datetime, stale_after_s: int, limit: int
) -> dict[str, list[uuid.UUID]]:
    """Pending notifications whose time has come (quiet hours over, backoff waited) and that no send task holds,
    per channel; marked queued now. A queued one not sent after `stale_after_s` lost its message: queued again."""
    table = notifications
    rows = (
        await session.execute(
            select(table.c.id, table.c.channel)
            .where(
                table.c.status == str(NotificationStatus.PENDING),
                table.c.next_attempt_at <= now,
                or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
                or_(table.c.queued_at.is_(None), table.c.queued_at < now - timedelta(seconds=stale_after_s)),
            )
            .order_by(table.c.next_attempt_at)
            .limit(limit)
        )
    ).all()
    due: dict[str, list[uuid.UUID]] = defaultdict(list)
    for row_id, channel in rows:
        due[channel].append(row_id)
    ids = [row_id for row_id, _ in rows]
    for start in range(0, len(ids), INSERT_CHUNK):
        await session.execute(
            update(table).where(table.c.id.in_(ids[start : start + INSERT_CHUNK])).values(queued_at=now)
        )
    return dict(due)
