"""Pickup codes for bookings, and the loading rack: verify, redeem (exactly once), offline uploads."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import Conflict, InvalidInput, NotFound
from core.ids import new_reference
from core.settings import CodeSettings
from dispatch.models import Plan, PlanTrip
from dispatch.states import PlanStatus, TripStatus
from orders import lifecycle
from orders.models import Depot, PickupBooking, Product
from orders.operators import RackScope
from orders.rules import PickupStatus
from tracking import codes
from tracking import schemas as s
from tracking.keys import KeyRing
from tracking.models import IssuedCode, LoadingTicket, OfflineConflict
from tracking.trips import redeem_trip
from tracking.volume import correct_volume

REASON_TEXTS = {
    "malformed": "This is not a Diesel Direct code (damaged, cut off or mistyped).",
    "unknown_key": "The code was signed with a key this rack does not know.",
    "bad_signature": "The code has been altered: its signature does not match.",
    "expired": "The code has expired.",
    "not_yet_valid": "The code is not valid yet: the slot is later.",
    "wrong_depot": "The code is for another depot.",
    "plate_mismatch": "The truck's plate is not the one on the code.",
    "already_used": "The code has already been used for a loading.",
    "cancelled": "The booking was cancelled.",
    "unknown_code": "The code was never issued by Diesel Direct.",
}


def _unix(at: datetime) -> int:
    return int(at.timestamp())


def _from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _nonce(secret: str, kind: str, subject_id: uuid.UUID, kid: bytes) -> bytes:
    """Deterministic per (subject, key): asking for the code again returns the same token, so only its hash
    needs storing."""
    return hmac.new(secret.encode(), f"{kind}:{subject_id}:{kid.hex()}".encode(), hashlib.sha256).digest()[:12]


async def _record_issued(
    session: AsyncSession,
    *,
    kind: str,
    subject_id: uuid.UUID,
    token: str,
    kid: str,
    not_before: datetime,
    expires: datetime,
    now: datetime,
) -> None:
    digest = codes.token_hash(token)
    if await session.scalar(select(IssuedCode.id).where(IssuedCode.token_hash == digest)) is not None:
        return
    try:
        async with session.begin_nested():
            session.add(
                IssuedCode(
                    kind=kind,
                    subject_id=subject_id,
                    token_hash=digest,
                    kid=kid,
                    not_before=not_before,
                    expires_at=expires,
                    issued_at=now,
                )
            )
    except IntegrityError:
        pass  # issued by a concurrent request: the same token, already recorded


async def issue_code(
    session: AsyncSession,
    *,
    keyring: KeyRing,
    secret: str,
    kind: codes.Kind,
    subject_id: uuid.UUID,
    depot_id: uuid.UUID,
    plate: str | None,
    products: list[str],
    max_litres: int,
    not_before: datetime,
    expires: datetime,
    now: datetime,
) -> s.CodeOut:
    """Sign a code (the same token every time for the same subject and key) and record its hash."""
    kid = keyring.signing_key.kid
    token = codes.issue(
        keyring,
        kind=kind,
        subject_id=subject_id,
        depot_id=depot_id,
        plate=plate,
        products=products,
        max_litres=max_litres,
        not_before=_unix(not_before),
        expires=_unix(expires),
        nonce=_nonce(secret, str(kind), subject_id, kid),
    )
    await _record_issued(
        session,
        kind=str(kind),
        subject_id=subject_id,
        token=token,
        kid=kid.hex(),
        not_before=not_before,
        expires=expires,
        now=now,
    )
    return s.CodeOut(token=token, kind=str(kind), not_before=not_before, expires_at=expires, kid=kid.hex())


async def pickup_code(
    session: AsyncSession,
    *,
    booking: PickupBooking,
    keyring: KeyRing,
    secret: str,
    settings: CodeSettings,
    now: datetime,
) -> s.CodeOut:
    if booking.status != PickupStatus.BOOKED:
        raise Conflict(f"the booking is {booking.status}: it has no valid pickup code", code="no_code")
    return await issue_code(
        session,
        keyring=keyring,
        secret=secret,
        kind=codes.Kind.PICKUP,
        subject_id=booking.id,
        depot_id=booking.depot_id,
        plate=booking.vehicle_plate,
        products=[booking.product_code],
        max_litres=booking.quantity_litres,
        not_before=booking.slot_start - timedelta(minutes=settings.pickup_early_minutes),
        expires=booking.slot_end + timedelta(minutes=settings.pickup_grace_minutes),
        now=now,
    )


# --- verify ------------------------------------------------------------------------------------------------


class _Checked:
    """A verified code with its database rows (when the signature holds)."""

    def __init__(self, verification: codes.Verification) -> None:
        self.verification = verification
        self.reasons: list[str] = list(verification.reasons)
        self.issued: IssuedCode | None = None
        self.booking: PickupBooking | None = None
        self.trip: PlanTrip | None = None

    @property
    def payload(self) -> codes.Payload | None:
        return self.verification.payload


async def _check(
    session: AsyncSession,
    *,
    token: str,
    depot_id: uuid.UUID,
    plate: str | None,
    keyring: KeyRing,
    at: datetime,
    leeway: int,
    lock: bool,
) -> _Checked:
    checked = _Checked(
        codes.verify(token, public_keys=keyring, now=at.timestamp(), depot_id=depot_id, plate=plate, leeway=leeway)
    )
    payload = checked.payload
    if payload is None or checked.verification.token_hash is None:
        return checked
    if codes.Reason.WRONG_DEPOT in checked.reasons:
        # Another depot's code: its booking or trip is none of this rack's business (neither its details nor
        # whether it was used or cancelled), so the rows are not even read.
        return checked
    checked.issued = await session.scalar(
        select(IssuedCode).where(IssuedCode.token_hash == checked.verification.token_hash)
    )
    if checked.issued is None:
        checked.reasons.append("unknown_code")
        return checked
    if payload.kind == codes.Kind.TRIP:
        await _check_trip(session, checked, payload.subject_id, lock=lock)
        return checked
    if payload.kind != codes.Kind.PICKUP:
        checked.reasons.append("malformed")  # a receipt code belongs to a delivery, not to a rack
        return checked
    stmt = select(PickupBooking).where(PickupBooking.id == payload.subject_id)
    if lock:
        stmt = stmt.with_for_update()
    booking = (await session.execute(stmt)).scalar_one_or_none()
    checked.booking = booking
    if booking is None:
        checked.reasons.append("unknown_code")
    elif booking.status in (PickupStatus.COMPLETED, PickupStatus.LOADING):
        checked.reasons.append("already_used")
    elif booking.status == PickupStatus.CANCELLED:
        checked.reasons.append("cancelled")
    elif booking.status == PickupStatus.EXPIRED and "expired" not in checked.reasons:
        checked.reasons.append("expired")
    return checked


async def _check_trip(session: AsyncSession, checked: _Checked, trip_id: uuid.UUID, *, lock: bool) -> None:
    stmt = select(PlanTrip).where(PlanTrip.id == trip_id)
    if lock:
        stmt = stmt.with_for_update()
    trip = (await session.execute(stmt)).scalar_one_or_none()
    checked.trip = trip
    if trip is None:
        checked.reasons.append("unknown_code")
        return
    plan_status = await session.scalar(select(Plan.status).where(Plan.id == trip.plan_id))
    if trip.status != TripStatus.PLANNED:
        checked.reasons.append("already_used")
    elif plan_status != PlanStatus.PUBLISHED:
        checked.reasons.append("cancelled")  # the plan was superseded: the driver must fetch the new code


def _what_to_load(payload: codes.Payload, trip: PlanTrip | None = None) -> dict[str, Any]:
    if trip is not None:
        return {
            "products": list(payload.products),
            "max_litres": payload.max_litres,
            "vehicle_plate": payload.plate,
            "compartments": [dict(load) for load in trip.loads],
        }
    return {"products": list(payload.products), "max_litres": payload.max_litres, "vehicle_plate": payload.plate}


async def verify(
    session: AsyncSession,
    *,
    data: s.VerifyIn,
    scope: RackScope,
    keyring: KeyRing,
    settings: CodeSettings,
    now: datetime,
) -> s.VerifyOut:
    checked = await _check(
        session,
        token=data.token,
        depot_id=scope.depot_for(data.depot_id),
        plate=data.vehicle_plate,
        keyring=keyring,
        at=now,
        leeway=settings.rack_clock_leeway_s,
        lock=False,
    )
    reasons = list(dict.fromkeys(checked.reasons))
    payload = checked.payload
    subject = None
    if checked.trip is not None:
        subject = {
            "trip_id": str(checked.trip.id),
            "sequence": checked.trip.sequence,
            "status": checked.trip.status,
            "load_start": checked.trip.load_start.isoformat(),
        }
    if checked.booking is not None:
        b = checked.booking
        subject = {
            "booking_id": str(b.id),
            "reference": b.reference,
            "driver_name": b.driver_name,
            "slot_start": b.slot_start.isoformat(),
            "slot_end": b.slot_end.isoformat(),
            "status": b.status,
        }
    return s.VerifyOut(
        authorised=not reasons,
        reasons=reasons,
        reason_texts=[REASON_TEXTS.get(r, r) for r in reasons],
        kind=str(payload.kind) if payload else None,
        what_to_load=_what_to_load(payload, checked.trip) if payload and not reasons else None,
        subject=subject,
    )


async def pickup_of_code(
    session: AsyncSession,
    *,
    token: str,
    depot_id: uuid.UUID,
    keyring: KeyRing,
    settings: CodeSettings,
    now: datetime,
) -> PickupBooking:
    """The booking of a pickup code authorised at this depot now (the gate checks a truck in with it); refused
    as `/rack/redeem` refuses it (409 `not_authorised` with the reasons), another depot's without its details."""
    checked = await _check(
        session,
        token=token,
        depot_id=depot_id,
        plate=None,
        keyring=keyring,
        at=now,
        leeway=settings.rack_clock_leeway_s,
        lock=False,
    )
    reasons = list(dict.fromkeys(checked.reasons))
    if checked.payload is not None and checked.payload.kind != codes.Kind.PICKUP and not reasons:
        reasons = ["malformed"]  # a trip's load code checks no truck in at the gate
    if reasons or checked.booking is None:
        raise NotAuthorised("the code is not authorised: " + ", ".join(reasons), code="not_authorised", reasons=reasons)
    return checked.booking


