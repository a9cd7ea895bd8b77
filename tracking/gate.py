"""The depot gate: a signed gate code printed at each depot, truck check-ins (by the driver scanning the gate code
from the pickup pass, or by a rack operator), the queue of checked-in trucks and their loading bays.

Gate code: `Base45(version | depot id | expiry | MAC)`, 41 bytes, 62 characters of the QR alphanumeric alphabet.
The MAC is a truncated HMAC-SHA256 under a key derived from the server secret for this purpose only, so nothing
else (a pickup code, a share or pass token) passes as a gate code. Only the server checks it, hence a MAC and not
a signature. A printed code proves the driver stands where it hangs as far as a photograph of it cannot travel:
it expires (print a new one every year) and names one depot, so it checks trucks in there and nowhere else.

The queue of a depot: its bookings that checked in and are not loaded yet (booked or loading), ordered by slot,
then check-in time. Bays: a truck gets the lowest bay no truck of the queue holds, in queue order, when it checks
in or later when one frees (a loading completed, a booking cancelled or expired); once given, a bay stays its.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import base45
import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import Conflict, InvalidInput
from core.events import record_event
from core.hours import zone
from core.settings import CodeSettings
from orders.catalogue import get_depot
from orders.models import Depot, PickupBooking
from orders.rules import PickupStatus
from tracking.models import PickupCheckIn

VERSION = 0x47  # "G": not the first byte of any other code (pickup and load codes start with 1)
_LAYOUT = struct.Struct(">B16sQ")  # version, depot id, expiry (unix seconds)
_MAC_BYTES = 16
MAX_GATE_CODE_CHARS = 100
GATE_CODE_VALID_DAYS = 366  # a printed code lasts a year: print a new one before it expires
IN_THE_QUEUE = (str(PickupStatus.BOOKED), str(PickupStatus.LOADING))


class CheckInMethod:
    GATE = "gate"
    RACK = "rack"


class GateCodeOut(msgspec.Struct):
    depot_id: uuid.UUID
    token: str
    expires_at: datetime


class QueueOut(msgspec.Struct):
    """Where a checked-in truck stands: its place in the depot's queue (1 = next) and its bay, once it has one."""

    checked_in_at: datetime
    method: str
    queue_position: int | None  # none once it has left the queue (loaded, cancelled or expired)
    queue_length: int
    bay: int | None
    bays: int


