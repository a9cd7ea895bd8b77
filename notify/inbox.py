"""The in-app inbox: a user's own notifications, newest first, and marking them read; and the outbox as admins
see it (what failed, to follow up)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import InvalidInput, NotFound
from notify import schemas as s
from notify.models import Notification
from notify.states import NotificationStatus


def _mine(user: Principal) -> tuple[ColumnElement[bool], ...]:
    return (Notification.user_id == user.id, Notification.channel == "web")


async def inbox(session: AsyncSession, *, user: Principal, unread_only: bool, limit: int, offset: int) -> s.InboxOut:
    mine = _mine(user)
    conditions = [*mine, Notification.read_at.is_(None)] if unread_only else list(mine)
    rows = await session.scalars(
        select(Notification)
        .where(*conditions)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(Notification).where(*conditions)) or 0
    unread = await session.scalar(
        select(func.count()).select_from(Notification).where(*mine, Notification.read_at.is_(None))
    )
    return s.InboxOut(
        items=[notification_out(n) for n in rows], total=total, unread=unread or 0, limit=limit, offset=offset
    )


async def mark_read(
    session: AsyncSession, notification_id: uuid.UUID, *, user: Principal, now: datetime
) -> Notification:
    """Read once: the first time counts (a repeat changes nothing). Another user's notification is 404."""
    notification = await session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id or notification.channel != "web":
        raise NotFound("no such notification", code="notification_not_found")
    await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(notification)
    return notification


async def mark_all_read(session: AsyncSession, *, user: Principal, now: datetime) -> int:
    result = await session.execute(
        update(Notification)
        .where(*_mine(user), Notification.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def notification_out(n: Notification) -> s.NotificationOut:
    return s.NotificationOut(
        id=n.id, kind=n.kind, title=n.title, body=n.body, link=n.link, created_at=n.created_at, read_at=n.read_at
    )


async def outbox_entries(
    session: AsyncSession, *, status: str | None, channel: str | None, limit: int, offset: int
) -> tuple[Sequence[Notification], int]:
    conditions = [Notification.channel != "web"]
    if status is not None:
        if status not in NotificationStatus.__members__.values():
            raise InvalidInput(f"unknown status '{status}'", code="invalid_status", field="status")
        conditions.append(Notification.status == status)
    if channel is not None:
        conditions.append(Notification.channel == channel)
    rows = await session.scalars(
        select(Notification)
        .where(*conditions)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(Notification).where(*conditions)) or 0
    return rows.all(), total


def outbox_entry_out(n: Notification) -> s.OutboxEntryOut:
    return s.OutboxEntryOut(
        id=n.id,
        user_id=n.user_id,
        recipient=n.recipient,
        customer_id=n.customer_id,
        channel=n.channel,
        kind=n.kind,
        address=n.address,
        title=n.title,
        status=n.status,
        attempts=n.attempts,
        last_error=n.last_error,
        next_attempt_at=n.next_attempt_at if n.status == NotificationStatus.PENDING else None,
        sent_at=n.sent_at,
        created_at=n.created_at,
    )
