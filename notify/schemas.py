"""Request and response bodies of notification settings, the in-app inbox and the "same as last time" link."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

Clock = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["22:00"])]


class ChannelsIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Where to reach the user: an address turns a channel on, none (or null) leaves it off."""

    web: bool = True
    email: Annotated[str, msgspec.Meta(max_length=254, examples=["ops@acme.cn"])] | None = None
    sms: Annotated[str, msgspec.Meta(max_length=20, examples=["+8613800138000"])] | None = None
    wechat: Annotated[str, msgspec.Meta(max_length=64, examples=["oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"])] | None = None


class QuietHours(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """SMS and WeChat wait while it is quiet (email and in-app do not); `start` after `end` spans midnight."""

    start: Clock
    end: Clock
    timezone: Annotated[str, msgspec.Meta(max_length=64, examples=["Asia/Shanghai"])] | None = None


EventKind = Annotated[str, msgspec.Meta(min_length=1, max_length=40, examples=["order_delivered"])]
Language = Annotated[str, msgspec.Meta(examples=["zh-CN", "en"])]


class SettingsIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    channels: ChannelsIn
    events: Annotated[list[EventKind], msgspec.Meta(max_length=50)]
    quiet_hours: QuietHours | None = None
    language: Language | None = None


class ChannelsOut(msgspec.Struct):
    web: bool
    email: str | None
    sms: str | None
    wechat: str | None


class QuietHoursOut(msgspec.Struct):
    start: str
    end: str
    timezone: str


class SettingsOut(msgspec.Struct):
    channels: ChannelsOut
    events: list[str]
    quiet_hours: QuietHoursOut | None
    language: str
    available_events: list[str]  # every kind a user may choose
    available_channels: list[str]  # the channels this service can send on (configured providers, and web)


class NotificationOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class InboxOut(msgspec.Struct):
    items: list[NotificationOut]
    total: int
    unread: int
    limit: int
    offset: int


class OutboxEntryOut(msgspec.Struct):
    """A notification as admins see it in the outbox (failed ones, to follow up)."""

    id: uuid.UUID
    user_id: uuid.UUID | None  # None: a phone number that is nobody's login (`recipient` phone)
    recipient: str  # user | phone
    customer_id: uuid.UUID | None
    channel: str
    kind: str
    address: str | None
    title: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    created_at: datetime


class RepeatOrderOut(msgspec.Struct):
    """The order form, filled in as the customer's last order (a new delivery date is the customer's to pick)."""

    order_id: uuid.UUID
    site_id: uuid.UUID
    product_code: str
    quantity_litres: int
    window_start: str  # HH:MM in the site's time zone
    window_end: str
    note: str | None