# --- the gate code ---------------------------------------------------------------------------------------------


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"diesel-direct/gate-code/v1", hashlib.sha256).digest()


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def issue_gate_code(depot_id: uuid.UUID, *, now: datetime, secret_key: str) -> GateCodeOut:
    """The depot's gate code, valid for a year from the start of today (the same all day: reprinting is harmless)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    expires_at = day + timedelta(days=GATE_CODE_VALID_DAYS)
    payload = _LAYOUT.pack(VERSION, depot_id.bytes, int(expires_at.timestamp()))
    token = base45.b45encode(payload + _mac(_key(secret_key), payload)).decode("ascii")
    return GateCodeOut(depot_id=depot_id, token=token, expires_at=expires_at)


def gate_code_invalid() -> InvalidInput:
    return InvalidInput(
        "this is not a Diesel Direct gate code: scan the code printed at the depot's gate",
        code="gate_code_invalid",
        field="gate_code",
    )


def verify_gate_code(token: str, *, secret_key: str, now: datetime) -> uuid.UUID:
    """The depot of a genuine, unexpired gate code; 422 `gate_code_invalid` or `gate_code_expired` otherwise."""
    text = token.strip("\r\n\t")
    if not text or len(text) > MAX_GATE_CODE_CHARS:
        raise gate_code_invalid()
    try:
        raw = base45.b45decode(text)
    except (ValueError, TypeError):
        raise gate_code_invalid() from None
    if len(raw) != _LAYOUT.size + _MAC_BYTES:
        raise gate_code_invalid()
    payload, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    if not hmac.compare_digest(mac, _mac(_key(secret_key), payload)):
        raise gate_code_invalid()
    version, depot_bytes, expires = _LAYOUT.unpack(payload)
    if version != VERSION:
        raise gate_code_invalid()
    if now.timestamp() >= expires:
        raise InvalidInput(
            "this gate code has expired: ask the depot to print a new one", code="gate_code_expired", field="gate_code"
        )
    return uuid.UUID(bytes=depot_bytes)


# --- checking in -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckInWindow:
    """When a booking may check in: from `pickup_early_minutes` before its slot to `pickup_grace_minutes` after it
    (the pickup code's own validity), so a truck is never queued for a loading its code would refuse."""

    opens: datetime
    closes: datetime
    timezone: str  # the depot's: the times in words are its local times

    @classmethod
    def of(cls, booking: PickupBooking, settings: CodeSettings) -> CheckInWindow:
        return cls(
            opens=booking.slot_start - timedelta(minutes=settings.pickup_early_minutes),
            closes=booking.slot_end + timedelta(minutes=settings.pickup_grace_minutes),
            timezone=booking.timezone,
        )

    def _local(self, at: datetime) -> str:
        return at.astimezone(zone(self.timezone)).strftime("%Y-%m-%d %H:%M")

    def check(self, now: datetime) -> None:
        if now < self.opens:
            raise Conflict(
                f"too early to check in: the gate opens for this booking at {self._local(self.opens)}",
                code="check_in_too_early",
            )
        if now >= self.closes:
            raise Conflict(
                f"too late to check in: the booking's slot ended, check-in closed at {self._local(self.closes)}",
                code="check_in_too_late",
            )


def check_in_queue(booking: PickupBooking) -> None:
    """Only a booking still to be loaded may join the queue."""
    if booking.status not in IN_THE_QUEUE:
        raise Conflict(f"the booking is {booking.status}: it cannot check in", code="pickup_not_open")


async def check_in(
    session: AsyncSession,
    *,
    booking: PickupBooking,
    method: str,
    actor: Principal | None,
    settings: CodeSettings,
    now: datetime,
) -> QueueOut:
    """Check the booking's truck in at its depot (again: nothing changes, the same answer), give it a bay if one is
    free, and record `pickup_checked_in`. The caller verified the pass and gate code, or the operator's depot."""
    # Locks in the order every flow takes them: the booking (as the rack and a cancellation do), then its depot.
    booking = await _locked(session, booking.id)
    existing = await _check_in_of(session, booking.id)
    if existing is not None:
        return await queue_of(session, booking=booking, check_in=existing, now=now)
    check_in_queue(booking)
    CheckInWindow.of(booking, settings).check(now)
    depot = await get_depot(session, booking.depot_id, lock=True)  # one check-in (and bay) at a time per depot
    row = PickupCheckIn(
        booking_id=booking.id,
        depot_id=booking.depot_id,
        method=method,
        checked_in_at=now,
        checked_in_by=actor.id if actor else None,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a racing request checked it in first: its check-in is the one
        found = await _check_in_of(session, booking.id)
        assert found is not None
        return await queue_of(session, booking=booking, check_in=found, now=now)
    await _give_free_bays(session, depot, now=now)
    answer = await queue_of(session, booking=booking, check_in=row, now=now)
    record_event(
        session,
        subject_type="pickup",
        subject_id=booking.id,
        customer_id=booking.customer_id,
        type="pickup_checked_in",
        at=now,
        actor=actor,
        data={"method": method, "bay": answer.bay, "queue_position": answer.queue_position},
    )
    await session.flush()
    return answer


async def _locked(session: AsyncSession, booking_id: uuid.UUID) -> PickupBooking:
    stmt = (
        select(PickupBooking)
        .where(PickupBooking.id == booking_id)
        .with_for_update()
        .execution_options(populate_existing=True)  # its status as it is now, not as read before the lock
    )
    return (await session.execute(stmt)).scalar_one()


async def _check_in_of(session: AsyncSession, booking_id: uuid.UUID) -> PickupCheckIn | None:
    row: PickupCheckIn | None = await session.scalar(
        select(PickupCheckIn).where(PickupCheckIn.booking_id == booking_id)
    )
    return row


async def check_in_of(session: AsyncSession, booking_id: uuid.UUID) -> PickupCheckIn | None:
    return await _check_in_of(session, booking_id)


# --- the queue and the bays ------------------------------------------------------------------------------------


async def _queue(session: AsyncSession, depot_id: uuid.UUID) -> list[PickupCheckIn]:
    """The depot's checked-in trucks not yet loaded, in queue order (slot, then check-in time)."""
    rows = await session.scalars(
        select(PickupCheckIn)
        .join(PickupBooking, PickupBooking.id == PickupCheckIn.booking_id)
        .where(PickupCheckIn.depot_id == depot_id, PickupBooking.status.in_(IN_THE_QUEUE))
        .order_by(PickupBooking.slot_start, PickupCheckIn.checked_in_at, PickupCheckIn.id)
        # Read again, not from the session: after the depot's lock another request's bays may have committed.
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


def _waiting_for_a_free_bay(queue: list[PickupCheckIn], bays: int) -> bool:
    held = {row.bay for row in queue if row.bay is not None}
    return any(row.bay is None for row in queue) and len(held) < bays


async def _give_free_bays(session: AsyncSession, depot: Depot, *, now: datetime) -> None:
    """Free bays to the waiting trucks, in queue order (the caller holds the depot's row lock)."""
    queue = await _queue(session, depot.id)
    held = {row.bay for row in queue if row.bay is not None}
    free = [bay for bay in range(1, depot.loading_bays + 1) if bay not in held]
    for row in queue:
        if not free:
            break
        if row.bay is None:
            row.bay, row.bay_assigned_at = free.pop(0), now
    await session.flush()


async def queue_of(
    session: AsyncSession, *, booking: PickupBooking, check_in: PickupCheckIn, now: datetime
) -> QueueOut:
    """The truck's place and bay. A bay freed since the last look goes to the first waiting truck now (the depot
    is locked only when there is one to give)."""
    depot = await get_depot(session, booking.depot_id)
    queue = await _queue(session, booking.depot_id)
    if _waiting_for_a_free_bay(queue, depot.loading_bays):
        depot = await get_depot(session, booking.depot_id, lock=True)
        await _give_free_bays(session, depot, now=now)
        queue = await _queue(session, booking.depot_id)
    ids = [row.booking_id for row in queue]
    position = ids.index(booking.id) + 1 if booking.id in ids else None
    return QueueOut(
        checked_in_at=check_in.checked_in_at,
        method=check_in.method,
        queue_position=position,
        queue_length=len(queue),
        bay=check_in.bay,
        bays=depot.loading_bays,
    )
