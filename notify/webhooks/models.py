"""Webhook registrations, their deliveries (one per webhook and event) with an attempt log, the outbox cursor."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow


class Webhook(IdMixin, Base):
    """A customer's URL for status events. The secret signs every delivery; it is shown once (at creation or
    rotation) and stored sealed (`notify.webhooks.crypto`), never in plain text."""

    __tablename__ = "webhooks"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer_accounts.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]]  # event types, or ["*"]
    secret_encrypted: Mapped[str] = mapped_column(String(255))
    secret_id: Mapped[uuid.UUID]  # new with every secret: a rotation retried with its Idempotency-Key finds it
    # After a rotation the previous secret keeps signing (next to the new one) until it expires.
    previous_secret_encrypted: Mapped[str | None] = mapped_column(String(255))
    previous_secret_expires_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(IdMixin, Base):
    """One event for one webhook. The unique pair makes re-scanning the event log harmless."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    next_attempt_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]  # a worker is sending it until then
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttempt(IdMixin, Base):
    """The log of every attempt: when, what the receiver answered (or why it could not be reached)."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    at: Mapped[datetime]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(300))
    duration_ms: Mapped[int]


class OutboxCursor(Base):
    """How far a reader of the event log has got (uuid7 ids are time-ordered)."""

    __tablename__ = "outbox_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_event_id: Mapped[uuid.UUID]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