# --- redeem ------------------------------------------------------------------------------------------------


def ticket_out(ticket: LoadingTicket, reference: str | None) -> s.TicketOut:
    return s.TicketOut(
        ticket_number=ticket.ticket_number,
        kind=ticket.kind,
        subject_id=ticket.subject_id,
        reference=reference,
        depot_id=ticket.depot_id,
        vehicle_plate=ticket.vehicle_plate,
        product_code=ticket.product_code,
        loaded_litres_observed=ticket.loaded_litres_observed,
        temperature_c=ticket.temperature_c,
        base_temperature_c=ticket.base_temperature_c,
        density_kg_m3=ticket.density_kg_m3,
        vcf=ticket.vcf,
        net_litres=ticket.net_litres,
        redeemed_at=ticket.redeemed_at,
        offline=ticket.offline,
    )


class NotAuthorised(Conflict):
    code = "not_authorised"


async def _redeem_checked(
    session: AsyncSession,
    checked: _Checked,
    *,
    depot_id: uuid.UUID,
    observed: int,
    temperature_c: float,
    plate: str,
    base_temperature_c: int,
    actor: Principal | None,
    at: datetime,
    now: datetime,
    offline_id: str | None = None,
) -> LoadingTicket:
    reasons = list(dict.fromkeys(checked.reasons))
    if reasons:
        raise NotAuthorised("the code is not authorised: " + ", ".join(reasons), code="not_authorised", reasons=reasons)
    if checked.trip is not None:
        return await redeem_trip(
            session,
            checked.trip,
            checked.issued,
            checked.payload,
            depot_id=depot_id,
            observed=observed,
            temperature_c=temperature_c,
            plate=plate,
            base_temperature_c=base_temperature_c,
            actor=actor,
            at=at,
            now=now,
            offline_id=offline_id,
        )
    booking, issued, payload = checked.booking, checked.issued, checked.payload
    assert booking is not None and issued is not None and payload is not None
    product = await session.get(Product, booking.product_code)
    assert product is not None
    corrected = correct_volume(
        observed, temperature_c, density_kg_m3=product.density_kg_m3, base_temperature_c=base_temperature_c
    )
    if corrected.net_litres > payload.max_litres:
        raise InvalidInput(
            f"{corrected.net_litres} L at {base_temperature_c} °C is more than the code allows "
            f"({payload.max_litres} L): stop loading",
            code="over_maximum",
            field="loaded_litres_observed",
        )
    ticket = LoadingTicket(
        ticket_number=new_reference("BL", at.date()),
        code_id=issued.id,
        kind=str(payload.kind),
        subject_id=booking.id,
        depot_id=depot_id,
        vehicle_plate=codes.normalise_plate(plate),
        product_code=booking.product_code,
        loaded_litres_observed=observed,
        temperature_c=temperature_c,
        base_temperature_c=base_temperature_c,
        density_kg_m3=product.density_kg_m3,
        vcf=str(corrected.vcf),
        net_litres=corrected.net_litres,
        redeemed_at=at,
        recorded_at=now,
        redeemed_by=actor.id if actor else None,
        offline=offline_id is not None,
        offline_id=offline_id,
    )
    session.add(ticket)
    await session.flush()  # the unique code id is the last word on "exactly once"
    # The account is charged for what was loaded, not for what was booked.
    await lifecycle.loaded_at_the_rack(
        session,
        booking,
        lifecycle.Measured(
            document_number=ticket.ticket_number,
            observed_litres=observed,
            temperature_c=temperature_c,
            net_litres=corrected.net_litres,
        ),
        at=at,
        now=now,
        actor=actor,
        data={
            "ticket_number": ticket.ticket_number,
            "observed_litres": observed,
            "temperature_c": temperature_c,
            "net_litres": corrected.net_litres,
            "vcf": str(corrected.vcf),
            "offline": offline_id is not None,
        },
    )
    await session.flush()
    return ticket


