"""Share links: a signed, expiring, read-only view of one order's progress (status, window and ETA only).

The token is `base64url(version | order id | expiry | MAC)`: 41 bytes, 55 characters. The MAC is a truncated
HMAC-SHA256 under a key derived from the server secret for this purpose only, so a share token is never
accepted as anything else (and no bearer token as a share token). Nothing is stored: the link lives until it
expires (rotating SECRET_KEY ends all of them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError, NotFound
from orders.delivery import order_out
from orders.models import Order

VERSION = 1
_LAYOUT = struct.Struct(">B16sQ")  # version, order id, expiry (unix seconds)
_MAC_BYTES = 16
MAX_TOKEN_CHARS = 100


class ShareLinkExpired(DomainError):
    status_code = 410
    code = "share_link_expired"


def invalid() -> NotFound:
    return NotFound("this share link is not valid", code="share_link_invalid")


class ShareIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    ttl_hours: Annotated[int, msgspec.Meta(ge=1, le=168, description="how long the link works")] = 24


class ShareLinkOut(msgspec.Struct):
    url: str
    token: str
    expires_at: datetime


class SharedOrderOut(msgspec.Struct):
    """All a share link shows: no prices, no customer, no address."""

    reference: str
    status: str
    delivery_date: date
    window_start: str  # local time at the site, HH:MM
    window_end: str
    window_start_at: datetime
    window_end_at: datetime
    eta: datetime | None


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"diesel-direct/share-link/v1", hashlib.sha256).digest()


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def issue(order_id: uuid.UUID, *, expires_at: datetime, secret_key: str) -> str:
    payload = _LAYOUT.pack(VERSION, order_id.bytes, int(expires_at.timestamp()))
    raw = payload + _mac(_key(secret_key), payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def verify(token: str, *, secret_key: str, now: datetime) -> uuid.UUID:
    """The order id of a genuine, unexpired token; `share_link_invalid` (404) or `share_link_expired` (410)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise invalid()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise invalid() from None
    if len(raw) != _LAYOUT.size + _MAC_BYTES:
        raise invalid()
    payload, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    if not hmac.compare_digest(mac, _mac(_key(secret_key), payload)):
        raise invalid()
    version, order_bytes, expires = _LAYOUT.unpack(payload)
    if version != VERSION:
        raise invalid()
    if now >= datetime.fromtimestamp(expires, tz=UTC):
        raise ShareLinkExpired("this share link has expired; ask for a new one")
    return uuid.UUID(bytes=order_bytes)


def create_link(order: Order, *, ttl_hours: int, base_url: str, secret_key: str, now: datetime) -> ShareLinkOut:
    expires_at = (now + timedelta(hours=ttl_hours)).replace(microsecond=0)
    token = issue(order.id, expires_at=expires_at, secret_key=secret_key)
    return ShareLinkOut(url=f"{base_url.rstrip('/')}/api/v1/share/{token}", token=token, expires_at=expires_at)


async def shared_order(session: AsyncSession, token: str, *, secret_key: str, now: datetime) -> SharedOrderOut:
    order = await session.get(Order, verify(token, secret_key=secret_key, now=now))
    if order is None:
        raise invalid()
    full = order_out(order)
    return SharedOrderOut(
        reference=full.reference,
        status=full.status,
        delivery_date=full.delivery_date,
        window_start=full.window_start,
        window_end=full.window_end,
        window_start_at=full.window_start_at,
        window_end_at=full.window_end_at,
        eta=order.eta.astimezone(UTC) if order.eta else None,
    )
