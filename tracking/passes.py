"""Pickup passes: a no-login link for the customer's truck driver, bound to one booking and its truck.

The customer sends it to the driver's phone (`pickup_pass_sent`, delivered by SMS by the notifications outbox) or
copies the link. It opens a page with the pickup QR code, the slot and the depot, and, once the truck has checked
in at the gate, its place in the queue and its bay. It shows nothing else of the account: no customer, no price,
no other booking.

Token: `base64url(version | pass id | booking id | plate hash | expiry | MAC)`, 65 bytes, 87 characters. The MAC
is a truncated HMAC-SHA256 under a key derived from the server secret for passes only. The token names its row,
so it can be replaced: a new pass of the booking ends the earlier ones. It ends when the booking's slot is over
(slot end + the pickup code's grace), and as soon as the pickup is loaded, cancelled or expired. The plate hash
ties it to the truck it was sent for. Links start with `PUBLIC_BASE_URL`, never with the request's `Host`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import msgspec
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core import idempotency
from core.auth import Principal
from core.errors import Conflict, DomainError, NotFound, ServiceUnavailable
from core.events import record_event
from core.hours import zone
from core.ids import new_id
from core.settings import CodeSettings
from orders.catalogue import get_depot
from orders.models import PickupBooking
from orders.rules import PickupStatus, check_sms_phone
from tracking import codes
from tracking.gate import IN_THE_QUEUE, CheckInWindow, QueueOut, check_in_of, queue_of
from tracking.models import PickupPass

VERSION = 1
_LAYOUT = struct.Struct(">B16s16s8sQ")  # version, pass id, booking id, plate hash, expiry (unix seconds)
_MAC_BYTES = 16
MAX_TOKEN_CHARS = 120
PASS_PATH = "/pass/"  # noqa: S105 - the page's path, not a password


class PassEnded(DomainError):
    """The pass worked once and no longer does (410): the page says why in words."""

    status_code = 410
    code = "pass_ended"


def invalid() -> NotFound:
    return NotFound("this pickup pass is not valid", code="pass_invalid")


class PassIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    phone: Annotated[str, msgspec.Meta(min_length=1, max_length=32, examples=["13800138000"])]
    # The driver's language for the SMS (he is nobody's login: no settings of his own).
    language: Literal["zh-CN", "en"] = "zh-CN"


class PassCreatedOut(msgspec.Struct):
    """The link to send or copy: it opens the pass page without a login."""

    id: uuid.UUID
    url: str
    token: str
    phone: str
    expires_at: datetime


class PassDepotOut(msgspec.Struct):
    name: str
    address: str | None
    lat: float
    lon: float
    timezone: str


class PassOut(msgspec.Struct):
    """All a pass shows: the booking's own reference, truck, product, slot and depot, its pickup code, and its place
    at the gate. No customer, driver, phone or price."""

    reference: str
    status: str
    vehicle_plate: str
    product_code: str
    quantity_litres: int
    slot_start: datetime
    slot_end: datetime
    depot: PassDepotOut
    pickup_code: str
    check_in_opens_at: datetime
    check_in_closes_at: datetime
    check_in: QueueOut | None
    expires_at: datetime


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"diesel-direct/pickup-pass/v1", hashlib.sha256).digest()


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def plate_hash(plate: str) -> bytes:
    return hashlib.sha256(b"plate:" + codes.normalise_plate(plate).encode()).digest()[:8]


def issue(pass_id: uuid.UUID, *, booking: PickupBooking, expires_at: datetime, secret_key: str) -> str:
    payload = _LAYOUT.pack(
        VERSION, pass_id.bytes, booking.id.bytes, plate_hash(booking.vehicle_plate), int(expires_at.timestamp())
    )
    raw = payload + _mac(_key(secret_key), payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(token: str, *, secret_key: str) -> tuple[uuid.UUID, uuid.UUID, bytes, datetime]:
    """(pass id, booking id, plate hash, expiry) of a genuine token; 404 `pass_invalid` for anything else."""
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
    version, pass_bytes, booking_bytes, plate, expires = _LAYOUT.unpack(payload)
    if version != VERSION:
        raise invalid()
    return uuid.UUID(bytes=pass_bytes), uuid.UUID(bytes=booking_bytes), plate, datetime.fromtimestamp(expires, UTC)


def pass_url(token: str, *, public_base_url: str) -> str:
    """The pass page at the configured public address: the link goes by SMS to a phone, where a path relative to
    wherever the caller reached us would lead nowhere (and the request's `Host` is never trusted to build it)."""
    return f"{public_base_url}{PASS_PATH}{token}"


def pass_expiry(booking: PickupBooking, settings: CodeSettings) -> datetime:
    """When the slot is over, as far as the pickup code is concerned."""
    return (booking.slot_end + timedelta(minutes=settings.pickup_grace_minutes)).astimezone(UTC)


def _created_out(row: PickupPass, *, booking: PickupBooking, public_base_url: str, secret_key: str) -> PassCreatedOut:
    # The token is a function of the row: a retry's answer is the first answer, byte for byte.
    token = issue(row.id, booking=booking, expires_at=row.expires_at, secret_key=secret_key)
    url = pass_url(token, public_base_url=public_base_url)
    return PassCreatedOut(id=row.id, url=url, token=token, phone=row.phone, expires_at=row.expires_at)


async def create_pass(
    session: AsyncSession,
    *,
    booking: PickupBooking,
    data: PassIn,
    actor: Principal,
    settings: CodeSettings,
    public_base_url: str | None,
    secret_key: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> tuple[PassCreatedOut, bool]:
    """A new pass for the booking's driver (created True), or the pass the first request with this
    `Idempotency-Key` made (a retry: nothing is sent again). The caller checked the booking is the actor's; earlier
    passes of the booking stop working. Records `pickup_pass_sent` with the phone and the link, which the
    notifications outbox turns into one SMS per (pass, phone) and delivers, retried until the provider takes it."""
    number = check_sms_phone(data.phone, field="phone")
    if not public_base_url:
        raise ServiceUnavailable(
            "pickup passes are sent by SMS and need an absolute link: the operator must set PUBLIC_BASE_URL "
            "(e.g. https://diesel.example.com)",
            code="public_base_url_missing",
        )
    pass_id = new_id()
    if idempotency_key is not None:
        first = await idempotency.claim_for(
            session,
            scope=f"pickup-pass:{booking.id}",
            key=idempotency_key,
            digest=idempotency.request_hash(data),
            resource_id=pass_id,
        )
        if first is not None:
            earlier = await session.get(PickupPass, first)
            assert earlier is not None  # the key's scope is this booking, and its passes go only with it (cascade)
            return _created_out(earlier, booking=booking, public_base_url=public_base_url, secret_key=secret_key), False
    expires_at = pass_expiry(booking, settings)
    if booking.status not in IN_THE_QUEUE or now >= expires_at:
        raise Conflict(f"the booking is {booking.status} and its slot is over or used: no pass", code="no_pass")
    await session.execute(
        update(PickupPass)
        .where(PickupPass.booking_id == booking.id, PickupPass.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    row = PickupPass(
        id=pass_id, booking_id=booking.id, phone=number, created_by=actor.id, created_at=now, expires_at=expires_at
    )
    session.add(row)
    await session.flush()
    out = _created_out(row, booking=booking, public_base_url=public_base_url, secret_key=secret_key)
    record_event(
        session,
        subject_type="pickup",
        subject_id=booking.id,
        customer_id=booking.customer_id,
        type="pickup_pass_sent",
        at=now,
        actor=actor,
        data={
            "pass_id": str(row.id),
            "phone": number,
            "url": out.url,
            "language": data.language,
            "expires_at": expires_at.isoformat(),
        },
    )
    return out, True


_ENDED = {
    PickupStatus.COMPLETED: ("pass_used", "the pickup is loaded: this pass has done its job"),
    PickupStatus.CANCELLED: ("pass_cancelled", "the booking was cancelled: ask the customer"),
    PickupStatus.EXPIRED: ("pass_expired", "the booking's slot is over"),
}


async def open_pass(session: AsyncSession, token: str, *, secret_key: str, now: datetime) -> PickupBooking:
    """The booking of a pass that still works. 404 `pass_invalid` (unknown, altered); 410 `pass_expired`,
    `pass_replaced` (a newer pass was sent), `pass_used` (loaded) or `pass_cancelled`."""
    pass_id, booking_id, plate, expires_at = _decode(token, secret_key=secret_key)
    row = await session.get(PickupPass, pass_id)
    if row is None or row.booking_id != booking_id:
        raise invalid()
    booking = await session.get(PickupBooking, booking_id)
    if booking is None or not hmac.compare_digest(plate, plate_hash(booking.vehicle_plate)):
        raise invalid()
    ended = _ENDED.get(PickupStatus(booking.status))
    if ended is not None:
        raise PassEnded(ended[1], code=ended[0])
    if now >= expires_at:
        raise PassEnded("the booking's slot is over: this pass has expired", code="pass_expired")
    if row.revoked_at is not None:
        raise PassEnded("a newer pass was sent for this pickup: open the latest link", code="pass_replaced")
    return booking


async def pass_view(
    session: AsyncSession,
    booking: PickupBooking,
    *,
    pickup_code: str,
    settings: CodeSettings,
    expires_at: datetime,
    now: datetime,
) -> PassOut:
    depot = await get_depot(session, booking.depot_id)
    tz = zone(booking.timezone)
    window = CheckInWindow.of(booking, settings)
    check_in = await check_in_of(session, booking.id)
    return PassOut(
        reference=booking.reference,
        status=booking.status,
        vehicle_plate=booking.vehicle_plate,
        product_code=booking.product_code,
        quantity_litres=booking.quantity_litres,
        slot_start=booking.slot_start.astimezone(tz),
        slot_end=booking.slot_end.astimezone(tz),
        depot=PassDepotOut(
            name=depot.name, address=depot.address, lat=depot.lat, lon=depot.lon, timezone=depot.timezone
        ),
        pickup_code=pickup_code,
        check_in_opens_at=window.opens,
        check_in_closes_at=window.closes,
        check_in=await queue_of(session, booking=booking, check_in=check_in, now=now) if check_in else None,
        expires_at=expires_at,
    )


def token_expiry(token: str, *, secret_key: str) -> datetime:
    """The expiry written in a genuine token (for the page's answer)."""
    return _decode(token, secret_key=secret_key)[3]