async def redeem(
    session: AsyncSession,
    *,
    data: s.RedeemIn,
    scope: RackScope,
    keyring: KeyRing,
    settings: CodeSettings,
    base_temperature_c: int,
    actor: Principal,
    now: datetime,
) -> s.TicketOut:
    depot_id = scope.depot_for(data.depot_id)
    await _lock_depot(session, depot_id)
    checked = await _check(
        session,
        token=data.token,
        depot_id=depot_id,
        plate=data.vehicle_plate,
        keyring=keyring,
        at=now,
        leeway=settings.rack_clock_leeway_s,
        lock=True,
    )
    ticket = await _redeem_checked(
        session,
        checked,
        depot_id=depot_id,
        observed=data.loaded_litres_observed,
        temperature_c=data.temperature_c,
        plate=data.vehicle_plate,
        base_temperature_c=base_temperature_c,
        actor=actor,
        at=now,
        now=now,
    )
    return ticket_out(ticket, _reference(checked))


async def _lock_depot(session: AsyncSession, depot_id: uuid.UUID) -> None:
    if await session.get(Depot, depot_id) is None:
        raise NotFound("no such depot", code="depot_not_found", field="depot_id")


async def upload_offline(
    session: AsyncSession,
    *,
    items: list[s.OfflineRedemptionIn],
    scope: RackScope,
    keyring: KeyRing,
    settings: CodeSettings,
    base_temperature_c: int,
    actor: Principal,
    now: datetime,
) -> list[s.OfflineResultOut]:
    """Loadings a rack made while offline. Every item must be at one of the caller's depots, or nothing of the
    upload is recorded (403 `not_your_depot`)."""
    depots = [scope.depot_for(item.depot_id) for item in items]
    return [
        await _upload_one(
            session,
            item=item,
            depot_id=depot_id,
            keyring=keyring,
            settings=settings,
            base_temperature_c=base_temperature_c,
            actor=actor,
            now=now,
        )
        for item, depot_id in zip(items, depots, strict=True)
    ]


