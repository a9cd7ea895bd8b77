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
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, roles_guard
from core.errors import InvalidInput
from core.settings import Settings
from orders.pickups import get_pickup
from tracking import qr, rack
from tracking import schemas as s
from tracking.keys import KeyRing, public_keys_json
from tracking.keystore import keyring_for
from tracking.models import OfflineConflict

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
        return [s.PublicKeyOut(**k) for k in public_keys_json(_keyring(settings))]

    @post("/verify", guards=[RACK], status_code=HTTP_200_OK, summary="Is this code authorised here, now?")
    async def verify(self, data: JSONBody[s.VerifyIn], db_session: Db, settings: Conf, now: Now) -> s.VerifyOut:
        return await rack.verify(db_session, data=data, keyring=_keyring(settings), settings=settings.codes, now=now)

    @post("/redeem", guards=[RACK], summary="Record the loading and spend the code (exactly once)")
    async def redeem(
        self, data: JSONBody[s.RedeemIn], request: Req, db_session: Db, settings: Conf, now: Now
    ) -> s.TicketOut:
        return await rack.redeem(
            db_session,
            data=data,
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
        """Each item is judged at its `redeemed_at`; a code already used becomes a conflict for a human."""
        if len(data) > 500:
            raise InvalidInput("at most 500 redemptions per upload", code="too_many_items")
        return [
            await rack.upload_offline(
                db_session,
                item=item,
                keyring=_keyring(settings),
                settings=settings.codes,
                base_temperature_c=settings.standard_temperature_c,
                actor=request.user,
                now=now,
            )
            for item in data
        ]

    @get("/conflicts", guards=[RACK], summary="Offline redemptions waiting for a human")
    async def conflicts(self, db_session: Db) -> list[s.ConflictOut]:
        rows = (await db_session.scalars(select(OfflineConflict).order_by(OfflineConflict.created_at))).all()
        return [
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
