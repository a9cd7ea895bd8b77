"""Sending a batch of notifications: claim them, hand them to their channel, record what happened.

A notification is claimed with a conditional UPDATE (pending, due, not held by another worker), so a duplicate
send task finds nothing to send, and one that was sent is never sent again. A provider may see the same message
twice only if we crashed between its answer and our record of it. No database session is open while the
providers are called.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from notify.channels import Channel, Outcome, Outgoing
from notify.config import NotifySettings
from notify.models import notifications
from notify.states import NotificationStatus, NotSent, Sent, record_outcomes

log = logging.getLogger("diesel.notify")


async def claim(session: AsyncSession, ids: Sequence[uuid.UUID], *, now: datetime, lease_s: float) -> list[Outgoing]:
    """Reserve the due ones among `ids` for this worker and count the attempt."""
    table = notifications
    rows = await session.execute(
        update(table)
        .where(
            table.c.id.in_(list(ids)),
            table.c.status == str(NotificationStatus.PENDING),
            table.c.next_attempt_at <= now + timedelta(seconds=1),
            or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
        )
        .values(claimed_until=now + timedelta(seconds=lease_s), attempts=table.c.attempts + 1)
        .returning(
            table.c.id,
            table.c.attempts,
            table.c.kind,
            table.c.language,
            table.c.address,
            table.c.title,
            table.c.body,
            table.c.link,
            table.c.params,
        )
    )
    return [
        Outgoing(
            id=row.id,
            attempt=row.attempts,
            kind=row.kind,
            language=row.language,
            address=row.address or "",
            title=row.title,
            body=row.body,
            link=row.link,
            params=row.params or {},
        )
        for row in rows
    ]


async def send(channel: Channel, messages: Sequence[Outgoing]) -> list[Outcome]:
    if not messages:
        return []
    try:
        return await channel.send_many(messages)
    except Exception as error:  # a bug in an adapter must not lose the batch: it is retried like a refusal
        log.exception("notification channel failed on %d messages", len(messages))
        return [Outcome(ok=False, error=f"{type(error).__name__}: {error}"[:300]) for _ in messages]


async def record(
    session: AsyncSession,
    messages: Sequence[Outgoing],
    outcomes: Sequence[Outcome],
    *,
    now: datetime,
    settings: NotifySettings,
) -> int:
    """Move each claimed notification on; returns how many were sent."""
    sent, not_sent = [], []
    for message, outcome in zip(messages, outcomes, strict=True):
        if outcome.ok:
            sent.append(Sent(message.id, outcome.provider_message_id))
            continue
        last = outcome.permanent or message.attempt >= settings.max_attempts
        retry_at = None if last else now + timedelta(seconds=settings.backoff(message.attempt))
        not_sent.append(NotSent(message.id, outcome.error or "not sent", retry_at))
        log.log(
            logging.WARNING if last else logging.INFO,
            "notification %s attempt %d: %s -> %s",
            message.id,
            message.attempt,
            outcome.error,
            "failed" if last else f"retry at {retry_at}",
        )
    await record_outcomes(session, sent=sent, not_sent=not_sent, now=now)
    return len(sent)