async def _upload_one(
    session: AsyncSession,
    *,
    item: s.OfflineRedemptionIn,
    depot_id: uuid.UUID,
    keyring: KeyRing,
    settings: CodeSettings,
    base_temperature_c: int,
    actor: Principal,
    now: datetime,
) -> s.OfflineResultOut:
    """One redemption a rack made while offline. Retries of the same upload get the same answer; a code that
    was redeemed meanwhile (online or by another offline rack) becomes a conflict for a human, never a second
    silent loading."""
    existing = await session.scalar(select(LoadingTicket).where(LoadingTicket.offline_id == item.offline_id))
    if existing is not None:
        if existing.depot_id != depot_id:
            return _offline_id_taken(item)
        return s.OfflineResultOut(
            offline_id=item.offline_id, status="accepted", reasons=[], ticket=ticket_out(existing, None)
        )
    conflict = await session.scalar(select(OfflineConflict).where(OfflineConflict.offline_id == item.offline_id))
    if conflict is not None:
        if conflict.depot_id != depot_id:
            return _offline_id_taken(item)
        return s.OfflineResultOut(offline_id=item.offline_id, status="conflict", reasons=list(conflict.reasons))
    await _lock_depot(session, depot_id)
    if item.redeemed_at > now + timedelta(seconds=settings.rack_clock_leeway_s):
        # A rack clock in the future would make an expired code look valid: a human must look at it.
        return await _conflict(session, item, depot_id, ["redeemed_in_the_future"], _safe_hash(item.token), now=now)
    # Judged at the moment of loading, as the rack saw it, but against today's database state.
    checked = await _check(
        session,
        token=item.token,
        depot_id=depot_id,
        plate=item.vehicle_plate,
        keyring=keyring,
        at=item.redeemed_at,
        leeway=settings.rack_clock_leeway_s,
        lock=True,
    )
    try:
        async with session.begin_nested():
            ticket = await _redeem_checked(
                session,
                checked,
                depot_id=depot_id,
                observed=item.loaded_litres_observed,
                temperature_c=item.temperature_c,
                plate=item.vehicle_plate,
                base_temperature_c=base_temperature_c,
                actor=actor,
                at=item.redeemed_at,
                now=now,
                offline_id=item.offline_id,
            )
    except (NotAuthorised, InvalidInput) as refusal:
        reasons = refusal.extra.get("reasons") or [refusal.code]
        return await _conflict(session, item, depot_id, reasons, checked.verification.token_hash, now=now)
    reference = _reference(checked)
    return s.OfflineResultOut(
        offline_id=item.offline_id, status="accepted", reasons=[], ticket=ticket_out(ticket, reference)
    )


