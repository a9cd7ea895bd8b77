"""The lifecycle of a notification: pending until its provider accepts it (sent) or the attempts run out or the
provider refuses it for good (failed). A retry keeps it pending with a later `next_attempt_at`. An in-app
notification is born sent (it is in the inbox the moment it exists).

The one module that writes a notification's `status` (tests/unit/test_ownership.py): whole batches at once,
each row only if it is still pending, so a late duplicate of a send task changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.statemachine import check_transition
from notify.models import notifications


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


_N = NotificationStatus
NOTIFICATION_TRANSITIONS: dict[NotificationStatus, frozenset[NotificationStatus]] = {
    _N.PENDING: frozenset({_N.SENT, _N.FAILED}),
    _N.SENT: frozenset(),
    _N.FAILED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Sent:
    id: uuid.UUID
    provider_message_id: str | None


@dataclass(frozen=True, slots=True)
class NotSent:
    id: uuid.UUID
    error: str
    retry_at: datetime | None  # None: no more attempts (failed)


def born(channel: str) -> NotificationStatus:
    """The status a new notification starts in: in-app ones are delivered by being stored."""
    return _N.SENT if channel == "web" else _N.PENDING


async def record_outcomes(
    session: AsyncSession, *, sent: Sequence[Sent], not_sent: Sequence[NotSent], now: datetime
) -> None:
    """Move claimed notifications on after their attempts: sent, retried later, or failed (one statement each,
    executed for many rows)."""
    check_transition(NOTIFICATION_TRANSITIONS, _N.PENDING, _N.SENT, subject="notification")
    check_transition(NOTIFICATION_TRANSITIONS, _N.PENDING, _N.FAILED, subject="notification")
    table = notifications
    still_pending = (table.c.id == bindparam("row_id"), table.c.status == str(_N.PENDING))
    if sent:
        await session.execute(
            update(table)
            .where(*still_pending)
            .values(
                status=str(_N.SENT),
                sent_at=now,
                provider_message_id=bindparam("provider_id"),
                claimed_until=None,
                next_attempt_at=None,
                last_error=None,
            ),
            [{"row_id": s.id, "provider_id": s.provider_message_id} for s in sent],
        )
    if not_sent:
        await session.execute(
            update(table)
            .where(*still_pending)
            .values(
                status=bindparam("new_status"),
                next_attempt_at=bindparam("retry_at"),
                queued_at=None,
                claimed_until=None,
                last_error=bindparam("error"),
            ),
            [
                {
                    "row_id": n.id,
                    "new_status": str(_N.PENDING if n.retry_at is not None else _N.FAILED),
                    "retry_at": n.retry_at,
                    "error": n.error[:300],
                }
                for n in not_sent
            ],
        )
