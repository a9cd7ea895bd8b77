"""HTTP handlers: pickup codes and QR images, the rack (verify, redeem, offline uploads), public keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.errors import InvalidInput
from core.schemas import Page
from core.settings import Settings
from orders import catalogue, operators
from orders.controllers import Limit, Offset
from orders.pickups import get_pickup
from orders.schemas import DepotOut
from tracking import qr, rack
from tracking import schemas as s
from tracking.keys import KeyRing, public_keys_json
from tracking.keystore import keyring_for

Db = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
Conf = NamedDependency[Settings]
Req = Request[Principal, Any, State]
CUSTOMER_OR_STAFF = roles_guard(Role.CUSTOMER, Role.ADMIN, Role.DISPATCHER)
RACK = roles_guard(Role.RACK_OPERATOR, Role.ADMIN)


def _keyring(settings: Settings) -> KeyRing:
    return keyring_for(settings.codes)


async def _pickup_token(
    request: Req, booking_id: uuid.UUID, db_session: AsyncSession, settings: Settings, now: datetime
) -> s.CodeOut:
    booking = await get_pickup(db_session, booking_id, viewer=request.user)
    return await rack.pickup_code(
        db_session,
        booking=booking,
        keyring=_keyring(settings),
        secret=settings.auth.secret_key,
        settings=settings.codes,
        now=now,
    )


class CodesController(Controller):
    tags = ["codes"]

    @get("/pickups/{booking_id:uuid}/code", guards=[CUSTOMER_OR_STAFF], summary="The pickup code as text")
    async def pickup_code(
        self, booking_id: FromPath[uuid.UUID], request: Req, db_session: Db, settings: Conf, now: Now
    ) -> s.CodeOut:
        return await _pickup_token(request, booking_id, db_session, settings, now)

    @get(
        "/pickups/{booking_id:uuid}/qr.svg",
        guards=[CUSTOMER_OR_STAFF],
        media_type="image/svg+xml",
        summary="The pickup code as a QR code (SVG)",
    )
    async def pickup_qr_svg(
        self, booking_id: FromPath[uuid.UUID], request: Req, db_session: Db, settings: Conf, now: Now
    ) -> Response[bytes]:
        code = await _pickup_token(request, booking_id, db_session, settings, now)
        return Response(qr.render_svg(code.token), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    @get(
        "/pickups/{booking_id:uuid}/qr.png",
        guards=[CUSTOMER_OR_STAFF],
        media_type="image/png",
        summary="The pickup code as a QR code (PNG)",
    )
    async def pickup_qr_png(
        self, booking_id: FromPath[uuid.UUID], request: Req, db_session: Db, settings: Conf, now: Now
    ) -> Response[bytes]:
        code = await _pickup_token(request, booking_id, db_session, settings, now)
        return Response(qr.render_png(code.token), media_type="image/png", headers={"Cache-Control": "no-store"})


class RackController(Controller):
    path = "/rack"
    tags = ["rack"]

    @get("/keys", exclude_from_auth=True, summary="Public keys for verifying codes offline")
    async def keys(self, settings: Conf) -> list[s.PublicKeyOut]:
        """Public on purpose, and the same for every depot: one key ring signs every depot's codes, a public key
        only lets a rack check a signature (it cannot make a code), and a code names its depot inside what is
        signed. Which depots an operator may act at is `GET /rack/depots`; the server checks it on every
        verification, loading and upload."""
        return [s.PublicKeyOut(**k) for k in public_keys_json(_keyring(settings))]

    @get("/depots", guards=[RACK], summary="The depots whose racks I may act at")
    async def depots(self, request: Req, db_session: Db) -> list[DepotOut]:
        """A rack operator's own depots (none: it may do nothing at the rack); every depot for an admin."""
        if request.user.role == Role.ADMIN:
            depots = await catalogue.list_depots(db_session)
        else:
            depots = await operators.depots_of(db_session, request.user.id)
        return [catalogue.depot_out(d) for d in depots]

    @post("/verify", guards=[RACK], status_code=HTTP_200_OK, summary="Is this code authorised here, now?")
    async def verify(
        self, data: JSONBody[s.VerifyIn], request: Req, db_session: Db, settings: Conf, now: Now
    ) -> s.VerifyOut:
        """Another depot's code is refused (`wrong_depot`) without any of its booking's or trip's details."""
        return await rack.verify(
            db_session,
            data=data,
            scope=await operators.rack_scope(db_session, actor=request.user),
            keyring=_keyring(settings),
            settings=settings.codes,
            now=now,
        )

    @post("/redeem", guards=[RACK], summary="Record the loading and spend the code (exactly once)")
    async def redeem(
        self, data: JSONBody[s.RedeemIn], request: Req, db_session: Db, settings: Conf, now: Now
    ) -> s.TicketOut:
        return await rack.redeem(
            db_session,
            data=data,
            scope=await operators.rack_scope(db_session, actor=request.user),
            keyring=_keyring(settings),
            settings=settings.codes,
            base_temperature_c=settings.standard_temperature_c,
            actor=request.user,
            now=now,
        )

    @post(
        "/offline-redemptions",
        guards=[RACK],
        status_code=HTTP_200_OK,
        summary="Upload loadings made while the rack was offline",
    )
    async def offline(
        self, data: JSONBody[list[s.OfflineRedemptionIn]], request: Req, db_session: Db, settings: Conf, now: Now
    ) -> list[s.OfflineResultOut]:
        """Each item is judged at its `redeemed_at`; a code already used becomes a conflict for a human. An item
        at a depot that is not the operator's refuses the whole upload (403 `not_your_depot`)."""
        if len(data) > 500:
            raise InvalidInput("at most 500 redemptions per upload", code="too_many_items")
        return await rack.upload_offline(
            db_session,
            items=data,
            scope=await operators.rack_scope(db_session, actor=request.user),
            keyring=_keyring(settings),
            settings=settings.codes,
            base_temperature_c=settings.standard_temperature_c,
            actor=request.user,
            now=now,
        )

    @get("/conflicts", guards=[RACK], summary="Offline redemptions waiting for a human (paged)")
    async def conflicts(
        self, request: Req, db_session: Db, limit: Limit = 50, offset: Offset = 0
    ) -> Page[s.ConflictOut]:
        """At the operator's own depots only; an admin sees every depot's."""
        rows, total = await rack.list_conflicts(
            db_session,
            scope=await operators.rack_scope(db_session, actor=request.user),
            limit=limit,
            offset=offset,
        )
        items = [
            s.ConflictOut(
                id=c.id,
                offline_id=c.offline_id,
                token_hash=c.token_hash,
                depot_id=c.depot_id,
                reasons=list(c.reasons),
                upload=c.upload,
                status=c.status,
                created_at=c.created_at,
            )
            for c in rows
        ]
        return Page(items=items, total=total, limit=limit, offset=offset)
