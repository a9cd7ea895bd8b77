"""Append events to the timeline inside the caller's unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.models import Event


def record_event(
    session: AsyncSession,
    *,
    subject_type: str,
    subject_id: uuid.UUID,
    type: str,
    at: datetime,
    actor: Principal | None = None,
    customer_id: uuid.UUID | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    event = Event(
        subject_type=subject_type,
        subject_id=subject_id,
        customer_id=customer_id,
        type=type,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor.id if actor else None,
        actor_role=str(actor.role) if actor else "system",
        reason=reason,
        data=data,
        at=at,
    )
    session.add(event)
    return event


CommittedListener = Callable[[Sequence[Event]], None]
_committed_listeners: list[CommittedListener] = []


def on_events_committed(listener: CommittedListener) -> None:
    """Be told of events written without the ORM session (whose events live push sees by itself)."""
    if listener not in _committed_listeners:
        _committed_listeners.append(listener)


def events_committed(events: Sequence[Event]) -> None:
    """Events a hot path wrote with its own statement have committed: tell the listeners (live push)."""
    for listener in _committed_listeners:
        listener(events)


PositionsListener = Callable[[Sequence[Any]], None]
_positions_listeners: list[PositionsListener] = []


def on_positions_committed(listener: PositionsListener) -> None:
    """Be told of tanker positions once they are stored (live push draws them on the dispatch console's map)."""
    if listener not in _positions_listeners:
        _positions_listeners.append(listener)


def positions_committed(positions: Sequence[Any]) -> None:
    """Tanker positions have committed: tell the listeners. Tracking stores positions; notify pushes them."""
    for listener in _positions_listeners:
        listener(positions)
