"""Share links: a signed, expiring, revocable, read-only view of one order's progress (status, window and ETA only).

Each link is a `share_links` row; its token is `base64url(version | link id | expiry | MAC)`: 41 bytes, 55
characters. The MAC is a truncated HMAC-SHA256 under a key derived from the server secret for this purpose only,
so a share token is never accepted as anything else (and no bearer token as a share token), and a guessed link id
is worth nothing without it. The token itself is never stored. A link works until it expires or its row is
revoked (rotating SECRET_KEY ends all of them). Links are built from the configured public base URL, never from
the request's `Host`: a relative `/api/v1/share/…` when none is configured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import Conflict, DomainError, NotFound
from orders.delivery import order_out
from orders.models import Order
from tracking.models import ShareLink
from tracking.order_view import tanker_on_its_way
from tracking.positions import PositionStore

VERSION = 2  # 1 named the order and had no row: those links are no longer accepted (they could not be revoked)
_LAYOUT = struct.Struct(">B16sQ")  # version, link id, expiry (unix seconds)
_MAC_BYTES = 16
MAX_TOKEN_CHARS = 100
SHARE_PATH = "/api/v1/share/"
PAGE_PATH = "/share/"  # the page a browser is sent to
# Links of one order that work at once: enough for every driver and site manager, not a table to fill.
MAX_LIVE_LINKS_PER_ORDER = 20


class ShareLinkExpired(DomainError):
    status_code = 410
    code = "share_link_expired"


class ShareLinkRevoked(DomainError):
    status_code = 410
    code = "share_link_revoked"


def invalid() -> NotFound:
    return NotFound("this share link is not valid", code="share_link_invalid")


class ShareIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    ttl_hours: Annotated[int, msgspec.Meta(ge=1, le=168, description="how long the link works")] = 24


class ShareLinkOut(msgspec.Struct):
    id: uuid.UUID  # to revoke it: DELETE /orders/{order_id}/share/{id}
    url: str
    token: str
    expires_at: datetime


class ShareLinkInfo(msgspec.Struct):
    """A link as listed for its order: when it was made and whether it still works (not the link itself)."""

    id: uuid.UUID
    status: str  # active | expired | revoked
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class SharedTankerOut(msgspec.Struct):
    """Where the tanker is, while it is on its way to the order's stop (the customer's tracking rule)."""

    lat: float
    lon: float
    recorded_at: str


class SharedOrderOut(msgspec.Struct):
    """All a share link shows: no prices, no customer, no address; the tanker's position only on its way."""

    reference: str
    status: str
    delivery_date: date
    window_start: str  # local time at the site, HH:MM
    window_end: str
    window_start_at: datetime
    window_end_at: datetime
    eta: datetime | None
    tanker: SharedTankerOut | None = None


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"diesel-direct/share-link/v1", hashlib.sha256).digest()


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def issue(link_id: uuid.UUID, *, expires_at: datetime, secret_key: str) -> str:
    payload = _LAYOUT.pack(VERSION, link_id.bytes, int(expires_at.timestamp()))
    raw = payload + _mac(_key(secret_key), payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def verify(token: str, *, secret_key: str, now: datetime) -> uuid.UUID:
    """The link id of a genuine, unexpired token; `share_link_invalid` (404) or `share_link_expired` (410)."""
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
    version, link_bytes, expires = _LAYOUT.unpack(payload)
    if version != VERSION:
        raise invalid()
    if now >= datetime.fromtimestamp(expires, tz=UTC):
        raise ShareLinkExpired("this share link has expired; ask for a new one")
    return uuid.UUID(bytes=link_bytes)


def link_url(token: str, *, public_base_url: str | None) -> str:
    """The configured public address, or a path relative to wherever the caller reached us."""
    return f"{public_base_url or ''}{SHARE_PATH}{token}"


def link_status(link: ShareLink, *, now: datetime) -> str:
    if link.revoked_at is not None:
        return "revoked"
    return "expired" if now >= link.expires_at else "active"


def link_info(link: ShareLink, *, now: datetime) -> ShareLinkInfo:
    return ShareLinkInfo(
        id=link.id,
        status=link_status(link, now=now),
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
    )


async def create_link(
    session: AsyncSession,
    *,
    order: Order,
    ttl_hours: int,
    actor: Principal,
    public_base_url: str | None,
    secret_key: str,
    now: datetime,
) -> ShareLinkOut:
    live = await session.scalar(
        select(func.count())
        .select_from(ShareLink)
        .where(ShareLink.order_id == order.id, ShareLink.revoked_at.is_(None), ShareLink.expires_at > now)
    )
    if (live or 0) >= MAX_LIVE_LINKS_PER_ORDER:
        raise Conflict(
            f"this order has {MAX_LIVE_LINKS_PER_ORDER} working share links already; revoke one first",
            code="share_link_limit",
        )
    expires_at = (now + timedelta(hours=ttl_hours)).replace(microsecond=0)
    link = ShareLink(order_id=order.id, created_by=actor.id, created_at=now, expires_at=expires_at)
    session.add(link)
    await session.flush()
    token = issue(link.id, expires_at=expires_at, secret_key=secret_key)
    return ShareLinkOut(
        id=link.id, url=link_url(token, public_base_url=public_base_url), token=token, expires_at=expires_at
    )


async def list_links(
    session: AsyncSession, *, order_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[ShareLink], int]:
    """The order's links, newest first (the caller has checked the order is the viewer's)."""
    total = await session.scalar(select(func.count()).select_from(ShareLink).where(ShareLink.order_id == order_id))
    stmt = (
        select(ShareLink)
        .where(ShareLink.order_id == order_id)
        .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return (await session.scalars(stmt)).all(), total or 0


async def revoke_link(
    session: AsyncSession, *, order_id: uuid.UUID, link_id: uuid.UUID, actor: Principal, now: datetime
) -> ShareLink:
    """End a link of this order at once (the caller has checked the order is the viewer's); again is a no-op."""
    link = await session.get(ShareLink, link_id)
    if link is None or link.order_id != order_id:
        raise NotFound("no such share link", code="share_link_not_found")
    if link.revoked_at is None:
        link.revoked_at, link.revoked_by = now, actor.id
        await session.flush()
    return link


async def shared_order(
    session: AsyncSession, token: str, *, secret_key: str, now: datetime, positions: PositionStore | None = None
) -> SharedOrderOut:
    """What the link shows (the tanker's position only when `positions` is given and the rule allows it)."""
    link = await session.get(ShareLink, verify(token, secret_key=secret_key, now=now))
    if link is None:
        raise invalid()
    if link.revoked_at is not None:
        raise ShareLinkRevoked("this share link was withdrawn; ask for a new one")
    order = await session.get(Order, link.order_id)
    if order is None:
        raise invalid()
    full = order_out(order)
    latest = await tanker_on_its_way(session, order=order, positions=positions) if positions else None
    return SharedOrderOut(
        reference=full.reference,
        status=full.status,
        delivery_date=full.delivery_date,
        window_start=full.window_start,
        window_end=full.window_end,
        window_start_at=full.window_start_at,
        window_end_at=full.window_end_at,
        eta=order.eta.astimezone(UTC) if order.eta else None,
        tanker=SharedTankerOut(lat=latest.lat, lon=latest.lon, recorded_at=latest.recorded_at) if latest else None,
    )
