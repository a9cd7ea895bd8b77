"""Notifications (the outbox of every channel, and the in-app inbox) and each user's notification settings."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any, cast

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Table, Text, Time, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow

# Who a notification is for: one of our users (its settings chose the channel and address), or a bare phone
# number that is nobody's login (the truck driver a customer sends a pickup pass to).
RECIPIENT_USER = "user"
RECIPIENT_PHONE = "phone"
PHONE_ONLY = text("user_id IS NULL")


class Notification(IdMixin, Base):
    """One message to one recipient on one channel. The unique (source, user, channel), or for a phone recipient
    (source, channel, address), makes deriving it twice from the same event harmless. Email, SMS and WeChat wait
    `pending` until a provider accepts them (`sent`) or the attempts run out (`failed`); an in-app one is `sent`
    when it is made: this row is the user's inbox."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("source_key", "user_id", "channel"),
        Index(
            "ux_notifications_phone",
            "source_key",
            "channel",
            "address",
            unique=True,
            postgresql_where=PHONE_ONLY,
            sqlite_where=PHONE_ONLY,
        ),
        CheckConstraint(
            "(recipient = 'user' AND user_id IS NOT NULL) OR (recipient = 'phone' AND user_id IS NULL)",
            name="recipient",
        ),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_inbox", "user_id", "channel", "created_at"),
    )

    # What it comes from: an event's id, or a key of its own (e.g. `credit:<account>:<day>`, one a day).
    source_key: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[uuid.UUID | None]
    recipient: Mapped[str] = mapped_column(String(10), default=RECIPIENT_USER, server_default=RECIPIENT_USER)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))  # None: a phone
    customer_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | sms | wechat | web
    kind: Mapped[str] = mapped_column(String(40))  # order_confirmed, daily_price, ... (notify.kinds)
    language: Mapped[str] = mapped_column(String(8))
    address: Mapped[str | None] = mapped_column(String(255))  # the email address, phone number or WeChat openid
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2000))
    params: Mapped[dict[str, Any] | None]  # the template's named values (SMS and WeChat templates take them)
    status: Mapped[str] = mapped_column(String(10))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]  # quiet hours and retries push it later
    queued_at: Mapped[datetime | None]  # handed to the queue (a send task) then
    claimed_until: Mapped[datetime | None]  # a worker is sending it until then
    last_error: Mapped[str | None] = mapped_column(String(300))
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]  # in-app only
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The table itself, for the statements that write many rows at once (the outbox, the sender, the states).
notifications = cast(Table, Notification.__table__)


class NotificationPreference(Base):
    """A user's choices. No row: the defaults (in-app only, every kind, no quiet hours, zh-CN)."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(255))  # the address; None: no email
    sms: Mapped[str | None] = mapped_column(String(32))  # the phone number (E.164); None: no SMS
    wechat: Mapped[str | None] = mapped_column(String(64))  # the openid under our Official Account; None: no WeChat
    web: Mapped[bool] = mapped_column(default=True)
    events: Mapped[list[Any]]  # notification kinds wanted
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64))  # of the quiet hours
    language: Mapped[str] = mapped_column(String(8))  # zh-CN | en
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