def _offline_id_taken(item: s.OfflineRedemptionIn) -> s.OfflineResultOut:
    """An offline id another depot's rack already used: neither its ticket nor its conflict is shown here."""
    return s.OfflineResultOut(offline_id=item.offline_id, status="conflict", reasons=["offline_id_taken"])


def _reference(checked: _Checked) -> str | None:
    if checked.booking is not None:
        return checked.booking.reference
    if checked.trip is not None:
        return f"trip {checked.trip.sequence} of {checked.trip.date.isoformat()}"
    return None


def _safe_hash(token: str) -> str | None:
    try:
        return codes.token_hash(token) if len(token) <= codes.MAX_TOKEN_CHARS else None
    except codes.MalformedToken:
        return None


async def _conflict(
    session: AsyncSession,
    item: s.OfflineRedemptionIn,
    depot_id: uuid.UUID,
    reasons: list[str],
    token_hash: str | None,
    *,
    now: datetime,
) -> s.OfflineResultOut:
    """Record an offline loading that cannot be accepted, for a human to resolve (the token itself is not kept)."""
    session.add(
        OfflineConflict(
            offline_id=item.offline_id,
            token_hash=token_hash,
            depot_id=depot_id,
            reasons=reasons,
            upload={k: v for k, v in msgspec.to_builtins(item).items() if k != "token"},
            created_at=now,
        )
    )
    await session.flush()
    return s.OfflineResultOut(offline_id=item.offline_id, status="conflict", reasons=reasons)


async def list_conflicts(
    session: AsyncSession, *, scope: RackScope, limit: int, offset: int
) -> tuple[Sequence[OfflineConflict], int]:
    """Offline loadings waiting for a human, at the caller's depots only (an admin sees every depot's)."""
    scope.require_a_depot()
    stmt = select(OfflineConflict)
    if scope.depot_ids is not None:
        stmt = stmt.where(OfflineConflict.depot_id.in_(scope.depot_ids))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(
        stmt.order_by(OfflineConflict.created_at, OfflineConflict.id).limit(limit).offset(offset)
    )
    return rows.all(), total
