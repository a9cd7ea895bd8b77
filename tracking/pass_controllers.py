"""HTTP handlers of pickup passes and the depot gate: send a pass, read it without a login, check a truck in (by
the gate code through the pass, or at the rack), the gate code for printing, and where a checked-in truck stands."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, PathParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.errors import Conflict, InvalidInput, NotFound
from core.idempotency import check_key
from core.settings import Settings
from orders import operators
from orders.catalogue import get_depot
from orders.controllers import IdempotencyKey, _created_or_replayed
from orders.models import PickupBooking
from orders.pickups import get_pickup
from tracking import gate, passes, qr, rack
from tracking import schemas as ts
from tracking.keystore import keyring_for

Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
Req = Request[Principal, Any, Any]
CUSTOMER = roles_guard(Role.CUSTOMER)
CUSTOMER_OR_STAFF = roles_guard(Role.CUSTOMER, Role.ADMIN, Role.DISPATCHER)
GATE_STAFF = roles_guard(Role.ADMIN, Role.DISPATCHER, Role.RACK_OPERATOR)
RACK = roles_guard(Role.RACK_OPERATOR, Role.ADMIN)
PassToken = Annotated[str, PathParameter(min_length=1, max_length=passes.MAX_TOKEN_CHARS)]
_PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


class GateCheckInIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    # Any code a camera may read (a pickup code is longer) is answered in words: `gate_code_invalid`.
    gate_code: Annotated[str, msgspec.Meta(min_length=1, max_length=4000, description="the gate QR code's text")]


class RackCheckInIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    token: ts.Token | None = None
    booking_id: uuid.UUID | None = None
    depot_id: ts.RackDepot = None


class RackCheckInOut(msgspec.Struct):
    booking_id: uuid.UUID
    reference: str
    vehicle_plate: str
    queue: gate.QueueOut


class PickupGateOut(msgspec.Struct):
    """A booking at the gate: when it may check in, and where its truck stands once it has."""

    check_in_opens_at: datetime
    check_in_closes_at: datetime
    check_in: gate.QueueOut | None


async def _pickup_code(session: AsyncSession, booking: PickupBooking, settings: Settings, now: datetime) -> str:
    code = await rack.pickup_code(
        session,
        booking=booking,
        keyring=keyring_for(settings.codes),
        secret=settings.auth.secret_key,
        settings=settings.codes,
        now=now,
    )
    return code.token


async def _gate_depot(session: AsyncSession, depot_id: uuid.UUID, actor: Principal) -> None:
    """Admins and dispatchers print any depot's gate code; a rack operator its own depots' only."""
    await get_depot(session, depot_id)
    if actor.role == Role.RACK_OPERATOR:
        scope = await operators.rack_scope(session, actor=actor)
        scope.depot_for(depot_id)


class PassController(Controller):
    tags = ["pickup passes"]

    @post(
        "/pickups/{booking_id:uuid}/pass",
        guards=[CUSTOMER],
        status_code=HTTP_201_CREATED,
        summary="Send the truck's driver a pickup pass (a link that needs no login)",
        description="The link opens a page with the pickup QR code, the slot and the depot, and after check-in at "
        "the gate the queue position and bay; nothing else of the account. It is sent by SMS to `phone` (event "
        "`pickup_pass_sent`) and returned to copy. It starts with `PUBLIC_BASE_URL`: without it the pass is "
        "refused (503 `public_base_url_missing`), as an SMS cannot carry a relative link. A new pass of the "
        "booking ends the earlier ones; a pass ends when the pickup is loaded, cancelled or expired, or its slot "
        "is over. 409 `no_pass` when the booking has nothing left to collect. The SMS goes through the "
        "notifications outbox (retried while the provider is down, one per pass and phone), in `language`. Honours "
        "`Idempotency-Key`: a retry answers the first pass (200) and sends nothing again.",
        responses={200: ResponseSpec(data_container=passes.PassCreatedOut, description="a retry: the first pass")},
    )
    async def send(
        self,
        booking_id: FromPath[uuid.UUID],
        data: JSONBody[passes.PassIn],
        request: Req,
        db_session: Db,
        settings: Conf,
        now: Now,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[passes.PassCreatedOut]:
        booking = await get_pickup(db_session, booking_id, viewer=request.user, lock=True)
        out, created = await passes.create_pass(
            db_session,
            booking=booking,
            data=data,
            actor=request.user,
            settings=settings.codes,
            public_base_url=settings.public_base_url,
            secret_key=settings.auth.secret_key,
            now=now,
            idempotency_key=check_key(idempotency_key),
        )
        return _created_or_replayed(out, created)

    @get(
        "/pass/{pass_token:str}",
        exclude_from_auth=True,
        security=[],
        summary="What a pickup pass shows (no login)",
        description="The booking's reference, truck, product, slot, depot (name, address, position), its pickup "
        "code, and once checked in its queue position and bay. 404 `pass_invalid` (unknown or altered); 410 "
        "`pass_used` (loaded), `pass_cancelled`, `pass_expired`, `pass_replaced` (a newer pass was sent). The page "
        "for people is `GET /pass/{token}` outside the API.",
    )
    async def read(self, pass_token: PassToken, db_session: Db, settings: Conf, now: Now) -> Response[passes.PassOut]:
        secret = settings.auth.secret_key
        booking = await passes.open_pass(db_session, pass_token, secret_key=secret, now=now)
        view = await passes.pass_view(
            db_session,
            booking,
            pickup_code=await _pickup_code(db_session, booking, settings, now),
            settings=settings.codes,
            expires_at=passes.token_expiry(pass_token, secret_key=secret),
            now=now,
        )
        return Response(view, headers=_PRIVATE_HEADERS)

    @get(
        "/pass/{pass_token:str}/qr.svg",
        exclude_from_auth=True,
        security=[],
        media_type="image/svg+xml",
        summary="The pass's pickup code as a QR code (SVG, no login)",
    )
    async def qr_svg(self, pass_token: PassToken, db_session: Db, settings: Conf, now: Now) -> Response[bytes]:
        booking = await passes.open_pass(db_session, pass_token, secret_key=settings.auth.secret_key, now=now)
        token = await _pickup_code(db_session, booking, settings, now)
        return Response(qr.render_svg(token), media_type="image/svg+xml", headers=_PRIVATE_HEADERS)

    @post(
        "/pass/{pass_token:str}/check-in",
        exclude_from_auth=True,
        security=[],
        status_code=HTTP_200_OK,
        summary="Check the truck in at the depot gate by the gate code (no login)",
        description="`gate_code` is the text of the QR code printed at the booking's depot (proof the truck is "
        "there): another depot's is 409 `wrong_gate`, anything else 422 `gate_code_invalid` / `gate_code_expired`. "
        "From `PICKUP_EARLY_MINUTES` before the slot to `PICKUP_GRACE_MINUTES` after it, else 409 "
        "`check_in_too_early` / `check_in_too_late`. Checking in again answers the same check-in.",
    )
    async def check_in(
        self, pass_token: PassToken, data: JSONBody[GateCheckInIn], db_session: Db, settings: Conf, now: Now
    ) -> Response[gate.QueueOut]:
        secret = settings.auth.secret_key
        booking = await passes.open_pass(db_session, pass_token, secret_key=secret, now=now)
        depot_id = gate.verify_gate_code(data.gate_code, secret_key=secret, now=now)
        if depot_id != booking.depot_id:
            raise Conflict(
                "this is another depot's gate code: the pickup is at the depot on the pass",
                code="wrong_gate",
                field="gate_code",
            )
        queue = await gate.check_in(
            db_session, booking=booking, method=gate.CheckInMethod.GATE, actor=None, settings=settings.codes, now=now
        )
        return Response(queue, headers=_PRIVATE_HEADERS)

    @get(
        "/pickups/{booking_id:uuid}/check-in",
        guards=[CUSTOMER_OR_STAFF],
        summary="The booking at the gate: when it may check in, its queue position and bay once checked in",
    )
    async def at_the_gate(
        self, booking_id: FromPath[uuid.UUID], request: Req, db_session: Db, settings: Conf, now: Now
    ) -> PickupGateOut:
        booking = await get_pickup(db_session, booking_id, viewer=request.user)
        window = gate.CheckInWindow.of(booking, settings.codes)
        check_in = await gate.check_in_of(db_session, booking.id)
        queue = await gate.queue_of(db_session, booking=booking, check_in=check_in, now=now) if check_in else None
        return PickupGateOut(check_in_opens_at=window.opens, check_in_closes_at=window.closes, check_in=queue)


class GateController(Controller):
    tags = ["pickup passes"]

    @get(
        "/depots/{depot_id:uuid}/gate-code",
        guards=[GATE_STAFF],
        summary="The depot's gate code, to print at the gate (admin, dispatcher, the depot's rack operators)",
        description="Drivers scan it with their pickup pass to check in. It names the depot and is valid for a "
        "year: print it again before `expires_at`.",
    )
    async def gate_code(
        self, depot_id: FromPath[uuid.UUID], request: Req, db_session: Db, settings: Conf, now: Now
    ) -> gate.GateCodeOut:
        await _gate_depot(db_session, depot_id, request.user)
        return gate.issue_gate_code(depot_id, now=now, secret_key=settings.auth.secret_key)

    @get(
        "/depots/{depot_id:uuid}/gate-code.svg",
        guards=[GATE_STAFF],
        media_type="image/svg+xml",
        summary="The depot's gate code as a QR code to print (SVG)",
    )
    async def gate_code_svg(
        self, depot_id: FromPath[uuid.UUID], request: Req, db_session: Db, settings: Conf, now: Now
    ) -> Response[bytes]:
        await _gate_depot(db_session, depot_id, request.user)
        code = gate.issue_gate_code(depot_id, now=now, secret_key=settings.auth.secret_key)
        return Response(qr.render_svg(code.token, scale=8), media_type="image/svg+xml")

    @post(
        "/rack/check-in",
        guards=[RACK],
        status_code=HTTP_200_OK,
        summary="Check a truck in at the rack's depot (by its pickup code or booking id)",
        description="`token`: the pickup code (as on the driver's pass), refused as `/rack/verify` refuses it "
        "(409 `not_authorised` with `reasons`); or `booking_id` of a booking at this depot (another depot's is 404). "
        "At one of the operator's own depots (403 `not_your_depot`). Checking in again answers the same check-in.",
    )
    async def rack_check_in(
        self, data: JSONBody[RackCheckInIn], request: Req, db_session: Db, settings: Conf, now: Now
    ) -> RackCheckInOut:
        if (data.token is None) == (data.booking_id is None):
            raise InvalidInput("send either the pickup code (token) or the booking_id", code="token_or_booking_id")
        scope = await operators.rack_scope(db_session, actor=request.user)
        depot_id = scope.depot_for(data.depot_id)
        if data.token is not None:
            booking = await rack.pickup_of_code(
                db_session,
                token=data.token,
                depot_id=depot_id,
                keyring=keyring_for(settings.codes),
                settings=settings.codes,
                now=now,
            )
        else:
            found = await db_session.get(PickupBooking, data.booking_id)
            if found is None or found.depot_id != depot_id:  # another depot's booking is none of this rack's business
                raise NotFound("no such pickup booking at this depot", code="pickup_not_found", field="booking_id")
            booking = found
        queue = await gate.check_in(
            db_session,
            booking=booking,
            method=gate.CheckInMethod.RACK,
            actor=request.user,
            settings=settings.codes,
            now=now,
        )
        return RackCheckInOut(
            booking_id=booking.id, reference=booking.reference, vehicle_plate=booking.vehicle_plate, queue=queue
        )
