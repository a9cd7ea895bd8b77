"""Request and response bodies of webhooks, and the event as receivers (webhooks, live streams) see it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from core.models import Event

EventType = Annotated[str, msgspec.Meta(min_length=1, max_length=40, examples=["order_confirmed", "*"])]


class WebhookIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, examples=["https://example.com/diesel-hook"])]
    events: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=50)]


class WebhookOut(msgspec.Struct):
    id: uuid.UUID
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreatedOut(msgspec.Struct):
    """As `WebhookOut`, with the signing secret: shown this once, keep it."""

    id: uuid.UUID
    url: str
    events: list[str]
    secret: str
    created_at: datetime


class WebhookSecretOut(msgspec.Struct):
    """A rotated secret: shown this once. Until `previous_secret_expires_at` deliveries carry a signature with the
    previous secret too (none when there was no grace period)."""

    id: uuid.UUID
    secret: str
    previous_secret_expires_at: datetime | None


class AttemptOut(msgspec.Struct):
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(msgspec.Struct):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str  # pending | delivered | failed
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    attempt_log: list[AttemptOut]


class EventPayload(msgspec.Struct):
    """One entry of the event log, as sent to webhooks and live streams."""

    id: uuid.UUID
    type: str
    subject_type: str
    subject_id: uuid.UUID
    customer_id: uuid.UUID | None
    at: datetime
    from_status: str | None
    to_status: str | None
    actor_role: str | None
    reason: str | None
    data: dict[str, Any] | None


def event_payload(event: Event) -> EventPayload:
    return EventPayload(
        id=event.id,
        type=event.type,
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        customer_id=event.customer_id,
        at=event.at,
        from_status=event.from_status,
        to_status=event.to_status,
        actor_role=event.actor_role,
        reason=event.reason,
        data=event.data,
    )
